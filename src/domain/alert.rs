//! Alerts (issue #15): rules (what fires them, which logs or run changes
//! they look at, where they go, how often at most), matching the events the
//! evaluator reads after their commit against them, the alert a firing rule
//! makes (its one-line summary and its JSON document), the bodies sent to a
//! generic webhook and to a Slack-compatible one, their HMAC signature, and
//! the retry policy of deliveries. No SQL and no HTTP here: `store::alerts`
//! keeps rules, throttles and the outbox; `workers::alerts` evaluates and
//! delivers.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ErrorType, Severity,
    fingerprint::head,
    run::{RunChange, RunState},
};

/// Rules that may exist at once.
pub const MAX_RULES: usize = 1000;

/// Default throttle: at most one alert per group (or run) per rule per this.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(600);

/// Longest throttle.
pub const MAX_THROTTLE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Shortest and longest EVENT_RATE window.
pub const WINDOW_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(24 * 3600));

/// Bytes of a log's message an alert quotes at most.
pub const QUOTED_MESSAGE_BYTES: usize = 300;

/// Attempts a delivery records at most (later ones replace the last).
pub const MAX_ATTEMPTS_KEPT: usize = 50;

/// What makes a rule fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A log of a group never seen before.
    NewGroup,
    /// A log in a resolved group.
    Regression,
    /// Any CRITICAL log.
    CriticalLog,
    /// `threshold` matching logs within `window`.
    EventRate,
    /// A run member becomes one of the rule's states.
    RunState,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 5] = [
        Trigger::NewGroup,
        Trigger::Regression,
        Trigger::CriticalLog,
        Trigger::EventRate,
        Trigger::RunState,
    ];

    /// The stored (and webhook) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::NewGroup => "new_group",
            Trigger::Regression => "regression",
            Trigger::CriticalLog => "critical_log",
            Trigger::EventRate => "event_rate",
            Trigger::RunState => "run_state",
        }
    }

    /// The trigger of a stored name.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Where alerts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    /// JSON body, optional HMAC signature.
    Webhook,
    /// Slack-compatible `text` + `blocks`.
    Slack,
}

