// Deep links: the page's state lives in the URL's hash, so a link can be
// shared with a team member ("share with support team") and Back works.
//   #/logs?q=CUDA&severity=HIGH,CRITICAL&type=OOM&from=…&to=…&host=…&run=…&group=…&log=<id>
//   #/groups?…            #/groups/<id>
//   #/runs?…              #/runs/<run id>
//   #/reports             #/alerts
// A route is a view name, an optional id and the query parameters; views
// read and write their own parameters through `navigate`.
import { useEffect, useState } from "preact/hooks";

export type View = "logs" | "groups" | "runs" | "reports" | "alerts";
export const VIEWS: readonly View[] = ["logs", "groups", "runs", "reports", "alerts"];

export interface Route {
  view: View;
  /** The opened item (a group id, a run id), when the path has one. */
  id?: string;
  params: URLSearchParams;
}

export function parseRoute(hash: string = location.hash): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?", 2);
  const [view, ...rest] = path.split("/");
  let id: string | undefined;
  try {
    id = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  } catch {
    id = rest.join("/"); // a link cut off in the middle of an escape
  }
  return {
    view: (VIEWS as readonly string[]).includes(view) ? (view as View) : "logs",
    id: id || undefined,
    params: new URLSearchParams(query),
  };
}

export function formatRoute(route: Route): string {
  const params = new URLSearchParams();
  // Empty values are left out so links stay short.
  for (const [k, v] of route.params) if (v !== "") params.set(k, v);
  const query = params.toString();
  const path = route.id ? `${route.view}/${encodeURIComponent(route.id)}` : route.view;
  return `#/${path}${query ? `?${query}` : ""}`;
}

/**
 * Goes to `route`. `replace` (typing in the search box, moving a filter)
 * changes the URL without adding a history entry for each keystroke.
 */
export function navigate(route: Route, { replace = false }: { replace?: boolean } = {}): void {
  const hash = formatRoute(route);
  if (hash === location.hash) return;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}

/** The current route, following the URL. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute());
  useEffect(() => {
    const onChange = () => setRoute(parseRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** A copy of `route` with some parameters set (undefined or "" removes one). */
export function withParams(route: Route, changes: Record<string, string | undefined | null>): Route {
  const params = new URLSearchParams(route.params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === "") params.delete(k);
    else params.set(k, v);
  }
  return { ...route, params };
}
