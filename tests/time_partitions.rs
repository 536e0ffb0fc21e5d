//! Time partitions (migration 0014): `logs` holds one partition per UTC day.
//! Retention drops whole days with every count kept exact; a day another
//! diagd dropped is made again for a late log; timestamps too old are
//! refused by name; listing and search walk the days newest first; and a
//! database that an older diagd filled migrates without losing a log.

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::{
    TestServer, assert_status, connect_database, database_url, ingest, new_log, report, stats,
    test_options, unique_database_name, wait_for_total,
};
use diagd::{
    api::pb::{self, ErrorType, Severity},
    workers::retention::RetentionOptions,
};
use tonic::Code;

const DAY: i64 = 86_400;

fn log_at(seconds_ago: i64, message: &str) -> pb::NewLog {
    pb::NewLog {
        occurred_at: Some(prost_types::Timestamp {
            seconds: Utc::now().timestamp() - seconds_ago,
            nanos: 0,
        }),
        ..new_log(message, Severity::High, ErrorType::Oom)
    }
}

/// The partitions' names, oldest first.
async fn partitions(server: &TestServer) -> Vec<String> {
    partitions_in(&connect_database(server).await).await
}

async fn partitions_in(db: &tokio_postgres::Client) -> Vec<String> {
    let mut names: Vec<String> = db
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'logs'::regclass",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    names.sort();
    names
}

fn partition_of(seconds_ago: i64) -> String {
    let at = Utc::now() - TimeDelta::seconds(seconds_ago);
    format!("logs_p{}", at.format("%Y%m%d"))
}

