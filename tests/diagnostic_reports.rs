//! Workflow 3, "Generate Diagnostic Report": one call builds and stores a
//! report (errors, system state, configuration, recent actions, guidance)
//! under a unique id; it can be listed, downloaded as JSON in chunks, and
//! deleted.

mod common;

use clap::Parser;
use common::{Client, TestServer, assert_status, ingest, json_struct, new_log, test_options};
use diagd::api::pb::{self, ErrorType, Severity};
use serde_json::Value;
use tonic::Code;

async fn generate(client: &mut Client, request: pb::GenerateReportRequest) -> pb::ReportInfo {
    client
        .generate_report(request)
        .await
        .expect("GenerateReport")
        .into_inner()
        .report
        .expect("report")
}

/// Downloads a report: its chunks and the parsed document.
async fn download(client: &mut Client, id: &str) -> (Vec<pb::DownloadReportResponse>, Value) {
    let mut stream = client
        .download_report(pb::DownloadReportRequest {
            report_id: id.into(),
        })
        .await
        .expect("DownloadReport")
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        chunks.push(chunk);
    }
    let bytes: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.chunk.iter().copied())
        .collect();
    let document = serde_json::from_slice(&bytes).expect("the download is valid JSON");
    (chunks, document)
}

#[derive(Parser)]
struct ServeCommand {
    #[command(flatten)]
    serve: diagd::config::ServeArgs,
}

#[tokio::test]
async fn a_report_holds_every_part_with_exact_counts() {
    // A configuration naming a database password, which must not leak.
    let serve = ServeCommand::parse_from([
        "diagd",
        "--database-url",
        "postgres://diagd:hunter2@db.internal:5432/diagd",
    ])
    .serve;
    let mut options = test_options();
    options.api.configuration = serve.effective_configuration("info");
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;

    let mut oom = new_log("CUDA out of memory", Severity::Critical, ErrorType::Oom);
    oom.stack_trace = "Traceback (most recent call last):\n  File \"train.py\", line 9\n".into();
    oom.context = Some(json_struct(serde_json::json!({"batch_size": 64})));
    oom.recent_actions = vec![pb::RecentAction {
        timestamp: Some(common::ts("2026-11-25T09:00:00Z")),
        action: "raise_batch_size".into(),
        details: Some(json_struct(serde_json::json!({"to": 64}))),
    }];
    ingest(
        &mut client,
        vec![vec![
            oom.clone(),
            oom,
            new_log("hub timeout", Severity::High, ErrorType::Network),
            new_log("bad lr", Severity::Low, ErrorType::Configuration),
        ]],
    )
    .await;
    client
        .record_action(pb::RecordActionRequest {
            action: "open_logging_page".into(),
            details: Some(json_struct(serde_json::json!({"tab": "filters"}))),
            ..Default::default()
        })
        .await
        .unwrap();

    let info = generate(&mut client, pb::GenerateReportRequest::default()).await;
    assert_eq!(info.error_count, 4);
    assert_eq!(
        info.file_name,
        format!("diagnostic-report-{}.json", info.report_id)
    );
    assert!(info.created_at.is_some());

    let (chunks, report) = download(&mut client, &info.report_id).await;
    assert_eq!(
        chunks[0].file_name, info.file_name,
        "the first chunk names the file"
    );
    let total: usize = chunks.iter().map(|c| c.chunk.len()).sum();
    assert_eq!(
        total as u64, info.size_bytes,
        "size_bytes is what a download sends"
    );
    for key in [
        "report_id",
        "timestamp",
        "version",
        "system",
        "errors",
        "configuration",
        "recent_actions",
        "error_summary",
        "guidance",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(report["report_id"], info.report_id);
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(report["timestamp"].as_str().unwrap()).is_ok(),
        "timestamp is RFC 3339"
    );

    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4);
    let first_oom = errors.iter().find(|e| e["error_type"] == "oom").unwrap();
    assert_eq!(first_oom["severity"], "critical");
    assert_eq!(first_oom["context"]["batch_size"], 64);
    assert!(
        first_oom["stack_trace"]
            .as_str()
            .unwrap()
            .starts_with("Traceback")
    );
    assert_eq!(
        first_oom["recent_actions"][0]["action"], "raise_batch_size",
        "a log's own actions"
    );

    let summary = &report["error_summary"];
    assert_eq!(summary["total_matching"], 4);
    assert_eq!(summary["by_severity"]["critical"], 2);
    assert_eq!(summary["by_severity"]["medium"], 0);
    assert_eq!(summary["by_error_type"]["network"], 1);
    assert_eq!(summary["top_messages"][0]["message"], "CUDA out of memory");
    assert_eq!(summary["top_messages"][0]["count"], 2);

    let guidance = report["guidance"].as_object().unwrap();
    let mut present: Vec<&str> = guidance.keys().map(String::as_str).collect();
    present.sort();
    assert_eq!(
        present,
        ["configuration", "network", "oom"],
        "guidance for the types present only"
    );
    assert_eq!(
        guidance["oom"]["solutions"],
        "Reduce batch size, enable gradient checkpointing, use quantization"
    );

    let system = &report["system"];
    for key in ["os", "kernel", "host_name", "cpu", "memory", "disks", "gpu"] {
        assert!(system.get(key).is_some(), "system lacks {key}");
    }
    let gpu = &system["gpu"];
    if gpu["available"] == false {
        assert_eq!(gpu["note"], "no NVIDIA GPU detected");
    } else {
        assert!(!gpu["devices"].as_array().unwrap().is_empty());
    }

    let configuration = &report["configuration"];
    assert_eq!(configuration["debug_mode"]["enabled"], false);
    assert!(
        configuration["database"]["schema_version"]
            .as_i64()
            .unwrap()
            >= 2
    );
    assert!(configuration["database"]["server_version"].is_string());
    let text = report.to_string();
    assert!(
        !text.contains("hunter2"),
        "the database password is redacted"
    );
    assert!(text.contains("postgres://diagd:[redacted]@db.internal:5432/diagd"));

    let actions = report["recent_actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["action"], "open_logging_page");
    assert_eq!(actions[0]["details"]["tab"], "filters");
}

