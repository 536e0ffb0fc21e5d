//! Readers that stall, cancel or ask too much cannot stop ingest: reads have
//! their own connections and a bounded number of long streams, a stalled
//! stream is ended, a cancelled search stops inside PostgreSQL, a search's
//! size is bounded, and a full clear does not wait on (or make ingest wait
//! behind) a stalled export.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, assert_status, ingest, new_log, report, test_options, test_pool};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// `count` logs with unique stack traces of `trace_bytes` each.
fn large_logs(count: usize, trace_bytes: usize) -> Vec<Vec<pb::NewLog>> {
    let logs: Vec<pb::NewLog> = (0..count)
        .map(|i| pb::NewLog {
            stack_trace: format!("trace {i}\n{}", "x".repeat(trace_bytes)),
            ..new_log(
                &format!("needle number {i}"),
                Severity::High,
                ErrorType::Training,
            )
        })
        .collect();
    logs.chunks(50).map(<[_]>::to_vec).collect()
}

/// Reports a log and says how long it took.
async fn timed_report(client: &mut common::Client, message: &str) -> Duration {
    let started = Instant::now();
    report(client, new_log(message, Severity::Critical, ErrorType::Oom)).await;
    started.elapsed()
}

/// Queries of diagd's read sessions on this database that wait for a lock
/// (what a search does while a test holds the logs table; the live-tail
/// hub, which waits too, has sessions of the write pool).
async fn active_searches(db: &tokio_postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = $1 AND state = 'active' AND wait_event_type = 'Lock'",
        &[&diagd::store::READ_APPLICATION_NAME],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn readers_that_stop_reading_cannot_stop_ingest() {
    let mut options = test_options();
    // Long enough that all sixteen open before any stalled one is ended.
    options.api.stream_stall = Duration::from_secs(8);
    let server = TestServer::start_with(options).await;
    let mut trainer = server.client().await;
    // More than a client's HTTP/2 windows and diagd's queues hold.
    ingest(&mut trainer, large_logs(300, 32 * 1024)).await;

    // Sixteen readers on connections of their own each read one message,
    // then stop reading: exports and searches with a high limit.
    let mut stalled = Vec::new();
    let mut refused = 0;
    for i in 0..16 {
        let mut reader = server.client().await;
        let opened = if i % 2 == 0 {
            reader
                .export_logs(pb::ExportLogsRequest::default())
                .await
                .map(|r| Box::new(r.into_inner()) as Box<dyn StreamRead>)
        } else {
            reader
                .search_logs(pb::SearchLogsRequest {
                    query: "needle".into(),
                    limit: 10_000,
                    ..Default::default()
                })
                .await
                .map(|r| Box::new(r.into_inner()) as Box<dyn StreamRead>)
        };
        match opened {
            Ok(mut stream) => {
                stream.next_message().await.expect("a first message");
                stalled.push((reader, stream));
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("--max-streams"), "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused,
        16 - diagd::api::admission::DEFAULT_MAX_STREAMS,
        "long readers are bounded below the read pool: {refused} of 16 refused"
    );

    // Ingest, short reads and health carry on at full speed.
    for i in 0..20 {
        let took = timed_report(&mut trainer, &format!("still reporting {i}")).await;
        assert!(took < Duration::from_secs(2), "ReportError took {took:?}");
    }
    let page = trainer
        .list_logs(pb::ListLogsRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .expect("ListLogs while readers stall")
        .into_inner();
    assert_eq!(page.logs[0].message, "still reporting 19");
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    common::wait_for_health(
        &mut health,
        "",
        tonic_health::pb::health_check_response::ServingStatus::Serving,
    )
    .await;

    // After the stall limit the stalled streams end with DEADLINE_EXCEEDED
    // and their slots are free again.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let mut later = server.client().await;
    let mut export = later
        .export_logs(pb::ExportLogsRequest::default())
        .await
        .expect("a slot is free again")
        .into_inner();
    while export.message().await.expect("a full export").is_some() {}
    for (_reader, mut stream) in stalled {
        loop {
            match stream.next_message().await {
                Ok(true) => continue,
                Ok(false) => panic!("a stalled stream ended as if complete"),
                Err(status) => {
                    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
                    assert!(status.message().contains("--stream-stall-secs"));
                    break;
                }
            }
        }
    }
}

/// Reading one message of either kind of stream.
#[tonic::async_trait]
trait StreamRead: Send {
    /// `Ok(true)` for a message, `Ok(false)` at the end.
    async fn next_message(&mut self) -> Result<bool, tonic::Status>;
}

#[tonic::async_trait]
impl<T: Send + 'static> StreamRead for tonic::Streaming<T> {
    async fn next_message(&mut self) -> Result<bool, tonic::Status> {
        Ok(self.message().await?.is_some())
    }
}

#[tokio::test]
async fn a_cancelled_search_stops_inside_postgresql() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log("needle", Severity::Low, ErrorType::Other),
    )
    .await;
    // Another session holds the table, so the search waits inside
    // PostgreSQL until it is cancelled.
    let db = common::connect_database(&server).await;
    db.batch_execute("BEGIN; LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut searcher = server.client().await;
    let probe = common::connect_database(&server).await;
    let search = tokio::spawn(async move {
        let mut stream = searcher
            .search_logs(pb::SearchLogsRequest {
                query: "needle".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        stream.message().await
    });
    // The probe must see the search waiting, or it would prove nothing.
    let deadline = Instant::now() + Duration::from_secs(5);
    while active_searches(&probe).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the search never reached PostgreSQL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The client gives up: the call and its stream are dropped.
    search.abort();
    assert!(search.await.unwrap_err().is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(5);
    while active_searches(&probe).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the cancelled search still runs in PostgreSQL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn a_read_that_runs_too_long_is_stopped_by_the_statement_timeout() {
    let mut pool = test_pool();
    pool.read_statement_timeout = Duration::from_secs(1);
    let server = TestServer::start_with_pool(test_options(), pool).await;
    let mut client = server.client().await;
    // Serving already (starting reads the logs table too).
    common::stats(&mut client).await;
    let db = common::connect_database(&server).await;
    db.batch_execute("BEGIN; LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let listed = client.list_logs(pb::ListLogsRequest::default()).await;
    assert_status(
        listed,
        Code::DeadlineExceeded,
        "--db-read-statement-timeout-secs",
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    db.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn search_queries_are_bounded_in_size_and_terms() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let many_terms = (0..10_000)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let search = |query: String| {
        let mut client = client.clone();
        async move {
            client
                .search_logs(pb::SearchLogsRequest {
                    query,
                    ..Default::default()
                })
                .await
                .map(|_| ())
        }
    };
    assert_status(
        search(many_terms).await,
        Code::InvalidArgument,
        "a search query may have at most 1024 bytes",
    );
    let seventeen = (0..17)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_status(
        search(seventeen).await,
        Code::InvalidArgument,
        "query: 17 terms; a search query may have at most 16",
    );
    let sixteen = (0..16)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    search(sixteen).await.expect("16 terms are fine");
    // The filter's substring is bounded too.
    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                filter: Some(pb::LogFilter {
                    message_contains: "x".repeat(2000),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "filter.message_contains",
    );
}

#[tokio::test]
async fn a_full_clear_does_not_wait_on_a_stalled_export_nor_hold_up_ingest() {
    let mut options = test_options();
    // Longer than the test: the clear must not depend on the stall limit.
    options.api.stream_stall = Duration::from_secs(600);
    let server = TestServer::start_with(options).await;
    let mut trainer = server.client().await;
    ingest(&mut trainer, large_logs(200, 20 * 1024)).await;

    let mut reader = server.client().await;
    let mut export = reader
        .export_logs(pb::ExportLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    export.message().await.unwrap().expect("the header");

    // Trainers keep reporting while an admin clears everything.
    let reporting = tokio::spawn({
        let mut trainer = trainer.clone();
        async move {
            let mut slowest = Duration::ZERO;
            for i in 0..40 {
                slowest = slowest.max(timed_report(&mut trainer, &format!("during {i}")).await);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slowest
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut admin = server.client().await;
    let started = Instant::now();
    let cleared = tokio::time::timeout(
        Duration::from_secs(10),
        common::clear(&mut admin, &[], false),
    )
    .await
    .expect("the clear did not wait for the stalled export");
    assert!(cleared.deleted_count >= 200, "{cleared:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let slowest = reporting.await.unwrap();
    assert!(
        slowest < Duration::from_secs(2),
        "ReportError took {slowest:?}"
    );

    // The export it ended says so instead of finishing as if complete.
    let ended = loop {
        match export.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the interrupted export ended as if complete"),
            Err(status) => break status,
        }
    };
    assert_ne!(ended.code(), Code::Ok);
}
