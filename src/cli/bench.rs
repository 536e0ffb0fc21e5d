//! `diagd bench`: measures diagd on this machine with nothing set up. It
//! starts its own PostgreSQL (the embedded default, in a temporary
//! directory) unless DATABASE_URL is given, runs a diagd on a free port,
//! loads realistic logs through IngestLogs, then measures search and live
//! tail latency, and prints one table with the command that reproduces it.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use clap::Args;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{
    api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient},
    live::LiveOptions,
    server::{self, ServerOptions},
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
    /// Live-tail subscriber counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub subscribers: Vec<usize>,
    /// Logs sent per live-tail measurement.
    #[arg(long, default_value_t = 200)]
    pub tail_logs: usize,
    /// Use this PostgreSQL server (a fresh database `diagd_bench_<time>` is
    /// created on it) instead of a private embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded cluster goes (default: a new directory in /tmp,
    /// removed afterwards).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// One row of the results table.
struct Figure {
    what: String,
    value: String,
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
            let dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
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
    let result = measure(&args, &url).await;
    if let Some(cluster) = cluster {
        let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
    }
    let _ = std::fs::remove_dir_all(&temp);
    let figures = result?;
    print_table(&args, &figures);
    Ok(())
}

async fn measure(args: &BenchArgs, url: &str) -> Result<Vec<Figure>, String> {
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let shutdown = CancellationToken::new();
    let options = ServerOptions {
        live: LiveOptions {
            max_subscribers: args.subscribers.iter().copied().max().unwrap_or(1) + 10,
            ..LiveOptions::default()
        },
        ..ServerOptions::default()
    };
    let serving = tokio::spawn(server::run(
        store.clone(),
        listener,
        options,
        shutdown.clone(),
    ));
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

    // Load.
    eprintln!(
        "bench: loading {} logs through IngestLogs (4 streams, batches of 1000)",
        args.logs
    );
    let started = Instant::now();
    let streams = 4;
    let mut loaders = Vec::new();
    for stream in 0..streams {
        let mut client = connect().await?;
        let total = args.logs;
        loaders.push(tokio::spawn(async move {
            let batches = (stream..total.div_ceil(1000))
                .step_by(streams)
                .map(move |b| pb::IngestLogsRequest {
                    logs: (b * 1000..((b + 1) * 1000).min(total))
                        .map(realistic_log)
                        .collect(),
                });
            client
                .ingest_logs(tokio_stream::iter(batches))
                .await
                .map(|r| r.into_inner().accepted)
        }));
    }
    let mut loaded = 0;
    for loader in loaders {
        loaded += loader
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let load_time = started.elapsed();
    figures.push(Figure {
        what: format!("ingest: {loaded} logs, IngestLogs, 4 streams x 1000-log batches"),
        value: format!(
            "{:.0} logs/s ({:.1} s)",
            loaded as f64 / load_time.as_secs_f64(),
            load_time.as_secs_f64()
        ),
    });
    eprintln!("bench: VACUUM ANALYZE");
    store
        .refresh_statistics()
        .await
        .map_err(|e| e.to_string())?;

    // Search.
    let plan = store
        .explain_search(
            &Default::default(),
            &["NCCL".to_string(), "watchdog".to_string()],
        )
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("bench: plan of the index search for \"NCCL watchdog\":\n{plan}");
    let mut client = connect().await?;
    for (label, query) in [
        ("selective (1 in 10,000)", "NCCL watchdog"),
        ("common (~1 in 3)", "CUDA"),
        ("no match", "tensorflow"),
        ("stack trace part", "flash_attn_func"),
    ] {
        let mut totals = Vec::with_capacity(args.runs);
        let mut firsts = Vec::with_capacity(args.runs);
        let mut matched = 0;
        for _ in 0..args.runs {
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
        figures.push(Figure {
            what: format!("SearchLogs {label} \"{query}\", limit 100 ({matched} hits)"),
            value: format!(
                "p50 {} / p95 {}; first message p50 {} / p95 {}",
                ms(percentile(&mut totals, 50.0)),
                ms(percentile(&mut totals, 95.0)),
                ms(percentile(&mut firsts, 50.0)),
                ms(percentile(&mut firsts, 95.0))
            ),
        });
    }

    // Live tail.
    for &count in &args.subscribers {
        figures.push(tail_latency(&connect, count, args.tail_logs).await?);
    }
    shutdown.cancel();
    let _ = serving.await;
    Ok(figures)
}

/// Ingest→subscriber latency with `count` subscribers.
async fn tail_latency<F, Fut>(connect: &F, count: usize, logs: usize) -> Result<Figure, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    eprintln!("bench: live tail with {count} subscribers");
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(count * logs)));
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
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
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
                        latencies
                            .lock()
                            .unwrap()
                            .push(Duration::from_nanos((now.saturating_sub(sent)) as u64));
                    }
                    received += 1;
                }
            }
        }));
    }
    let mut sender = connect().await?;
    for _ in 0..logs {
        let log = pb::NewLog {
            severity: pb::Severity::Low as i32,
            message: format!("bench-tail {}", now_nanos()),
            ..Default::default()
        };
        sender
            .report_error(pb::ReportErrorRequest { log: Some(log) })
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let mut all = latencies.lock().unwrap().clone();
    Ok(Figure {
        what: format!(
            "live tail: ReportError -> {count} subscriber(s), {logs} logs, {} deliveries",
            all.len()
        ),
        value: format!(
            "p50 {} / p99 {}",
            ms(percentile(&mut all, 50.0)),
            ms(percentile(&mut all, 99.0))
        ),
    })
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
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
    let subscribers: Vec<String> = args.subscribers.iter().map(|s| s.to_string()).collect();
    let command = format!(
        "cargo run --release -- bench --logs {} --runs {} --subscribers {} --tail-logs {}",
        args.logs,
        args.runs,
        subscribers.join(","),
        args.tail_logs
    );
    println!("| measurement | result |");
    println!("| --- | --- |");
    for figure in figures {
        println!("| {} | {} |", figure.what, figure.value);
    }
    println!();
    println!("reproduce: {command}");
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
