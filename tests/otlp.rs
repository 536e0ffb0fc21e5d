//! OTLP logs ingest (issue #14), through the `opentelemetry-proto` tonic
//! client and a plain HTTP/1.1 client against the real server: every mapped
//! field, severities and the debug-mode threshold, partial success, retries
//! stored once, tokens, TLS, limits, and bytes that are not OTLP. The real
//! OpenTelemetry Python SDK is driven by `tests/otel_sdk` (in `.ci/run`).

mod common;

use std::{
    io::Write,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{Client, TestServer, assert_status, error_reason, free_port, test_options};
use diagd::{api::pb, server::auth::Tokens};
use opentelemetry_proto::tonic::{
    collector::logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse, logs_service_client::LogsServiceClient,
    },
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value as Any},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    resource::v1::Resource,
};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::{Code, transport::Channel};

const OOM_TRACE: &str = "Traceback (most recent call last):
  File \"/home/alice/llm/train.py\", line 88, in <module>
    main()
  File \"/home/alice/llm/train.py\", line 80, in main
    loss.backward()
  File \"/opt/conda/lib/python3.11/site-packages/torch/_tensor.py\", line 522, in backward
    torch.autograd.backward(
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)";

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A record with this severity number, body and attributes, timed now.
fn record(severity: i32, body: &str, attributes: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: now_nanos(),
        severity_number: severity,
        body: Some(AnyValue {
            value: Some(Any::StringValue(body.into())),
        }),
        attributes,
        ..Default::default()
    }
}

