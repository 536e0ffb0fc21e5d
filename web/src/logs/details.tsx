// One log in full (GetLog): message, stack trace (Python highlighted, in-app
// frames emphasised), system state as bars, context as formatted JSON,
// recent actions as a timeline, what to try for its error type, and Copy
// buttons for the message and for the whole log as JSON.
import { useEffect, useState } from "preact/hooks";
import { toJson } from "@bufbuild/protobuf";
import { describeError } from "../api";
import { LogEntrySchema, type LogEntry, type SystemState } from "../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../session";
import { formatBytes, formatTime } from "../ui/format";
import { SeverityBadge, errorTypeLabel } from "../ui/severity";
import { guidanceFor } from "./guidance";
import { Highlighted, StackTrace } from "./highlight";

function CopyButton({ text, label }: { text: () => string; label: string }) {
  const [state, setState] = useState<"" | "Copied" | "Copy failed">("");
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text());
          setState("Copied");
        } catch {
          setState("Copy failed");
        }
        setTimeout(() => setState(""), 2000);
      }}
    >
      {label}
      <span aria-live="polite" class="copy-state">
        {state ? ` — ${state}` : ""}
      </span>
    </button>
  );
}

function Bar({ label, used, total, text }: { label: string; used: number; total: number; text: string }) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div class="bar-row">
      <span class="bar-label">{label}</span>
      <span class="bar" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} aria-valuetext={text}>
        <span class={`bar-fill${pct >= 90 ? " high" : ""}`} style={{ width: `${pct}%` }} />
      </span>
      <span class="bar-text">{text}</span>
    </div>
  );
}

function SystemBars({ state }: { state: SystemState }) {
  const bars = [];
  if (state.cpuPercent !== undefined)
    bars.push(<Bar key="cpu" label="CPU" used={state.cpuPercent} total={100} text={`${state.cpuPercent.toFixed(0)} %`} />);
  if (state.memoryTotalBytes > 0n)
    bars.push(
      <Bar key="mem" label="Memory" used={Number(state.memoryUsedBytes)} total={Number(state.memoryTotalBytes)}
        text={`${formatBytes(state.memoryUsedBytes)} of ${formatBytes(state.memoryTotalBytes)}`} />,
    );
  if (state.diskTotalBytes > 0n)
    bars.push(
      <Bar key="disk" label="Disk" used={Number(state.diskUsedBytes)} total={Number(state.diskTotalBytes)}
        text={`${formatBytes(state.diskUsedBytes)} of ${formatBytes(state.diskTotalBytes)}`} />,
    );
  state.gpus.forEach((gpu, i) =>
    bars.push(
      <Bar key={`gpu${i}`} label={`GPU ${i}${gpu.name ? ` (${gpu.name})` : ""}`} used={Number(gpu.memoryUsedBytes)}
        total={Number(gpu.memoryTotalBytes)}
        text={`${formatBytes(gpu.memoryUsedBytes)}${gpu.memoryTotalBytes ? ` of ${formatBytes(gpu.memoryTotalBytes)}` : ""}${gpu.utilizationPercent !== undefined ? `, ${gpu.utilizationPercent.toFixed(0)} % busy` : ""}`} />,
    ),
  );
  return bars.length ? <div class="system-bars">{bars}</div> : <p class="muted">No system state was sent.</p>;
}

export function LogDetails({ id, query, onClose }: { id: string; query: string; onClose: () => void }) {
  const { client } = useSession();
  const [log, setLog] = useState<LogEntry | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const abort = new AbortController();
    setLog(null);
    setError("");
    client
      .getLog({ id }, { signal: abort.signal })
      .then((answer) => setLog(answer.log ?? null))
      .catch((err) => abort.signal.aborted || setError(describeError(err)));
    return () => abort.abort();
  }, [id, client]);

  return (
    <section id="log-details" class="log-details" aria-label="Log details" tabIndex={-1}>
      <div class="details-head">
        <h2>Log details</h2>
        <button type="button" onClick={onClose} aria-label="Close the details">
          Close
        </button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!log && !error && <p role="status">Loading…</p>}
      {log && <Body log={log} query={query} />}
    </section>
  );
}

function Body({ log, query }: { log: LogEntry; query: string }) {
  const guidance = guidanceFor(log.errorType);
  const context = log.context ? JSON.stringify(log.context, null, 2) : "";
  const source = log.source;
  return (
    <>
      <p class="details-meta">
        <SeverityBadge severity={log.severity} /> <span>{errorTypeLabel(log.errorType)}</span> ·{" "}
        <time>{formatTime(log.occurredAt)}</time>
        {source?.host && <> · host <code>{source.host}</code></>}
        {source?.runId && <> · run <a href={`#/runs/${encodeURIComponent(source.runId)}`}>{source.runId}</a></>}
        {source?.component && <> · {source.component}</>}
        {log.groupId > 0n && <> · <a href={`#/groups/${log.groupId}`}>group {String(log.groupId)}</a></>}
      </p>
      <h3>Message</h3>
      <p class="details-message">
        <Highlighted text={log.message} query={query} />
      </p>
      <div class="copy-buttons">
        <CopyButton label="Copy message" text={() => log.message} />
        <CopyButton label="Copy as JSON" text={() => JSON.stringify(toJson(LogEntrySchema, log), null, 2)} />
      </div>
      {log.stackTrace && (
        <>
          <h3>Stack trace</h3>
          <StackTrace text={log.stackTrace} query={query} />
        </>
      )}
      <h3>System state</h3>
      {log.systemState ? <SystemBars state={log.systemState} /> : <p class="muted">No system state was sent.</p>}
      {context && context !== "{}" && (
        <>
          <h3>Context</h3>
          <pre class="json" tabIndex={0} aria-label="Context">
            <Highlighted text={context} query={query} />
          </pre>
        </>
      )}
      {log.recentActions.length > 0 && (
        <>
          <h3>Recent actions</h3>
          <ol class="timeline">
            {log.recentActions.map((a, i) => (
              <li key={i}>
                <time>{formatTime(a.timestamp)}</time> <strong>{a.action}</strong>
                {a.details && Object.keys(a.details).length > 0 && (
                  <code class="action-details">{JSON.stringify(a.details)}</code>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
      <h3>What to try</h3>
      <dl class="guidance">
        <dt>Usual causes</dt>
        <dd>{guidance.causes}</dd>
        <dt>Solutions</dt>
        <dd>{guidance.solutions}</dd>
        <dt>Prevention</dt>
        <dd>{guidance.prevention}</dd>
      </dl>
      {source && Object.keys(source.labels).length > 0 && (
        <>
          <h3>Labels</h3>
          <dl class="labels">
            {Object.entries(source.labels).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </>
  );
}
