// The actions bar: search as you type, the filters button, Debug Mode
// ON/OFF (following WatchDebugMode, so a change made elsewhere shows within a
// second), Refresh, Generate Report (downloads the report's JSON), Export
// (JSON or NDJSON, downloaded under its timestamped name) and Clear (a
// dialog that says how many logs go, with "export first"). Admin actions
// are disabled for other roles, with the reason.
import { useEffect, useRef, useState } from "preact/hooks";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describeError, isPermanent } from "../api";
import {
  ClearLogsRequestSchema,
  ExportFormat,
  type DebugMode,
} from "../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../session";
import { formatCount, formatTime } from "../ui/format";
import { saveFile } from "./download";
import { clearFilter, describeFilters, unclearableConditions, wireFilter, type LogQuery } from "./query";

export type Notify = (text: string, tone?: "info" | "error" | "ok") => void;

export function ActionsBar({
  query,
  searchText,
  onSearch,
  filtersOpen,
  onToggleFilters,
  filterCount,
  onRefresh,
  onCleared,
  notify,
}: {
  query: LogQuery;
  searchText: string;
  onSearch: (text: string) => void;
  filtersOpen: boolean;
  onToggleFilters: () => void;
  filterCount: number;
  onRefresh: () => void;
  onCleared: () => void;
  notify: Notify;
}) {
  return (
    <div class="actions-bar" role="toolbar" aria-label="Log actions">
      <div class="search">
        <label for="log-search" class="visually-hidden">
          Search messages, stack traces and context
        </label>
        <svg class="search-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <circle cx="11" cy="11" r="7" fill="none" stroke="currentColor" stroke-width="2" />
          <path d="M20 20l-4-4" stroke="currentColor" stroke-width="2" />
        </svg>
        <input
          id="log-search"
          type="search"
          placeholder="Search messages, stack traces, context…"
          value={searchText}
          autoComplete="off"
          spellcheck={false}
          onInput={(e) => onSearch((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && searchText) {
              e.preventDefault();
              onSearch("");
            }
          }}
        />
      </div>
      <button type="button" aria-expanded={filtersOpen} aria-controls="filters-panel" onClick={onToggleFilters}>
        Filters{filterCount ? ` (${filterCount})` : ""}
      </button>
      <DebugToggle notify={notify} />
      <button type="button" onClick={onRefresh}>
        Refresh
      </button>
      <ReportButton query={query} notify={notify} />
      <ExportButton query={query} notify={notify} />
      <ClearButton query={query} notify={notify} onCleared={onCleared} />
    </div>
  );
}

/** Why a button is disabled, read by screen readers too. */
function Reason({ id, text }: { id: string; text: string }) {
  return text ? (
    <span id={id} class="visually-hidden">
      {text}
    </span>
  ) : null;
}

function DebugToggle({ notify }: { notify: Notify }) {
  const { client, can, whyNot } = useSession();
  const [mode, setMode] = useState<DebugMode | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      // Follow the switch; after a failure, try again a second later.
      while (!abort.signal.aborted) {
        try {
          for await (const message of client.watchDebugMode({}, { signal: abort.signal })) {
            if (message.debugMode) setMode(message.debugMode);
          }
        } catch (err) {
          if (isPermanent(err)) return; // a revoked token: retrying cannot help
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => abort.abort();
  }, [client]);
  const reason = whyNot("SetDebugMode");
  const on = mode?.enabled ?? false;
  const toggle = async () => {
    setBusy(true);
    try {
      const answer = await client.setDebugMode({ enabled: !on, changedBy: "diagd page" });
      if (answer.debugMode) setMode(answer.debugMode);
      notify(`Debug mode is ${!on ? "ON" : "OFF"}.`, "ok");
    } catch (err) {
      notify(`Debug mode was not switched: ${describeError(err)}`, "error");
    } finally {
      setBusy(false);
    }
  };
  const title = reason
    ? reason
    : mode?.autoOffAt && on
      ? `On until ${formatTime(mode.autoOffAt)}`
      : mode?.changedBy
        ? `Last switched by ${mode.changedBy} at ${formatTime(mode.changedAt)}`
        : "Verbose logging in diagd and the trainers that follow it";
  return (
    <button
      type="button"
      role="switch"
      class={`debug-switch ${on ? "on" : "off"}`}
      aria-checked={on}
      disabled={!can("SetDebugMode") || busy || mode === null}
      aria-describedby={reason ? "debug-reason" : undefined}
      title={title}
      onClick={toggle}
    >
      <span class="switch-track" aria-hidden="true">
        <span class="switch-thumb" />
      </span>
      Debug Mode <strong>{on ? "ON" : "OFF"}</strong>
      <Reason id="debug-reason" text={reason} />
    </button>
  );
}