impl DestinationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Webhook => "webhook",
            DestinationKind::Slack => "slack",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<DestinationKind> {
        [DestinationKind::Webhook, DestinationKind::Slack]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// Which logs or run changes a rule looks at; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertFilter {
    /// Severities (stored names); empty: all.
    #[serde(default)]
    pub severities: Vec<String>,
    /// Error types (stored names); empty: all.
    #[serde(default)]
    pub error_types: Vec<String>,
    /// Host; empty: any.
    #[serde(default)]
    pub host: String,
    /// Run; empty: any.
    #[serde(default)]
    pub run_id: String,
    /// Component; empty: any.
    #[serde(default)]
    pub component: String,
    /// Error group; `None`: any.
    #[serde(default)]
    pub group_id: Option<i64>,
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What fires it.
    pub trigger: Trigger,
    /// What it looks at.
    pub filter: AlertFilter,
    /// EVENT_RATE: logs within `window` that fire it.
    pub threshold: u32,
    /// EVENT_RATE: the window.
    pub window: Duration,
    /// EVENT_RATE: counted per group (else all together).
    pub per_group: bool,
    /// RUN_STATE: the states that fire it.
    pub run_states: Vec<RunState>,
    /// At most one alert per key per this long.
    pub throttle: Duration,
    /// The destination's kind.
    pub kind: DestinationKind,
    /// The destination.
    pub url: String,
    /// The HMAC secret; empty: none.
    pub secret: String,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl AlertRule {
    /// The states a RUN_STATE rule fires on (its own, or stuck, lost,
    /// failed).
    pub fn states(&self) -> Vec<RunState> {
        if self.run_states.is_empty() {
            vec![RunState::Stuck, RunState::Lost, RunState::Failed]
        } else {
            self.run_states.clone()
        }
    }

    /// Whether log `log` is one this rule counts.
    pub fn matches_log(&self, log: &LogEvent) -> bool {
        let f = &self.filter;
        let by_trigger = match self.trigger {
            Trigger::NewGroup => log.new_group,
            Trigger::Regression => log.regressed,
            Trigger::CriticalLog => log.severity == Severity::Critical,
            Trigger::EventRate => true,
            Trigger::RunState => false,
        };
        by_trigger
            && (f.severities.is_empty() || f.severities.iter().any(|s| s == log.severity.as_str()))
            && (f.error_types.is_empty()
                || f.error_types.iter().any(|t| t == log.error_type.as_str()))
            && (f.host.is_empty() || f.host == log.host)
            && (f.run_id.is_empty() || f.run_id == log.run_id)
            && (f.component.is_empty() || f.component == log.component)
            && f.group_id.is_none_or(|g| Some(g) == log.group_id)
    }

    /// Whether run change `change` is one this rule fires on.
    pub fn matches_change(&self, change: &RunChange) -> bool {
        self.trigger == Trigger::RunState
            && change.from != Some(change.to)
            && self.states().contains(&change.to)
            && (self.filter.host.is_empty() || self.filter.host == change.host)
            && (self.filter.run_id.is_empty() || self.filter.run_id == change.run_id)
    }

    /// The throttle key of a log for this rule: its group (or everything,
    /// for an EVENT_RATE rule counting all logs together).
    pub fn log_key(&self, log: &LogEvent) -> String {
        if self.trigger == Trigger::EventRate && !self.per_group {
            "all".to_string()
        } else {
            format!("group:{}", log.group_id.unwrap_or(0))
        }
    }
}

/// A stored log as the evaluator reads it (message cut to
/// [`QUOTED_MESSAGE_BYTES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// The log's id.
    pub log_id: Uuid,
    /// When diagd stored it.
    pub received_at: DateTime<Utc>,
    /// Severity.
    pub severity: Severity,
    /// Error type.
    pub error_type: ErrorType,
    /// Message (cut).
    pub message: String,
    /// Source host.
    pub host: String,
    /// Source run.
    pub run_id: String,
    /// Source component.
    pub component: String,
    /// Its `rank` label.
    pub rank: String,
    /// Its group.
    pub group_id: Option<i64>,
    /// The group's title.
    pub group_title: String,
    /// The log made its group (the group's first).
    pub new_group: bool,
    /// The log reopened its resolved group.
    pub regressed: bool,
    /// Members of the log's run, when diagd knows the run.
    pub run_members: Option<u32>,
}

/// What one rule saw of one key (group, run, or all) in one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The rule (index into the evaluated rules).
    pub rule: usize,
    /// The throttle key.
    pub key: String,
    /// Matching events in this evaluation.
    pub events: u64,
    /// The first matching log (log triggers).
    pub log: Option<LogEvent>,
    /// The first matching change (run triggers).
    pub change: Option<RunChange>,
    /// Distinct hosts and ranks seen.
    pub ranks: BTreeSet<(String, String)>,
}

/// Matches the events of one evaluation against `rules`: one candidate
/// per rule and key, in the order of their first event. An EVENT_RATE rule
/// counts only logs received within its window before `now` (logs read
/// late, after a backlog, do not make a burst).
pub fn candidates(
    rules: &[AlertRule],
    logs: &[LogEvent],
    changes: &[RunChange],
    now: DateTime<Utc>,
) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut index: std::collections::HashMap<(usize, String), usize> =
        std::collections::HashMap::new();
    for (r, rule) in rules.iter().enumerate() {
        if !rule.enabled {
            continue;
        }
        let window_start = now - chrono::TimeDelta::from_std(rule.window).unwrap_or_default();
        for log in logs.iter().filter(|l| rule.matches_log(l)) {
            if rule.trigger == Trigger::EventRate && log.received_at < window_start {
                continue;
            }
            let key = rule.log_key(log);
            let at = *index.entry((r, key.clone())).or_insert_with(|| {
                found.push(Candidate {
                    rule: r,
                    key,
                    events: 0,
                    log: Some(log.clone()),
                    change: None,
                    ranks: BTreeSet::new(),
                });
                found.len() - 1
            });
            found[at].events += 1;
            if found[at].ranks.len() < 1000 {
                found[at].ranks.insert((log.host.clone(), log.rank.clone()));
            }
        }
        for change in changes.iter().filter(|c| rule.matches_change(c)) {
            let key = format!("run:{}:{}", change.run_id, change.to.as_str());
            let at = *index.entry((r, key.clone())).or_insert_with(|| {
                found.push(Candidate {
                    rule: r,
                    key,
                    events: 0,
                    log: None,
                    change: Some(change.clone()),
                    ranks: BTreeSet::new(),
                });
                found.len() - 1
            });
            found[at].events += 1;
            if found[at].ranks.len() < 1000 {
                found[at]
                    .ranks
                    .insert((change.host.clone(), change.rank.to_string()));
            }
        }
    }
    found
}

