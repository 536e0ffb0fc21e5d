//! Limits under load: ingest concurrency and open streams are bounded, and
//! over a limit the caller gets RESOURCE_EXHAUSTED naming it — never an
//! unbounded queue. The request timeout bounds answers, not long streams.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, assert_status, new_log, stats, test_options};
use diagd::api::{
    limits::Limits,
    pb::{self, ErrorType, Severity},
};
use tonic::Code;

#[tokio::test]
async fn ingest_over_the_concurrency_limit_is_refused_without_storing() {
    let mut options = test_options();
    options.api.limits = Limits::new(0, 256, 100); // every ingest finds the limit reached
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let started = Instant::now();
    let result = client
        .report_error(pb::ReportErrorRequest {
            log: Some(new_log("x", Severity::Low, ErrorType::Other)),
        })
        .await;
    assert_status(result, Code::ResourceExhausted, "--max-concurrent-ingest");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded wait: {:?}",
        started.elapsed()
    );
    let result = client
        .record_action(pb::RecordActionRequest {
            action: "a".into(),
            ..Default::default()
        })
        .await;
    assert_status(result, Code::ResourceExhausted, "retry with backoff");
    assert_eq!(stats(&mut client).await.total, 0);
}

#[tokio::test]
async fn open_streams_are_bounded_and_freed_when_closed() {
    // One search/export stream and one debug-mode watch at a time.
    let mut options = test_options();
    options.api.limits = Limits::new(64, 1, 1);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut first = client
        .watch_debug_mode(pb::WatchDebugModeRequest {})
        .await
        .unwrap()
        .into_inner();
    first.message().await.unwrap().expect("the current state");
    assert_status(
        client
            .watch_debug_mode(pb::WatchDebugModeRequest {})
            .await
            .map(|_| ()),
        Code::ResourceExhausted,
        "debug-mode watch limit reached: 1 open watches (--max-debug-watchers)",
    );

    // Watches have their own pool: searches still run, one after another
    // (each frees its slot when it ends).
    for _ in 0..3 {
        let mut search = client
            .search_logs(pb::SearchLogsRequest {
                query: "cuda".into(),
                ..Default::default()
            })
            .await
            .expect("a search while a watch is open")
            .into_inner();
        while search.message().await.unwrap().is_some() {}
    }

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match client.watch_debug_mode(pb::WatchDebugModeRequest {}).await {
            Ok(_) => break,
            Err(e) if e.code() == Code::ResourceExhausted && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the slot was not freed: {e:?}"),
        }
    }
}

#[tokio::test]
async fn over_the_stream_limit_searches_are_refused_naming_the_flag() {
    let mut options = test_options();
    options.api.limits = Limits::new(64, 0, 10);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    assert_status(
        client
            .search_logs(pb::SearchLogsRequest {
                query: "cuda".into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        Code::ResourceExhausted,
        "stream limit reached: 0 open streams (--max-streams)",
    );
    assert_status(
        client
            .export_logs(pb::ExportLogsRequest::default())
            .await
            .map(|_| ()),
        Code::ResourceExhausted,
        "--max-streams",
    );
}

#[tokio::test]
async fn the_request_timeout_does_not_cut_long_streams() {
    let mut options = test_options();
    options.request_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut tail = client
        .subscribe_logs(pb::SubscribeLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    tail.message().await.unwrap().expect("LIVE notice");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    common::report(
        &mut client,
        new_log("still here", Severity::Low, ErrorType::Other),
    )
    .await;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), tail.message())
            .await
            .expect("in time")
            .expect("the stream was not cut by the request timeout")
            .expect("open");
        if let Some(pb::subscribe_logs_response::Event::Log(log)) = message.event {
            assert_eq!(log.message, "still here");
            break;
        }
    }
}
