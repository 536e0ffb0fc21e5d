// The Runs list (#/runs?state=stuck,lost&host=…): training runs with their
// live state (a coloured badge with its word), members (how many in each
// state), steps, last heartbeat ("12 s ago", moving), and the line naming
// the members behind. Followed live with WatchRuns; a periodic refresh moves
// heartbeats and steps (which change no state), and takes over as polling
// while the stream is down.
import { useRef } from "preact/hooks";
import type { Run, RunChange, RunState } from "../../gen/diagnostics/v1/diagnostics_pb";
import { navigate, withParams, type Route } from "../../router";
import { useSession } from "../../session";
import { DebouncedInput } from "../../ui/debounced-input";
import { formatCount } from "../../ui/format";
import { RUN_STATES, RunStateBadge, parseRunState, runStateName } from "../../ui/run-state";
import { useInterval, useNow, usePaged } from "../../ui/use-load";
import { Ago, memberBreakdown, stepRange } from "./common";
import { LiveIndicator, useRunWatch } from "./live";

const PAGE_SIZE = 50;

function readFilters(params: URLSearchParams): { states: RunState[]; host: string } {
  const states = (params.get("state") ?? "")
    .split(",")
    .map((w) => parseRunState(w.trim()))
    .filter((s): s is RunState => s !== undefined);
  return { states, host: params.get("host") ?? "" };
}

/** `fresh` runs replace those of the same id; runs not listed yet go on top. */
function merge(items: Run[], fresh: Run[]): Run[] {
  const byId = new Map(fresh.map((r) => [r.runId, r]));
  const known = new Set(items.map((r) => r.runId));
  const added = fresh.filter((r) => !known.has(r.runId));
  return [...added, ...items.map((r) => byId.get(r.runId) ?? r)];
}

export function RunsList({ route }: { route: Route }) {
  const { client } = useSession();
  const filters = readFilters(route.params);
  const key = JSON.stringify(filters);
  const request = { states: filters.states, host: filters.host, pageSize: PAGE_SIZE };
  const runs = usePaged<Run>(
    async (token, signal) => {
      const page = await client.listRuns({ ...request, pageToken: token }, { signal });
      return { items: page.runs, next: page.nextPageToken };
    },
    [key],
  );
  const refreshing = useRef(false);
  const current = useRef(key);
  current.current = key;
  const refresh = async () => {
    if (refreshing.current) return;
    refreshing.current = true;
    try {
      const asked = key;
      const page = await client.listRuns(request);
      if (asked === current.current) runs.update((items) => merge(items, page.runs));
    } catch {
      /* the next refresh tries again; the list stays as it was */
    } finally {
      refreshing.current = false;
    }
  };
  const onChange = (change: RunChange) => {
    const run = change.run;
    if (!run) return;
    const wanted =
      (!filters.states.length || filters.states.includes(run.state)) && !filters.host;
    runs.update((items) =>
      items.some((r) => r.runId === run.runId)
        ? items.map((r) => (r.runId === run.runId ? run : r))
        : wanted
          ? [run, ...items]
          : items,
    );
    if (filters.host) void refresh();
  };
  const live = useRunWatch([], onChange, () => void refresh());
  useInterval(() => void refresh(), live === "live" ? 15_000 : 5_000, !runs.loading || runs.items.length > 0);
  const now = useNow(1000);
  const set = (changes: Record<string, string>, replace = false) => navigate(withParams(route, changes), { replace });
  const filtered = filters.states.length > 0 || Boolean(filters.host);

  return (
    <section aria-labelledby="runs-title">
      <div class="view-head">
        <h1 id="runs-title">Training runs</h1>
        <LiveIndicator state={live} />
        <div class="view-head-actions">
          <button type="button" onClick={runs.reload} disabled={runs.loading}>
            Refresh
          </button>
        </div>
      </div>
      <form class="view-filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <fieldset>
          <legend>State</legend>
          <div class="chips">
            {RUN_STATES.map((s) => (
              <label class="chip" key={s}>
                <input
                  type="checkbox"
                  checked={filters.states.includes(s)}
                  onChange={() => {
                    const next = filters.states.includes(s) ? filters.states.filter((x) => x !== s) : [...filters.states, s];
                    set({ state: next.map(runStateName).join(",") });
                  }}
                />
                {runStateName(s)}
              </label>
            ))}
          </div>
        </fieldset>
        <div class="field">
          <label for="runs-host">With a member on host</label>
          <DebouncedInput id="runs-host" value={filters.host} onValue={(host) => set({ host }, true)} size={16} />
        </div>
        {filtered && (
          <button type="button" onClick={() => set({ state: "", host: "" })}>
            Clear filters
          </button>
        )}
      </form>
      {runs.error && (
        <p class="view-notice bad" role="alert">
          Could not list the runs: {runs.error}
        </p>
      )}
      <div class="view-table-wrap">
        <table class="view-table stack runs-table">
          <caption class="visually-hidden">Training runs, most recent heartbeat first</caption>
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Run</th>
              <th scope="col">Members</th>
              <th scope="col" class="num">
                Step
              </th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {runs.items.map((run) => (
              <tr key={run.runId} data-run={run.runId}>
                <td data-label="State">
                  <RunStateBadge state={run.state} />
                </td>
                <td class="title-cell">
                  <a href={`#/runs/${encodeURIComponent(run.runId)}`} class="mono">
                    {run.runId}
                  </a>
                  {run.summary && <div class="cell-meta run-summary">{run.summary}</div>}
                </td>
                <td data-label="Members">
                  <span class="members-total">{formatCount(run.members)}</span>{" "}
                  <span class="cell-meta members-breakdown">({memberBreakdown(run)})</span>
                </td>
                <td class="num" data-label="Step">
                  {stepRange(run)}
                </td>
                <td class="nowrap" data-label="Last heartbeat">
                  <Ago ts={run.lastHeartbeat} now={now} />
                </td>
                <td class="nowrap" data-label="Started">
                  <Ago ts={run.startedAt} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!runs.loading && !runs.error && runs.items.length === 0 && (
          <p class="view-empty">
            {filtered ? "No runs match these filters." : "No runs yet: a run appears with its first heartbeat."}
          </p>
        )}
        <div class="view-pager">
          {runs.loading && runs.items.length === 0 ? (
            <span role="status">Loading runs…</span>
          ) : (
            <span>
              {formatCount(runs.items.length)} run{runs.items.length === 1 ? "" : "s"} shown
            </span>
          )}
          {runs.more && (
            <button type="button" onClick={runs.loadMore} disabled={runs.loading}>
              Load more
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
