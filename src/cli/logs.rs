//! `diagd logs`, `diagd get`, `diagd stats` and `diagd search`: reading logs
//! from a running diagd, for people (badges, colours, highlights) or, with
//! `--json`, for programs (one protobuf-JSON object per line).

use clap::Args;

use super::{
    FilterArgs, ServerArgs, describe, json,
    render::{self, bold, dim},
};
use crate::api::{log_filter_to_proto, pb};

/// `diagd logs` flags.
#[derive(Args, Clone, Debug)]
pub struct LogsArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Which logs.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most logs to show, newest first.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// Leave out the stats header.
    #[arg(long)]
    pub no_header: bool,
    /// One JSON object per log (full details), for programs.
    #[arg(long)]
    pub json: bool,
}

/// `diagd logs`: the stats header, then one line per log.
pub async fn logs(args: LogsArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let filter = log_filter_to_proto(&args.filter.to_filter());
    let stats = if args.json || args.no_header {
        None
    } else {
        Some(
            client
                .get_stats(pb::GetStatsRequest {
                    filter: Some(filter.clone()),
                    ..Default::default()
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner(),
        )
    };
    if let Some(stats) = &stats {
        anstream::println!("{}\n", render::stats_header(stats));
    }
    let mut shown = 0;
    let mut page_token = String::new();
    while shown < args.limit {
        let page = client
            .list_logs(pb::ListLogsRequest {
                filter: Some(filter.clone()),
                page_size: (args.limit - shown).min(1000) as i32,
                page_token: std::mem::take(&mut page_token),
                include_total: false,
                view: if args.json {
                    pb::LogView::Full
                } else {
                    pb::LogView::Basic
                } as i32,
            })
            .await
            .map_err(|s| describe(&s))?
            .into_inner();
        for log in &page.logs {
            if args.json {
                println!("{}", json::line(log, "LogEntry"));
            } else {
                anstream::println!("{}", render::log_line(log));
            }
        }
        shown += page.logs.len();
        if page.next_page_token.is_empty() || page.logs.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(stats) = stats {
        if shown == 0 && stats.total == 0 {
            anstream::println!("{}", dim("No logs match."));
        } else if (shown as u64) < stats.total {
            anstream::println!(
                "\n{}",
                dim(format!(
                    "Showing the newest {} of {}; use --limit or filters (--severity, --type, --since) for more.",
                    render::count(shown as u64),
                    render::count(stats.total)
                ))
            );
        }
    }
    Ok(())
}

/// `diagd get` flags.
#[derive(Args, Clone, Debug)]
pub struct GetArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The log's id (as shown by `diagd logs`).
    pub id: String,
    /// The log as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `diagd get ID`: everything about one log.
pub async fn get(args: GetArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let log = client
        .get_log(pb::GetLogRequest {
            id: args.id.trim().to_string(),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner()
        .log
        .ok_or("diagd answered without the log")?;
    if args.json {
        println!("{}", json::line(&log, "LogEntry"));
    } else {
        anstream::print!("{}", render::log_details(&log));
    }
    Ok(())
}

/// `diagd stats` flags.
#[derive(Args, Clone, Debug)]
pub struct StatsArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Which logs to count.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Also the counts over time, per minute, hour or day (24 buckets back
    /// from --until or now, or from --since): a trend line per severity.
    #[arg(long = "by", value_parser = parse_bucket_width)]
    pub by: Option<pb::BucketWidth>,
    /// The counts as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn parse_bucket_width(name: &str) -> Result<pb::BucketWidth, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "minute" | "m" => Ok(pb::BucketWidth::Minute),
        "hour" | "h" => Ok(pb::BucketWidth::Hour),
        "day" | "d" => Ok(pb::BucketWidth::Day),
        other => Err(format!(
            "unknown bucket width {other:?} (minute, hour, day)"
        )),
    }
}

/// `diagd stats`: counts by severity and type, time span, live tails,
/// retention and the standby (when one takes reads).
pub async fn stats(args: StatsArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let stats = client
        .get_stats(pb::GetStatsRequest {
            filter: Some(log_filter_to_proto(&args.filter.to_filter())),
            bucket_width: args.by.map_or(0, |w| w as i32),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    if args.json {
        println!("{}", json::line(&stats, "GetStatsResponse"));
        return Ok(());
    }
    anstream::println!("{}\n", render::stats_header(&stats));
    if !stats.buckets.is_empty() {
        anstream::println!(
            "{} {} {} {}",
            bold("Over time"),
            render::time(stats.buckets[0].start.as_ref()),
            dim("→"),
            render::time(stats.buckets.last().and_then(|b| b.start.as_ref()))
        );
        for severity in [
            pb::Severity::Critical,
            pb::Severity::High,
            pb::Severity::Medium,
            pb::Severity::Low,
        ] {
            let counts: Vec<u64> = stats
                .buckets
                .iter()
                .map(|b| {
                    b.by_severity
                        .iter()
                        .find(|c| c.severity() == severity)
                        .map_or(0, |c| c.count)
                })
                .collect();
            anstream::println!(
                "  {} {}  {}",
                render::badge(severity),
                super::groups::sparkline(&counts),
                render::count(counts.iter().sum())
            );
        }
        println!();
    }
    let mut types: Vec<_> = stats.by_error_type.iter().filter(|c| c.count > 0).collect();
    types.sort_by_key(|c| std::cmp::Reverse(c.count));
    if !types.is_empty() {
        anstream::println!("{}", bold("By type"));
        for c in types {
            anstream::println!(
                "  {:<14}{:>12}",
                render::error_type_name(c.error_type()),
                render::count(c.count)
            );
        }
        println!();
    }
    if stats.total > 0 {
        anstream::println!(
            "{} {}  {} {}",
            dim("oldest"),
            render::time(stats.oldest.as_ref()),
            dim("newest"),
            render::time(stats.newest.as_ref())
        );
    }
    anstream::println!("{} {}", dim("live tails"), stats.live_subscribers);
    match &stats.retention {
        Some(retention) if retention.enabled => anstream::println!(
            "{} on; last run {}, deleted {} (total {})",
            dim("retention"),
            render::time(retention.last_run.as_ref()),
            render::count(retention.last_deleted),
            render::count(retention.total_deleted)
        ),
        _ => anstream::println!("{} off", dim("retention")),
    }
    if let Some(standby) = &stats.standby {
        anstream::println!("{} {}", dim("standby"), standby_line(standby));
    }
    Ok(())
}

/// The standby as `diagd stats` shows it: its state, lag, and where reads
/// went.
fn standby_line(standby: &pb::StandbyStatus) -> String {
    let seconds = |d: Option<&prost_types::Duration>| {
        d.map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
    };
    let state = match pb::StandbyState::try_from(standby.state) {
        Ok(pb::StandbyState::Streaming) => "streaming (takes reads)".to_string(),
        Ok(pb::StandbyState::Lagging) => format!(
            "lagging (more than {:.0} s behind: reads go to the primary)",
            seconds(standby.max_lag.as_ref())
        ),
        Ok(pb::StandbyState::Down) => format!("down (reads go to the primary): {}", standby.error),
        _ => format!(
            "lag not known yet (reads go to the primary): {}",
            standby.error
        ),
    };
    format!(
        "{state}; {:.1} s behind; reads {} on the standby, {} on the primary",
        seconds(standby.lag.as_ref()),
        render::count(standby.reads_on_standby),
        render::count(standby.reads_on_primary)
    )
}

/// `diagd search` flags.
#[derive(Args, Clone, Debug)]
pub struct SearchArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Within which logs.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// What to find: words (all must match, case ignored) and "quoted
    /// phrases", in messages, stack traces and context values.
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// Most hits to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: u32,
    /// One JSON object per hit, then the summary.
    #[arg(long)]
    pub json: bool,
}

/// `diagd search TEXT`: hits with their matches highlighted.
pub async fn search(args: SearchArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let mut stream = client
        .search_logs(pb::SearchLogsRequest {
            query: args.text.join(" "),
            filter: Some(log_filter_to_proto(&args.filter.to_filter())),
            limit: args.limit.min(i32::MAX as u32) as i32,
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    while let Some(response) = stream.message().await.map_err(|s| describe(&s))? {
        if args.json {
            println!("{}", json::line(&response, "SearchLogsResponse"));
            continue;
        }
        match response.result {
            Some(pb::search_logs_response::Result::Hit(hit)) => {
                let Some(log) = hit.log else { continue };
                anstream::println!("{}", render::log_line(&log));
                // One line per field: its first fragment, with every
                // matched term highlighted in it.
                let terms: Vec<String> = hit
                    .matches
                    .iter()
                    .filter_map(|m| m.fragment.get(m.start as usize..m.end as usize))
                    .map(str::to_string)
                    .collect();
                let mut fields_shown: Vec<&str> = Vec::new();
                for m in &hit.matches {
                    if fields_shown.contains(&m.field.as_str()) {
                        continue;
                    }
                    fields_shown.push(&m.field);
                    let mut ranges = render::occurrences(&m.fragment, &terms);
                    ranges.push((m.start as usize, m.end as usize));
                    let fragment = render::highlight_ranges(&m.fragment, &ranges);
                    anstream::println!(
                        "    {} {}",
                        dim(format!("{}:", m.field)),
                        fragment.replace('\n', " ⏎ ")
                    );
                }
            }
            Some(pb::search_logs_response::Result::Summary(summary)) => {
                let mut line = format!(
                    "{} matching log{} in {} ms",
                    render::count(summary.matched),
                    if summary.matched == 1 { "" } else { "s" },
                    summary.elapsed_ms
                );
                if summary.truncated {
                    line.push_str(" (more exist: raise --limit or narrow the filter)");
                }
                anstream::println!("\n{}", dim(line));
                if !summary.note.is_empty() {
                    anstream::println!("{}", dim(&summary.note));
                }
            }
            None => {}
        }
    }
    Ok(())
}
