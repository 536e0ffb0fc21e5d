// Placeholder of the ReportsView: replaced by the view itself.
import type { Route } from "../router";

export function ReportsView({ route }: { route: Route }) {
  return <section aria-label="ReportsView"><h1>ReportsView</h1><p>{route.view}</p></section>;
}
