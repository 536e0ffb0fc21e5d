//! diagd's own log and hostile input: text a client sent never forges a log
//! line (it is escaped), a client's mistake is not logged as a server error,
//! and a forged page token is refused as INVALID_ARGUMENT naming
//! `page_token` (never INTERNAL).

mod common;

use std::io::Read;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{TestServer, assert_status, json_struct, new_log};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// What a hostile client puts in a label or context key: a newline, then a
/// line that looks like one of diagd's own.
const FORGED: &str = "2026-01-01T00:00:00Z  INFO forged line";

#[tokio::test]
async fn client_text_never_forges_a_log_line_and_client_errors_are_not_server_errors() {
    let server = TestServer::start().await;
    let (mut diagd, port) =
        common::serve_on_database_logging(&server.dbname, "debug", std::process::Stdio::piped());
    let mut stderr = diagd.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let mut client = common::connect_to_port(port).await;
    let key = format!("pool\n{FORGED}");

    // A label whose value cannot be stored (NUL): refused, naming the key.
    let refused = client
        .report_error(pb::ReportErrorRequest {
            log: Some(pb::NewLog {
                source: Some(pb::Source {
                    labels: [(key.clone(), "a\0b".to_string())].into(),
                    ..Default::default()
                }),
                ..new_log("labelled", Severity::High, ErrorType::Oom)
            }),
        })
        .await;
    assert_status(refused, Code::InvalidArgument, "labels[pool");
    // The same in a context key, and in a ListLogs filter.
    let refused = client
        .report_error(pb::ReportErrorRequest {
            log: Some(pb::NewLog {
                context: Some(json_struct(serde_json::json!({ key.clone(): "a\u{0}b" }))),
                ..new_log("with context", Severity::High, ErrorType::Oom)
            }),
        })
        .await;
    assert_status(refused, Code::InvalidArgument, "context");
    let refused = client
        .list_logs(pb::ListLogsRequest {
            filter: Some(pb::LogFilter {
                source: Some(pb::Source {
                    labels: [(key.clone(), "a\0b".to_string())].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert_status(refused, Code::InvalidArgument, "labels");
    // Stored and found: the key travels through ingest and search as text.
    common::report(
        &mut client,
        pb::NewLog {
            source: Some(pb::Source {
                labels: [(key.clone(), "v".to_string())].into(),
                ..Default::default()
            }),
            ..new_log(
                &format!("message\n{FORGED}"),
                Severity::High,
                ErrorType::Oom,
            )
        },
    )
    .await;
    let refused = client
        .search_logs(pb::SearchLogsRequest {
            query: format!("x\n{FORGED}\0"),
            ..Default::default()
        })
        .await;
    assert_status(refused, Code::InvalidArgument, "query");

    drop(client);
    let status = common::terminate(diagd).await;
    assert!(status.success(), "diagd exited with {status}");
    let log = reader.join().unwrap();
    assert!(
        log.contains("diagd is listening"),
        "the log was captured:\n{log}"
    );
    for line in log.lines() {
        assert!(
            !line.starts_with(FORGED) && !line.starts_with("2026-01-01"),
            "a client forged a line of diagd's log: {line:?}\n{log}"
        );
    }
    // What the requests logged: nothing at ERROR or WARN (the start-up may
    // warn about its configuration).
    let serving = log
        .lines()
        .skip_while(|line| !line.contains("diagd is listening"));
    for line in serving {
        assert!(
            !line.contains(" ERROR ") && !line.contains(" WARN "),
            "a client's mistake was logged as a server problem: {line:?}\n{log}"
        );
    }
}

/// The `next_page_token` of a real listing, with its time replaced by
/// `year`-01-01 (the layout is version, micros, id, filter fingerprint).
fn with_year(token: &str, year: i32) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let micros = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    bytes[1..9].copy_from_slice(&micros.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_page_token_with_an_impossible_time_is_an_invalid_argument() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for i in 0..2 {
        common::report(
            &mut client,
            new_log(&format!("log {i}"), Severity::High, ErrorType::Oom),
        )
        .await;
    }
    let list = |page_token: String| pb::ListLogsRequest {
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = client
        .list_logs(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    // The real token, re-encoded with its own year, still pages on.
    let same = with_year(&first.next_page_token, 2026);
    assert!(client.list_logs(list(same)).await.is_ok());
    for year in [-10_000, 0, 10_000, 200_000] {
        let forged = with_year(&first.next_page_token, year);
        let answer = client.list_logs(list(forged)).await;
        assert_status(answer, Code::InvalidArgument, "page_token");
    }

    // A resume cursor that SubscribeLogs never sends (negative position).
    let mut cursor = vec![b't'];
    cursor.extend_from_slice(&(-1_i64).to_be_bytes());
    cursor.extend_from_slice(&(-1_i64).to_be_bytes());
    let answer = client
        .subscribe_logs(pb::SubscribeLogsRequest {
            resume_cursor: URL_SAFE_NO_PAD.encode(cursor),
            ..Default::default()
        })
        .await;
    assert_status(answer, Code::InvalidArgument, "resume_cursor");
}
