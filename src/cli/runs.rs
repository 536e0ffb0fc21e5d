//! `diagd runs` and `diagd run show ID`: training runs from a running diagd
//! — a table with each run's state, its members alive / stuck / lost, its
//! last step and heartbeat, and the one line naming the members behind;
//! one run in detail (every member, its error groups, its recent actions);
//! `--watch` follows state changes as diagd derives them.

use clap::{Args, Subcommand};
use tokio_stream::StreamExt;

use super::{
    ServerArgs, describe, json,
    render::{self, bold, dim, paint},
};
use crate::api::pb;

/// `diagd runs` flags.
#[derive(Args, Clone, Debug)]
pub struct RunsArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only runs in these states: alive, stuck, lost, finished, failed
    /// (repeat or separate with commas).
    #[arg(long = "state", value_delimiter = ',', value_parser = parse_state)]
    pub states: Vec<pb::RunState>,
    /// Only runs with a member on this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Most runs to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// After the table, follow state changes (of every run) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// One JSON object per run (or change), for programs.
    #[arg(long)]
    pub json: bool,
}

/// `diagd run` flags.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Machine output: one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: RunAction,
}

/// The run sub-commands.
#[derive(Subcommand, Clone, Debug)]
pub enum RunAction {
    /// One run: every member (state, step, last heartbeat), its error
    /// groups and its recent actions.
    Show {
        /// The run's id.
        id: String,
    },
}

pub(super) fn parse_state(text: &str) -> Result<pb::RunState, String> {
    match text.to_ascii_lowercase().as_str() {
        "alive" => Ok(pb::RunState::Alive),
        "stuck" => Ok(pb::RunState::Stuck),
        "lost" => Ok(pb::RunState::Lost),
        "finished" => Ok(pb::RunState::Finished),
        "failed" => Ok(pb::RunState::Failed),
        other => Err(format!(
            "unknown state {other:?}: alive, stuck, lost, finished or failed"
        )),
    }
}

/// A state's name, coloured by how much it needs a person.
fn state_name(value: i32) -> String {
    let state = pb::RunState::try_from(value).unwrap_or(pb::RunState::Unspecified);
    let (name, style) = match state {
        pb::RunState::Alive => ("alive", anstyle::AnsiColor::Green),
        pb::RunState::Stuck => ("stuck", anstyle::AnsiColor::Yellow),
        pb::RunState::Lost => ("lost", anstyle::AnsiColor::Red),
        pb::RunState::Finished => ("finished", anstyle::AnsiColor::Blue),
        pb::RunState::Failed => ("failed", anstyle::AnsiColor::Red),
        pb::RunState::Unspecified => ("new", anstyle::AnsiColor::White),
    };
    paint(
        anstyle::Style::new().fg_color(Some(style.into())).bold(),
        format!("{name:<8}"),
    )
}

fn step(step: Option<i64>) -> String {
    step.map_or_else(|| "-".into(), |s| s.to_string())
}

