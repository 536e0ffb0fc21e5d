//! Limits under load: ingest concurrency and open streams are bounded, and
//! over a limit the caller gets RESOURCE_EXHAUSTED naming it — never an
//! unbounded queue. The request timeout bounds answers, not long streams.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, assert_status, new_log, stats, test_options};
use diagd::api::{
    admission::Limits,
    pb::{self, ErrorType, Severity},
};
use tonic::Code;

#[tokio::test]
async fn ingest_over_the_concurrency_limit_is_refused_without_storing() {
    let mut options = test_options();
    options.api.admission = Limits::new(0, 256, 100); // every ingest finds the limit reached
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
    options.api.admission = Limits::new(64, 1, 1);
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
    options.api.admission = Limits::new(64, 0, 10);
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

#[tokio::test]
async fn the_request_timeout_does_not_cut_ingest_streams() {
    let mut options = test_options();
    options.request_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let (batches, requests) = tokio::sync::mpsc::channel(4);
    let call = tokio::spawn({
        let mut client = client.clone();
        async move {
            client
                .ingest_logs(tokio_stream::wrappers::ReceiverStream::new(requests))
                .await
        }
    });
    let batch = |message: &str| pb::IngestLogsRequest {
        logs: vec![new_log(message, Severity::Low, ErrorType::Other)],
    };
    batches.send(batch("first batch")).await.unwrap();
    // Three times the request timeout between two batches of one stream.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    batches.send(batch("second batch")).await.unwrap();
    drop(batches);
    let response = call
        .await
        .unwrap()
        .expect("the stream was not cut by the request timeout")
        .into_inner();
    assert_eq!(response.accepted, 2, "{response:?}");
    assert_eq!(stats(&mut client).await.total, 2);
}

/// Whether the server closed `socket` within `within` (what it sent
/// before, such as its HTTP/2 settings, is skipped).
async fn closed_within(socket: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        while let Ok(n) = socket.read(&mut buffer).await
            && n > 0
        {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn silent_connections_are_closed_and_do_not_crowd_out_clients() {
    let mut options = test_options();
    options.connections = diagd::server::incoming::ConnectionLimits {
        max_connections: 8,
        handshake_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let server = TestServer::start_with(options).await;
    // Eight connections that never send a byte fill the limit.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more is closed at once, before any byte is read.
    let mut over = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut over, Duration::from_millis(500)).await,
        "a connection over --max-connections is closed at once"
    );
    // The silent ones are closed once the handshake deadline passes...
    for socket in &mut silent {
        assert!(
            closed_within(socket, Duration::from_secs(3)).await,
            "a silent connection is closed after the handshake deadline"
        );
    }
    // ...and a client that speaks gets in.
    let mut client = server.client().await;
    assert_eq!(stats(&mut client).await.total, 0);
    // A client that is idle after its handshake stays connected.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stats(&mut client).await.total, 0);
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let mut options = test_options();
    options.connections = diagd::server::incoming::ConnectionLimits {
        max_per_ip: 4,
        ..Default::default()
    };
    let server = TestServer::start_with(options).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut fifth, Duration::from_millis(500)).await,
        "a fifth connection from one address is closed at once"
    );
    // Closing one gives its place back (once diagd has seen it close).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut client = server.client().await;
        match client.get_stats(pb::GetStatsRequest::default()).await {
            Ok(answer) => {
                assert_eq!(answer.into_inner().total, 0);
                break;
            }
            Err(status) => assert!(
                Instant::now() < deadline,
                "the closed connection's place never came back: {status:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