#[tokio::test]
async fn reports_follow_filters_and_the_error_limit() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..30)
        .map(|i| {
            let severity = if i % 3 == 0 {
                Severity::High
            } else {
                Severity::Low
            };
            new_log(&format!("error {i}"), severity, ErrorType::Training)
        })
        .collect();
    ingest(&mut client, vec![logs]).await;

    let info = generate(
        &mut client,
        pb::GenerateReportRequest {
            filter: Some(pb::LogFilter {
                severities: vec![Severity::High as i32],
                ..Default::default()
            }),
            max_errors: 4,
        },
    )
    .await;
    assert_eq!(info.error_count, 4);
    let (_, report) = download(&mut client, &info.report_id).await;
    assert_eq!(report["errors"].as_array().unwrap().len(), 4);
    assert!(
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["severity"] == "high")
    );
    assert_eq!(report["error_summary"]["total_matching"], 10);
    assert_eq!(report["error_summary"]["truncated"], true);

    assert_status(
        client
            .generate_report(pb::GenerateReportRequest {
                max_errors: 1_000_000,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "max_errors: at most 100000",
    );
    assert_status(
        client
            .generate_report(pb::GenerateReportRequest {
                filter: Some(pb::LogFilter {
                    error_types: vec![99],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "filter.error_types[0]: unknown error type 99",
    );
}

#[tokio::test]
async fn a_report_of_several_megabytes_downloads_in_64k_chunks() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let trace = "  File \"/opt/conda/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1501, in _call_impl\n"
        .repeat(2000);
    let logs: Vec<pb::NewLog> = (0..25)
        .map(|i| pb::NewLog {
            stack_trace: format!("{i}\n{trace}"),
            ..new_log(&format!("OOM {i}"), Severity::Critical, ErrorType::Oom)
        })
        .collect();
    ingest(&mut client, vec![logs]).await;
    let info = generate(&mut client, pb::GenerateReportRequest::default()).await;
    assert!(
        info.size_bytes > 4_000_000,
        "report of {} bytes",
        info.size_bytes
    );
    let (chunks, report) = download(&mut client, &info.report_id).await;
    assert!(chunks.len() as u64 >= info.size_bytes / 65_536);
    assert!(
        chunks
            .iter()
            .all(|c| c.chunk.len() <= 64 * 1024 && !c.chunk.is_empty())
    );
    assert!(chunks[1..].iter().all(|c| c.file_name.is_empty()));
    assert_eq!(report["errors"].as_array().unwrap().len(), 25);
    let downloaded: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.chunk.iter().copied())
        .collect();
    let stored = server
        .store()
        .await
        .report_document(uuid::Uuid::parse_str(&info.report_id).unwrap())
        .await
        .unwrap()
        .expect("the report is stored");
    assert!(
        downloaded == stored.as_bytes(),
        "the download is the stored report, byte for byte"
    );
}

#[tokio::test]
async fn reports_are_listed_newest_first_and_can_be_deleted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            generate(&mut client, pb::GenerateReportRequest::default())
                .await
                .report_id,
        );
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reports(pb::ListReportsRequest {
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.reports.into_iter().map(|r| r.report_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    ids.reverse();
    assert_eq!(listed, ids, "newest first, every report once");

    let got = client
        .get_report(pb::GetReportRequest {
            report_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(got.report_id, ids[0]);

    client
        .delete_report(pb::DeleteReportRequest {
            report_id: ids[0].clone(),
        })
        .await
        .unwrap();
    let gone = format!("report {} not found", ids[0]);
    assert_status(
        client
            .get_report(pb::GetReportRequest {
                report_id: ids[0].clone(),
            })
            .await,
        Code::NotFound,
        &gone,
    );
    assert_status(
        client
            .delete_report(pb::DeleteReportRequest {
                report_id: ids[0].clone(),
            })
            .await,
        Code::NotFound,
        &gone,
    );
    let download = client
        .download_report(pb::DownloadReportRequest {
            report_id: ids[0].clone(),
        })
        .await;
    assert_status(download.map(|_| ()), Code::NotFound, &gone);
    assert_status(
        client
            .get_report(pb::GetReportRequest {
                report_id: "nope".into(),
            })
            .await,
        Code::InvalidArgument,
        "report_id: \"nope\" is not a UUID",
    );
    assert_status(
        client
            .list_reports(pb::ListReportsRequest {
                page_size: 1,
                page_token: "garbage".into(),
            })
            .await,
        Code::InvalidArgument,
        "page_token",
    );
}

#[tokio::test]
async fn a_report_over_many_large_logs_is_stored_and_downloaded_in_bounded_memory() {
    const LOGS: usize = 300;
    const TRACE: usize = 200 * 1024;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 300 logs of ~220 KiB (a 200 KiB stack trace, a 20 KiB context): a
    // report of ~66 MB, ingested through the in-process test server.
    for batch in 0..LOGS / 10 {
        let logs: Vec<pb::NewLog> = (batch * 10..batch * 10 + 10)
            .map(|i| pb::NewLog {
                stack_trace: format!("trace {i}\n{}", "s".repeat(TRACE)),
                context: Some(json_struct(
                    serde_json::json!({"i": i, "pad": "c".repeat(20 * 1024)}),
                )),
                ..new_log(&format!("large {i}"), Severity::High, ErrorType::Training)
            })
            .collect();
        ingest(&mut client, vec![logs]).await;
    }

    // The report is generated and downloaded by a `diagd serve` process of
    // its own, whose peak memory is then read.
    let (serving, port) = common::serve_on_database(&server.dbname);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut child = loop {
        match pb::diagnostics_service_client::DiagnosticsServiceClient::connect(format!(
            "http://127.0.0.1:{port}"
        ))
        .await
        {
            Ok(client) => break client.max_decoding_message_size(64 * 1024 * 1024),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("diagd serve did not start: {e}"),
        }
    };
    let info = generate(
        &mut child,
        pb::GenerateReportRequest {
            max_errors: 1000,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(info.error_count, LOGS as u64);
    let (chunks, report) = download(&mut child, &info.report_id).await;
    let downloaded: u64 = chunks.iter().map(|c| c.chunk.len() as u64).sum();
    assert_eq!(downloaded, info.size_bytes, "size_bytes is exact");
    assert!(downloaded > (LOGS * TRACE) as u64);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), LOGS);
    // Newest first, each whole.
    for (n, error) in errors.iter().enumerate() {
        let i = LOGS - 1 - n;
        assert_eq!(error["message"], format!("large {i}"));
        assert_eq!(
            error["stack_trace"].as_str().unwrap().len(),
            format!("trace {i}\n").len() + TRACE
        );
        assert_eq!(error["context"]["i"], i);
    }
    assert_eq!(report["error_summary"]["included"], LOGS);

    let peak = common::peak_rss_of(serving.id());
    assert!(
        peak < 100 * 1024 * 1024,
        "diagd peaked at {} MiB for a report of {} MiB",
        peak / (1024 * 1024),
        info.size_bytes / (1024 * 1024)
    );
    common::terminate(serving).await;
}

#[tokio::test]
async fn reports_in_parts_print_as_one_jsonb_document_would_and_older_whole_reports_still_download()
{
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let db = common::connect_database(&server).await;
    // Text that jsonb prints in its own way (escapes, unicode, numbers),
    // and enough of it for several parts.
    let logs: Vec<pb::NewLog> = (0..8)
        .map(|i| pb::NewLog {
            stack_trace: format!("{i}\t\"quoted\" \\ é 🚀 \u{1}\n{}", "line\n".repeat(60_000)),
            context: Some(json_struct(serde_json::json!({
                "lr": 0.000_1 * f64::from(i), "big": 1e20, "nested": {"b": [1, 2.5, null, true]},
                "a key": "value \u{7f}",
            }))),
            ..new_log(
                &format!("odd text {i} ✓"),
                Severity::Medium,
                ErrorType::Configuration,
            )
        })
        .collect();
    ingest(&mut client, vec![logs]).await;
    let printed_as_jsonb = async |text: &str| -> String {
        db.query_one("SELECT $1::text::jsonb::text", &[&text])
            .await
            .unwrap()
            .get(0)
    };
    let parts = async |id: &str| -> i64 {
        db.query_one(
            "SELECT count(*) FROM report_parts WHERE report_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
    };
    for request in [
        pb::GenerateReportRequest::default(),
        pb::GenerateReportRequest {
            filter: Some(pb::LogFilter {
                message_contains: "nothing like this".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    ] {
        let info = generate(&mut client, request).await;
        let (chunks, _) = download(&mut client, &info.report_id).await;
        let text =
            String::from_utf8(chunks.iter().flat_map(|c| c.chunk.to_vec()).collect()).unwrap();
        assert_eq!(text.len() as u64, info.size_bytes);
        assert!(
            text == printed_as_jsonb(&text).await,
            "the report is printed exactly as one jsonb value"
        );
        if info.error_count > 0 {
            assert!(parts(&info.report_id).await > 3, "stored in several parts");
        }
        client
            .delete_report(pb::DeleteReportRequest {
                report_id: info.report_id.clone(),
            })
            .await
            .unwrap();
        assert_eq!(parts(&info.report_id).await, 0, "its parts went with it");
    }

    // A report stored whole, as before parts existed.
    let id = uuid::Uuid::now_v7();
    let document = serde_json::json!({"errors": [{"message": "old"}], "report_id": id.to_string()});
    db.execute(
        "INSERT INTO reports (id, created_at, error_count, size_bytes, document)
         SELECT $1, now(), 1, octet_length(d::text), d FROM (SELECT $2::jsonb AS d) AS doc",
        &[&id, &document],
    )
    .await
    .unwrap();
    let (chunks, downloaded) = download(&mut client, &id.to_string()).await;
    assert_eq!(downloaded, document);
    assert_eq!(chunks[0].file_name, format!("diagnostic-report-{id}.json"));
}
