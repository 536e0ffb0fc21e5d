//! diagd's own metrics: with `--metrics-listen`, `GET /metrics` answers
//! OpenMetrics text whose counters move with what diagd does — requests by
//! RPC and code with latencies, logs ingested / rejected / duplicates,
//! live-tail subscribers, the connections of both pools.

mod common;

use std::time::Duration;

use common::{TestServer, connect_to_port, free_port, new_log, report, serve_on_database_with};
use diagd::api::pb::{self, ErrorType, Severity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /metrics` on `port`: the status line and the body.
async fn scrape(port: u16) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the metrics port accepts");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The value of the sample `name` (with its labels exactly as printed, e.g.
/// `diagd_requests_total{method="GetLog",code="NOT_FOUND"}`), 0 when absent.
fn sample(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// Waits (at most 30 s) until the metrics port answers.
async fn until_scraped(port: u16) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return scrape(port).await.1;
        }
        assert!(std::time::Instant::now() < deadline, "no metrics endpoint");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn metrics_count_requests_logs_subscribers_and_connections() {
    let server = TestServer::start().await;
    let metrics_port = free_port();
    let (_serving, port) = serve_on_database_with(
        &server.dbname,
        "warn",
        std::process::Stdio::null(),
        &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")],
    );
    let mut client = connect_to_port(port).await;
    let before = until_scraped(metrics_port).await;
    let (status, _) = scrape(metrics_port).await;
    assert!(status.contains(" 200 "), "{status}");

    report(
        &mut client,
        new_log("counted", Severity::High, ErrorType::Oom),
    )
    .await;
    let mut invalid = new_log("", Severity::High, ErrorType::Oom);
    invalid.message.clear();
    client
        .report_error(pb::ReportErrorRequest { log: Some(invalid) })
        .await
        .expect_err("an empty message is refused");
    client
        .get_log(pb::GetLogRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("an unknown id");
    let _tail = client
        .subscribe_logs(pb::SubscribeLogsRequest::default())
        .await
        .unwrap()
        .into_inner();

    let (_, after) = scrape(metrics_port).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(
        moved(r#"diagd_requests_total{method="ReportError",code="OK"}"#),
        1.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"diagd_requests_total{method="ReportError",code="INVALID_ARGUMENT"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"diagd_requests_total{method="GetLog",code="NOT_FOUND"}"#),
        1.0
    );
    assert!(moved(r#"diagd_request_duration_seconds_count{method="ReportError"}"#) >= 2.0);
    assert_eq!(moved("diagd_logs_ingested_total"), 1.0);
    assert_eq!(moved("diagd_logs_rejected_total"), 1.0);
    assert_eq!(sample(&after, "diagd_live_subscribers"), 1.0);
    // The hub's LISTEN connection is its own; the write pool holds at least
    // the connection ReportError used, now idle.
    assert!(
        after.contains(r#"diagd_db_connections{pool="write",state="idle"}"#),
        "{after}"
    );
    assert!(after.contains(r#"diagd_db_connections{pool="read",state="in_use"}"#));
    assert!(
        after.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
}