/// An Export of `records` from a trainer on `host`.
fn export_of(host: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("host.name", host),
                    kv("service.name", "trainer"),
                    kv("diagd.run_id", "run-42"),
                    kv("k8s.pod.name", "trainer-0"),
                    kv("cloud.provider", "gcp"),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "train".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn otlp_client(server: &TestServer) -> LogsServiceClient<Channel> {
    LogsServiceClient::new(server.channel().await)
}

/// Every log stored, newest first, every field.
async fn all_logs(client: &mut Client) -> Vec<pb::LogEntry> {
    client
        .list_logs(pb::ListLogsRequest {
            page_size: 1000,
            view: pb::LogView::Full as i32,
            ..Default::default()
        })
        .await
        .expect("ListLogs")
        .into_inner()
        .logs
}

fn context(entry: &pb::LogEntry) -> serde_json::Value {
    fn json(value: &prost_types::Value) -> serde_json::Value {
        use prost_types::value::Kind;
        match &value.kind {
            Some(Kind::StringValue(s)) => s.clone().into(),
            Some(Kind::NumberValue(n)) => (*n).into(),
            Some(Kind::BoolValue(b)) => (*b).into(),
            Some(Kind::StructValue(s)) => serde_json::Value::Object(
                s.fields.iter().map(|(k, v)| (k.clone(), json(v))).collect(),
            ),
            Some(Kind::ListValue(l)) => l.values.iter().map(json).collect(),
            _ => serde_json::Value::Null,
        }
    }
    serde_json::Value::Object(
        entry
            .context
            .as_ref()
            .map(|s| s.fields.iter().map(|(k, v)| (k.clone(), json(v))).collect())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_exported_exception_arrives_with_every_field_mapped_and_grouped() {
    let server = TestServer::start().await;
    let mut otlp = otlp_client(&server).await;
    let mut exception = record(
        17,
        "training step failed",
        vec![
            kv("exception.type", "torch.OutOfMemoryError"),
            kv(
                "exception.message",
                "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)",
            ),
            kv("exception.stacktrace", OOM_TRACE),
            kv("code.function", "main"),
            kv("api_key", "sk-live-0123456789abcdef0123456789abcdef"),
        ],
    );
    exception.trace_id = (1..=16).collect();
    exception.span_id = (1..=8).collect();
    let fatal = record(21, "NCCL watchdog timeout on rank 3", vec![]);
    let warning = record(13, "gradient norm is large", vec![]);
    let answer = otlp
        .export(export_of("gpu-node-7", vec![exception, fatal, warning]))
        .await
        .expect("Export")
        .into_inner();
    assert_eq!(answer.partial_success, None, "{answer:?}");

    let mut client = server.client().await;
    let logs = all_logs(&mut client).await;
    assert_eq!(logs.len(), 3, "{logs:#?}");
    let oom = logs
        .iter()
        .find(|l| l.message.starts_with("torch.OutOfMemoryError"))
        .expect("the exception");
    assert_eq!(
        oom.message,
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)"
    );
    assert_eq!(oom.stack_trace, OOM_TRACE);
    assert_eq!(oom.severity, pb::Severity::High as i32);
    assert_eq!(oom.error_type, pb::ErrorType::Oom as i32);
    let source = oom.source.clone().unwrap();
    assert_eq!(source.host, "gpu-node-7");
    assert_eq!(source.component, "trainer");
    assert_eq!(source.run_id, "run-42");
    assert_eq!(source.labels["k8s.pod.name"], "trainer-0");
    let ctx = context(oom);
    assert_eq!(ctx["body"], "training step failed");
    assert_eq!(ctx["code.function"], "main");
    assert_eq!(ctx["trace_id"], "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(ctx["span_id"], "0102030405060708");
    assert_eq!(ctx["otel_scope"]["name"], "train");
    assert_eq!(ctx["resource"]["cloud.provider"], "gcp");
    assert_ne!(
        ctx["api_key"], "sk-live-0123456789abcdef0123456789abcdef",
        "context is scrubbed like every context"
    );
    assert!(oom.group_id > 0, "grouped like any other log: {oom:?}");
    assert!(!oom.event_id.is_empty(), "an idempotency key is derived");
    let fatal = logs.iter().find(|l| l.message.starts_with("NCCL")).unwrap();
    assert_eq!(fatal.severity, pb::Severity::Critical as i32);
    assert_eq!(fatal.error_type, pb::ErrorType::Network as i32);
    let warning = logs
        .iter()
        .find(|l| l.message.starts_with("gradient"))
        .unwrap();
    assert_eq!(warning.severity, pb::Severity::Medium as i32);

    // The same OOM from another host with another path lands in the same group.
    let other = record(
        18,
        "",
        vec![
            kv("exception.type", "torch.OutOfMemoryError"),
            kv(
                "exception.message",
                "CUDA out of memory. Tried to allocate 512.00 MiB (GPU 3; 79.15 GiB total capacity)",
            ),
            kv(
                "exception.stacktrace",
                &OOM_TRACE
                    .replace("/home/alice", "/workspace")
                    .replace("2.00 GiB (GPU 0", "512.00 MiB (GPU 3"),
            ),
        ],
    );
    otlp.export(export_of("gpu-node-8", vec![other]))
        .await
        .unwrap();
    let logs = all_logs(&mut client).await;
    let groups: std::collections::BTreeSet<i64> = logs
        .iter()
        .filter(|l| l.message.starts_with("torch.OutOfMemoryError"))
        .map(|l| l.group_id)
        .collect();
    assert_eq!(groups.len(), 1, "{logs:#?}");
}

#[tokio::test]
async fn records_below_warn_are_stored_only_while_debug_mode_is_on() {
    let server = TestServer::start().await;
    let mut otlp = otlp_client(&server).await;
    let mut client = server.client().await;
    let mut no_severity = record(0, "no severity at all", vec![]);
    no_severity.severity_text = String::new();
    let quiet = vec![
        record(9, "loaded 12 shards", vec![]),
        record(5, "batch shapes ok", vec![]),
        no_severity,
    ];
    let answer = otlp
        .export(export_of("h", quiet.clone()))
        .await
        .unwrap()
        .into_inner();
    let partial = answer
        .partial_success
        .expect("rejected records are counted");
    assert_eq!(partial.rejected_log_records, 3);
    assert!(
        partial.error_message.contains("debug mode is off"),
        "{partial:?}"
    );
    assert!(all_logs(&mut client).await.is_empty());

    client
        .set_debug_mode(pb::SetDebugModeRequest {
            enabled: true,
            changed_by: "test".into(),
            auto_off_after: None,
        })
        .await
        .unwrap();
    // diagd follows debug mode by LISTEN/NOTIFY: the change shows within
    // moments. Rejected records were not stored, so sending them again is safe.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = otlp
            .export(export_of("h", quiet.clone()))
            .await
            .unwrap()
            .into_inner();
        if answer.partial_success.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "debug mode never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = all_logs(&mut client).await;
    assert_eq!(logs.len(), 3);
    assert!(
        logs.iter().all(|l| l.severity == pb::Severity::Low as i32),
        "{logs:#?}"
    );
}

#[tokio::test]
async fn a_lower_threshold_stores_info_without_debug_mode() {
    let mut options = test_options();
    options.api.otlp_min_severity = 9;
    let server = TestServer::start_with(options).await;
    let answer = otlp_client(&server)
        .await
        .export(export_of(
            "h",
            vec![record(9, "info", vec![]), record(5, "debug", vec![])],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_log_records, 1);
    let logs = all_logs(&mut server.client().await).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].message, "info");
}

#[tokio::test]
async fn a_bad_record_is_rejected_alone_and_named() {
    let server = TestServer::start().await;
    let mut future = record(17, "from the future", vec![]);
    future.time_unix_nano = now_nanos() + 3 * 86_400 * 1_000_000_000;
    let empty = record(17, "   ", vec![]);
    let good = record(17, "a good one", vec![]);
    let answer = otlp_client(&server)
        .await
        .export(export_of("h", vec![future, empty, good]))
        .await
        .unwrap()
        .into_inner();
    let partial = answer.partial_success.expect("two were rejected");
    assert_eq!(partial.rejected_log_records, 2);
    assert!(
        partial
            .error_message
            .contains("log_records[0]: occurred_at"),
        "{partial:?}"
    );
    assert!(
        partial.error_message.contains("log_records[1]: no body"),
        "{partial:?}"
    );
    let logs = all_logs(&mut server.client().await).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].message, "a good one");
}

