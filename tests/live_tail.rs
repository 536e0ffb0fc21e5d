//! The live tail: new logs matching a subscriber's filters arrive as soon as
//! they are committed — through any replica on the database — with backfill
//! or resume and no gap or duplicate at the seam; slow subscribers are told
//! what they missed, never slow anyone down; outages and clears are
//! announced; cancelled subscriptions free everything.

mod common;

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use common::{Client, TestServer, assert_status, new_log, report, stats, test_options};
use diagd::api::pb::{self, ErrorType, NoticeKind, Severity};
use tonic::{Code, Streaming};

type Tail = Streaming<pb::SubscribeLogsResponse>;

async fn subscribe(client: &mut Client, request: pb::SubscribeLogsRequest) -> Tail {
    client
        .subscribe_logs(request)
        .await
        .expect("SubscribeLogs")
        .into_inner()
}

/// The next message, within `timeout`.
async fn next(tail: &mut Tail, timeout: Duration) -> pb::SubscribeLogsResponse {
    tokio::time::timeout(timeout, tail.message())
        .await
        .expect("a tail message in time")
        .expect("no stream error")
        .expect("the stream is open")
}

/// Waits (at most 5 s) until diagd counts no live-tail subscriber.
async fn until_no_subscribers(client: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = stats(client).await.live_subscribers;
        if count == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {count} subscribers after cancellation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the LIVE notice; returns the replayed logs' messages.
async fn until_live(tail: &mut Tail) -> Vec<String> {
    let mut replayed = Vec::new();
    loop {
        let message = next(tail, Duration::from_secs(5)).await;
        match message.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(log) => replayed.push(log.message),
            pb::subscribe_logs_response::Event::Notice(n) if n.kind == NoticeKind::Live as i32 => {
                return replayed;
            }
            other => panic!("unexpected before LIVE: {other:?}"),
        }
    }
}

/// The next log on the tail (skipping heartbeats), with its cursor.
async fn next_log(tail: &mut Tail) -> (pb::LogEntry, String) {
    loop {
        let message = next(tail, Duration::from_secs(5)).await;
        match message.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(log) => return (log, message.cursor),
            pb::subscribe_logs_response::Event::Heartbeat(_) => continue,
            pb::subscribe_logs_response::Event::Notice(n) => panic!("unexpected notice {n:?}"),
        }
    }
}

/// Waits for a notice of `kind`, skipping logs and heartbeats.
async fn wait_notice(
    tail: &mut Tail,
    kind: NoticeKind,
    timeout: Duration,
) -> pb::SubscriptionNotice {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = next(tail, left.max(Duration::from_millis(1))).await;
        if let Some(pb::subscribe_logs_response::Event::Notice(n)) = message.event
            && n.kind == kind as i32
        {
            return n;
        }
    }
}

#[tokio::test]
async fn new_logs_matching_the_filter_arrive_when_notified_not_by_polling() {
    // The hub's safety-net poll is slowed to a minute: a log that arrives
    // within seconds came through the NOTIFY of its commit. (How fast is
    // measured by `diagd bench`, not here: another test's transaction in the
    // same cluster can hold a log back until it ends.)
    let mut options = test_options();
    options.tail.poll_interval = Duration::from_secs(60);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut tail = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            filter: Some(pb::LogFilter {
                severities: vec![Severity::High as i32, Severity::Critical as i32],
                ..Default::default()
            }),
            query: "cuda".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(until_live(&mut tail).await.is_empty());

    report(
        &mut client,
        new_log("CUDA error, low", Severity::Low, ErrorType::Oom),
    )
    .await;
    report(
        &mut client,
        new_log("network down, high", Severity::High, ErrorType::Network),
    )
    .await;
    let sent = Instant::now();
    report(
        &mut client,
        new_log("CUDA out of memory", Severity::Critical, ErrorType::Oom),
    )
    .await;
    let (log, cursor) = next_log(&mut tail).await;
    let latency = sent.elapsed();
    assert_eq!(
        log.message, "CUDA out of memory",
        "only matching logs arrive"
    );
    assert!(!cursor.is_empty());
    assert!(
        latency < Duration::from_secs(10),
        "arrived {latency:?} after ReportError returned"
    );
}