function ReportButton({ query, notify }: { query: LogQuery; notify: Notify }) {
  const { client, can, whyNot } = useSession();
  const [busy, setBusy] = useState(false);
  const reason = whyNot("GenerateReport");
  const generate = async () => {
    setBusy(true);
    try {
      const { report } = await client.generateReport({ filter: wireFilter(query) });
      if (!report) throw new Error("no report in the answer");
      const chunks: Uint8Array[] = [];
      let fileName = report.fileName || `diagnostic-report-${report.reportId}.json`;
      for await (const part of client.downloadReport({ reportId: report.reportId })) {
        if (part.fileName) fileName = part.fileName;
        if (part.chunk.length) chunks.push(part.chunk);
      }
      saveFile(chunks, fileName);
      notify(`Report ${report.reportId} generated with ${formatCount(report.errorCount)} errors; downloaded as ${fileName}.`, "ok");
    } catch (err) {
      notify(`The report failed: ${describeError(err)}`, "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" onClick={generate} disabled={busy || !can("GenerateReport")} title={reason || "Generate a diagnostic report of the logs matching the filters (not narrowed by the search text), and download it"}>
      {busy ? "Generating…" : "Generate Report"}
    </button>
  );
}

function ExportButton({ query, notify }: { query: LogQuery; notify: Notify }) {
  const { client, can, whyNot } = useSession();
  const [format, setFormat] = useState(ExportFormat.JSON);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const chunks: Uint8Array[] = [];
      let fileName = "";
      let count = 0n;
      for await (const part of client.exportLogs({ filter: wireFilter(query), format })) {
        if (part.part.case === "header") {
          fileName = part.part.value.fileName;
          count = part.part.value.totalCount;
        } else if (part.part.case === "chunk") {
          chunks.push(part.part.value);
        }
      }
      saveFile(chunks, fileName, format === ExportFormat.NDJSON ? "application/x-ndjson" : "application/json");
      notify(`Exported ${formatCount(count)} logs to ${fileName}.`, "ok");
    } catch (err) {
      notify(`The export failed: ${describeError(err)}`, "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="export-group">
      <label for="export-format" class="visually-hidden">
        Export format
      </label>
      <select
        id="export-format"
        value={String(format)}
        onChange={(e) => setFormat(Number((e.target as HTMLSelectElement).value) as ExportFormat)}
      >
        <option value={String(ExportFormat.JSON)}>JSON</option>
        <option value={String(ExportFormat.NDJSON)}>NDJSON</option>
      </select>
      <button type="button" onClick={run} disabled={busy || !can("ExportLogs")} title={whyNot("ExportLogs") || "Download the logs matching the filters (not narrowed by the search text) as a file"}>
        {busy ? "Exporting…" : "Export"}
      </button>
    </span>
  );
}

function ClearButton({ query, notify, onCleared }: { query: LogQuery; notify: Notify; onCleared: () => void }) {
  const { client, can, whyNot } = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const [count, setCount] = useState<bigint | null>(null);
  const [exportFirst, setExportFirst] = useState(true);
  const [busy, setBusy] = useState(false);
  const reason = whyNot("ClearLogs");
  // What the dialog counted is exactly what is deleted: the filter as it was
  // when the dialog opened, up to that moment (logs arriving later stay).
  const [counted, setCounted] = useState<ReturnType<typeof clearFilter> | null>(null);
  const narrowed = describeFilters({ ...query, q: "", types: [], host: "", run: "", range: query.range === "custom" ? "custom" : "", since: undefined });
  const ignored = unclearableConditions(query);
  const open = async () => {
    setCount(null);
    const filter = clearFilter(query);
    const now = timestampFromDate(new Date());
    if (!filter.until || timestampDate(filter.until) > timestampDate(now)) filter.until = now;
    setCounted(filter);
    dialog.current?.showModal();
    try {
      setCount((await client.getStats({ filter })).total);
    } catch (err) {
      notify(`Could not count the logs: ${describeError(err)}`, "error");
    }
  };
  const clear = async () => {
    const filter = counted;
    if (!filter) return;
    setBusy(true);
    try {
      const answer = await client.clearLogs(
        create(ClearLogsRequestSchema, {
          confirm: true,
          severities: filter.severities,
          groupIds: filter.groupIds,
          olderThan: filter.until,
          exportFirst,
        }),
      );
      dialog.current?.close();
      notify(
        `Deleted ${formatCount(answer.deletedCount)} logs.` +
          (answer.exportPath ? ` Exported ${formatCount(answer.exportedCount)} first to ${answer.exportPath} (on the server).` : ""),
        "ok",
      );
      onCleared();
    } catch (err) {
      notify(`Nothing was deleted: ${describeError(err)}`, "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class="danger"
        onClick={open}
        disabled={!can("ClearLogs")}
        aria-describedby={reason ? "clear-reason" : undefined}
        title={reason || "Delete logs (asks first)"}
      >
        Clear
        <Reason id="clear-reason" text={reason} />
      </button>
      <dialog ref={dialog} class="clear-dialog" aria-labelledby="clear-title">
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void clear();
          }}
        >
          <h2 id="clear-title">Clear logs?</h2>
          <p data-testid="clear-count">
            {count === null ? (
              "Counting…"
            ) : (
              <>
                This deletes <strong>{formatCount(count)}</strong> {count === 1n ? "log" : "logs"}
                {narrowed.length ? ` (${narrowed.join(", ")})` : " — every stored log"}. It cannot be undone.
              </>
            )}
          </p>
          {ignored.length > 0 && (
            <p class="muted">Clear deletes by severity, group and age only; {ignored.join(", ")} do not narrow it.</p>
          )}
          <label class="checkbox">
            <input type="checkbox" checked={exportFirst} onChange={(e) => setExportFirst((e.target as HTMLInputElement).checked)} />
            Export them first (a file in diagd's export directory)
          </label>
          <div class="dialog-buttons">
            <button type="button" onClick={() => dialog.current?.close()} autoFocus>
              Cancel
            </button>
            <button type="submit" class="danger" disabled={busy || count === null}>
              {busy ? "Deleting…" : count === null ? "Delete" : `Delete ${formatCount(count)} logs`}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
