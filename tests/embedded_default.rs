//! The newcomer's path: `diagd serve` with no DATABASE_URL initialises its
//! own PostgreSQL cluster in the data directory, serves, keeps the data
//! across restarts, and stops the cluster when it stops.

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{new_log, report};
use diagd::api::pb::{
    self, ErrorType, Severity, diagnostics_service_client::DiagnosticsServiceClient,
};
use nix::{sys::signal, unistd::Pid};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_serve(data_dir: &Path, port: u16) -> common::Serving {
    common::Serving::new(
        Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env("DIAGD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning diagd serve"),
    )
}

/// Waits until the server at `port` reports SERVING.
async fn wait_serving(port: u16, child: &mut Child) -> tonic::transport::Channel {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("diagd serve exited early with {status}:\n{stderr}");
        }
        if let Ok(channel) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
        {
            let status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status());
            if status.ok() == Some(ServingStatus::Serving) {
                return channel;
            }
        }
        assert!(
            Instant::now() < deadline,
            "diagd did not become SERVING within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM and waits for a clean exit (off the runtime thread, so the
/// test's open client connections keep being driven and can close).
async fn terminate(child: common::Serving) -> String {
    let child = child.into_inner();
    signal::kill(Pid::from_raw(child.id() as i32), signal::Signal::SIGTERM).unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "diagd exited with {}:\n{stderr}",
        output.status
    );
    stderr
}

#[tokio::test]
async fn serve_runs_on_its_embedded_postgres_and_keeps_data_across_restarts() {
    let data_dir = tempfile::Builder::new()
        .prefix("diagd-embedded-")
        .tempdir_in("/tmp")
        .unwrap();
    let data = data_dir.path().join("data");

    let port = free_port();
    let mut child = spawn_serve(&data, port);
    let channel = wait_serving(port, &mut child).await;
    let mut client = DiagnosticsServiceClient::new(channel);
    let id = report(
        &mut client,
        new_log("CUDA out of memory", Severity::Critical, ErrorType::Oom),
    )
    .await;
    let stderr = terminate(child).await;
    assert!(
        stderr.contains("initialising the embedded PostgreSQL cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("embedded PostgreSQL stopped"), "{stderr}");
    assert!(
        !stderr.contains("did not finish in time"),
        "idle connections do not hold up shutdown: {stderr}"
    );
    assert!(
        !data.join("pgdata/postmaster.pid").exists(),
        "the cluster is stopped with diagd"
    );

    let port = free_port();
    let mut child = spawn_serve(&data, port);
    let channel = wait_serving(port, &mut child).await;
    let mut client = DiagnosticsServiceClient::new(channel);
    let log = client
        .get_log(pb::GetLogRequest { id: id.clone() })
        .await
        .expect("the log survived the restart")
        .into_inner()
        .log
        .unwrap();
    assert_eq!(log.message, "CUDA out of memory");

    // A second diagd on the same data directory is refused, not shared.
    let second = Command::new(env!("CARGO_BIN_EXE_diagd"))
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains("another diagd is using the data directory"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let stderr = terminate(child).await;
    assert!(
        !stderr.contains("initialising"),
        "no second initdb: {stderr}"
    );
}

/// The pid of the postmaster running on `data`'s cluster (the first line of
/// `pgdata/postmaster.pid`), if the file is there.
fn postmaster_pid(data: &Path) -> Option<i32> {
    std::fs::read_to_string(data.join("pgdata/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

#[tokio::test]
async fn a_killed_postmaster_is_restarted_and_diagd_serves_again() {
    let data_dir = tempfile::Builder::new()
        .prefix("diagd-embedded-")
        .tempdir_in("/tmp")
        .unwrap();
    let data = data_dir.path().join("data");
    let port = free_port();
    let mut child = spawn_serve(&data, port);
    let channel = wait_serving(port, &mut child).await;
    let mut client = DiagnosticsServiceClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let before = report(
        &mut client,
        new_log("before the crash", Severity::High, ErrorType::Oom),
    )
    .await;

    // Supervision leaves a healthy cluster alone (a few checks pass).
    let killed = postmaster_pid(&data).expect("the cluster's postmaster.pid");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        postmaster_pid(&data),
        Some(killed),
        "the postmaster is left alone"
    );

    // The OOM killer's way: SIGKILL, no shutdown.
    signal::kill(Pid::from_raw(killed), signal::Signal::SIGKILL).unwrap();

    // A new postmaster (so no request is answered by a leftover backend of
    // the killed one), ReportError succeeding and health SERVING, without
    // restarting diagd.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        if postmaster_pid(&data).is_some_and(|pid| pid != killed) {
            let reported = client
                .report_error(pb::ReportErrorRequest {
                    log: Some(new_log("after the crash", Severity::High, ErrorType::Oom)),
                })
                .await;
            let status = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status());
            if let (Ok(reported), Ok(ServingStatus::Serving)) = (reported, status) {
                break reported.into_inner().id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "diagd did not serve again within 30 s of its PostgreSQL being killed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(child.try_wait().unwrap().is_none(), "diagd kept running");
    for (id, message) in [(before, "before the crash"), (after, "after the crash")] {
        let log = client
            .get_log(pb::GetLogRequest { id })
            .await
            .expect("the log is stored")
            .into_inner()
            .log
            .unwrap();
        assert_eq!(log.message, message);
    }

    let stderr = terminate(child).await;
    assert_eq!(
        stderr
            .matches("the embedded PostgreSQL is not running")
            .count(),
        1,
        "one death, announced once: {stderr}"
    );
    assert!(
        stderr.contains("the embedded PostgreSQL is running again"),
        "{stderr}"
    );
    assert!(stderr.contains("embedded PostgreSQL stopped"), "{stderr}");
    assert!(
        !data.join("pgdata/postmaster.pid").exists(),
        "the restarted cluster is stopped with diagd"
    );
}
