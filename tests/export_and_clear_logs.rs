//! Workflow 5, "Export and Clear Logs": export every matching log as JSON or
//! NDJSON under a timestamped name with its count, then clear logs — only
//! with confirmation, optionally filtered, optionally exporting first — with
//! the stats dashboard staying exact.

mod common;

use std::collections::BTreeSet;

use common::{Client, TestServer, assert_status, ingest, new_log, report, stats, ts};
use diagd::api::pb::{self, ErrorType, Severity};
use serde_json::Value;
use tonic::Code;

/// Runs an export: the header, then the bytes of the file.
async fn export(
    client: &mut Client,
    request: pb::ExportLogsRequest,
) -> (pb::ExportHeader, Vec<u8>) {
    let mut stream = client
        .export_logs(request)
        .await
        .expect("ExportLogs")
        .into_inner();
    let first = stream.message().await.unwrap().expect("a header");
    let Some(pb::export_logs_response::Part::Header(header)) = first.part else {
        panic!("the first message is the header, got {first:?}");
    };
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        match message.part {
            Some(pb::export_logs_response::Part::Chunk(chunk)) => bytes.extend_from_slice(&chunk),
            other => panic!("expected a chunk, got {other:?}"),
        }
    }
    (header, bytes)
}

fn log_at(rfc3339: &str, message: &str, severity: Severity) -> pb::NewLog {
    pb::NewLog {
        occurred_at: Some(ts(rfc3339)),
        ..new_log(message, severity, ErrorType::Training)
    }
}

