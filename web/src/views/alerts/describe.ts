// Alert rules and deliveries in words, as `diagd alerts` prints them:
// trigger names, a rule's filters and conditions, destinations, and
// delivery states.
import {
  AlertDeliveryState,
  AlertDestinationKind,
  AlertTrigger,
  type AlertRule,
} from "../../gen/diagnostics/v1/diagnostics_pb";
import { formatDuration } from "../../ui/duration";
import { formatCount } from "../../ui/format";
import { runStateName } from "../../ui/run-state";
import { errorTypeLabel, severityName } from "../../ui/severity";

export const TRIGGERS: readonly { trigger: AlertTrigger; label: string; hint: string }[] = [
  { trigger: AlertTrigger.NEW_GROUP, label: "New error group", hint: "a log whose fingerprint was never seen" },
  { trigger: AlertTrigger.REGRESSION, label: "Regression", hint: "a log in a resolved group (which reopens it)" },
  { trigger: AlertTrigger.CRITICAL_LOG, label: "Critical log", hint: "any CRITICAL log" },
  { trigger: AlertTrigger.EVENT_RATE, label: "Event rate", hint: "at least a number of matching logs within a window" },
  { trigger: AlertTrigger.RUN_STATE, label: "Run state", hint: "a run member becomes stuck, lost or failed (or the states chosen)" },
];

export function triggerLabel(trigger: AlertTrigger): string {
  return TRIGGERS.find((t) => t.trigger === trigger)?.label ?? "Unknown";
}

export function kindLabel(kind: AlertDestinationKind): string {
  return kind === AlertDestinationKind.SLACK ? "Slack" : kind === AlertDestinationKind.WEBHOOK ? "Webhook" : "—";
}

/** "≥ 100 in 5 min per group" / "stuck, lost, failed"; "" for the other triggers. */
export function triggerDetail(rule: AlertRule): string {
  if (rule.trigger === AlertTrigger.EVENT_RATE)
    return `≥ ${formatCount(rule.threshold)} in ${formatDuration(rule.window)}${rule.perGroup ? " per group" : " in all"}`;
  if (rule.trigger === AlertTrigger.RUN_STATE)
    return rule.runStates.length ? rule.runStates.map(runStateName).join(", ") : "stuck, lost, failed";
  return "";
}

/** "severity high, critical · host gpu-node-03"; "everything" when unfiltered. */
export function describeFilter(rule: AlertRule): string {
  const f = rule.filter;
  const parts: string[] = [];
  if (f) {
    if (f.severities.length) parts.push(`severity ${f.severities.map(severityName).join(", ")}`);
    if (f.errorTypes.length) parts.push(`type ${f.errorTypes.map(errorTypeLabel).join(", ")}`);
    if (f.host) parts.push(`host ${f.host}`);
    if (f.runId) parts.push(`run ${f.runId}`);
    if (f.component) parts.push(`component ${f.component}`);
    if (f.groupId) parts.push(`group #${f.groupId}`);
  }
  return parts.length ? parts.join(" · ") : "everything";
}

const DELIVERY_NAMES: Record<number, string> = {
  [AlertDeliveryState.PENDING]: "pending",
  [AlertDeliveryState.DELIVERED]: "delivered",
  [AlertDeliveryState.FAILED]: "failed",
};

export function deliveryStateName(state: AlertDeliveryState): string {
  return DELIVERY_NAMES[state] ?? "unknown";
}

export const DELIVERY_STATES: readonly AlertDeliveryState[] = [
  AlertDeliveryState.PENDING,
  AlertDeliveryState.DELIVERED,
  AlertDeliveryState.FAILED,
];
