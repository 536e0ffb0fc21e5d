// The Logs view (the seed's page): the stats dashboard, the actions bar, the
// filter panel, the log list (a page of ListLogs, or SearchLogs' hits while
// a search is typed, or the live tail streaming in at the top) and the
// opened log's details. Its state is the URL's (query.ts), so every view of
// it can be linked to. It marks what it has shown with the Performance API
// (diagd:first-page, diagd:search-results, diagd:live-started,
// diagd:live-shown), which `diagd bench --only page` measures.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError, isPermanent } from "../api";
import { NoticeKind, type GetStatsResponse } from "../gen/diagnostics/v1/diagnostics_pb";
import { navigate, parseRoute, withParams, type Route } from "../router";
import { useSession } from "../session";
import { formatCount } from "../ui/format";
import { ActionsBar, type Notify } from "./actions";
import { Dashboard } from "./dashboard";
import { LogDetails } from "./details";
import { FiltersPanel } from "./filters";
import { LogList, type Row } from "./list";
import { bucketWidth, describeFilters, queryFromRoute, queryParams, wireFilter, type LogQuery } from "./query";
import "./logs.css";

const PAGE_SIZE = 100;
const SEARCH_LIMIT = 200;
const MAX_ROWS = 10_000;
const LIVE_BATCH_MS = 100;
// Each keystroke searches (the previous search is cancelled, also in PostgreSQL):
// only keystrokes within a few milliseconds of each other are coalesced.
const DEBOUNCE_MS = 25;
// A two-character query (a prefix on the way to a word) searches only once
// typing pauses: it matches a large part of every log.
const SHORT_QUERY_PAUSE_MS = 500;

interface Notice {
  id: number;
  text: string;
  tone: "info" | "error" | "ok";
}

function mark(name: string, detail?: unknown) {
  try {
    performance.mark(name, { detail });
  } catch {
    /* marks are only for measuring */
  }
}