#[tokio::test]
async fn a_retried_export_is_stored_once() {
    let server = TestServer::start().await;
    let mut otlp = otlp_client(&server).await;
    let request = export_of(
        "h",
        (0..50)
            .map(|i| record(17, &format!("error {i}"), vec![]))
            .collect(),
    );
    for _ in 0..3 {
        let answer = otlp.export(request.clone()).await.unwrap().into_inner();
        assert_eq!(answer.partial_success, None);
    }
    assert_eq!(all_logs(&mut server.client().await).await.len(), 50);
}

#[tokio::test]
async fn limits_and_bytes_that_are_not_otlp() {
    let mut options = test_options();
    options.max_message_bytes = 256 * 1024;
    let server = TestServer::start_with(options).await;
    let mut otlp = otlp_client(&server).await;

    // Too many records in one Export: RESOURCE_EXHAUSTED naming the limit,
    // and no RetryInfo (the same request will never pass).
    let many = export_of(
        "h",
        (0..diagd::api::otlp::MAX_OTLP_RECORDS + 1)
            .map(|_| LogRecord {
                severity_number: 17,
                ..Default::default()
            })
            .collect(),
    );
    let status = otlp.export(many).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("10000"), "{status:?}");
    assert_eq!(error_reason(&status), "OTLP_RECORDS");
    use tonic_types::StatusExt;
    assert!(status.get_details_retry_info().is_none());

    // Over --max-message-bytes: RESOURCE_EXHAUSTED naming the flag.
    let big = export_of("h", vec![record(17, &"x".repeat(300 * 1024), vec![])]);
    let status = otlp.export(big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("--max-message-bytes"),
        "{status:?}"
    );

    // Garbage bytes: INVALID_ARGUMENT, not INTERNAL.
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.unwrap();
    let status = grpc
        .unary::<Vec<u8>, ExportLogsServiceResponse, _>(
            tonic::Request::new(vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
            http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            ),
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_status::<()>(
        Err(status),
        Code::InvalidArgument,
        "ExportLogsServiceRequest",
    );
    // The server keeps serving.
    otlp.export(export_of("h", vec![record(17, "still here", vec![])]))
        .await
        .unwrap();
}

