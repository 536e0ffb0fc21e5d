//! `diagd clear` and `diagd debug`: the two commands that change diagd's
//! state for everyone. `clear` says how many logs it would delete and asks
//! for "yes" on a terminal; elsewhere it needs `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::{
    ServerArgs, describe, json, parse_severity, parse_time,
    render::{self, dim},
};
use crate::{
    api::{pb, timestamp_to_proto},
    domain::Severity,
};

/// `diagd clear` flags.
#[derive(Args, Clone, Debug)]
pub struct ClearArgs {
    /// The diagd to clear.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only logs older than this: RFC 3339, or an age such as 30d or 12h.
    #[arg(long, value_parser = parse_time)]
    pub older_than: Option<DateTime<Utc>>,
    /// Only these severities (repeat or separate with commas).
    #[arg(long = "severity", value_delimiter = ',', value_parser = parse_severity)]
    pub severities: Vec<Severity>,
    /// Export the logs (on diagd's side, in its export directory) before
    /// deleting them, in the same transaction.
    #[arg(long)]
    pub export_first: bool,
    /// Only logs of these error groups (ids from `diagd groups`; repeat or
    /// separate with commas). The groups stay, with their notes.
    #[arg(long = "group", value_delimiter = ',')]
    pub group_ids: Vec<i64>,
    /// Do not ask: needed when stdin is not a terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The outcome as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Clears logs after confirmation.
pub async fn clear(args: ClearArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let severities: Vec<i32> = args
        .severities
        .iter()
        .map(|s| crate::api::severity_to_proto(*s) as i32)
        .collect();
    let older_than = args.older_than.map(timestamp_to_proto);
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                "refusing to clear logs without confirmation: stdin is not a terminal, pass --yes"
                    .into(),
            );
        }
        let matching = client
            .get_stats(pb::GetStatsRequest {
                filter: Some(pb::LogFilter {
                    severities: severities.clone(),
                    until: older_than,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map_err(|s| describe(&s))?
            .into_inner()
            .total;
        let mut scope = Vec::new();
        if let Some(t) = args.older_than {
            scope.push(format!("older than {}", t.format("%Y-%m-%d %H:%M:%SZ")));
        }
        if !args.severities.is_empty() {
            let names: Vec<&str> = args.severities.iter().map(|s| s.as_str()).collect();
            scope.push(format!("of severity {}", names.join(", ")));
        }
        let scope = if scope.is_empty() {
            "ALL logs".to_string()
        } else {
            format!("the logs {}", scope.join(" and "))
        };
        anstream::eprint!(
            "This deletes {scope}: {} log{}{}. Type \"yes\" to continue: ",
            render::count(matching),
            if matching == 1 { "" } else { "s" },
            if args.export_first {
                " (exported first)"
            } else {
                ""
            }
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if answer.trim() != "yes" {
            return Err("not cleared: the answer was not \"yes\"".into());
        }
    }
    let outcome = client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            older_than,
            severities,
            export_first: args.export_first,
            group_ids: args.group_ids.clone(),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    if args.json {
        println!("{}", json::line(&outcome, "ClearLogsResponse"));
    } else {
        anstream::println!(
            "Deleted {} log{}",
            render::count(outcome.deleted_count),
            if outcome.deleted_count == 1 { "" } else { "s" }
        );
        if !outcome.export_path.is_empty() {
            anstream::println!(
                "Exported {} first to {} (on diagd's machine)",
                render::count(outcome.exported_count),
                outcome.export_path
            );
        }
    }
    Ok(())
}

/// `diagd debug` flags.
#[derive(Args, Clone, Debug)]
pub struct DebugArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The state as one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// on, off or status (the default).
    #[command(subcommand)]
    pub action: Option<DebugAction>,
}

/// The debug sub-commands.
#[derive(Subcommand, Clone, Debug)]
pub enum DebugAction {
    /// Turn debug mode on for every diagd on this database (and every
    /// trainer that follows it).
    On {
        /// Turn it off again after this long (e.g. 30m, 2h).
        #[arg(long = "for", value_parser = crate::config::parse_age)]
        duration: Option<chrono::TimeDelta>,
        /// Who is switching (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
    /// Turn debug mode off.
    Off {
        /// Who is switching (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
    /// Show whether debug mode is on.
    Status,
}

/// Shows or switches debug mode.
pub async fn debug(args: DebugArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let mode = match args.action.unwrap_or(DebugAction::Status) {
        DebugAction::Status => {
            client
                .get_debug_mode(pb::GetDebugModeRequest {})
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .debug_mode
        }
        DebugAction::On { duration, by } => {
            client
                .set_debug_mode(pb::SetDebugModeRequest {
                    enabled: true,
                    changed_by: by.unwrap_or_else(who_am_i),
                    auto_off_after: duration.map(|d| prost_types::Duration {
                        seconds: d.num_seconds(),
                        nanos: 0,
                    }),
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .debug_mode
        }
        DebugAction::Off { by } => {
            client
                .set_debug_mode(pb::SetDebugModeRequest {
                    enabled: false,
                    changed_by: by.unwrap_or_else(who_am_i),
                    auto_off_after: None,
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .debug_mode
        }
    }
    .ok_or("diagd answered without the debug mode")?;
    if args.json {
        println!("{}", json::line(&mode, "DebugMode"));
        return Ok(());
    }
    let state = if mode.enabled {
        render::paint(
            anstyle::Style::new()
                .fg_color(Some(anstyle::AnsiColor::Green.into()))
                .bold(),
            "ON",
        )
    } else {
        render::bold("OFF")
    };
    let mut line = format!("Debug mode is {state}");
    if mode.changed_at.is_some() {
        line.push_str(&dim(format!(
            " (since {}{})",
            render::time(mode.changed_at.as_ref()),
            if mode.changed_by.is_empty() {
                String::new()
            } else {
                format!(", by {}", mode.changed_by)
            }
        )));
    }
    if mode.enabled && mode.auto_off_at.is_some() {
        line.push_str(&format!(
            "; turns off at {}",
            render::time(mode.auto_off_at.as_ref())
        ));
    }
    anstream::println!("{line}");
    Ok(())
}

/// `user@host`, for `changed_by` and group changes.
pub(super) fn who_am_i() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = super::host_name().unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}
