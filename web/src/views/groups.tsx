// The Groups view: the list of error groups (#/groups, groups/list.tsx) or
// one group's page (#/groups/<id>, groups/page.tsx).
import type { Route } from "../router";
import "../ui/views.css";
import "./groups/groups.css";
import { GroupsList } from "./groups/list";
import { GroupPage } from "./groups/page";

export function GroupsView({ route }: { route: Route }) {
  return route.id ? <GroupPage key={route.id} id={route.id} /> : <GroupsList route={route} />;
}
