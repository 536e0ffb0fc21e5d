//! `diagd bench`: measures diagd on this machine with nothing set up. It
//! starts its own PostgreSQL (the embedded default, in a temporary
//! directory) unless DATABASE_URL is given, runs `diagd serve` as a child
//! process on a free port (so its memory is its own), compares IngestLogs
//! with raw binary COPY of the same rows, loads realistic logs, then
//! measures ListLogs, GetStats, SearchLogs, ExportLogs (throughput, peak
//! RSS) and live-tail latency, and prints one table: each figure with its
//! goal and the command that reproduces it.

use std::{
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use clap::Args;
use tonic::transport::Channel;

use crate::{
    api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient},
    store::{
        PoolOptions, Store,
        embedded::{EmbeddedPostgres, Ownership},
    },
};

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
    /// Logs sent per live-tail measurement.
    #[arg(long, default_value_t = 200)]
    pub tail_logs: usize,
    /// Only these parts (comma-separated): ingest, list, stats, search,
    /// export, tail, hostile (the last only when named). The load and the
    /// RSS figures always run.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Part>,
    /// Use this PostgreSQL server (a fresh database `diagd_bench_<time>` is
    /// created on it) instead of a private embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded cluster goes (default: a new directory in /tmp,
    /// removed afterwards).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
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
    /// SearchLogs: selective, common, absent and stack-trace terms.
    Search,
    /// ExportLogs of everything: throughput and diagd's peak memory.
    Export,
    /// Live tail latency with each subscriber count.
    Tail,
    /// Heavy and hostile use: peak memory with 256 KiB logs on every path
    /// that returns or queues logs, ingest while 16 readers stall, 50
    /// concurrent reporters (see bench_hostile). Not in a run without
    /// --only.
    Hostile,
}

impl BenchArgs {
    fn runs(&self, part: Part) -> bool {
        (self.only.is_empty() && part != Part::Hostile) || self.only.contains(&part)
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
            Some(part @ ("list" | "stats")) => {
                command.push_str(&format!(" --fast-runs {} --only {part}", self.fast_runs))
            }
            Some(part) => command.push_str(&format!(" --only {part}")),
            None => {}
        }
        command
    }
}

/// One row of the results table.
pub(super) struct Figure {
    what: String,
    value: String,
    goal: String,
    /// Which `--only` part reproduces it (`None`: any run).
    part: Option<&'static str>,
}

impl Figure {
    pub(super) fn new(
        what: String,
        value: String,
        goal: &str,
        part: Option<&'static str>,
    ) -> Figure {
        Figure {
            what,
            value,
            goal: goal.to_string(),
            part,
        }
    }
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
    let result = measure(&args, &url, &temp).await;
    if let Some(cluster) = cluster {
        let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
    }
    let _ = std::fs::remove_dir_all(&temp);
    let figures = result?;
    print_table(&args, &figures);
    Ok(())
}

/// A `diagd serve` child process on a free port, so its memory can be read
/// apart from the benchmark's own; stopped with SIGTERM when dropped.
pub(super) struct DiagdProcess {
    child: std::process::Child,
    address: String,
}

