// The Runs view: training runs followed live (#/runs, runs/list.tsx) or one
// run with every member (#/runs/<run id>, runs/page.tsx).
import type { Route } from "../router";
import "../ui/views.css";
import "./runs/runs.css";
import { RunsList } from "./runs/list";
import { RunPage } from "./runs/page";

export function RunsView({ route }: { route: Route }) {
  return route.id ? <RunPage key={route.id} id={route.id} /> : <RunsList route={route} />;
}
