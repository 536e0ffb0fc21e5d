//! The stats dashboard: total, per severity (all four, zeros included), per
//! error type, oldest and newest — exact under every filter, whether the
//! answer comes from the hourly counts, from the logs at the edges of a time
//! range, or from the logs themselves.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{TestServer, new_log, ts};
use diagd::api::pb::{self, ErrorType, Severity};

const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];
const TYPES: [ErrorType; 7] = [
    ErrorType::Oom,
    ErrorType::Network,
    ErrorType::Configuration,
    ErrorType::ModelLoading,
    ErrorType::Training,
    ErrorType::Inference,
    ErrorType::Other,
];

fn start() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().unwrap()
}

/// One seeded log, as the test knows it.
#[derive(Clone)]
struct Seeded {
    at: DateTime<Utc>,
    severity: Severity,
    error_type: ErrorType,
    host: String,
    run_id: String,
    pool: String,
    message: String,
}

/// 400 logs over about 6 hours, spread over severities, types and sources by
/// a fixed pseudo-random sequence.
fn seed() -> Vec<Seeded> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    (0..400)
        .map(|i| Seeded {
            at: start()
                + TimeDelta::seconds(next(6 * 3600) as i64)
                + TimeDelta::microseconds(next(1_000_000) as i64),
            severity: SEVERITIES[next(4) as usize],
            error_type: TYPES[next(7) as usize],
            host: format!("gpu-{}", next(3)),
            run_id: format!("run-{}", next(2)),
            pool: if next(2) == 0 { "a100" } else { "h100" }.into(),
            message: if next(5) == 0 {
                format!("CUDA error {i}")
            } else {
                format!("failure {i}")
            },
        })
        .collect()
}

fn to_new_log(s: &Seeded) -> pb::NewLog {
    pb::NewLog {
        occurred_at: Some(ts(&s.at.to_rfc3339())),
        source: Some(pb::Source {
            host: s.host.clone(),
            run_id: s.run_id.clone(),
            component: "trainer".into(),
            labels: [("pool".to_string(), s.pool.clone())].into(),
        }),
        ..new_log(&s.message, s.severity, s.error_type)
    }
}

/// The stats a filter must give, computed from the seed by brute force.
fn expected(seeded: &[Seeded], keep: impl Fn(&Seeded) -> bool) -> pb::GetStatsResponse {
    let matching: Vec<&Seeded> = seeded.iter().filter(|s| keep(s)).collect();
    pb::GetStatsResponse {
        total: matching.len() as u64,
        by_severity: SEVERITIES
            .iter()
            .map(|&sev| pb::SeverityCount {
                severity: sev as i32,
                count: matching.iter().filter(|s| s.severity == sev).count() as u64,
            })
            .collect(),
        by_error_type: TYPES
            .iter()
            .map(|&t| pb::ErrorTypeCount {
                error_type: t as i32,
                count: matching.iter().filter(|s| s.error_type == t).count() as u64,
            })
            .collect(),
        oldest: matching
            .iter()
            .map(|s| s.at)
            .min()
            .map(|t| ts(&t.to_rfc3339())),
        newest: matching
            .iter()
            .map(|s| s.at)
            .max()
            .map(|t| ts(&t.to_rfc3339())),
        live_subscribers: 0,
        retention: Some(pb::RetentionStatus::default()),
        buckets: vec![],
        // Without DATABASE_READ_URL there is no standby to report.
        standby: None,
    }
}

