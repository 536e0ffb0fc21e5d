//! Access control: with tokens configured, every diagnostics RPC needs a
//! bearer token of a role allowed to call it — none or an unknown one is
//! UNAUTHENTICATED, the wrong role PERMISSION_DENIED — while reflection and
//! health stay open. Without tokens diagd refuses non-loopback addresses
//! unless told otherwise.

mod common;

use std::time::Duration;

use common::{TestServer, test_options};
use diagd::{
    api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient},
    server::auth::Tokens,
};
use tonic::{Code, Status, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use diagd::cli::{BearerToken, Client};

fn client(channel: Channel, token: Option<&str>) -> Client {
    DiagnosticsServiceClient::with_interceptor(channel, BearerToken::new(token).unwrap())
}

/// Calls `method` with a minimal request; only the status code matters.
async fn call(client: &mut Client, method: &str) -> Result<(), Status> {
    let id = uuid::Uuid::now_v7().to_string();
    match method {
        "ReportError" => client
            .report_error(pb::ReportErrorRequest::default())
            .await
            .map(drop),
        "IngestLogs" => client
            .ingest_logs(tokio_stream::iter(Vec::<pb::IngestLogsRequest>::new()))
            .await
            .map(drop),
        "RecordAction" => client
            .record_action(pb::RecordActionRequest::default())
            .await
            .map(drop),
        "ListLogs" => client
            .list_logs(pb::ListLogsRequest::default())
            .await
            .map(drop),
        "GetLog" => client.get_log(pb::GetLogRequest { id }).await.map(drop),
        "SearchLogs" => client
            .search_logs(pb::SearchLogsRequest {
                query: "cuda".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "SubscribeLogs" => client
            .subscribe_logs(pb::SubscribeLogsRequest::default())
            .await
            .map(drop),
        "GetStats" => client
            .get_stats(pb::GetStatsRequest::default())
            .await
            .map(drop),
        "GenerateReport" => client
            .generate_report(pb::GenerateReportRequest::default())
            .await
            .map(drop),
        "GetReport" => client
            .get_report(pb::GetReportRequest { report_id: id })
            .await
            .map(drop),
        "ListReports" => client
            .list_reports(pb::ListReportsRequest::default())
            .await
            .map(drop),
        "DownloadReport" => client
            .download_report(pb::DownloadReportRequest { report_id: id })
            .await
            .map(drop),
        "DeleteReport" => client
            .delete_report(pb::DeleteReportRequest { report_id: id })
            .await
            .map(drop),
        "ExportLogs" => client
            .export_logs(pb::ExportLogsRequest::default())
            .await
            .map(drop),
        "ClearLogs" => client
            .clear_logs(pb::ClearLogsRequest::default())
            .await
            .map(drop),
        "GetDebugMode" => client
            .get_debug_mode(pb::GetDebugModeRequest {})
            .await
            .map(drop),
        "SetDebugMode" => client
            .set_debug_mode(pb::SetDebugModeRequest::default())
            .await
            .map(drop),
        "WatchDebugMode" => client
            .watch_debug_mode(pb::WatchDebugModeRequest {})
            .await
            .map(drop),
        "ListGroups" => client
            .list_groups(pb::ListGroupsRequest::default())
            .await
            .map(drop),
        "GetGroup" => client
            .get_group(pb::GetGroupRequest {
                id: 1,
                ..Default::default()
            })
            .await
            .map(drop),
        "UpdateGroup" => client
            .update_group(pb::UpdateGroupRequest {
                id: 1,
                status: pb::GroupStatus::Resolved as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        "MergeGroups" => client
            .merge_groups(pb::MergeGroupsRequest {
                target_id: 1,
                source_ids: vec![2],
            })
            .await
            .map(drop),
        "SplitGroup" => client
            .split_group(pb::SplitGroupRequest {
                id: 1,
                fingerprint: "0".repeat(32),
            })
            .await
            .map(drop),
        "Heartbeat" => client
            .heartbeat(pb::HeartbeatRequest {
                run_id: "r".into(),
                host: "h".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "ListRuns" => client
            .list_runs(pb::ListRunsRequest::default())
            .await
            .map(drop),
        "GetRun" => client
            .get_run(pb::GetRunRequest { run_id: id })
            .await
            .map(drop),
        "WatchRuns" => client
            .watch_runs(pb::WatchRunsRequest::default())
            .await
            .map(drop),
        "CreateAlertRule" => client
            .create_alert_rule(pb::CreateAlertRuleRequest::default())
            .await
            .map(drop),
        "ListAlertRules" => client
            .list_alert_rules(pb::ListAlertRulesRequest {})
            .await
            .map(drop),
        "UpdateAlertRule" => client
            .update_alert_rule(pb::UpdateAlertRuleRequest::default())
            .await
            .map(drop),
        "DeleteAlertRule" => client
            .delete_alert_rule(pb::DeleteAlertRuleRequest { id })
            .await
            .map(drop),
        "TestAlertRule" => client
            .test_alert_rule(pb::TestAlertRuleRequest { id })
            .await
            .map(drop),
        "ListAlertDeliveries" => client
            .list_alert_deliveries(pb::ListAlertDeliveriesRequest::default())
            .await
            .map(drop),
        "GetAccess" => client.get_access(pb::GetAccessRequest {}).await.map(drop),
        other => panic!("no call for {other}"),
    }
}

#[tokio::test]
async fn every_rpc_needs_a_token_of_an_allowed_role() {
    let mut options = test_options();
    options.tokens = Tokens::new(
        &["ingest-secret".into()],
        &["read-secret".into()],
        &["admin-secret".into()],
    );
    let server = TestServer::start_with(options).await;
    let channel = server.channel().await;
    // (method, roles allowed besides admin)
    let table: [(&str, &[&str]); 34] = [
        ("ReportError", &["ingest"]),
        ("IngestLogs", &["ingest"]),
        ("RecordAction", &["ingest"]),
        ("ListLogs", &["read"]),
        ("GetLog", &["read"]),
        ("SearchLogs", &["read"]),
        ("SubscribeLogs", &["read"]),
        ("GetStats", &["read"]),
        ("GenerateReport", &["read"]),
        ("GetReport", &["read"]),
        ("ListReports", &["read"]),
        ("DownloadReport", &["read"]),
        ("ExportLogs", &["read"]),
        ("GetDebugMode", &["ingest", "read"]),
        ("WatchDebugMode", &["ingest", "read"]),
        ("DeleteReport", &[]),
        ("ClearLogs", &[]),
        ("SetDebugMode", &[]),
        ("ListGroups", &["read"]),
        ("GetGroup", &["read"]),
        ("UpdateGroup", &[]),
        ("MergeGroups", &[]),
        ("SplitGroup", &[]),
        ("Heartbeat", &["ingest"]),
        ("ListRuns", &["read"]),
        ("GetRun", &["read"]),
        ("WatchRuns", &["read"]),
        ("CreateAlertRule", &[]),
        ("ListAlertRules", &[]),
        ("UpdateAlertRule", &[]),
        ("DeleteAlertRule", &[]),
        ("TestAlertRule", &[]),
        ("ListAlertDeliveries", &[]),
        ("GetAccess", &["ingest", "read"]),
    ];
    // What GetAccess tells each role (the page disables what is not listed).
    let mut access = std::collections::HashMap::new();
    for (role, wire) in [
        ("ingest", pb::Role::Ingest),
        ("read", pb::Role::Read),
        ("admin", pb::Role::Admin),
    ] {
        let mut caller = client(channel.clone(), Some(&format!("{role}-secret")));
        let answer = caller
            .get_access(pb::GetAccessRequest {})
            .await
            .expect("GetAccess")
            .into_inner();
        assert!(answer.access_control);
        assert_eq!(answer.role(), wire);
        access.insert(role, answer.allowed_methods);
    }
    assert_eq!(
        access["admin"].len(),
        table.len(),
        "admin may call every method, and GetAccess lists each once: {:?}",
        access["admin"]
    );
    for (method, roles) in table {
        let mut anonymous = client(channel.clone(), None);
        let status = call(&mut anonymous, method).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{method} without a token: {status:?}"
        );
        assert!(
            status.message().contains("authorization: Bearer"),
            "{}",
            status.message()
        );
        let mut stranger = client(channel.clone(), Some("guessed"));
        let status = call(&mut stranger, method).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{method} with an unknown token"
        );
        for role in ["ingest", "read", "admin"] {
            let mut caller = client(channel.clone(), Some(&format!("{role}-secret")));
            let result = call(&mut caller, method).await;
            let code = result.as_ref().err().map(|s| s.code());
            assert_eq!(
                access[role].iter().any(|m| m == method),
                role == "admin" || roles.contains(&role),
                "GetAccess for {role} lists {method} exactly when it passes access control"
            );
            if role == "admin" || roles.contains(&role) {
                assert!(
                    !matches!(code, Some(Code::Unauthenticated | Code::PermissionDenied)),
                    "{method} as {role} must pass access control: {result:?}"
                );
            } else {
                assert_eq!(
                    code,
                    Some(Code::PermissionDenied),
                    "{method} as {role}: {result:?}"
                );
                let message = result.unwrap_err().message().to_string();
                assert!(
                    message.contains(&format!("this token's role is {role}")),
                    "{message}"
                );
            }
        }
    }
    // Health and reflection stay open.
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(status.is_ok(), "{status:?}");
}

#[tokio::test]
async fn without_tokens_diagd_refuses_non_loopback_addresses_unless_told() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
        .args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("DIAGD_ADMIN_TOKENS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("--allow-unauthenticated"), "{stderr}");

    // Told: it starts (and warns).
    let dbname = common::unique_database_name();
    let mut child = common::Serving::new(
        std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args([
                "serve",
                "--allow-unauthenticated",
                "--listen",
                &format!("0.0.0.0:{port}"),
            ])
            .env("DATABASE_URL", common::database_url(&dbname))
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            && HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "diagd did not start with --allow-unauthenticated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        child.stdout.take();
        child.into_inner().wait_with_output()
    })
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no access tokens configured"), "{stderr}");
    common::drop_database_blocking(&dbname);
}

#[tokio::test]
async fn the_export_command_sends_its_token() {
    let mut options = test_options();
    options.tokens = Tokens::new(&[], &["read-secret".into()], &[]);
    let server = TestServer::start_with(options).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |token: Option<&'static str>| {
        let address = format!("http://{}", server.addr);
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_diagd"));
            command
                .args(["export", "--server", &address, "-o"])
                .arg(&dir)
                .env_remove("DIAGD_TOKEN");
            if let Some(token) = token {
                command.args(["--token", token]);
            }
            command.output().unwrap()
        })
    };
    let refused = run(None).await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--token or DIAGD_TOKEN"));
    let exported = run(Some("read-secret")).await.unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(String::from_utf8_lossy(&exported.stdout).starts_with("Exported 0 logs to "));
}
