//! Workflow: a trainer reports its errors — ReportError for one, IngestLogs
//! for a stream of batches — and they are stored exactly once, whole, with
//! every detail; bad input is refused with the field named.

mod common;

use common::{Client, TestServer, assert_status, json_struct, new_log, report, ts};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

fn full_log() -> pb::NewLog {
    pb::NewLog {
        event_id: "0195f3c4-6b1e-7cc2-a1b2-0123456789ab".into(),
        occurred_at: Some(ts("2026-11-20T08:30:00.123456Z")),
        severity: Severity::Critical as i32,
        error_type: ErrorType::Oom as i32,
        message: "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB".into(),
        stack_trace: "Traceback (most recent call last):\n  File \"train.py\", line 42, in <module>\n    loss.backward()\n".into(),
        context: Some(json_struct(serde_json::json!({
            "batch_size": 64,
            "model": "llama-7b",
            "lora": {"r": 16, "alpha": 32.5},
            "tags": ["peft", "qlora"],
            "resumed": false,
            "note": null
        }))),
        system_state: Some(pb::SystemState {
            cpu_percent: Some(87.5),
            memory_used_bytes: 30_000_000_000,
            memory_total_bytes: 64_000_000_000,
            disk_used_bytes: 400_000_000_000,
            disk_total_bytes: 1_000_000_000_000,
            gpus: vec![pb::GpuState {
                name: "NVIDIA A100-SXM4-80GB".into(),
                memory_used_bytes: 79_000_000_000,
                memory_total_bytes: 80_000_000_000,
                utilization_percent: Some(99.0),
            }],
        }),
        recent_actions: vec![
            pb::RecentAction {
                timestamp: Some(ts("2026-11-20T08:29:00Z")),
                action: "set_batch_size".into(),
                details: Some(json_struct(serde_json::json!({"from": 32, "to": 64}))),
            },
            pb::RecentAction {
                timestamp: Some(ts("2026-11-20T08:29:30Z")),
                action: "start_training".into(),
                details: None,
            },
        ],
        source: Some(pb::Source {
            host: "gpu-node-07".into(),
            run_id: "run-2026-11-20-a".into(),
            component: "trainer".into(),
            labels: [("cluster".to_string(), "a100-pool".to_string())].into(),
        }),
        fingerprint: vec![],
    }
}

async fn get(client: &mut Client, id: &str) -> pb::LogEntry {
    client
        .get_log(pb::GetLogRequest { id: id.into() })
        .await
        .expect("GetLog")
        .into_inner()
        .log
        .expect("log")
}

#[tokio::test]
async fn a_reported_error_is_stored_with_every_detail() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let sent = full_log();
    let response = client
        .report_error(pb::ReportErrorRequest {
            log: Some(sent.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!response.duplicate);
    let id = uuid::Uuid::parse_str(&response.id).expect("id is a UUID");
    assert_eq!(id.get_version_num(), 7, "ids are UUID v7");

    let stored = get(&mut client, &response.id).await;
    assert_eq!(stored.id, response.id);
    assert_eq!(stored.event_id, sent.event_id);
    assert_eq!(stored.occurred_at, sent.occurred_at);
    assert!(stored.received_at.is_some());
    assert_eq!(stored.severity, sent.severity);
    assert_eq!(stored.error_type, sent.error_type);
    assert_eq!(stored.message, sent.message);
    assert_eq!(stored.stack_trace, sent.stack_trace);
    assert_eq!(stored.context, sent.context);
    assert_eq!(stored.system_state, sent.system_state);
    assert_eq!(stored.recent_actions[0], sent.recent_actions[0]);
    assert_eq!(stored.recent_actions[1].action, "start_training");
    assert_eq!(
        stored.recent_actions[1].details,
        Some(prost_types::Struct::default())
    );
    assert_eq!(stored.source, sent.source);
}

#[tokio::test]
async fn defaults_fill_in_what_a_minimal_report_leaves_out() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let before = chrono::Utc::now();
    let mut log = new_log(
        "dataloader worker exited",
        Severity::Low,
        ErrorType::Unspecified,
    );
    log.occurred_at = None;
    let id = report(&mut client, log).await;
    let stored = get(&mut client, &id).await;
    assert_eq!(
        stored.error_type,
        ErrorType::Other as i32,
        "unspecified type is stored as OTHER"
    );
    let occurred = stored.occurred_at.unwrap();
    assert!(
        occurred.seconds >= before.timestamp(),
        "occurred_at defaults to receipt time"
    );
    assert_eq!(stored.event_id, "");
    assert!(stored.system_state.is_none());
    assert!(stored.recent_actions.is_empty());
}

#[tokio::test]
async fn the_same_event_id_is_stored_once_and_answers_the_first_id() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let first = client
        .report_error(pb::ReportErrorRequest {
            log: Some(full_log()),
        })
        .await
        .unwrap()
        .into_inner();
    let mut retry = full_log();
    retry.message = "a retry with another message".into();
    let second = client
        .report_error(pb::ReportErrorRequest { log: Some(retry) })
        .await
        .unwrap()
        .into_inner();
    assert!(second.duplicate);
    assert_eq!(second.id, first.id);
    let stats = common::stats(&mut client).await;
    assert_eq!(
        stats.total, 1,
        "the duplicate was neither stored nor counted"
    );
    assert_eq!(
        get(&mut client, &first.id).await.message,
        full_log().message
    );
}