/// `diagd runs`.
pub async fn runs(args: RunsArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let mut request = pb::ListRunsRequest {
        states: args.states.iter().map(|s| *s as i32).collect(),
        host: args.host.clone().unwrap_or_default(),
        ..Default::default()
    };
    if !args.json {
        anstream::println!(
            "{}",
            bold(format!(
                "{:<8}  {:<28}  {:>7}  {:>10}  {:<20}  SUMMARY",
                "STATE", "RUN", "MEMBERS", "STEP", "LAST HEARTBEAT"
            ))
        );
    }
    let mut shown = 0;
    // One page size for every page (a page token is for its size).
    request.page_size = args.limit.clamp(1, 500) as u32;
    loop {
        let page = client
            .list_runs(request.clone())
            .await
            .map_err(|s| describe(&s))?
            .into_inner();
        for run in page.runs.iter().take(args.limit - shown) {
            if args.json {
                println!("{}", json::line(run, "Run"));
                continue;
            }
            anstream::println!(
                "{}  {:<28}  {:>7}  {:>10}  {:<20}  {}",
                state_name(run.state),
                run.run_id,
                format!("{}/{}", run.alive, run.members),
                step(run.max_step),
                render::time(run.last_heartbeat.as_ref()),
                run.summary,
            );
        }
        shown += page.runs.len().min(args.limit - shown);
        if page.next_page_token.is_empty() || shown >= args.limit || page.runs.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if shown == 0 && !args.json {
        anstream::println!(
            "{}",
            dim("no runs match (runs appear with their first heartbeat)")
        );
    }
    if args.watch {
        let mut changes = client
            .watch_runs(pb::WatchRunsRequest::default())
            .await
            .map_err(|s| describe(&s))?
            .into_inner();
        while let Some(message) = changes.next().await {
            let change = message
                .map_err(|s| describe(&s))?
                .change
                .unwrap_or_default();
            if args.json {
                println!("{}", json::line(&change, "RunChange"));
                continue;
            }
            let run = change.run.clone().unwrap_or_default();
            anstream::println!(
                "{}  {} {} on {}: {} → {}  {}",
                render::time(change.changed_at.as_ref()),
                bold(&change.run_id),
                if change.rank >= 0 {
                    format!("rank {}", change.rank)
                } else {
                    "a process".into()
                },
                change.host,
                state_name(change.from_state).trim_end(),
                state_name(change.to_state).trim_end(),
                dim(run.summary),
            );
        }
    }
    Ok(())
}

/// `diagd run …`.
pub async fn run(args: RunArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    match &args.action {
        RunAction::Show { id } => {
            let detail = client
                .get_run(pb::GetRunRequest { run_id: id.clone() })
                .await
                .map_err(|s| describe(&s))?
                .into_inner();
            if args.json {
                println!("{}", json::line(&detail, "GetRunResponse"));
                return Ok(());
            }
            let run = detail.run.clone().unwrap_or_default();
            anstream::println!(
                "{} {}  {}",
                state_name(run.state),
                bold(&run.run_id),
                run.summary
            );
            anstream::println!(
                "{}",
                dim(format!(
                    "{} members: {} alive, {} stuck, {} lost, {} finished, {} failed · steps {}–{} · started {} · last heartbeat {}",
                    run.members,
                    run.alive,
                    run.stuck,
                    run.lost,
                    run.finished,
                    run.failed,
                    step(run.min_step),
                    step(run.max_step),
                    render::time(run.started_at.as_ref()),
                    render::time(run.last_heartbeat.as_ref()),
                ))
            );
            anstream::println!(
                "\n{}",
                bold(format!(
                    "{:<8}  {:<24}  {:>6}  {:>8}  {:>10}  {:<11}  LAST HEARTBEAT",
                    "STATE", "HOST", "RANK", "PID", "STEP", "PHASE"
                ))
            );
            for member in &detail.members {
                let phase = pb::RunPhase::try_from(member.phase)
                    .map(|p| {
                        p.as_str_name()
                            .trim_start_matches("RUN_PHASE_")
                            .to_lowercase()
                    })
                    .unwrap_or_default();
                anstream::println!(
                    "{}  {:<24}  {:>6}  {:>8}  {:>10}  {:<11}  {}{}",
                    state_name(member.state),
                    member.host,
                    if member.rank >= 0 {
                        member.rank.to_string()
                    } else {
                        "-".into()
                    },
                    member.pid,
                    step(member.step),
                    phase,
                    render::time(member.last_heartbeat.as_ref()),
                    if member.message.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", dim(&member.message))
                    },
                );
            }
            if !detail.groups.is_empty() {
                anstream::println!("\n{}", bold("error groups"));
                for group in &detail.groups {
                    anstream::println!(
                        "{:>6}  {:>8}  {}",
                        group.id,
                        render::count(group.event_count),
                        group.title
                    );
                }
            }
            if !detail.recent_actions.is_empty() {
                anstream::println!("\n{}", bold("recent actions"));
                for action in &detail.recent_actions {
                    anstream::println!(
                        "{}  {}",
                        render::time(action.timestamp.as_ref()),
                        action.action
                    );
                }
            }
        }
    }
    Ok(())
}
