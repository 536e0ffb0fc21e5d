//! Workflow 4, "Enable Debug Mode": one switch, persisted in PostgreSQL,
//! followed at once by every diagd on the database (and by WatchDebugMode
//! streams), turning diagd's own logging verbose until it is switched off
//! or its auto-off time passes.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{Client, TestServer, assert_status, test_options};
use diagd::api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient};
use tonic::Code;

async fn get(client: &mut Client) -> pb::DebugMode {
    client
        .get_debug_mode(pb::GetDebugModeRequest {})
        .await
        .unwrap()
        .into_inner()
        .debug_mode
        .unwrap()
}

async fn set(client: &mut Client, enabled: bool, auto_off_secs: Option<i64>) -> pb::DebugMode {
    client
        .set_debug_mode(pb::SetDebugModeRequest {
            enabled,
            changed_by: "ana@laptop".into(),
            auto_off_after: auto_off_secs
                .map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        })
        .await
        .unwrap()
        .into_inner()
        .debug_mode
        .unwrap()
}

/// The next state on a WatchDebugMode stream, within `timeout`.
async fn next_state(
    stream: &mut tonic::Streaming<pb::WatchDebugModeResponse>,
    timeout: Duration,
) -> pb::DebugMode {
    tokio::time::timeout(timeout, stream.message())
        .await
        .expect("a debug-mode change arrives in time")
        .unwrap()
        .expect("the stream is open")
        .debug_mode
        .unwrap()
}

#[tokio::test]
async fn debug_mode_is_off_by_default_and_persists_across_restarts() {
    let mut first = TestServer::start().await;
    let mut client = first.client().await;
    let initial = get(&mut client).await;
    assert!(!initial.enabled);
    assert!(initial.changed_at.is_none());

    let on = set(&mut client, true, None).await;
    assert!(on.enabled);
    assert_eq!(on.changed_by, "ana@laptop");
    assert!(on.changed_at.is_some());
    assert!(on.auto_off_at.is_none());

    // Restart: a new diagd on the same database.
    drop(client);
    first.stop();
    let second = TestServer::start_on(first.dbname.clone(), test_options()).await;
    let mut client = second.client().await;
    assert_eq!(
        get(&mut client).await,
        on,
        "the switch survived the restart"
    );
    let off = set(&mut client, false, None).await;
    assert!(!off.enabled);
}

#[tokio::test]
async fn a_watcher_sees_the_current_state_then_every_change_even_through_another_replica() {
    let a = TestServer::start().await;
    let b = TestServer::start_on(a.dbname.clone(), test_options()).await;
    let mut client_a = a.client().await;
    let mut client_b = b.client().await;
    let mut watch = client_b
        .watch_debug_mode(pb::WatchDebugModeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        !next_state(&mut watch, Duration::from_secs(2)).await.enabled,
        "current state first"
    );

    let started = Instant::now();
    set(&mut client_a, true, None).await;
    let seen = next_state(&mut watch, Duration::from_secs(2)).await;
    assert!(seen.enabled);
    assert_eq!(seen.changed_by, "ana@laptop");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "replica B followed within a second: {:?}",
        started.elapsed()
    );
    assert!(get(&mut client_b).await.enabled);

    set(&mut client_a, false, None).await;
    assert!(!next_state(&mut watch, Duration::from_secs(2)).await.enabled);
}

#[tokio::test]
async fn auto_off_switches_debug_mode_off_by_itself() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut watch = client
        .watch_debug_mode(pb::WatchDebugModeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!next_state(&mut watch, Duration::from_secs(2)).await.enabled);
    let on = set(&mut client, true, Some(1)).await;
    assert!(on.enabled);
    let off_at = on.auto_off_at.expect("auto-off time");
    let changed = on.changed_at.unwrap();
    assert!(
        (1..=2).contains(&(off_at.seconds - changed.seconds)),
        "{off_at:?} vs {changed:?}"
    );
    assert!(next_state(&mut watch, Duration::from_secs(2)).await.enabled);
    let off = next_state(&mut watch, Duration::from_secs(4)).await;
    assert!(!off.enabled, "auto-off reached the watcher");
    assert_eq!(off.changed_by, "auto-off");
    assert!(!get(&mut client).await.enabled);
}

#[tokio::test]
async fn invalid_switches_are_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let result = client
        .set_debug_mode(pb::SetDebugModeRequest {
            enabled: false,
            auto_off_after: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await;
    assert_status(
        result,
        Code::InvalidArgument,
        "auto_off_after: only applies when enabling",
    );
    let result = client
        .set_debug_mode(pb::SetDebugModeRequest {
            enabled: true,
            auto_off_after: Some(prost_types::Duration {
                seconds: -5,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await;
    assert_status(
        result,
        Code::InvalidArgument,
        "auto_off_after: must be positive",
    );
    assert!(!get(&mut client).await.enabled, "nothing changed");
}

/// Lines a child process writes to stderr, collected as they come.
fn collect_stderr(child: &mut std::process::Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

async fn wait_for_line(lines: &Mutex<Vec<String>>, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn debug_mode_makes_diagd_log_each_request_with_its_timing() {
    let dbname = common::unique_database_name();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = common::Serving::new(
        Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", common::database_url(&dbname))
            .env("DIAGD_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = collect_stderr(&mut child);
    assert!(
        wait_for_line(&lines, "diagd is listening", Duration::from_secs(30)).await,
        "diagd started"
    );
    let mut client = DiagnosticsServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();

    let request_line = "DiagnosticsService/GetStats";
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(request_line)),
        "requests are not logged while debug mode is off"
    );

    set(&mut client, true, None).await;
    assert!(wait_for_line(&lines, "debug mode ON", Duration::from_secs(3)).await);
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap();
    assert!(
        wait_for_line(
            &lines,
            "finished processing request",
            Duration::from_secs(3)
        )
        .await
            && lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(request_line) && l.contains("DEBUG")),
        "with debug mode on, each request is logged: {:#?}",
        lines.lock().unwrap()
    );
    assert!(
        lines.lock().unwrap().iter().any(|l| l.contains("latency=")),
        "with its timing"
    );

    set(&mut client, false, None).await;
    assert!(wait_for_line(&lines, "debug mode OFF", Duration::from_secs(3)).await);
    let logged = lines.lock().unwrap().len();
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !lines.lock().unwrap()[logged..]
            .iter()
            .any(|l| l.contains(request_line)),
        "back to quiet once off"
    );

    common::terminate(child).await;
    common::drop_database_blocking(&dbname);
}
