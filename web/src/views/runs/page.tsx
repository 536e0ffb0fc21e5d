// A run's page (#/runs/<run id>): its state and the line naming who is
// behind; every member (host, rank, pid, state, phase, step, epoch, last
// heartbeat, progress numbers, why it failed); its error groups; its recent
// actions. Followed live (WatchRuns for this run; a refresh every 10 s moves
// heartbeats and steps).
import { useSession } from "../../session";
import type { RunMember } from "../../gen/diagnostics/v1/diagnostics_pb";
import { formatRoute } from "../../router";
import { formatCount, formatTime } from "../../ui/format";
import { formatDuration } from "../../ui/duration";
import { RunStateBadge, runPhaseName } from "../../ui/run-state";
import { SeverityIcon, severityLabel } from "../../ui/severity";
import { useInterval, useLoad, useNow } from "../../ui/use-load";
import { StatusBadge } from "../groups/status";
import { Ago, formatStep, memberBreakdown, stepRange } from "./common";
import { LiveIndicator, useRunWatch } from "./live";

export function RunPage({ id }: { id: string }) {
  const { client } = useSession();
  const detail = useLoad((signal) => client.getRun({ runId: id }, { signal }), [id]);
  const live = useRunWatch([id], () => detail.reload(), () => detail.reload());
  useInterval(() => detail.reload(), live === "live" ? 10_000 : 5_000, !detail.loading);
  const now = useNow(1000);
  const back = (
    <a class="back-link" href="#/runs">
      ← All runs
    </a>
  );
  if (!detail.data)
    return (
      <section>
        {back}
        {detail.error ? (
          <p class="view-notice bad" role="alert">
            Could not load run {id}: {detail.error}
          </p>
        ) : (
          <p role="status">Loading run {id}…</p>
        )}
      </section>
    );
  const { run, members, groups, recentActions } = detail.data;
  if (!run) return <section>{back}</section>;
  const params = (p: Record<string, string>) => new URLSearchParams(p);

  return (
    <article class="run-page" aria-labelledby="run-title">
      {back}
      <header class="view-head">
        <RunStateBadge state={run.state} />
        <h1 id="run-title" class="mono">
          {run.runId}
        </h1>
        <LiveIndicator state={live} />
        <div class="view-head-actions">
          <a class="button" href={formatRoute({ view: "logs", params: params({ run: run.runId }) })}>
            Logs of this run
          </a>
          <a class="button" href={formatRoute({ view: "groups", params: params({ run: run.runId }) })}>
            Groups of this run
          </a>
        </div>
      </header>
      {run.summary && <p class={`view-notice run-summary ${run.stuck + run.lost + run.failed > 0 ? "warn" : ""}`}>{run.summary}</p>}
      {detail.error && (
        <p class="view-notice bad" role="alert">
          {detail.error}
        </p>
      )}
      <section class="panel" aria-labelledby="run-facts-title">
        <h2 id="run-facts-title">Overview</h2>
        <dl class="facts">
          <dt>Members</dt>
          <dd>
            {formatCount(run.members)} ({memberBreakdown(run)})
          </dd>
          <dt>Step</dt>
          <dd>{stepRange(run)}</dd>
          <dt>Started</dt>
          <dd>
            {formatTime(run.startedAt)} (<Ago ts={run.startedAt} now={now} />)
          </dd>
          <dt>Last heartbeat</dt>
          <dd>
            <Ago ts={run.lastHeartbeat} now={now} />
          </dd>
          <dt>State since</dt>
          <dd>{formatTime(run.stateChangedAt)}</dd>
          <dt>Stuck after</dt>
          <dd>{formatDuration(run.stuckAfter)} without a new step</dd>
        </dl>
      </section>
      <section class="panel" aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {members.length < run.members && (
          <p class="muted">
            Showing {formatCount(members.length)} of {formatCount(run.members)} members (those needing attention first).
          </p>
        )}
        <div class="view-table-wrap flat">
          <table class="view-table stack members-table">
            <caption class="visually-hidden">Members of run {run.runId}, those needing attention first</caption>
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Host</th>
                <th scope="col" class="num">
                  Rank
                </th>
                <th scope="col" class="num">
                  PID
                </th>
                <th scope="col">Phase</th>
                <th scope="col" class="num">
                  Step
                </th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <MemberRow key={`${m.host}/${m.rank}/${m.pid}`} member={m} now={now} />
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <div class="run-columns">
        <section class="panel" aria-labelledby="run-groups-title">
          <h2 id="run-groups-title">Error groups</h2>
          {groups.length === 0 ? (
            <p class="muted">No errors reported from this run.</p>
          ) : (
            <ul class="run-groups">
              {groups.map((g) => (
                <li key={String(g.id)}>
                  <SeverityIcon severity={g.severity} size={16} />
                  <span class="visually-hidden">{severityLabel(g.severity)}</span>
                  <a href={`#/groups/${g.id}`}>{g.title || `Group ${g.id}`}</a>
                  <span class="muted">
                    {formatCount(g.eventCount)} event{g.eventCount === 1n ? "" : "s"} · last <Ago ts={g.lastSeen} now={now} />
                  </span>
                  <StatusBadge group={g} />
                </li>
              ))}
            </ul>
          )}
        </section>
        <section class="panel" aria-labelledby="run-actions-title">
          <h2 id="run-actions-title">Recent actions</h2>
          {recentActions.length === 0 ? (
            <p class="muted">No actions recorded for this run.</p>
          ) : (
            <ol class="run-actions">
              {recentActions.map((a, i) => (
                <li key={i}>
                  <Ago ts={a.timestamp} now={now} /> <strong>{a.action}</strong>
                  {a.details && Object.keys(a.details).length > 0 && (
                    <code class="run-action-details">{JSON.stringify(a.details)}</code>
                  )}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
    </article>
  );
}

function MemberRow({ member: m, now }: { member: RunMember; now: number }) {
  const metrics = Object.entries(m.metrics).sort(([a], [b]) => a.localeCompare(b));
  return (
    <tr data-member={`${m.host}/${m.rank}`}>
      <td data-label="State">
        <RunStateBadge state={m.state} />
      </td>
      <td class="mono" data-label="Host">
        {m.host}
      </td>
      <td class="num" data-label="Rank">
        {m.rank >= 0 ? m.rank : "—"}
      </td>
      <td class="num" data-label="PID">
        {m.pid || "—"}
      </td>
      <td data-label="Phase">{runPhaseName(m.phase) || "—"}</td>
      <td class="num" data-label="Step">
        {formatStep(m.step)}
        {m.epoch !== undefined && <div class="cell-meta">epoch {m.epoch.toLocaleString(undefined, { maximumFractionDigits: 2 })}</div>}
      </td>
      <td class="nowrap" data-label="Last heartbeat">
        <Ago ts={m.lastHeartbeat} now={now} />
        {m.stepChangedAt && (
          <div class="cell-meta">
            step moved <Ago ts={m.stepChangedAt} now={now} />
          </div>
        )}
      </td>
      <td data-label="Progress">
        {metrics.length ? (
          <span class="metrics">
            {metrics.map(([name, value]) => (
              <span key={name}>
                {name} <strong>{value.toLocaleString(undefined, { maximumSignificantDigits: 5 })}</strong>
              </span>
            ))}
          </span>
        ) : (
          "—"
        )}
        {m.message && <div class="member-message">{m.message}</div>}
      </td>
    </tr>
  );
}
