// Placeholder of the RunsView: replaced by the view itself.
import type { Route } from "../router";

export function RunsView({ route }: { route: Route }) {
  return <section aria-label="RunsView"><h1>RunsView</h1><p>{route.view}</p></section>;
}
