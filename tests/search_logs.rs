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
    // A quoted phrase is shown with its own quotes, not doubled ones.
    let (_, summary) = search(&mut client, query("\"out of memory\"")).await;
    assert_eq!(summary.note, "1 log matches \"out of memory\".");
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
                    let (message, trace) = if n % 4000 == 7 {
                        (
                            format!("rare zqxj failure #{n}"),
                            "Traceback (most recent call last):\n  File \"/w/zqxj.py\", line 3, in step\nKeyError: 'zqxj'\n",
                        )
                    } else {
                        (format!("{filler} step {n}"), "")
                    };
                    pb::NewLog {
                        stack_trace: trace.into(),
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
    for index in [
        "stack_traces_folded_trgm",
        "logs_message_fold_trgm",
        "logs_context_values_fold_trgm",
        "logs_trace_newest",
    ] {
        assert!(
            plan.contains(index),
            "the selective term uses the trigram index {index}:\n{plan}"
        );
    }
}

/// Every way a search runs (the newest logs checked row by row, the walk on
/// for medium-frequency terms, the index search for rare and old ones, terms
/// found only in stack traces or context values, queries too short for the
/// index) returns exactly the newest matches, in order, with `truncated`
/// right: checked against every log's text searched here in memory.
#[tokio::test]
async fn every_way_a_search_runs_returns_exactly_the_newest_matches() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    const LOGS: usize = 6000;
    // Log `n` (newer with n): its message, stack trace and context value.
    let text = |n: usize| {
        let mut message = format!("event {n}:");
        if n.is_multiple_of(3) {
            message.push_str(" common alpha");
        }
        if n % 40 == 1 {
            message.push_str(" medium bravo");
        }
        if n < 1500 && n % 10 == 2 {
            message.push_str(" old charlie");
        }
        if n % 400 == 5 {
            message.push_str(" rare foxtrot");
        }
        let trace = if n % 50 == 3 {
            format!(
                "Traceback (most recent call last):\n  File \"/w/m_{}.py\", line 1, in delta_func\nValueError: x\n",
                n % 7
            )
        } else if n.is_multiple_of(2) {
            format!(
                "Traceback (most recent call last):\n  File \"/w/k_{}.py\", line 1, in run\nKeyError: k\n",
                n % 5
            )
        } else {
            String::new()
        };
        let tag = if n % 45 == 4 {
            "echo-7".to_string()
        } else {
            format!("tag-{}", n % 11)
        };
        (message, trace, tag)
    };
    let batches: Vec<Vec<pb::NewLog>> = (0..LOGS)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&n| {
                    let (message, trace, tag) = text(n);
                    pb::NewLog {
                        occurred_at: Some(prost_types::Timestamp {
                            seconds: 1_790_000_000 + n as i64,
                            nanos: 0,
                        }),
                        stack_trace: trace,
                        context: Some(json_struct(serde_json::json!({"tag": tag}))),
                        ..new_log(&message, Severity::Medium, ErrorType::Training)
                    }
                })
                .collect()
        })
        .collect();
    ingest(&mut client, batches).await;

    // The matches newest first, searched in memory (the data is ASCII).
    let expected = |query: &str, newest: usize| -> Vec<String> {
        let terms: Vec<String> = if let Some(phrase) = query.strip_prefix('"') {
            vec![phrase.trim_end_matches('"').to_lowercase()]
        } else {
            query.split_whitespace().map(str::to_lowercase).collect()
        };
        (LOGS - newest..LOGS)
            .rev()
            .filter(|&n| {
                let (message, trace, tag) = text(n);
                let fields = [
                    message.to_lowercase(),
                    trace.to_lowercase(),
                    tag.to_lowercase(),
                ];
                terms
                    .iter()
                    .all(|t| fields.iter().any(|f| f.contains(t.as_str())))
            })
            .map(|n| text(n).0)
            .collect()
    };
    for (query, newest) in [
        ("ALPHA", LOGS),              // common: the newest logs fill the page
        ("bravo", LOGS),              // 1 in 40: walks on past the newest 1,000
        ("charlie", LOGS),            // only old logs: the index search
        ("foxtrot", LOGS),            // rare: window, then the index search
        ("delta_func", LOGS),         // only in stack traces (1 in 50)
        ("echo-7", LOGS),             // only in a context value (1 in 45)
        ("bravo alpha", LOGS),        // two words, each must match
        ("\"old charlie\"", LOGS),    // a phrase
        ("charlie delta_func", LOGS), // a message word and a trace word
        ("nowhere", LOGS),            // no match
        ("al", 2000),                 // too short for the index: newest 2,000
        ("ho al", 2000),              // two short words
        ("t 9", 2000),                // short words that match everywhere
        ("ho bravo", LOGS),           // a short word beside an indexed one
    ] {
        let want = expected(query, newest);
        for limit in [100usize, 10_000] {
            let (hits, summary) = search(
                &mut client,
                pb::SearchLogsRequest {
                    query: query.into(),
                    limit: limit as i32,
                    ..Default::default()
                },
            )
            .await;
            let shown = want.len().min(limit);
            assert_eq!(
                messages(&hits),
                want[..shown].iter().map(String::as_str).collect::<Vec<_>>(),
                "{query:?} with limit {limit}"
            );
            assert_eq!(summary.matched, shown as u64, "{query:?}");
            assert_eq!(
                summary.truncated,
                want.len() > limit,
                "{query:?} with limit {limit}"
            );
            let window_note = summary
                .note
                .contains("Only the newest 2,000 logs were searched");
            assert_eq!(window_note, newest < LOGS, "{query:?}: {}", summary.note);
        }
    }
}

