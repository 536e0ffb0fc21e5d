//! What the benchmark sends: realistic logs (message shapes, stack traces,
//! context, sources), IngestLogs loads on several streams, the same logs as
//! OTLP Export requests, and COPY of the same rows for comparison.

use super::*;
use opentelemetry_proto::tonic::{
    collector::logs::v1::{ExportLogsServiceRequest, logs_service_client::LogsServiceClient},
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    resource::v1::Resource,
};

/// Rows per second of COPY (binary) of logs `rows`, in chunks of 10,000
/// rolled back after each (only the COPY itself is timed).
pub(super) async fn copy_rate(store: &Store, rows: std::ops::Range<usize>) -> Result<f64, String> {
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
/// the figure is diagd's, not the benchmark's log generator's. `hot`: every
/// log carries one client fingerprint, so all land in one error group.
pub(super) async fn ingest<F, Fut>(
    connect: &F,
    rows: std::ops::Range<usize>,
    batch: usize,
    streams: usize,
    hot: bool,
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
                    .map(|n| {
                        let mut log = realistic_log(n);
                        if hot {
                            log.fingerprint = vec![HOT_GROUP.into()];
                        }
                        log
                    })
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

/// The client fingerprint of the hot-group ingest row.
pub(super) const HOT_GROUP: &str = "bench-hot-group";

/// Logs `0..OLD_TERM_LOGS` (the oldest of a load) may carry the term
/// "xformers" (see [`realistic_log`]).
pub(super) const OLD_TERM_LOGS: usize = 500_000;

/// In-app call sites of the realistic load's tracebacks.
const GROUP_SITES: u64 = 333;

/// Log number `n` of a realistic load: ~40 message shapes with varying
/// numbers, Python tracebacks (1–3 KB; 333 in-app call sites, each with
/// one of 24 library call chains, ending in the exception line; about
/// 4,000 distinct) that fall into about 2,000 error groups, 6–8 context keys, 50 hosts, 200 runs, over 30 days.
/// "NCCL watchdog" occurs once in 10,000 logs, "CUDA" in about a third,
/// "flash_attn_func" only in stack traces (1 in 24), "corpus-17" only in
/// context values (1 in 30), "xformers" in one in 25 of the oldest 500,000
/// logs and in no newer one.
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
    let site = pick(13, GROUP_SITES);
    let trace_kind = site % 24;
    let frames = 10 + trace_kind * 2;
    // The project's own frames, then the library's: the innermost in-app
    // frame is one of GROUP_SITES, so with the exception line below the
    // load falls into about 2,000 error groups. The library frames and line
    // numbers follow the site, so there are about 4,000 distinct traces
    // (stored once each).
    let mut stack_trace = format!(
        "Traceback (most recent call last):\n  File \"/workspace/llm/train.py\", line {}, in main\n    trainer.fit()\n  File \"/workspace/llm/steps/step_{site}.py\", line {}, in run_{site}\n    out = model(batch)\n",
        40 + site % 20,
        10 + site % 50
    );
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
    // The exception line: the message's shape, without its numbers (so a
    // trace is shared by many logs, as the same code path's are).
    let shape = message
        .split(|c: char| c.is_ascii_digit())
        .next()
        .unwrap_or("")
        .trim_end_matches([' ', '(', '-', '=', ':']);
    stack_trace.push_str(shape);
    stack_trace.push('\n');
    let model = ["llama-2-7b", "mistral-7b", "qwen2-1.5b", "phi-3-mini"][pick(6, 4) as usize];
    let mut context = serde_json::json!({
        "model": model,
        "batch_size": 1 << pick(7, 7),
        "learning_rate": 0.0002,
        "step": pick(2, 100_000),
        "lora": {"r": 8 << pick(8, 3), "alpha": 16},
        "dataset": format!("corpus-{}", pick(4, 30)),
        "precision": if pick(3, 2) == 0 { "bf16" } else { "fp16" },
    });
    // A medium-frequency term whose newest hits are old: one log in 25 of
    // the first 500,000 (the oldest half of a 1,000,000-log load) says it
    // used xformers attention.
    if n < OLD_TERM_LOGS && n % 25 == 11 {
        context["attention"] = "xformers".into();
    }
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

/// The event count of the largest error group (the hot group, right after
/// the hot-group ingest row).
pub(super) async fn hot_group_count<F, Fut>(connect: &F) -> Result<u64, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    let mut client = connect().await?;
    let page = client
        .list_groups(pb::ListGroupsRequest {
            order_by: pb::GroupOrder::Count as i32,
            page_size: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    Ok(page.groups.first().map_or(0, |g| g.event_count))
}

/// The realistic log `log` as an OpenTelemetry log record, as an OTLP
/// exporter would send it: `Type: message` split into the exception
/// attributes with the traceback, context as attributes, severity as its
/// OTLP number (LOW as WARN, so that it is stored with debug mode off).
fn otlp_record(log: &pb::NewLog) -> LogRecord {
    let string = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.into())),
        }),
        ..Default::default()
    };
    let mut attributes = Vec::new();
    let mut body = String::new();
    match log.message.split_once(": ") {
        Some((kind, message))
            if !kind.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') =>
        {
            attributes.push(string("exception.type", kind));
            attributes.push(string("exception.message", message));
        }
        _ => body = log.message.clone(),
    }
    if !log.stack_trace.is_empty() {
        attributes.push(string("exception.stacktrace", &log.stack_trace));
    }
    if let Some(context) = &log.context {
        for (key, value) in &context.fields {
            let value = match &value.kind {
                Some(prost_types::value::Kind::StringValue(s)) => Any::StringValue(s.clone()),
                Some(prost_types::value::Kind::NumberValue(n)) => Any::DoubleValue(*n),
                Some(prost_types::value::Kind::BoolValue(b)) => Any::BoolValue(*b),
                _ => continue,
            };
            attributes.push(KeyValue {
                key: key.clone(),
                value: Some(AnyValue { value: Some(value) }),
                ..Default::default()
            });
        }
    }
    let severity = match pb::Severity::try_from(log.severity) {
        Ok(pb::Severity::Critical) => 21,
        Ok(pb::Severity::High) => 17,
        _ => 13,
    };
    let time = log
        .occurred_at
        .as_ref()
        .map_or(0, |t| t.seconds as u64 * 1_000_000_000 + t.nanos as u64);
    LogRecord {
        time_unix_nano: time,
        severity_number: severity,
        body: (!body.is_empty()).then_some(AnyValue {
            value: Some(Any::StringValue(body)),
        }),
        attributes,
        ..Default::default()
    }
}

