//! Reads across machines: a real primary and a streaming standby on loopback
//! (`pg_basebackup -R` from the same PostgreSQL binaries as the embedded
//! default), three `diagd serve` processes on them with `DATABASE_READ_URL`.
//! Ingest through one, tail through another, search through the third;
//! reads come from the standby (shown by pausing its replay), a log fetched
//! by id right after it was written is found, debug mode switched through
//! one is seen by all, a standby further behind than allowed hands reads to
//! the primary, and one that stops does too until it is back.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Serving, connect_to_port, new_log, report, serve_at_url, terminate};
use diagd::{
    api::pb::{self, ErrorType, NoticeKind, Severity, StandbyState},
    server::STANDBY_HEALTH_SERVICE,
    store::embedded::{EmbeddedPostgres, Ownership},
};
use tonic::transport::Channel;
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};

/// The database the replicas share.
const DATABASE: &str = "diagd";

/// Polls `check` every 100 ms until it returns `Some` (at most 30 s).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ids of the logs a search finds.
async fn search(client: &mut Client, query: &str) -> Vec<String> {
    let mut stream = client
        .search_logs(pb::SearchLogsRequest {
            query: query.into(),
            ..Default::default()
        })
        .await
        .expect("SearchLogs")
        .into_inner();
    let mut ids = Vec::new();
    while let Some(message) = stream.message().await.expect("search stream") {
        if let Some(pb::search_logs_response::Result::Hit(hit)) = message.result {
            ids.push(hit.log.expect("a hit has its log").id);
        }
    }
    ids
}

/// Searches through `client` until `query` finds something (at most 30 s;
/// `what` names the wait); returns the ids found.
async fn until_found(client: &Client, query: &str, what: &str) -> Vec<String> {
    eventually(what, || {
        let mut client = client.clone();
        async move { Some(search(&mut client, query).await).filter(|ids| !ids.is_empty()) }
    })
    .await
}

/// The standby as the replica behind `client` sees it.
async fn standby_status(client: &mut Client) -> pb::StandbyStatus {
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .expect("GetStats")
        .into_inner()
        .standby
        .expect("a replica with DATABASE_READ_URL reports its standby")
}

/// Waits until the replica behind `client` finds the standby in `state`.
async fn until_standby(client: &mut Client, state: StandbyState) -> pb::StandbyStatus {
    eventually(&format!("the standby to be {state:?}"), || {
        let mut client = client.clone();
        async move {
            let status = standby_status(&mut client).await;
            (status.state == state as i32).then_some(status)
        }
    })
    .await
}

/// The health of `service` on the replica at `port`.
async fn health(port: u16, service: &str) -> ServingStatus {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .expect("connecting for health");
    HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status()
}

/// Waits until the health of `service` on the replica at `port` is `want`
/// (it follows the standby's checks, once a second).
async fn until_health(port: u16, service: &str, want: ServingStatus) {
    eventually(
        &format!("health of {service:?} to be {want:?}"),
        || async move { (health(port, service).await == want).then_some(()) },
    )
    .await
}

/// A plain connection to `url`, for what a test does to a server itself.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting to PostgreSQL");
    tokio::spawn(connection);
    client
}

/// Pauses or resumes WAL replay on the standby, waiting until it is paused.
async fn set_replay(standby_url: &str, paused: bool) {
    let standby = connect(standby_url).await;
    if !paused {
        standby
            .batch_execute("SELECT pg_wal_replay_resume()")
            .await
            .unwrap();
        return;
    }
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    eventually("replay to pause", || {
        let standby = &standby;
        async move {
            let state: String = standby
                .query_one("SELECT pg_get_wal_replay_pause_state()", &[])
                .await
                .unwrap()
                .get(0);
            (state == "paused").then_some(())
        }
    })
    .await;
}

/// Switches debug mode through the replica behind `client`.
async fn set_debug_mode(client: &mut Client, enabled: bool) {
    client
        .set_debug_mode(pb::SetDebugModeRequest {
            enabled,
            changed_by: "standby test".into(),
            auto_off_after: None,
        })
        .await
        .expect("SetDebugMode");
}

