//! PostgreSQL goes away under a running diagd: RPCs fail fast with
//! UNAVAILABLE (not a hang until the client's deadline), health turns
//! NOT_SERVING, and when PostgreSQL is back diagd recovers by itself. OTLP
//! Export answers the same retryable UNAVAILABLE.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, new_log, test_options};
use diagd::api::pb::{self, ErrorType, Severity};
use opentelemetry_proto::tonic::{
    collector::logs::v1::{ExportLogsServiceRequest, logs_service_client::LogsServiceClient},
    common::v1::{AnyValue, any_value::Value as Any},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
};
use tonic::Code;
use tonic_types::StatusExt;

/// An OTLP Export of one ERROR record with this body.
fn otlp_request(body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    severity_number: 17,
                    body: Some(AnyValue {
                        value: Some(Any::StringValue(body.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};

#[tokio::test]
async fn an_outage_fails_fast_and_diagd_recovers_by_itself() {
    let dir = tempfile::Builder::new()
        .prefix("diagd-outage-")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().join("pg");
    let cluster = common::start_private_cluster(&base).await;
    let server = TestServer::start_at_url(cluster.database_url("diagd"), test_options()).await;
    let mut client = server.client().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut otlp = LogsServiceClient::new(server.channel().await);
    common::report(
        &mut client,
        new_log("before", Severity::Low, ErrorType::Other),
    )
    .await;
    common::wait_for_health(&mut health, "", ServingStatus::Serving).await;

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap();
        cluster
    })
    .await
    .unwrap();
    for _ in 0..3 {
        let mut request = tonic::Request::new(pb::GetStatsRequest::default());
        request.set_timeout(Duration::from_secs(10));
        let started = Instant::now();
        let status = client.get_stats(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "failed fast: {:?}",
            started.elapsed()
        );
        let status = client
            .report_error(pb::ReportErrorRequest {
                log: Some(new_log("during", Severity::Low, ErrorType::Other)),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "an unacknowledged log is a retryable failure"
        );
        // OTLP exporters retry UNAVAILABLE (with RetryInfo): nothing is lost.
        let status = otlp.export(otlp_request("during")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.get_details_retry_info().is_some(), "{status:?}");
    }
    common::wait_for_health(&mut health, "", ServingStatus::NotServing).await;

    drop(cluster);
    let restarted = common::start_private_cluster(&base).await;
    common::wait_for_health(&mut health, "", ServingStatus::Serving).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client
            .report_error(pb::ReportErrorRequest {
                log: Some(new_log("after", Severity::Low, ErrorType::Other)),
            })
            .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline && e.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("diagd did not recover: {e:?}"),
        }
    }
    let stats = client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stats.total, 2,
        "the log before the outage and the one after; none during"
    );
    drop(client);
    drop(health);
    drop(server);
    tokio::task::spawn_blocking(move || drop(restarted))
        .await
        .unwrap();
}