export function LogsPage({ route }: { route: Route }) {
  const { client } = useSession();
  const query = useMemo(() => queryFromRoute(route), [route]);
  const q = query.q.trim();
  const searching = q.length >= 2;
  const filterKey = JSON.stringify({ ...queryParams(query), q: "", log: "" });

  const setQuery = useCallback(
    (changes: Partial<LogQuery>, replace = true) => navigate(withParams(route, queryParams({ ...query, ...changes })), { replace }),
    [route, query],
  );

  // Notices (report, export, clear, live tail), announced politely.
  const [notices, setNotices] = useState<Notice[]>([]);
  const nextNotice = useRef(1);
  const notify: Notify = useCallback((text, tone = "info") => {
    const id = nextNotice.current++;
    setNotices((list) => [...list.slice(-4), { id, text, tone }]);
    if (tone !== "error") setTimeout(() => setNotices((list) => list.filter((n) => n.id !== id)), 15_000);
  }, []);

  // The search box: typed text goes into the URL after a pause.
  const [searchText, setSearchText] = useState(query.q);
  const typing = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (typing.current === undefined) setSearchText(query.q);
  }, [query.q]);
  const onSearch = (text: string) => {
    setSearchText(text);
    window.clearTimeout(typing.current);
    typing.current = window.setTimeout(() => {
      typing.current = undefined;
      // From the URL as it is now: a filter clicked meanwhile stays.
      navigate(withParams(parseRoute(), { q: text }), { replace: true });
    }, !text ? 0 : text.trim().length <= 2 ? SHORT_QUERY_PAUSE_MS : DEBOUNCE_MS);
  };

  const [refreshes, setRefreshes] = useState(0);
  const [live, setLive] = useState(false);
  const refresh = () => setRefreshes((n) => n + 1);

  // Stats: the dashboard follows the filters (not the search text).
  const [stats, setStats] = useState<GetStatsResponse | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    client
      .getStats({ filter: wireFilter(query), bucketWidth: bucketWidth(query) }, { signal: abort.signal })
      .then(setStats)
      .catch((err) => abort.signal.aborted || notify(`Stats: ${describeError(err)}`, "error"));
    return () => abort.abort();
  }, [filterKey, refreshes]);

  // The rows: a page of logs, or a search's hits.
  const [rows, setRows] = useState<Row[]>([]);
  const [pageToken, setPageToken] = useState("");
  const [loading, setLoading] = useState(true);
  // Which list the rows are the answer to. Until the effect below has run for
  // a new query, `loading` still says false from the last one: comparing keys
  // keeps the status from claiming the old rows are the new query's matches.
  const listKey = [live, searching ? q : "", filterKey, refreshes].join("\u0000");
  const [rowsKey, setRowsKey] = useState("");
  const listLoading = loading || rowsKey !== listKey;
  // "Load more" of a search raises its limit for that query and filter only.
  const [raised, setRaised] = useState({ key: "", limit: SEARCH_LIMIT });
  const searchKey = `${q}\u0000${filterKey}`;
  const searchLimit = raised.key === searchKey ? raised.limit : SEARCH_LIMIT;
  const [summary, setSummary] = useState<{ truncated: boolean; note: string; elapsedMs: bigint } | null>(null);
  const [listError, setListError] = useState("");
  const firstPage = useRef(false);
  // One search at a time per page: a keystroke while a search runs does not
  // start another beside it (over HTTP/1.1 a cancelled request may keep its
  // query running in the database until it ends); the newest query runs as
  // soon as the one in flight is done, and stale results are dropped.
  const inFlight = useRef<Promise<void> | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    let stale = false;
    const dropped = () => stale || abort.signal.aborted;
    const key = listKey;
    setLoading(true);
    setListError("");
    if (live) return; // the live tail's backfill is the list (below)
    const previous = inFlight.current;
    const mine = (async () => {
      if (previous && searching) await previous;
      if (dropped()) return;
      try {
        if (searching) {
          const hits: Row[] = [];
          let done = null as typeof summary;
          for await (const m of client.searchLogs({ query: q, filter: wireFilter(query), limit: searchLimit }, { signal: abort.signal })) {
            if (m.result.case === "hit" && m.result.value.log) hits.push({ log: m.result.value.log, matches: m.result.value.matches });
            else if (m.result.case === "summary") done = { truncated: m.result.value.truncated, note: m.result.value.note, elapsedMs: m.result.value.elapsedMs };
          }
          if (dropped()) return;
          setRows(hits);
          setRowsKey(key);
          setSummary(done);
          setPageToken("");
        } else {
          const page = await client.listLogs({ filter: wireFilter(query), pageSize: PAGE_SIZE }, { signal: abort.signal });
          if (dropped()) return;
          setRows(page.logs.map((log) => ({ log })));
          setRowsKey(key);
          setPageToken(page.nextPageToken);
          setSummary(null);
        }
        setLoading(false);
      } catch (err) {
        if (dropped()) return;
        // The rows shown stay (e.g. a busy server answered RESOURCE_EXHAUSTED).
        setLoading(false);
        setRowsKey(key);
        setListError(`${describeError(err)} (the list shows the previous results; Refresh to try again)`);
      }
    })();
    inFlight.current = mine;
    return () => {
      stale = true;
      // A listing is cheap to cancel; a search in flight is left to finish
      // (its result dropped) so that the next one waits for it, not beside it.
      if (!searching) abort.abort();
    };
  }, [searching ? q : "", filterKey, refreshes, searchLimit, live]);
  useEffect(() => () => void (inFlight.current = null), []);

  // What the page has shown, for the bench.
  useEffect(() => {
    if (listLoading) return;
    if (stats && !firstPage.current) {
      firstPage.current = true;
      mark("diagd:first-page");
    }
    if (searching) mark("diagd:search-results", q);
  }, [listLoading, rows, stats]);

  // One "Load more" at a time, and only for the list it was asked for.
  const [loadingMore, setLoadingMore] = useState(false);
  const listGeneration = useRef(0);
  useEffect(() => {
    listGeneration.current++;
  }, [filterKey, refreshes, live, searching ? q : ""]);
  const loadMore = async () => {
    if (searching) {
      setRaised({ key: searchKey, limit: Math.min(10_000, searchLimit * 2) });
      return;
    }
    const generation = listGeneration.current;
    setLoadingMore(true);
    try {
      const page = await client.listLogs({ filter: wireFilter(query), pageSize: PAGE_SIZE, pageToken });
      if (generation !== listGeneration.current) return;
      setRows((r) => {
        const have = new Set(r.map((row) => row.log.id));
        return [...r, ...page.logs.filter((log) => !have.has(log.id)).map((log) => ({ log }))].slice(0, MAX_ROWS);
      });
      setPageToken(page.nextPageToken);
    } catch (err) {
      notify(`Loading more failed: ${describeError(err)}`, "error");
    } finally {
      setLoadingMore(false);
    }
  };

  // Live: new logs stream in at the top, in batches of at most 100 ms (at
  // 200 logs/s that is ten renders a second, not one per log).
  const [liveState, setLiveState] = useState("");
  const liveCount = useRef(0);
  useEffect(() => {
    if (!live) return;
    const abort = new AbortController();
    let buffer: Row[] = [];
    let frame = 0;
    // The list starts from the tail's backfill (the newest matching logs, then
    // whatever commits next, with no gap and no duplicate at the seam); ids
    // already shown are skipped after a reconnect.
    const shown = new Set<string>();
    setRows([]);
    setPageToken("");
    setSummary(null);
    setLoading(false);
    setRowsKey(listKey);
    let statsTimer: number | undefined;
    const flush = () => {
      frame = 0;
      const arrived = buffer;
      buffer = [];
      // What the Performance mark counts: logs that arrived live (not the
      // backfill the list starts from).
      liveCount.current += arrived.filter((row) => row.live).length;
      setRows((r) => [...arrived.reverse(), ...r].slice(0, MAX_ROWS));
      mark("diagd:live-shown", liveCount.current);
      if (statsTimer === undefined)
        statsTimer = window.setTimeout(() => {
          statsTimer = undefined;
          client.getStats({ filter: wireFilter(query), bucketWidth: bucketWidth(query) }).then(setStats, () => {});
        }, 2000);
    };
    (async () => {
      let cursor = "";
      let started = false;
      while (!abort.signal.aborted) {
        try {
          setLiveState(cursor ? "Reconnecting…" : "Connecting…");
          const stream = client.subscribeLogs(
            { filter: wireFilter(query), query: searching ? q : "", resumeCursor: cursor, backfill: cursor ? 0 : PAGE_SIZE },
            { signal: abort.signal },
          );
          setLiveState("Live: new logs appear at the top.");
          if (!started) {
            started = true;
            mark("diagd:live-started");
          }
          // Backfilled logs are the list; what follows the LIVE notice is new.
          let caughtUp = false;
          for await (const m of stream) {
            if (m.cursor) cursor = m.cursor;
            if (m.event.case === "log") {
              if (shown.has(m.event.value.id)) continue;
              shown.add(m.event.value.id);
              buffer.push({ log: m.event.value, live: caughtUp });
              if (!frame) frame = window.setTimeout(flush, LIVE_BATCH_MS);
            } else if (m.event.case === "notice") {
              const n = m.event.value;
              if (n.kind === NoticeKind.LIVE) caughtUp = true;
              else if (n.kind === NoticeKind.DATABASE_UNAVAILABLE) notify(`Live: ${n.message}`, "error");
              else if (n.kind === NoticeKind.DATABASE_RESTORED) notify(`Live: ${n.message}`, "ok");
              else if (n.kind === NoticeKind.DROPPED || n.kind === NoticeKind.MISSED) notify(`Live: ${n.message}`, "error");
              else if (n.kind === NoticeKind.LOGS_CLEARED) {
                notify(`Live: ${n.message}`, "info");
                refresh();
              }
            }
          }
        } catch (err) {
          if (abort.signal.aborted) break;
          if (isPermanent(err)) {
            setLiveState(`Live tail stopped: ${describeError(err)}`);
            return;
          }
          setLiveState(`Live tail interrupted: ${describeError(err)} — reconnecting`);
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => {
      abort.abort();
      window.clearTimeout(frame);
      window.clearTimeout(statsTimer);
      setLiveState("");
    };
  }, [live, searching ? q : "", filterKey, refreshes]);

  const [filtersOpen, setFiltersOpen] = useState(() => describeFilters(query).length > 0 && !query.log);
  const conditions = describeFilters(query);
  const tooShort = q.length === 1;

  return (
    <div class={`logs-page${query.log ? " with-details" : ""}`}>
      <h1 class="visually-hidden">Logging & Diagnostics</h1>
      <Dashboard
        stats={stats}
        selected={query.severities}
        width={bucketWidth(query)}
        onToggle={(s) =>
          setQuery({ severities: query.severities.includes(s) ? query.severities.filter((x) => x !== s) : [...query.severities, s] }, false)
        }
      />
      <ActionsBar
        query={query}
        searchText={searchText}
        onSearch={onSearch}
        filtersOpen={filtersOpen}
        onToggleFilters={() => setFiltersOpen((o) => !o)}
        filterCount={conditions.length}
        onRefresh={refresh}
        onCleared={refresh}
        notify={notify}
      />
      {filtersOpen && <FiltersPanel query={query} onChange={(changes) => setQuery(changes, false)} />}
      <div class="notices" aria-live="polite">
        {notices.map((n) => (
          <p key={n.id} class={`notice ${n.tone}`} role={n.tone === "error" ? "alert" : undefined}>
            {n.text}
            <button type="button" class="link" onClick={() => setNotices((list) => list.filter((x) => x.id !== n.id))} aria-label="Dismiss">
              ×
            </button>
          </p>
        ))}
      </div>
      <div class="list-head">
        <p class="list-status" role="status">
          {tooShort
            ? "Type at least 2 characters to search."
            : listLoading
              ? "Loading…"
              : searching
                ? `${formatCount(rows.length)}${summary?.truncated ? "+" : ""} matching ${rows.length === 1 ? "log" : "logs"} for “${q}”${summary ? ` (${summary.elapsedMs} ms)` : ""}`
                : `${formatCount(rows.length)} ${rows.length === 1 ? "log" : "logs"} shown${stats ? ` of ${formatCount(stats.total)}` : ""}`}
        </p>
        <button
          type="button"
          role="switch"
          aria-checked={live}
          class={`live-switch ${live ? "on" : "off"}`}
          onClick={() => setLive((v) => !v)}
        >
          <span class="switch-track" aria-hidden="true">
            <span class="switch-thumb" />
          </span>
          Live
        </button>
        {liveState && <span class="live-state muted">{liveState}</span>}
      </div>
      <div class="list-and-details">
        <div class="list-column">
          {listError && (
            <p class="error" role="alert">
              {listError}
            </p>
          )}
          {!listLoading && !listError && rows.length === 0 ? (
            <div class="no-results" role="status">
              <h2>No logs {searching ? <>match “{q}”</> : "to show"}</h2>
              <p>
                {searching ? <>Searched messages, stack traces and context values for every word of “{q}”</> : "Nothing stored matches"}
                {conditions.length ? <>, with {conditions.join(", ")}.</> : "."}
                {summary?.note ? ` ${summary.note}` : ""}
              </p>
              <p>
                {searching && (
                  <button type="button" onClick={() => onSearch("")}>
                    Clear the search
                  </button>
                )}{" "}
                {conditions.length > 0 && (
                  <button type="button" onClick={() => setQuery({ severities: [], types: [], range: "", since: undefined, until: undefined, host: "", run: "", group: "" }, false)}>
                    Clear the filters
                  </button>
                )}
              </p>
            </div>
          ) : (
            <LogList
              rows={rows}
              query={searching ? q : ""}
              selected={query.log}
              onOpen={(id) => setQuery({ log: id }, false)}
              label={searching ? `Logs matching ${q}` : "Logs, newest first"}
            />
          )}
          {(pageToken || summary?.truncated) && !listLoading && (
            <button type="button" class="load-more" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
        {query.log && <LogDetails id={query.log} query={searching ? q : ""} onClose={() => setQuery({ log: "" }, false)} />}
      </div>
    </div>
  );
}
