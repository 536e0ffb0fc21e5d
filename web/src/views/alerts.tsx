// The Alerts view (#/alerts?rule=<id>&state=pending): alert rules and
// their deliveries, for the admin role only; other tokens are told that
// alert rules need it.
import { useState } from "preact/hooks";
import type { AlertDeliveryState, AlertRule } from "../gen/diagnostics/v1/diagnostics_pb";
import { navigate, withParams, type Route } from "../router";
import { useSession } from "../session";
import "../ui/views.css";
import "./alerts/alerts.css";
import { DELIVERY_STATES, deliveryStateName } from "./alerts/describe";
import { Deliveries } from "./alerts/deliveries";
import { Rules } from "./alerts/rules";

export function AlertsView({ route }: { route: Route }) {
  const session = useSession();
  if (!session.can("ListAlertRules"))
    return (
      <section aria-labelledby="alerts-title">
        <h1 id="alerts-title">Alerts</h1>
        <p class="view-notice warn" role="status">
          Alert rules need the admin role: {session.whyNot("ListAlertRules")} Sign in with an admin token to see, add or test
          them.
        </p>
      </section>
    );
  return <Alerts route={route} />;
}

function Alerts({ route }: { route: Route }) {
  // The deliveries' rule filter names the rules Rules has loaded.
  const [rules, setRules] = useState<AlertRule[]>([]);
  const ruleId = route.params.get("rule") ?? "";
  const state = DELIVERY_STATES.find((s) => deliveryStateName(s) === route.params.get("state")) ?? (0 as AlertDeliveryState);
  const filter = (rule: string, s: AlertDeliveryState) =>
    navigate(withParams(route, { rule, state: s ? deliveryStateName(s) : "" }), { replace: true });
  return (
    <>
      <Rules
        onRulesChanged={setRules}
        onShowDeliveries={(rule) => {
          filter(rule.id, state);
          document.getElementById("deliveries-title")?.scrollIntoView({ block: "start" });
          document.getElementById("deliveries-rule")?.focus();
        }}
      />
      <Deliveries rules={rules} ruleId={ruleId} state={state} onFilter={filter} />
    </>
  );
}
