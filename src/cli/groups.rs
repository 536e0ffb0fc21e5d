//! `diagd groups` and `diagd group show|resolve|ignore|reopen|merge|split|note`:
//! error groups from a running diagd — a table with each group's status,
//! count, 24-hour trend sparkline, last seen, title and culprit; one group in
//! detail (why its logs are together, its trend, top hosts and runs, its
//! note); and the triage changes.

use clap::{Args, Subcommand};

use super::{
    ServerArgs, describe, json, parse_error_type, parse_severity,
    render::{self, bold, dim},
};
use crate::api::pb;
use crate::domain::{ErrorType, Severity};

/// `diagd groups` flags.
#[derive(Args, Clone, Debug)]
pub struct GroupsArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only these statuses: unresolved, resolved, ignored (repeat or
    /// separate with commas).
    #[arg(long = "status", value_delimiter = ',', value_parser = parse_status)]
    pub statuses: Vec<pb::GroupStatus>,
    /// Only groups whose highest severity is one of these.
    #[arg(long = "severity", value_delimiter = ',', value_parser = parse_severity)]
    pub severities: Vec<Severity>,
    /// Only groups of these error types.
    #[arg(long = "type", value_delimiter = ',', value_parser = parse_error_type)]
    pub error_types: Vec<ErrorType>,
    /// Only groups with logs from this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only groups with logs from this run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only groups whose title or culprit contains this text.
    #[arg(long)]
    pub text: Option<String>,
    /// Order: last-seen (default), first-seen, count, growth (most logs in
    /// the last 24 hours).
    #[arg(long, default_value = "last-seen", value_parser = parse_order)]
    pub sort: pb::GroupOrder,
    /// Also groups whose logs were all cleared.
    #[arg(long)]
    pub all: bool,
    /// Most groups to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per group, for programs.
    #[arg(long)]
    pub json: bool,
}

/// `diagd group` flags.
#[derive(Args, Clone, Debug)]
pub struct GroupArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Machine output: one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: GroupAction,
}

/// The group sub-commands.
#[derive(Subcommand, Clone, Debug)]
pub enum GroupAction {
    /// One group in detail: why its logs are together, its trend, top hosts
    /// and runs, its note and newest log.
    Show {
        /// The group's id.
        id: i64,
        /// Hourly buckets over the last 48 hours instead of daily ones over
        /// 30 days.
        #[arg(long)]
        hourly: bool,
    },
    /// Mark fixed; a new event reopens it as a regression.
    Resolve {
        /// The group's id.
        id: i64,
        /// Who (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
    /// Mute: for good, for a while (--for 2h), until a time, or for a number
    /// of further events.
    Ignore {
        /// The group's id.
        id: i64,
        /// For this long (e.g. 30m, 2h, 7d).
        #[arg(long = "for", value_parser = crate::config::parse_age, conflicts_with_all = ["until", "events"])]
        duration: Option<chrono::TimeDelta>,
        /// Until this time (RFC 3339).
        #[arg(long, value_parser = super::parse_time, conflicts_with = "events")]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// For this many more events.
        #[arg(long)]
        events: Option<u64>,
        /// Who (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
    /// Mark unresolved again.
    Reopen {
        /// The group's id.
        id: i64,
        /// Who (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
    /// Merge groups into a target: their logs move, and their errors keep
    /// landing in the target from now on.
    Merge {
        /// The group that stays.
        target: i64,
        /// The groups merged into it.
        #[arg(required = true)]
        sources: Vec<i64>,
    },
    /// Move one fingerprint (see `group show`) and its logs out into a new
    /// group.
    Split {
        /// The group's id.
        id: i64,
        /// The fingerprint to move out.
        fingerprint: String,
    },
    /// Write the group's note: the cause and the fix (the knowledge base;
    /// it appears in diagnostic reports).
    Note {
        /// The group's id.
        id: i64,
        /// The text; `-` reads it from standard input.
        #[arg(required_unless_present = "clear")]
        text: Option<String>,
        /// Remove the note.
        #[arg(long, conflicts_with = "text")]
        clear: bool,
        /// Who (default: user@host).
        #[arg(long)]
        by: Option<String>,
    },
}

fn parse_status(name: &str) -> Result<pb::GroupStatus, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "unresolved" | "open" => Ok(pb::GroupStatus::Unresolved),
        "resolved" => Ok(pb::GroupStatus::Resolved),
        "ignored" => Ok(pb::GroupStatus::Ignored),
        other => Err(format!(
            "unknown status {other:?} (unresolved, resolved, ignored)"
        )),
    }
}

fn parse_order(name: &str) -> Result<pb::GroupOrder, String> {
    match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "last-seen" | "last" => Ok(pb::GroupOrder::LastSeen),
        "first-seen" | "first" | "new" => Ok(pb::GroupOrder::FirstSeen),
        "count" => Ok(pb::GroupOrder::Count),
        "growth" | "trend" => Ok(pb::GroupOrder::Growth),
        other => Err(format!(
            "unknown order {other:?} (last-seen, first-seen, count, growth)"
        )),
    }
}