/// An alert, made when a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Its id (sent to the receiver, which may de-duplicate by it).
    pub id: Uuid,
    /// The rule.
    pub rule_id: Uuid,
    /// The rule's name.
    pub rule_name: String,
    /// The rule's trigger.
    pub trigger: Trigger,
    /// One line for people.
    pub summary: String,
    /// The summary without its count of events (" — 8 events in 2 min"):
    /// kept while an alert is held back, to be released with a new count.
    pub headline: String,
    /// The group it is about.
    pub group_id: Option<i64>,
    /// The run it is about.
    pub run_id: String,
    /// The JSON document (the generic webhook's body; Slack's is made
    /// from it).
    pub document: serde_json::Value,
}

/// "8 events in 2 min", "1 event in 40 s".
fn events_in(events: u64, span: Duration) -> String {
    let plural = if events == 1 { "event" } else { "events" };
    format!("{events} {plural} in {}", span_text(span))
}

/// "40 s", "2 min", "3 h".
fn span_text(span: Duration) -> String {
    let secs = span.as_secs().max(1);
    if secs < 120 {
        format!("{secs} s")
    } else if secs < 2 * 3600 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{} h", secs.div_ceil(3600))
    }
}

/// The alert `rule` makes from `candidate`. `events` counts what it covers
/// (this evaluation's events, those throttled since the last alert, or the
/// window's count for EVENT_RATE) over `span`; `now` is the database's
/// clock.
pub fn compose(
    rule: &AlertRule,
    candidate: &Candidate,
    events: u64,
    span: Duration,
    now: DateTime<Utc>,
) -> Alert {
    let id = Uuid::now_v7();
    let ranks = candidate.ranks.len();
    let mut document = serde_json::json!({
        "id": id.to_string(),
        "rule": {"id": rule.id.to_string(), "name": rule.name},
        "trigger": rule.trigger.as_str(),
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "events": events,
        "span_seconds": span.as_secs_f64().round(),
    });
    let (summary, group_id, run_id) = if let Some(log) = &candidate.log {
        let what = match rule.trigger {
            Trigger::NewGroup => "NEW",
            Trigger::Regression => "REGRESSED",
            Trigger::CriticalLog => "CRITICAL",
            _ => "RATE",
        };
        // "CRITICAL CRITICAL" says nothing twice.
        let severity = if rule.trigger == Trigger::CriticalLog {
            String::new()
        } else {
            format!(" {}", log.severity.as_str().to_uppercase())
        };
        let on_run = if log.run_id.is_empty() {
            if log.host.is_empty() {
                String::new()
            } else {
                format!(" on {}", log.host)
            }
        } else {
            let members = log
                .run_members
                .filter(|m| *m > 1)
                .map(|m| format!(" ({m} ranks)"))
                .or_else(|| (ranks > 1).then(|| format!(" ({ranks} ranks)")))
                .unwrap_or_default();
            format!(" on run {}{members}", log.run_id)
        };
        // The log's own words (its first line), not the group's normalised
        // title: what people recognise.
        let first_line = log.message.lines().next().unwrap_or_default().trim();
        let title = head(first_line, 120);
        let ellipsis = if title.len() < log.message.trim().len() {
            "…"
        } else {
            ""
        };
        let line = format!(
            "{what}{severity} {}{on_run}: {title}{ellipsis}",
            log.error_type.as_str(),
        );
        document["log"] = serde_json::json!({
            "id": log.log_id.to_string(),
            "received_at": log.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "severity": log.severity.as_str(),
            "error_type": log.error_type.as_str(),
            "message": log.message,
            "host": log.host,
            "run_id": log.run_id,
            "component": log.component,
        });
        if let Some(group) = log.group_id {
            document["group"] = serde_json::json!({"id": group, "title": log.group_title});
        }
        (line, log.group_id, log.run_id.clone())
    } else if let Some(change) = &candidate.change {
        let line = format!(
            "{} run {}: {}",
            change.to.as_str().to_uppercase(),
            change.run_id,
            member_line(change)
        );
        document["run"] = serde_json::json!({
            "id": change.run_id,
            "state": change.run.state.as_str(),
            "summary": change.run.summary,
            "member": {"host": change.host, "rank": change.rank, "state": change.to.as_str(),
                       "step": change.step},
        });
        (line, None, change.run_id.clone())
    } else {
        (rule.name.clone(), None, String::new())
    };
    let mut alert = Alert {
        id,
        rule_id: rule.id,
        rule_name: rule.name.clone(),
        trigger: rule.trigger,
        summary: String::new(),
        headline: summary,
        group_id,
        run_id,
        document,
    };
    alert.summary = format!("{}{}", alert.headline, suffix(rule.trigger, events, span));
    alert.document["summary"] = serde_json::json!(alert.summary);
    alert
}