#[tokio::test]
async fn backfill_then_live_has_no_gap_and_no_duplicate_under_concurrent_ingest() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for i in 0..30 {
        report(
            &mut client,
            new_log(
                &format!("before {i}"),
                Severity::Medium,
                ErrorType::Training,
            ),
        )
        .await;
    }
    let mut writer = server.client().await;
    let writing = tokio::spawn(async move {
        for i in 0..200 {
            report(
                &mut writer,
                new_log(
                    &format!("during {i:03}"),
                    Severity::Medium,
                    ErrorType::Training,
                ),
            )
            .await;
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut tail = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            backfill: 20,
            ..Default::default()
        },
    )
    .await;
    let mut received = until_live(&mut tail).await;
    assert_eq!(received.len(), 20, "the newest 20 first");
    while !received.iter().any(|m| m == "during 199") {
        received.push(next_log(&mut tail).await.0.message);
    }
    writing.await.unwrap();
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), received.len(), "no duplicate at the seam");
    // From the first "during" log received, every later one arrives, in order.
    let during: Vec<u32> = received
        .iter()
        .filter_map(|m| m.strip_prefix("during ").map(|n| n.parse().unwrap()))
        .collect();
    let first = during[0];
    assert_eq!(
        during,
        (first..200).collect::<Vec<_>>(),
        "no gap: {received:?}"
    );
}

#[tokio::test]
async fn a_resumed_tail_replays_what_it_missed_then_goes_live() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;
    for i in 0..3 {
        report(
            &mut client,
            new_log(&format!("seen {i}"), Severity::Low, ErrorType::Other),
        )
        .await;
    }
    let mut cursor = String::new();
    for _ in 0..3 {
        cursor = next_log(&mut tail).await.1;
    }
    drop(tail);
    for i in 0..4 {
        report(
            &mut client,
            new_log(&format!("missed {i}"), Severity::Low, ErrorType::Other),
        )
        .await;
    }
    let mut tail = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            resume_cursor: cursor,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        until_live(&mut tail).await,
        ["missed 0", "missed 1", "missed 2", "missed 3"]
    );
    report(
        &mut client,
        new_log("after", Severity::Low, ErrorType::Other),
    )
    .await;
    assert_eq!(next_log(&mut tail).await.0.message, "after");

    assert_status(
        client
            .subscribe_logs(pb::SubscribeLogsRequest {
                resume_cursor: "bogus".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        Code::InvalidArgument,
        "resume_cursor: not a cursor sent by SubscribeLogs",
    );
}

#[tokio::test]
async fn a_log_ingested_through_one_replica_reaches_subscribers_of_another() {
    let a = TestServer::start().await;
    let b = TestServer::start_on(a.dbname.clone(), test_options()).await;
    let mut client_a = a.client().await;
    let mut client_b = b.client().await;
    let mut tail = subscribe(&mut client_b, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;
    client_a
        .ingest_logs(tokio_stream::iter(vec![pb::IngestLogsRequest {
            logs: vec![
                new_log("via A 1", Severity::High, ErrorType::Network),
                new_log("via A 2", Severity::High, ErrorType::Network),
            ],
        }]))
        .await
        .unwrap();
    assert_eq!(next_log(&mut tail).await.0.message, "via A 1");
    assert_eq!(next_log(&mut tail).await.0.message, "via A 2");
}

/// A server whose live-tail queues hold 8 logs, and two subscribers past
/// their LIVE notice: one that is to read nothing for a while, one that
/// keeps up.
async fn a_slow_and_a_fast_subscriber() -> (TestServer, Client, Tail, Tail) {
    let mut options = test_options();
    options.tail.buffer = 8;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut slow = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut slow).await;
    let mut fast = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut fast).await;
    (server, client, slow, fast)
}

