// Placeholder of the GroupsView: replaced by the view itself.
import type { Route } from "../router";

export function GroupsView({ route }: { route: Route }) {
  return <section aria-label="GroupsView"><h1>GroupsView</h1><p>{route.view}</p></section>;
}
