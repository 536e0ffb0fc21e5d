//! `diagd alerts rules|add|rm|test|deliveries`: alert rules of a running
//! diagd (admin token) — list them, add one (trigger, filters, throttle,
//! destination), delete one, send a rule's sample now, and see what alerts
//! were made and how their delivery went (every attempt).

use clap::{Args, Subcommand, ValueEnum};

use super::{
    ServerArgs, describe, json, parse_error_type, parse_severity,
    render::{self, bold, dim, paint},
};
use crate::api::{error_type_to_proto, pb, severity_to_proto};

/// `diagd alerts` flags.
#[derive(Args, Clone, Debug)]
pub struct AlertsArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Machine output: one JSON object per rule or alert.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: AlertsAction,
}

/// What fires a rule (the CLI's names).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerName {
    /// A log of an error group never seen before.
    NewGroup,
    /// A log in a resolved group.
    Regression,
    /// Any CRITICAL log.
    Critical,
    /// --threshold logs within --window.
    Rate,
    /// A run member becomes stuck, lost or failed (--run-state narrows).
    Run,
}

/// Where alerts go (the CLI's names).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationName {
    /// A JSON webhook (signed with --secret).
    Webhook,
    /// A Slack-compatible incoming webhook (Slack, Mattermost).
    Slack,
}

/// `diagd alerts add` flags.
#[derive(Args, Clone, Debug)]
pub struct AddRule {
    /// A name people recognise (shown in its alerts).
    pub name: String,
    /// What fires it.
    #[arg(long, value_enum)]
    pub on: TriggerName,
    /// Where alerts go: the receiver's http(s) URL.
    #[arg(long)]
    pub url: String,
    /// The destination's kind.
    #[arg(long, value_enum, default_value = "webhook")]
    pub to: DestinationName,
    /// Signs each request (X-Diagd-Signature: HMAC-SHA256 of
    /// "timestamp.body").
    #[arg(long, env = "DIAGD_ALERT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Only logs of these severities (repeat or comma-separate).
    #[arg(long = "severity", value_delimiter = ',', value_parser = parse_severity)]
    pub severities: Vec<crate::domain::Severity>,
    /// Only logs of these error types (repeat or comma-separate).
    #[arg(long = "type", value_delimiter = ',', value_parser = parse_error_type)]
    pub types: Vec<crate::domain::ErrorType>,
    /// Only logs (or run members) of this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only logs (or changes) of this run.
    #[arg(long)]
    pub run: Option<String>,
    /// Only logs of this component.
    #[arg(long)]
    pub component: Option<String>,
    /// Only logs of this error group.
    #[arg(long)]
    pub group: Option<i64>,
    /// --on rate: how many logs within --window fire it.
    #[arg(long)]
    pub threshold: Option<u32>,
    /// --on rate: the window (e.g. 2m, 1h).
    #[arg(long, value_parser = seconds)]
    pub window: Option<i64>,
    /// --on rate: count all matching logs together, not per group.
    #[arg(long)]
    pub all_groups: bool,
    /// --on run: the states that fire it (stuck, lost, failed,
    /// finished, alive); default stuck, lost, failed.
    #[arg(long = "run-state", value_delimiter = ',', value_parser = super::runs::parse_state)]
    pub run_states: Vec<pb::RunState>,
    /// At most one alert per group (or run) per this long (e.g. 10m;
    /// 0s: every time).
    #[arg(long, value_parser = seconds)]
    pub throttle: Option<i64>,
    /// Stored but not evaluated until enabled.
    #[arg(long)]
    pub disabled: bool,
}

/// The alerts sub-commands.
#[derive(Subcommand, Clone, Debug)]
pub enum AlertsAction {
    /// Every rule: id, trigger, filters, throttle, destination (up to its
    /// host).
    Rules,
    /// Adds a rule.
    Add(Box<AddRule>),
    /// Deletes a rule (its pending alerts are given up).
    Rm {
        /// The rule's id.
        id: String,
    },
    /// Sends a sample alert of a rule now and shows what the receiver said.
    Test {
        /// The rule's id.
        id: String,
    },
    /// Alerts made and how their delivery went, newest first.
    Deliveries {
        /// Only this rule's.
        #[arg(long)]
        rule: Option<String>,
        /// Only pending, delivered or failed ones.
        #[arg(long)]
        state: Option<String>,
        /// Most alerts to show.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        /// Every attempt of each alert.
        #[arg(long)]
        attempts: bool,
    },
}

/// "90s", "10m", "2h", "1d", "0s" in seconds.
fn seconds(text: &str) -> Result<i64, String> {
    if text == "0" || text == "0s" {
        return Ok(0);
    }
    crate::config::parse_age(text).map(|d| d.num_seconds())
}

fn duration(seconds: i64) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos: 0 }
}

