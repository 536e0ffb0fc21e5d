//! Nothing acknowledged is lost: a client keeps ingesting, retrying every
//! batch that was not acknowledged with the same event_ids, while diagd is
//! killed with SIGKILL and restarted. Afterwards every acknowledged log is
//! stored exactly once.

mod common;

use std::{
    collections::HashSet,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::new_log;
use diagd::api::pb::{
    self, ErrorType, Severity, diagnostics_service_client::DiagnosticsServiceClient,
};
use tonic::transport::Channel;

/// Batch `number` of a run: 50 logs with fixed event_ids (under `prefix`, 8
/// hex digits), so a retry sends exactly the same events.
fn numbered_batch(prefix: &str, number: u32) -> (Vec<String>, Vec<pb::NewLog>) {
    let ids: Vec<String> = (0..50)
        .map(|i| format!("{prefix}-6b1e-7cc2-{number:04x}-{i:012x}"))
        .collect();
    let logs = ids
        .iter()
        .map(|id| pb::NewLog {
            event_id: id.clone(),
            ..new_log(
                &format!("batch {number}"),
                Severity::High,
                ErrorType::Training,
            )
        })
        .collect();
    (ids, logs)
}

fn spawn_diagd(port: u16, url: &str) -> common::Serving {
    common::Serving::new(
        Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("DIAGD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning diagd"),
    )
}

async fn connect(port: u16) -> Option<DiagnosticsServiceClient<Channel>> {
    let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(5));
    endpoint
        .connect()
        .await
        .ok()
        .map(DiagnosticsServiceClient::new)
}

#[tokio::test]
async fn every_acknowledged_log_survives_sigkill_exactly_once() {
    let dbname = common::unique_database_name();
    let url = common::database_url(&dbname);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut diagd = spawn_diagd(port, &url);

    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut batch_number = 0u32;
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(45);
    // Batches of 50 with fixed event_ids; a batch is retried until acknowledged.
    while batch_number < 40 {
        assert!(Instant::now() < deadline, "the client did not get through");
        let (ids, logs) = numbered_batch("0195f3c4", batch_number);
        // Kill diagd in the middle of the run, twice, right after sending.
        let kill_now = (batch_number == 13 && kills == 0) || (batch_number == 27 && kills == 1);
        let Some(mut client) = connect(port).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let sending = tokio::spawn(async move {
            client
                .ingest_logs(tokio_stream::iter(vec![pb::IngestLogsRequest { logs }]))
                .await
        });
        if kill_now {
            tokio::time::sleep(Duration::from_millis(2)).await;
            diagd.kill().unwrap(); // SIGKILL
            diagd.wait().unwrap();
            kills += 1;
        }
        // An error means "not acknowledged": the batch is retried with the
        // same event_ids.
        if let Ok(response) = sending.await.unwrap() {
            let response = response.into_inner();
            assert_eq!(response.accepted + response.duplicates, 50, "{response:?}");
            acknowledged.extend(ids);
            batch_number += 1;
        }
        if kill_now {
            diagd = spawn_diagd(port, &url);
        }
    }
    assert_eq!(kills, 2);

    let mut client = loop {
        if let Some(client) = connect(port).await {
            break client;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stats = client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total, 2000, "exactly the 40 × 50 logs, each once");
    let store = diagd::store::Store::connect(&url, &Default::default())
        .await
        .unwrap();
    let exported = {
        struct Ids(Vec<String>);
        impl diagd::store::ExportSink for Ids {
            async fn begin(&mut self, _: u64) -> Result<(), String> {
                Ok(())
            }
            async fn batch(&mut self, logs: Vec<diagd::domain::LogEntry>) -> Result<(), String> {
                self.0.extend(
                    logs.into_iter()
                        .filter_map(|l| l.event_id.map(|id| id.to_string())),
                );
                Ok(())
            }
            async fn finish(&mut self) -> Result<(), String> {
                Ok(())
            }
        }
        let mut ids = Ids(Vec::new());
        store
            .export_logs(&Default::default(), &mut ids)
            .await
            .unwrap();
        ids.0
    };
    let stored: HashSet<String> = exported.iter().cloned().collect();
    assert_eq!(stored.len(), exported.len(), "no event stored twice");
    assert!(
        acknowledged.is_subset(&stored),
        "every acknowledged log is stored"
    );
    diagd.kill().unwrap();
    diagd.wait().unwrap();
    drop(store);
    common::drop_database_blocking(&dbname);
}

/// The same with PostgreSQL restarted under a running diagd.
#[tokio::test]
async fn every_acknowledged_log_survives_a_postgres_restart_exactly_once() {
    let dir = tempfile::Builder::new()
        .prefix("diagd-ack-")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().join("pg");
    let mut cluster = Some(common::start_private_cluster(&base).await);
    let url = cluster.as_ref().unwrap().database_url("diagd");
    let server = common::TestServer::start_at_url(url.clone(), common::test_options()).await;
    let client = server.client().await;

    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut batch_number = 0u32;
    let mut restarted = false;
    let deadline = Instant::now() + Duration::from_secs(45);
    while batch_number < 20 {
        assert!(Instant::now() < deadline, "the client did not get through");
        let (ids, logs) = numbered_batch("0295f3c4", batch_number);
        let mut sender = client.clone();
        let sending = tokio::spawn(async move {
            sender
                .ingest_logs(tokio_stream::iter(vec![pb::IngestLogsRequest { logs }]))
                .await
        });
        if batch_number == 10 && !restarted {
            let stopping = cluster.take().unwrap();
            tokio::task::spawn_blocking(move || {
                stopping.stop().unwrap();
                drop(stopping);
            })
            .await
            .unwrap();
        }
        match sending.await.unwrap() {
            Ok(response) => {
                let response = response.into_inner();
                assert_eq!(response.accepted + response.duplicates, 50, "{response:?}");
                acknowledged.extend(ids);
                batch_number += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                if cluster.is_none() {
                    cluster = Some(common::start_private_cluster(&base).await);
                    restarted = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(restarted, "PostgreSQL was restarted during the run");
    let mut client = client;
    let stats = client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total, 1000, "exactly the 20 × 50 logs, each once");
    assert_eq!(acknowledged.len(), 1000);
    drop(client);
    drop(server);
    let cluster = cluster.take();
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