/// Stores 300 logs ("`prefix` 0" to "`prefix` 299") whose context pads each
/// with `pad` bytes, in IngestLogs batches of `batch`.
async fn ingest_padded(client: &mut Client, prefix: &str, pad: usize, batch: usize) {
    let logs: Vec<pb::NewLog> = (0..300)
        .map(|i| pb::NewLog {
            context: Some(common::json_struct(
                serde_json::json!({"pad": "p".repeat(pad)}),
            )),
            ..new_log(&format!("{prefix} {i}"), Severity::Low, ErrorType::Other)
        })
        .collect();
    for chunk in logs.chunks(batch) {
        common::ingest(client, vec![chunk.to_vec()]).await;
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_told_what_it_missed_and_slows_no_one() {
    let (_server, mut client, mut slow, mut fast) = a_slow_and_a_fast_subscriber().await;

    // 300 logs, while the slow subscriber reads nothing.
    let started = Instant::now();
    ingest_padded(&mut client, "burst", 2000, 30).await;
    let ingest_time = started.elapsed();
    // The fast subscriber gets everything (it may lag a little, never lose).
    let mut fast_seen = 0;
    let mut fast_dropped = 0;
    while fast_seen + fast_dropped < 300 {
        match next(&mut fast, Duration::from_secs(5)).await.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(_) => fast_seen += 1,
            pb::subscribe_logs_response::Event::Notice(n)
                if n.kind == NoticeKind::Dropped as i32 =>
            {
                fast_dropped += n.count
            }
            _ => {}
        }
    }
    // Now the slow one reads: every log is either delivered or counted.
    let mut delivered = 0u64;
    let mut dropped = 0u64;
    while delivered + dropped < 300 {
        match next(&mut slow, Duration::from_secs(5)).await.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(_) => delivered += 1,
            pb::subscribe_logs_response::Event::Notice(n) => {
                assert_eq!(n.kind, NoticeKind::Dropped as i32, "{n:?}");
                assert!(n.message.contains("dropped"), "{}", n.message);
                dropped += n.count;
            }
            pb::subscribe_logs_response::Event::Heartbeat(_) => {}
        }
    }
    assert_eq!(
        delivered + dropped,
        300,
        "nothing lost without being counted"
    );
    assert!(
        dropped > 0,
        "the slow subscriber overflowed its buffer of 8"
    );
    assert!(
        ingest_time < Duration::from_secs(20),
        "ingest was not held up: {ingest_time:?}"
    );
}

#[tokio::test]
async fn cancelled_subscriptions_free_everything_and_the_limit_is_explicit() {
    let mut options = test_options();
    options.tail.max_subscribers = 2;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut first = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut first).await;
    let mut second = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut second).await;
    assert_eq!(stats(&mut client).await.live_subscribers, 2);
    assert_status(
        client
            .subscribe_logs(pb::SubscribeLogsRequest::default())
            .await
            .map(|_| ()),
        Code::ResourceExhausted,
        "live-tail subscriber limit reached: 2 subscribers (--max-subscribers)",
    );
    drop(first);
    drop(second);
    until_no_subscribers(&mut client).await;
    let mut again = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut again).await;
}

#[tokio::test]
async fn idle_tails_get_heartbeats_and_clears_are_announced() {
    let mut options = test_options();
    options.tail.heartbeat = Duration::from_millis(200);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log("to be cleared", Severity::Low, ErrorType::Other),
    )
    .await;
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;
    // (The log reported just before subscribing may still arrive live: the
    // seam is the hub's position at subscription time.)
    let mut message = next(&mut tail, Duration::from_secs(2)).await;
    if matches!(
        message.event,
        Some(pb::subscribe_logs_response::Event::Log(_))
    ) {
        message = next(&mut tail, Duration::from_secs(2)).await;
    }
    assert!(
        matches!(
            message.event,
            Some(pb::subscribe_logs_response::Event::Heartbeat(_))
        ),
        "{message:?}"
    );
    assert!(!message.cursor.is_empty());

    common::clear(&mut client, &[], false).await;
    let notice = wait_notice(&mut tail, NoticeKind::LogsCleared, Duration::from_secs(3)).await;
    assert_eq!(notice.count, 1);
}