/// A search's steps meet at boundaries that separate statements read: logs
/// committed meanwhile must not move them, or a log is sent twice (or one is
/// missed). One term in 40 logs, so that the walk past the newest 1,000 runs,
/// while a writer keeps adding newer logs.
#[tokio::test]
async fn a_search_while_logs_arrive_sends_each_log_once() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let log = |n: usize| pb::NewLog {
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_790_000_000 + n as i64,
            nanos: 0,
        }),
        ..new_log(
            &format!("event {n}{}", if n % 40 == 1 { " bravo" } else { "" }),
            Severity::Medium,
            ErrorType::Training,
        )
    };
    let batches = (0..6000)
        .collect::<Vec<usize>>()
        .chunks(1000)
        .map(|c| c.iter().map(|&n| log(n)).collect())
        .collect();
    ingest(&mut client, batches).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let mut client = server.client().await;
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 6000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ingest(&mut client, vec![(n..n + 40).map(log).collect()]).await;
                n += 40;
            }
            n
        })
    };
    for round in 0..60 {
        let (hits, summary) = search(&mut client, query("bravo")).await;
        let times: Vec<i64> = hits
            .iter()
            .map(|h| h.log.as_ref().unwrap().occurred_at.unwrap().seconds)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] > w[1]),
            "round {round}: hits newest first, each once: {times:?}"
        );
        assert_eq!(hits.len(), 100, "round {round}");
        assert_eq!(summary.matched, 100);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 6000, "the writer added logs during the searches");
}