/// A `diagd serve` on the primary with the standby for reads.
fn replica(
    primary: &EmbeddedPostgres,
    standby: &EmbeddedPostgres,
    max_lag: &str,
) -> (Serving, u16) {
    serve_at_url(
        &primary.database_url(DATABASE),
        &[("DATABASE_READ_URL", &standby.database_url(DATABASE))],
        "warn",
        std::process::Stdio::inherit(),
        &["--read-max-lag-secs", max_lag],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_write_to_the_primary_and_read_from_its_standby() {
    let dir = tempfile::Builder::new()
        .prefix("diagd-standby-")
        .tempdir_in("/tmp")
        .unwrap();
    let primary = common::start_private_cluster(&dir.path().join("primary")).await;
    let standby_dir = dir.path().join("standby");
    let (primary, standby) = tokio::task::spawn_blocking(move || {
        let standby = primary
            .start_standby(&standby_dir)
            .expect("a standby made with pg_basebackup -R");
        (primary, standby)
    })
    .await
    .unwrap();
    let standby_url = standby.database_url(DATABASE);

    // The ingest replica starts first: it creates the database and its
    // tables, which the standby then replays.
    let (ingest_server, ingest_port) = replica(&primary, &standby, "60");
    let mut ingest = connect_to_port(ingest_port).await;
    // The tail replica hands reads to the primary once the standby is more
    // than 2 s behind; the search replica allows a minute.
    let (tail_server, tail_port) = replica(&primary, &standby, "2");
    let mut tail_client = connect_to_port(tail_port).await;
    let (search_server, search_port) = replica(&primary, &standby, "60");
    let mut searcher = connect_to_port(search_port).await;
    for client in [&mut ingest, &mut tail_client, &mut searcher] {
        until_standby(client, StandbyState::Streaming).await;
    }
    until_health(search_port, STANDBY_HEALTH_SERVICE, ServingStatus::Serving).await;
    // `diagd stats` shows it.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args([
                "stats",
                "--server",
                &format!("http://127.0.0.1:{search_port}"),
            ])
            .env_remove("DIAGD_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        shown.contains("standby streaming (takes reads);"),
        "diagd stats shows the standby: {shown}"
    );

    // Ingest through one, tail through another, search through the third.
    let mut tail = tail_client
        .subscribe_logs(pb::SubscribeLogsRequest::default())
        .await
        .expect("SubscribeLogs")
        .into_inner();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), tail.message())
            .await
            .expect("the tail goes live")
            .unwrap()
            .expect("the tail is open");
        if let Some(pb::subscribe_logs_response::Event::Notice(n)) = message.event
            && n.kind == NoticeKind::Live as i32
        {
            break;
        }
    }
    let first = report(
        &mut ingest,
        new_log(
            "replicated checkpoint write failed",
            Severity::High,
            ErrorType::Training,
        ),
    )
    .await;
    let tailed = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), tail.message())
            .await
            .expect("the log reaches the other replica's tail")
            .unwrap()
            .expect("the tail is open");
        if let Some(pb::subscribe_logs_response::Event::Log(log)) = message.event {
            break log;
        }
    };
    assert_eq!(tailed.id, first);
    let found = until_found(
        &searcher,
        "replicated checkpoint",
        "the search replica to find the log",
    )
    .await;
    assert_eq!(found, vec![first.clone()]);

    // Reads come from the standby: with its replay paused, a new log is
    // not found by search or counted by stats there ...
    set_replay(&standby_url, true).await;
    let before = standby_status(&mut searcher).await;
    let total_before = common::stats(&mut searcher).await.total;
    let second = report(
        &mut ingest,
        new_log(
            "replicated dataloader stalled",
            Severity::Medium,
            ErrorType::Training,
        ),
    )
    .await;
    assert!(search(&mut searcher, "dataloader stalled").await.is_empty());
    assert_eq!(common::stats(&mut searcher).await.total, total_before);
    // ... but fetched by id it is found at once: the standby lacks it, so
    // the primary is asked.
    let fetched = searcher
        .get_log(pb::GetLogRequest { id: second.clone() })
        .await
        .expect("a log just written is found by id through any replica")
        .into_inner()
        .log
        .unwrap();
    assert_eq!(fetched.message, "replicated dataloader stalled");
    let after = standby_status(&mut searcher).await;
    assert!(
        after.reads_on_standby > before.reads_on_standby,
        "{after:?}"
    );
    assert!(
        after.reads_on_primary > before.reads_on_primary,
        "{after:?}"
    );
    assert_eq!(after.state, StandbyState::Streaming as i32);

    // A change made through a replica is read back through it at once: its
    // reads go to the primary until the standby shows the change.
    let group_id = fetched.group_id;
    searcher
        .update_group(pb::UpdateGroupRequest {
            id: group_id,
            status: pb::GroupStatus::Resolved as i32,
            actor: "standby test".into(),
            ..Default::default()
        })
        .await
        .expect("UpdateGroup");
    let groups = searcher
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .expect("ListGroups")
        .into_inner()
        .groups;
    let group = groups
        .iter()
        .find(|g| g.id == group_id)
        .expect("the group is listed");
    assert_eq!(group.status, pb::GroupStatus::Resolved as i32, "{group:?}");
    assert_eq!(
        search(&mut searcher, "dataloader stalled").await,
        vec![second.clone()],
        "after its own change the replica reads the primary"
    );

    // The tail replica allows 2 s of lag: past that, its reads go to the
    // primary (and it says so in GetStats and health), so it finds the log.
    let before = until_standby(&mut tail_client, StandbyState::Lagging).await;
    until_health(tail_port, STANDBY_HEALTH_SERVICE, ServingStatus::NotServing).await;
    assert_eq!(health(tail_port, "").await, ServingStatus::Serving);
    assert_eq!(
        search(&mut tail_client, "dataloader stalled").await,
        vec![second.clone()]
    );
    let after = standby_status(&mut tail_client).await;
    assert!(
        after.reads_on_primary > before.reads_on_primary
            && after.reads_on_standby == before.reads_on_standby,
        "a lagging standby takes no reads: {before:?} then {after:?}"
    );

    // Replay resumes: the standby catches up and takes reads again.
    set_replay(&standby_url, false).await;
    until_standby(&mut tail_client, StandbyState::Streaming).await;
    until_found(
        &searcher,
        "dataloader stalled",
        "the search replica to find the second log",
    )
    .await;

    // Debug mode switched through one replica is seen by all three.
    set_debug_mode(&mut tail_client, true).await;
    for client in [&mut ingest, &mut searcher, &mut tail_client] {
        eventually("debug mode to reach every replica", || {
            let mut client = client.clone();
            async move {
                let mode = client
                    .get_debug_mode(pb::GetDebugModeRequest {})
                    .await
                    .expect("GetDebugMode")
                    .into_inner()
                    .debug_mode
                    .unwrap();
                mode.enabled.then_some(())
            }
        })
        .await;
    }
    // Off again (through another replica), so the servers' logs stay quiet.
    set_debug_mode(&mut ingest, false).await;

    // The standby stops: reads go to the primary, health and GetStats say
    // why; writes never noticed.
    let standby = tokio::task::spawn_blocking(move || {
        standby.stop().unwrap();
        standby
    })
    .await
    .unwrap();
    let down = until_standby(&mut searcher, StandbyState::Down).await;
    // Why: refused, or the server shutting down, as the check found it.
    assert!(
        down.error.contains("connect") || down.error.contains("shut"),
        "says why: {down:?}"
    );
    until_health(
        search_port,
        STANDBY_HEALTH_SERVICE,
        ServingStatus::NotServing,
    )
    .await;
    assert_eq!(health(search_port, "").await, ServingStatus::Serving);
    let third = report(
        &mut ingest,
        new_log(
            "replicated gradient overflow",
            Severity::Low,
            ErrorType::Training,
        ),
    )
    .await;
    assert_eq!(
        search(&mut searcher, "gradient overflow").await,
        vec![third.clone()]
    );
    assert_eq!(common::stats(&mut searcher).await.total, 3);

    // It comes back on its port and takes reads again, with what it missed.
    drop(standby);
    let standby_dir = dir.path().join("standby");
    let standby = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(&standby_dir, Ownership::Exclusive).expect("the standby restarts")
    })
    .await
    .unwrap();
    assert_eq!(standby.database_url(DATABASE), standby_url);
    until_standby(&mut searcher, StandbyState::Streaming).await;
    let before = standby_status(&mut searcher).await;
    let found = until_found(
        &searcher,
        "gradient overflow",
        "the restarted standby to show the log it missed",
    )
    .await;
    assert_eq!(found, vec![third.clone()]);
    let after = standby_status(&mut searcher).await;
    assert!(
        after.reads_on_standby > before.reads_on_standby,
        "{after:?}"
    );
    // And it is the standby that answers: with its replay paused again, a
    // new log is not in the search replica's results until it resumes.
    set_replay(&standby_url, true).await;
    let fourth = report(
        &mut ingest,
        new_log(
            "replicated optimizer diverged",
            Severity::Low,
            ErrorType::Training,
        ),
    )
    .await;
    assert!(search(&mut searcher, "optimizer diverged").await.is_empty());
    set_replay(&standby_url, false).await;
    let found = until_found(
        &searcher,
        "optimizer diverged",
        "the standby to show the fourth log",
    )
    .await;
    assert_eq!(found, vec![fourth]);

    // A DATABASE_READ_URL naming another database takes no reads and says
    // why; one naming the primary itself is fine (it shows everything).
    let (wrong_server, wrong_port) = serve_at_url(
        &primary.database_url(DATABASE),
        &[("DATABASE_READ_URL", &standby.database_url("postgres"))],
        "error",
        std::process::Stdio::inherit(),
        &[],
    );
    let mut wrong = connect_to_port(wrong_port).await;
    let refused = until_standby(&mut wrong, StandbyState::Down).await;
    assert!(refused.error.contains("not a replica"), "{refused:?}");
    assert_eq!(search(&mut wrong, "optimizer diverged").await.len(), 1);
    let (itself_server, itself_port) = serve_at_url(
        &primary.database_url(DATABASE),
        &[("DATABASE_READ_URL", &primary.database_url(DATABASE))],
        "error",
        std::process::Stdio::inherit(),
        &[],
    );
    let mut itself = connect_to_port(itself_port).await;
    until_standby(&mut itself, StandbyState::Streaming).await;

    for server in [
        ingest_server,
        tail_server,
        search_server,
        wrong_server,
        itself_server,
    ] {
        assert!(terminate(server).await.success());
    }
    drop(standby);
    drop(primary);
}
