//! Alerts in PostgreSQL: the rules; the evaluation that reads what was
//! committed since the evaluator's cursor (logs in (txid, seq) order, run
//! changes in (xid, id) order), matches it against the rules
//! (`domain::alert`) and writes the alerts, throttles, EVENT_RATE counts and
//! the moved cursor in one transaction — by one diagd at a time, the one
//! holding the evaluator's advisory lock; and the outbox (`alert_deliveries`): claiming
//! due alerts with `FOR UPDATE SKIP LOCKED` and a lease, recording each
//! attempt, listing them. Every "now" is the database's.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{
    Store, StoreError,
    runs::{ChangeCursor, changes_after},
    tail::SETTLED,
};
use crate::domain::{
    ErrorType, PageCursor, Severity,
    alert::{
        AlertRule, Candidate, DestinationKind, LogEvent, MAX_ATTEMPTS_KEPT, QUOTED_MESSAGE_BYTES,
        Trigger, candidates, compose,
    },
    run::{RunChange, RunState},
};

const RULE_COLUMNS: &str =
    "id, name, trigger, filter, threshold, window_secs, per_group, run_states,
       throttle_secs, destination_kind, url, secret, enabled, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, rule_id, rule_name, trigger, summary, group_id, run_id,
       destination_kind, url, state, attempts, created_at, next_attempt_at, delivered_at";

/// Run changes one evaluation reads at most.
const CHANGES_PER_EVALUATION: usize = 500;

/// Bytes of alerts one ListAlertDeliveries page holds at most (about).
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

fn row_to_rule(row: &Row) -> Result<AlertRule, StoreError> {
    let trigger: String = row.try_get("trigger")?;
    let kind: String = row.try_get("destination_kind")?;
    let filter: serde_json::Value = row.try_get("filter")?;
    let states: Vec<String> = row.try_get("run_states")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", &trigger))?,
        filter: serde_json::from_value(filter)
            .map_err(|e| StoreError::Corrupt(format!("alert filter: {e}")))?,
        threshold: row
            .try_get::<_, i64>("threshold")?
            .clamp(0, u32::MAX as i64) as u32,
        window: Duration::from_secs_f64(row.try_get::<_, f64>("window_secs")?.max(0.0)),
        per_group: row.try_get("per_group")?,
        run_states: states
            .iter()
            .map(|s| RunState::parse(s).ok_or_else(|| corrupt("run state", s)))
            .collect::<Result<_, _>>()?,
        throttle: Duration::from_secs_f64(row.try_get::<_, f64>("throttle_secs")?.max(0.0)),
        kind: DestinationKind::parse(&kind).ok_or_else(|| corrupt("destination", &kind))?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One attempt to deliver an alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The HTTP status (0: no answer).
    pub status: u16,
    /// What went wrong; empty on success.
    pub error: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// Where an alert's delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for an attempt.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Given up.
    Failed,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// An alert and its delivery, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The alert's id.
    pub id: Uuid,
    /// The rule (gone: `None`).
    pub rule_id: Option<Uuid>,
    /// The rule's name then.
    pub rule_name: String,
    /// The rule's trigger.
    pub trigger: Trigger,
    /// The summary.
    pub summary: String,
    /// Its group.
    pub group_id: Option<i64>,
    /// Its run.
    pub run_id: String,
    /// Where it goes (the full URL; answers redact it).
    pub url: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Its attempts.
    pub attempts: Vec<Attempt>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Next attempt due.
    pub next_attempt_at: DateTime<Utc>,
    /// Accepted.
    pub delivered_at: Option<DateTime<Utc>>,
}

fn row_to_delivery(row: &Row) -> Result<Delivery, StoreError> {
    let trigger: String = row.try_get("trigger")?;
    let state: String = row.try_get("state")?;
    let attempts: serde_json::Value = row.try_get("attempts")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        rule_name: row.try_get("rule_name")?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", &trigger))?,
        summary: row.try_get("summary")?,
        group_id: row.try_get("group_id")?,
        run_id: row.try_get("run_id")?,
        url: row.try_get("url")?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
        attempts: serde_json::from_value(attempts)
            .map_err(|e| StoreError::Corrupt(format!("alert attempts: {e}")))?,
        created_at: row.try_get("created_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// An alert claimed for delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The alert's id.
    pub id: Uuid,
    /// The destination's kind.
    pub kind: DestinationKind,
    /// The destination.
    pub url: String,
    /// The HMAC secret (empty: none).
    pub secret: String,
    /// The alert's document.
    pub document: serde_json::Value,
    /// Attempts including this one.
    pub attempt: u32,
    /// When the alert was made.
    pub created_at: DateTime<Utc>,
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Logs read.
    pub logs: usize,
    /// Run changes read.
    pub changes: usize,
    /// Alerts written to the outbox.
    pub alerts: usize,
    /// Alerts not written because the outbox was full (counted into the
    /// next alert of their key).
    pub dropped: usize,
    /// More was waiting than one evaluation reads.
    pub more: bool,
}

/// Which deliveries ListAlertDeliveries returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    /// One rule's; `None`: all.
    pub rule_id: Option<Uuid>,
    /// In this state; `None`: any.
    pub state: Option<DeliveryState>,
}