/// One number per row of a query.
async fn numbers(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

/// Another diagd on `server`'s database whose retention keeps `days` days,
/// run every `interval` (the database stays when it stops).
async fn retention_replica(server: &TestServer, days: i64, interval: Duration) -> TestServer {
    let mut options = test_options();
    options.retention = RetentionOptions {
        max_age: Some(TimeDelta::days(days)),
        interval,
        ..RetentionOptions::default()
    };
    TestServer::start_at_url(database_url(&server.dbname), options).await
}

/// Waits (20 s at most) until partition `day` is gone.
async fn wait_until_dropped(server: &TestServer, day: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while partitions(server).await.iter().any(|name| name == day) {
        assert!(Instant::now() < deadline, "{day} was never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn retention_drops_old_days_whole_and_keeps_every_count_exact() {
    let mut options = test_options();
    options.retention = RetentionOptions {
        max_age: Some(TimeDelta::days(5)),
        interval: Duration::from_millis(200),
        batch: 100,
        ..RetentionOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    // One group throughout. The old days' logs have a trace, a host and
    // event ids of their own; one more old log lies in the day the limit
    // falls in (deleted as a row, not with a day).
    let message = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB";
    let mut old_event_ids = Vec::new();
    let mut old = Vec::new();
    for days_ago in [12, 11, 10] {
        for i in 0..5 {
            let event_id = uuid::Uuid::new_v4().to_string();
            old_event_ids.push(event_id.clone());
            old.push(pb::NewLog {
                event_id,
                stack_trace: "Traceback (most recent call last):\n  File \"old.py\", line 1, in <module>\n    step()\nRuntimeError: old".into(),
                source: Some(pb::Source {
                    host: "old-host".into(),
                    ..Default::default()
                }),
                ..log_at(days_ago * DAY + i * 60, message)
            });
        }
    }
    // A group whose only log lies in a dropped day.
    old.push(log_at(
        11 * DAY + 600,
        "ValueError: only seen on an old day",
    ));
    let edge_event_id = uuid::Uuid::new_v4().to_string();
    // Between the start of the day the limit falls in and the limit itself.
    let limit = Utc::now() - TimeDelta::days(5);
    let day_start = limit.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let edge_at = day_start + (limit - day_start) / 2;
    old.push(pb::NewLog {
        event_id: edge_event_id.clone(),
        ..log_at(Utc::now().timestamp() - edge_at.timestamp(), message)
    });
    let recent: Vec<pb::NewLog> = [3, 2, 0]
        .into_iter()
        .flat_map(|days_ago| {
            (0..4).map(move |i| pb::NewLog {
                event_id: uuid::Uuid::new_v4().to_string(),
                stack_trace: "Traceback (most recent call last):\n  File \"new.py\", line 1, in <module>\n    step()\nRuntimeError: new".into(),
                source: Some(pb::Source {
                    host: "new-host".into(),
                    ..Default::default()
                }),
                ..log_at(days_ago * DAY + 600 + i * 60, message)
            })
        })
        .collect();
    let oldest_recent = Utc::now().timestamp() - (3 * DAY + 600 + 3 * 60);
    ingest(&mut client, vec![old, recent]).await;
    wait_for_total(&mut client, 12).await;

    let names = partitions(&server).await;
    for days_ago in [12, 11, 10] {
        let day = partition_of(days_ago * DAY);
        assert!(!names.contains(&day), "{day} was dropped whole: {names:?}");
    }
    assert!(names.contains(&partition_of(3 * DAY + 600)), "{names:?}");
    // The status is updated when the run ends (after the traces' removal).
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats(&mut client).await.retention.unwrap().total_deleted != 17 {
        assert!(
            Instant::now() < deadline,
            "retention never counted 17 deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let db = connect_database(&server).await;
    for (table, sql) in [
        (
            "hourly",
            "SELECT coalesce(sum(log_count), 0)::bigint FROM log_counts_hourly",
        ),
        (
            "kinds",
            "SELECT coalesce(sum(log_count), 0)::bigint FROM log_counts_kind_hourly",
        ),
        (
            "minutes",
            "SELECT coalesce(sum(log_count), 0)::bigint FROM log_counts_minutely",
        ),
        (
            "fingerprint hours",
            "SELECT coalesce(sum(log_count), 0)::bigint FROM fingerprint_counts_hourly",
        ),
        (
            "fingerprint hosts",
            "SELECT coalesce(sum(log_count), 0)::bigint FROM fingerprint_hosts",
        ),
        ("event ids", "SELECT count(*) FROM log_events"),
        ("logs", "SELECT count(*) FROM logs"),
    ] {
        assert_eq!(numbers(&db, sql).await, 12, "{table}");
    }
    assert_eq!(
        numbers(
            &db,
            "SELECT count(*) FROM fingerprint_hosts WHERE source_host = 'old-host'"
        )
        .await,
        0
    );
    let emptied = db
        .query_one(
            "SELECT event_count, first_seen IS NULL, last_seen IS NULL, top_severity IS NULL \
             FROM group_fingerprints WHERE title LIKE '%only seen on an old day%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            emptied.get::<_, i64>(0),
            emptied.get(1),
            emptied.get(2),
            emptied.get(3)
        ),
        (0, true, true, true),
        "a fingerprint left without logs has no first/last seen or top severity"
    );
    let traces = common::stored_traces(&server).await;
    assert_eq!(
        traces.len(),
        1,
        "the old days' trace went with them: {traces:?}"
    );
    assert!(traces[0].contains("new.py"));

    let groups = client
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0].event_count, 12);
    assert_eq!(groups[0].hosts, 1, "only new-host is left");
    assert_eq!(
        groups[0].first_seen.as_ref().unwrap().seconds,
        oldest_recent
    );

    // The ids of dropped and deleted logs are forgotten: sent again (now),
    // they are stored, not answered as duplicates.
    for event_id in [old_event_ids[0].clone(), edge_event_id] {
        let stored = client
            .report_error(pb::ReportErrorRequest {
                log: Some(pb::NewLog {
                    event_id,
                    ..log_at(0, message)
                }),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!stored.duplicate, "a forgotten event id is stored again");
    }
}

#[tokio::test]
async fn a_day_another_diagd_dropped_is_made_again_for_a_late_log() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(&mut client, log_at(20 * DAY, "late log one")).await;
    let day = partition_of(20 * DAY);
    assert!(partitions(&server).await.contains(&day));

    // A second diagd on the same database, with retention, drops the day;
    // the first still believes it has it.
    {
        let _other = retention_replica(&server, 10, Duration::from_millis(100)).await;
        wait_until_dropped(&server, &day).await;
        // `other` stops here, before its retention could drop it again.
    }
    let id = report(&mut client, log_at(20 * DAY + 5, "late log two")).await;
    let got = client
        .get_log(pb::GetLogRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.log.unwrap().message, "late log two");
    assert!(partitions(&server).await.contains(&day), "made again");
}

#[tokio::test]
async fn timestamps_beyond_the_kept_days_are_refused_by_name() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let refused = client
        .report_error(pb::ReportErrorRequest {
            log: Some(log_at(401 * DAY, "too old")),
        })
        .await;
    let message = refused
        .as_ref()
        .map_err(|s| s.message().to_string())
        .unwrap_err();
    assert!(message.starts_with("log.occurred_at: "), "{message}");
    assert_status(refused, Code::InvalidArgument, "400 days in the past");
    let refused = client
        .report_error(pb::ReportErrorRequest {
            log: Some(log_at(-2 * DAY, "too new")),
        })
        .await;
    assert_status(refused, Code::InvalidArgument, "in the future");

    // Just inside both limits, each lands in its own day, made on demand
    // (the upkeep makes only today and the next days).
    let oldest = 399 * DAY;
    let newest = -(DAY - 600);
    for seconds_ago in [oldest, newest] {
        report(&mut client, log_at(seconds_ago, "inside the limits")).await;
    }
    let names = partitions(&server).await;
    assert!(names.contains(&partition_of(oldest)), "{names:?}");
    assert!(names.contains(&partition_of(newest)), "{names:?}");
    assert_eq!(stats(&mut client).await.total, 2);
}

#[tokio::test]
async fn listing_and_search_walk_the_days_newest_first() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 4 logs on each of 6 days, sent oldest-day last.
    let logs: Vec<pb::NewLog> = (0..6)
        .flat_map(|day| {
            (0..4).map(move |i| {
                log_at(
                    day * DAY + i * 100 + 1,
                    &format!("NCCL watchdog day {day} log {i}"),
                )
            })
        })
        .collect();
    ingest(&mut client, vec![logs]).await;
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_logs(pb::ListLogsRequest {
                page_size: 5,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.logs.into_iter().map(|l| l.message));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let expected: Vec<String> = (0..6)
        .flat_map(|day| (0..4).map(move |i| format!("NCCL watchdog day {day} log {i}")))
        .collect();
    assert_eq!(
        seen, expected,
        "newest first across day boundaries, each once"
    );

    let mut stream = client
        .search_logs(pb::SearchLogsRequest {
            query: "watchdog".into(),
            limit: 6,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut hits = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        if let Some(pb::search_logs_response::Result::Hit(hit)) = message.result {
            hits.push(hit.log.unwrap().message);
        }
    }
    assert_eq!(hits, expected[..6].to_vec());
}

#[tokio::test]
async fn a_database_an_older_diagd_filled_migrates_without_losing_a_log() {
    let dbname = unique_database_name();
    let url = database_url(&dbname);
    {
        let store = diagd::store::Store::connect(&url, &common::test_pool())
            .await
            .unwrap();
        let report = store.migrate_to(13).await.unwrap();
        assert_eq!(report.schema_version, 13);
    }
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // 600 logs over 4 days as schema 13 stores them: traces by hash, half
    // with event ids, grouped, in commit order (txid, seq).
    db.batch_execute(
        "INSERT INTO stack_traces (hash, trace)
         SELECT sha256(convert_to('trace ' || n, 'UTF8')), 'trace ' || n FROM generate_series(0, 2) n;
         INSERT INTO error_groups (seed_fingerprint, title, culprit, exception_type, error_type)
         VALUES ('f0', 'RuntimeError: x', '', 'RuntimeError', 'training');
         INSERT INTO logs (id, event_id, occurred_at, severity, error_type, message, context,
                           source_host, stack_trace_hash, fingerprint, group_id)
         SELECT gen_random_uuid(), CASE WHEN n % 2 = 0 THEN gen_random_uuid() END,
                date_trunc('day', now()) - interval '3 days' + n * interval '9 minutes',
                (ARRAY['critical', 'high', 'medium', 'low'])[1 + n % 4], 'training',
                'CUDA error step ' || n, jsonb_build_object('step', n, 'model', 'llama'),
                'gpu-' || (n % 7), sha256(convert_to('trace ' || (n % 3), 'UTF8')), 'f0',
                (SELECT id FROM error_groups)
         FROM generate_series(0, 599) n;",
    )
    .await
    .unwrap();
    let digest_sql = "SELECT md5(string_agg(concat_ws('|', id, event_id, occurred_at, received_at, severity, \
                      error_type, message, context, system_state, recent_actions, source_host, source_run_id, \
                      source_component, source_labels, stack_trace_hash, context_values, txid, seq, \
                      fingerprint, group_id), ',' ORDER BY id)) FROM logs";
    let before: String = db.query_one(digest_sql, &[]).await.unwrap().get(0);
    let max_seq: i64 = db
        .query_one("SELECT max(seq) FROM logs", &[])
        .await
        .unwrap()
        .get(0);
    let with_event: Vec<(uuid::Uuid, uuid::Uuid)> = db
        .query(
            "SELECT event_id, id FROM logs WHERE event_id IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(with_event.len(), 300);

    // diagd starts on it: migration 14 runs.
    let server = TestServer::start_at_url(url.clone(), test_options()).await;
    let after: String = db.query_one(digest_sql, &[]).await.unwrap().get(0);
    assert_eq!(after, before, "every log, every column, unchanged");
    let names = partitions_in(&db).await;
    for days_ago in 0..=3 {
        let day = (Utc::now() - TimeDelta::days(days_ago)).format("%Y%m%d");
        assert!(names.contains(&format!("logs_p{day}")), "{names:?}");
    }
    let misplaced = numbers(
        &db,
        "SELECT count(*) FROM logs WHERE tableoid::regclass::text \
         <> 'logs_p' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYYMMDD')",
    )
    .await;
    assert_eq!(misplaced, 0, "each day's logs are in its own partition");
    let index = numbers(
        &db,
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'logs_p' || \
         to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') AND indexname LIKE '%_logs_message_fold_trgm'",
    )
    .await;
    assert_eq!(
        index, 1,
        "partition indexes are named after the index of logs"
    );
    assert_eq!(numbers(&db, "SELECT count(*) FROM log_events").await, 300);

    let mut client = server.client().await;
    let page = client
        .list_logs(pb::ListLogsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.logs.len(), 600);
    assert_eq!(page.logs[0].message, "CUDA error step 599");
    assert_eq!(page.logs[599].message, "CUDA error step 0");
    // An event id stored before the migration is still a duplicate.
    let (event_id, id) = with_event[7];
    let again = client
        .report_error(pb::ReportErrorRequest {
            log: Some(pb::NewLog {
                event_id: event_id.to_string(),
                ..log_at(0, "sent again")
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.id, id.to_string());
    // New logs follow the old ones in commit order.
    report(&mut client, log_at(0, "after the migration")).await;
    let new_seq: i64 = db
        .query_one(
            "SELECT seq FROM logs WHERE message = 'after the migration'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(new_seq > max_seq);
    drop(server);
    drop(db);
    common::drop_database_blocking(&dbname);
}

#[tokio::test]
async fn a_search_reads_older_days_through_their_indexes_newest_first() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // More recent logs than the search checks row by row (1,000), none
    // matching; then two matches on each of three older days, between
    // more filler.
    let filler: Vec<pb::NewLog> = (0..1500)
        .map(|i| log_at(60 + i, &format!("loss spike at step {i}")))
        .collect();
    let older: Vec<pb::NewLog> = (2..5)
        .flat_map(|day| {
            (0..4).map(move |i| {
                let message = if i % 2 == 0 {
                    format!("gloo timeout on day {day} try {i}")
                } else {
                    format!("filler on day {day} try {i}")
                };
                log_at(day * DAY + i * 100, &message)
            })
        })
        .collect();
    ingest(&mut client, vec![filler, older]).await;
    let search = |limit: i32| {
        let mut client = client.clone();
        async move {
            let mut stream = client
                .search_logs(pb::SearchLogsRequest {
                    query: "gloo timeout".into(),
                    limit,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let (mut hits, mut summary) = (Vec::new(), None);
            while let Some(message) = stream.message().await.unwrap() {
                match message.result.unwrap() {
                    pb::search_logs_response::Result::Hit(hit) => {
                        hits.push(hit.log.unwrap().message)
                    }
                    pb::search_logs_response::Result::Summary(s) => summary = Some(s),
                }
            }
            (hits, summary.unwrap())
        }
    };
    let all: Vec<String> = (2..5)
        .flat_map(|day| [0, 2].map(|i| format!("gloo timeout on day {day} try {i}")))
        .collect();
    let (hits, summary) = search(3).await;
    assert_eq!(hits, all[..3].to_vec(), "the newest three, across two days");
    assert!(summary.truncated);
    let (hits, summary) = search(10).await;
    assert_eq!(hits, all, "every day's matches, newest first");
    assert!(!summary.truncated);
    assert_eq!(summary.matched, 6);
}

#[tokio::test]
async fn a_day_drop_never_cuts_an_export_and_never_stops_ingest() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 3,000 logs of 2 KB ten days ago (more than the transport buffers, so
    // the export's transaction stays open while its client does not read),
    // and 10 today.
    let padding = "x".repeat(2000);
    let old: Vec<Vec<pb::NewLog>> = (0..3)
        .map(|b| {
            (0..1000)
                .map(|i| log_at(10 * DAY + b * 1000 + i, &format!("old {b}-{i} {padding}")))
                .collect()
        })
        .collect();
    ingest(&mut client, old).await;
    ingest(
        &mut client,
        vec![
            (0..10)
                .map(|i| log_at(60 + i, &format!("today {i}")))
                .collect(),
        ],
    )
    .await;
    let mut export = client
        .export_logs(pb::ExportLogsRequest {
            format: pb::ExportFormat::Ndjson as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::export_logs_response::Part::Header(header)) =
        export.message().await.unwrap().unwrap().part
    else {
        panic!("the header comes first");
    };
    assert_eq!(header.total_count, 3010);

    // Another diagd's retention (5 days) meets the open export: the drop
    // cannot lock `logs` and the day's rows are deleted in batches instead.
    let _retention = retention_replica(&server, 5, Duration::from_millis(200)).await;
    wait_for_total(&mut client, 10).await;
    let started = Instant::now();
    report(&mut client, log_at(5, "ingest goes on")).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The export still holds its snapshot: every log it counted, whole.
    let mut bytes = Vec::new();
    while let Some(message) = export.message().await.unwrap() {
        if let Some(pb::export_logs_response::Part::Chunk(chunk)) = message.part {
            bytes.extend_from_slice(&chunk);
        }
    }
    let lines: Vec<serde_json::Value> = bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("a whole JSON line"))
        .collect();
    assert_eq!(lines.len(), 3010);

    // With the export gone, the emptied day is dropped.
    wait_until_dropped(&server, &partition_of(10 * DAY)).await;
    assert_eq!(stats(&mut client).await.total, 11);
}
