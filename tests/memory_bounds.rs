//! Memory is bounded by bytes, not counts: a real `diagd serve` process
//! lists pages and streams exports of 256 KiB logs with its peak resident
//! memory (VmHWM) under a stated bound, however many logs a request asks
//! for.

mod common;

use std::time::{Duration, Instant};

use common::{Client, ingest, json_struct, new_log, serve_on_database, unique_database_name};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// The bound on diagd's peak resident memory while it serves the requests
/// below (before the fix, a 1,000-log page or a few exports of these logs
/// took several times this).
const PEAK_RSS_BOUND_MIB: u64 = 200;

/// Logs stored for the test.
const LOGS: usize = 200;

/// A log of about 256 KiB: a 200 KiB stack trace (unique), 50 KiB of
/// context and a 6 KiB message.
fn large_log(i: usize) -> pb::NewLog {
    pb::NewLog {
        stack_trace: format!(
            "frame {i}\n{}",
            "at train_step (train.py:42)\n".repeat(7300)
        ),
        context: Some(json_struct(serde_json::json!({
            "notes": "n".repeat(50 * 1024),
            "step": i,
        }))),
        ..new_log(
            &format!("large log {i} {}", "m".repeat(6 * 1024)),
            Severity::High,
            ErrorType::Training,
        )
    }
}

/// diagd's peak resident memory since the last reset, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    common::peak_rss_of(pid) / (1024 * 1024)
}

/// Starts counting the peak afresh (Linux: "5" resets VmHWM).
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting the peak RSS");
}

/// A client of the diagd on `port`, once it answers.
async fn connect(port: u16) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(channel) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
        {
            let mut client = pb::diagnostics_service_client::DiagnosticsServiceClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024);
            if client
                .get_stats(pb::GetStatsRequest::default())
                .await
                .is_ok()
            {
                return client;
            }
        }
        assert!(Instant::now() < deadline, "diagd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One export read to its end; `false` when refused for the stream limit.
async fn export_all(mut client: Client) -> bool {
    let mut stream = match client.export_logs(pb::ExportLogsRequest::default()).await {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::ResourceExhausted => return false,
        Err(status) => panic!("ExportLogs: {status:?}"),
    };
    let mut bytes = 0usize;
    while let Some(message) = stream.message().await.expect("export chunks") {
        if let Some(pb::export_logs_response::Part::Chunk(chunk)) = message.part {
            bytes += chunk.len();
        }
    }
    assert!(
        bytes > LOGS * 200 * 1024,
        "the whole export arrived: {bytes}"
    );
    true
}

#[tokio::test]
async fn large_pages_and_many_exports_stay_under_the_memory_bound() {
    let dbname = unique_database_name();
    let (diagd, port) = serve_on_database(&dbname);
    let pid = diagd.id();
    let mut client = connect(port).await;
    let batches: Vec<Vec<pb::NewLog>> = (0..LOGS)
        .map(large_log)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(<[_]>::to_vec)
        .collect();
    let stored = ingest(&mut client, batches).await;
    assert_eq!(stored.accepted, LOGS as u64);

    // Every log in full, 1,000 asked per page: pages are cut by bytes.
    reset_peak(pid);
    let mut listed = 0;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_logs(pb::ListLogsRequest {
                page_size: 1000,
                view: pb::LogView::Full as i32,
                page_token,
                ..Default::default()
            })
            .await
            .expect("ListLogs")
            .into_inner();
        listed += page.logs.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(listed, LOGS);
    let listing_peak = peak_rss_mib(pid);

    // Sixteen full exports, as many at once as diagd admits.
    reset_peak(pid);
    let mut done = 0;
    while done < 16 {
        let round: Vec<_> = (0..(16 - done).min(8))
            .map(|_| tokio::spawn(export_all(client.clone())))
            .collect();
        for export in round {
            if export.await.unwrap() {
                done += 1;
            }
        }
    }
    let export_peak = peak_rss_mib(pid);

    eprintln!("peak RSS: listing {listing_peak} MiB, 16 exports {export_peak} MiB");
    assert!(
        listing_peak < PEAK_RSS_BOUND_MIB,
        "listing 1,000-log pages of 256 KiB logs peaked at {listing_peak} MiB"
    );
    assert!(
        export_peak < PEAK_RSS_BOUND_MIB,
        "16 exports of 256 KiB logs peaked at {export_peak} MiB"
    );
    drop(diagd);
    common::drop_database_blocking(&dbname);
}