/// What follows an alert's headline: its count of events (log triggers),
/// or of changes when more than one (run triggers).
fn suffix(trigger: Trigger, events: u64, span: Duration) -> String {
    match trigger {
        Trigger::RunState if events <= 1 => String::new(),
        Trigger::RunState => format!(" — {events} changes in {}", span_text(span)),
        _ => format!(" — {}", events_in(events, span)),
    }
}

/// An alert held back by its throttle (or a full outbox), released now
/// with what was held: a new id, its count of `events` over `span`.
/// `headline` and `document` are those of the first alert held.
pub fn release(
    trigger: Trigger,
    headline: &str,
    document: &serde_json::Value,
    events: u64,
    span: Duration,
    now: DateTime<Utc>,
) -> (Uuid, String, serde_json::Value) {
    let id = Uuid::now_v7();
    let summary = format!("{headline}{}", suffix(trigger, events, span));
    let mut document = document.clone();
    document["id"] = serde_json::json!(id.to_string());
    document["summary"] = serde_json::json!(summary);
    document["events"] = serde_json::json!(events);
    document["span_seconds"] = serde_json::json!(span.as_secs_f64().round());
    document["created_at"] =
        serde_json::json!(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    document["held_back"] = serde_json::json!(true);
    (id, summary, document)
}

/// What a run change says about its member. The run's own line when it is
/// about this member in this state (it also says where the others are);
/// otherwise one made from the change, with the run's line after it (a
/// member stuck in a run already lost must not be described as the lost
/// one).
fn member_line(change: &RunChange) -> String {
    let name = if change.rank >= 0 {
        format!("rank {} on {}", change.rank, change.host)
    } else {
        format!("a process on {}", change.host)
    };
    let summary = &change.run.summary;
    if change.run.state == change.to && summary.starts_with(&format!("{name} ")) {
        return summary.clone();
    }
    let at = change
        .step
        .map(|s| format!(" at step {s}"))
        .unwrap_or_default();
    format!(
        "{name} {}{at} (the run is {}: {summary})",
        change.to.as_str(),
        change.run.state.as_str()
    )
}

/// A sample alert of `rule` for TestAlertRule.
pub fn sample(rule: &AlertRule, now: DateTime<Utc>) -> Alert {
    let log = LogEvent {
        log_id: Uuid::nil(),
        received_at: now,
        severity: Severity::High,
        error_type: ErrorType::Oom,
        message: "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
            .to_string(),
        host: "gpu-node-01".to_string(),
        run_id: "diagd-test-run".to_string(),
        component: "trainer".to_string(),
        rank: "0".to_string(),
        group_id: Some(0),
        group_title: "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate <num> GiB"
            .to_string(),
        new_group: true,
        regressed: false,
        run_members: Some(8),
    };
    let candidate = Candidate {
        rule: 0,
        key: "test".to_string(),
        events: 1,
        log: Some(log),
        change: None,
        ranks: BTreeSet::new(),
    };
    let mut alert = compose(rule, &candidate, 1, Duration::from_secs(1), now);
    alert.summary = format!("[test of rule {}] {}", rule.name, alert.summary);
    alert.headline = format!("[test of rule {}] {}", rule.name, alert.headline);
    alert.document["summary"] = serde_json::json!(alert.summary);
    alert.document["test"] = serde_json::json!(true);
    alert
}

/// The body sent for `document` to a destination of `kind`.
pub fn body(kind: DestinationKind, document: &serde_json::Value) -> Vec<u8> {
    match kind {
        DestinationKind::Webhook => serde_json::to_vec(document).unwrap_or_default(),
        DestinationKind::Slack => {
            let summary = document["summary"].as_str().unwrap_or_default();
            let mut context = vec![format!(
                "rule *{}* · alert `{}`",
                slack_escape(document["rule"]["name"].as_str().unwrap_or_default()),
                document["id"].as_str().unwrap_or_default()
            )];
            if let Some(group) = document["group"]["id"].as_i64() {
                context.push(format!("group `{group}`"));
            }
            if let Some(run) = document["run"]["id"]
                .as_str()
                .or(document["log"]["run_id"].as_str())
                .filter(|r| !r.is_empty())
            {
                context.push(format!("run `{}`", slack_escape(run)));
            }
            let text = match document["log"]["message"].as_str() {
                Some(message) if !message.is_empty() => {
                    format!(
                        "*{}*\n```{}```",
                        slack_escape(summary),
                        slack_escape(message)
                    )
                }
                _ => format!("*{}*", slack_escape(summary)),
            };
            serde_json::to_vec(&serde_json::json!({
                // Escaped too: a log's words must not become a mention
                // (<!channel>) or a link.
                "text": slack_escape(summary),
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                    {"type": "context", "elements": [
                        {"type": "mrkdwn", "text": context.join(" · ")}
                    ]}
                ]
            }))
            .unwrap_or_default()
        }
    }
}