#[tokio::test]
async fn invalid_subscriptions_are_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for (request, expected) in [
        (
            pb::SubscribeLogsRequest {
                query: "x".into(),
                ..Default::default()
            },
            "query: type at least 2 characters",
        ),
        (
            pb::SubscribeLogsRequest {
                backfill: 10_001,
                ..Default::default()
            },
            "backfill: at most 10000",
        ),
        (
            pb::SubscribeLogsRequest {
                filter: Some(pb::LogFilter {
                    error_types: vec![42],
                    ..Default::default()
                }),
                ..Default::default()
            },
            "filter.error_types[0]: unknown error type 42",
        ),
        (
            pb::SubscribeLogsRequest {
                query: "x ".repeat(600),
                ..Default::default()
            },
            "query: 1200 bytes; a search query may have at most 1024 bytes",
        ),
        (
            pb::SubscribeLogsRequest {
                query: (0..17).map(|i| format!("w{i} ")).collect(),
                ..Default::default()
            },
            "query: 17 terms; a search query may have at most 16 words or quoted phrases",
        ),
    ] {
        assert_status(
            client.subscribe_logs(request).await.map(|_| ()),
            Code::InvalidArgument,
            expected,
        );
    }

    // `backfill` is ignored on resume, so it is not checked then either.
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    let cursor = loop {
        let message = next(&mut tail, Duration::from_secs(5)).await;
        if !message.cursor.is_empty() {
            break message.cursor;
        }
    };
    let mut resumed = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            backfill: 10_001,
            resume_cursor: cursor,
            ..Default::default()
        },
    )
    .await;
    assert!(until_live(&mut resumed).await.is_empty());
}

/// PostgreSQL restarts under a running diagd: the subscriber is told, the
/// tail resumes by itself, and logs committed afterwards arrive.
#[tokio::test]
async fn a_postgres_restart_is_announced_and_the_tail_recovers() {
    let dir = tempfile::Builder::new()
        .prefix("diagd-restart-")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().join("pg");
    let cluster = common::start_private_cluster(&base).await;
    let url = cluster.database_url("diagd");
    let server = TestServer::start_at_url(url, test_options()).await;
    let mut client = server.client().await;
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().expect("stopping PostgreSQL");
        cluster
    })
    .await
    .unwrap();
    wait_notice(
        &mut tail,
        NoticeKind::DatabaseUnavailable,
        Duration::from_secs(10),
    )
    .await;

    drop(cluster);
    let restarted = common::start_private_cluster(&base).await;
    wait_notice(
        &mut tail,
        NoticeKind::DatabaseRestored,
        Duration::from_secs(15),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client
            .report_error(pb::ReportErrorRequest {
                log: Some(new_log(
                    "after the restart",
                    Severity::High,
                    ErrorType::Other,
                )),
            })
            .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code(), Code::Unavailable, "{e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("diagd did not recover: {e:?}"),
        }
    }
    assert_eq!(next_log(&mut tail).await.0.message, "after the restart");
    drop(tail);
    drop(client);
    drop(server);
    tokio::task::spawn_blocking(move || drop(restarted))
        .await
        .unwrap();
}

