//! The measurements: ListLogs, GetStats, SearchLogs, ExportLogs (with
//! diagd's peak memory) and live-tail latency, each returning the table's
//! figures; and percentiles.

use super::*;

/// Times `runs` calls of `call`.
pub(super) async fn timed<F, Fut, T>(runs: usize, mut call: F) -> Result<Vec<Duration>, String>
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
pub(super) async fn list_logs(
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
pub(super) async fn get_stats(
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
        ..Default::default()
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

/// Error groups at `stored` logs: ListGroups in two orders, GetGroup with
/// its 30-day daily histogram, GetStats with 24 hourly buckets (all logs,
/// and one group's).
pub(super) async fn groups(
    client: &mut DiagnosticsServiceClient<Channel>,
    runs: usize,
    stored: usize,
) -> Result<Vec<Figure>, String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_groups(pb::ListGroupsRequest {
                page_size: 500,
                page_token: std::mem::take(&mut token),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        ids.extend(page.groups.iter().map(|g| g.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    if ids.is_empty() {
        return Err("no error groups after the load".into());
    }
    let count = ids.len();
    let mut figures = Vec::new();
    for (order, name) in [
        (pb::GroupOrder::LastSeen, "last seen"),
        (pb::GroupOrder::Count, "count"),
    ] {
        let mut times = timed(runs, || {
            let mut client = client.clone();
            async move {
                client
                    .list_groups(pb::ListGroupsRequest {
                        order_by: order as i32,
                        ..Default::default()
                    })
                    .await
            }
        })
        .await?;
        figures.push(Figure::new(
            format!("ListGroups at {stored} logs in {count} groups: first page of 50, by {name}"),
            p50_p99(&mut times),
            "p99 < 10 ms",
            Some("groups"),
        ));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut times = timed(runs, || {
        let mut client = client.clone();
        let id = ids[next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % ids.len()];
        async move {
            client
                .get_group(pb::GetGroupRequest {
                    id,
                    ..Default::default()
                })
                .await
        }
    })
    .await?;
    figures.push(Figure::new(
        format!("GetGroup at {stored} logs: each of {count} groups in turn, with its 30-day daily histogram, fingerprints, top hosts/runs and newest log"),
        p50_p99(&mut times),
        "p99 < 20 ms",
        Some("groups"),
    ));
    let newest = client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .newest
        .unwrap_or_default();
    for (group_ids, what) in [(vec![], "all logs"), (vec![ids[0]], "one group")] {
        let request = pb::GetStatsRequest {
            filter: Some(pb::LogFilter {
                since: Some(prost_types::Timestamp {
                    seconds: newest.seconds - 86_400,
                    nanos: 0,
                }),
                until: Some(newest),
                group_ids,
                ..Default::default()
            }),
            bucket_width: pb::BucketWidth::Hour as i32,
        };
        let mut times = timed(runs, || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.get_stats(request).await }
        })
        .await?;
        figures.push(Figure::new(
            format!(
                "GetStats at {stored} logs with 24 hourly buckets (the last day of data), {what}"
            ),
            p50_p99(&mut times),
            "p99 < 10 ms",
            Some("groups"),
        ));
    }
    Ok(figures)
}

/// SearchLogs of every class of term.
pub(super) async fn search(
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
    // Every class of term the issue of search at typing speed names, at
    // 1,000,000 logs: p95 < 30 ms, first hit p95 < 15 ms.
    let goal = "p95 < 30 ms, first p95 < 15 ms";
    for (label, query) in [
        ("selective (1 in 10,000), two words", "NCCL watchdog"),
        ("common (~1 in 3)", "CUDA"),
        ("typed on the way: 3 characters", "CUD"),
        (
            "typed on the way: 2 characters (newest 2,000 logs only)",
            "CU",
        ),
        ("medium (1 in 12), message and traces", "checkpoint"),
        ("medium (1 in 6), message and traces", "RuntimeError"),
        ("two words, medium", "nan loss"),
        ("three words, common", "out of memory"),
        ("quoted phrase", "\"loss is NaN\""),
        ("stack trace only (1 in 24)", "flash_attn_func"),
        ("context value only (1 in 30)", "corpus-17"),
        (
            "medium, newest hits old (1 in 25 of the oldest 500,000)",
            "xformers",
        ),
        ("no match", "tensorflow"),
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
pub(super) async fn export(
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
pub(super) async fn tail_latency<F, Fut>(
    connect: &F,
    count: usize,
    logs: usize,
) -> Result<Figure, String>
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

pub(super) fn now_nanos() -> u128 {
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