fn status_name(status: i32) -> &'static str {
    match pb::GroupStatus::try_from(status) {
        Ok(pb::GroupStatus::Unresolved) => "unresolved",
        Ok(pb::GroupStatus::Resolved) => "resolved",
        Ok(pb::GroupStatus::Ignored) => "ignored",
        _ => "-",
    }
}

/// `▁▂▃▄▅▆▇█` for `counts` (empty buckets as a low dot).
pub fn sparkline(counts: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                '·'
            } else {
                BARS[((n * 7).div_ceil(max)) as usize]
            }
        })
        .collect()
}

/// `diagd groups`: the table.
pub async fn groups(args: GroupsArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let mut request = pb::ListGroupsRequest {
        statuses: args.statuses.iter().map(|s| *s as i32).collect(),
        severities: args
            .severities
            .iter()
            .map(|s| crate::api::severity_to_proto(*s) as i32)
            .collect(),
        error_types: args
            .error_types
            .iter()
            .map(|t| crate::api::error_type_to_proto(*t) as i32)
            .collect(),
        host: args.host.clone().unwrap_or_default(),
        run_id: args.run_id.clone().unwrap_or_default(),
        text: args.text.clone().unwrap_or_default(),
        order_by: args.sort as i32,
        include_empty: args.all,
        ..Default::default()
    };
    let mut shown = 0;
    let mut ungrouped;
    if !args.json {
        anstream::println!(
            "{}",
            bold(format!(
                "{:>6}  {:<10}  {:>8}  {:<24}  {:<20}  TITLE / CULPRIT",
                "ID", "STATUS", "COUNT", "LAST 24H", "LAST SEEN"
            ))
        );
    }
    loop {
        request.page_size = (args.limit - shown).clamp(1, 500) as u32;
        let page = client
            .list_groups(request.clone())
            .await
            .map_err(|s| describe(&s))?
            .into_inner();
        ungrouped = page.ungrouped_logs;
        for group in &page.groups {
            if args.json {
                println!("{}", json::line(group, "ErrorGroup"));
                continue;
            }
            let trend = client
                .get_group(pb::GetGroupRequest {
                    id: group.id,
                    buckets: 24,
                    bucket_width: pb::BucketWidth::Hour as i32,
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .histogram
                .iter()
                .map(|b| b.count)
                .collect::<Vec<_>>();
            let regression =
                if group.regressed_at.is_some() && status_name(group.status) == "unresolved" {
                    " (regressed)"
                } else {
                    ""
                };
            anstream::println!(
                "{:>6}  {:<10}  {:>8}  {:<24}  {:<20}  {}{}\n{:>58}{}",
                group.id,
                status_name(group.status),
                render::count(group.event_count),
                sparkline(&trend),
                render::time(group.last_seen.as_ref()),
                render::badge(group.severity()),
                bold(&group.title),
                "",
                dim(format!(
                    "{}{regression} · {} host{} · {} run{}{}",
                    if group.culprit.is_empty() {
                        "no traceback"
                    } else {
                        &group.culprit
                    },
                    group.hosts,
                    if group.hosts == 1 { "" } else { "s" },
                    group.runs,
                    if group.runs == 1 { "" } else { "s" },
                    if group.note.is_some() {
                        " · has a note"
                    } else {
                        ""
                    },
                )),
            );
        }
        shown += page.groups.len();
        if page.next_page_token.is_empty() || shown >= args.limit || page.groups.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if !args.json {
        if shown == 0 {
            anstream::println!("{}", dim("no groups match"));
        }
        if ungrouped > 0 {
            anstream::println!(
                "{}",
                dim(format!(
                    "{} older logs are still being grouped in the background",
                    render::count(ungrouped)
                ))
            );
        }
    }
    Ok(())
}

/// `diagd group …`.
pub async fn group(args: GroupArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let by = |by: &Option<String>| by.clone().unwrap_or_else(super::admin::who_am_i);
    let changed = match &args.action {
        GroupAction::Show { id, hourly } => {
            let detail = client
                .get_group(pb::GetGroupRequest {
                    id: *id,
                    buckets: if *hourly { 48 } else { 30 },
                    bucket_width: if *hourly {
                        pb::BucketWidth::Hour
                    } else {
                        pb::BucketWidth::Day
                    } as i32,
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner();
            if args.json {
                println!("{}", json::line(&detail, "GetGroupResponse"));
            } else {
                anstream::println!("{}", show(&detail, *hourly));
            }
            return Ok(());
        }
        GroupAction::Resolve { id, by: who } => update(*id, pb::GroupStatus::Resolved, &by(who)),
        GroupAction::Reopen { id, by: who } => update(*id, pb::GroupStatus::Unresolved, &by(who)),
        GroupAction::Ignore {
            id,
            duration,
            until,
            events,
            by: who,
        } => {
            let until = duration.map(|d| chrono::Utc::now() + d).or(*until);
            pb::UpdateGroupRequest {
                ignore_until: until.map(crate::api::timestamp_to_proto),
                ignore_events: events.unwrap_or(0),
                ..update(*id, pb::GroupStatus::Ignored, &by(who))
            }
        }
        GroupAction::Note {
            id,
            text,
            clear,
            by: who,
        } => {
            let note = match (text.as_deref(), clear) {
                (_, true) => String::new(),
                (Some("-"), _) => std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("reading the note from standard input: {e}"))?,
                (Some(text), _) => text.to_string(),
                (None, false) => return Err("give the note's text, or --clear".into()),
            };
            pb::UpdateGroupRequest {
                id: *id,
                note,
                update_note: true,
                actor: by(who),
                ..Default::default()
            }
        }
        GroupAction::Merge { target, sources } => {
            let merged = client
                .merge_groups(pb::MergeGroupsRequest {
                    target_id: *target,
                    source_ids: sources.clone(),
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner();
            if args.json {
                println!("{}", json::line(&merged, "MergeGroupsResponse"));
            } else {
                anstream::println!(
                    "Merged into group {target}: {} log{} moved; their errors land there from now on",
                    render::count(merged.moved_logs),
                    if merged.moved_logs == 1 { "" } else { "s" }
                );
            }
            return Ok(());
        }
        GroupAction::Split { id, fingerprint } => {
            let split = client
                .split_group(pb::SplitGroupRequest {
                    id: *id,
                    fingerprint: fingerprint.clone(),
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner();
            if args.json {
                println!("{}", json::line(&split, "SplitGroupResponse"));
            } else {
                anstream::println!(
                    "Split into new group {}: {} log{} moved",
                    split.group.as_ref().map_or(0, |g| g.id),
                    render::count(split.moved_logs),
                    if split.moved_logs == 1 { "" } else { "s" }
                );
            }
            return Ok(());
        }
    };
    let group = client
        .update_group(changed)
        .await
        .map_err(|s| describe(&s))?
        .into_inner()
        .group
        .unwrap_or_default();
    if args.json {
        println!("{}", json::line(&group, "ErrorGroup"));
    } else {
        anstream::println!(
            "Group {} is {}{}",
            group.id,
            status_name(group.status),
            group
                .note
                .as_ref()
                .map(|n| format!(
                    "; note by {}: {}",
                    if n.author.is_empty() { "-" } else { &n.author },
                    n.text
                ))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn update(id: i64, status: pb::GroupStatus, by: &str) -> pb::UpdateGroupRequest {
    pb::UpdateGroupRequest {
        id,
        status: status as i32,
        actor: by.to_string(),
        ..Default::default()
    }
}

/// One group in detail, for people.
fn show(detail: &pb::GetGroupResponse, hourly: bool) -> String {
    let Some(group) = &detail.group else {
        return String::new();
    };
    let mut out = String::new();
    if detail.merged_from != 0 {
        out.push_str(&dim(format!(
            "group {} was merged into this one\n",
            detail.merged_from
        )));
    }
    out.push_str(&format!(
        "{} {} {}\n",
        bold(format!("Group {}", group.id)),
        render::badge(group.severity()),
        bold(&group.title)
    ));
    if !group.culprit.is_empty() {
        out.push_str(&format!("  culprit    {}\n", group.culprit));
    }
    out.push_str(&format!(
        "  status     {}{}\n",
        status_name(group.status),
        group
            .regressed_at
            .as_ref()
            .map(|t| format!(" (regressed {})", render::time(Some(t))))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "  events     {} · first {} · last {}\n",
        render::count(group.event_count),
        render::time(group.first_seen.as_ref()),
        render::time(group.last_seen.as_ref())
    ));
    let counts: Vec<u64> = detail.histogram.iter().map(|b| b.count).collect();
    out.push_str(&format!(
        "  trend      {} {}\n",
        sparkline(&counts),
        dim(if hourly { "(48 hours)" } else { "(30 days)" })
    ));
    let list = |values: &[pb::ValueCount]| {
        values
            .iter()
            .map(|v| format!("{} ({})", v.value, render::count(v.count)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "  hosts      {} · {}\n",
        group.hosts,
        list(&detail.top_hosts)
    ));
    out.push_str(&format!(
        "  runs       {} · {}\n",
        group.runs,
        list(&detail.top_runs)
    ));
    match &group.note {
        Some(note) => out.push_str(&format!(
            "\n{}\n{}\n",
            bold(format!(
                "Known fix (by {}, {})",
                if note.author.is_empty() {
                    "-"
                } else {
                    &note.author
                },
                render::time(note.updated_at.as_ref())
            )),
            note.text
        )),
        None => out.push_str(&dim(
            "\nno note yet: diagd group note ID \"cause and fix\"\n",
        )),
    }
    out.push_str(&format!("\n{}\n", bold("Why these logs are together")));
    for print in &detail.fingerprints {
        out.push_str(&format!(
            "  {} ({} logs)\n    {}\n",
            print.fingerprint,
            render::count(print.event_count),
            print.explanation
        ));
    }
    if let Some(log) = &detail.latest_log {
        out.push_str(&format!(
            "\n{}\n{}",
            bold("Newest log"),
            render::log_line(log)
        ));
    }
    out
}
