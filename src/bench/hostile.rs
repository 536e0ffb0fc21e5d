//! `diagd bench --only hostile`: diagd under heavy and hostile use, as the
//! hardening issue measured it. Peak resident memory of `diagd serve` for
//! every path that returns or queues 256 KiB logs (a 1,000-log page in full,
//! a 10,000-log backfill, 16 exports, a stalled live tail, a 5,000-error
//! report); ReportError and ingest while 16 readers stall, against the same
//! figures idle; and 50 concurrent reporters for 10 s, stored against
//! acknowledged.

use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::{DiagdProcess, Figure, mib, p50_p99, realistic_log};
use crate::api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient};

/// A diagd client.
type Client = DiagnosticsServiceClient<Channel>;

/// Large logs stored for the memory figures.
const LARGE_LOGS: usize = 400;
/// Their host, so the other parts' figures never read them.
const LARGE_HOST: &str = "bench-large-logs";

/// A log of about 256 KiB (200 KiB stack trace, 50 KiB context, 6 KiB
/// message), unique by `n`.
fn large_log(n: usize, host: &str) -> pb::NewLog {
    let context = prost_types::Struct {
        fields: [(
            "notes".to_string(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("n".repeat(50 * 1024))),
            },
        )]
        .into_iter()
        .collect(),
    };
    pb::NewLog {
        severity: pb::Severity::High as i32,
        error_type: pb::ErrorType::Training as i32,
        message: format!("large log {n} {}", "m".repeat(6 * 1024)),
        stack_trace: format!(
            "frame {n}\n{}",
            "at train_step (train.py:42)\n".repeat(7300)
        ),
        context: Some(context),
        source: Some(pb::Source {
            host: host.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The filter of the large logs.
fn large_filter(host: &str) -> Option<pb::LogFilter> {
    Some(pb::LogFilter {
        source: Some(pb::Source {
            host: host.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Stores `count` large logs on `host` (batches of 10).
async fn store_large(client: &mut Client, host: &str, count: usize) -> Result<(), String> {
    let requests: Vec<pb::IngestLogsRequest> = (0..count)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|chunk| pb::IngestLogsRequest {
            logs: chunk.iter().map(|&n| large_log(n, host)).collect(),
        })
        .collect();
    client
        .ingest_logs(tokio_stream::iter(requests))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// diagd's peak RSS while `work` runs (after a trim period, so the peak is
/// the work's).
async fn peak_during<F, Fut>(diagd: &DiagdProcess, work: F) -> Result<String, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = diagd.memory("VmRSS:");
    diagd.reset_peak();
    work().await?;
    Ok(format!(
        "peak RSS {} (before: {})",
        mib(diagd.memory("VmHWM:")),
        mib(before)
    ))
}

/// Runs the part.
pub(super) async fn measure<F, Fut>(
    diagd: &DiagdProcess,
    connect: &F,
) -> Result<Vec<Figure>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Client, String>>,
{
    let mut figures = Vec::new();
    let mut client = connect().await?;
    eprintln!("bench: storing {LARGE_LOGS} logs of 256 KiB");
    store_large(&mut client, LARGE_HOST, LARGE_LOGS).await?;
    let goal = "peak RSS < 200 MB";
    let row = |what: &str, value: String| {
        Figure::new(
            format!("{what} ({LARGE_LOGS} logs of 256 KiB stored)"),
            value,
            goal,
            Some("hostile"),
        )
    };

    eprintln!("bench: ListLogs, full view, 1,000 per page");
    let value = peak_during(diagd, || {
        let mut client = client.clone();
        async move {
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_logs(pb::ListLogsRequest {
                        page_size: 1000,
                        view: pb::LogView::Full as i32,
                        filter: large_filter(LARGE_HOST),
                        page_token,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                if page.next_page_token.is_empty() {
                    return Ok(());
                }
                page_token = page.next_page_token;
            }
        }
    })
    .await?;
    figures.push(row("ListLogs FULL, page_size 1000, every page", value));

    eprintln!("bench: SubscribeLogs with backfill 10,000");
    let value = peak_during(diagd, || {
        let mut client = client.clone();
        async move {
            let mut tail = client
                .subscribe_logs(pb::SubscribeLogsRequest {
                    filter: large_filter(LARGE_HOST),
                    backfill: 10_000,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            while let Some(message) = tail.message().await.map_err(|e| e.to_string())? {
                if let Some(pb::subscribe_logs_response::Event::Notice(notice)) = message.event
                    && notice.kind == pb::NoticeKind::Live as i32
                {
                    return Ok(());
                }
            }
            Err("the tail ended before LIVE".into())
        }
    })
    .await?;
    figures.push(row("SubscribeLogs backfill 10000", value));

    eprintln!("bench: 16 exports");
    let value = peak_during(diagd, || async {
        let mut done = 0;
        while done < 16 {
            let mut round = Vec::new();
            for _ in 0..(16 - done).min(8) {
                let mut client = connect().await?;
                round.push(tokio::spawn(async move {
                    let mut stream = match client
                        .export_logs(pb::ExportLogsRequest {
                            filter: large_filter(LARGE_HOST),
                            ..Default::default()
                        })
                        .await
                    {
                        Ok(response) => response.into_inner(),
                        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                            return Ok(false);
                        }
                        Err(status) => return Err(status.to_string()),
                    };
                    while stream.message().await.map_err(|e| e.to_string())?.is_some() {}
                    Ok::<_, String>(true)
                }));
            }
            for export in round {
                if export.await.map_err(|e| e.to_string())?? {
                    done += 1;
                }
            }
        }
        Ok(())
    })
    .await?;
    figures.push(row("16 ExportLogs (as many at once as admitted)", value));

    eprintln!("bench: a live tail that stops reading while 200 large logs arrive");
    let value = peak_during(diagd, || async {
        let mut reader = connect().await?;
        let mut tail = reader
            .subscribe_logs(pb::SubscribeLogsRequest {
                filter: large_filter("bench-large-live"),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        tail.message().await.map_err(|e| e.to_string())?;
        let mut writer = connect().await?;
        store_large(&mut writer, "bench-large-live", 200).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(tail);
        Ok(())
    })
    .await?;
    figures.push(row(
        "a stalled SubscribeLogs while 200 logs of 256 KiB arrive",
        value,
    ));

    eprintln!("bench: GenerateReport max_errors 5000, then its download");
    let value = peak_during(diagd, || {
        let mut client = client.clone();
        async move {
            let report = client
                .generate_report(pb::GenerateReportRequest {
                    filter: large_filter(LARGE_HOST),
                    max_errors: 5000,
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            let report_id = report.report.map(|r| r.report_id).unwrap_or_default();
            let mut download = client
                .download_report(pb::DownloadReportRequest { report_id })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            while download
                .message()
                .await
                .map_err(|e| e.to_string())?
                .is_some()
            {}
            Ok(())
        }
    })
    .await?;
    figures.push(row(
        "GenerateReport max_errors 5000 and DownloadReport",
        value,
    ));

    figures.extend(stalled_readers(connect).await?);
    figures.push(reporters(connect, 50, Duration::from_secs(10)).await?);
    Ok(figures)
}

/// ReportError answer times and IngestLogs throughput, or the first
/// failure (after which the phase stops: a server that cannot take ingest
/// while readers stall answers each call only after its pool timeout).
async fn ingest_figures(client: &mut Client, base: usize) -> Result<(Vec<Duration>, f64), String> {
    let mut times = Vec::with_capacity(500);
    for n in 0..500 {
        let started = Instant::now();
        client
            .report_error(pb::ReportErrorRequest {
                log: Some(realistic_log(base + n)),
            })
            .await
            .map_err(|e| format!("ReportError failed after {} ok: {e}", times.len()))?;
        times.push(started.elapsed());
    }
    let requests: Vec<pb::IngestLogsRequest> = (0..200)
        .map(|b| pb::IngestLogsRequest {
            logs: (0..100)
                .map(|i| realistic_log(base + 1000 + b * 100 + i))
                .collect(),
        })
        .collect();
    let started = Instant::now();
    let stored = client
        .ingest_logs(tokio_stream::iter(requests))
        .await
        .map_err(|e| format!("IngestLogs failed: {e}"))?
        .into_inner()
        .accepted;
    Ok((times, stored as f64 / started.elapsed().as_secs_f64()))
}

/// Reads the first message of an opened stream, then keeps the stream in
/// `held` unread (a stalled reader).
async fn read_one_then_hold<T: Send + 'static>(
    opened: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    held: &mut Vec<Box<dyn Send>>,
) -> Result<(), tonic::Status> {
    let mut stream = opened?.into_inner();
    let first = stream.message().await.map(|_| ());
    held.push(Box::new(stream));
    first
}

/// ReportError p99 and ingest throughput idle, then while 16 readers (8
/// exports, 8 searches of limit 10,000) each read one message and stop.
async fn stalled_readers<F, Fut>(connect: &F) -> Result<Vec<Figure>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Client, String>>,
{
    let mut trainer = connect().await?;
    eprintln!("bench: ReportError and IngestLogs idle");
    let (mut idle_times, idle_rate) = ingest_figures(&mut trainer, 50_000_000).await?;
    eprintln!("bench: 16 readers that stop reading");
    let mut stalled = Vec::new();
    let mut refused = 0;
    for i in 0..16 {
        let mut reader = connect().await?;
        let first = if i % 2 == 0 {
            let opened = reader
                .export_logs(pb::ExportLogsRequest {
                    filter: large_filter(LARGE_HOST),
                    ..Default::default()
                })
                .await;
            read_one_then_hold(opened, &mut stalled).await
        } else {
            let opened = reader
                .search_logs(pb::SearchLogsRequest {
                    query: "large log".into(),
                    limit: 10_000,
                    ..Default::default()
                })
                .await;
            read_one_then_hold(opened, &mut stalled).await
        };
        match first {
            Ok(()) => stalled.push(Box::new(reader) as Box<dyn Send>),
            Err(status) if status.code() == tonic::Code::ResourceExhausted => refused += 1,
            Err(status) => return Err(status.to_string()),
        }
    }
    // Measured once they stall: the streams first fill their queues and
    // HTTP/2 windows, which is work, not a stall.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled_phase = ingest_figures(&mut trainer, 60_000_000).await;
    drop(stalled);
    let (mut stalled_times, stalled_rate) = match stalled_phase {
        Ok(figures) => figures,
        Err(failure) => {
            return Ok(vec![Figure::new(
                format!(
                    "ReportError and IngestLogs while 16 readers stall ({} admitted, {refused} refused)",
                    16 - refused
                ),
                format!("FAILED: {failure}"),
                "no failure",
                Some("hostile"),
            )]);
        }
    };
    // Idle again: what changed between the two idle runs is the machine's
    // own drift (autovacuum after the loads, caches), not the readers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("bench: ReportError and IngestLogs idle again");
    let (mut after_times, after_rate) = ingest_figures(&mut trainer, 65_000_000).await?;
    let p99 = |times: &mut [Duration]| super::percentile(times, 99.0);
    let idle_p99 = (p99(&mut idle_times) + p99(&mut after_times)) / 2;
    let stalled_p99 = p99(&mut stalled_times);
    let idle_rate_mean = (idle_rate + after_rate) / 2.0;
    Ok(vec![
        Figure::new(
            format!(
                "ReportError, 500 sequential: idle, while 16 readers stall ({} admitted, {refused} refused RESOURCE_EXHAUSTED), idle again",
                16 - refused
            ),
            format!(
                "idle {}; stalled {}; idle again {}; stalled p99 / mean idle p99 {:.2}",
                p50_p99(&mut idle_times),
                p50_p99(&mut stalled_times),
                p50_p99(&mut after_times),
                stalled_p99.as_secs_f64() / idle_p99.as_secs_f64()
            ),
            "ratio <= 1.5",
            Some("hostile"),
        ),
        Figure::new(
            "IngestLogs 1 stream x 100-log batches, 20,000 logs: idle, while 16 readers stall, idle again"
                .into(),
            format!(
                "idle {idle_rate:.0} logs/s; stalled {stalled_rate:.0} logs/s; idle again {after_rate:.0} logs/s; stalled / mean idle {:.2}",
                stalled_rate / idle_rate_mean
            ),
            "ratio >= 0.67",
            Some("hostile"),
        ),
    ])
}

/// `tasks` concurrent reporters (one connection each) for `period`: rate,
/// answer times, errors, and what is stored against what was acknowledged.
pub(super) async fn reporters<F, Fut>(
    connect: &F,
    tasks: usize,
    period: Duration,
) -> Result<Figure, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Client, String>>,
{
    eprintln!(
        "bench: {tasks} concurrent reporters for {} s",
        period.as_secs()
    );
    let run_id = format!("bench-load-{}", uuid::Uuid::new_v4().simple());
    let mut handles = Vec::new();
    let started = Instant::now();
    for t in 0..tasks {
        let mut client = connect().await?;
        let run_id = run_id.clone();
        handles.push(tokio::spawn(async move {
            let (mut times, mut errors) = (Vec::new(), 0u64);
            let mut n = 0;
            while started.elapsed() < period {
                let mut log = realistic_log(70_000_000 + t * 1_000_000 + n);
                log.event_id = uuid::Uuid::new_v4().to_string();
                log.source.get_or_insert_with(Default::default).run_id = run_id.clone();
                let call = Instant::now();
                match client
                    .report_error(pb::ReportErrorRequest { log: Some(log) })
                    .await
                {
                    Ok(_) => times.push(call.elapsed()),
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            (times, errors)
        }));
    }
    let (mut times, mut errors) = (Vec::new(), 0);
    for handle in handles {
        let (t, e) = handle.await.map_err(|e| e.to_string())?;
        times.extend(t);
        errors += e;
    }
    let elapsed = started.elapsed();
    let mut client = connect().await?;
    let stored = client
        .get_stats(pb::GetStatsRequest {
            filter: Some(pb::LogFilter {
                source: Some(pb::Source {
                    run_id,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .total;
    let acknowledged = times.len() as u64;
    Ok(Figure::new(
        format!(
            "{tasks} concurrent ReportError callers for {} s",
            period.as_secs()
        ),
        format!(
            "{:.0}/s, {}, {errors} errors; stored {stored} = acknowledged {acknowledged}: {}",
            acknowledged as f64 / elapsed.as_secs_f64(),
            p50_p99(&mut times),
            if stored == acknowledged { "yes" } else { "NO" }
        ),
        ">= 998/s, p99 <= 105 ms, 0 errors, stored = acknowledged",
        Some("hostile"),
    ))
}