fn log_event(row: &Row) -> Result<LogEvent, StoreError> {
    let severity: String = row.try_get("severity")?;
    let error_type: String = row.try_get("error_type")?;
    Ok(LogEvent {
        log_id: row.try_get("id")?,
        received_at: row.try_get("received_at")?,
        severity: Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?,
        error_type: ErrorType::parse(&error_type)
            .ok_or_else(|| corrupt("error type", &error_type))?,
        message: crate::domain::fingerprint::head(
            row.try_get::<_, &str>("message")?,
            QUOTED_MESSAGE_BYTES,
        )
        .to_string(),
        host: row.try_get("source_host")?,
        run_id: row.try_get("source_run_id")?,
        component: row.try_get("source_component")?,
        rank: row.try_get("rank")?,
        group_id: row.try_get("group_id")?,
        group_title: row.try_get("title")?,
        new_group: row
            .try_get::<_, Option<bool>>("new_group")?
            .unwrap_or(false),
        regressed: row
            .try_get::<_, Option<bool>>("regressed")?
            .unwrap_or(false),
        run_members: row
            .try_get::<_, Option<i32>>("members")?
            .map(|m| m.max(0) as u32),
    })
}

/// What an evaluation writes of one rule and key's throttle.
struct ThrottleWrite {
    rule_id: Uuid,
    key: String,
    /// An alert was made now.
    fired: bool,
    /// Events held back since the last alert.
    held_back: i64,
    /// The first of them.
    held_since: Option<DateTime<Utc>>,
    /// The headline and document of the first alert held back.
    held: Option<(String, serde_json::Value)>,
}

/// A rule's stored values, in the column order of `INSERT_RULE` from
/// `$2` on: name, trigger, filter, threshold, window, per_group,
/// run_states, throttle, destination kind, url, secret, enabled.
struct RuleValues<'a> {
    rule: &'a AlertRule,
    filter: serde_json::Value,
    states: Vec<&'static str>,
    trigger: &'static str,
    kind: &'static str,
    threshold: i64,
    window: f64,
    throttle: f64,
}

impl<'a> RuleValues<'a> {
    fn new(rule: &'a AlertRule) -> Result<Self, StoreError> {
        Ok(RuleValues {
            rule,
            filter: serde_json::to_value(&rule.filter)
                .map_err(|e| StoreError::Corrupt(format!("alert filter: {e}")))?,
            states: rule.run_states.iter().map(|s| s.as_str()).collect(),
            trigger: rule.trigger.as_str(),
            kind: rule.kind.as_str(),
            threshold: rule.threshold as i64,
            window: rule.window.as_secs_f64(),
            throttle: rule.throttle.as_secs_f64(),
        })
    }

    /// `$1` (the id) and the values.
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 13] {
        [
            &self.rule.id,
            &self.rule.name,
            &self.trigger,
            &self.filter,
            &self.threshold,
            &self.window,
            &self.rule.per_group,
            &self.states,
            &self.throttle,
            &self.kind,
            &self.rule.url,
            &self.rule.secret,
            &self.rule.enabled,
        ]
    }
}

/// Writes a rule: `$1` id, then the values of [`RuleValues`]; `$14` the
/// most rules there may be (a new one is not written beyond).
const INSERT_RULE: &str =
    "INSERT INTO alert_rules (id, name, trigger, filter, threshold, window_secs,
        per_group, run_states, throttle_secs, destination_kind, url, secret, enabled)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
     WHERE (SELECT count(*) FROM alert_rules) < $14
     ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, trigger = EXCLUDED.trigger, filter = EXCLUDED.filter,
        threshold = EXCLUDED.threshold, window_secs = EXCLUDED.window_secs,
        per_group = EXCLUDED.per_group, run_states = EXCLUDED.run_states,
        throttle_secs = EXCLUDED.throttle_secs, destination_kind = EXCLUDED.destination_kind,
        url = EXCLUDED.url, secret = EXCLUDED.secret, enabled = EXCLUDED.enabled,
        updated_at = now()";

/// The alert evaluator's lock: one replica evaluates at a time ("alrteval"
/// in ASCII).
const EVALUATOR_LOCK: i64 = 0x616c_7274_6576_616c;

/// Held-back alerts one evaluation releases at most.
const RELEASE_BATCH: i64 = 100;

/// Rules files of replicas starting together are applied one at a time
/// ("alrtfile" in ASCII).
const RULES_FILE_LOCK: i64 = 0x616c_7274_6669_6c65;

/// Which logs the enabled rules may want, as SQL parameters.
struct Prefilter {
    /// Every log (an EVENT_RATE rule without a severity filter).
    all: bool,
    /// Logs of these severities (CRITICAL_LOG rules, EVENT_RATE filters).
    severities: Vec<String>,
    /// Logs whose transaction made or reopened their group.
    group_events: bool,
}