fn is_export_name(name: &str, extension: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix("diagd-logs-")
        .and_then(|rest| rest.strip_suffix(&format!(".{extension}")))
    else {
        return false;
    };
    // The time to the millisecond, then a random suffix.
    let Some((time, suffix)) = stamp.split_once('-') else {
        return false;
    };
    chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.3fZ").is_ok()
        && suffix.len() == 12
        && suffix.chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn exports_are_valid_json_and_ndjson_with_name_and_count() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    ingest(
        &mut client,
        vec![vec![
            log_at("2026-11-01T00:00:03Z", "third", Severity::High),
            log_at("2026-11-01T00:00:01Z", "first", Severity::High),
            log_at("2026-11-01T00:00:02Z", "second", Severity::Low),
        ]],
    )
    .await;

    let (header, bytes) = export(&mut client, pb::ExportLogsRequest::default()).await;
    assert!(
        is_export_name(&header.file_name, "json"),
        "{}",
        header.file_name
    );
    assert_eq!(header.total_count, 3);
    let logs: Vec<Value> = serde_json::from_slice(&bytes).expect("a JSON array");
    let messages: Vec<&str> = logs
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["first", "second", "third"], "oldest first");
    assert_eq!(logs[0]["severity"], "high");
    assert_eq!(logs[0]["error_type"], "training");
    assert!(logs[0]["id"].is_string() && logs[0]["received_at"].is_string());

    let (header, bytes) = export(
        &mut client,
        pb::ExportLogsRequest {
            format: pb::ExportFormat::Ndjson as i32,
            filter: Some(pb::LogFilter {
                severities: vec![Severity::High as i32],
                ..Default::default()
            }),
        },
    )
    .await;
    assert!(
        is_export_name(&header.file_name, "ndjson"),
        "{}",
        header.file_name
    );
    assert_eq!(header.total_count, 2);
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(text.ends_with('\n'));

    let (header, bytes) = export(
        &mut client,
        pb::ExportLogsRequest {
            filter: Some(pb::LogFilter {
                message_contains: "nothing like this".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(header.total_count, 0);
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&bytes).unwrap().len(),
        0,
        "an empty export is []"
    );

    assert_status(
        client
            .export_logs(pb::ExportLogsRequest {
                format: 7,
                ..Default::default()
            })
            .await
            .map(|_| ()),
        Code::InvalidArgument,
        "format: unknown format 7",
    );
}

#[tokio::test]
async fn a_hundred_thousand_logs_stream_with_flat_memory() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let message = "x".repeat(900);
    let batches: Vec<Vec<pb::NewLog>> = (0..20)
        .map(|b| {
            (0..5000)
                .map(|i| {
                    new_log(
                        &format!("{b}-{i} {message}"),
                        Severity::Medium,
                        ErrorType::Other,
                    )
                })
                .collect()
        })
        .collect();
    let ingested = ingest(&mut client, batches).await;
    assert_eq!(ingested.accepted, 100_000);

    let before = common::peak_rss_of(std::process::id());
    let mut stream = client
        .export_logs(pb::ExportLogsRequest {
            format: pb::ExportFormat::Ndjson as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut total = None;
    let mut bytes = 0usize;
    let mut lines = 0usize;
    let mut largest_chunk = 0usize;
    while let Some(message) = stream.message().await.unwrap() {
        match message.part.unwrap() {
            pb::export_logs_response::Part::Header(header) => total = Some(header.total_count),
            pb::export_logs_response::Part::Chunk(chunk) => {
                bytes += chunk.len();
                largest_chunk = largest_chunk.max(chunk.len());
                lines += chunk.iter().filter(|b| **b == b'\n').count();
            }
        }
    }
    let growth = common::peak_rss_of(std::process::id()).saturating_sub(before);
    assert_eq!(total, Some(100_000));
    assert_eq!(lines, 100_000);
    assert!(bytes > 100_000_000, "the export is {bytes} bytes");
    assert!(
        largest_chunk < 2 * 1024 * 1024,
        "chunks stay small: {largest_chunk}"
    );
    assert!(
        growth < 60 * 1024 * 1024,
        "exporting {bytes} bytes raised peak memory by {growth} bytes (server and client in this process)"
    );
}

#[tokio::test]
async fn clearing_needs_confirmation_and_keeps_stats_exact() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    ingest(
        &mut client,
        vec![vec![
            log_at("2026-11-01T10:15:00Z", "old high", Severity::High),
            log_at("2026-11-01T10:45:00Z", "old low", Severity::Low),
            log_at("2026-11-01T10:50:00Z", "old low 2", Severity::Low),
            log_at("2026-11-02T10:00:00Z", "new high", Severity::High),
            log_at("2026-11-02T11:00:00Z", "new low", Severity::Low),
        ]],
    )
    .await;

    assert_status(
        client.clear_logs(pb::ClearLogsRequest::default()).await,
        Code::FailedPrecondition,
        "\"confirm\": true",
    );
    assert_eq!(
        stats(&mut client).await.total,
        5,
        "nothing is deleted without confirmation"
    );

    // Only old low-severity logs.
    let cleared = client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            older_than: Some(ts("2026-11-02T00:00:00Z")),
            severities: vec![Severity::Low as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.deleted_count, 2);
    assert!(cleared.export_path.is_empty());
    let after = stats(&mut client).await;
    assert_eq!(after.total, 3);
    let low = after
        .by_severity
        .iter()
        .find(|c| c.severity == Severity::Low as i32)
        .unwrap();
    assert_eq!(low.count, 1);
    assert_eq!(after.oldest, Some(ts("2026-11-01T10:15:00Z")));
    // The hour 10:00–11:00 on Nov 1 keeps one log; its time-range stats agree.
    let hour = client
        .get_stats(pb::GetStatsRequest {
            filter: Some(pb::LogFilter {
                since: Some(ts("2026-11-01T00:00:00Z")),
                until: Some(ts("2026-11-02T00:00:00Z")),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hour.total, 1);
    assert_eq!(
        hour.newest,
        Some(ts("2026-11-01T10:15:00Z")),
        "bounds follow the deletion"
    );

    // Everything.
    let cleared = client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.deleted_count, 3);
    let empty = stats(&mut client).await;
    assert_eq!(empty.total, 0);
    assert!(empty.oldest.is_none());
    assert_status(
        client
            .clear_logs(pb::ClearLogsRequest {
                confirm: true,
                severities: vec![0],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "severities[0]",
    );
}

#[tokio::test]
async fn export_first_writes_exactly_what_is_cleared() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..40)
        .map(|i| {
            new_log(
                &format!("log {i}"),
                if i % 4 == 0 {
                    Severity::Critical
                } else {
                    Severity::Medium
                },
                ErrorType::Inference,
            )
        })
        .collect();
    ingest(&mut client, vec![logs]).await;
    let cleared = common::clear(&mut client, &[Severity::Medium], true).await;
    assert_eq!(cleared.deleted_count, 30);
    assert_eq!(cleared.exported_count, 30);
    let path = std::path::Path::new(&cleared.export_path);
    assert!(
        is_export_name(path.file_name().unwrap().to_str().unwrap(), "json"),
        "{path:?}"
    );
    let exported: Vec<Value> =
        serde_json::from_slice(&std::fs::read(path).expect("the export file exists")).unwrap();
    assert_eq!(exported.len(), 30);
    assert!(exported.iter().all(|l| l["severity"] == "medium"));
    assert_eq!(stats(&mut client).await.total, 10);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn the_export_command_writes_a_timestamped_file_and_confirms() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    ingest(
        &mut client,
        vec![vec![
            log_at("2026-11-01T00:00:01Z", "kept 1", Severity::High),
            log_at("2026-11-01T00:00:02Z", "skipped", Severity::Low),
            log_at("2026-11-01T00:00:03Z", "kept 2", Severity::Critical),
        ]],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let address = format!("http://{}", server.addr);
    let output = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
                .args([
                    "export",
                    "--server",
                    &address,
                    "--severity",
                    "high,critical",
                    "--format",
                    "ndjson",
                    "-o",
                ])
                .arg(&dir)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = stdout
        .trim()
        .strip_prefix("Exported 2 logs to ")
        .unwrap_or_else(|| panic!("unexpected confirmation {stdout:?}"));
    let path = std::path::Path::new(path);
    assert_eq!(path.parent().unwrap(), dir.path());
    assert!(
        is_export_name(path.file_name().unwrap().to_str().unwrap(), "ndjson"),
        "{path:?}"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let messages: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(messages, ["kept 1", "kept 2"]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no partial file left behind"
    );

    // Nobody listening: the error says what to check.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
        .args(["export", "--server", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Is diagd running there?"), "{stderr}");
}

fn log_with_trace(message: &str, severity: Severity, trace: &str) -> pb::NewLog {
    pb::NewLog {
        stack_trace: trace.to_string(),
        ..new_log(message, severity, ErrorType::Training)
    }
}

#[tokio::test]
async fn cleared_logs_take_their_stack_traces_with_them() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let only_low = "Traceback: only in a low log (/home/alice/private/data.py in a frame)";
    let shared = "Traceback: shared by a low and a high log";
    let response = ingest(
        &mut client,
        vec![vec![
            log_with_trace("low alone", Severity::Low, only_low),
            log_with_trace("low shared", Severity::Low, shared),
            log_with_trace("high shared", Severity::High, shared),
        ]],
    )
    .await;
    assert_eq!(response.accepted, 3);
    assert_eq!(common::stored_traces(&server).await, [only_low, shared]);

    // A filtered clear: the trace only the cleared logs had is gone; the
    // shared one stays with the log that still has it.
    let cleared = common::clear(&mut client, &[Severity::Low], false).await;
    assert_eq!(cleared.deleted_count, 2);
    assert_eq!(common::stored_traces(&server).await, [shared]);
    let remaining = client
        .list_logs(pb::ListLogsRequest {
            view: pb::LogView::Full as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].stack_trace, shared);

    // Export first, then clear: the same.
    ingest(
        &mut client,
        vec![vec![log_with_trace("low again", Severity::Low, only_low)]],
    )
    .await;
    let cleared = common::clear(&mut client, &[Severity::Low], true).await;
    assert_eq!(cleared.deleted_count, 1);
    assert_eq!(common::stored_traces(&server).await, [shared]);
    let _ = std::fs::remove_file(&cleared.export_path);

    // Clearing everything leaves no trace at all.
    common::clear(&mut client, &[], false).await;
    assert!(common::stored_traces(&server).await.is_empty());

    // A trace removed with its logs is stored again when it comes back.
    ingest(
        &mut client,
        vec![vec![log_with_trace("back", Severity::High, only_low)]],
    )
    .await;
    assert_eq!(common::stored_traces(&server).await, [only_low]);
    assert_eq!(common::logs_missing_their_trace(&server).await, 0);
}

#[tokio::test]
async fn logs_keep_their_traces_while_clears_remove_others_concurrently() {
    let server = TestServer::start().await;
    let trace = "Traceback: the only trace, of logs cleared as they arrive";
    let mut writer = server.client().await;
    let mut clearer = server.client().await;
    // Each batch refers to a trace whose other logs are being cleared (and
    // the trace with them) at the same moment: the batch must either find it
    // and keep it, or store it again — never refer to a removed trace.
    let writing = tokio::spawn(async move {
        for i in 0..300 {
            ingest(
                &mut writer,
                vec![vec![log_with_trace(
                    &format!("log {i}"),
                    Severity::Low,
                    trace,
                )]],
            )
            .await;
        }
    });
    let mut clears = 0;
    while !writing.is_finished() {
        common::clear(&mut clearer, &[Severity::Low], false).await;
        clears += 1;
    }
    writing.await.unwrap();
    assert!(clears > 1, "the clears ran while logs were written");
    assert_eq!(
        common::logs_missing_their_trace(&server).await,
        0,
        "every stored log still has its stack trace"
    );
    let mut client = server.client().await;
    let kept = client
        .list_logs(pb::ListLogsRequest {
            view: pb::LogView::Full as i32,
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert!(kept.iter().all(|log| log.stack_trace == trace));
}

#[tokio::test]
async fn traces_left_without_logs_are_swept_at_start_up() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let kept = "Traceback: of a stored log";
    let orphan = "Traceback: of logs cleared by an older diagd";
    ingest(
        &mut client,
        vec![vec![log_with_trace("kept", Severity::High, kept)]],
    )
    .await;
    // A trace no log refers to, as clears by older versions left them.
    common::connect_database(&server)
        .await
        .execute(
            "INSERT INTO stack_traces (hash, trace) VALUES (sha256(convert_to($1, 'UTF8')), $1)",
            &[&orphan],
        )
        .await
        .unwrap();
    assert_eq!(common::stored_traces(&server).await, [kept, orphan]);

    // A diagd starting on the database sweeps it; the stored log's stays.
    let (other, _port) = common::serve_on_database(&server.dbname);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let traces = common::stored_traces(&server).await;
        if traces == [kept] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not swept: {traces:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    common::terminate(other).await;
}

/// Reports `count` logs of `severity`; returns their ids.
async fn report_logs(client: &mut Client, severity: Severity, count: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for i in 0..count {
        let log = new_log(&format!("{severity:?} {i}"), severity, ErrorType::Training);
        ids.insert(report(client, log).await);
    }
    ids
}

/// The ids of the logs in an export file (a JSON array).
fn exported_ids(path: &str) -> BTreeSet<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let logs: Vec<Value> = serde_json::from_slice(&bytes).expect("a JSON array");
    logs.iter()
        .map(|log| log["id"].as_str().expect("an id").to_string())
        .collect()
}

/// The ids of the logs still stored.
async fn stored_ids(client: &mut Client) -> BTreeSet<String> {
    client
        .list_logs(pb::ListLogsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("ListLogs")
        .into_inner()
        .logs
        .into_iter()
        .map(|log| log.id)
        .collect()
}

/// The names in the export directory of `path`.
fn export_dir_names(path: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(path).parent().unwrap();
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// ClearLogs of one severity, exported first, retried while it answers
/// ABORTED (a lost race, rolled back: documented as worth retrying).
async fn clear_exporting(client: &mut Client, severity: Severity) -> pb::ClearLogsResponse {
    loop {
        match client
            .clear_logs(pb::ClearLogsRequest {
                confirm: true,
                severities: vec![severity as i32],
                export_first: true,
                ..Default::default()
            })
            .await
        {
            Ok(response) => return response.into_inner(),
            Err(status) if status.code() == Code::Aborted => continue,
            Err(status) => panic!("clearing {severity:?}: {status:?}"),
        }
    }
}

#[tokio::test]
async fn export_first_clears_in_the_same_second_each_get_their_own_file() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let low = report_logs(&mut client, Severity::Low, 4).await;
    let medium = report_logs(&mut client, Severity::Medium, 5).await;
    let high = report_logs(&mut client, Severity::High, 2).await;

    // Both clears early in one second (the server's clock is this one):
    // export names used to have one-second resolution.
    let now = chrono::Utc::now();
    let to_next_second = 1_000_000_000 - u64::from(now.timestamp_subsec_nanos()) % 1_000_000_000;
    tokio::time::sleep(std::time::Duration::from_nanos(to_next_second + 5_000_000)).await;
    let cleared_low = clear_exporting(&mut client, Severity::Low).await;
    let cleared_medium = clear_exporting(&mut client, Severity::Medium).await;

    assert_ne!(cleared_low.export_path, cleared_medium.export_path);
    assert_eq!(cleared_low.deleted_count, 4);
    assert_eq!(cleared_medium.deleted_count, 5);
    assert_eq!(
        exported_ids(&cleared_low.export_path),
        low,
        "the LOW clear's file holds the LOW logs it deleted"
    );
    assert_eq!(
        exported_ids(&cleared_medium.export_path),
        medium,
        "the MEDIUM clear's file holds the MEDIUM logs it deleted"
    );
    assert_eq!(stored_ids(&mut client).await, high);
    let names = export_dir_names(&cleared_low.export_path);
    assert_eq!(names.len(), 2, "two files, no partial one: {names:?}");
    for path in [&cleared_low.export_path, &cleared_medium.export_path] {
        let name = std::path::Path::new(path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(is_export_name(name, "json"), "{name}");
    }
    let _ = std::fs::remove_dir_all(
        std::path::Path::new(&cleared_low.export_path)
            .parent()
            .unwrap(),
    );
}

#[tokio::test]
async fn concurrent_export_first_clears_each_export_exactly_what_they_delete() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut clients = [
        server.client().await,
        server.client().await,
        server.client().await,
    ];
    let mut paths = Vec::new();
    for round in 0..3 {
        let low = report_logs(&mut client, Severity::Low, 6).await;
        let medium = report_logs(&mut client, Severity::Medium, 6).await;
        let critical = report_logs(&mut client, Severity::Critical, 6).await;
        let kept = report_logs(&mut client, Severity::High, 2).await;

        let [a, b, c] = &mut clients;
        let (cleared_low, cleared_medium, cleared_critical) = tokio::join!(
            clear_exporting(a, Severity::Low),
            clear_exporting(b, Severity::Medium),
            clear_exporting(c, Severity::Critical),
        );
        let mut exported = BTreeSet::new();
        for (cleared, ids, severity) in [
            (&cleared_low, &low, "low"),
            (&cleared_medium, &medium, "medium"),
            (&cleared_critical, &critical, "critical"),
        ] {
            assert_eq!(cleared.deleted_count, 6, "round {round}, {severity}");
            assert_eq!(cleared.exported_count, 6, "round {round}, {severity}");
            assert_eq!(
                &exported_ids(&cleared.export_path),
                ids,
                "round {round}: the {severity} clear's file holds exactly the logs it deleted"
            );
            exported.extend(ids.iter().cloned());
            paths.push(cleared.export_path.clone());
        }
        let stored = stored_ids(&mut client).await;
        assert!(
            stored.is_disjoint(&exported),
            "round {round}: every exported log is deleted"
        );
        assert!(kept.is_subset(&stored), "round {round}: HIGH logs are kept");
    }
    let distinct: BTreeSet<&String> = paths.iter().collect();
    assert_eq!(distinct.len(), paths.len(), "every export has its own file");
    let names = export_dir_names(&paths[0]);
    assert_eq!(
        names.len(),
        paths.len(),
        "one file per clear, no partial one: {names:?}"
    );
    let _ = std::fs::remove_dir_all(std::path::Path::new(&paths[0]).parent().unwrap());
}