/// The same across operating-system processes: a `diagd serve` process on
/// the test database receives, for its subscriber, a log ingested through
/// another diagd.
#[tokio::test]
async fn a_log_ingested_through_one_process_reaches_a_subscriber_of_another_process() {
    let a = TestServer::start().await;
    let (process_b, port) = common::serve_on_database(&a.dbname);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client_b = loop {
        match pb::diagnostics_service_client::DiagnosticsServiceClient::connect(format!(
            "http://127.0.0.1:{port}"
        ))
        .await
        {
            Ok(client) => break client,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("diagd process B did not start: {e}"),
        }
    };
    let mut tail = subscribe(&mut client_b, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;
    let mut client_a = a.client().await;
    report(
        &mut client_a,
        new_log("from process A", Severity::High, ErrorType::Network),
    )
    .await;
    assert_eq!(next_log(&mut tail).await.0.message, "from process A");
    drop(tail);
    common::terminate(process_b).await;
}

/// A log of about 250 KiB (its stack trace), unique by `i`.
fn large_log(prefix: &str, i: usize) -> pb::NewLog {
    pb::NewLog {
        stack_trace: format!("{prefix} {i}\n{}", "t".repeat(250 * 1024)),
        ..new_log(
            &format!("{prefix} {i}"),
            Severity::High,
            ErrorType::Training,
        )
    }
}

/// A client of its own connection that accepts only 64 KiB unread, for a
/// subscriber that stalls (the default lets 2 MiB through, which would blur
/// what the server queues).
async fn small_window_client(server: &TestServer) -> Client {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .initial_stream_window_size(64 * 1024)
        .initial_connection_window_size(64 * 1024)
        .connect()
        .await
        .expect("connecting to diagd");
    pb::diagnostics_service_client::DiagnosticsServiceClient::new(channel)
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// Reads a tail until `logs` logs were delivered or counted as dropped;
/// returns how many were delivered and how many DROPPED notices came.
async fn delivered_and_drops(tail: &mut Tail, logs: u64) -> (u64, u64) {
    let (mut delivered, mut dropped, mut notices) = (0u64, 0u64, 0u64);
    while delivered + dropped < logs {
        match next(tail, Duration::from_secs(5)).await.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(_) => delivered += 1,
            pb::subscribe_logs_response::Event::Notice(n) => {
                assert_eq!(n.kind, NoticeKind::Dropped as i32, "{n:?}");
                dropped += n.count;
                notices += 1;
            }
            pb::subscribe_logs_response::Event::Heartbeat(_) => {}
        }
    }
    assert_eq!(delivered + dropped, logs, "every log delivered or counted");
    (delivered, notices)
}

#[tokio::test]
async fn stalled_subscribers_together_queue_at_most_the_live_tail_budget_and_give_it_back() {
    const TOTAL: usize = 1024 * 1024;
    let mut options = test_options();
    // Each subscriber alone could queue all the logs below; together they
    // may hold only 1 MiB.
    options.tail.buffer_bytes = 64 * 1024 * 1024;
    options.tail.total_bytes = TOTAL;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;

    // Three subscribers that read nothing while 64 logs of ~250 KiB arrive.
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut stalled_client = small_window_client(&server).await;
        let mut tail = subscribe(&mut stalled_client, pb::SubscribeLogsRequest::default()).await;
        until_live(&mut tail).await;
        stalled.push((stalled_client, tail));
    }
    const LOGS: u64 = 64;
    for i in 0..LOGS as usize {
        report(&mut client, large_log("large", i)).await;
    }
    // Every log is committed; let the hub hand them out before anyone reads.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut delivered = 0;
    for (_, tail) in &mut stalled {
        let (got, notices) = delivered_and_drops(tail, LOGS).await;
        assert!(notices > 0, "a DROPPED notice tells what was dropped");
        delivered += got;
    }
    // 1 MiB holds 4 such logs; each stream may also have taken two or so off
    // its queue into its own buffers (the encoder, the 64 KiB HTTP/2 window)
    // before its subscriber stalled them.
    assert!(
        delivered <= 4 + 3 * 4,
        "{delivered} logs of ~250 KiB reached three stalled subscribers sharing 1 MiB"
    );

    // Two more that go away without reading what is queued for them: the
    // bytes they still hold must come back.
    let mut unread = Vec::new();
    for _ in 0..2 {
        let mut stalled_client = small_window_client(&server).await;
        let mut tail = subscribe(&mut stalled_client, pb::SubscribeLogsRequest::default()).await;
        until_live(&mut tail).await;
        unread.push((stalled_client, tail));
    }
    for i in 0..16 {
        report(&mut client, large_log("unread", i)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(stalled);
    drop(unread);
    until_no_subscribers(&mut client).await;

    // The whole budget is free again: three large logs, queued before the
    // new subscriber reads, all arrive and nothing is dropped.
    let mut fresh = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut fresh).await;
    for i in 0..3 {
        report(&mut client, large_log("after", i)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        assert_eq!(next_log(&mut fresh).await.0.message, format!("after {i}"));
    }
}

#[tokio::test]
async fn a_stalled_subscriber_queues_at_most_its_byte_budget() {
    const BUDGET: usize = 1024 * 1024;
    let mut options = test_options();
    options.tail.buffer_bytes = BUDGET;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut stalled_client = small_window_client(&server).await;
    let mut stalled = subscribe(&mut stalled_client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut stalled).await;

    // 64 logs of ~250 KiB (16 MiB) while the subscriber reads nothing; the
    // count buffer (1024) would hold them all.
    const LOGS: u64 = 64;
    for i in 0..LOGS as usize {
        report(&mut client, large_log("large", i)).await;
    }
    // Every log is committed (ReportError returned); let the hub hand them
    // out before the subscriber reads again.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut delivered = 0u64;
    let mut dropped = 0u64;
    while delivered + dropped < LOGS {
        match next(&mut stalled, Duration::from_secs(5))
            .await
            .event
            .unwrap()
        {
            pb::subscribe_logs_response::Event::Log(_) => delivered += 1,
            pb::subscribe_logs_response::Event::Notice(n) => {
                assert_eq!(n.kind, NoticeKind::Dropped as i32, "{n:?}");
                dropped += n.count;
            }
            pb::subscribe_logs_response::Event::Heartbeat(_) => {}
        }
    }
    assert_eq!(delivered + dropped, LOGS, "every log delivered or counted");
    // The queue holds at most 4 such logs (1 MiB); two or so more may have
    // left it for the stream's own buffers (the encoder, the 64 KiB HTTP/2
    // window) before the subscriber stalled them.
    assert!(
        delivered <= 8,
        "{delivered} logs of ~250 KiB reached a subscriber with a 1 MiB budget"
    );
    assert!(dropped >= LOGS - 8, "{dropped} dropped");
}

#[tokio::test]
async fn a_backfill_of_large_logs_is_cut_by_the_byte_budget_and_says_how_many_it_left_out() {
    const BUDGET: usize = 1024 * 1024;
    let mut options = test_options();
    options.tail.replay_bytes = BUDGET;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    for i in 0..20 {
        report(&mut client, large_log("stored", i)).await;
    }

    // 12 asked for, of 20 stored: the newest that fit in 1 MiB are replayed,
    // the rest of the 12 are counted.
    let mut tail = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            backfill: 12,
            ..Default::default()
        },
    )
    .await;
    let first = next(&mut tail, Duration::from_secs(10)).await;
    let missed = match first.event.unwrap() {
        pb::subscribe_logs_response::Event::Notice(missed) => missed,
        pb::subscribe_logs_response::Event::Log(log) => {
            panic!("expected a MISSED notice first, got log {:?}", log.message)
        }
        other => panic!("expected a MISSED notice first, got {other:?}"),
    };
    assert_eq!(missed.kind, NoticeKind::Missed as i32, "{missed:?}");
    assert!(missed.message.contains("left out"), "{}", missed.message);
    let mut replayed = Vec::new();
    let mut bytes = 0;
    loop {
        let message = next(&mut tail, Duration::from_secs(5)).await;
        let size = prost::Message::encoded_len(&message);
        match message.event.unwrap() {
            pb::subscribe_logs_response::Event::Log(log) => {
                bytes += size;
                replayed.push(log.message);
            }
            pb::subscribe_logs_response::Event::Notice(n) if n.kind == NoticeKind::Live as i32 => {
                break;
            }
            other => panic!("unexpected during the backfill: {other:?}"),
        }
    }
    assert!(
        !replayed.is_empty(),
        "the newest logs that fit are replayed"
    );
    assert!(
        bytes <= BUDGET,
        "{bytes} bytes replayed over a {BUDGET}-byte budget"
    );
    assert_eq!(
        missed.count + replayed.len() as u64,
        12,
        "the notice counts what was left out of the 12 asked for"
    );

    // Live logs follow as usual; the newest stored ones may come live too,
    // when they had not settled at subscription time (another transaction
    // of the shared test cluster still running).
    report(&mut client, large_log("live", 0)).await;
    let mut seen = replayed.clone();
    loop {
        let (log, _) = next_log(&mut tail).await;
        if log.message == "live 0" {
            break;
        }
        seen.push(log.message);
    }
    let newest: Vec<String> = (20 - seen.len()..20)
        .map(|i| format!("stored {i}"))
        .collect();
    assert_eq!(seen, newest, "the newest, oldest first, no gap");
}