impl DiagdProcess {
    async fn start(
        url: &str,
        max_subscribers: usize,
        log: &std::path::Path,
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        // DIAGD_BENCH_SERVER: another diagd binary to measure (e.g. an
        // older build, for a before/after on the same machine and day).
        let exe = match std::env::var_os("DIAGD_BENCH_SERVER") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe().map_err(|e| e.to_string())?,
        };
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = std::process::Command::new(exe)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--max-subscribers", &max_subscribers.to_string()])
            .args(["--log-level", "warn"])
            .env("DATABASE_URL", url)
            .env_remove("DIAGD_ADMIN_TOKENS")
            .env_remove("DIAGD_READ_TOKENS")
            .env_remove("DIAGD_INGEST_TOKENS")
            .env_remove("DIAGD_TOKENS_FILE")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting diagd serve: {e}"))?;
        let process = DiagdProcess {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = Channel::from_shared(process.address.clone())
                .map_err(|e| e.to_string())?
                .connect()
                .await
            {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                if let Ok(answer) = health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    && answer.into_inner().status == 1
                {
                    return Ok(process);
                }
            }
            if Instant::now() > deadline {
                return Err("diagd serve did not become healthy within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A line of /proc/<pid>/status in bytes (VmRSS: now, VmHWM: peak).
    pub(super) fn memory(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
    }

    /// Starts a new peak-memory measurement (Linux: clear_refs 5).
    pub(super) fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").is_ok()
    }
}

impl Drop for DiagdProcess {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

pub(super) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("unknown".into(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    })
}

async fn measure(
    args: &BenchArgs,
    url: &str,
    temp: &std::path::Path,
) -> Result<Vec<Figure>, String> {
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
    let mut figures = Vec::new();
    tokio::time::sleep(Duration::from_secs(1)).await;
    figures.push(Figure::new(
        "diagd RSS, idle after start (empty database)".into(),
        mib(diagd.memory("VmRSS:")),
        "< 40 MB",
        None,
    ));

    // Ingest: each configuration against COPY of the same rows, at the same
    // table size; then the rest of the load.
    let mut next = 0;
    if args.runs(Part::Ingest) {
        let sample = args.ingest_sample.min(args.logs / 4);
        for (batch, streams) in [(100, 1), (1000, 1), (100, 4), (1000, 4)] {
            let rows = next..next + sample;
            next += sample;
            eprintln!(
                "bench: {sample} logs by COPY (rolled back), then by IngestLogs {streams} x {batch}"
            );
            let copy_rate = copy_rate(&store, rows.clone()).await?;
            let (stored, elapsed) = ingest(&connect, rows, batch, streams).await?;
            let rate = stored as f64 / elapsed.as_secs_f64();
            figures.push(Figure::new(
                format!(
                    "ingest: IngestLogs, {streams} stream(s) x {batch}-log batches, {stored} logs; vs COPY binary of the same rows"
                ),
                format!(
                    "{rate:.0} logs/s vs COPY {copy_rate:.0} logs/s: ratio {:.2}",
                    rate / copy_rate
                ),
                "ratio >= 0.7",
                Some("ingest"),
            ));
        }
    }
    eprintln!(
        "bench: loading the remaining {} logs (4 streams x 1000)",
        args.logs - next
    );
    let (loaded, load_time) = ingest(&connect, next..args.logs, 1000, 4).await?;
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
    if args.runs(Part::Hostile) {
        figures.extend(super::bench_hostile::measure(&diagd, &connect).await?);
    }
    // Idle: longer than diagd's period for giving freed memory back (5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    figures.push(Figure::new(
        format!("diagd RSS, idle after the run ({} logs stored)", args.logs),
        mib(diagd.memory("VmRSS:")),
        "",
        None,
    ));
    drop(diagd);
    Ok(figures)
}

/// Rows per second of COPY (binary) of logs `rows`, in chunks of 10,000
/// rolled back after each (only the COPY itself is timed).
async fn copy_rate(store: &Store, rows: std::ops::Range<usize>) -> Result<f64, String> {
    let now = chrono::Utc::now();
    let mut copied = 0u64;
    let mut elapsed = Duration::ZERO;
    let rows: Vec<usize> = rows.collect();
    for chunk in rows.chunks(10_000) {
        let logs = chunk
            .iter()
            .map(|&n| crate::api::new_log(realistic_log(n), now).map_err(|e| e.reason))
            .collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        copied += store
            .copy_logs_and_roll_back(&logs)
            .await
            .map_err(|e| e.to_string())?;
        elapsed += started.elapsed();
    }
    Ok(copied as f64 / elapsed.as_secs_f64())
}

