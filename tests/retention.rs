//! Retention: with a maximum age or row count configured, a background task
//! deletes the oldest logs in small batches, keeps the dashboard's counts
//! exact, and reports its runs in GetStats. Off by default.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, ingest, new_log, stats, test_options, wait_for_total};
use diagd::{
    api::pb::{self, ErrorType, Severity},
    workers::retention::RetentionOptions,
};

fn log_at(seconds_ago: i64, message: &str) -> pb::NewLog {
    pb::NewLog {
        occurred_at: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - seconds_ago,
            nanos: 0,
        }),
        ..new_log(message, Severity::Medium, ErrorType::Training)
    }
}

#[tokio::test]
async fn logs_older_than_the_maximum_age_are_deleted_in_batches() {
    let mut options = test_options();
    options.retention = RetentionOptions {
        max_age: Some(chrono::TimeDelta::hours(1)),
        interval: Duration::from_millis(100),
        batch: 3,
        ..RetentionOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let old: Vec<pb::NewLog> = (0..10)
        .map(|i| pb::NewLog {
            stack_trace: format!("old trace {i}"),
            ..log_at(2 * 86_400 + i, &format!("old {i}"))
        })
        .collect();
    let new: Vec<pb::NewLog> = (0..5)
        .map(|i| pb::NewLog {
            stack_trace: "new trace".into(),
            ..log_at(60 + i, &format!("new {i}"))
        })
        .collect();
    ingest(&mut client, vec![old, new]).await;

    let stats = wait_for_total(&mut client, 5).await;
    let medium = stats
        .by_severity
        .iter()
        .find(|c| c.severity == Severity::Medium as i32)
        .unwrap();
    assert_eq!(medium.count, 5, "the hourly counts follow the deletions");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let retention = stats_retention(&mut client).await;
        assert!(retention.enabled);
        if retention.total_deleted == 10 && retention.last_run.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "{retention:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = client
        .list_logs(pb::ListLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(page.logs.iter().all(|l| l.message.starts_with("new")));
    // The stack traces only the deleted logs had went with them.
    assert_eq!(common::stored_traces(&server).await, ["new trace"]);
}

async fn stats_retention(client: &mut Client) -> pb::RetentionStatus {
    stats(client).await.retention.expect("retention status")
}

#[tokio::test]
async fn beyond_the_maximum_row_count_the_oldest_logs_go() {
    let mut options = test_options();
    options.retention = RetentionOptions {
        max_rows: Some(4),
        interval: Duration::from_millis(100),
        batch: 2,
        ..RetentionOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..10)
        .map(|i| log_at(1000 - i * 10, &format!("log {i}")))
        .collect();
    ingest(&mut client, vec![logs]).await;
    wait_for_total(&mut client, 4).await;
    let page = client
        .list_logs(pb::ListLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let messages: Vec<&str> = page.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        ["log 9", "log 8", "log 7", "log 6"],
        "the newest are kept"
    );
}

#[tokio::test]
async fn retention_is_off_by_default() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    ingest(
        &mut client,
        vec![vec![log_at(300 * 86_400, "from months ago")]],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = stats(&mut client).await;
    assert_eq!(stats.total, 1);
    let retention = stats.retention.unwrap();
    assert!(!retention.enabled);
    assert!(retention.last_run.is_none());
}

#[tokio::test]
async fn retention_keeps_error_group_counts_exact() {
    let mut options = test_options();
    options.retention = RetentionOptions {
        max_age: Some(chrono::TimeDelta::hours(1)),
        interval: Duration::from_millis(100),
        batch: 4,
        ..RetentionOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    // One group (same message, no trace): 9 old logs and 3 recent ones, the
    // old ones over two days.
    let logs: Vec<pb::NewLog> = (0..12)
        .map(|i| {
            if i < 9 {
                log_at(86_400 + i * 10_000, "NCCL timeout on rank 3")
            } else {
                log_at(60 + i, "NCCL timeout on rank 5")
            }
        })
        .collect();
    ingest(&mut client, vec![logs]).await;
    wait_for_total(&mut client, 3).await;
    let groups = client
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let group = &groups[0];
    assert_eq!(group.event_count, 3, "retention lowered the group's count");
    let first_seen = group.first_seen.as_ref().unwrap().seconds;
    assert!(
        chrono::Utc::now().timestamp() - first_seen < 3_600,
        "first seen follows the logs that remain"
    );
    let detail = client
        .get_group(pb::GetGroupRequest {
            id: group.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.histogram.iter().map(|b| b.count).sum::<u64>(), 3);
}