#[tokio::test]
async fn a_resume_over_large_logs_replays_the_newest_within_the_byte_budget() {
    const BUDGET: usize = 1024 * 1024;
    let mut options = test_options();
    options.tail.replay_bytes = BUDGET;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    until_live(&mut tail).await;
    report(&mut client, large_log("seen", 0)).await;
    let cursor = next_log(&mut tail).await.1;
    drop(tail);
    for i in 0..10 {
        report(&mut client, large_log("away", i)).await;
    }

    let mut tail = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            resume_cursor: cursor.clone(),
            ..Default::default()
        },
    )
    .await;
    let missed = wait_notice(&mut tail, NoticeKind::Missed, Duration::from_secs(10)).await;
    assert_eq!(missed.kind, NoticeKind::Missed as i32);
    let replayed = until_live(&mut tail).await;
    assert!(!replayed.is_empty() && replayed.len() < 10, "{replayed:?}");
    // The newest may come live instead, when they had not settled at
    // subscription time (another transaction of the shared test cluster).
    report(&mut client, large_log("after", 0)).await;
    let mut seen = replayed.clone();
    loop {
        let (log, _) = next_log(&mut tail).await;
        if log.message == "after 0" {
            break;
        }
        seen.push(log.message);
    }
    assert_eq!(
        missed.count + seen.len() as u64,
        10,
        "{}: every log since the cursor is replayed, counted or live",
        missed.message
    );
    let newest: Vec<String> = (10 - seen.len()..10).map(|i| format!("away {i}")).collect();
    assert_eq!(seen, newest, "the newest, oldest first, no gap");
}