#[tokio::test]
async fn export_needs_an_ingest_or_admin_token() {
    let mut options = test_options();
    options.tokens = Tokens::new(
        &["ingest-1".into()],
        &["read-1".into()],
        &["admin-1".into()],
    );
    let http_port = free_port();
    options.otlp_http_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let server = TestServer::start_with(options).await;
    let channel = server.channel().await;
    for (token, expected) in [
        (None, Some(Code::Unauthenticated)),
        (Some("wrong"), Some(Code::Unauthenticated)),
        (Some("read-1"), Some(Code::PermissionDenied)),
        (Some("ingest-1"), None),
        (Some("admin-1"), None),
    ] {
        let mut request = tonic::Request::new(export_of("h", vec![record(17, "x", vec![])]));
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let result = LogsServiceClient::new(channel.clone())
            .export(request)
            .await;
        match expected {
            Some(code) => assert_eq!(result.unwrap_err().code(), code, "{token:?}"),
            None => {
                result.unwrap_or_else(|e| panic!("{token:?}: {e:?}"));
            }
        }
    }
    let body = export_of("h", vec![record(17, "over http", vec![])]).encode_to_vec();
    for (token, expected) in [(None, 401), (Some("read-1"), 403), (Some("ingest-1"), 200)] {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/x-protobuf")];
        if let Some(value) = &authorization {
            headers.push(("Authorization", value));
        }
        let response = http_post(http_port, &headers, &body).await;
        assert_eq!(response.status, expected, "{token:?}: {response:?}");
    }
}

