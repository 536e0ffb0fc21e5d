//! Workflow 2, "Search for Specific Errors": type a query, get the matching
//! logs newest first with where each matched, then a summary — one that says
//! plainly when nothing matched.

mod common;

use common::{Client, TestServer, assert_status, ingest, json_struct, new_log, ts};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// Runs a search: its hits and its summary (which must come last).
async fn search(
    client: &mut Client,
    request: pb::SearchLogsRequest,
) -> (Vec<pb::SearchHit>, pb::SearchSummary) {
    let mut stream = client
        .search_logs(request)
        .await
        .expect("SearchLogs")
        .into_inner();
    let mut hits = Vec::new();
    let mut summary = None;
    while let Some(message) = stream.message().await.expect("a search message") {
        assert!(summary.is_none(), "nothing follows the summary");
        match message.result.expect("a result") {
            pb::search_logs_response::Result::Hit(hit) => hits.push(hit),
            pb::search_logs_response::Result::Summary(s) => summary = Some(s),
        }
    }
    (hits, summary.expect("the stream ends with a summary"))
}

fn query(text: &str) -> pb::SearchLogsRequest {
    pb::SearchLogsRequest {
        query: text.into(),
        ..Default::default()
    }
}

fn messages(hits: &[pb::SearchHit]) -> Vec<&str> {
    hits.iter()
        .map(|h| h.log.as_ref().unwrap().message.as_str())
        .collect()
}

async fn seed(client: &mut Client) {
    let log = |minute: u32,
               message: &str,
               trace: &str,
               context: serde_json::Value,
               severity: Severity| pb::NewLog {
        occurred_at: Some(ts(&format!("2026-11-01T00:{minute:02}:00Z"))),
        stack_trace: trace.into(),
        context: Some(json_struct(context)),
        ..new_log(message, severity, ErrorType::Oom)
    };
    ingest(
        client,
        vec![vec![
            log(
                1,
                "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
                "Traceback (most recent call last):\n  File \"train.py\", line 42\n  File \"alloc.py\", in cuda_malloc",
                serde_json::json!({"model": "llama-7b", "batch_size": 64}),
                Severity::Critical,
            ),
            log(
                2,
                "Connection reset while downloading weights",
                "",
                serde_json::json!({"url": "https://hub.example/llama-7b/model.safetensors"}),
                Severity::High,
            ),
            log(
                3,
                "memory pressure: out of host RAM",
                "",
                serde_json::json!({"memory": "out"}),
                Severity::Medium,
            ),
            log(4, "loss is NaN", "", serde_json::json!({"cuda_version": "12.4", "device": "cuda:0"}), Severity::Low),
        ]],
    )
    .await;
}

#[tokio::test]
async fn search_ignores_case_finds_parts_of_identifiers_and_phrases() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;

    let (hits, summary) = search(&mut client, query("CUDA")).await;
    assert_eq!(
        messages(&hits),
        [
            "loss is NaN",
            "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
        ],
        "newest first; a context value matches too"
    );
    assert_eq!(summary.matched, 2);
    assert!(!summary.truncated);
    assert_eq!(summary.note, "2 logs match \"CUDA\".");

    for (text, expected) in [
        ("OutOfMemory", 1),
        ("cuda_malloc", 1),
        ("\"out of memory\"", 1),
        ("out memory", 2),
        ("llama-7b", 2),
        ("\"memory out\"", 0),
        ("batch_size", 0),
        ("64", 1),
    ] {
        let (hits, summary) = search(&mut client, query(text)).await;
        assert_eq!(hits.len(), expected, "query {text}: {:?}", messages(&hits));
        assert_eq!(summary.matched, expected as u64);
    }
}

#[tokio::test]
async fn hits_say_where_they_matched() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let (hits, _) = search(&mut client, query("cuda_malloc llama")).await;
    assert_eq!(hits.len(), 1);
    let fields: Vec<&str> = hits[0].matches.iter().map(|m| m.field.as_str()).collect();
    assert_eq!(fields, ["stack_trace", "context.model"]);
    for m in &hits[0].matches {
        let matched = &m.fragment[m.start as usize..m.end as usize];
        assert!(
            matched.eq_ignore_ascii_case("cuda_malloc") || matched.eq_ignore_ascii_case("llama"),
            "{m:?}"
        );
    }
}

