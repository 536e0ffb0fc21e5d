//! `diagd bench`: measures diagd on this machine with nothing set up. It
//! starts its own PostgreSQL (the embedded default, in a temporary
//! directory) unless DATABASE_URL is given, runs `diagd serve` as a child
//! process on a free port (so its memory is its own), compares IngestLogs
//! with raw binary COPY of the same rows, loads realistic logs, then
//! measures ListLogs, GetStats, SearchLogs, ExportLogs (throughput, peak
//! RSS), live-tail latency and heartbeats, and prints one table: each figure with its
//! goal and the command that reproduces it.
//!
//! Not a client command: it starts PostgreSQL and diagd itself and calls
//! the store directly (COPY). Its parts: `workload` (what is sent),
//! `process` (the diagd measured), `measure` (each measurement), `table`
//! (the printed result), `hostile` (heavy and hostile use, `--only
//! hostile`), `heartbeats` (a fleet of training runs beating, `--only
//! runs`), `alerts` (alert delivery latency, `--only alerts`), `page`
//! (the browser page in Chromium, `--only page`).

mod alerts;
mod heartbeats;
mod hostile;
mod measure;
mod page;
mod process;
mod table;
mod workload;

use crate::{
    api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient},
    domain::LogFilter,
    store::{
        PoolOptions, Store,
        embedded::{EmbeddedPostgres, Ownership},
    },
};
use clap::Args;
use std::{
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tonic::transport::Channel;

pub use self::workload::realistic_log;
use self::workload::{copy_rate, hot_group_count, ingest, otlp_ingest};
use self::{measure::*, process::*, table::*};

/// `diagd bench` flags.
#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Logs to load before measuring.
    #[arg(long, default_value_t = 1_000_000)]
    pub logs: usize,
    /// Searches per term.
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// Calls per ListLogs / GetStats measurement (they are fast: more calls
    /// make the p99 meaningful).
    #[arg(long, default_value_t = 1000)]
    pub fast_runs: usize,
    /// Logs per ingest configuration compared with COPY (taken from the
    /// load, so the total stays --logs).
    #[arg(long, default_value_t = 50_000)]
    pub ingest_sample: usize,
    /// Live-tail subscriber counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub subscribers: Vec<usize>,
    /// Training runs of the runs part (8 members each, a heartbeat every 30 s).
    #[arg(long, default_value_t = 10_000)]
    pub fleet_runs: usize,
    /// Logs sent per live-tail measurement.
    #[arg(long, default_value_t = 200)]
    pub tail_logs: usize,
    /// Only these parts (comma-separated): ingest, list, stats, search,
    /// export, tail, runs, alerts, retention, hostile, reporters and page (the last
    /// three only when named). The load and the RSS figures always run.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Part>,
    /// Use this PostgreSQL server (a fresh database `diagd_bench_<time>` is
    /// created on it) instead of a private embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded cluster goes (default: a new directory in /tmp,
    /// removed afterwards). A directory given here is kept.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// With --data-dir: when its database already holds logs (kept from an
    /// earlier run), measure them instead of loading --logs again (a
    /// 10,000,000-log load takes half an hour). The ingest part then
    /// compares IngestLogs with COPY at that table size.
    #[arg(long, requires = "data_dir", conflicts_with = "database_url")]
    pub reuse: bool,
}

