//! Every failure carries machine-readable google.rpc details besides its
//! message: an `ErrorInfo` (stable reason, domain "diagd", the limit and the
//! flag that sets it), `BadRequest` for an invalid field, `ResourceInfo` for
//! NOT_FOUND, `PreconditionFailure` for a missing confirmation and
//! `RetryInfo` when the same request may pass later — so clients act on
//! them without reading the text.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{TestServer, error_reason, new_log, test_options};
use diagd::{
    api::{
        admission::Limits,
        error::DOMAIN,
        pb::{self, ErrorType, Severity, diagnostics_service_client::DiagnosticsServiceClient},
    },
    cli::BearerToken,
    server::auth::Tokens,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The status of a failed call.
fn failure<T: std::fmt::Debug>(result: Result<T, Status>) -> Status {
    result.expect_err("the call fails")
}

/// The `ErrorInfo` metadata of `status`, after checking its domain and reason.
fn info(status: &Status, reason: &str) -> HashMap<String, String> {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("an ErrorInfo in {status:?}"));
    assert_eq!(info.domain, DOMAIN);
    assert_eq!(info.reason, reason, "{status:?}");
    info.metadata
}

#[tokio::test]
async fn an_invalid_field_is_named_in_a_bad_request() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut log = new_log("x", Severity::High, ErrorType::Oom);
    log.message = String::new();
    let status = failure(
        client
            .report_error(pb::ReportErrorRequest { log: Some(log) })
            .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad_request = status.get_details_bad_request().expect("a BadRequest");
    assert_eq!(bad_request.field_violations.len(), 1);
    assert_eq!(bad_request.field_violations[0].field, "log.message");
    assert!(status.message().starts_with("log.message: "), "{status:?}");
    assert_eq!(info(&status, "FIELD_INVALID")["field"], "log.message");
    assert!(
        status.get_details_retry_info().is_none(),
        "retrying cannot help"
    );
}

#[tokio::test]
async fn not_found_names_the_resource() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    let status = failure(client.get_log(pb::GetLogRequest { id: id.clone() }).await);
    assert_eq!(status.code(), Code::NotFound);
    let resource = status.get_details_resource_info().expect("a ResourceInfo");
    assert_eq!(resource.resource_type, "log");
    assert_eq!(resource.resource_name, id);
    info(&status, "NOT_FOUND");

    let status = failure(
        client
            .get_report(pb::GetReportRequest {
                report_id: id.clone(),
            })
            .await,
    );
    let resource = status.get_details_resource_info().expect("a ResourceInfo");
    assert_eq!(
        (resource.resource_type.as_str(), resource.resource_name),
        ("report", id)
    );
}

#[tokio::test]
async fn a_clear_without_confirmation_names_the_precondition() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let status = failure(client.clear_logs(pb::ClearLogsRequest::default()).await);
    assert_eq!(status.code(), Code::FailedPrecondition);
    let precondition = status
        .get_details_precondition_failure()
        .expect("a PreconditionFailure");
    assert_eq!(precondition.violations[0].subject, "confirm");
    info(&status, "CONFIRMATION_REQUIRED");
}

#[tokio::test]
async fn a_limit_says_its_value_its_flag_and_when_to_retry() {
    let mut options = test_options();
    options.api.admission = Limits::new(64, 0, 10); // no stream slot at all
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let status = failure(
        client
            .search_logs(pb::SearchLogsRequest {
                query: "cuda".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(status.code(), Code::ResourceExhausted);
    let metadata = info(&status, "STREAM_LIMIT");
    assert_eq!(metadata["limit"], "0");
    assert_eq!(metadata["flag"], "--max-streams");
    let retry = status.get_details_retry_info().expect("a RetryInfo");
    assert!(retry.retry_delay.is_some_and(|d| d > Duration::ZERO));
}

#[tokio::test]
async fn a_message_over_the_size_limit_says_the_limit_unary_and_streamed() {
    let mut options = test_options();
    options.max_message_bytes = 64 * 1024;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let mut log = new_log("big", Severity::High, ErrorType::Oom);
    log.stack_trace = "x".repeat(100 * 1024);

    let status = failure(
        client
            .report_error(pb::ReportErrorRequest {
                log: Some(log.clone()),
            })
            .await,
    );
    assert_eq!(status.code(), Code::ResourceExhausted);
    let metadata = info(&status, "MESSAGE_TOO_LARGE");
    assert_eq!(metadata["limit"], (64 * 1024).to_string());
    assert_eq!(metadata["flag"], "--max-message-bytes");
    assert!(
        status.get_details_retry_info().is_none(),
        "the same request never passes"
    );

    // In a stream, after a stored batch: the batch is named, the details kept.
    let batches = vec![
        pb::IngestLogsRequest {
            logs: vec![new_log("small", Severity::Low, ErrorType::Other)],
        },
        pb::IngestLogsRequest { logs: vec![log] },
    ];
    let status = failure(client.ingest_logs(tokio_stream::iter(batches)).await);
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status
            .message()
            .contains("batches of this stream stored: 1"),
        "{status:?}"
    );
    // The details repeat code and message (google.rpc.Status): the same ones.
    let inner = <tonic_types::Status as prost::Message>::decode(status.details()).unwrap();
    assert_eq!(inner.code, Code::ResourceExhausted as i32);
    assert_eq!(inner.message, status.message());
    assert_eq!(
        info(&status, "MESSAGE_TOO_LARGE")["limit"],
        (64 * 1024).to_string()
    );
}

#[tokio::test]
async fn auth_failures_say_what_is_missing_and_which_roles_may() {
    let mut options = test_options();
    options.tokens = Tokens::new(&["i1".into()], &["r1".into()], &["a1".into()]);
    let server = TestServer::start_with(options).await;
    let channel = server.channel().await;
    let mut anonymous = DiagnosticsServiceClient::with_interceptor(
        channel.clone(),
        BearerToken::new(None).unwrap(),
    );
    let status = failure(anonymous.get_stats(pb::GetStatsRequest::default()).await);
    assert_eq!(status.code(), Code::Unauthenticated);
    info(&status, "TOKEN_MISSING");

    let mut ingest_only =
        DiagnosticsServiceClient::with_interceptor(channel, BearerToken::new(Some("i1")).unwrap());
    let status = failure(ingest_only.get_stats(pb::GetStatsRequest::default()).await);
    assert_eq!(status.code(), Code::PermissionDenied);
    let metadata = info(&status, "ROLE_NOT_ALLOWED");
    assert_eq!(metadata["role"], "ingest");
    assert_eq!(metadata["method"], "GetStats");
    assert!(metadata["allowed_roles"].contains("read"), "{metadata:?}");
    assert_eq!(error_reason(&status), "ROLE_NOT_ALLOWED");
}
