// The Groups list (#/groups): error groups with their severity, title and
// culprit, status, event count, a 24-hour trend, first and last seen;
// filters (status, severity, error type, text, host, run) and the sort
// ListGroups offers, all kept in the URL; keyset pages behind "Load more".
import { useEffect, useRef, useState } from "preact/hooks";
import { BucketWidth, type ErrorGroup } from "../../gen/diagnostics/v1/diagnostics_pb";
import { navigate, withParams, type Route } from "../../router";
import { useSession } from "../../session";
import { Sparkline } from "../../ui/charts";
import { DebouncedInput } from "../../ui/debounced-input";
import { formatAgo, formatCount, formatTime, toDate } from "../../ui/format";
import { ERROR_TYPES, SEVERITIES, SeverityIcon, errorTypeLabel, errorTypeName, severityLabel, severityName } from "../../ui/severity";
import { useNow, usePaged } from "../../ui/use-load";
import { ORDERS, STATUSES, readFilters, statusName, type GroupFilters } from "./common";
import { StatusBadge } from "./status";

const PAGE_SIZE = 50;

export function GroupsList({ route }: { route: Route }) {
  const { client } = useSession();
  const filters = readFilters(route.params);
  const key = JSON.stringify(filters);
  const [ungrouped, setUngrouped] = useState(0n);
  const groups = usePaged<ErrorGroup>(
    async (token, signal) => {
      const page = await client.listGroups(
        {
          statuses: filters.statuses,
          severities: filters.severities,
          errorTypes: filters.types,
          text: filters.text,
          host: filters.host,
          runId: filters.run,
          orderBy: filters.order,
          pageSize: PAGE_SIZE,
          pageToken: token,
        },
        { signal },
      );
      setUngrouped(page.ungroupedLogs);
      return { items: page.groups, next: page.nextPageToken };
    },
    [key],
  );
  // Refresh also forgets the trends, so they are fetched again.
  const [generation, setGeneration] = useState(0);
  const trends = useTrends(groups.items, generation);
  const now = useNow(30_000);
  const filtered =
    filters.statuses.length + filters.severities.length + filters.types.length > 0 ||
    Boolean(filters.text || filters.host || filters.run);

  return (
    <section aria-labelledby="groups-title">
      <div class="view-head">
        <h1 id="groups-title">Error groups</h1>
        <div class="view-head-actions">
          <button
            type="button"
            onClick={() => {
              setGeneration((g) => g + 1);
              groups.reload();
            }}
            disabled={groups.loading}
          >
            Refresh
          </button>
        </div>
      </div>
      <Filters route={route} filters={filters} />
      {ungrouped > 0n && (
        <p class="view-notice" role="status">
          {formatCount(ungrouped)} older logs are still being grouped in the background.
        </p>
      )}
      {groups.error && (
        <p class="view-notice bad" role="alert">
          Could not list the groups: {groups.error}
        </p>
      )}
      <div class="view-table-wrap">
        <table class="view-table stack groups-table">
          <caption class="visually-hidden">Error groups{filtered ? " matching the filters" : ""}</caption>
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Severity</span>
              </th>
              <th scope="col">Group</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Events
              </th>
              <th scope="col">Last 24 h</th>
              <th scope="col">Last seen</th>
              <th scope="col">First seen</th>
            </tr>
          </thead>
          <tbody>
            {groups.items.map((g) => (
              <tr key={String(g.id)}>
                <td class="sev-cell">
                  <SeverityIcon severity={g.severity} />
                  <span class="visually-hidden">{severityLabel(g.severity)}</span>
                </td>
                <td class="title-cell">
                  <a href={`#/groups/${g.id}`}>{g.title || `Group ${g.id}`}</a>
                  <div class="cell-meta">
                    {g.culprit ? <span class="mono">{g.culprit}</span> : <span>no traceback</span>}
                    {" · "}
                    {errorTypeLabel(g.errorType)}
                    {" · "}
                    {plural(g.hosts, "host")} · {plural(g.runs, "run")}
                    {g.note ? " · has a known fix" : ""}
                    {" · "}#{String(g.id)}
                  </div>
                </td>
                <td data-label="Status">
                  <StatusBadge group={g} />
                </td>
                <td class="num" data-label="Events">
                  {formatCount(g.eventCount)}
                </td>
                <td data-label="Last 24 h">
                  {trends.get(String(g.id)) ? (
                    <Sparkline counts={trends.get(String(g.id))!} label="Events per hour over the last 24 hours" />
                  ) : (
                    <span class="sparkline-pending" aria-label="trend loading" role="img" />
                  )}
                </td>
                <td class="nowrap" data-label="Last seen">
                  <time dateTime={toDate(g.lastSeen)?.toISOString()} title={formatTime(g.lastSeen)}>
                    {formatAgo(g.lastSeen, now)}
                  </time>
                </td>
                <td class="nowrap" data-label="First seen">
                  <time dateTime={toDate(g.firstSeen)?.toISOString()} title={formatTime(g.firstSeen)}>
                    {formatAgo(g.firstSeen, now)}
                  </time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!groups.loading && !groups.error && groups.items.length === 0 && (
          <p class="view-empty">
            {filtered ? "No groups match these filters." : "No error groups yet: they appear with the first reported errors."}
          </p>
        )}
        <div class="view-pager" aria-live="polite">
          {groups.loading ? (
            <span role="status">Loading groups…</span>
          ) : (
            <span>
              {plural(BigInt(groups.items.length), "group")} shown{groups.more ? "" : groups.items.length ? " — all of them" : ""}
            </span>
          )}
          {groups.more && (
            <button type="button" onClick={groups.loadMore} disabled={groups.loading}>
              Load more
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

function plural(n: bigint | number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1n || n === 1 ? "" : "s"}`;
}

/**
 * Hourly counts of the last 24 hours per listed group (GetGroup), four
 * requests at a time; each group is asked once (again after `generation`
 * moves, i.e. Refresh).
 */
function useTrends(groups: ErrorGroup[], generation: number): Map<string, number[]> {
  const { client } = useSession();
  const [trends, setTrends] = useState<Map<string, number[]>>(new Map());
  const asked = useRef(new Set<string>());
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    if (!generation) return;
    abort.current?.abort();
    abort.current = null;
    asked.current = new Set();
    setTrends(new Map());
  }, [generation]);
  const key = groups.map((g) => String(g.id)).join(",");
  useEffect(() => {
    const queue = groups.map((g) => String(g.id)).filter((id) => !asked.current.has(id));
    if (!queue.length) return;
    for (const id of queue) asked.current.add(id);
    abort.current ??= new AbortController();
    const signal = abort.current.signal;
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !signal.aborted; id = queue.shift()) {
        try {
          const detail = await client.getGroup({ id: BigInt(id), buckets: 24, bucketWidth: BucketWidth.HOUR }, { signal });
          const counts = detail.histogram.map((b) => Number(b.count));
          setTrends((m) => new Map(m).set(id, counts));
        } catch {
          /* the trend stays empty; the row still reads */
        }
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]);
  }, [key, generation]);
  return trends;
}

/** The filter bar; every change goes to the URL (typing replaces, so Back skips keystrokes). */
function Filters({ route, filters }: { route: Route; filters: GroupFilters }) {
  const set = (changes: Record<string, string | undefined>, replace = false) =>
    navigate(withParams(route, changes), { replace });
  const toggle = <T,>(values: T[], value: T, name: (v: T) => string) => {
    const next = values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
    return next.map(name).join(",");
  };
  return (
    <form class="view-filters" role="search" aria-label="Filter groups" onSubmit={(e) => e.preventDefault()}>
      <div class="field field-grow">
        <label for="groups-q">Title or culprit contains</label>
        <DebouncedInput id="groups-q" value={filters.text} onValue={(q) => set({ q }, true)} type="search" />
      </div>
      <fieldset>
        <legend>Status</legend>
        <div class="chips">
          {STATUSES.map((s) => (
            <label class="chip" key={s}>
              <input
                type="checkbox"
                checked={filters.statuses.includes(s)}
                onChange={() => set({ status: toggle(filters.statuses, s, statusName) })}
              />
              {statusName(s)}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Severity</legend>
        <div class="chips">
          {SEVERITIES.map((s) => (
            <label class={`chip sev-${severityName(s)}`} key={s}>
              <input
                type="checkbox"
                checked={filters.severities.includes(s)}
                onChange={() => set({ severity: toggle(filters.severities, s, severityName) })}
              />
              <SeverityIcon severity={s} size={14} />
              {severityLabel(s)}
            </label>
          ))}
        </div>
      </fieldset>
      <div class="field">
        <label for="groups-type">Error type</label>
        <select
          id="groups-type"
          value={filters.types.length === 1 ? errorTypeName(filters.types[0]) : ""}
          onChange={(e) => set({ type: (e.target as HTMLSelectElement).value })}
        >
          <option value="">Any</option>
          {ERROR_TYPES.map((t) => (
            <option key={t} value={errorTypeName(t)}>
              {errorTypeLabel(t)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="groups-host">Host</label>
        <DebouncedInput id="groups-host" value={filters.host} onValue={(host) => set({ host }, true)} size={12} />
      </div>
      <div class="field">
        <label for="groups-run">Run</label>
        <DebouncedInput id="groups-run" value={filters.run} onValue={(run) => set({ run }, true)} size={12} />
      </div>
      <div class="field">
        <label for="groups-sort">Sort by</label>
        <select
          id="groups-sort"
          value={ORDERS.find((o) => o.order === filters.order)?.word}
          onChange={(e) => set({ sort: (e.target as HTMLSelectElement).value })}
        >
          {ORDERS.map((o) => (
            <option key={o.word} value={o.word}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <button
        type="button"
        onClick={() => set({ q: "", status: "", severity: "", type: "", host: "", run: "", sort: "" })}
      >
        Clear filters
      </button>
    </form>
  );
}
