// The Logs view's state as it lives in the URL (deep links), and what it
// means on the wire: the search text, severities, error types, time range,
// host, run, group and the opened log, turned into a LogFilter for
// ListLogs, SearchLogs, SubscribeLogs, GetStats, GenerateReport and
// ExportLogs, and into what ClearLogs can narrow by.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  BucketWidth,
  LogFilterSchema,
  SourceSchema,
  type ErrorType,
  type LogFilter,
  type Severity,
} from "../gen/diagnostics/v1/diagnostics_pb";
import type { Route } from "../router";
import { errorTypeLabel, errorTypeName, parseErrorType, parseSeverity, severityLabel, severityName } from "../ui/severity";

/** Relative time ranges offered by the filters (or "custom": since/until). */
export const RANGES = [
  { key: "15m", label: "Last 15 minutes", ms: 15 * 60_000, width: BucketWidth.MINUTE },
  { key: "1h", label: "Last hour", ms: 3_600_000, width: BucketWidth.MINUTE },
  { key: "24h", label: "Last 24 hours", ms: 86_400_000, width: BucketWidth.HOUR },
  { key: "7d", label: "Last 7 days", ms: 7 * 86_400_000, width: BucketWidth.HOUR },
  { key: "30d", label: "Last 30 days", ms: 30 * 86_400_000, width: BucketWidth.DAY },
] as const;

export interface LogQuery {
  q: string;
  severities: Severity[];
  types: ErrorType[];
  /** A key of RANGES, "custom" (since/until), or "" (all time). */
  range: string;
  since?: Date;
  until?: Date;
  host: string;
  run: string;
  group: string;
  /** The opened log's id. */
  log: string;
}

function date(value: string | null): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function queryFromRoute(route: Route): LogQuery {
  const p = route.params;
  const list = (key: string) => (p.get(key) ?? "").split(",").filter(Boolean);
  return {
    q: p.get("q") ?? "",
    severities: list("severity").map(parseSeverity).filter((s): s is Severity => s !== undefined),
    types: list("type").map(parseErrorType).filter((t): t is ErrorType => t !== undefined),
    range: p.get("range") ?? "",
    since: date(p.get("since")),
    until: date(p.get("until")),
    host: p.get("host") ?? "",
    run: p.get("run") ?? "",
    group: /^\d+$/.test(p.get("group") ?? "") ? (p.get("group") as string) : "",
    log: p.get("log") ?? "",
  };
}

/** The URL parameters of `query` (empty ones are dropped by the router). */
export function queryParams(query: LogQuery): Record<string, string | undefined> {
  const custom = query.range === "custom";
  return {
    q: query.q,
    severity: query.severities.map(severityName).join(","),
    type: query.types.map(errorTypeName).join(","),
    range: query.range,
    since: custom ? query.since?.toISOString() : undefined,
    until: custom ? query.until?.toISOString() : undefined,
    host: query.host,
    run: query.run,
    group: query.group,
    log: query.log,
  };
}

/** [since, until) of the query as of `now`. */
export function timeBounds(query: LogQuery, now = Date.now()): { since?: Date; until?: Date } {
  if (query.range === "custom") return { since: query.since, until: query.until };
  const range = RANGES.find((r) => r.key === query.range);
  return range ? { since: new Date(now - range.ms) } : {};
}

const ts = (d: Date | undefined): Timestamp | undefined => (d ? timestampFromDate(d) : undefined);

/** The LogFilter of every condition but the search text. */
export function wireFilter(query: LogQuery, now = Date.now()): LogFilter {
  const { since, until } = timeBounds(query, now);
  return create(LogFilterSchema, {
    severities: query.severities,
    errorTypes: query.types,
    since: ts(since),
    until: ts(until),
    source: query.host || query.run ? create(SourceSchema, { host: query.host, runId: query.run }) : undefined,
    groupIds: query.group ? [BigInt(query.group)] : [],
  });
}

/** The histogram's bucket width for the query's range. */
export function bucketWidth(query: LogQuery): BucketWidth {
  if (query.range === "custom" && query.since) {
    const span = (query.until?.getTime() ?? Date.now()) - query.since.getTime();
    if (span <= 6 * 3_600_000) return BucketWidth.MINUTE;
    if (span <= 30 * 86_400_000) return BucketWidth.HOUR;
    return BucketWidth.DAY;
  }
  return RANGES.find((r) => r.key === query.range)?.width ?? BucketWidth.HOUR;
}

/** True when some condition besides the search text is set. */
export function hasFilters(query: LogQuery): boolean {
  return describeFilters(query).length > 0;
}

/** The conditions in words, for "no results" and the clear dialog. */
export function describeFilters(query: LogQuery): string[] {
  const parts: string[] = [];
  if (query.severities.length) parts.push(`severity ${query.severities.map(severityLabel).join(" or ")}`);
  if (query.types.length) parts.push(`type ${query.types.map(errorTypeLabel).join(" or ")}`);
  const range = RANGES.find((r) => r.key === query.range);
  if (range) parts.push(range.label.toLowerCase());
  if (query.range === "custom") {
    if (query.since) parts.push(`since ${query.since.toLocaleString()}`);
    if (query.until) parts.push(`until ${query.until.toLocaleString()}`);
  }
  if (query.host) parts.push(`host ${query.host}`);
  if (query.run) parts.push(`run ${query.run}`);
  if (query.group) parts.push(`group ${query.group}`);
  return parts;
}

/** The conditions ClearLogs cannot narrow by (it deletes by severity, group and age only). */
export function unclearableConditions(query: LogQuery): string[] {
  const parts: string[] = [];
  if (query.q) parts.push("the search text");
  if (query.types.length) parts.push("error type");
  if (query.host) parts.push("host");
  if (query.run) parts.push("run");
  if (query.range && query.range !== "custom") parts.push("the time range");
  if (query.range === "custom" && query.since) parts.push("the start of the time range");
  return parts;
}

/** The filter of exactly what ClearLogs would delete for this query. */
export function clearFilter(query: LogQuery): LogFilter {
  return create(LogFilterSchema, {
    severities: query.severities,
    groupIds: query.group ? [BigInt(query.group)] : [],
    until: query.range === "custom" ? ts(query.until) : undefined,
  });
}