/// One case-folding rule everywhere: ListLogs' `message_contains`, SearchLogs
/// (its hits and where they matched), the SubscribeLogs backfill (SQL) and
/// the live tail (in memory) find the same logs for İ/i, Σ/σ/ς and ß/ss,
/// whichever spelling is typed.
#[tokio::test]
async fn every_kind_of_match_folds_case_the_same_way() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    struct Group {
        /// Spellings typed.
        spellings: &'static [&'static str],
        /// The logs each must find, oldest first.
        found: &'static [&'static str],
        /// What ListLogs finds (messages only), oldest first.
        listed: &'static [&'static str],
        /// The spellings a highlighted match may have.
        highlighted: &'static [&'static str],
    }
    let groups = [
        Group {
            spellings: &["istanbul", "İSTANBUL", "Istanbul"],
            found: &[
                "İSTANBUL datacenter unreachable",
                "route via istanbul",
                "end",
            ],
            listed: &["İSTANBUL datacenter unreachable", "route via istanbul"],
            highlighted: &["İSTANBUL", "istanbul", "ISTANBUL"],
        },
        Group {
            spellings: &["σοφος", "σοφοσ", "ΣΟΦΟΣ"],
            found: &["ΣΟΦΟΣ checkpoint corrupt", "import failed", "end"],
            listed: &["ΣΟΦΟΣ checkpoint corrupt"],
            highlighted: &["ΣΟΦΟΣ", "σοφος"],
        },
        Group {
            spellings: &["straße", "STRASSE", "strasse"],
            found: &["STRASSE node offline", "rack failure", "end"],
            listed: &["STRASSE node offline"],
            highlighted: &["STRASSE", "straße", "STRAẞE"],
        },
    ];
    let logs = [
        ("İSTANBUL datacenter unreachable", "", serde_json::json!({})),
        ("route via istanbul", "", serde_json::json!({})),
        ("ΣΟΦΟΣ checkpoint corrupt", "", serde_json::json!({})),
        (
            "import failed",
            "Traceback:\n  File \"σοφος.py\", line 1",
            serde_json::json!({}),
        ),
        ("STRASSE node offline", "", serde_json::json!({})),
        (
            "rack failure",
            "",
            serde_json::json!({"site": "Hauptstraße 7"}),
        ),
        ("unrelated", "", serde_json::json!({"city": "Sofia"})),
        // Matches every group (in its context), and ends the live tails.
        (
            "end",
            "",
            serde_json::json!({"tags": ["ISTANBUL", "ΣΟΦΟΣ", "STRAẞE"]}),
        ),
    ];

    let mut tails = Vec::new();
    for group in &groups {
        for spelling in group.spellings {
            let mut tail = client
                .subscribe_logs(pb::SubscribeLogsRequest {
                    query: spelling.to_string(),
                    ..Default::default()
                })
                .await
                .expect("SubscribeLogs")
                .into_inner();
            wait_live(&mut tail).await;
            tails.push((spelling.to_string(), tail));
        }
    }
    for (minute, (message, trace, context)) in logs.iter().enumerate() {
        common::report(
            &mut client,
            pb::NewLog {
                occurred_at: Some(ts(&format!("2026-11-01T00:{minute:02}:00Z"))),
                stack_trace: trace.to_string(),
                context: Some(json_struct(context.clone())),
                ..new_log(message, Severity::High, ErrorType::Network)
            },
        )
        .await;
    }

    for Group {
        spellings,
        found,
        listed,
        highlighted,
    } in &groups
    {
        for spelling in *spellings {
            // The live tail (matched in memory).
            let (_, tail) = tails.iter_mut().find(|(s, _)| s == spelling).unwrap();
            let mut live = Vec::new();
            while live.last().map(String::as_str) != Some("end") {
                let message =
                    tokio::time::timeout(std::time::Duration::from_secs(10), tail.message())
                        .await
                        .unwrap_or_else(|_| {
                            panic!("{spelling}: the tail delivered {live:?} and then nothing")
                        })
                        .unwrap()
                        .unwrap();
                if let Some(pb::subscribe_logs_response::Event::Log(log)) = message.event {
                    live.push(log.message);
                }
            }
            assert_eq!(live, *found, "live tail for {spelling:?}");

            // The SubscribeLogs backfill (matched in SQL), oldest first.
            let mut tail = client
                .subscribe_logs(pb::SubscribeLogsRequest {
                    query: spelling.to_string(),
                    backfill: 100,
                    ..Default::default()
                })
                .await
                .expect("SubscribeLogs")
                .into_inner();
            assert_eq!(
                wait_live(&mut tail).await,
                *found,
                "backfill for {spelling:?}"
            );

            // SearchLogs, newest first, each hit saying where it matched.
            let (hits, summary) = search(&mut client, query(spelling)).await;
            let mut newest_first = found.to_vec();
            newest_first.reverse();
            assert_eq!(messages(&hits), newest_first, "SearchLogs for {spelling:?}");
            assert_eq!(summary.matched, found.len() as u64);
            for hit in &hits {
                assert!(
                    !hit.matches.is_empty(),
                    "{spelling:?}: no match located in {hit:?}"
                );
                for m in &hit.matches {
                    let matched = &m.fragment[m.start as usize..m.end as usize];
                    assert!(
                        highlighted.contains(&matched),
                        "{spelling:?} highlighted {matched:?} in {m:?}"
                    );
                }
            }

            // ListLogs' message filter.
            let page = client
                .list_logs(pb::ListLogsRequest {
                    filter: Some(pb::LogFilter {
                        message_contains: spelling.to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .expect("ListLogs")
                .into_inner();
            let listed_newest_first: Vec<&str> = listed.iter().rev().copied().collect();
            let got: Vec<&str> = page.logs.iter().map(|l| l.message.as_str()).collect();
            assert_eq!(got, listed_newest_first, "ListLogs for {spelling:?}");
        }
    }
}

/// Reads a tail until its LIVE notice; returns the backfilled messages.
async fn wait_live(tail: &mut tonic::Streaming<pb::SubscribeLogsResponse>) -> Vec<String> {
    let mut backfilled = Vec::new();
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), tail.message())
            .await
            .expect("a tail message in time")
            .expect("no stream error")
            .expect("the stream is open");
        match message.event {
            Some(pb::subscribe_logs_response::Event::Log(log)) => backfilled.push(log.message),
            Some(pb::subscribe_logs_response::Event::Notice(n))
                if n.kind == pb::NoticeKind::Live as i32 =>
            {
                return backfilled;
            }
            _ => {}
        }
    }
}

/// The database's `diagd_fold` and diagd's own fold agree on every
/// character, and on whole strings (final sigma). The only allowance:
/// characters newer than the Unicode version of the database's ICU, which
/// the database leaves as they are.
#[tokio::test]
async fn the_database_folds_every_character_as_diagd_does() {
    let server = TestServer::start().await;
    let db = common::connect_database(&server).await;
    let chars: Vec<String> = (1..=0x1FFFF_u32) // every cased character lies in planes 0 and 1
        .filter_map(char::from_u32)
        .map(String::from)
        .collect();
    let folded: Vec<String> = db
        .query_one(
            "SELECT array_agg(diagd_fold(c) ORDER BY n) FROM unnest($1::text[]) WITH ORDINALITY AS t(c, n)",
            &[&chars],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(folded.len(), chars.len());
    let mut disagree = Vec::new();
    for (c, in_sql) in chars.iter().zip(&folded) {
        let in_rust = diagd::domain::fold::fold(c);
        if *in_sql != in_rust && in_sql != c {
            disagree.push((c, in_sql, in_rust));
        }
    }
    assert!(disagree.is_empty(), "(char, SQL, Rust): {disagree:?}");
    for text in ["İSTANBUL ΣΟΦΟΣ Σ ΣΣ STRAẞE Straße", "ὈΔΥΣΣΕΎΣ", "ǅ ﬁ ŉ"]
    {
        let in_sql: String = db
            .query_one("SELECT diagd_fold($1)", &[&text])
            .await
            .unwrap()
            .get(0);
        assert_eq!(in_sql, diagd::domain::fold::fold(text), "{text}");
    }
}
