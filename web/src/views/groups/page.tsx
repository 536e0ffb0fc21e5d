// A group's page (#/groups/<id>): its title, culprit and severity; counts
// and a histogram (30 days, or 48 hours); its newest log (→ #/logs?log=<id>)
// and "show logs of this group" (→ #/logs?group=<id>); the hosts and runs
// with most of its logs; why its logs are grouped (each fingerprint's
// components, with Split for a merged group); triage and the note.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { describeError } from "../../api";
import { BucketWidth, type GetGroupResponse, type GroupFingerprint, type LogEntry } from "../../gen/diagnostics/v1/diagnostics_pb";
import { formatRoute } from "../../router";
import { useSession } from "../../session";
import { BarChart } from "../../ui/charts";
import { formatAgo, formatCount, formatTime, toDate } from "../../ui/format";
import { ConfirmDialog } from "../../ui/modal";
import { SeverityBadge, errorTypeLabel } from "../../ui/severity";
import { useLoad } from "../../ui/use-load";
import { NoteEditor } from "./note";
import { Triage } from "./triage";

const logsLink = (params: Record<string, string>) => formatRoute({ view: "logs", params: new URLSearchParams(params) });

export function GroupPage({ id }: { id: string }) {
  const { client } = useSession();
  const [hourly, setHourly] = useState(false);
  const [message, setMessage] = useState<ComponentChildren>(null);
  const valid = /^\d{1,18}$/.test(id);
  const detail = useLoad(
    async (signal) =>
      valid
        ? client.getGroup(
            { id: BigInt(id), buckets: hourly ? 48 : 30, bucketWidth: hourly ? BucketWidth.HOUR : BucketWidth.DAY },
            { signal },
          )
        : undefined,
    [id, hourly],
  );
  const changed = (text: ComponentChildren) => {
    setMessage(text);
    detail.reload();
  };

  const back = (
    <a class="back-link" href="#/groups">
      ← All groups
    </a>
  );
  if (!valid)
    return (
      <section>
        {back}
        <p class="view-notice bad" role="alert">
          “{id}” is not a group id.
        </p>
      </section>
    );
  if (!detail.data)
    return (
      <section>
        {back}
        {detail.error ? (
          <p class="view-notice bad" role="alert">
            Could not load group {id}: {detail.error}
          </p>
        ) : (
          <p role="status">Loading group {id}…</p>
        )}
      </section>
    );
  const d: GetGroupResponse = detail.data;
  const group = d.group;
  if (!group) return <section>{back}</section>;
  const gid = String(group.id);

  return (
    <article class="group-page" aria-labelledby="group-title">
      {back}
      {d.mergedFrom !== 0n && (
        <p class="view-notice">Group #{String(d.mergedFrom)} was merged into this one.</p>
      )}
      <header class="group-head">
        <div class="group-title-row">
          <SeverityBadge severity={group.severity} />
          <span class="muted mono">#{gid}</span>
        </div>
        <h1 id="group-title">{group.title || `Group ${gid}`}</h1>
        {group.culprit && <p class="mono culprit">{group.culprit}</p>}
        <div class="button-row">
          <a class="button" href={logsLink({ group: gid })}>
            Show logs of this group
          </a>
          <button type="button" onClick={detail.reload} disabled={detail.loading}>
            Refresh
          </button>
        </div>
      </header>
      <div role="status" class="status-line group-message">
        {message}
      </div>
      {detail.error && (
        <p class="view-notice bad" role="alert">
          {detail.error}
        </p>
      )}
      <div class="group-layout">
        <div class="group-main">
          <section class="panel" aria-labelledby="events-title">
            <div class="panel-head">
              <h2 id="events-title">Events</h2>
              <div class="button-row" role="group" aria-label="Histogram range">
                <button type="button" class="small" aria-pressed={!hourly} onClick={() => setHourly(false)}>
                  30 days
                </button>
                <button type="button" class="small" aria-pressed={hourly} onClick={() => setHourly(true)}>
                  48 hours
                </button>
              </div>
            </div>
            <BarChart
              buckets={d.histogram.map((b) => ({ start: toDate(b.start) ?? new Date(0), count: Number(b.count) }))}
              label={hourly ? "Events per hour over the last 48 hours" : "Events per day over the last 30 days"}
              hourly={hourly}
            />
            <dl class="facts group-facts">
              <dt>Events</dt>
              <dd>{formatCount(group.eventCount)}</dd>
              <dt>First seen</dt>
              <dd>
                {formatTime(group.firstSeen)} <span class="muted">({formatAgo(group.firstSeen)})</span>
              </dd>
              <dt>Last seen</dt>
              <dd>
                {formatTime(group.lastSeen)} <span class="muted">({formatAgo(group.lastSeen)})</span>
              </dd>
              <dt>Error type</dt>
              <dd>
                {errorTypeLabel(group.errorType)}
                {group.exceptionType && (
                  <>
                    {" · "}
                    <span class="mono">{group.exceptionType}</span>
                  </>
                )}
              </dd>
              <dt>Spread</dt>
              <dd>
                {formatCount(group.hosts)} host{group.hosts === 1n ? "" : "s"} · {formatCount(group.runs)} run
                {group.runs === 1n ? "" : "s"} · {group.fingerprints} fingerprint{group.fingerprints === 1 ? "" : "s"}
              </dd>
            </dl>
          </section>
          {d.latestLog && <LatestLog log={d.latestLog} />}
          <WhyGrouped groupId={group.id} fingerprints={d.fingerprints} onSplit={changed} />
        </div>
        <div class="group-side">
          <Triage group={group} onChanged={changed} />
          <NoteEditor group={group} onSaved={changed} />
          <section class="panel" aria-labelledby="where-title">
            <h2 id="where-title">Where it happens</h2>
            <h3 class="small-head">Hosts</h3>
            <TopList
              values={d.topHosts}
              link={(host) => logsLink({ group: gid, host })}
              linkLabel={(host) => `Logs of this group from ${host}`}
              empty="No host named in its logs."
            />
            <h3 class="small-head">Runs</h3>
            <TopList
              values={d.topRuns}
              link={(run) => formatRoute({ view: "runs", id: run, params: new URLSearchParams() })}
              linkLabel={(run) => `Run ${run}`}
              empty="No run named in its logs."
            />
          </section>
        </div>
      </div>
    </article>
  );
}