/// A trigger's short name.
fn trigger_name(value: i32) -> &'static str {
    match pb::AlertTrigger::try_from(value) {
        Ok(pb::AlertTrigger::NewGroup) => "new-group",
        Ok(pb::AlertTrigger::Regression) => "regression",
        Ok(pb::AlertTrigger::CriticalLog) => "critical",
        Ok(pb::AlertTrigger::EventRate) => "rate",
        Ok(pb::AlertTrigger::RunState) => "run",
        _ => "?",
    }
}

fn state_name(value: i32) -> String {
    let (name, color) = match pb::AlertDeliveryState::try_from(value) {
        Ok(pb::AlertDeliveryState::Pending) => ("pending", anstyle::AnsiColor::Yellow),
        Ok(pb::AlertDeliveryState::Delivered) => ("delivered", anstyle::AnsiColor::Green),
        Ok(pb::AlertDeliveryState::Failed) => ("failed", anstyle::AnsiColor::Red),
        _ => ("?", anstyle::AnsiColor::White),
    };
    paint(
        anstyle::Style::new().fg_color(Some(color.into())).bold(),
        format!("{name:<9}"),
    )
}

/// What a rule looks at, in a few words.
fn describe_rule(rule: &pb::AlertRule) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &rule.filter {
        if !f.severities.is_empty() {
            let names: Vec<&str> = f
                .severities
                .iter()
                .filter_map(|s| pb::Severity::try_from(*s).ok())
                .map(render::severity_name)
                .collect();
            parts.push(format!("severity {}", names.join(",")));
        }
        if !f.error_types.is_empty() {
            let names: Vec<&str> = f
                .error_types
                .iter()
                .filter_map(|t| pb::ErrorType::try_from(*t).ok())
                .map(render::error_type_name)
                .collect();
            parts.push(format!("type {}", names.join(",")));
        }
        for (name, value) in [
            ("host", &f.host),
            ("run", &f.run_id),
            ("component", &f.component),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name} {value}"));
            }
        }
        if f.group_id > 0 {
            parts.push(format!("group {}", f.group_id));
        }
    }
    if rule.trigger == pb::AlertTrigger::EventRate as i32 {
        parts.push(format!(
            "≥ {} in {} s{}",
            rule.threshold,
            rule.window.map_or(0, |w| w.seconds),
            if rule.per_group { " per group" } else { "" }
        ));
    }
    if !rule.run_states.is_empty() {
        let names: Vec<String> = rule
            .run_states
            .iter()
            .filter_map(|s| pb::RunState::try_from(*s).ok())
            .map(|s| {
                s.as_str_name()
                    .trim_start_matches("RUN_STATE_")
                    .to_lowercase()
            })
            .collect();
        parts.push(format!("states {}", names.join(",")));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(" · ")
    }
}

