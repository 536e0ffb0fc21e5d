// The alert rules (ListAlertRules, oldest first): name, trigger and its
// condition, destination (kind and host; signed or not), filters, throttle,
// enabled. Per rule: an Enabled switch (UpdateAlertRule `disabled`), Edit,
// Send test (TestAlertRule: what the receiver answered), Deliveries (the
// list below, narrowed to the rule) and Delete (asked first).
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../../api";
import type { AlertRule, TestAlertRuleResponse } from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";
import { formatDuration } from "../../ui/duration";
import { ConfirmDialog, Modal } from "../../ui/modal";
import { useLoad } from "../../ui/use-load";
import { describeFilter, kindLabel, triggerDetail, triggerLabel } from "./describe";
import { RuleForm } from "./rule-form";

interface TestResult {
  rule: AlertRule;
  answer?: TestAlertRuleResponse;
  error?: string;
}

export function Rules({
  onShowDeliveries,
  onRulesChanged,
}: {
  onShowDeliveries: (rule: AlertRule) => void;
  onRulesChanged: (rules: AlertRule[]) => void;
}) {
  const { client } = useSession();
  const rules = useLoad(async (signal) => (await client.listAlertRules({}, { signal })).rules, []);
  useEffect(() => {
    if (rules.data) onRulesChanged(rules.data);
  }, [rules.data]);
  const [editing, setEditing] = useState<AlertRule | "new" | null>(null);
  const [deleting, setDeleting] = useState<AlertRule | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string>();
  const [testing, setTesting] = useState<string | null>(null);
  const [test, setTest] = useState<TestResult | null>(null);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string>();
  const list = rules.data ?? [];
  const replace = (rule: AlertRule) =>
    rules.set(list.some((r) => r.id === rule.id) ? list.map((r) => (r.id === rule.id ? rule : r)) : [...list, rule]);

  const setEnabled = async (rule: AlertRule, enabled: boolean) => {
    setError(undefined);
    try {
      const answer = await client.updateAlertRule({ rule: { id: rule.id, disabled: !enabled }, updateMask: { paths: ["disabled"] } });
      if (answer.rule) replace(answer.rule);
      setMessage(`Rule “${rule.name}” ${enabled ? "enabled" : "disabled"}.`);
    } catch (err) {
      setError(`Could not change rule “${rule.name}”: ${describeError(err)}`);
    }
  };

  const sendTest = async (rule: AlertRule) => {
    setTesting(rule.id);
    setTest(null);
    try {
      setTest({ rule, answer: await client.testAlertRule({ id: rule.id }) });
    } catch (err) {
      setTest({ rule, error: describeError(err) });
    } finally {
      setTesting(null);
    }
  };

  const remove = async (rule: AlertRule) => {
    setDeleteBusy(true);
    setDeleteError(undefined);
    try {
      await client.deleteAlertRule({ id: rule.id });
      rules.set(list.filter((r) => r.id !== rule.id));
      setDeleting(null);
      setMessage(`Deleted rule “${rule.name}”; its pending alerts are given up.`);
    } catch (err) {
      setDeleteError(describeError(err));
    } finally {
      setDeleteBusy(false);
    }
  };

  return (
    <section aria-labelledby="rules-title">
      <div class="view-head">
        <h1 id="rules-title">Alert rules</h1>
        <div class="view-head-actions">
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            New rule
          </button>
          <button type="button" onClick={rules.reload} disabled={rules.loading}>
            Refresh
          </button>
        </div>
      </div>
      <p class="view-sub">
        When something happens (a new error group, a regression, a critical log, an event rate, a run stuck, lost or failed),
        diagd posts an alert to a webhook or Slack, at most once per group or run per throttle.
      </p>
      <div role="status" class="status-line">
        {message}
      </div>
      {(error || rules.error) && (
        <p class="view-notice bad" role="alert">
          {error ?? `Could not list the rules: ${rules.error}`}
        </p>
      )}
      {test && <TestOutcome result={test} onClose={() => setTest(null)} />}
      <div class="view-table-wrap">
        <table class="view-table stack rules-table">
          <caption class="visually-hidden">Alert rules, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Trigger</th>
              <th scope="col">Destination</th>
              <th scope="col">Filters</th>
              <th scope="col">Throttle</th>
              <th scope="col">Enabled</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((rule) => (
              <tr key={rule.id} data-rule={rule.name}>
                <td class="title-cell">
                  <strong class="rule-name">{rule.name}</strong>
                  <div class="cell-meta mono">{rule.id}</div>
                </td>
                <td data-label="Trigger">
                  {triggerLabel(rule.trigger)}
                  {triggerDetail(rule) && <div class="cell-meta">{triggerDetail(rule)}</div>}
                </td>
                <td data-label="Destination">
                  {kindLabel(rule.destinationKind)}
                  <div class="cell-meta mono">
                    {rule.url}
                    {rule.hasSecret ? " (signed)" : ""}
                  </div>
                </td>
                <td data-label="Filters">{describeFilter(rule)}</td>
                <td class="nowrap" data-label="Throttle">
                  {rule.throttle && (rule.throttle.seconds > 0n || rule.throttle.nanos > 0) ? formatDuration(rule.throttle) : "none"}
                </td>
                <td data-label="Enabled">
                  <label class="switch">
                    <input
                      type="checkbox"
                      role="switch"
                      checked={!rule.disabled}
                      onChange={(e) => void setEnabled(rule, (e.target as HTMLInputElement).checked)}
                    />
                    <span class="visually-hidden">Rule {rule.name} enabled</span>
                    <span aria-hidden="true">{rule.disabled ? "off" : "on"}</span>
                  </label>
                </td>
                <td>
                  <div class="row-actions">
                    <button type="button" class="small" onClick={() => setEditing(rule)} aria-label={`Edit rule ${rule.name}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="small"
                      onClick={() => void sendTest(rule)}
                      disabled={testing !== null}
                      aria-label={`Send test of rule ${rule.name}`}
                    >
                      {testing === rule.id ? "Sending…" : "Send test"}
                    </button>
                    <button
                      type="button"
                      class="small"
                      onClick={() => onShowDeliveries(rule)}
                      aria-label={`Deliveries of rule ${rule.name}`}
                    >
                      Deliveries
                    </button>
                    <button
                      type="button"
                      class="small danger"
                      onClick={() => {
                        setDeleteError(undefined);
                        setDeleting(rule);
                      }}
                      aria-label={`Delete rule ${rule.name}`}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rules.loading && !rules.data && (
          <p class="view-empty" role="status">
            Loading rules…
          </p>
        )}
        {rules.data?.length === 0 && <p class="view-empty">No alert rules yet. Add one with New rule.</p>}
      </div>
      <Modal
        open={editing !== null}
        title={editing === "new" ? "New alert rule" : `Edit rule “${editing?.name ?? ""}”`}
        onClose={() => setEditing(null)}
        wide
      >
        {editing !== null && (
          <RuleForm
            key={editing === "new" ? "new" : editing.id}
            rule={editing === "new" ? undefined : editing}
            onCancel={() => setEditing(null)}
            onSaved={(rule, text) => {
              replace(rule);
              setEditing(null);
              setMessage(text);
            }}
          />
        )}
      </Modal>
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this rule?"
        confirmLabel="Delete rule"
        busy={deleteBusy}
        error={deleteError}
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(null)}
      >
        <p>
          Rule <strong>{deleting?.name}</strong> stops firing, and its alerts still waiting to be delivered are given up.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function TestOutcome({ result, onClose }: { result: TestResult; onClose: () => void }) {
  const { rule, answer, error } = result;
  const ok = answer && !answer.error && answer.statusCode >= 200 && answer.statusCode < 300;
  return (
    <div class={`view-notice test-outcome ${ok ? "" : "bad"}`} role="status" aria-label={`Test of rule ${rule.name}`}>
      <p>
        <strong>Test of “{rule.name}”: </strong>
        {error
          ? `could not be sent: ${error}`
          : ok
            ? `delivered — the receiver answered ${answer.statusCode}.`
            : `not accepted — ${answer?.statusCode ? `the receiver answered ${answer.statusCode}` : "no answer"}${answer?.error ? `: ${answer.error}` : ""}.`}
      </p>
      {answer?.body && (
        <details>
          <summary>The body that was sent</summary>
          <pre class="block">{prettyJson(answer.body)}</pre>
        </details>
      )}
      <button type="button" class="small" onClick={onClose}>
        Dismiss
      </button>
    </div>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