/// Sends logs `rows` through IngestLogs on `streams` concurrent streams in
/// batches of `batch`; returns the logs stored and the time taken. The
/// requests are built before the clock starts (as the COPY rows are), so
/// the figure is diagd's, not the benchmark's log generator's.
async fn ingest<F, Fut>(
    connect: &F,
    rows: std::ops::Range<usize>,
    batch: usize,
    streams: usize,
) -> Result<(u64, Duration), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    let mut stored = 0;
    let mut elapsed = Duration::ZERO;
    // In slices of 100,000 logs, to bound the memory of pre-built requests.
    let slices: Vec<std::ops::Range<usize>> = rows
        .clone()
        .step_by(100_000)
        .map(|from| from..(from + 100_000).min(rows.end))
        .collect();
    for slice in slices {
        let batches: Vec<pb::IngestLogsRequest> = slice
            .clone()
            .step_by(batch)
            .map(|from| pb::IngestLogsRequest {
                logs: (from..(from + batch).min(slice.end))
                    .map(realistic_log)
                    .collect(),
            })
            .collect();
        let mut per_stream: Vec<Vec<pb::IngestLogsRequest>> = vec![Vec::new(); streams];
        for (i, request) in batches.into_iter().enumerate() {
            per_stream[i % streams].push(request);
        }
        let mut clients = Vec::new();
        for _ in 0..streams {
            clients.push(connect().await?);
        }
        let started = Instant::now();
        let loaders: Vec<_> = clients
            .into_iter()
            .zip(per_stream)
            .map(|(mut client, requests)| {
                tokio::spawn(async move {
                    client
                        .ingest_logs(tokio_stream::iter(requests))
                        .await
                        .map(|r| r.into_inner().accepted)
                })
            })
            .collect();
        for loader in loaders {
            stored += loader
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        elapsed += started.elapsed();
    }
    Ok((stored, elapsed))
}

