//! Secrets never reach the database: values whose key looks secret in a
//! log's context, labels and action details — and in recorded actions — are
//! stored as "[redacted]"; ML keys like `tokenizer` are kept. Secrets found
//! by their shape or by a key next to them in text (messages, stack traces,
//! string values, labels) are redacted too, and so nothing of them reaches
//! GetLog or a diagnostic report.

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

/// A `prost_types::Value` as JSON.
fn json_of(value: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &value.kind {
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StructValue(s)) => json_of_struct(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(json_of).collect()),
        Some(Kind::NullValue(_)) | None => Value::Null,
    }
}

/// A `prost_types::Struct` as a JSON object.
fn json_of_struct(object: &prost_types::Struct) -> Value {
    Value::Object(
        object
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect(),
    )
}

#[tokio::test]
async fn secrets_in_keys_and_text_reach_neither_get_log_nor_reports() {
    // Every case of the hardening issue, each with its own secret.
    let hf = |n: u32| format!("hf_Leak{n}AbCdEfGhIjKlMnOpQrSt");
    let secrets: Vec<String> = (1..=11).map(hf).chain(["plainpw12".into()]).collect();
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let labels = |secret: &str| -> std::collections::HashMap<String, String> {
        [
            ("HFToken".to_string(), secret.to_string()),
            ("team".to_string(), "nlp".to_string()),
        ]
        .into()
    };
    let log = |n: usize| pb::NewLog {
        stack_trace: format!(
            "Traceback (most recent call last):\n  File \"train.py\", line 3\n\
             OSError: https://ana:{}@hub.example.com/api/x?access_token={}&revision=main",
            secrets[9], secrets[10]
        ),
        context: Some(json_struct(serde_json::json!({
            "HFToken": "plain-1",
            "APIToken": "plain-2",
            "PASSWORD1": "plain-3",
            "secrets": {"hf": secrets[0]},
            "apiKeys": ["plain-4", "plain-5"],
            "passwords": {"db": "plain-6"},
            "env": [format!("HF_TOKEN={}", secrets[1]), "PATH=/usr/bin"],
            "argv": ["train.py", "--token", secrets[2], "--max-tokens", "512"],
            "argv_joined": ["train.py", format!("--token={}", secrets[3]), "--password", secrets[11]],
            "tokenizer": "llama",
            "max_tokens": 128,
            "num_tokens": 5,
            "token_type_ids": [0, 1],
            "note": "throughput 1234 tokens/s, passage length 512",
        }))),
        recent_actions: vec![pb::RecentAction {
            action: "login".into(),
            details: Some(json_struct(
                serde_json::json!({"HFToken": "plain-7", "user": "ana"}),
            )),
            ..Default::default()
        }],
        source: Some(pb::Source {
            host: "gpu-1".into(),
            run_id: format!("run-{n}"),
            labels: labels(&secrets[4]),
            ..Default::default()
        }),
        ..new_log(
            &format!("token={} while loading the tokenizer", secrets[5]),
            Severity::High,
            ErrorType::Network,
        )
    };
    // One log through ReportError, one through IngestLogs.
    let reported = report(&mut client, log(1)).await;
    let totals = common::ingest(&mut client, vec![vec![log(2)]]).await;
    assert_eq!(totals.accepted, 1);
    client
        .record_action(pb::RecordActionRequest {
            action: format!("set_token --token {}", secrets[6]),
            details: Some(json_struct(serde_json::json!({
                "HFToken": "plain-8",
                "scope": "read",
                "cmd": format!("huggingface-cli login --token {}", secrets[7]),
            }))),
            source: Some(pb::Source {
                labels: labels(&secrets[8]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();

    // Every secret, and the plain values under secret-looking keys.
    let watched: Vec<String> = secrets
        .iter()
        .cloned()
        .chain((1..=8).map(|n| format!("plain-{n}")))
        .collect();
    let leaked = |text: &str| -> Vec<String> {
        watched
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .cloned()
            .collect()
    };

    let page = client
        .list_logs(pb::ListLogsRequest {
            view: pb::LogView::Full as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.logs.len(), 2);
    for listed in &page.logs {
        let got = client
            .get_log(pb::GetLogRequest {
                id: listed.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .log
            .unwrap();
        let shown = format!("{got:?}");
        assert_eq!(leaked(&shown), Vec::<String>::new(), "GetLog shows {shown}");
        assert_eq!(got.message, "token=[redacted] while loading the tokenizer");
        assert_eq!(
            got.stack_trace,
            "Traceback (most recent call last):\n  File \"train.py\", line 3\n\
             OSError: https://ana:[redacted]@hub.example.com/api/x?access_token=[redacted]&revision=main"
        );
        let context = json_of_struct(got.context.as_ref().unwrap());
        assert_eq!(
            context,
            serde_json::json!({
                "HFToken": "[redacted]",
                "APIToken": "[redacted]",
                "PASSWORD1": "[redacted]",
                "secrets": "[redacted]",
                "apiKeys": "[redacted]",
                "passwords": "[redacted]",
                "env": ["HF_TOKEN=[redacted]", "PATH=/usr/bin"],
                "argv": ["train.py", "--token", "[redacted]", "--max-tokens", "512"],
                "argv_joined": ["train.py", "--token=[redacted]", "--password", "[redacted]"],
                "tokenizer": "llama",
                "max_tokens": 128.0,
                "num_tokens": 5.0,
                "token_type_ids": [0.0, 1.0],
                "note": "throughput 1234 tokens/s, passage length 512",
            })
        );
        let source = got.source.as_ref().unwrap();
        assert_eq!(source.labels["HFToken"], "[redacted]");
        assert_eq!(source.labels["team"], "nlp");
        let details = json_of_struct(got.recent_actions[0].details.as_ref().unwrap());
        assert_eq!(
            details,
            serde_json::json!({"HFToken": "[redacted]", "user": "ana"})
        );
    }
    assert!(page.logs.iter().any(|l| l.id == reported));

    let info = client
        .generate_report(pb::GenerateReportRequest::default())
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let bytes = common::download_report_bytes(&mut client, info.report_id).await;
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        leaked(&text),
        Vec::<String>::new(),
        "the report shows {text}"
    );
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["errors"].as_array().unwrap().len(), 2);
    let action = &document["recent_actions"][0];
    assert_eq!(action["action"], "set_token --token [redacted]");
    assert_eq!(
        action["details"],
        serde_json::json!({
            "HFToken": "[redacted]",
            "scope": "read",
            "cmd": "huggingface-cli login --token [redacted]",
        })
    );
    assert_eq!(action["source"]["labels"]["HFToken"], "[redacted]");
    assert_eq!(action["source"]["labels"]["team"], "nlp");
}

#[tokio::test]
async fn tokenizer_words_and_traceback_code_are_kept_beside_redacted_secrets() {
    // The over-redaction issue: tokenizer tokens, `auth_type`/`author` and
    // traceback source lines are ordinary ML text; the secrets next to them
    // are still redacted.
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let trace = "Traceback (most recent call last):\n  File \"generate.py\", line 12, in step\n    \
                 next_token = logits.argmax(dim=-1)\n  File \"data.py\", line 4, in encode\n    \
                 token = tokenizer(text)\n  File \"login.py\", line 2, in login\n    \
                 password = getpass.getpass()\nValueError: bad config: password=hunter2 token=\"abc123\"";
    let log = pb::NewLog {
        stack_trace: trace.into(),
        context: Some(json_struct(serde_json::json!({
            "pad_token": "<pad>",
            "eos_token": "</s>",
            "next_token": 42,
            "decoder_start_token": 0,
            "auth_type": "basic",
            "author": "ana",
            "argv": ["serve.py", "--auth-type", "basic", "--auth", "s3cr3t"],
            "access_token": "plain-1",
            "http_auth": "plain-2",
        }))),
        ..new_log("next_token = 42", Severity::High, ErrorType::Training)
    };
    let id = report(&mut client, log).await;
    let got = client
        .get_log(pb::GetLogRequest { id })
        .await
        .unwrap()
        .into_inner()
        .log
        .unwrap();
    assert_eq!(got.message, "next_token = 42");
    assert_eq!(
        got.stack_trace,
        trace.replace(
            "password=hunter2 token=\"abc123\"",
            "password=[redacted] token=[redacted]"
        )
    );
    assert_eq!(
        json_of_struct(got.context.as_ref().unwrap()),
        serde_json::json!({
            "pad_token": "<pad>",
            "eos_token": "</s>",
            "next_token": 42.0,
            "decoder_start_token": 0.0,
            "auth_type": "basic",
            "author": "ana",
            "argv": ["serve.py", "--auth-type", "basic", "--auth", "[redacted]"],
            "access_token": "[redacted]",
            "http_auth": "[redacted]",
        })
    );
}