/// `diagd alerts …`.
pub async fn alerts(args: AlertsArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    match args.action {
        AlertsAction::Rules => {
            let rules = client
                .list_alert_rules(pb::ListAlertRulesRequest {})
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .rules;
            if args.json {
                for rule in &rules {
                    println!("{}", json::line(rule, "AlertRule"));
                }
                return Ok(());
            }
            if rules.is_empty() {
                anstream::println!(
                    "{}",
                    dim("no alert rules (add one: diagd alerts add NAME --on new-group --url URL)")
                );
                return Ok(());
            }
            anstream::println!(
                "{}",
                bold(format!(
                    "{:<36}  {:<24}  {:<10}  {:>8}  {:<7}  DESTINATION · WHAT",
                    "ID", "NAME", "TRIGGER", "THROTTLE", "KIND"
                ))
            );
            for rule in &rules {
                let kind = if rule.destination_kind == pb::AlertDestinationKind::Slack as i32 {
                    "slack"
                } else {
                    "webhook"
                };
                anstream::println!(
                    "{:<36}  {:<24}  {:<10}  {:>7}s  {:<7}  {}{}{} · {}",
                    rule.id,
                    rule.name,
                    trigger_name(rule.trigger),
                    rule.throttle.map_or(0, |t| t.seconds),
                    kind,
                    rule.url,
                    if rule.has_secret { " (signed)" } else { "" },
                    if rule.disabled { " (disabled)" } else { "" },
                    describe_rule(rule),
                );
            }
        }
        AlertsAction::Add(add) => {
            let AddRule {
                name,
                on,
                url,
                to,
                secret,
                severities,
                types,
                host,
                run,
                component,
                group,
                threshold,
                window,
                all_groups,
                run_states,
                throttle,
                disabled,
            } = *add;
            let rule = pb::AlertRule {
                name,
                trigger: match on {
                    TriggerName::NewGroup => pb::AlertTrigger::NewGroup,
                    TriggerName::Regression => pb::AlertTrigger::Regression,
                    TriggerName::Critical => pb::AlertTrigger::CriticalLog,
                    TriggerName::Rate => pb::AlertTrigger::EventRate,
                    TriggerName::Run => pb::AlertTrigger::RunState,
                } as i32,
                filter: Some(pb::AlertFilter {
                    severities: severities
                        .into_iter()
                        .map(|s| severity_to_proto(s) as i32)
                        .collect(),
                    error_types: types
                        .into_iter()
                        .map(|t| error_type_to_proto(t) as i32)
                        .collect(),
                    host: host.unwrap_or_default(),
                    run_id: run.unwrap_or_default(),
                    component: component.unwrap_or_default(),
                    group_id: group.unwrap_or(0),
                }),
                threshold: threshold.unwrap_or(0),
                window: window.map(duration),
                per_group: !all_groups,
                run_states: run_states.iter().map(|s| *s as i32).collect(),
                throttle: throttle.map(duration),
                destination_kind: match to {
                    DestinationName::Webhook => pb::AlertDestinationKind::Webhook,
                    DestinationName::Slack => pb::AlertDestinationKind::Slack,
                } as i32,
                url,
                secret: secret.unwrap_or_default(),
                disabled,
                ..Default::default()
            };
            let made = client
                .create_alert_rule(pb::CreateAlertRuleRequest { rule: Some(rule) })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .rule
                .unwrap_or_default();
            if args.json {
                println!("{}", json::line(&made, "AlertRule"));
            } else {
                anstream::println!(
                    "added rule {} ({}): {} → {}",
                    bold(&made.id),
                    made.name,
                    trigger_name(made.trigger),
                    made.url
                );
                anstream::println!("{}", dim(format!("try it: diagd alerts test {}", made.id)));
            }
        }
        AlertsAction::Rm { id } => {
            client
                .delete_alert_rule(pb::DeleteAlertRuleRequest { id: id.clone() })
                .await
                .map_err(|s| describe(&s))?;
            if !args.json {
                println!("deleted rule {id}");
            }
        }
        AlertsAction::Test { id } => {
            let answer = client
                .test_alert_rule(pb::TestAlertRuleRequest { id })
                .await
                .map_err(|s| describe(&s))?
                .into_inner();
            if args.json {
                println!("{}", json::line(&answer, "TestAlertRuleResponse"));
            } else if answer.error.is_empty() {
                anstream::println!(
                    "{} the receiver answered {}",
                    paint(
                        anstyle::Style::new()
                            .fg_color(Some(anstyle::AnsiColor::Green.into()))
                            .bold(),
                        "delivered:"
                    ),
                    answer.status_code
                );
                anstream::println!("{}", dim(answer.body));
            } else {
                return Err(format!("the sample was not accepted: {}", answer.error));
            }
        }
        AlertsAction::Deliveries {
            rule,
            state,
            limit,
            attempts,
        } => {
            let state = match state.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => pb::AlertDeliveryState::Unspecified,
                Some("pending") => pb::AlertDeliveryState::Pending,
                Some("delivered") => pb::AlertDeliveryState::Delivered,
                Some("failed") => pb::AlertDeliveryState::Failed,
                Some(other) => {
                    return Err(format!(
                        "unknown state {other:?}: pending, delivered or failed"
                    ));
                }
            };
            let mut request = pb::ListAlertDeliveriesRequest {
                rule_id: rule.unwrap_or_default(),
                state: state as i32,
                ..Default::default()
            };
            let mut shown = 0;
            // One page size for every page (a page token is for its size).
            request.page_size = limit.clamp(1, 200) as u32;
            loop {
                let page = client
                    .list_alert_deliveries(request.clone())
                    .await
                    .map_err(|s| describe(&s))?
                    .into_inner();
                for d in page.deliveries.iter().take(limit - shown) {
                    if args.json {
                        println!("{}", json::line(d, "AlertDelivery"));
                        continue;
                    }
                    let last = d.attempts.last();
                    let outcome = match last {
                        None => "no attempt yet".to_string(),
                        Some(a) if a.error.is_empty() => format!("{} ", a.status_code),
                        Some(a) => a.error.clone(),
                    };
                    anstream::println!(
                        "{}  {}  {:>2}×  {}  {}",
                        render::time(d.created_at.as_ref()),
                        state_name(d.state),
                        d.attempts.len(),
                        d.summary,
                        dim(format!(
                            "[{} → {}: {}]",
                            d.rule_name,
                            d.destination,
                            outcome.trim()
                        ))
                    );
                    if attempts {
                        for a in &d.attempts {
                            anstream::println!(
                                "      {}  {:>3}  {:>6} ms  {}",
                                render::time(a.at.as_ref()),
                                a.status_code,
                                a.duration
                                    .map_or(0, |d| d.seconds * 1000 + d.nanos as i64 / 1_000_000),
                                a.error
                            );
                        }
                    }
                }
                shown += page.deliveries.len().min(limit - shown);
                if page.next_page_token.is_empty() || shown >= limit || page.deliveries.is_empty() {
                    break;
                }
                request.page_token = page.next_page_token;
            }
            if shown == 0 && !args.json {
                anstream::println!("{}", dim("no alerts yet"));
            }
        }
    }
    Ok(())
}