function TopList({
  values,
  link,
  linkLabel,
  empty,
}: {
  values: { value: string; count: bigint }[];
  link: (value: string) => string;
  linkLabel: (value: string) => string;
  empty: string;
}) {
  if (!values.length) return <p class="muted">{empty}</p>;
  const max = Math.max(...values.map((v) => Number(v.count)));
  return (
    <ul class="top-list">
      {values.map((v) => (
        <li key={v.value}>
          <a href={link(v.value)} aria-label={linkLabel(v.value)} class="mono">
            {v.value}
          </a>
          <span class="top-count">{formatCount(v.count)}</span>
          <meter min={0} max={max} value={Number(v.count)} aria-hidden="true" />
        </li>
      ))}
    </ul>
  );
}

function LatestLog({ log }: { log: LogEntry }) {
  const source = log.source;
  return (
    <section class="panel" aria-labelledby="latest-title">
      <div class="panel-head">
        <h2 id="latest-title">Latest event</h2>
        <a href={logsLink({ log: log.id })}>Open in Logs</a>
      </div>
      <p class="latest-meta">
        <SeverityBadge severity={log.severity} />{" "}
        <time dateTime={toDate(log.occurredAt)?.toISOString()}>{formatTime(log.occurredAt)}</time>
        {source?.host && <> · host <span class="mono">{source.host}</span></>}
        {source?.runId && (
          <>
            {" "}
            · run{" "}
            <a class="mono" href={formatRoute({ view: "runs", id: source.runId, params: new URLSearchParams() })}>
              {source.runId}
            </a>
          </>
        )}
        {source?.component && <> · {source.component}</>}
      </p>
      <p class="latest-message">{log.message}</p>
      {log.stackTrace && (
        <details>
          <summary>Stack trace</summary>
          <pre class="block">{log.stackTrace}</pre>
        </details>
      )}
    </section>
  );
}

function WhyGrouped({
  groupId,
  fingerprints,
  onSplit,
}: {
  groupId: bigint;
  fingerprints: GroupFingerprint[];
  onSplit: (message: ComponentChildren) => void;
}) {
  const session = useSession();
  const canSplit = session.can("SplitGroup");
  const [splitting, setSplitting] = useState<GroupFingerprint | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const split = async (print: GroupFingerprint) => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await session.client.splitGroup({ id: groupId, fingerprint: print.fingerprint });
      const id = String(answer.group?.id ?? "");
      setSplitting(null);
      onSplit(
        <>
          Split into a new group: <a href={`#/groups/${id}`}>#{id}</a> ({formatCount(answer.movedLogs)} logs moved).
        </>,
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="why-title">
      <h2 id="why-title">Why these logs are grouped</h2>
      {fingerprints.length > 1 && !canSplit && <p class="why-not">Split: {session.whyNot("SplitGroup")}</p>}
      <ol class="fingerprints">
        {fingerprints.map((print) => (
          <li key={print.fingerprint}>
            <p class="fingerprint-explanation">{print.explanation || print.title}</p>
            <p class="muted fingerprint-meta">
              <span class="mono">{print.fingerprint.slice(0, 16)}</span> · {formatCount(print.eventCount)} logs · since{" "}
              {formatTime(print.addedAt)} · grouping rules v{print.version}
            </p>
            <details>
              <summary>Components</summary>
              <pre class="block">{prettyJson(print.componentsJson)}</pre>
            </details>
            {fingerprints.length > 1 && (
              <button type="button" class="small" disabled={!canSplit} onClick={() => setSplitting(print)}>
                Split out into a new group
              </button>
            )}
          </li>
        ))}
      </ol>
      <ConfirmDialog
        open={splitting !== null}
        title="Split this fingerprint out?"
        confirmLabel="Split"
        busy={busy}
        error={error}
        onConfirm={() => splitting && void split(splitting)}
        onCancel={() => {
          setSplitting(null);
          setError(undefined);
        }}
      >
        <p>
          Its {formatCount(splitting?.eventCount ?? 0n)} logs move into a new group, and its future errors land there.
        </p>
        <p class="mono">{splitting?.explanation}</p>
      </ConfirmDialog>
    </section>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