#[tokio::test]
async fn stats_are_exact_under_every_filter() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let seeded = seed();
    // Several batches, so hourly counts are upserted, not just inserted.
    let batches: Vec<pb::IngestLogsRequest> = seeded
        .chunks(70)
        .map(|chunk| pb::IngestLogsRequest {
            logs: chunk.iter().map(to_new_log).collect(),
        })
        .collect();
    let ingested = client
        .ingest_logs(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ingested.accepted, 400);

    let at = |minutes: i64| start() + TimeDelta::minutes(minutes) + TimeDelta::seconds(7);
    let hour = |h: i64| start() + TimeDelta::hours(h);
    type Case = (&'static str, pb::LogFilter, Box<dyn Fn(&Seeded) -> bool>);
    let cases: Vec<Case> = vec![
        ("everything", pb::LogFilter::default(), Box::new(|_| true)),
        (
            "high and critical",
            pb::LogFilter {
                severities: vec![Severity::High as i32, Severity::Critical as i32],
                ..Default::default()
            },
            Box::new(|s| matches!(s.severity, Severity::High | Severity::Critical)),
        ),
        (
            "oom",
            pb::LogFilter {
                error_types: vec![ErrorType::Oom as i32],
                ..Default::default()
            },
            Box::new(|s| s.error_type == ErrorType::Oom),
        ),
        (
            "since mid-hour",
            pb::LogFilter {
                since: Some(ts(&at(95).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at >= at(95)),
        ),
        (
            "until mid-hour",
            pb::LogFilter {
                until: Some(ts(&at(200).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at < at(200)),
        ),
        (
            "range with partial hours at both edges",
            pb::LogFilter {
                since: Some(ts(&at(50).to_rfc3339())),
                until: Some(ts(&at(290).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at >= at(50) && s.at < at(290)),
        ),
        (
            "range on whole hours",
            pb::LogFilter {
                since: Some(ts(&hour(1).to_rfc3339())),
                until: Some(ts(&hour(4).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at >= hour(1) && s.at < hour(4)),
        ),
        (
            "range inside one hour",
            pb::LogFilter {
                since: Some(ts(&at(130).to_rfc3339())),
                until: Some(ts(&at(170).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at >= at(130) && s.at < at(170)),
        ),
        (
            "range over two adjacent partial hours",
            pb::LogFilter {
                since: Some(ts(&at(130).to_rfc3339())),
                until: Some(ts(&at(185).to_rfc3339())),
                ..Default::default()
            },
            Box::new(move |s| s.at >= at(130) && s.at < at(185)),
        ),
        (
            "host and run",
            pb::LogFilter {
                source: Some(pb::Source {
                    host: "gpu-1".into(),
                    run_id: "run-0".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Box::new(|s| s.host == "gpu-1" && s.run_id == "run-0"),
        ),
        (
            "host, severity and range",
            pb::LogFilter {
                severities: vec![Severity::Low as i32],
                since: Some(ts(&at(20).to_rfc3339())),
                until: Some(ts(&at(310).to_rfc3339())),
                source: Some(pb::Source {
                    host: "gpu-2".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Box::new(move |s| {
                s.severity == Severity::Low && s.host == "gpu-2" && s.at >= at(20) && s.at < at(310)
            }),
        ),
        (
            "label",
            pb::LogFilter {
                source: Some(pb::Source {
                    labels: [("pool".to_string(), "h100".to_string())].into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Box::new(|s| s.pool == "h100"),
        ),
        (
            "message text",
            pb::LogFilter {
                message_contains: "cuda".into(),
                ..Default::default()
            },
            Box::new(|s| s.message.to_lowercase().contains("cuda")),
        ),
        (
            "nothing matches",
            pb::LogFilter {
                since: Some(ts("2030-01-01T00:00:00Z")),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
        (
            "unknown host",
            pb::LogFilter {
                source: Some(pb::Source {
                    host: "nowhere".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (name, filter, keep) in cases {
        let got = client
            .get_stats(pb::GetStatsRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, expected(&seeded, keep), "case {name:?}");
    }
}

#[tokio::test]
async fn an_empty_dashboard_lists_every_severity_and_type_at_zero() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let stats = common::stats(&mut client).await;
    assert_eq!(stats, expected(&[], |_| true));
    assert_eq!(stats.by_severity.len(), 4);
    assert_eq!(stats.by_error_type.len(), 7);
    assert!(stats.oldest.is_none() && stats.newest.is_none());
}

#[tokio::test]
async fn stats_follow_new_reports_at_once() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for (i, severity) in SEVERITIES.iter().enumerate() {
        common::report(
            &mut client,
            new_log(&format!("e{i}"), *severity, ErrorType::Network),
        )
        .await;
    }
    let stats = common::stats(&mut client).await;
    assert_eq!(stats.total, 4);
    assert!(stats.by_severity.iter().all(|c| c.count == 1));
    let network = stats
        .by_error_type
        .iter()
        .find(|c| c.error_type == ErrorType::Network as i32)
        .unwrap();
    assert_eq!(network.count, 4);
}

/// GetStats' counts over time for `filter` in buckets of `width`.
async fn buckets(
    client: &mut common::Client,
    filter: pb::LogFilter,
    width: pb::BucketWidth,
) -> Vec<pb::TimeBucket> {
    client
        .get_stats(pb::GetStatsRequest {
            filter: Some(filter),
            bucket_width: width as i32,
        })
        .await
        .expect("GetStats with buckets")
        .into_inner()
        .buckets
}

fn severity_count(bucket: &pb::TimeBucket, severity: Severity) -> u64 {
    bucket
        .by_severity
        .iter()
        .find(|c| c.severity == severity as i32)
        .map_or(0, |c| c.count)
}

#[tokio::test]
async fn counts_over_time_come_in_buckets_of_a_minute_an_hour_or_a_day() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 10:00:30 ×2 critical, 10:01:10 high, 11:30 medium, next day 09:00 low;
    // and one with a source, one of another kind.
    let at = |t: &str, severity: Severity, host: &str, kind: ErrorType| {
        let mut log = new_log("m", severity, kind);
        log.occurred_at = Some(ts(t));
        log.source = Some(pb::Source {
            host: host.into(),
            ..Default::default()
        });
        log
    };
    let logs = vec![
        at(
            "2026-11-02T10:00:30Z",
            Severity::Critical,
            "a",
            ErrorType::Oom,
        ),
        at(
            "2026-11-02T10:00:40Z",
            Severity::Critical,
            "b",
            ErrorType::Oom,
        ),
        at(
            "2026-11-02T10:01:10Z",
            Severity::High,
            "a",
            ErrorType::Network,
        ),
        at(
            "2026-11-02T11:30:00Z",
            Severity::Medium,
            "a",
            ErrorType::Oom,
        ),
        at("2026-11-03T09:00:00Z", Severity::Low, "b", ErrorType::Oom),
    ];
    assert_eq!(common::ingest(&mut client, vec![logs]).await.accepted, 5);
    let range = |since: &str, until: &str| pb::LogFilter {
        since: Some(ts(since)),
        until: Some(ts(until)),
        ..Default::default()
    };

    let minutes = buckets(
        &mut client,
        range("2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z"),
        pb::BucketWidth::Minute,
    )
    .await;
    assert_eq!(minutes.len(), 5);
    assert_eq!(minutes[0].start, Some(ts("2026-11-02T10:00:00Z")));
    assert_eq!(
        minutes.iter().map(|b| b.total).collect::<Vec<_>>(),
        [2, 1, 0, 0, 0]
    );
    assert_eq!(severity_count(&minutes[0], Severity::Critical), 2);
    assert_eq!(minutes[0].by_severity.len(), 4, "every severity listed");

    let hours = buckets(
        &mut client,
        range("2026-11-02T09:00:00Z", "2026-11-02T13:00:00Z"),
        pb::BucketWidth::Hour,
    )
    .await;
    assert_eq!(
        hours.iter().map(|b| b.total).collect::<Vec<_>>(),
        [0, 3, 1, 0]
    );
    let days = buckets(
        &mut client,
        range("2026-11-01T12:00:00Z", "2026-11-03T12:00:00Z"),
        pb::BucketWidth::Day,
    )
    .await;
    assert_eq!(days.len(), 3, "widened to whole days");
    assert_eq!(days.iter().map(|b| b.total).collect::<Vec<_>>(), [0, 4, 1]);
    assert_eq!(severity_count(&days[2], Severity::Low), 1);

    // Filters: a source (hourly counts by source), a kind, and a group.
    let mut by_host = range("2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z");
    by_host.source = Some(pb::Source {
        host: "b".into(),
        ..Default::default()
    });
    let host_days = buckets(&mut client, by_host, pb::BucketWidth::Day).await;
    assert_eq!(
        host_days.iter().map(|b| b.total).collect::<Vec<_>>(),
        [1, 1]
    );
    let mut network = range("2026-11-02T10:00:00Z", "2026-11-02T10:03:00Z");
    network.error_types = vec![ErrorType::Network as i32];
    let network_minutes = buckets(&mut client, network, pb::BucketWidth::Minute).await;
    assert_eq!(
        network_minutes.iter().map(|b| b.total).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    let group = client
        .list_groups(pb::ListGroupsRequest {
            include_empty: true,
            order_by: pb::GroupOrder::Count as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .groups[0]
        .id;
    let mut in_group = range("2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z");
    in_group.group_ids = vec![group];
    let group_days = buckets(&mut client, in_group.clone(), pb::BucketWidth::Day).await;
    assert_eq!(
        group_days.iter().map(|b| b.total).collect::<Vec<_>>(),
        [4, 1],
        "the five logs share one group (same message, no trace), from its hourly counts"
    );
    in_group.until = Some(ts("2026-11-03T00:00:00Z"));
    let group_minutes = buckets(&mut client, in_group, pb::BucketWidth::Minute).await;
    assert_eq!(group_minutes.len(), 1440);
    assert_eq!(group_minutes.iter().map(|b| b.total).sum::<u64>(), 4);

    // Clears lower them.
    client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            severities: vec![Severity::Critical as i32],
            ..Default::default()
        })
        .await
        .unwrap();
    let minutes = buckets(
        &mut client,
        range("2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z"),
        pb::BucketWidth::Minute,
    )
    .await;
    assert_eq!(
        minutes.iter().map(|b| b.total).collect::<Vec<_>>(),
        [0, 1, 0, 0, 0]
    );

    // Too many buckets, and no range at all (24 buckets back from now).
    let refused = client
        .get_stats(pb::GetStatsRequest {
            filter: Some(range("2026-01-01T00:00:00Z", "2026-11-02T00:00:00Z")),
            bucket_width: pb::BucketWidth::Minute as i32,
        })
        .await;
    common::assert_status(refused, tonic::Code::InvalidArgument, "bucket_width");
    let recent = buckets(&mut client, pb::LogFilter::default(), pb::BucketWidth::Hour).await;
    assert_eq!(recent.len(), 24);
}