/// A part of the benchmark.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// IngestLogs in four configurations against COPY of the same rows.
    Ingest,
    /// ListLogs: a filtered first page and a deep page.
    List,
    /// GetStats: unfiltered and the last 24 hours.
    Stats,
    /// Error groups: ListGroups (two orders), GetGroup with a 30-day
    /// histogram, GetStats with 24 hourly buckets (all, and one group).
    Groups,
    /// SearchLogs: selective, common, absent and stack-trace terms.
    Search,
    /// ExportLogs of everything: throughput and diagd's peak memory.
    Export,
    /// Live tail latency with each subscriber count.
    Tail,
    /// Training runs: Heartbeat latency while a fleet beats (--fleet-runs
    /// runs x 8 members every 30 s), ingest alongside it, and how soon LOST
    /// and STUCK are seen.
    Runs,
    /// Alerts: from a CRITICAL log's commit to its webhook request
    /// arriving, alone and while ingest loads.
    Alerts,
    /// Heavy and hostile use: peak memory with 256 KiB logs on every path
    /// that returns or queues logs, ingest while 16 readers stall, 50
    /// concurrent reporters (see `hostile`). Not in a run without
    /// --only.
    Hostile,
    /// Only the last row of `hostile`: 50 concurrent ReportError callers for
    /// 10 s (one connection each). Not in a run without --only.
    Reporters,
    /// Retention: the two oldest days dropped whole (their partitions),
    /// then up to 20,000 logs of the next day deleted in batches as before
    /// partitions, for comparison. Last, as it removes two of the load's
    /// 30 days and part of a third.
    Retention,
    /// The browser page in Chromium: first meaningful paint, search as you
    /// type, the live list at 200 logs/s (needs Node.js, `web/node_modules`
    /// and Debian's chromium). Not in a run without --only.
    Page,
}

impl BenchArgs {
    fn runs(&self, part: Part) -> bool {
        (self.only.is_empty() && !matches!(part, Part::Hostile | Part::Reporters | Part::Page))
            || self.only.contains(&part)
    }

    /// The command that reproduces `part` alone.
    fn command(&self, part: Option<&str>) -> String {
        let mut command = format!("diagd bench --logs {}", self.logs);
        match part {
            Some("ingest") => command.push_str(&format!(
                " --ingest-sample {} --only ingest",
                self.ingest_sample
            )),
            Some("search") => command.push_str(&format!(" --runs {} --only search", self.runs)),
            Some("tail") => {
                let counts: Vec<String> = self.subscribers.iter().map(|s| s.to_string()).collect();
                command.push_str(&format!(
                    " --subscribers {} --tail-logs {} --only tail",
                    counts.join(","),
                    self.tail_logs
                ));
            }
            Some("runs") => {
                command.push_str(&format!(" --fleet-runs {} --only runs", self.fleet_runs))
            }
            Some(part @ ("list" | "stats" | "groups")) => {
                command.push_str(&format!(" --fast-runs {} --only {part}", self.fast_runs))
            }
            Some(part) => command.push_str(&format!(" --only {part}")),
            None => {}
        }
        command
    }
}

/// What fingerprinting one log of the realistic load costs: parsing its
/// traceback, normalising its message and hashing, on one core, in this
/// process (the server does the same work per log it ingests).
fn fingerprint_cost(sample: usize) -> Figure {
    use crate::domain::fingerprint::{GroupingOptions, fingerprint_with};
    let logs: Vec<pb::NewLog> = (0..sample.max(1)).map(realistic_log).collect();
    let options = GroupingOptions::default();
    let bytes: usize = logs
        .iter()
        .map(|l| l.message.len() + l.stack_trace.len())
        .sum();
    let started = Instant::now();
    for log in &logs {
        std::hint::black_box(fingerprint_with(
            &log.fingerprint,
            &log.message,
            &log.stack_trace,
            &options,
        ));
    }
    let elapsed = started.elapsed();
    Figure::new(
        format!(
            "fingerprinting: one realistic log (message + Python traceback, {} bytes on average), one core",
            bytes / logs.len()
        ),
        format!(
            "{:.1} us per log ({} logs)",
            elapsed.as_secs_f64() * 1e6 / logs.len() as f64,
            logs.len()
        ),
        "",
        Some("ingest"),
    )
}

