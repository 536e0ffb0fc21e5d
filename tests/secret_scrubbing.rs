//! Secrets never reach the database: values whose key looks secret in a
//! log's context, labels and action details — and in recorded actions — are
//! stored as "[redacted]"; ML keys like `tokenizer` are kept.

mod common;

use common::{TestServer, json_struct, new_log, report, test_options};
use diagd::{
    api::pb::{self, ErrorType, Severity},
    domain::scrub::Scrubber,
};
use serde_json::Value;

#[tokio::test]
async fn secret_values_are_redacted_before_storage() {
    let mut options = test_options();
    options.api.scrubber = Scrubber::new(&["wandb_key".into()]);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let log = pb::NewLog {
        context: Some(json_struct(serde_json::json!({
            "tokenizer": "llama",
            "max_tokens": 128,
            "HF_TOKEN": "hf_abcdef",
            "WANDB_KEY": "w-123",
            "env": {"db": {"Password": "hunter2", "host": "db"}, "headers": [{"Authorization": "Bearer x"}]},
        }))),
        recent_actions: vec![pb::RecentAction {
            action: "login".into(),
            details: Some(json_struct(
                serde_json::json!({"user": "ana", "cookie": "session=1"}),
            )),
            ..Default::default()
        }],
        source: Some(pb::Source {
            host: "gpu-1".into(),
            labels: [
                ("team".to_string(), "nlp".to_string()),
                ("api-key".to_string(), "k".to_string()),
            ]
            .into(),
            ..Default::default()
        }),
        ..new_log("CUDA error", Severity::High, ErrorType::Training)
    };
    let id = report(&mut client, log).await;
    let stored = server
        .store()
        .await
        .get_log(uuid::Uuid::parse_str(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let context = Value::Object(stored.context.unwrap());
    assert_eq!(context["tokenizer"], "llama");
    assert_eq!(context["max_tokens"], 128);
    assert_eq!(context["HF_TOKEN"], "[redacted]");
    assert_eq!(
        context["WANDB_KEY"], "[redacted]",
        "an extra configured key"
    );
    assert_eq!(context["env"]["db"]["Password"], "[redacted]");
    assert_eq!(context["env"]["db"]["host"], "db");
    assert_eq!(context["env"]["headers"][0]["Authorization"], "[redacted]");
    assert_eq!(stored.recent_actions[0].details["cookie"], "[redacted]");
    assert_eq!(stored.recent_actions[0].details["user"], "ana");
    assert_eq!(stored.source.labels["api-key"], "[redacted]");
    assert_eq!(stored.source.labels["team"], "nlp");

    // Batches and recorded actions too.
    client
        .ingest_logs(tokio_stream::iter(vec![pb::IngestLogsRequest {
            logs: vec![pb::NewLog {
                context: Some(json_struct(
                    serde_json::json!({"aws_secret_access_key": "AKIA..."}),
                )),
                ..new_log("batch", Severity::Low, ErrorType::Other)
            }],
        }]))
        .await
        .unwrap();
    let page = client
        .list_logs(pb::ListLogsRequest {
            view: pb::LogView::Full as i32,
            filter: Some(pb::LogFilter {
                message_contains: "batch".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let context = page.logs[0].context.as_ref().unwrap();
    assert_eq!(
        context.fields["aws_secret_access_key"].kind,
        Some(prost_types::value::Kind::StringValue("[redacted]".into()))
    );
    client
        .record_action(pb::RecordActionRequest {
            action: "set_token".into(),
            details: Some(json_struct(
                serde_json::json!({"token": "t0k3n", "scope": "read"}),
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions = server
        .store()
        .await
        .recent_actions(&Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(actions[0].details["token"], "[redacted]");
    assert_eq!(actions[0].details["scope"], "read");
}
