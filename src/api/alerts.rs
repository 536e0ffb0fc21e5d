//! CreateAlertRule, ListAlertRules, UpdateAlertRule, DeleteAlertRule,
//! TestAlertRule and ListAlertDeliveries: managing alert rules (admin role)
//! and reading what their alerts became. Evaluation and delivery run in
//! `workers::alerts`.

use tonic::{Request, Response};

use super::convert::alerts as wire;
use super::error::{ApiError, FieldError, Limit};
use super::{DiagnosticsApi, page_token, pb};
use crate::domain::alert::{MAX_RULES, sample};
use crate::store::DeliveryFilter;

impl DiagnosticsApi {
    /// Stores a new rule.
    pub(super) async fn create_alert_rule(
        &self,
        request: Request<pb::CreateAlertRuleRequest>,
    ) -> Result<Response<pb::CreateAlertRuleResponse>, ApiError> {
        let rule = wire::new_rule(request.into_inner().rule)?;
        let Some(stored) = self.store.create_alert_rule(&rule, MAX_RULES).await? else {
            return Err(ApiError::LimitExceeded {
                limit: Limit {
                    reason: "ALERT_RULES",
                    value: MAX_RULES as u64,
                    flag: None,
                },
                message: format!(
                    "{MAX_RULES} alert rules exist, the most diagd keeps: delete one first"
                ),
                retry: false,
            });
        };
        Ok(Response::new(pb::CreateAlertRuleResponse {
            rule: Some(wire::rule(stored)),
        }))
    }

    /// Every rule.
    pub(super) async fn list_alert_rules(
        &self,
        _request: Request<pb::ListAlertRulesRequest>,
    ) -> Result<Response<pb::ListAlertRulesResponse>, ApiError> {
        let rules = self.store.list_alert_rules().await?;
        Ok(Response::new(pb::ListAlertRulesResponse {
            rules: rules.into_iter().map(wire::rule).collect(),
        }))
    }

    /// Changes the masked fields of a rule.
    pub(super) async fn update_alert_rule(
        &self,
        request: Request<pb::UpdateAlertRuleRequest>,
    ) -> Result<Response<pb::UpdateAlertRuleResponse>, ApiError> {
        let request = request.into_inner();
        let update = request
            .rule
            .ok_or_else(|| FieldError::new("rule", "required"))?;
        let id = wire::rule_id("rule.id", &update.id)?;
        let paths = wire::update_mask(request.update_mask.as_ref())?;
        match self
            .store
            .update_alert_rule(id, |stored| wire::apply_update(stored, &update, &paths))
            .await?
        {
            None => Err(ApiError::not_found("alert rule", id)),
            Some(Err(e)) => Err(e.into()),
            Some(Ok(rule)) => Ok(Response::new(pb::UpdateAlertRuleResponse {
                rule: Some(wire::rule(rule)),
            })),
        }
    }

    /// Deletes a rule.
    pub(super) async fn delete_alert_rule(
        &self,
        request: Request<pb::DeleteAlertRuleRequest>,
    ) -> Result<Response<pb::DeleteAlertRuleResponse>, ApiError> {
        let id = wire::rule_id("id", &request.into_inner().id)?;
        if !self.store.delete_alert_rule(id).await? {
            return Err(ApiError::not_found("alert rule", id));
        }
        Ok(Response::new(pb::DeleteAlertRuleResponse {}))
    }

    /// Sends a sample alert of a rule now and answers what the receiver
    /// said.
    pub(super) async fn test_alert_rule(
        &self,
        request: Request<pb::TestAlertRuleRequest>,
    ) -> Result<Response<pb::TestAlertRuleResponse>, ApiError> {
        let id = wire::rule_id("id", &request.into_inner().id)?;
        let Some(rule) = self.store.get_alert_rule(id).await? else {
            return Err(ApiError::not_found("alert rule", id));
        };
        let alert = sample(&rule, chrono::Utc::now());
        let answer = self
            .alerts
            .sender
            .send(rule.kind, &rule.url, &rule.secret, &alert.document)
            .await;
        let body = crate::domain::alert::body(rule.kind, &alert.document);
        Ok(Response::new(pb::TestAlertRuleResponse {
            status_code: answer.status.map_or(0, i32::from),
            error: answer.error,
            body: String::from_utf8_lossy(&body).into_owned(),
        }))
    }