/// Concurrent callers' logs are stored together (one transaction, so one
/// `received_at`, for those that waited at the same time), and each caller
/// still gets its own answer: its own id, or, for an event_id another caller
/// sent at the same moment, the one stored id with `duplicate` set.
#[tokio::test]
async fn concurrent_reports_share_transactions_and_each_gets_its_own_answer() {
    let server = TestServer::start().await;
    let client = server.client().await;
    const CALLERS: usize = 60;
    // Callers 0..20 send unique logs without event_id; callers 20..60 send
    // 20 event_ids, each twice (with different messages).
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..CALLERS {
        let mut client = client.clone();
        calls.spawn(async move {
            let mut log = new_log(
                &format!("dataloader worker {n} exited unexpectedly"),
                Severity::High,
                ErrorType::Training,
            );
            if n >= 20 {
                log.event_id = format!("0195f3c4-6b1e-7cc2-a1b2-{:012x}", (n - 20) / 2);
            }
            let answer = client
                .report_error(pb::ReportErrorRequest { log: Some(log) })
                .await
                .expect("ReportError")
                .into_inner();
            (n, answer)
        });
    }
    let mut answers = calls.join_all().await;
    answers.sort_by_key(|(n, _)| *n);
    let mut client = client;
    let mut received = std::collections::BTreeSet::new();
    let mut stored = std::collections::BTreeSet::new();
    for pair in answers[20..].chunks(2) {
        let ((_, a), (_, b)) = (&pair[0], &pair[1]);
        assert_eq!(a.id, b.id, "one event_id, one stored log");
        assert!(
            a.duplicate != b.duplicate,
            "exactly one of the two stored it"
        );
    }
    for (n, answer) in &answers {
        let log = get(&mut client, &answer.id).await;
        if *n < 20 {
            assert!(!answer.duplicate);
            assert_eq!(
                log.message,
                format!("dataloader worker {n} exited unexpectedly")
            );
        }
        let t = log.received_at.expect("received_at");
        received.insert((t.seconds, t.nanos));
        stored.insert(answer.id.clone());
    }
    assert_eq!(stored.len(), 40, "20 unique logs and 20 event_ids");
    assert_eq!(common::stats(&mut client).await.total, 40);
    assert!(
        received.len() < stored.len(),
        "{} logs stored in {} transactions: concurrent callers were merged",
        stored.len(),
        received.len()
    );
}

