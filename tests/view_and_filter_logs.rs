//! Workflow 1, "View and Filter Logs": list logs newest first, filter by
//! severity, error type, time, source and text, page through them while new
//! logs arrive, and open one log for its full details.

mod common;

use std::collections::HashSet;

use common::{Client, TestServer, assert_status, json_struct, new_log, report, ts};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// A log at `minute` minutes after 2026-11-01T00:00Z.
fn log_at(minute: i64, message: &str, severity: Severity, error_type: ErrorType) -> pb::NewLog {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap()
        + chrono::TimeDelta::minutes(minute);
    pb::NewLog {
        occurred_at: Some(ts(&at.to_rfc3339())),
        ..new_log(message, severity, error_type)
    }
}

async fn list(client: &mut Client, filter: pb::LogFilter) -> Vec<pb::LogEntry> {
    client
        .list_logs(pb::ListLogsRequest {
            filter: Some(filter),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListLogs")
        .into_inner()
        .logs
}

fn messages(logs: &[pb::LogEntry]) -> Vec<&str> {
    logs.iter().map(|l| l.message.as_str()).collect()
}

async fn seed_mixed(client: &mut Client) {
    let mut logs = vec![
        log_at(
            1,
            "CUDA out of memory on rank 0",
            Severity::Critical,
            ErrorType::Oom,
        ),
        log_at(
            2,
            "connection reset by hub",
            Severity::High,
            ErrorType::Network,
        ),
        log_at(
            3,
            "learning_rate must be positive",
            Severity::Medium,
            ErrorType::Configuration,
        ),
        log_at(
            4,
            "checkpoint shard missing",
            Severity::High,
            ErrorType::ModelLoading,
        ),
        log_at(
            5,
            "loss is NaN at 100% of epoch",
            Severity::High,
            ErrorType::Training,
        ),
        log_at(
            6,
            "generation timed out",
            Severity::Low,
            ErrorType::Inference,
        ),
    ];
    logs[0].source = Some(pb::Source {
        host: "gpu-1".into(),
        run_id: "run-a".into(),
        component: "trainer".into(),
        labels: [
            ("pool".to_string(), "a100".to_string()),
            ("user".to_string(), "ana".to_string()),
        ]
        .into(),
    });
    logs[4].source = Some(pb::Source {
        host: "gpu-2".into(),
        run_id: "run-a".into(),
        component: "trainer".into(),
        labels: [("pool".to_string(), "h100".to_string())].into(),
    });
    common::ingest(client, vec![logs]).await;
}

#[tokio::test]
async fn filters_narrow_the_list_and_combine() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed_mixed(&mut client).await;

    let all = list(&mut client, pb::LogFilter::default()).await;
    assert_eq!(
        messages(&all),
        [
            "generation timed out",
            "loss is NaN at 100% of epoch",
            "checkpoint shard missing",
            "learning_rate must be positive",
            "connection reset by hub",
            "CUDA out of memory on rank 0"
        ],
        "newest first"
    );

    let high = list(
        &mut client,
        pb::LogFilter {
            severities: vec![Severity::High as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&high),
        [
            "loss is NaN at 100% of epoch",
            "checkpoint shard missing",
            "connection reset by hub"
        ]
    );

    let high_or_critical_oom = list(
        &mut client,
        pb::LogFilter {
            severities: vec![Severity::High as i32, Severity::Critical as i32],
            error_types: vec![ErrorType::Oom as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&high_or_critical_oom),
        ["CUDA out of memory on rank 0"]
    );

    let window = list(
        &mut client,
        pb::LogFilter {
            since: Some(ts("2026-11-01T00:02:00Z")),
            until: Some(ts("2026-11-01T00:04:00Z")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&window),
        ["learning_rate must be positive", "connection reset by hub"],
        "since is inclusive, until exclusive"
    );

    let run_a = list(
        &mut client,
        pb::LogFilter {
            source: Some(pb::Source {
                run_id: "run-a".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(run_a.len(), 2);
    let host = list(
        &mut client,
        pb::LogFilter {
            source: Some(pb::Source {
                host: "gpu-2".into(),
                component: "trainer".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(messages(&host), ["loss is NaN at 100% of epoch"]);
    let labelled = list(
        &mut client,
        pb::LogFilter {
            source: Some(pb::Source {
                labels: [("pool".to_string(), "a100".to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(messages(&labelled), ["CUDA out of memory on rank 0"]);

    let text = list(
        &mut client,
        pb::LogFilter {
            message_contains: "cuda".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&text),
        ["CUDA out of memory on rank 0"],
        "case is ignored"
    );
    let percent = list(
        &mut client,
        pb::LogFilter {
            message_contains: "100%".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&percent),
        ["loss is NaN at 100% of epoch"],
        "% is literal"
    );
    let underscore = list(
        &mut client,
        pb::LogFilter {
            message_contains: "g_r".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        messages(&underscore),
        ["learning_rate must be positive"],
        "_ is literal"
    );
    let none = list(
        &mut client,
        pb::LogFilter {
            message_contains: "no such text".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn pages_cover_every_log_once_while_new_logs_arrive() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..250)
        .map(|i| {
            log_at(
                i / 2,
                &format!("old {i}"),
                Severity::High,
                ErrorType::Training,
            )
        })
        .collect();
    common::ingest(&mut client, vec![logs]).await;

    // A writer keeps adding logs (newer, and some in the middle of the range)
    // while the reader pages.
    let mut writer = server.client().await;
    let writing = tokio::spawn(async move {
        for i in 0..60 {
            let minute = if i % 2 == 0 { 200 } else { 60 };
            report(
                &mut writer,
                log_at(
                    minute,
                    &format!("new {i}"),
                    Severity::High,
                    ErrorType::Training,
                ),
            )
            .await;
        }
    });

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_logs(pb::ListLogsRequest {
                page_size: 60,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(
            page.logs
                .into_iter()
                .map(|l| (l.occurred_at.unwrap().seconds, l.id, l.message)),
        );
        tokio::task::yield_now().await;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    writing.await.unwrap();
    assert!(
        pages >= 5,
        "250 logs in pages of 60 take 5 pages, got {pages}"
    );
    let ids: HashSet<&str> = seen.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(
        ids.len(),
        seen.len(),
        "no log twice, even with inserts behind and ahead of the cursor"
    );
    let old: HashSet<&str> = seen
        .iter()
        .map(|(_, _, m)| m.as_str())
        .filter(|m| m.starts_with("old"))
        .collect();
    assert_eq!(
        old.len(),
        250,
        "no log that existed before paging began is lost"
    );
    assert!(
        seen.windows(2)
            .all(|w| (w[0].0, &w[0].1) > (w[1].0, &w[1].1)),
        "strictly newest first"
    );
}

#[tokio::test]
async fn totals_page_sizes_and_tokens_behave() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..120)
        .map(|i| {
            log_at(
                i,
                &format!("log {i}"),
                if i % 3 == 0 {
                    Severity::Low
                } else {
                    Severity::Medium
                },
                ErrorType::Other,
            )
        })
        .collect();
    common::ingest(&mut client, vec![logs]).await;

    let first = client
        .list_logs(pb::ListLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.logs.len(), 50, "default page size");
    assert_eq!(first.total_count, None, "no count unless asked");
    assert!(!first.next_page_token.is_empty());

    let counted = client
        .list_logs(pb::ListLogsRequest {
            filter: Some(pb::LogFilter {
                severities: vec![Severity::Low as i32],
                ..Default::default()
            }),
            page_size: 5,
            include_total: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counted.total_count, Some(40));
    assert_eq!(counted.logs.len(), 5);

    let capped = client
        .list_logs(pb::ListLogsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(capped.logs.len(), 120);
    assert!(
        capped.next_page_token.is_empty(),
        "the last page has no token"
    );

    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_size: must not be negative",
    );
    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_token: not a token returned by this listing",
    );
    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                page_token: first.next_page_token.clone(),
                filter: Some(pb::LogFilter {
                    severities: vec![Severity::Low as i32],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_token: was issued for a different filter",
    );
    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                view: 9,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "view: unknown view 9",
    );
}

#[tokio::test]
async fn invalid_filters_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let cases = vec![
        (
            pb::LogFilter {
                severities: vec![0],
                ..Default::default()
            },
            "filter.severities[0]: SEVERITY_UNSPECIFIED",
        ),
        (
            pb::LogFilter {
                severities: vec![1, 12],
                ..Default::default()
            },
            "filter.severities[1]: unknown severity 12",
        ),
        (
            pb::LogFilter {
                error_types: vec![0],
                ..Default::default()
            },
            "filter.error_types[0]: ERROR_TYPE_UNSPECIFIED",
        ),
        (
            pb::LogFilter {
                since: Some(ts("2026-11-02T00:00:00Z")),
                until: Some(ts("2026-11-01T00:00:00Z")),
                ..Default::default()
            },
            "filter.until: ",
        ),
        (
            pb::LogFilter {
                message_contains: "a\0b".into(),
                ..Default::default()
            },
            "filter.message_contains: contains a NUL",
        ),
    ];
    for (filter, expected) in cases {
        let result = client
            .list_logs(pb::ListLogsRequest {
                filter: Some(filter.clone()),
                ..Default::default()
            })
            .await;
        assert_status(result, Code::InvalidArgument, expected);
        let result = client
            .get_stats(pb::GetStatsRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await;
        assert_status(result, Code::InvalidArgument, expected);
    }
}

#[tokio::test]
async fn listings_are_basic_unless_full_is_asked_and_large_pages_split() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let trace = "  File \"train.py\", line 1\n".repeat(900_000 / 27);
    let logs: Vec<pb::NewLog> = (0..7)
        .map(|i| pb::NewLog {
            stack_trace: trace.clone(),
            context: Some(json_struct(serde_json::json!({"i": i}))),
            ..log_at(i, &format!("big {i}"), Severity::Critical, ErrorType::Oom)
        })
        .collect();
    common::ingest(&mut client, vec![logs]).await;

    let basic = client
        .list_logs(pb::ListLogsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(basic.logs.len(), 7);
    assert!(
        basic
            .logs
            .iter()
            .all(|l| l.stack_trace.is_empty() && l.context.is_none())
    );

    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = client
            .list_logs(pb::ListLogsRequest {
                page_size: 10,
                view: pb::LogView::Full as i32,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            page.logs.len() <= 3,
            "a page stays under ~3 MiB: {} logs of ~900 KB",
            page.logs.len()
        );
        assert!(
            page.logs
                .iter()
                .all(|l| l.stack_trace.len() == trace.len() && l.context.is_some())
        );
        seen.extend(page.logs.into_iter().map(|l| l.message));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            "big 6", "big 5", "big 4", "big 3", "big 2", "big 1", "big 0"
        ]
    );
}

#[tokio::test]
async fn get_log_answers_not_found_and_invalid_ids() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let missing = uuid::Uuid::now_v7().to_string();
    assert_status(
        client
            .get_log(pb::GetLogRequest {
                id: missing.clone(),
            })
            .await,
        Code::NotFound,
        &format!("log {missing} not found"),
    );
    assert_status(
        client.get_log(pb::GetLogRequest { id: "42".into() }).await,
        Code::InvalidArgument,
        "id: \"42\" is not a UUID",
    );
    assert_status(
        client
            .get_log(pb::GetLogRequest { id: String::new() })
            .await,
        Code::InvalidArgument,
        "id: required",
    );
}