    /// A page of alerts, newest first.
    pub(super) async fn list_alert_deliveries(
        &self,
        request: Request<pb::ListAlertDeliveriesRequest>,
    ) -> Result<Response<pb::ListAlertDeliveriesResponse>, ApiError> {
        let request = request.into_inner();
        let filter = DeliveryFilter {
            rule_id: match request.rule_id.as_str() {
                "" => None,
                id => Some(wire::rule_id("rule_id", id)?),
            },
            state: wire::delivery_state(request.state)?,
        };
        let page_size = match request.page_size {
            0 => 50,
            n @ 1..=200 => n as usize,
            n => {
                return Err(
                    FieldError::new("page_size", format!("{n} is outside 1 to 200")).into(),
                );
            }
        };
        let paged = (&filter, page_size);
        let cursor = match request.page_token.as_str() {
            "" => None,
            token => Some(page_token::decode(token, &paged)?),
        };
        let (deliveries, next) = self
            .store
            .list_alert_deliveries(&filter, cursor.as_ref(), page_size)
            .await?;
        Ok(Response::new(pb::ListAlertDeliveriesResponse {
            deliveries: deliveries.into_iter().map(wire::delivery).collect(),
            next_page_token: next
                .map(|c| page_token::encode(c, &paged))
                .unwrap_or_default(),
        }))
    }
}

/// Reads a rules file — JSON as ListAlertRules answers it,
/// `{"rules": [{"name": …, "trigger": "ALERT_TRIGGER_NEW_GROUP", …}]}` —
/// validates every rule as CreateAlertRule does, and applies them: each
/// replaces the stored rule of its name (same id) or is created; rules not
/// in the file are left alone. Returns (created, updated), or what is wrong
/// with the file, naming the rule and field.
pub async fn apply_rules_file(
    store: &crate::store::Store,
    path: &std::path::Path,
) -> Result<(usize, usize), String> {
    use prost_reflect::{DescriptorPool, DynamicMessage};
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let pool = DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the contract's descriptors: {e}"))?;
    let descriptor = pool
        .get_message_by_name("diagnostics.v1.ListAlertRulesResponse")
        .ok_or("the contract lacks ListAlertRulesResponse")?;
    let not_rules = |e: &dyn std::fmt::Display| {
        format!(
            "{}: not a rules file ({{\"rules\": [AlertRule, …]}} in protobuf JSON): {e}",
            path.display()
        )
    };
    let file: pb::ListAlertRulesResponse = DynamicMessage::deserialize(descriptor, json)
        .map_err(|e| not_rules(&e))?
        .transcode_to()
        .map_err(|e| not_rules(&e))?;
    let mut rules = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, rule) in file.rules.into_iter().enumerate() {
        let rule = wire::new_rule(Some(rule)).map_err(|e| {
            let field = e.field.strip_prefix("rule").unwrap_or(&e.field);
            format!("{}: rules[{i}]{field}: {}", path.display(), e.reason)
        })?;
        if !names.insert(rule.name.clone()) {
            return Err(format!(
                "{}: rules[{i}]: the name {:?} is used twice (rules are matched by name)",
                path.display(),
                rule.name
            ));
        }
        rules.push(rule);
    }
    // A transaction that lost a race (a deadlock with the evaluator on a
    // rule's throttle rows) is tried again, a few times.
    let mut tries = 0;
    loop {
        match store.apply_alert_rules(&rules, MAX_RULES).await {
            Err(crate::store::StoreError::Conflict(_)) if tries < 5 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
            }
            applied => return applied.map_err(|e| format!("{}: {e}", path.display())),
        }
    }
}