/// Times `runs` calls of `call`.
async fn timed<F, Fut, T>(runs: usize, mut call: F) -> Result<Vec<Duration>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await.map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// ListLogs: a filtered first page and a page 10,000 logs deep.
async fn list_logs(
    client: &mut DiagnosticsServiceClient<Channel>,
    runs: usize,
    stored: usize,
) -> Result<Vec<Figure>, String> {
    let filtered = pb::ListLogsRequest {
        filter: Some(pb::LogFilter {
            severities: vec![pb::Severity::High as i32],
            error_types: vec![pb::ErrorType::Oom as i32],
            ..Default::default()
        }),
        page_size: 50,
        ..Default::default()
    };
    let mut first = timed(runs, || {
        let mut client = client.clone();
        let request = filtered.clone();
        async move { client.list_logs(request).await }
    })
    .await?;
    // A token 200 pages (10,000 logs) deep.
    let mut token = String::new();
    for _ in 0..200 {
        let page = client
            .list_logs(pb::ListLogsRequest {
                page_size: 50,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let deep = pb::ListLogsRequest {
        page_size: 50,
        page_token: token,
        ..Default::default()
    };
    let mut deep_times = timed(runs, || {
        let mut client = client.clone();
        let request = deep.clone();
        async move { client.list_logs(request).await }
    })
    .await?;
    Ok(vec![
        Figure::new(
            format!("ListLogs at {stored} logs: first page of 50, severity HIGH + type OOM"),
            p50_p99(&mut first),
            "p99 < 5 ms",
            Some("list"),
        ),
        Figure::new(
            format!("ListLogs at {stored} logs: page of 50 after a token 10,000 logs deep"),
            p50_p99(&mut deep_times),
            "p99 < 5 ms",
            Some("list"),
        ),
    ])
}

/// GetStats: unfiltered, and the last 24 hours of the data.
async fn get_stats(
    client: &mut DiagnosticsServiceClient<Channel>,
    runs: usize,
    stored: usize,
) -> Result<Vec<Figure>, String> {
    let mut all = timed(runs, || {
        let mut client = client.clone();
        async move { client.get_stats(pb::GetStatsRequest::default()).await }
    })
    .await?;
    let newest = client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .newest
        .unwrap_or_default();
    let day = pb::GetStatsRequest {
        filter: Some(pb::LogFilter {
            since: Some(prost_types::Timestamp {
                seconds: newest.seconds - 86_400,
                nanos: newest.nanos,
            }),
            ..Default::default()
        }),
    };
    let mut last_day = timed(runs, || {
        let mut client = client.clone();
        let request = day.clone();
        async move { client.get_stats(request).await }
    })
    .await?;
    Ok(vec![
        Figure::new(
            format!("GetStats at {stored} logs: unfiltered"),
            p50_p99(&mut all),
            "p99 < 10 ms",
            Some("stats"),
        ),
        Figure::new(
            format!("GetStats at {stored} logs: the last 24 h of data (since = newest - 24 h)"),
            p50_p99(&mut last_day),
            "p99 < 10 ms",
            Some("stats"),
        ),
    ])
}

/// SearchLogs of four kinds of term.
async fn search(
    store: &Store,
    client: &mut DiagnosticsServiceClient<Channel>,
    runs: usize,
) -> Result<Vec<Figure>, String> {
    let plan = store
        .explain_search(
            &Default::default(),
            &["NCCL".to_string(), "watchdog".to_string()],
        )
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("bench: plan of the index search for \"NCCL watchdog\":\n{plan}");
    let mut figures = Vec::new();
    for (label, query, goal) in [
        ("selective (1 in 10,000)", "NCCL watchdog", "p95 < 50 ms"),
        ("common (~1 in 3)", "CUDA", "p95 < 50 ms"),
        ("no match", "tensorflow", "p95 < 50 ms"),
        ("stack trace part", "flash_attn_func", ""),
    ] {
        let mut totals = Vec::with_capacity(runs);
        let mut firsts = Vec::with_capacity(runs);
        let mut matched = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let mut stream = client
                .search_logs(pb::SearchLogsRequest {
                    query: query.into(),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            let mut first = None;
            while let Some(message) = stream.message().await.map_err(|e| e.to_string())? {
                first.get_or_insert_with(|| started.elapsed());
                if let Some(pb::search_logs_response::Result::Summary(summary)) = message.result {
                    matched = summary.matched;
                }
            }
            totals.push(started.elapsed());
            firsts.push(first.unwrap_or_default());
        }
        figures.push(Figure::new(
            format!("SearchLogs {label} \"{query}\", limit 100 ({matched} hits)"),
            format!(
                "p50 {} / p95 {}; first message p50 {} / p95 {}",
                ms(percentile(&mut totals, 50.0)),
                ms(percentile(&mut totals, 95.0)),
                ms(percentile(&mut firsts, 50.0)),
                ms(percentile(&mut firsts, 95.0))
            ),
            goal,
            Some("search"),
        ));
    }
    Ok(figures)
}

/// ExportLogs of everything (NDJSON), read by the client: throughput and
/// diagd's peak memory during it.
async fn export(
    diagd: &DiagdProcess,
    client: &mut DiagnosticsServiceClient<Channel>,
) -> Result<Figure, String> {
    // Let diagd give back what the load freed (it trims every 5 s), so the
    // peak is the export's.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = diagd.memory("VmRSS:");
    let peak_reset = diagd.reset_peak();
    let started = Instant::now();
    let mut stream = client
        .export_logs(pb::ExportLogsRequest {
            format: pb::ExportFormat::Ndjson as i32,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let mut bytes = 0u64;
    let mut total = 0u64;
    while let Some(message) = stream.message().await.map_err(|e| e.to_string())? {
        match message.part {
            Some(pb::export_logs_response::Part::Header(header)) => total = header.total_count,
            Some(pb::export_logs_response::Part::Chunk(chunk)) => bytes += chunk.len() as u64,
            None => {}
        }
    }
    let elapsed = started.elapsed();
    let peak = diagd.memory("VmHWM:");
    Ok(Figure::new(
        format!(
            "ExportLogs of {total} logs (NDJSON, {:.0} MB): throughput; diagd's peak RSS during it{}",
            bytes as f64 / 1e6,
            if peak_reset {
                ""
            } else {
                " (peak since start: clear_refs not writable)"
            }
        ),
        format!(
            "{:.1} MB/s ({:.1} s); peak RSS {} (RSS before: {})",
            bytes as f64 / 1e6 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            mib(peak),
            mib(before)
        ),
        "peak RSS < 150 MB",
        Some("export"),
    ))
}

pub(super) fn p50_p99(times: &mut [Duration]) -> String {
    format!(
        "p50 {} / p99 {}",
        ms(percentile(times, 50.0)),
        ms(percentile(times, 99.0))
    )
}

/// Ingest→subscriber latency with `count` subscribers.
async fn tail_latency<F, Fut>(connect: &F, count: usize, logs: usize) -> Result<Figure, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    eprintln!("bench: live tail with {count} subscribers");
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for i in 0..count {
        // At most 100 streams per connection.
        if i % 100 == 0 {
            ready.push(connect().await?);
        }
        let mut client = ready.last().cloned().ok_or("no connection")?;
        let mut stream = client
            .subscribe_logs(pb::SubscribeLogsRequest {
                query: "bench-tail".into(),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        // Wait for LIVE before sending anything.
        loop {
            match stream.message().await.map_err(|e| e.to_string())? {
                Some(pb::SubscribeLogsResponse {
                    event: Some(pb::subscribe_logs_response::Event::Notice(n)),
                    ..
                }) if n.kind == pb::NoticeKind::Live as i32 => break,
                Some(_) => continue,
                None => return Err("tail ended early".into()),
            }
        }
        // Each subscriber keeps its own figures (no lock shared by 1,000
        // tasks in the measurement itself).
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(logs);
            let mut received = 0;
            while received < logs {
                let Ok(Some(message)) = stream.message().await else {
                    break;
                };
                if let Some(pb::subscribe_logs_response::Event::Log(log)) = message.event {
                    let now = now_nanos();
                    if let Some(sent) = log
                        .message
                        .strip_prefix("bench-tail ")
                        .and_then(|t| t.parse::<u128>().ok())
                    {
                        latencies.push(Duration::from_nanos((now.saturating_sub(sent)) as u64));
                    }
                    received += 1;
                }
            }
            latencies
        }));
    }
    let mut sender = connect().await?;
    // How long ReportError itself takes (its commit included): the part of
    // the latency that is not the fan-out.
    let mut reports = Vec::with_capacity(logs);
    for _ in 0..logs {
        let log = pb::NewLog {
            severity: pb::Severity::Low as i32,
            message: format!("bench-tail {}", now_nanos()),
            ..Default::default()
        };
        let start = Instant::now();
        sender
            .report_error(pb::ReportErrorRequest { log: Some(log) })
            .await
            .map_err(|e| e.to_string())?;
        reports.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut all = Vec::with_capacity(count * logs);
    for task in tasks {
        if let Ok(Ok(latencies)) = tokio::time::timeout(Duration::from_secs(30), task).await {
            all.extend(latencies);
        }
    }
    Ok(Figure::new(
        format!(
            "live tail: ReportError -> {count} subscriber(s), {logs} logs, {} deliveries",
            all.len()
        ),
        format!(
            "{} (ReportError's own answer: {})",
            p50_p99(&mut all),
            p50_p99(&mut reports)
        ),
        "p99 < 10 ms",
        Some("tail"),
    ))
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

pub(super) fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn print_table(args: &BenchArgs, figures: &[Figure]) {
    println!("| measurement | result | goal | reproduce |");
    println!("| --- | --- | --- | --- |");
    for figure in figures {
        println!(
            "| {} | {} | {} | `{}` |",
            figure.what,
            figure.value,
            figure.goal,
            args.command(figure.part)
        );
    }
    println!();
    println!("whole run: {}", args.command(None));
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("diagd-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Log number `n` of a realistic load: ~40 message shapes with varying
/// numbers, 24 distinct stack traces (1–3 KB), 6–8 context keys, 50 hosts,
/// 200 runs, over 30 days. "NCCL watchdog" occurs once in 10,000 logs,
/// "CUDA" in about a third.
pub fn realistic_log(n: usize) -> pb::NewLog {
    let h = (n as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    let pick = |k: u64, m: u64| (h.rotate_right((k * 7 % 64) as u32) ^ (h >> 3)) % m;
    let (message, error_type, severity) = if n % 10_000 == 4321 {
        (
            format!(
                "NCCL watchdog thread terminated: collective timeout on rank {}",
                pick(1, 64)
            ),
            pb::ErrorType::Network,
            pb::Severity::Critical,
        )
    } else {
        match pick(0, 12) {
            0..=3 => (
                format!(
                    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate {} MiB (GPU {}; 79.15 GiB total capacity)",
                    64 << pick(2, 6),
                    pick(3, 8)
                ),
                pb::ErrorType::Oom,
                pb::Severity::High,
            ),
            4 => (
                format!(
                    "ConnectionError: HTTPSConnectionPool(host='hub.internal', port=443): Read timed out (attempt {})",
                    pick(2, 5)
                ),
                pb::ErrorType::Network,
                pb::Severity::Medium,
            ),
            5 => (
                format!(
                    "ValueError: learning_rate must be positive, got -{}e-4",
                    pick(2, 9)
                ),
                pb::ErrorType::Configuration,
                pb::Severity::Medium,
            ),
            6 => (
                format!(
                    "OSError: checkpoint shard model-{:05}-of-00008.safetensors is missing",
                    pick(2, 8)
                ),
                pb::ErrorType::ModelLoading,
                pb::Severity::High,
            ),
            7 | 8 => (
                format!(
                    "RuntimeError: loss is NaN at step {} (grad norm {}.{})",
                    pick(2, 100_000),
                    pick(3, 1000),
                    pick(4, 100)
                ),
                pb::ErrorType::Training,
                pb::Severity::High,
            ),
            9 => (
                format!(
                    "generation timed out after {} s for request {}",
                    30 + pick(2, 90),
                    pick(3, 1_000_000)
                ),
                pb::ErrorType::Inference,
                pb::Severity::Low,
            ),
            10 => (
                format!(
                    "FutureWarning: `evaluation_strategy` is deprecated (trainer step {})",
                    pick(2, 50_000)
                ),
                pb::ErrorType::Other,
                pb::Severity::Low,
            ),
            _ => (
                format!(
                    "DataLoader worker (pid {}) is killed by signal: Killed",
                    1000 + pick(2, 60_000)
                ),
                pb::ErrorType::Training,
                pb::Severity::Critical,
            ),
        }
    };
    let trace_kind = pick(5, 24);
    let frames = 10 + trace_kind * 2;
    let mut stack_trace = String::from("Traceback (most recent call last):\n");
    for f in 0..frames {
        let function = if trace_kind == 7 && f == frames - 1 {
            "flash_attn_func"
        } else {
            "forward"
        };
        stack_trace.push_str(&format!(
            "  File \"/opt/conda/lib/python3.11/site-packages/torch/nn/modules/module_{trace_kind}_{f}.py\", line {}, in {function}\n    return self._call_impl(*args, **kwargs)\n",
            100 + f * 7
        ));
    }
    let model = ["llama-2-7b", "mistral-7b", "qwen2-1.5b", "phi-3-mini"][pick(6, 4) as usize];
    let context = serde_json::json!({
        "model": model,
        "batch_size": 1 << pick(7, 7),
        "learning_rate": 0.0002,
        "step": pick(2, 100_000),
        "lora": {"r": 8 << pick(8, 3), "alpha": 16},
        "dataset": format!("corpus-{}", pick(4, 30)),
        "precision": if pick(3, 2) == 0 { "bf16" } else { "fp16" },
    });
    let occurred = 1_790_000_000 + (n as i64 * 2_592_000 / 1_000_000) % 2_592_000;
    pb::NewLog {
        occurred_at: Some(prost_types::Timestamp {
            seconds: occurred,
            nanos: (pick(9, 1_000_000) * 1000) as i32,
        }),
        severity: severity as i32,
        error_type: error_type as i32,
        message,
        stack_trace,
        context: Some(crate::api::json_to_struct(
            context.as_object().cloned().unwrap_or_default(),
        )),
        source: Some(pb::Source {
            host: format!("gpu-node-{:02}", pick(10, 50)),
            run_id: format!("run-{:03}", pick(11, 200)),
            component: ["trainer", "dataloader", "evaluator"][pick(12, 3) as usize].into(),
            labels: [("cluster".to_string(), "a100-pool".to_string())].into(),
        }),
        ..Default::default()
    }
}
