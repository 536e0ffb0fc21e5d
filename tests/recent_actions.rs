//! Recent user actions: RecordAction stores breadcrumbs per source, keeps
//! only the newest N of each source, and reports include them.

mod common;

use common::{Client, TestServer, assert_status, json_struct, test_options, ts};
use diagd::api::pb;
use serde_json::Value;
use tonic::Code;

async fn record(client: &mut Client, action: &str, at: &str, host: &str) -> String {
    client
        .record_action(pb::RecordActionRequest {
            timestamp: Some(ts(at)),
            action: action.into(),
            details: Some(json_struct(serde_json::json!({"n": action}))),
            source: Some(pb::Source {
                host: host.into(),
                run_id: "run-1".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("RecordAction")
        .into_inner()
        .id
}

async fn report_actions(client: &mut Client, host: &str) -> Vec<Value> {
    let info = client
        .generate_report(pb::GenerateReportRequest {
            filter: Some(pb::LogFilter {
                source: Some(pb::Source {
                    host: host.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let bytes = common::download_report_bytes(client, info.report_id).await;
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    report["recent_actions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn actions_are_bounded_per_source_and_included_in_reports() {
    let mut options = test_options();
    options.api.actions_per_source = 5;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    for i in 0..8 {
        let id = record(
            &mut client,
            &format!("a{i}"),
            &format!("2026-11-25T10:00:0{i}Z"),
            "gpu-1",
        )
        .await;
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    }
    record(&mut client, "b0", "2026-11-25T10:00:00Z", "gpu-2").await;
    record(&mut client, "b1", "2026-11-25T10:00:01Z", "gpu-2").await;

    let gpu1 = report_actions(&mut client, "gpu-1").await;
    let names: Vec<&str> = gpu1.iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["a7", "a6", "a5", "a4", "a3"],
        "the newest 5 of gpu-1, newest first"
    );
    assert_eq!(gpu1[0]["details"]["n"], "a7");
    assert_eq!(gpu1[0]["source"]["run_id"], "run-1");
    assert_eq!(gpu1[0]["timestamp"], "2026-11-25T10:00:07Z");

    let gpu2 = report_actions(&mut client, "gpu-2").await;
    assert_eq!(gpu2.len(), 2, "another source keeps its own actions");
    let everything = report_actions(&mut client, "").await;
    assert_eq!(everything.len(), 7);
}

#[tokio::test]
async fn invalid_actions_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert_status(
        client
            .record_action(pb::RecordActionRequest::default())
            .await,
        Code::InvalidArgument,
        "action: required",
    );
    assert_status(
        client
            .record_action(pb::RecordActionRequest {
                action: "x".repeat(2000),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "action: 2000 bytes is over the limit of 1024",
    );
    assert_status(
        client
            .record_action(pb::RecordActionRequest {
                action: "train".into(),
                timestamp: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 3 * 86_400,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "timestamp: ",
    );
    assert_status(
        client
            .record_action(pb::RecordActionRequest {
                action: "train".into(),
                details: Some(json_struct(serde_json::json!({"blob": "y".repeat(70_000)}))),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "details: ",
    );
    assert_status(
        client
            .record_action(pb::RecordActionRequest {
                action: "train".into(),
                source: Some(pb::Source {
                    component: "c\0".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "source.component: contains a NUL",
    );
    // A minimal action is fine: the time defaults to now.
    let id = client
        .record_action(pb::RecordActionRequest {
            action: "open_page".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    assert!(!id.is_empty());
}