/// Runs the benchmark and prints its table.
pub async fn run(args: BenchArgs) -> Result<(), String> {
    let temp = tempfile_dir()?;
    let (url, cluster) = match &args.database_url {
        Some(url) => {
            let name = format!("diagd_bench_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
            (crate::store::with_database_name(url, &name), None)
        }
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| temp.join("cluster"));
            eprintln!("bench: starting a private PostgreSQL in {}", dir.display());
            let cluster = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&dir, Ownership::Exclusive)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            (cluster.database_url("diagd_bench"), Some(cluster))
        }
    };
    let mut figures = Vec::new();
    let result = measure(&args, &url, &temp, &mut figures).await;
    if let Some(cluster) = cluster {
        let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
    }
    let _ = std::fs::remove_dir_all(&temp);
    // What was measured before a failure is printed too (a 10,000,000-log
    // run that fails late keeps its first hour's figures).
    print_table(&args, &figures);
    result
}

async fn measure(
    args: &BenchArgs,
    url: &str,
    temp: &std::path::Path,
    figures: &mut Vec<Figure>,
) -> Result<(), String> {
    let store = Store::connect(
        url,
        &PoolOptions {
            max_connections: 16,
            ..PoolOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let max_subscribers = args.subscribers.iter().copied().max().unwrap_or(1) + 10;
    let diagd = DiagdProcess::start(url, max_subscribers, &temp.join("diagd.log")).await?;
    let address = diagd.address.clone();
    let connect = || async {
        let channel = Channel::from_shared(address.clone())
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(
            DiagnosticsServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
        )
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    figures.push(Figure::new(
        if args.reuse {
            "diagd RSS, idle after start (the reused database)".into()
        } else {
            "diagd RSS, idle after start (empty database)".into()
        },
        mib(diagd.memory("VmRSS:")),
        "< 40 MB",
        None,
    ));

    // With --reuse, the logs of an earlier run are measured as they are;
    // the ingest part's rows follow them.
    let present = if args.reuse {
        store
            .stats_on_primary(&LogFilter::default())
            .await
            .map_err(|e| e.to_string())?
            .total() as usize
    } else {
        0
    };
    if present > 0 {
        eprintln!("bench: reusing the {present} logs already stored (--reuse)");
        figures.push(Figure::new(
            format!("load: reused, {present} logs already stored (--reuse)"),
            "not loaded again".into(),
            "",
            None,
        ));
    }
    // Ingest: each configuration against COPY of the same rows, at the same
    // table size; then the rest of the load.
    // Past every row number an earlier run used (a reused database may
    // hold fewer logs than it was loaded with, after retention).
    let mut next = if present > 0 {
        present.max(args.logs)
    } else {
        0
    };
    if args.runs(Part::Ingest) {
        let sample = args.ingest_sample.min(args.logs / 6);
        figures.push(fingerprint_cost(sample));
        for (batch, streams, hot) in [
            (100, 1, false),
            (1000, 1, false),
            (100, 4, false),
            (1000, 4, false),
            (1000, 4, true),
        ] {
            let rows = next..next + sample;
            next += sample;
            eprintln!(
                "bench: {sample} logs by COPY (rolled back), then by IngestLogs {streams} x {batch}{}",
                if hot { ", one hot group" } else { "" }
            );
            let copy_rate = copy_rate(&store, rows.clone()).await?;
            let (stored, elapsed) = ingest(&connect, rows, batch, streams, hot).await?;
            let rate = stored as f64 / elapsed.as_secs_f64();
            let goal = match (streams, batch, hot) {
                (1, 100, _) => "ratio >= 0.75",
                (4, 1000, false) => "ratio >= 0.9",
                (_, _, true) => "ratio >= 0.9, counts exact",
                _ => "ratio >= 0.7",
            };
            let mut what = format!(
                "ingest: IngestLogs, {streams} stream(s) x {batch}-log batches, {stored} logs{}; vs COPY binary of the same rows",
                if hot {
                    ", all in one hot error group"
                } else {
                    ", every log grouped"
                }
            );
            if hot {
                let counted = hot_group_count(&connect).await?;
                what.push_str(&format!(" (the group counts {counted})"));
            }
            figures.push(Figure::new(
                what,
                format!(
                    "{rate:.0} logs/s vs COPY {copy_rate:.0} logs/s: ratio {:.2}",
                    rate / copy_rate
                ),
                goal,
                Some("ingest"),
            ));
        }
    }
    if args.runs(Part::Ingest) {
        // OTLP Export against IngestLogs of the same logs, in the same run.
        let sample = args.ingest_sample.min(args.logs / 6);
        let rows = next..next + sample;
        next += sample;
        eprintln!(
            "bench: {sample} logs by IngestLogs 4 x 100, then the same logs by OTLP Export (4 clients x 100 records)"
        );
        let (stored, elapsed) = ingest(&connect, rows.clone(), 100, 4, false).await?;
        let ingest_rate = stored as f64 / elapsed.as_secs_f64();
        let (exported, elapsed) = otlp_ingest(&address, rows, 100, 4).await?;
        let otlp_rate = exported as f64 / elapsed.as_secs_f64();
        figures.push(Figure::new(
            format!(
                "ingest: OTLP Export, 4 clients x 100-record requests, {exported} logs; vs IngestLogs 4 x 100 of the same logs"
            ),
            format!(
                "{otlp_rate:.0} logs/s vs IngestLogs {ingest_rate:.0} logs/s: ratio {:.2}",
                otlp_rate / ingest_rate
            ),
            "ratio >= 0.8",
            Some("ingest"),
        ));
    }
    let load = if present > 0 { 0..0 } else { next..args.logs };
    eprintln!(
        "bench: loading the remaining {} logs (4 streams x 1000)",
        load.len()
    );
    let (loaded, load_time) = ingest(&connect, load, 1000, 4, false).await?;
    if loaded > 0 {
        figures.push(Figure::new(
            format!("load: {loaded} logs, IngestLogs, 4 streams x 1000-log batches"),
            format!(
                "{:.0} logs/s ({:.1} s)",
                loaded as f64 / load_time.as_secs_f64(),
                load_time.as_secs_f64()
            ),
            "",
            None,
        ));
    }
    eprintln!("bench: VACUUM ANALYZE");
    store
        .refresh_statistics()
        .await
        .map_err(|e| e.to_string())?;
    let mut client = connect().await?;

    if args.runs(Part::List) {
        eprintln!("bench: ListLogs");
        figures.extend(list_logs(&mut client, args.fast_runs, args.logs).await?);
    }
    if args.runs(Part::Stats) {
        eprintln!("bench: GetStats");
        figures.extend(get_stats(&mut client, args.fast_runs, args.logs).await?);
    }
    if args.runs(Part::Groups) {
        eprintln!("bench: ListGroups, GetGroup, GetStats with buckets");
        figures.extend(groups(&mut client, args.fast_runs, args.logs).await?);
    }
    if args.runs(Part::Search) {
        figures.extend(search(&store, &mut client, args.runs).await?);
    }
    if args.runs(Part::Export) {
        eprintln!("bench: ExportLogs of everything");
        figures.push(export(&diagd, &mut client).await?);
    }
    if args.runs(Part::Tail) {
        for &count in &args.subscribers {
            figures.push(tail_latency(&connect, count, args.tail_logs).await?);
        }
    }
    // Rows beyond --logs, for the parts that ingest while measuring.
    let mut extra = args.logs.max(next);
    if args.runs(Part::Runs) {
        let alongside = extra..extra + 2 * args.ingest_sample.min(args.logs / 6).max(1000);
        extra = alongside.end;
        figures.extend(
            heartbeats::measure(
                &connect,
                &store,
                args.fleet_runs,
                8,
                Duration::from_secs(30),
                Duration::from_secs(30),
                alongside,
            )
            .await?,
        );
    }
    if args.runs(Part::Alerts) {
        let load = extra..extra + args.ingest_sample.max(1000);
        figures.extend(alerts::measure(&connect, 300, 20.0, load).await?);
    }
    if args.runs(Part::Hostile) {
        figures.extend(hostile::measure(&diagd, &connect).await?);
    } else if args.runs(Part::Reporters) {
        figures.push(hostile::reporters(&connect, 50, Duration::from_secs(10)).await?);
    }
    if args.runs(Part::Page) {
        figures.extend(page::measure(&diagd.address, args.logs).await?);
    }
    if args.runs(Part::Retention) {
        eprintln!("bench: retention, a day dropped whole and a day deleted row by row");
        figures.extend(retention(&store).await?);
    }
    // Idle: longer than diagd's period for giving freed memory back (5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let stored = store
        .stats_on_primary(&LogFilter::default())
        .await
        .map_err(|e| e.to_string())?
        .total();
    figures.push(Figure::new(
        format!("diagd RSS, idle after the run ({stored} logs stored)"),
        mib(diagd.memory("VmRSS:")),
        "",
        None,
    ));
    drop(diagd);
    Ok(())
}

/// Retention: the two oldest days' partitions dropped, one after the other
/// (what retention does for a day wholly past the limit; the load's first
/// day is partial, the second whole), against rows of the next day deleted
/// in batches of 1,000 (what it did before partitions, and still does at
/// the edge): at most [`ROW_DELETES`] of them, the rest of the day
/// estimated at the same rate.
async fn retention(store: &Store) -> Result<Vec<Figure>, String> {
    let err = |e: crate::store::StoreError| e.to_string();
    let day_logs = |day: chrono::NaiveDate| {
        let (low, high) = crate::store::day_bounds(day);
        let filter = LogFilter {
            since: Some(low),
            until: Some(high),
            ..LogFilter::default()
        };
        async move { store.stats_on_primary(&filter).await.map(|s| s.total()) }
    };
    let mut figures = Vec::new();
    for _ in 0..2 {
        let days = store.partition_days().await.map_err(err)?;
        let Some(&first) = days.first() else {
            return Err("retention needs three days of logs".into());
        };
        let first_logs = day_logs(first).await.map_err(err)?;
        let started = Instant::now();
        let dropped = store
            .drop_oldest_day(crate::store::DropRule {
                before: Some(chrono::Utc::now()),
                keep_rows: None,
            })
            .await
            .map_err(err)?
            .ok_or("the oldest day was not dropped")?;
        let drop_time = started.elapsed();
        if dropped.logs != first_logs {
            return Err(format!(
                "dropped {} logs, the day's counts said {first_logs}",
                dropped.logs
            ));
        }
        figures.push(Figure::new(
            format!(
                "retention: the oldest day dropped whole ({} logs, its partition; counts kept exact)",
                dropped.logs
            ),
            format!("{:.0} ms", drop_time.as_secs_f64() * 1000.0),
            "< 1 s for 300,000 logs",
            Some("retention"),
        ));
    }
    let days = store.partition_days().await.map_err(err)?;
    let Some(&next) = days.first() else {
        return Err("retention needs three days of logs".into());
    };
    let next_logs = day_logs(next).await.map_err(err)?;
    let until = LogFilter {
        until: Some(crate::store::day_bounds(next).1),
        ..LogFilter::default()
    };
    let started = Instant::now();
    let mut deleted = 0;
    while deleted < ROW_DELETES {
        match store.delete_oldest_logs(&until, 1000).await.map_err(err)? {
            Some(n) if n > 0 => deleted += n,
            _ => break,
        }
    }
    let delete_time = started.elapsed();
    if deleted == 0 {
        return Err("retention deleted no row of the next day".into());
    }
    let whole_day = delete_time.as_secs_f64() * next_logs as f64 / deleted as f64;
    figures.push(Figure::new(
        format!(
            "retention: rows of the next day deleted in batches of 1,000 ({deleted} of its {next_logs} logs)"
        ),
        format!(
            "{:.0} ms; the whole day at this rate: {whole_day:.0} s",
            delete_time.as_secs_f64() * 1000.0
        ),
        "",
        Some("retention"),
    ));
    Ok(figures)
}

/// Most rows the retention part deletes one batch at a time.
const ROW_DELETES: u64 = 20_000;
