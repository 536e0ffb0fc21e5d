// The form of an alert rule, for a new rule (CreateAlertRule) and to edit
// one (UpdateAlertRule with the changed fields in its update mask; the
// trigger cannot change, and the URL and secret — never shown back — are
// kept unless typed again). Fields: name, enabled, trigger (EVENT_RATE:
// threshold, window, per group; RUN_STATE: states), filters (severities,
// types, host, run, component, group), destination (webhook or Slack, URL,
// optional secret) and throttle.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { useId, useState } from "preact/hooks";
import { describeError } from "../../api";
import {
  AlertDestinationKind,
  AlertTrigger,
  RunState,
  type AlertRule,
  type AlertRuleSchema,
  type ErrorType,
  type Severity,
} from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";
import { UNITS, durationSeconds, splitSeconds, unitSeconds } from "../../ui/duration";
import { RUN_STATES, runStateName } from "../../ui/run-state";
import { ERROR_TYPES, SEVERITIES, SeverityIcon, errorTypeLabel, severityLabel, severityName } from "../../ui/severity";
import { TRIGGERS } from "./describe";

interface Draft {
  name: string;
  enabled: boolean;
  trigger: AlertTrigger;
  threshold: string;
  window: string;
  windowUnit: string;
  perGroup: boolean;
  runStates: RunState[];
  severities: Severity[];
  types: ErrorType[];
  host: string;
  run: string;
  component: string;
  group: string;
  kind: AlertDestinationKind;
  url: string;
  secret: string;
  clearSecret: boolean;
  throttle: string;
  throttleUnit: string;
}

type RuleInit = MessageInitShape<typeof AlertRuleSchema>;

const DEFAULT_RUN_STATES = [RunState.STUCK, RunState.LOST, RunState.FAILED];

function draftOf(rule?: AlertRule): Draft {
  const [window, windowUnit] = splitSeconds(durationSeconds(rule?.window) ?? 300);
  const [throttle, throttleUnit] = splitSeconds(rule ? (durationSeconds(rule.throttle) ?? 0) : 600);
  return {
    name: rule?.name ?? "",
    enabled: rule ? !rule.disabled : true,
    trigger: rule?.trigger ?? AlertTrigger.NEW_GROUP,
    threshold: String(rule?.threshold || 100),
    window: String(window),
    windowUnit,
    perGroup: rule ? rule.perGroup : true,
    runStates: rule?.runStates.length ? [...rule.runStates] : DEFAULT_RUN_STATES,
    severities: [...(rule?.filter?.severities ?? [])],
    types: [...(rule?.filter?.errorTypes ?? [])],
    host: rule?.filter?.host ?? "",
    run: rule?.filter?.runId ?? "",
    component: rule?.filter?.component ?? "",
    group: rule?.filter?.groupId ? String(rule.filter.groupId) : "",
    kind: rule?.destinationKind || AlertDestinationKind.WEBHOOK,
    url: "",
    secret: "",
    clearSecret: false,
    throttle: String(throttle),
    throttleUnit,
  };
}