#[tokio::test]
async fn otlp_http_takes_protobuf_json_and_gzip() {
    let mut options = test_options();
    let http_port = free_port();
    options.otlp_http_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;

    // Protobuf: the answer is protobuf too.
    let request = export_of(
        "proto-host",
        vec![record(
            17,
            "",
            vec![
                kv("exception.type", "pydantic.ValidationError"),
                kv("exception.message", "1 validation error for TrainConfig"),
            ],
        )],
    );
    let response = http_post(
        http_port,
        &[("Content-Type", "application/x-protobuf")],
        &request.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), "application/x-protobuf");
    let answer = ExportLogsServiceResponse::decode(response.body.as_slice()).unwrap();
    assert_eq!(answer.partial_success, None);

    // JSON (OTLP/JSON: camelCase, hex ids, integers as strings), with one
    // record below WARN, answered in JSON with its partial success.
    let json = serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "host.name", "value": {"stringValue": "json-host"}},
                {"key": "service.name", "value": {"stringValue": "evaluator"}}
            ]},
            "scopeLogs": [{
                "scope": {"name": "eval"},
                "logRecords": [
                    {
                        "timeUnixNano": now_nanos().to_string(),
                        "severityNumber": 17,
                        "severityText": "ERROR",
                        "body": {"stringValue": "eval crashed: connection refused"},
                        "traceId": "5b8efff798038103d269b633813fc60c",
                        "spanId": "eee19b7ec3c1b174",
                        "attributes": [{"key": "attempt", "value": {"intValue": "3"}}]
                    },
                    {"severityNumber": 9, "body": {"stringValue": "just info"}}
                ]
            }]
        }]
    });
    let response = http_post(
        http_port,
        &[("Content-Type", "application/json")],
        json.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), "application/json");
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], 1,
        "{answer}"
    );

    // Gzip-compressed protobuf.
    let request = export_of("gzip-host", vec![record(21, "compressed", vec![])]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&request.encode_to_vec()).unwrap();
    let response = http_post(
        http_port,
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &encoder.finish().unwrap(),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");

    let logs = all_logs(&mut client).await;
    let by_host = |host: &str| {
        logs.iter()
            .find(|l| l.source.as_ref().unwrap().host == host)
            .unwrap_or_else(|| panic!("no log from {host}: {logs:#?}"))
    };
    assert_eq!(
        by_host("proto-host").message,
        "pydantic.ValidationError: 1 validation error for TrainConfig"
    );
    assert_eq!(
        by_host("proto-host").error_type,
        pb::ErrorType::Configuration as i32
    );
    let json_log = by_host("json-host");
    assert_eq!(json_log.message, "eval crashed: connection refused");
    assert_eq!(json_log.error_type, pb::ErrorType::Network as i32);
    assert_eq!(json_log.source.as_ref().unwrap().component, "evaluator");
    let ctx = context(json_log);
    assert_eq!(ctx["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(ctx["attempt"], 3.0);
    assert_eq!(by_host("gzip-host").severity, pb::Severity::Critical as i32);
    assert_eq!(logs.len(), 3);

    // Not OTLP: garbage is 400 with a google.rpc.Status, another content
    // type 415, another path 404.
    let response = http_post(
        http_port,
        &[("Content-Type", "application/x-protobuf")],
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    let response = http_post(
        http_port,
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["code"], Code::InvalidArgument as i32, "{body}");
    let response = http_post(http_port, &[("Content-Type", "text/plain")], b"hello").await;
    assert_eq!(response.status, 415, "{response:?}");
}

#[tokio::test]
async fn otlp_http_bounds_the_body_in_bytes() {
    let mut options = test_options();
    options.max_message_bytes = 64 * 1024;
    let http_port = free_port();
    options.otlp_http_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let server = TestServer::start_with(options).await;
    let request = export_of("h", vec![record(17, &"y".repeat(100 * 1024), vec![])]);
    let response = http_post(
        http_port,
        &[("Content-Type", "application/x-protobuf")],
        &request.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status, 413, "{response:?}");
    // Compressed small, large once decompressed: bounded after decompression.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&request.encode_to_vec()).unwrap();
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < 8 * 1024);
    let response = http_post(
        http_port,
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &compressed,
    )
    .await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(all_logs(&mut server.client().await).await.is_empty());
}

#[tokio::test]
async fn otlp_http_serves_tls_with_the_grpc_ports_certificate() {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_der = params.self_signed(&ca_key).unwrap().der().clone();
    let issuer = Issuer::new(params, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let mut options = test_options();
    options.tls = Some(diagd::server::tls::ServerTls {
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
        client_ca_pem: None,
    });
    let http_port = free_port();
    options.otlp_http_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let _server = TestServer::start_with(options).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = connect(http_port).await;
    let stream = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let body = export_of("tls-host", vec![record(17, "over https", vec![])]).encode_to_vec();
    let response =
        http_exchange(stream, &[("Content-Type", "application/x-protobuf")], &body).await;
    assert_eq!(response.status, 200, "{response:?}");

    // Plain HTTP to a TLS listener gets no answer.
    let plain = tokio::time::timeout(
        Duration::from_secs(15),
        http_exchange(
            connect(http_port).await,
            &[("Content-Type", "application/x-protobuf")],
            &body,
        ),
    )
    .await;
    assert!(
        plain.map_or(true, |r| r.status == 0),
        "plaintext must not be served"
    );
}

// ------------------------------------------------------------- helpers

/// Sends raw bytes as a gRPC request; decodes the answer with prost.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ExportLogsServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = ExportLogsServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportLogsServiceResponse>, tonic::Status> {
        ExportLogsServiceResponse::decode(buf)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// An HTTP answer: status (0 when none came), headers, body.
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

async fn connect(port: u16) -> tokio::net::TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(stream) => return stream,
            Err(e) if Instant::now() > deadline => panic!("connecting to port {port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// `POST /v1/logs` over plain HTTP/1.1.
async fn http_post(port: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    http_exchange(connect(port).await, headers, body).await
}

/// `POST /v1/logs` on `stream`, one request, `Connection: close`.
async fn http_exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut request = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    if stream.write_all(&bytes).await.is_err() {
        return HttpResponse {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return HttpResponse {
            status: 0,
            headers: Vec::new(),
            body: answer,
        };
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut body = answer[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

#[tokio::test]
async fn otlp_http_ends_a_request_whose_body_never_finishes() {
    let mut options = test_options();
    options.request_timeout = Duration::from_secs(2);
    let http_port = free_port();
    options.otlp_http_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let _server = TestServer::start_with(options).await;
    let mut stream = connect(http_port).await;
    // Announces 1000 bytes, sends 10, then nothing.
    stream
        .write_all(
            b"POST /v1/logs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\n\
              Content-Length: 1000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut answer))
        .await
        .expect("diagd answers instead of waiting for the body forever")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 504"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