#[tokio::test]
async fn search_combines_with_filters_and_limits() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let (hits, _) = search(
        &mut client,
        pb::SearchLogsRequest {
            query: "memory".into(),
            filter: Some(pb::LogFilter {
                severities: vec![Severity::Critical as i32],
                ..Default::default()
            }),
            limit: 0,
        },
    )
    .await;
    assert_eq!(hits.len(), 1);
    let (hits, summary) = search(
        &mut client,
        pb::SearchLogsRequest {
            query: "ou".into(),
            limit: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(hits.len(), 1);
    assert!(summary.truncated);
    assert!(summary.note.contains("more match"), "{}", summary.note);

    let (hits, summary) = search(
        &mut client,
        pb::SearchLogsRequest {
            query: "CUDA".into(),
            filter: Some(pb::LogFilter {
                until: Some(ts("2026-11-01T00:00:30Z")),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(hits.is_empty());
    assert_eq!(summary.matched, 0);
    assert_eq!(
        summary.note,
        "No logs match \"CUDA\" with these filters. Try removing filters or broader words."
    );
    let (_, summary) = search(&mut client, query("tensorflow")).await;
    assert_eq!(
        summary.note,
        "No logs match \"tensorflow\". Try fewer or broader words."
    );
}

#[tokio::test]
async fn bad_queries_are_refused_clearly() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for (request, expected) in [
        (query(""), "query: type at least 2 characters"),
        (query(" x "), "query: type at least 2 characters"),
        (query("\"\"  "), "query: the query has no words"),
        (
            pb::SearchLogsRequest {
                query: "cuda".into(),
                limit: 10_001,
                ..Default::default()
            },
            "limit: at most 10000",
        ),
        (
            pb::SearchLogsRequest {
                query: "cuda".into(),
                filter: Some(pb::LogFilter {
                    severities: vec![0],
                    ..Default::default()
                }),
                ..Default::default()
            },
            "filter.severities[0]",
        ),
    ] {
        assert_status(
            client.search_logs(request).await.map(|_| ()),
            Code::InvalidArgument,
            expected,
        );
    }
}

/// Past the recent window the search goes through the trigram indexes: the
/// results stay complete and newest first, and the plan uses the index.
#[tokio::test]
async fn old_matches_are_found_through_the_trigram_index() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let filler =
        "the quick brown fox jumps over the lazy dog while the trainer keeps running ".repeat(3);
    let batches: Vec<Vec<pb::NewLog>> = (0..4)
        .map(|b| {
            (0..5000)
                .map(|i| {
                    let n = b * 5000 + i;
                    let message = if n % 4000 == 7 {
                        format!("rare zqxj failure #{n}")
                    } else {
                        format!("{filler} step {n}")
                    };
                    pb::NewLog {
                        occurred_at: Some(prost_types::Timestamp {
                            seconds: 1_790_000_000 + n as i64,
                            nanos: 0,
                        }),
                        ..new_log(&message, Severity::Medium, ErrorType::Training)
                    }
                })
                .collect()
        })
        .collect();
    ingest(&mut client, batches).await;

    let (hits, summary) = search(&mut client, query("ZQXJ")).await;
    assert_eq!(
        messages(&hits),
        [
            "rare zqxj failure #16007",
            "rare zqxj failure #12007",
            "rare zqxj failure #8007",
            "rare zqxj failure #4007",
            "rare zqxj failure #7"
        ]
    );
    assert_eq!(summary.matched, 5);

    let (hits, summary) = search(
        &mut client,
        pb::SearchLogsRequest {
            query: "lazy dog".into(),
            limit: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(messages(&hits).len(), 3);
    assert!(
        hits[0]
            .log
            .as_ref()
            .unwrap()
            .message
            .ends_with("step 19999")
    );
    assert!(summary.truncated);

    let store = server.store().await;
    store.refresh_statistics().await.unwrap();
    let plan = store
        .explain_search(&Default::default(), &["zqxj".to_string()])
        .await
        .unwrap();
    assert!(
        plan.contains("logs_message_trgm"),
        "the selective term uses the trigram index:\n{plan}"
    );
}