#[tokio::test]
async fn a_backfill_is_cut_by_the_live_tail_budget_and_gives_it_back_once_sent() {
    const TOTAL: usize = 1024 * 1024;
    let mut options = test_options();
    options.tail.replay_bytes = 64 * 1024 * 1024;
    options.tail.total_bytes = TOTAL;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    for i in 0..12 {
        report(&mut client, large_log("stored", i)).await;
    }
    // Let the hub move past them (nobody follows yet), so that none is also
    // queued live for the subscribers below, which would share the budget.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Twice in a row: the first replay's bytes came back once it was sent,
    // so the second is cut too but not shut out.
    for _ in 0..2 {
        let mut tail = subscribe(
            &mut client,
            pb::SubscribeLogsRequest {
                backfill: 12,
                ..Default::default()
            },
        )
        .await;
        let missed = wait_notice(&mut tail, NoticeKind::Missed, Duration::from_secs(10)).await;
        assert!(missed.message.contains("left out"), "{}", missed.message);
        let replayed = until_live(&mut tail).await;
        assert!(
            !replayed.is_empty() && replayed.len() <= 4,
            "1 MiB holds at most 4 logs of ~250 KiB: {replayed:?}"
        );
        assert_eq!(
            missed.count + replayed.len() as u64,
            12,
            "the notice counts what was left out of the 12 asked for"
        );
    }
}

