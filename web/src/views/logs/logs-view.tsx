// Placeholder of the LogsView: replaced by the view itself.
import type { Route } from "../../router";

export function LogsView({ route }: { route: Route }) {
  return <section aria-label="LogsView"><h1>LogsView</h1><p>{route.view}</p></section>;
}