/** The request's rule and, against `before`, the names of the fields that differ. */
function build(draft: Draft, before: Draft | undefined): { rule: RuleInit; changed: string[]; problem?: string } {
  const threshold = Number(draft.threshold);
  const window = Number(draft.window) * unitSeconds(draft.windowUnit);
  const throttle = Number(draft.throttle) * unitSeconds(draft.throttleUnit);
  if (!draft.name.trim()) return { rule: {}, changed: [], problem: "Give the rule a name." };
  if (!before && !draft.url.trim()) return { rule: {}, changed: [], problem: "Give the destination's URL." };
  if (draft.url.trim() && !/^https?:\/\/\S+$/i.test(draft.url.trim()))
    return { rule: {}, changed: [], problem: "The URL must start with http:// or https://." };
  if (draft.trigger === AlertTrigger.EVENT_RATE) {
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > 1_000_000)
      return { rule: {}, changed: [], problem: "The threshold is a whole number from 1 to 1,000,000." };
    if (!(window >= 10 && window <= 86400)) return { rule: {}, changed: [], problem: "The window is from 10 s to 24 h." };
  }
  if (!(throttle >= 0 && throttle <= 7 * 86400)) return { rule: {}, changed: [], problem: "The throttle is from 0 s to 7 days." };
  if (draft.group && !/^\d{1,18}$/.test(draft.group.replace(/^#/, "")))
    return { rule: {}, changed: [], problem: "The group is a group's id (a number)." };
  if (draft.trigger === AlertTrigger.RUN_STATE && !draft.runStates.length)
    return { rule: {}, changed: [], problem: "Pick at least one run state." };

  const seconds = (s: number) => ({ seconds: BigInt(Math.round(s)), nanos: 0 });
  const rule: RuleInit = {
    name: draft.name.trim(),
    trigger: draft.trigger,
    disabled: !draft.enabled,
    filter: {
      severities: draft.severities,
      errorTypes: draft.types,
      host: draft.host.trim(),
      runId: draft.run.trim(),
      component: draft.component.trim(),
      groupId: draft.group ? BigInt(draft.group.replace(/^#/, "")) : 0n,
    },
    threshold: draft.trigger === AlertTrigger.EVENT_RATE ? threshold : 0,
    window: draft.trigger === AlertTrigger.EVENT_RATE ? seconds(window) : undefined,
    perGroup: draft.trigger === AlertTrigger.EVENT_RATE ? draft.perGroup : false,
    runStates: draft.trigger === AlertTrigger.RUN_STATE ? draft.runStates : [],
    throttle: seconds(throttle),
    destinationKind: draft.kind,
    url: draft.url.trim(),
    secret: draft.clearSecret ? "" : draft.secret,
  };
  if (!before) return { rule, changed: [] };

  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const changed: string[] = [];
  if (draft.name.trim() !== before.name) changed.push("name");
  if (draft.enabled !== before.enabled) changed.push("disabled");
  const filterKeys = ["severities", "types", "host", "run", "component", "group"] as const;
  if (filterKeys.some((k) => !same(draft[k], before[k]))) changed.push("filter");
  if (draft.trigger === AlertTrigger.EVENT_RATE) {
    if (draft.threshold !== before.threshold) changed.push("threshold");
    if (draft.window !== before.window || draft.windowUnit !== before.windowUnit) changed.push("window");
    if (draft.perGroup !== before.perGroup) changed.push("per_group");
  }
  if (draft.trigger === AlertTrigger.RUN_STATE && !same([...draft.runStates].sort(), [...before.runStates].sort()))
    changed.push("run_states");
  if (draft.throttle !== before.throttle || draft.throttleUnit !== before.throttleUnit) changed.push("throttle");
  if (draft.kind !== before.kind) changed.push("destination_kind");
  if (draft.url.trim()) changed.push("url");
  if (draft.secret || draft.clearSecret) changed.push("secret");
  return { rule, changed };
}

export function RuleForm({
  rule,
  onSaved,
  onCancel,
}: {
  /** The rule to edit; a new rule when absent. */
  rule?: AlertRule;
  onSaved: (rule: AlertRule, message: string) => void;
  onCancel: () => void;
}) {
  const { client } = useSession();
  const [before] = useState(() => (rule ? draftOf(rule) : undefined));
  const [draft, setDraft] = useState(() => draftOf(rule));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const id = useId();
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const toggle = <T,>(values: T[], value: T) => (values.includes(value) ? values.filter((v) => v !== value) : [...values, value]);
  const text = (key: "name" | "host" | "run" | "component" | "group" | "url" | "secret" | "threshold" | "window" | "throttle") => ({
    id: `${id}-${key}`,
    value: draft[key],
    onInput: (e: Event) => set(key, (e.target as HTMLInputElement).value),
  });

  const submit = async () => {
    const built = build(draft, before);
    if (built.problem) return setError(built.problem);
    setBusy(true);
    setError(undefined);
    try {
      if (rule) {
        if (!built.changed.length) return onCancel();
        const answer = await client.updateAlertRule({
          rule: { ...built.rule, id: rule.id },
          updateMask: { paths: built.changed },
        });
        if (answer.rule) onSaved(answer.rule, `Saved rule “${answer.rule.name}”.`);
      } else {
        const answer = await client.createAlertRule({ rule: built.rule });
        if (answer.rule) onSaved(answer.rule, `Added rule “${answer.rule.name}”. Try it with Send test.`);
      }
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const unitSelect = (key: "windowUnit" | "throttleUnit", label: string) => (
    <>
      <label class="visually-hidden" for={`${id}-${key}`}>
        {label}
      </label>
      <select id={`${id}-${key}`} value={draft[key]} onChange={(e) => set(key, (e.target as HTMLSelectElement).value)}>
        {UNITS.map((u) => (
          <option key={u.unit} value={u.unit}>
            {u.label}
          </option>
        ))}
      </select>
    </>
  );

  return (
    <form
      class="form-grid rule-form"
      aria-label={rule ? `Edit rule ${rule.name}` : "New alert rule"}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div class="form-row">
        <div class="field">
          <label for={`${id}-name`}>Name</label>
          <input {...text("name")} required maxLength={200} autoComplete="off" placeholder="e.g. oom-pager" />
        </div>
        <div class="field">
          <label for={`${id}-trigger`}>Trigger</label>
          <select
            id={`${id}-trigger`}
            value={draft.trigger}
            disabled={Boolean(rule)}
            aria-describedby={`${id}-trigger-hint`}
            onChange={(e) => set("trigger", Number((e.target as HTMLSelectElement).value) as AlertTrigger)}
          >
            {TRIGGERS.map((t) => (
              <option key={t.trigger} value={t.trigger}>
                {t.label}
              </option>
            ))}
          </select>
          <p class="hint" id={`${id}-trigger-hint`}>
            Fires on {TRIGGERS.find((t) => t.trigger === draft.trigger)?.hint}
            {rule ? " (a rule's trigger cannot change)" : ""}.
          </p>
        </div>
      </div>

      {draft.trigger === AlertTrigger.EVENT_RATE && (
        <fieldset>
          <legend>Event rate</legend>
          <div class="inline">
            <label for={`${id}-threshold`}>At least</label>
            <input {...text("threshold")} type="number" min={1} max={1000000} step={1} size={7} />
            <label for={`${id}-window`}>logs within</label>
            <input {...text("window")} type="number" min={1} step={1} size={5} />
            {unitSelect("windowUnit", "Window unit")}
          </div>
          <label class="radio">
            <input type="checkbox" checked={draft.perGroup} onChange={() => set("perGroup", !draft.perGroup)} />
            Count per error group (else all matching logs together)
          </label>
        </fieldset>
      )}
      {draft.trigger === AlertTrigger.RUN_STATE && (
        <fieldset>
          <legend>Run states that fire it</legend>
          <div class="chips">
            {RUN_STATES.map((s) => (
              <label class="chip" key={s}>
                <input type="checkbox" checked={draft.runStates.includes(s)} onChange={() => set("runStates", toggle(draft.runStates, s))} />
                {runStateName(s)}
              </label>
            ))}
          </div>
        </fieldset>
      )}

      <fieldset>
        <legend>About what (filters; empty = everything)</legend>
        {draft.trigger !== AlertTrigger.RUN_STATE && (
          <>
            <p class="hint" id={`${id}-sev-hint`}>
              Severities
            </p>
            <div class="chips" role="group" aria-labelledby={`${id}-sev-hint`}>
              {SEVERITIES.map((s) => (
                <label class={`chip sev-${severityName(s)}`} key={s}>
                  <input type="checkbox" checked={draft.severities.includes(s)} onChange={() => set("severities", toggle(draft.severities, s))} />
                  <SeverityIcon severity={s} size={14} />
                  {severityLabel(s)}
                </label>
              ))}
            </div>
            <p class="hint" id={`${id}-type-hint`}>
              Error types
            </p>
            <div class="chips" role="group" aria-labelledby={`${id}-type-hint`}>
              {ERROR_TYPES.map((t) => (
                <label class="chip" key={t}>
                  <input type="checkbox" checked={draft.types.includes(t)} onChange={() => set("types", toggle(draft.types, t))} />
                  {errorTypeLabel(t)}
                </label>
              ))}
            </div>
          </>
        )}
        <div class="form-row">
          <div class="field">
            <label for={`${id}-host`}>Host</label>
            <input {...text("host")} autoComplete="off" />
          </div>
          <div class="field">
            <label for={`${id}-run`}>Run</label>
            <input {...text("run")} autoComplete="off" />
          </div>
          {draft.trigger !== AlertTrigger.RUN_STATE && (
            <>
              <div class="field">
                <label for={`${id}-component`}>Component</label>
                <input {...text("component")} autoComplete="off" />
              </div>
              <div class="field">
                <label for={`${id}-group`}>Error group id</label>
                <input {...text("group")} inputMode="numeric" autoComplete="off" />
              </div>
            </>
          )}
        </div>
      </fieldset>

      <fieldset>
        <legend>Where alerts go</legend>
        <div class="inline" role="radiogroup" aria-label="Destination kind">
          <label class="radio">
            <input
              type="radio"
              name={`${id}-kind`}
              checked={draft.kind === AlertDestinationKind.WEBHOOK}
              onChange={() => set("kind", AlertDestinationKind.WEBHOOK)}
            />
            Webhook (JSON)
          </label>
          <label class="radio">
            <input
              type="radio"
              name={`${id}-kind`}
              checked={draft.kind === AlertDestinationKind.SLACK}
              onChange={() => set("kind", AlertDestinationKind.SLACK)}
            />
            Slack-compatible incoming webhook
          </label>
        </div>
        <div class="field">
          <label for={`${id}-url`}>URL</label>
          <input
            {...text("url")}
            type="url"
            required={!rule}
            autoComplete="off"
            placeholder={rule ? `${rule.url} (leave empty to keep)` : "https://hooks.example.com/…"}
          />
        </div>
        <div class="field">
          <label for={`${id}-secret`}>Signing secret (optional)</label>
          <input
            {...text("secret")}
            type="password"
            autoComplete="new-password"
            maxLength={256}
            disabled={draft.clearSecret}
            aria-describedby={`${id}-secret-hint`}
            placeholder={rule?.hasSecret ? "set (leave empty to keep)" : ""}
          />
          <p class="hint" id={`${id}-secret-hint`}>
            Signs each alert with an X-Diagd-Signature HMAC-SHA256 header. It is never shown again.
          </p>
          {rule?.hasSecret && (
            <label class="radio">
              <input type="checkbox" checked={draft.clearSecret} onChange={() => set("clearSecret", !draft.clearSecret)} />
              Remove the secret
            </label>
          )}
        </div>
      </fieldset>

      <div class="form-row">
        <div class="field">
          <label for={`${id}-throttle`}>At most one alert per group (or run) every</label>
          <div class="inline">
            <input {...text("throttle")} type="number" min={0} step={1} size={5} />
            {unitSelect("throttleUnit", "Throttle unit")}
          </div>
        </div>
        <label class="radio enabled-field">
          <input type="checkbox" checked={draft.enabled} onChange={() => set("enabled", !draft.enabled)} />
          Enabled
        </label>
      </div>

      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="modal-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Saving…" : rule ? "Save rule" : "Add rule"}
        </button>
      </div>
    </form>
  );
}