/// Waits (at most 10 s) until `check` finds a row in the test's database.
async fn until_a_row(db: &tokio_postgres::Client, check: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.query_opt(check, &[]).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "no row for {check}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Generation =
    tokio::task::JoinHandle<Result<tonic::Response<pb::GenerateReportResponse>, tonic::Status>>;

/// Starts GenerateReport and holds it at its first part: the returned
/// session's transaction locks the parts table (taking no transaction id
/// itself) until it commits.
async fn a_report_held_at_its_first_part(
    server: &TestServer,
) -> (tokio_postgres::Client, Generation) {
    let db = common::connect_database(server).await;
    db.batch_execute("BEGIN; LOCK TABLE report_parts IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let xid: Option<String> = db
        .query_one("SELECT pg_current_xact_id_if_assigned()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(xid, None, "the lock alone takes no transaction id");
    let mut generating = server.client().await;
    let generation = tokio::spawn(async move {
        generating
            .generate_report(pb::GenerateReportRequest::default())
            .await
    });
    // Looked for from another session: one in a transaction sees the
    // activity of when its transaction began.
    let waiting_for_the_lock = "SELECT 1 FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND query LIKE '%report_parts%'";
    until_a_row(
        &common::connect_database(server).await,
        waiting_for_the_lock,
    )
    .await;
    (db, generation)
}

#[tokio::test]
async fn a_report_being_generated_holds_back_neither_the_live_tail_nor_its_backfill() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for i in 0..20 {
        report(
            &mut client,
            new_log(
                &format!("in the report {i}"),
                Severity::High,
                ErrorType::Oom,
            ),
        )
        .await;
    }
    let (db, generation) = a_report_held_at_its_first_part(&server).await;

    // Meanwhile the tail delivers a new log live, and a new tail's backfill
    // includes a log committed just before it was opened.
    let mut tail = subscribe(&mut client, pb::SubscribeLogsRequest::default()).await;
    assert!(until_live(&mut tail).await.is_empty());
    report(
        &mut client,
        new_log("while the report runs", Severity::High, ErrorType::Network),
    )
    .await;
    let (live, _) = next_log(&mut tail).await;
    assert_eq!(live.message, "while the report runs");
    let mut backfilled = subscribe(
        &mut client,
        pb::SubscribeLogsRequest {
            backfill: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(until_live(&mut backfilled).await, ["while the report runs"]);

    // Until it is ready, the report is nowhere to be seen.
    let listed = client
        .list_reports(pb::ListReportsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reports.is_empty(), "{listed:?}");
    assert!(!generation.is_finished());

    db.batch_execute("COMMIT").await.unwrap();
    let stored = generation
        .await
        .unwrap()
        .expect("GenerateReport")
        .into_inner()
        .report
        .unwrap();
    // Its logs are those of when it began.
    assert_eq!(stored.error_count, 20);
    let listed = client
        .list_reports(pb::ListReportsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reports, [stored]);
}

#[tokio::test]
async fn an_abandoned_report_generation_leaves_nothing_behind() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log("in the report", Severity::High, ErrorType::Oom),
    )
    .await;
    let (db, generation) = a_report_held_at_its_first_part(&server).await;
    let unfinished: i64 = db
        .query_one("SELECT count(*) FROM reports WHERE NOT ready", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unfinished, 1, "the report's row exists, not ready");
    // The caller goes away mid-generation.
    generation.abort();
    let _ = generation.await;
    db.batch_execute("COMMIT").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = db
            .query_one(
                "SELECT (SELECT count(*) FROM reports) + (SELECT count(*) FROM report_parts)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} rows of the abandoned report remain"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And a generation after it works as before.
    let stored = client
        .generate_report(pb::GenerateReportRequest::default())
        .await
        .expect("GenerateReport")
        .into_inner()
        .report
        .unwrap();
    assert_eq!(stored.error_count, 1);
}

#[tokio::test]
async fn a_clear_is_announced_even_to_a_subscriber_whose_queue_was_full() {
    let (_server, mut client, mut slow, mut watcher) = a_slow_and_a_fast_subscriber().await;

    // Large logs, so that the slow subscriber's queue — and the HTTP/2
    // windows before it — fill while it reads nothing.
    ingest_padded(&mut client, "before the clear", 60_000, 20).await;
    common::clear(&mut client, &[], false).await;
    // Once the watcher has the notice, the hub has offered it to the slow
    // subscriber too — whose queue was full.
    let cleared = wait_notice(
        &mut watcher,
        NoticeKind::LogsCleared,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(cleared.count, 300);

    let notice = wait_notice(&mut slow, NoticeKind::LogsCleared, Duration::from_secs(20)).await;
    assert_eq!(notice.count, 300, "{notice:?}");
}