impl Prefilter {
    fn of(rules: &[AlertRule]) -> Prefilter {
        let mut prefilter = Prefilter {
            all: false,
            severities: Vec::new(),
            group_events: false,
        };
        for rule in rules {
            match rule.trigger {
                Trigger::NewGroup | Trigger::Regression => prefilter.group_events = true,
                Trigger::CriticalLog => prefilter
                    .severities
                    .push(Severity::Critical.as_str().to_string()),
                Trigger::EventRate if rule.filter.severities.is_empty() => prefilter.all = true,
                Trigger::EventRate => prefilter
                    .severities
                    .extend(rule.filter.severities.iter().cloned()),
                Trigger::RunState => {}
            }
        }
        prefilter
    }
}

/// The throttle state of one rule and key.
struct Throttle {
    last_alert_at: DateTime<Utc>,
    held_back: i64,
    held_since: Option<DateTime<Utc>>,
}

/// Alerts waiting for delivery, per rule.
async fn pending_by_rule(
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<HashMap<Uuid, i64>, StoreError> {
    let mut pending = HashMap::new();
    for row in tx
        .query(
            "SELECT rule_id, count(*) FROM alert_deliveries
             WHERE state = 'pending' AND rule_id IS NOT NULL GROUP BY rule_id",
            &[],
        )
        .await?
    {
        pending.insert(row.try_get(0)?, row.try_get(1)?);
    }
    Ok(pending)
}

/// Releases alerts held back whose throttle has run out (when their rule
/// has room in the outbox): a key that gets no event again would otherwise
/// keep them for good (a new group, a member lost). Returns how many.
async fn release_held(
    tx: &deadpool_postgres::Transaction<'_>,
    max_pending: i64,
    pending: &mut HashMap<Uuid, i64>,
) -> Result<usize, StoreError> {
    let rows = tx
        .query(
            "SELECT t.rule_id, t.key, t.held_back, t.held_since, t.held_headline, t.held_document,
                    r.name, r.trigger, r.destination_kind, r.url, r.secret, now()
             FROM alert_throttles t JOIN alert_rules r ON r.id = t.rule_id
             WHERE t.held_back > 0 AND t.held_document IS NOT NULL AND r.enabled
               AND t.last_alert_at <= now() - make_interval(secs => r.throttle_secs)
             ORDER BY t.rule_id, t.key
             LIMIT $1
             FOR UPDATE OF t",
            &[&RELEASE_BATCH],
        )
        .await?;
    let mut released = 0;
    for row in &rows {
        let rule_id: Uuid = row.try_get(0)?;
        let waiting = pending.entry(rule_id).or_insert(0);
        if *waiting >= max_pending {
            continue;
        }
        *waiting += 1;
        let key: String = row.try_get(1)?;
        let events: i64 = row.try_get(2)?;
        let since: Option<DateTime<Utc>> = row.try_get(3)?;
        let headline: String = row.try_get::<_, Option<String>>(4)?.unwrap_or_default();
        let document: serde_json::Value = row.try_get(5)?;
        let trigger_name: String = row.try_get(7)?;
        let trigger =
            Trigger::parse(&trigger_name).ok_or_else(|| corrupt("trigger", &trigger_name))?;
        let now: DateTime<Utc> = row.try_get(11)?;
        let span = since
            .map(|s| now.signed_duration_since(s).to_std().unwrap_or_default())
            .unwrap_or_default();
        let (id, summary, document) = crate::domain::alert::release(
            trigger,
            &headline,
            &document,
            events.max(0) as u64,
            span,
            now,
        );
        let name: String = row.try_get(6)?;
        let kind: String = row.try_get(8)?;
        let url: String = row.try_get(9)?;
        let secret: String = row.try_get(10)?;
        tx.execute(
            "INSERT INTO alert_deliveries (id, rule_id, rule_name, trigger, summary, group_id,
                    run_id, destination_kind, url, secret, document)
             VALUES ($1, $2, $3, $4, $5, ($6::jsonb -> 'group' ->> 'id')::bigint,
                     coalesce($6::jsonb -> 'run' ->> 'id', $6::jsonb -> 'log' ->> 'run_id', ''),
                     $7, $8, $9, $6)",
            &[
                &id,
                &rule_id,
                &name,
                &trigger_name,
                &summary,
                &document,
                &kind,
                &url,
                &secret,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE alert_throttles SET last_alert_at = now(), held_back = 0, held_since = NULL,
                    held_headline = NULL, held_document = NULL
             WHERE rule_id = $1 AND key = $2",
            &[&rule_id, &key],
        )
        .await?;
        released += 1;
    }
    Ok(released)
}

impl Store {
    /// Stores a new rule, unless `max` rules exist already (`None`).
    pub async fn create_alert_rule(
        &self,
        rule: &AlertRule,
        max: usize,
    ) -> Result<Option<AlertRule>, StoreError> {
        let client = self.client().await?;
        let values = RuleValues::new(rule)?;
        let mut params = values.params().to_vec();
        let max = max as i64;
        params.push(&max);
        let row = client
            .query_opt(&format!("{INSERT_RULE} RETURNING {RULE_COLUMNS}"), &params)
            .await?;
        row.as_ref().map(row_to_rule).transpose()
    }

    /// Applies the rules of a rules file: each replaces the rule of its name
    /// (keeping that rule's id and alerts; its throttles and counts start
    /// again when its trigger changed) or is created. Returns (created,
    /// updated).
    pub async fn apply_alert_rules(
        &self,
        rules: &[AlertRule],
        max: usize,
    ) -> Result<(usize, usize), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&RULES_FILE_LOCK])
            .await?;
        let (mut created, mut updated) = (0, 0);
        for rule in rules {
            let existing = tx
                .query_opt(
                    "SELECT id, trigger, secret FROM alert_rules WHERE name = $1
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE",
                    &[&rule.name],
                )
                .await?;
            let mut rule = rule.clone();
            if let Some(row) = &existing {
                rule.id = row.try_get(0)?;
                // A file without a secret keeps the one set through the
                // API (files get shared; secrets should not).
                if rule.secret.is_empty() {
                    rule.secret = row.try_get(2)?;
                }
                let trigger: String = row.try_get(1)?;
                if trigger != rule.trigger.as_str() {
                    tx.execute(
                        "DELETE FROM alert_throttles WHERE rule_id = $1",
                        &[&rule.id],
                    )
                    .await?;
                    tx.execute("DELETE FROM alert_counts WHERE rule_id = $1", &[&rule.id])
                        .await?;
                }
            }
            let values = RuleValues::new(&rule)?;
            let mut params = values.params().to_vec();
            // The limit counts only for a new rule.
            let max = if existing.is_some() {
                i64::MAX
            } else {
                max as i64
            };
            params.push(&max);
            if tx.execute(INSERT_RULE, &params).await? == 0 {
                return Err(StoreError::Config(format!(
                    "alert rule {:?}: {max} rules exist already",
                    rule.name
                )));
            }
            if existing.is_some() {
                updated += 1;
            } else {
                created += 1;
            }
        }
        tx.commit().await?;
        Ok((created, updated))
    }

    /// Every rule, oldest first.
    pub async fn list_alert_rules(&self) -> Result<Vec<AlertRule>, StoreError> {
        let client = self.reader().await?;
        let rows = client
            .query(
                &format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY created_at, id"),
                &[],
            )
            .await?;
        client.finish();
        rows.iter().map(row_to_rule).collect()
    }

    /// Rule `id`, or `None`.
    pub async fn get_alert_rule(&self, id: Uuid) -> Result<Option<AlertRule>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(row_to_rule).transpose()
    }

    /// Changes rule `id` to what `change` makes of it (read and written in
    /// one transaction, the row locked); `Ok(None)` when there is no such
    /// rule, `Err(Ok(e))`-style failures of `change` are returned as its
    /// error.
    pub async fn update_alert_rule<E>(
        &self,
        id: Uuid,
        change: impl FnOnce(AlertRule) -> Result<AlertRule, E>,
    ) -> Result<Option<Result<AlertRule, E>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                &format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let rule = match change(row_to_rule(&row)?) {
            Ok(rule) => rule,
            Err(e) => return Ok(Some(Err(e))),
        };
        let values = RuleValues::new(&rule)?;
        let mut params = values.params().to_vec();
        let max = i64::MAX;
        params.push(&max);
        let row = tx
            .query_one(&format!("{INSERT_RULE} RETURNING {RULE_COLUMNS}"), &params)
            .await?;
        let updated = row_to_rule(&row)?;
        tx.commit().await?;
        Ok(Some(Ok(updated)))
    }

    /// Deletes rule `id` and gives up its pending alerts; whether it
    /// existed.
    pub async fn delete_alert_rule(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let attempt = serde_json::to_value(Attempt {
            at: Utc::now(),
            status: 0,
            error: "the rule was deleted".to_string(),
            millis: 0,
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "UPDATE alert_deliveries SET state = 'failed', claimed_until = NULL,
                    attempts = attempts || jsonb_build_array($2::jsonb)
             WHERE rule_id = $1 AND state = 'pending'",
            &[&id, &attempt],
        )
        .await?;
        let deleted = tx
            .execute("DELETE FROM alert_rules WHERE id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// One evaluation: when this diagd gets the evaluator's cursor (another
    /// holding it: `None`), reads the logs (at most `max_logs`) and run
    /// changes committed after it, matches them against the enabled rules,
    /// and writes the alerts (while fewer than `max_pending` wait), the
    /// throttles and counts, and the cursor after what was read — all in
    /// one transaction.
    pub async fn evaluate_alerts(
        &self,
        max_logs: usize,
        max_pending: i64,
    ) -> Result<Option<Evaluation>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One evaluator at a time: an advisory lock (which, unlike a row
        // lock, gives this transaction no id until it writes, so it holds
        // back nobody's view of what has settled while it reads).
        let leader: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&EVALUATOR_LOCK])
            .await?
            .try_get(0)?;
        if !leader {
            return Ok(None);
        }
        let cursor = tx
            .query_one(
                "SELECT log_txid, log_seq, change_xid::text, change_id FROM alert_cursor",
                &[],
            )
            .await?;
        let (mut log_txid, mut log_seq): (i64, i64) = (cursor.try_get(0)?, cursor.try_get(1)?);
        let mut changes_cursor = ChangeCursor {
            xid: cursor.try_get(2)?,
            id: cursor.try_get(3)?,
        };
        let rules: Vec<AlertRule> = tx
            .query(
                &format!(
                    "SELECT {RULE_COLUMNS} FROM alert_rules WHERE enabled ORDER BY created_at, id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(row_to_rule)
            .collect::<Result<_, _>>()?;
        let wants_logs = rules.iter().any(|r| r.trigger != Trigger::RunState);
        let wants_changes = rules.iter().any(|r| r.trigger == Trigger::RunState);
        let mut evaluation = Evaluation::default();

        // Logs are read only as far as what has settled (every transaction
        // older than it has ended), and only those some rule may want: the
        // CRITICAL ones, those whose transaction made or reopened their
        // group, and all (or those of some severities) for EVENT_RATE rules.
        // The cursor then moves past what was scanned.
        let settled_row = tx
            .query_one(&format!("SELECT {SETTLED}, now()"), &[])
            .await?;
        let settled: i64 = settled_row.try_get(0)?;
        let now: DateTime<Utc> = settled_row.try_get(1)?;
        let logs: Vec<LogEvent> = if wants_logs {
            let prefilter = Prefilter::of(&rules);
            let rows = tx
                .query(
                    "SELECT l.txid, l.seq, l.id, l.received_at, l.severity, l.error_type,
                            left(l.message, $4) AS message, l.source_host, l.source_run_id,
                            l.source_component,
                            coalesce(l.source_labels ->> 'rank', '') AS rank, l.group_id,
                            coalesce(g.title, '') AS title,
                            g.created_txid = l.txid AS new_group,
                            g.regressed_txid = l.txid AS regressed,
                            r.members
                     FROM logs l
                     LEFT JOIN error_groups g ON g.id = l.group_id
                     LEFT JOIN runs r ON l.source_run_id <> '' AND r.run_id = l.source_run_id
                     WHERE (l.txid, l.seq) > ($1, $2) AND l.txid < $5
                       AND ($6 OR l.severity = ANY($7)
                            OR ($8 AND (g.created_txid = l.txid OR g.regressed_txid = l.txid)))
                     ORDER BY l.txid, l.seq LIMIT $3",
                    &[
                        &log_txid,
                        &log_seq,
                        &(max_logs as i64),
                        &(QUOTED_MESSAGE_BYTES as i32),
                        &settled,
                        &prefilter.all,
                        &prefilter.severities,
                        &prefilter.group_events,
                    ],
                )
                .await?;
            if rows.len() == max_logs {
                evaluation.more = true;
                let last = rows.last().expect("a full page has a last row");
                log_txid = last.try_get("txid")?;
                log_seq = last.try_get("seq")?;
            }
            rows.iter().map(log_event).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        // Everything below `settled` was scanned unless a page was full.
        if !evaluation.more && (settled, 0) > (log_txid, log_seq) {
            (log_txid, log_seq) = (settled, 0);
        }
        let changes: Vec<RunChange> = if wants_changes {
            let (changes, next) =
                changes_after(&tx, &changes_cursor, CHANGES_PER_EVALUATION).await?;
            changes_cursor = next;
            evaluation.more |= changes.len() == CHANGES_PER_EVALUATION;
            changes
        } else {
            let settled: String = tx
                .query_one(
                    "SELECT greatest(pg_snapshot_xmin(pg_current_snapshot()), $1::text::xid8)::text",
                    &[&changes_cursor.xid],
                )
                .await?
                .try_get(0)?;
            if settled != changes_cursor.xid {
                changes_cursor = ChangeCursor {
                    xid: settled,
                    id: 0,
                };
            }
            Vec::new()
        };
        evaluation.logs = logs.len();
        evaluation.changes = changes.len();
        let found = candidates(&rules, &logs, &changes, now);
        let mut pending = pending_by_rule(&tx).await?;
        if !found.is_empty() {
            let (alerts, dropped) = self
                .decide(&tx, &rules, &found, now, max_pending, &mut pending)
                .await?;
            evaluation.alerts = alerts;
            evaluation.dropped = dropped;
        }
        if !rules.is_empty() {
            evaluation.alerts += release_held(&tx, max_pending, &mut pending).await?;
        }
        tx.execute(
            "UPDATE alert_cursor SET log_txid = $1, log_seq = $2, change_xid = $3::text::xid8,
                    change_id = $4",
            &[&log_txid, &log_seq, &changes_cursor.xid, &changes_cursor.id],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(evaluation))
    }

    /// Decides which candidates fire (EVENT_RATE counts reached, throttles
    /// passed, room in the outbox) and writes their alerts and the
    /// throttles. Returns (alerts written, alerts dropped).
    async fn decide(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        rules: &[AlertRule],
        found: &[Candidate],
        now: DateTime<Utc>,
        max_pending: i64,
        pending: &mut HashMap<Uuid, i64>,
    ) -> Result<(usize, usize), StoreError> {
        // EVENT_RATE: count this evaluation's events into the tenth of the
        // window they fall in, then read the window's sum.
        let mut window_sums: HashMap<usize, i64> = HashMap::new();
        for (i, c) in found.iter().enumerate() {
            let rule = &rules[c.rule];
            if rule.trigger != Trigger::EventRate {
                continue;
            }
            let window = rule.window.as_secs_f64().max(1.0);
            let sum: i64 = tx
                .query_one(
                    "WITH counted AS (
                        INSERT INTO alert_counts AS a (rule_id, key, bucket_start, events)
                        VALUES ($1, $2,
                                to_timestamp(floor(extract(epoch FROM now())::float8 / ($4::float8 / 10))
                                             * ($4::float8 / 10)), $3)
                        ON CONFLICT (rule_id, key, bucket_start)
                        DO UPDATE SET events = a.events + EXCLUDED.events
                        RETURNING bucket_start, events
                     )
                     SELECT ((SELECT coalesce(sum(events), 0) FROM alert_counts
                             WHERE rule_id = $1 AND key = $2
                               AND bucket_start > now() - make_interval(secs => $4::float8)
                               AND bucket_start <> (SELECT bucket_start FROM counted))
                            + (SELECT events FROM counted))::bigint",
                    &[&rule.id, &c.key, &(c.events as i64), &window],
                )
                .await?
                .try_get::<_, Option<i64>>(0)?
                .unwrap_or(0);
            window_sums.insert(i, sum);
        }
        let rule_ids: Vec<Uuid> = found.iter().map(|c| rules[c.rule].id).collect();
        let keys: Vec<&str> = found.iter().map(|c| c.key.as_str()).collect();
        let mut throttles: HashMap<(Uuid, String), Throttle> = HashMap::new();
        for row in tx
            .query(
                "SELECT t.rule_id, t.key, t.last_alert_at, t.held_back, t.held_since
                 FROM alert_throttles t
                 JOIN unnest($1::uuid[], $2::text[]) AS k(rule_id, key)
                   ON t.rule_id = k.rule_id AND t.key = k.key
                 ORDER BY t.rule_id, t.key
                 FOR UPDATE OF t",
                &[&rule_ids, &keys],
            )
            .await?
        {
            throttles.insert(
                (row.try_get(0)?, row.try_get(1)?),
                Throttle {
                    last_alert_at: row.try_get(2)?,
                    held_back: row.try_get(3)?,
                    held_since: row.try_get(4)?,
                },
            );
        }
        let mut dropped = 0;
        let mut alerts = Vec::new();
        let mut writes: Vec<ThrottleWrite> = Vec::new();
        for (i, c) in found.iter().enumerate() {
            let rule = &rules[c.rule];
            let first_at = c
                .log
                .as_ref()
                .map(|l| l.received_at)
                .or(c.change.as_ref().map(|ch| ch.changed_at))
                .unwrap_or(now);
            let throttle = throttles.get(&(rule.id, c.key.clone()));
            let (held_back, held_since) = throttle
                .map(|t| (t.held_back, t.held_since))
                .unwrap_or((0, None));
            // The first event this alert (or the held one) covers.
            let since = held_since.unwrap_or(first_at).min(first_at);
            if rule.trigger == Trigger::EventRate
                && window_sums.get(&i).copied().unwrap_or(0) < rule.threshold as i64
            {
                continue;
            }
            let throttled = throttle.is_some_and(|t| {
                now.signed_duration_since(t.last_alert_at)
                    .to_std()
                    .unwrap_or_default()
                    < rule.throttle
            });
            let waiting = pending.entry(rule.id).or_insert(0);
            let full = *waiting >= max_pending;
            if throttled || full {
                if !throttled {
                    dropped += 1;
                }
                // Held back: counted into the next alert of this key, or
                // released as soon as the throttle has run out and there
                // is room (`release_held`), with the first held alert's
                // words.
                let first = compose(rule, c, c.events, Duration::ZERO, now);
                writes.push(ThrottleWrite {
                    rule_id: rule.id,
                    key: c.key.clone(),
                    fired: false,
                    held_back: held_back + c.events as i64,
                    held_since: Some(since),
                    held: Some((first.headline, first.document)),
                });
                continue;
            }
            *waiting += 1;
            let (events, span) = if rule.trigger == Trigger::EventRate {
                (
                    window_sums.get(&i).copied().unwrap_or(0).max(0) as u64,
                    rule.window,
                )
            } else {
                (
                    c.events + held_back.max(0) as u64,
                    now.signed_duration_since(since)
                        .to_std()
                        .unwrap_or_default(),
                )
            };
            alerts.push((rule, compose(rule, c, events, span, now)));
            writes.push(ThrottleWrite {
                rule_id: rule.id,
                key: c.key.clone(),
                fired: true,
                held_back: 0,
                held_since: None,
                held: None,
            });
        }
        if !alerts.is_empty() {
            let ids: Vec<Uuid> = alerts.iter().map(|(_, a)| a.id).collect();
            let rule_ids: Vec<Uuid> = alerts.iter().map(|(r, _)| r.id).collect();
            let names: Vec<&str> = alerts.iter().map(|(r, _)| r.name.as_str()).collect();
            let triggers: Vec<&str> = alerts.iter().map(|(r, _)| r.trigger.as_str()).collect();
            let summaries: Vec<&str> = alerts.iter().map(|(_, a)| a.summary.as_str()).collect();
            let groups: Vec<Option<i64>> = alerts.iter().map(|(_, a)| a.group_id).collect();
            let runs: Vec<&str> = alerts.iter().map(|(_, a)| a.run_id.as_str()).collect();
            let kinds: Vec<&str> = alerts.iter().map(|(r, _)| r.kind.as_str()).collect();
            let urls: Vec<&str> = alerts.iter().map(|(r, _)| r.url.as_str()).collect();
            let secrets: Vec<&str> = alerts.iter().map(|(r, _)| r.secret.as_str()).collect();
            let documents: Vec<serde_json::Value> =
                alerts.iter().map(|(_, a)| a.document.clone()).collect();
            tx.execute(
                "INSERT INTO alert_deliveries (id, rule_id, rule_name, trigger, summary, group_id,
                        run_id, destination_kind, url, secret, document)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                      $6::bigint[], $7::text[], $8::text[], $9::text[],
                                      $10::text[], $11::jsonb[])",
                &[
                    &ids, &rule_ids, &names, &triggers, &summaries, &groups, &runs, &kinds, &urls,
                    &secrets, &documents,
                ],
            )
            .await?;
        }
        if !writes.is_empty() {
            writes.sort_by(|a, b| (a.rule_id, &a.key).cmp(&(b.rule_id, &b.key)));
            let rule_ids: Vec<Uuid> = writes.iter().map(|w| w.rule_id).collect();
            let keys: Vec<&str> = writes.iter().map(|w| w.key.as_str()).collect();
            let fired: Vec<bool> = writes.iter().map(|w| w.fired).collect();
            let held: Vec<i64> = writes.iter().map(|w| w.held_back).collect();
            let since: Vec<Option<DateTime<Utc>>> = writes.iter().map(|w| w.held_since).collect();
            let headlines: Vec<Option<&str>> = writes
                .iter()
                .map(|w| w.held.as_ref().map(|(h, _)| h.as_str()))
                .collect();
            let documents: Vec<Option<&serde_json::Value>> = writes
                .iter()
                .map(|w| w.held.as_ref().map(|(_, d)| d))
                .collect();
            // A key held back before it ever fired starts its throttle at
            // the epoch (so it is released at the next chance). The first
            // held alert's words are kept until it is released.
            tx.execute(
                "INSERT INTO alert_throttles AS t (rule_id, key, last_alert_at, held_back, held_since,
                                                   held_headline, held_document)
                 SELECT rule_id, key, CASE WHEN fired THEN now() ELSE 'epoch'::timestamptz END,
                        held, since, headline, document
                 FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::bigint[], $5::timestamptz[],
                             $6::text[], $7::jsonb[])
                      AS w(rule_id, key, fired, held, since, headline, document)
                 ON CONFLICT (rule_id, key) DO UPDATE SET
                    last_alert_at = CASE WHEN EXCLUDED.last_alert_at = 'epoch'::timestamptz
                                         THEN t.last_alert_at ELSE EXCLUDED.last_alert_at END,
                    held_back = EXCLUDED.held_back, held_since = EXCLUDED.held_since,
                    held_headline = CASE WHEN EXCLUDED.held_back = 0 THEN NULL
                                         ELSE coalesce(t.held_headline, EXCLUDED.held_headline) END,
                    held_document = CASE WHEN EXCLUDED.held_back = 0 THEN NULL
                                         ELSE coalesce(t.held_document, EXCLUDED.held_document) END",
                &[&rule_ids, &keys, &fired, &held, &since, &headlines, &documents],
            )
            .await?;
        }
        Ok((alerts.len(), dropped))
    }

    /// Claims up to `limit` due alerts for `lease` (another diagd skips
    /// them meanwhile), counting the attempt about to be made.
    pub async fn claim_alerts(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE alert_deliveries d
                 SET claimed_until = now() + make_interval(secs => $2),
                     attempt_count = d.attempt_count + 1
                 FROM (SELECT id FROM alert_deliveries
                       WHERE state = 'pending' AND next_attempt_at <= now()
                         AND (claimed_until IS NULL OR claimed_until < now())
                       ORDER BY next_attempt_at
                       LIMIT $1
                       FOR UPDATE SKIP LOCKED) due
                 WHERE d.id = due.id
                 -- The rule's destination as it is now (a URL fixed or a secret
                 -- rotated applies to alerts still waiting), else the alert's.
                 RETURNING d.id,
                           coalesce((SELECT r.destination_kind FROM alert_rules r
                                     WHERE r.id = d.rule_id), d.destination_kind),
                           coalesce((SELECT r.url FROM alert_rules r WHERE r.id = d.rule_id), d.url),
                           coalesce((SELECT r.secret FROM alert_rules r WHERE r.id = d.rule_id),
                                    d.secret),
                           d.document, d.attempt_count, d.created_at",
                &[&(limit as i64), &lease.as_secs_f64()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get(1)?;
                Ok(Claimed {
                    id: row.try_get(0)?,
                    kind: DestinationKind::parse(&kind)
                        .ok_or_else(|| corrupt("destination", &kind))?,
                    url: row.try_get(2)?,
                    secret: row.try_get(3)?,
                    document: row.try_get(4)?,
                    attempt: row.try_get::<_, i32>(5)?.max(0) as u32,
                    created_at: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records attempt number `claimed_attempt` at alert `id` and where its
    /// delivery is now: delivered, failed, or pending again after
    /// `retry_in` — only while that claim is the latest (an attempt whose
    /// lease ran out and that was claimed again records nothing). Whether
    /// it was recorded.
    pub async fn record_attempt(
        &self,
        id: Uuid,
        claimed_attempt: u32,
        attempt: &Attempt,
        state: DeliveryState,
        retry_in: Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let attempt =
            serde_json::to_value(attempt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let recorded = client
            .execute(
                "UPDATE alert_deliveries SET
                    state = $2,
                    -- A finished alert needs its secret no more.
                    secret = CASE WHEN $2 = 'pending' THEN secret ELSE '' END,
                    attempts = CASE WHEN jsonb_array_length(attempts) >= $5
                                    THEN (attempts - ($5 - 1)) ELSE attempts END
                               || jsonb_build_array($3::jsonb),
                    next_attempt_at = now() + make_interval(secs => $4),
                    claimed_until = NULL,
                    delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
                 WHERE id = $1 AND state = 'pending' AND attempt_count = $6",
                &[
                    &id,
                    &state.as_str(),
                    &attempt,
                    &retry_in.as_secs_f64(),
                    &(MAX_ATTEMPTS_KEPT as i32),
                    &(claimed_attempt as i32),
                ],
            )
            .await?;
        Ok(recorded == 1)
    }

    /// A page of alerts, newest first, after `cursor`; the next page's
    /// cursor when there is one.
    pub async fn list_alert_deliveries(
        &self,
        filter: &DeliveryFilter,
        cursor: Option<&PageCursor>,
        page_size: usize,
    ) -> Result<(Vec<Delivery>, Option<PageCursor>), StoreError> {
        let client = self.reader().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries
                     WHERE ($1::uuid IS NULL OR rule_id = $1)
                       AND ($2::text IS NULL OR state = $2)
                       AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
                     ORDER BY created_at DESC, id DESC
                     LIMIT $5"
                ),
                &[
                    &filter.rule_id,
                    &filter.state.map(DeliveryState::as_str),
                    &cursor.map(|c| c.occurred_at),
                    &cursor.map(|c| c.id),
                    &(page_size as i64 + 1),
                ],
            )
            .await?;
        client.finish();
        let mut deliveries = Vec::new();
        let mut bytes = 0;
        let mut full = rows.len() > page_size;
        for row in rows.iter().take(page_size) {
            let delivery = row_to_delivery(row)?;
            bytes += 256
                + delivery.summary.len()
                + delivery.url.len()
                + delivery
                    .attempts
                    .iter()
                    .map(|a| 64 + a.error.len())
                    .sum::<usize>();
            if bytes > MAX_PAGE_BYTES && !deliveries.is_empty() {
                full = true;
                break;
            }
            deliveries.push(delivery);
        }
        let next = if full {
            deliveries.last().map(|d| PageCursor {
                occurred_at: d.created_at,
                id: d.id,
            })
        } else {
            None
        };
        Ok((deliveries, next))
    }

    /// Forgets finished alerts older than `before`, throttles idle since
    /// then, and EVENT_RATE counts older than a day.
    pub async fn prune_alerts(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let deliveries = client
            .execute(
                "DELETE FROM alert_deliveries WHERE state <> 'pending' AND created_at < $1",
                &[&before],
            )
            .await?;
        client
            .execute(
                "DELETE FROM alert_throttles WHERE last_alert_at < $1 AND held_back = 0",
                &[&before],
            )
            .await?;
        client
            .execute(
                "DELETE FROM alert_counts WHERE bucket_start < now() - interval '25 hours'",
                &[],
            )
            .await?;
        Ok(deliveries)
    }
}