/// Escapes Slack's three control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `X-Diagd-Signature` header's value: `sha256=` and the hex
/// HMAC-SHA256, keyed by `secret`, of `timestamp`, a dot and the body (the
/// timestamp, sent as `X-Diagd-Timestamp`, lets receivers refuse replays).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a delivery attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (2xx).
    Delivered,
    /// Try again later (no answer, 408, 429, 5xx).
    Retry,
    /// Never accepted (other answers).
    GiveUp,
}

/// The outcome of an attempt answered with `status` (`None`: no answer).
pub fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Delivered,
        None | Some(408) | Some(429) | Some(500..=599) => Outcome::Retry,
        Some(_) => Outcome::GiveUp,
    }
}

/// Wait before attempt `attempt + 1` after `attempt` failed ones: 1 s,
/// 2 s, 4 s … at most 5 min; a receiver's `Retry-After` (at most 1 h) wins
/// when longer.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential =
        Duration::from_secs(1 << attempt.saturating_sub(1).min(9)).min(Duration::from_secs(300));
    match retry_after {
        Some(after) => exponential.max(after.min(Duration::from_secs(3600))),
        None => exponential,
    }
}

/// `https://hooks.slack.com/…`: a URL up to its host (what answers show).
pub fn redact_url(url: &str) -> String {
    match url.find("://") {
        Some(scheme) => {
            let rest = &url[scheme + 3..];
            let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let host = &rest[..host_end];
            // Credentials in the authority are secrets too.
            let host = host.rsplit('@').next().unwrap_or(host);
            let tail = if host_end < rest.len() { "/…" } else { "" };
            format!("{}://{host}{tail}", &url[..scheme])
        }
        None => "…".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(trigger: Trigger) -> AlertRule {
        AlertRule {
            id: Uuid::now_v7(),
            name: "r".into(),
            trigger,
            filter: AlertFilter::default(),
            threshold: 0,
            window: Duration::from_secs(60),
            per_group: true,
            run_states: vec![],
            throttle: DEFAULT_THROTTLE,
            kind: DestinationKind::Webhook,
            url: "http://127.0.0.1/x".into(),
            secret: String::new(),
            enabled: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn log(group: i64, severity: Severity, new_group: bool, rank: &str) -> LogEvent {
        LogEvent {
            log_id: Uuid::now_v7(),
            received_at: Utc::now(),
            severity,
            error_type: ErrorType::Oom,
            message: "torch.cuda.OutOfMemoryError: CUDA out of memory".into(),
            host: "gpu-node-03".into(),
            run_id: "llama-ft-42".into(),
            component: "trainer".into(),
            rank: rank.into(),
            group_id: Some(group),
            group_title: "torch.cuda.OutOfMemoryError: CUDA out of memory".into(),
            new_group,
            regressed: false,
            run_members: Some(8),
        }
    }

    #[test]
    fn candidates_group_events_by_rule_and_key() {
        let rules = vec![rule(Trigger::NewGroup), rule(Trigger::CriticalLog)];
        let logs: Vec<LogEvent> = (0..8)
            .map(|r| log(7, Severity::High, r == 0, &r.to_string()))
            .chain([log(9, Severity::Critical, false, "0")])
            .collect();
        let found = candidates(&rules, &logs, &[], Utc::now());
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].rule, found[0].key.as_str()), (0, "group:7"));
        assert_eq!(
            found[0].events, 1,
            "only the log that made the group is new"
        );
        assert_eq!((found[1].rule, found[1].key.as_str()), (1, "group:9"));
    }

    #[test]
    fn filters_narrow_what_matches() {
        let mut r = rule(Trigger::EventRate);
        r.filter.severities = vec!["critical".into()];
        assert!(!r.matches_log(&log(1, Severity::High, false, "0")));
        assert!(r.matches_log(&log(1, Severity::Critical, false, "0")));
        r.filter.host = "other".into();
        assert!(!r.matches_log(&log(1, Severity::Critical, false, "0")));
    }

    #[test]
    fn the_summary_reads_like_the_issue_asks() {
        let r = rule(Trigger::NewGroup);
        let c = candidates(
            std::slice::from_ref(&r),
            &[log(7, Severity::High, true, "0")],
            &[],
            Utc::now(),
        );
        let alert = compose(&r, &c[0], 8, Duration::from_secs(120), Utc::now());
        assert_eq!(
            alert.summary,
            "NEW HIGH oom on run llama-ft-42 (8 ranks): torch.cuda.OutOfMemoryError: CUDA out \
             of memory — 8 events in 2 min"
        );
        assert_eq!(alert.document["group"]["id"], 7);
        let slack: serde_json::Value =
            serde_json::from_slice(&body(DestinationKind::Slack, &alert.document)).unwrap();
        assert_eq!(slack["text"], alert.summary.as_str());
        assert_eq!(slack["blocks"][0]["type"], "section");
    }

    fn change(rank: i32, to: RunState, run_state: RunState, summary: &str) -> RunChange {
        use crate::domain::run::{Run, StateCounts};
        RunChange {
            id: 1,
            run_id: "r".into(),
            host: "h".into(),
            rank,
            from: Some(RunState::Alive),
            to,
            step: Some(5),
            changed_at: Utc::now(),
            run: Run {
                run_id: "r".into(),
                state: run_state,
                summary: summary.into(),
                started_at: Utc::now(),
                last_heartbeat: Utc::now(),
                state_changed_at: Utc::now(),
                stuck_after: Duration::from_secs(600),
                counts: StateCounts::default(),
                max_step: Some(9),
                min_step: Some(5),
            },
        }
    }

    #[test]
    fn a_run_alert_describes_the_member_that_changed() {
        // The run's line when it is about this member.
        let stuck = "rank 1 on h stuck at step 5 while 1 member is at 9";
        assert_eq!(
            member_line(&change(1, RunState::Stuck, RunState::Stuck, stuck)),
            stuck
        );
        // A member stuck in a run already lost (by another member).
        let lost = "rank 0 on h lost (no heartbeat since 2026-12-01 05:10:28 UTC)";
        assert_eq!(
            member_line(&change(1, RunState::Stuck, RunState::Lost, lost)),
            format!("rank 1 on h stuck at step 5 (the run is lost: {lost})")
        );
    }

    #[test]
    fn retry_policy() {
        assert_eq!(outcome(Some(204)), Outcome::Delivered);
        assert_eq!(outcome(Some(503)), Outcome::Retry);
        assert_eq!(outcome(Some(429)), Outcome::Retry);
        assert_eq!(outcome(None), Outcome::Retry);
        assert_eq!(outcome(Some(404)), Outcome::GiveUp);
        assert_eq!(backoff(1, None), Duration::from_secs(1));
        assert_eq!(backoff(3, None), Duration::from_secs(4));
        assert_eq!(backoff(30, None), Duration::from_secs(300));
        assert_eq!(
            backoff(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn urls_are_shown_up_to_their_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's
        // hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest().
        assert_eq!(
            signature("k", 1, b"{}"),
            "sha256=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }
}
