// Placeholder of the AlertsView: replaced by the view itself.
import type { Route } from "../router";

export function AlertsView({ route }: { route: Route }) {
  return <section aria-label="AlertsView"><h1>AlertsView</h1><p>{route.view}</p></section>;
}
