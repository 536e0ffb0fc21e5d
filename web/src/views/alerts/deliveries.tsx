// Alerts and their delivery (ListAlertDeliveries, newest first, in keyset
// pages): when made, state, rule, summary (with its group or run linked),
// destination, and each attempt (when, status code or error, how long);
// filtered by rule and state.
import type { AlertDeliveryState, AlertRule, AlertDelivery } from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";
import { formatDuration } from "../../ui/duration";
import { formatAgo, formatTime, toDate } from "../../ui/format";
import { useInterval, useNow, usePaged } from "../../ui/use-load";
import { DELIVERY_STATES, deliveryStateName, triggerLabel } from "./describe";

const PAGE_SIZE = 50;

export function Deliveries({
  rules,
  ruleId,
  state,
  onFilter,
}: {
  rules: AlertRule[];
  ruleId: string;
  state: AlertDeliveryState;
  onFilter: (ruleId: string, state: AlertDeliveryState) => void;
}) {
  const { client } = useSession();
  const deliveries = usePaged<AlertDelivery>(
    async (token, signal) => {
      const page = await client.listAlertDeliveries({ ruleId, state, pageSize: PAGE_SIZE, pageToken: token }, { signal });
      return { items: page.deliveries, next: page.nextPageToken };
    },
    [ruleId, state],
  );
  const now = useNow(15_000);
  // Pending alerts move on their own: look again while some are shown (one page only, so nothing loaded is lost).
  const pending = deliveries.items.some((d) => deliveryStateName(d.state) === "pending");
  useInterval(deliveries.reload, 10_000, pending && !deliveries.more && !deliveries.loading);

  return (
    <section aria-labelledby="deliveries-title" class="deliveries">
      <div class="view-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <div class="view-head-actions">
          <button type="button" onClick={deliveries.reload} disabled={deliveries.loading}>
            Refresh deliveries
          </button>
        </div>
      </div>
      <form class="view-filters" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="deliveries-rule">Rule</label>
          <select id="deliveries-rule" value={ruleId} onChange={(e) => onFilter((e.target as HTMLSelectElement).value, state)}>
            <option value="">Every rule</option>
            {rules.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
            {ruleId && !rules.some((r) => r.id === ruleId) && <option value={ruleId}>{ruleId}</option>}
          </select>
        </div>
        <div class="field">
          <label for="deliveries-state">State</label>
          <select
            id="deliveries-state"
            value={state}
            onChange={(e) => onFilter(ruleId, Number((e.target as HTMLSelectElement).value) as AlertDeliveryState)}
          >
            <option value={0}>Any</option>
            {DELIVERY_STATES.map((s) => (
              <option key={s} value={s}>
                {deliveryStateName(s)}
              </option>
            ))}
          </select>
        </div>
      </form>
      {deliveries.error && (
        <p class="view-notice bad" role="alert">
          Could not list the deliveries: {deliveries.error}
        </p>
      )}
      <div class="view-table-wrap">
        <table class="view-table stack deliveries-table">
          <caption class="visually-hidden">Alerts and their delivery, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Made</th>
              <th scope="col">State</th>
              <th scope="col">Alert</th>
              <th scope="col">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.items.map((d) => (
              <tr key={d.id}>
                <td class="nowrap" data-label="Made">
                  <time dateTime={toDate(d.createdAt)?.toISOString()} title={formatTime(d.createdAt)}>
                    {formatAgo(d.createdAt, now)}
                  </time>
                </td>
                <td data-label="State">
                  <span class={`state-badge delivery-${deliveryStateName(d.state)}`}>
                    <span class="state-dot" aria-hidden="true" />
                    {deliveryStateName(d.state)}
                  </span>
                  {d.deliveredAt && <div class="cell-meta">{formatTime(d.deliveredAt)}</div>}
                  {d.nextAttemptAt && deliveryStateName(d.state) === "pending" && (
                    <div class="cell-meta">next try {formatTime(d.nextAttemptAt)}</div>
                  )}
                </td>
                <td class="title-cell" data-label="Alert">
                  <span class="delivery-summary">{d.summary}</span>
                  <div class="cell-meta">
                    {d.ruleName || "deleted rule"} · {triggerLabel(d.trigger)} → <span class="mono">{d.destination}</span>
                    {d.groupId > 0n && (
                      <>
                        {" · "}
                        <a href={`#/groups/${d.groupId}`}>group #{String(d.groupId)}</a>
                      </>
                    )}
                    {d.runId && (
                      <>
                        {" · "}
                        <a href={`#/runs/${encodeURIComponent(d.runId)}`}>run {d.runId}</a>
                      </>
                    )}
                  </div>
                </td>
                <td data-label="Attempts">
                  {d.attempts.length === 0 ? (
                    <span class="muted">none yet</span>
                  ) : (
                    <details>
                      <summary>
                        {d.attempts.length} · last: {attemptOutcome(d.attempts[d.attempts.length - 1])}
                      </summary>
                      <ol class="attempts">
                        {d.attempts.map((a, i) => (
                          <li key={i}>
                            {formatTime(a.at)}: {attemptOutcome(a)} ({formatDuration(a.duration)})
                          </li>
                        ))}
                      </ol>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!deliveries.loading && !deliveries.error && deliveries.items.length === 0 && (
          <p class="view-empty">No alerts {ruleId || state ? "match" : "made yet"}.</p>
        )}
        <div class="view-pager">
          {deliveries.loading && deliveries.items.length === 0 && <span role="status">Loading deliveries…</span>}
          {deliveries.more && (
            <button type="button" onClick={deliveries.loadMore} disabled={deliveries.loading}>
              Load more
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

function attemptOutcome(a: { statusCode: number; error: string }): string {
  if (a.error) return a.statusCode ? `${a.statusCode} — ${a.error}` : a.error;
  return `${a.statusCode} OK`;
}
