// What the Groups list and a group's page share: triage statuses and sort
// orders with their URL words, the list's filters read from the URL
// (#/groups?status=unresolved&severity=high,critical&type=oom&q=…&sort=count),
// and the name changes are signed with (kept in this browser).
import { GroupOrder, GroupStatus, type ErrorType, type Severity } from "../../gen/diagnostics/v1/diagnostics_pb";
import { parseErrorType, parseSeverity } from "../../ui/severity";

export const STATUSES: readonly GroupStatus[] = [GroupStatus.UNRESOLVED, GroupStatus.RESOLVED, GroupStatus.IGNORED];

const STATUS_NAMES: Record<number, string> = {
  [GroupStatus.UNRESOLVED]: "unresolved",
  [GroupStatus.RESOLVED]: "resolved",
  [GroupStatus.IGNORED]: "ignored",
};

export function statusName(status: GroupStatus): string {
  return STATUS_NAMES[status] ?? "unknown";
}

export function parseStatus(word: string): GroupStatus | undefined {
  return STATUSES.find((s) => statusName(s) === word.toLowerCase());
}

export const ORDERS: readonly { order: GroupOrder; word: string; label: string }[] = [
  { order: GroupOrder.LAST_SEEN, word: "last-seen", label: "Last seen" },
  { order: GroupOrder.FIRST_SEEN, word: "first-seen", label: "Newest groups" },
  { order: GroupOrder.COUNT, word: "count", label: "Most events" },
  { order: GroupOrder.GROWTH, word: "growth", label: "Most events in 24 h" },
];

export interface GroupFilters {
  statuses: GroupStatus[];
  severities: Severity[];
  types: ErrorType[];
  text: string;
  host: string;
  run: string;
  order: GroupOrder;
}

function list<T>(value: string | null, parse: (word: string) => T | undefined): T[] {
  if (!value) return [];
  return value
    .split(",")
    .map((w) => parse(w.trim()))
    .filter((v): v is T => v !== undefined);
}

export function readFilters(params: URLSearchParams): GroupFilters {
  return {
    statuses: list(params.get("status"), parseStatus),
    severities: list(params.get("severity"), parseSeverity),
    types: list(params.get("type"), parseErrorType),
    text: params.get("q") ?? "",
    host: params.get("host") ?? "",
    run: params.get("run") ?? "",
    order: ORDERS.find((o) => o.word === params.get("sort"))?.order ?? GroupOrder.LAST_SEEN,
  };
}

const ACTOR_KEY = "diagd.actor";

/** Who triage changes are signed with (UpdateGroup's actor); "" when not given. */
export function getActor(): string {
  try {
    return localStorage.getItem(ACTOR_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setActor(name: string): void {
  try {
    if (name.trim()) localStorage.setItem(ACTOR_KEY, name.trim());
    else localStorage.removeItem(ACTOR_KEY);
  } catch {
    /* storage disabled: the name lives only in this page */
  }
}

/** "#42" ids typed by a person ("12, 15 #19") → [12, 15, 19]; bad words answered separately. */
export function parseIds(text: string): { ids: bigint[]; bad: string[] } {
  const ids: bigint[] = [];
  const bad: string[] = [];
  for (const word of text.split(/[\s,;]+/)) {
    const w = word.replace(/^#/, "");
    if (!w) continue;
    if (/^\d{1,18}$/.test(w)) ids.push(BigInt(w));
    else bad.push(word);
  }
  return { ids, bad };
}