/// An Export of `logs`, one resource per source (host, run, component).
fn otlp_request(logs: &[pb::NewLog]) -> ExportLogsServiceRequest {
    let mut by_source: std::collections::BTreeMap<(String, String, String), Vec<LogRecord>> =
        std::collections::BTreeMap::new();
    for log in logs {
        let source = log.source.clone().unwrap_or_default();
        by_source
            .entry((source.host, source.run_id, source.component))
            .or_default()
            .push(otlp_record(log));
    }
    let string = |key: &str, value: String| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value)),
        }),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: by_source
            .into_iter()
            .map(|((host, run, component), records)| ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        string("host.name", host),
                        string("diagd.run_id", run),
                        string("service.name", component),
                    ],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// Stores logs `rows` through OTLP Export (`batch` records a request) from
/// `clients` concurrent clients; what was stored and how long it took.
pub(super) async fn otlp_ingest(
    address: &str,
    rows: std::ops::Range<usize>,
    batch: usize,
    clients: usize,
) -> Result<(u64, Duration), String> {
    let logs: Vec<pb::NewLog> = rows.map(realistic_log).collect();
    let mut per_client: Vec<Vec<ExportLogsServiceRequest>> = vec![Vec::new(); clients];
    for (i, chunk) in logs.chunks(batch).enumerate() {
        per_client[i % clients].push(otlp_request(chunk));
    }
    let mut connected = Vec::new();
    for _ in 0..clients {
        let channel = Channel::from_shared(address.to_string())
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        connected.push(LogsServiceClient::new(channel));
    }
    let started = Instant::now();
    let senders: Vec<_> = connected
        .into_iter()
        .zip(per_client)
        .map(|(mut client, requests)| {
            tokio::spawn(async move {
                let mut stored = 0u64;
                for request in requests {
                    let records: usize = request
                        .resource_logs
                        .iter()
                        .flat_map(|r| &r.scope_logs)
                        .map(|s| s.log_records.len())
                        .sum();
                    let answer = client
                        .export(request)
                        .await
                        .map_err(|e| e.to_string())?
                        .into_inner();
                    let rejected = answer
                        .partial_success
                        .map_or(0, |p| p.rejected_log_records as usize);
                    stored += (records - rejected) as u64;
                }
                Ok::<u64, String>(stored)
            })
        })
        .collect();
    let mut stored = 0;
    for sender in senders {
        stored += sender.await.map_err(|e| e.to_string())??;
    }
    Ok((stored, started.elapsed()))
}