/// Every validation failure of ReportError: INVALID_ARGUMENT naming the field,
/// and nothing stored.
#[tokio::test]
async fn invalid_reports_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let base = || new_log("CUDA error", Severity::High, ErrorType::Training);
    let big = |n: usize| "x".repeat(n);
    let deep = {
        let mut value = serde_json::json!({"leaf": 1});
        for _ in 0..24 {
            value = serde_json::json!({ "a": value });
        }
        value
    };
    let cases: Vec<(pb::NewLog, &str)> = vec![
        (
            pb::NewLog {
                message: String::new(),
                ..base()
            },
            "log.message: required",
        ),
        (
            pb::NewLog {
                message: "   ".into(),
                ..base()
            },
            "log.message: required",
        ),
        (
            pb::NewLog {
                severity: 0,
                ..base()
            },
            "log.severity: required",
        ),
        (
            pb::NewLog {
                severity: 99,
                ..base()
            },
            "log.severity: unknown severity 99",
        ),
        (
            pb::NewLog {
                error_type: 42,
                ..base()
            },
            "log.error_type: unknown error type 42",
        ),
        (
            pb::NewLog {
                message: big(64 * 1024 + 1),
                ..base()
            },
            "log.message: 65537 bytes is over the limit",
        ),
        (
            pb::NewLog {
                stack_trace: big(1024 * 1024 + 1),
                ..base()
            },
            "log.stack_trace: 1048577 bytes",
        ),
        (
            pb::NewLog {
                context: Some(json_struct(serde_json::json!({"blob": big(256 * 1024)}))),
                ..base()
            },
            "log.context: ",
        ),
        (
            pb::NewLog {
                context: Some(json_struct(deep)),
                ..base()
            },
            "levels deep",
        ),
        (
            pb::NewLog {
                occurred_at: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 2 * 86_400,
                    nanos: 0,
                }),
                ..base()
            },
            "log.occurred_at: ",
        ),
        (
            pb::NewLog {
                occurred_at: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -5,
                }),
                ..base()
            },
            "log.occurred_at: nanos",
        ),
        (
            pb::NewLog {
                event_id: "not-a-uuid".into(),
                ..base()
            },
            "log.event_id: \"not-a-uuid\" is not a UUID",
        ),
        (
            pb::NewLog {
                message: "nul \0 byte".into(),
                ..base()
            },
            "log.message: contains a NUL",
        ),
        (
            pb::NewLog {
                system_state: Some(pb::SystemState {
                    cpu_percent: Some(150.0),
                    ..Default::default()
                }),
                ..base()
            },
            "log.system_state.cpu_percent: 150 is not between 0 and 100",
        ),
        (
            pb::NewLog {
                system_state: Some(pb::SystemState {
                    memory_used_bytes: 10,
                    memory_total_bytes: 5,
                    ..Default::default()
                }),
                ..base()
            },
            "log.system_state.memory_used_bytes",
        ),
        (
            pb::NewLog {
                system_state: Some(pb::SystemState {
                    gpus: vec![pb::GpuState {
                        utilization_percent: Some(-1.0),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..base()
            },
            "log.system_state.gpus[0].utilization_percent",
        ),
        (
            pb::NewLog {
                recent_actions: vec![pb::RecentAction {
                    action: String::new(),
                    ..Default::default()
                }],
                ..base()
            },
            "log.recent_actions[0].action: required",
        ),
        (
            pb::NewLog {
                source: Some(pb::Source {
                    host: big(300),
                    ..Default::default()
                }),
                ..base()
            },
            "log.source.host: 300 bytes",
        ),
    ];
    for (log, expected) in cases {
        let result = client
            .report_error(pb::ReportErrorRequest { log: Some(log) })
            .await;
        assert_status(result, Code::InvalidArgument, expected);
    }
    assert_status(
        client
            .report_error(pb::ReportErrorRequest { log: None })
            .await,
        Code::InvalidArgument,
        "log: required",
    );
    let stats = common::stats(&mut client).await;
    assert_eq!(stats.total, 0, "nothing invalid was stored");
}

#[tokio::test]
async fn an_ingest_stream_commits_batches_with_partial_success() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let event = |n: u32| format!("0195f3c4-6b1e-7cc2-a1b2-{n:012}");
    let logged = |n: u32| pb::NewLog {
        event_id: event(n),
        ..new_log(
            &format!("step {n} failed"),
            Severity::Medium,
            ErrorType::Training,
        )
    };
    let batches = vec![
        pb::IngestLogsRequest {
            logs: vec![
                logged(1),
                logged(2),
                new_log("", Severity::Low, ErrorType::Other),
                logged(3),
            ],
        },
        pb::IngestLogsRequest { logs: vec![] },
        pb::IngestLogsRequest {
            // 2 repeats an earlier event; 4 appears twice in this batch.
            logs: vec![
                logged(2),
                logged(4),
                logged(4),
                pb::NewLog {
                    error_type: 77,
                    ..new_log("bad type", Severity::Low, ErrorType::Other)
                },
            ],
        },
    ];
    let response = client
        .ingest_logs(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.batches, 3);
    assert_eq!(response.accepted, 4);
    assert_eq!(response.duplicates, 2);
    assert_eq!(response.rejected, 2);
    assert_eq!(response.rejections.len(), 2);
    assert_eq!(
        (
            response.rejections[0].batch,
            response.rejections[0].index,
            response.rejections[0].field.as_str()
        ),
        (0, 2, "message")
    );
    assert_eq!(
        (
            response.rejections[1].batch,
            response.rejections[1].index,
            response.rejections[1].field.as_str()
        ),
        (2, 3, "error_type")
    );
    let stats = common::stats(&mut client).await;
    assert_eq!(stats.total, 4);
}

#[tokio::test]
async fn each_batch_is_committed_while_the_stream_stays_open() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let mut ingest_client = client.clone();
    let ingest = tokio::spawn(async move {
        ingest_client
            .ingest_logs(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });
    sender
        .send(pb::IngestLogsRequest {
            logs: vec![new_log("first batch", Severity::High, ErrorType::Network)],
        })
        .await
        .unwrap();
    // The stream is still open: the first batch must become visible anyway.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = client
            .list_logs(pb::ListLogsRequest::default())
            .await
            .unwrap()
            .into_inner();
        if page.logs.len() == 1 {
            assert_eq!(page.logs[0].message, "first batch");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first batch was not committed while the stream was open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sender
        .send(pb::IngestLogsRequest {
            logs: vec![new_log("second batch", Severity::High, ErrorType::Network)],
        })
        .await
        .unwrap();
    drop(sender);
    let response = ingest.await.unwrap().unwrap().into_inner();
    assert_eq!((response.batches, response.accepted), (2, 2));
}

#[tokio::test]
async fn an_oversized_batch_is_refused_after_earlier_batches_are_kept() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let small = pb::IngestLogsRequest {
        logs: vec![new_log("kept", Severity::Low, ErrorType::Other)],
    };
    let huge = pb::IngestLogsRequest {
        logs: vec![new_log("x", Severity::Low, ErrorType::Other); 10_001],
    };
    let result = client
        .ingest_logs(tokio_stream::iter(vec![small, huge]))
        .await;
    assert_status(result, Code::InvalidArgument, "batch 1 holds 10001 logs");
    let stats = common::stats(&mut client).await;
    assert_eq!(stats.total, 1, "the committed first batch stays");
}
