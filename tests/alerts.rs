//! Alerts (issue #15, part 2) end to end: rules made through a real client,
//! logs and heartbeats sent to a real diagd on a real PostgreSQL, and a real
//! HTTP receiver on loopback inside the test that records every request.
//! A new group alerts exactly once even with two diagd on one database; a
//! receiver that is down gets the alert once it is back (across a restart
//! of diagd); the throttle holds and counts what it held back; the HMAC
//! signature verifies; Slack gets its `text`/`blocks`; EVENT_RATE fires at
//! its threshold; stuck and lost runs alert naming the member; 4xx fails at
//! once and retries end; bad rules are refused naming the field.

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use common::{Client, TestServer, assert_status, new_log, report, test_options};
use diagd::api::pb;
use hmac::{KeyInit, Mac};
use tonic::Code;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: serde_json::Value,
    raw: Bytes,
}

/// A webhook receiver on loopback: records every POST and answers
/// `status`.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/T000/B000/secret-path", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `count` requests arrived (at most `within`), then a
    /// little more to see that no extra one follows.
    async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        while self.got().len() < count {
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {count}: {:#?}",
                self.got().len(),
                self.got()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.got()
    }
}

async fn record(State(receiver): State<Receiver>, headers: HeaderMap, raw: Bytes) -> StatusCode {
    let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
    receiver
        .got
        .lock()
        .unwrap()
        .push(Received { headers, body, raw });
    StatusCode::from_u16(receiver.status.load(Ordering::SeqCst)).unwrap()
}

fn rule(name: &str, trigger: pb::AlertTrigger, url: &str) -> pb::AlertRule {
    pb::AlertRule {
        name: name.into(),
        trigger: trigger as i32,
        destination_kind: pb::AlertDestinationKind::Webhook as i32,
        url: url.into(),
        ..Default::default()
    }
}

fn secs(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

async fn create(client: &mut Client, rule: pb::AlertRule) -> pb::AlertRule {
    client
        .create_alert_rule(pb::CreateAlertRuleRequest { rule: Some(rule) })
        .await
        .expect("CreateAlertRule")
        .into_inner()
        .rule
        .unwrap()
}

async fn deliveries(client: &mut Client, rule_id: &str) -> Vec<pb::AlertDelivery> {
    client
        .list_alert_deliveries(pb::ListAlertDeliveriesRequest {
            rule_id: rule_id.into(),
            ..Default::default()
        })
        .await
        .expect("ListAlertDeliveries")
        .into_inner()
        .deliveries
}

/// An OOM from `rank` of run `run`, with a traceback ending in `line` (its
/// group).
fn oom(run: &str, rank: u32, line: &str) -> pb::NewLog {
    let mut log = new_log(
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        pb::Severity::High,
        pb::ErrorType::Oom,
    );
    log.stack_trace = format!(
        "Traceback (most recent call last):\n  File \"/home/alice/proj/train.py\", line 10, in {line}\n    loss = model(batch)\ntorch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    );
    log.source = Some(pb::Source {
        host: format!("gpu-node-{:02}", rank / 4),
        run_id: run.into(),
        labels: [("rank".to_string(), rank.to_string())].into(),
        ..Default::default()
    });
    log
}

#[tokio::test]
async fn new_groups_alert_exactly_once_with_two_replicas_and_the_signature_verifies() {
    let receiver = Receiver::start().await;
    let first = TestServer::start().await;
    let second = TestServer::start_on(first.dbname.clone(), test_options()).await;
    let mut a = first.client().await;
    let mut b = second.client().await;
    let mut hook = rule("new errors", pb::AlertTrigger::NewGroup, &receiver.url());
    hook.secret = "s3cret".into();
    let made = create(&mut a, hook).await;
    assert!(made.has_secret && made.secret.is_empty());
    assert_eq!(
        made.url,
        format!("http://{}/…", receiver.addr),
        "path hidden"
    );

    // 8 ranks hit the same OOM, half through each replica: one group, one
    // alert.
    for rank in 0..8 {
        let client = if rank % 2 == 0 { &mut a } else { &mut b };
        report(client, oom("llama-ft-42", rank, "forward")).await;
    }
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let alert = &got[0];
    assert_eq!(alert.body["trigger"], "new_group");
    let summary = alert.body["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("NEW HIGH oom on run llama-ft-42")
            && summary.contains("torch.cuda.OutOfMemoryError: CUDA out of memory"),
        "{summary}"
    );
    let group = alert.body["group"]["id"].as_i64().unwrap();
    let logs = a
        .list_logs(pb::ListLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert!(logs.iter().all(|l| l.group_id == group));
    // Headers: id, timestamp, and the signature of "timestamp.body".
    let id = alert.headers["x-diagd-alert-id"].to_str().unwrap();
    assert_eq!(id, alert.body["id"].as_str().unwrap());
    let timestamp = alert.headers["x-diagd-timestamp"].to_str().unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&alert.raw);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        alert.headers["x-diagd-signature"].to_str().unwrap(),
        expected
    );

    // Twenty new errors at once through both replicas: twenty alerts, each
    // delivered once.
    for i in 0..20 {
        let client = if i % 2 == 0 { &mut a } else { &mut b };
        report(client, oom("llama-ft-42", 0, &format!("layer_{i}"))).await;
    }
    let got = receiver.wait_for(21, Duration::from_secs(15)).await;
    let mut ids: Vec<&str> = got.iter().map(|r| r.body["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (21, 21), "each alert exactly once");
    let listed = deliveries(&mut b, &made.id).await;
    assert_eq!(listed.len(), 21);
    for d in &listed {
        assert_eq!(d.state, pb::AlertDeliveryState::Delivered as i32, "{d:?}");
        assert_eq!(d.attempts.len(), 1);
        assert_eq!(d.attempts[0].status_code, 200);
        assert_eq!(d.destination, format!("http://{}/…", receiver.addr));
    }
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_alert_once_it_is_back_even_across_a_restart() {
    // The receiver's port, not listening yet.
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut first = TestServer::start().await;
    let dbname = first.dbname.clone();
    let mut client = first.client().await;
    let made = create(
        &mut client,
        rule("critical", pb::AlertTrigger::CriticalLog, &url),
    )
    .await;
    let mut log = new_log(
        "NCCL watchdog timeout",
        pb::Severity::Critical,
        pb::ErrorType::Network,
    );
    log.source = Some(pb::Source {
        host: "gpu-node-07".into(),
        ..Default::default()
    });
    report(&mut client, log).await;
    // Refused attempts are recorded, the alert stays pending.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pending = loop {
        let listed = deliveries(&mut client, &made.id).await;
        if listed.first().is_some_and(|d| d.attempts.len() >= 2) {
            break listed[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no retries recorded: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(pending.state, pb::AlertDeliveryState::Pending as i32);
    assert_eq!(pending.attempts[0].status_code, 0);
    assert!(
        pending.attempts[0].error.contains("could not connect"),
        "{:?}",
        pending.attempts[0].error
    );
    assert!(pending.next_attempt_at.is_some());
    assert!(
        pending
            .summary
            .starts_with("CRITICAL network on gpu-node-07: NCCL watchdog timeout"),
        "{}",
        pending.summary
    );

    // diagd restarts while the receiver is down; then the receiver comes
    // back.
    drop(client);
    first.stop();
    let receiver = Receiver::start_on(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    )
    .await;
    let second = TestServer::start_on(dbname, test_options()).await;
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "delivered once: {got:#?}");
    assert_eq!(got[0].body["id"].as_str().unwrap(), pending.id);
    let mut client = second.client().await;
    let listed = deliveries(&mut client, &made.id).await;
    assert_eq!(listed[0].state, pb::AlertDeliveryState::Delivered as i32);
    assert!(listed[0].attempts.len() >= 3, "{listed:#?}");
    assert!(listed[0].delivered_at.is_some());
}

#[tokio::test]
async fn the_throttle_holds_and_releases_what_it_held_back_when_it_runs_out() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut throttled = rule("critical", pb::AlertTrigger::CriticalLog, &receiver.url());
    throttled.throttle = secs(3);
    create(&mut client, throttled).await;
    let critical = || {
        new_log(
            "disk full: checkpoint lost",
            pb::Severity::Critical,
            pb::ErrorType::Training,
        )
    };
    report(&mut client, critical()).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    for _ in 0..3 {
        report(&mut client, critical()).await;
    }
    // Held back while the throttle runs.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.got().len(), 1);
    // No further event comes: what was held is released once the throttle
    // has run out, with its count.
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1].body["events"], 3, "the three held back");
    assert_eq!(got[1].body["held_back"], true);
    assert_ne!(got[1].body["id"], got[0].body["id"]);
    let summary = got[1].body["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("CRITICAL training: disk full: checkpoint lost — 3 events in"),
        "{summary}"
    );
    // Then a new event within the next window is held, and released too.
    report(&mut client, critical()).await;
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].body["events"], 1);
}

#[tokio::test]
async fn slack_gets_text_and_blocks_for_a_regression() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut slack = rule("regressions", pb::AlertTrigger::Regression, &receiver.url());
    slack.destination_kind = pb::AlertDestinationKind::Slack as i32;
    create(&mut client, slack).await;
    let id = report(&mut client, oom("run-s", 0, "backward")).await;
    let log = client
        .get_log(pb::GetLogRequest { id })
        .await
        .unwrap()
        .into_inner()
        .log
        .unwrap();
    client
        .update_group(pb::UpdateGroupRequest {
            id: log.group_id,
            status: pb::GroupStatus::Resolved as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.got().is_empty(), "not a regression yet");
    report(&mut client, oom("run-s", 1, "backward")).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let body = &got[0].body;
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("REGRESSED HIGH oom on run run-s"),
        "{text}"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
    assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
    assert_eq!(body["blocks"][1]["type"], "context");
    let context = body["blocks"][1]["elements"][0]["text"].as_str().unwrap();
    assert!(
        context.contains(&format!("group `{}`", log.group_id)),
        "{context}"
    );
    assert!(
        got[0].headers.get("x-diagd-signature").is_none(),
        "no secret, no signature"
    );
}

#[tokio::test]
async fn event_rate_fires_when_the_window_reaches_its_threshold() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut rate = rule("oom storm", pb::AlertTrigger::EventRate, &receiver.url());
    rate.threshold = 5;
    rate.window = secs(60);
    rate.per_group = true;
    rate.filter = Some(pb::AlertFilter {
        error_types: vec![pb::ErrorType::Oom as i32],
        ..Default::default()
    });
    create(&mut client, rate).await;
    for rank in 0..4 {
        report(&mut client, oom("run-e", rank, "step")).await;
    }
    // Another type does not count.
    report(
        &mut client,
        new_log(
            "bad config",
            pb::Severity::High,
            pb::ErrorType::Configuration,
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(receiver.got().is_empty(), "4 of 5");
    report(&mut client, oom("run-e", 4, "step")).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["events"], 5);
    let summary = got[0].body["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("RATE HIGH oom on run run-e"),
        "{summary}"
    );
    assert!(summary.ends_with("— 5 events in 60 s"), "{summary}");
}

fn beat(run: &str, rank: i32, step: i64) -> pb::HeartbeatRequest {
    pb::HeartbeatRequest {
        run_id: run.into(),
        host: "gpu-node-03".into(),
        rank,
        pid: 4000 + rank as u32,
        phase: pb::RunPhase::Training as i32,
        step: Some(step),
        interval: secs(1),
        stuck_after: secs(10),
        ..Default::default()
    }
}

#[tokio::test]
async fn stuck_and_lost_runs_alert_naming_the_member() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut runs = rule("runs", pb::AlertTrigger::RunState, &receiver.url());
    runs.destination_kind = pb::AlertDestinationKind::Slack as i32;
    create(&mut client, runs).await;
    // Rank 1 freezes at step 100 but keeps beating; rank 0 advances.
    let started = Instant::now();
    let mut step = 100;
    while receiver.got().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "never stuck");
        step += 1;
        client
            .heartbeat(beat("llama-ft-42", 0, step))
            .await
            .unwrap();
        client.heartbeat(beat("llama-ft-42", 1, 100)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let got = receiver.got();
    let text = got[0].body["text"].as_str().unwrap();
    assert!(
        text.starts_with("STUCK run llama-ft-42: rank 1 on gpu-node-03 stuck at step 100"),
        "{text}"
    );
    // Now rank 0 stops beating (killed): lost. Rank 1 keeps beating.
    let started = Instant::now();
    while receiver.got().len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "never lost");
        client.heartbeat(beat("llama-ft-42", 1, 100)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let text = receiver.got()[1].body["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("LOST run llama-ft-42: rank 0 on gpu-node-03 lost"),
        "{text}"
    );
}

#[tokio::test]
async fn a_member_stuck_in_a_run_already_lost_is_the_one_named() {
    // Found from outside: the STUCK alert quoted the run's line, which
    // named the lost member.
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create(
        &mut client,
        rule("runs", pb::AlertTrigger::RunState, &receiver.url()),
    )
    .await;
    client.heartbeat(beat("run-l", 0, 1)).await.unwrap();
    // Rank 0 goes silent (lost after 3 s); rank 1 beats with a frozen step.
    let started = Instant::now();
    while receiver.got().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:#?}",
            receiver.got()
        );
        client.heartbeat(beat("run-l", 1, 7)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let got = receiver.got();
    let lost = got[0].body["summary"].as_str().unwrap();
    assert!(
        lost.starts_with("LOST run run-l: rank 0 on gpu-node-03 lost"),
        "{lost}"
    );
    let stuck = got[1].body["summary"].as_str().unwrap();
    assert!(
        stuck.starts_with(
            "STUCK run run-l: rank 1 on gpu-node-03 stuck at step 7 (the run is lost: rank 0"
        ),
        "{stuck}"
    );
    assert_eq!(got[1].body["run"]["member"]["rank"], 1);
}

#[tokio::test]
async fn a_4xx_fails_at_once_and_retries_end_after_retry_for() {
    let refusing = Receiver::start().await;
    refusing.status.store(404, Ordering::SeqCst);
    let failing = Receiver::start().await;
    failing.status.store(503, Ordering::SeqCst);
    let mut options = test_options();
    options.alerts.retry_for = Duration::from_secs(2);
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;
    let gone = create(
        &mut client,
        rule("gone", pb::AlertTrigger::CriticalLog, &refusing.url()),
    )
    .await;
    let down = create(
        &mut client,
        rule("down", pb::AlertTrigger::CriticalLog, &failing.url()),
    )
    .await;
    report(
        &mut client,
        new_log(
            "segfault in dataloader",
            pb::Severity::Critical,
            pb::ErrorType::Other,
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let a = deliveries(&mut client, &gone.id).await;
        let b = deliveries(&mut client, &down.id).await;
        let failed = |d: &[pb::AlertDelivery]| {
            d.first()
                .is_some_and(|d| d.state == pb::AlertDeliveryState::Failed as i32)
        };
        if failed(&a) && failed(&b) {
            assert_eq!(a[0].attempts.len(), 1, "a 404 is not retried");
            assert_eq!(a[0].attempts[0].status_code, 404);
            assert!(b[0].attempts.len() >= 2, "{b:#?}");
            assert!(b[0].attempts.iter().all(|t| t.status_code == 503));
            assert!(
                b[0].attempts.last().unwrap().error.contains("given up"),
                "{b:#?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{a:#?} {b:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(refusing.got().len(), 1);
    // Failed lists by state.
    let failed = client
        .list_alert_deliveries(pb::ListAlertDeliveriesRequest {
            state: pb::AlertDeliveryState::Failed as i32,
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.deliveries.len(), 1);
    let next = client
        .list_alert_deliveries(pb::ListAlertDeliveriesRequest {
            state: pb::AlertDeliveryState::Failed as i32,
            page_size: 1,
            page_token: failed.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.deliveries.len(), 1);
    assert_ne!(next.deliveries[0].id, failed.deliveries[0].id);
    assert!(next.next_page_token.is_empty());
}

#[tokio::test]
async fn rules_are_validated_updated_tested_and_deleted() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let url = receiver.url();
    let cases: Vec<(pb::AlertRule, &str)> = vec![
        (
            rule("", pb::AlertTrigger::NewGroup, &url),
            "rule.name: required",
        ),
        (
            rule("x", pb::AlertTrigger::Unspecified, &url),
            "rule.trigger: required",
        ),
        (
            rule("x", pb::AlertTrigger::NewGroup, "ftp://example.com/x"),
            "rule.url: scheme \"ftp\"",
        ),
        (
            rule("x", pb::AlertTrigger::NewGroup, "not a url"),
            "rule.url",
        ),
        (
            pb::AlertRule {
                destination_kind: 0,
                ..rule("x", pb::AlertTrigger::NewGroup, &url)
            },
            "rule.destination_kind: required",
        ),
        (
            pb::AlertRule {
                threshold: 5,
                window: secs(5),
                ..rule("x", pb::AlertTrigger::EventRate, &url)
            },
            "rule.window",
        ),
        (
            pb::AlertRule {
                window: secs(60),
                ..rule("x", pb::AlertTrigger::EventRate, &url)
            },
            "rule.threshold",
        ),
        (
            pb::AlertRule {
                throttle: secs(8 * 24 * 3600),
                ..rule("x", pb::AlertTrigger::NewGroup, &url)
            },
            "rule.throttle",
        ),
        (
            pb::AlertRule {
                run_states: vec![pb::RunState::Stuck as i32],
                ..rule("x", pb::AlertTrigger::NewGroup, &url)
            },
            "rule.run_states",
        ),
        (
            pb::AlertRule {
                filter: Some(pb::AlertFilter {
                    severities: vec![9],
                    ..Default::default()
                }),
                ..rule("x", pb::AlertTrigger::NewGroup, &url)
            },
            "rule.filter.severities[0]",
        ),
    ];
    for (bad, field) in cases {
        let result = client
            .create_alert_rule(pb::CreateAlertRuleRequest { rule: Some(bad) })
            .await;
        assert_status(result, Code::InvalidArgument, field);
    }
    // A URL as diagd shows it is refused (it would lose the real path); a
    // path written with backslashes is stored as the URL parser reads it,
    // so it is hidden like any other.
    assert_status(
        client
            .create_alert_rule(pb::CreateAlertRuleRequest {
                rule: Some(rule(
                    "x",
                    pb::AlertTrigger::NewGroup,
                    "https://hooks.slack.com/…",
                )),
            })
            .await,
        Code::InvalidArgument,
        "rule.url: looks like a URL as diagd shows it",
    );
    let backslashes = create(
        &mut client,
        rule(
            "b",
            pb::AlertTrigger::NewGroup,
            "https://hooks.slack.com\\services\\T0\\B0\\XYZ",
        ),
    )
    .await;
    assert_eq!(backslashes.url, "https://hooks.slack.com/…");
    client
        .delete_alert_rule(pb::DeleteAlertRuleRequest { id: backslashes.id })
        .await
        .unwrap();
    let made = create(&mut client, rule("oom", pb::AlertTrigger::NewGroup, &url)).await;
    assert_eq!(made.throttle, secs(600), "ten minutes by default");

    // Update: the masked fields only; the trigger cannot change.
    let update = |paths: &[&str], rule: pb::AlertRule| pb::UpdateAlertRuleRequest {
        rule: Some(rule),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let changed = client
        .update_alert_rule(update(
            &["name", "disabled"],
            pb::AlertRule {
                id: made.id.clone(),
                name: "oom (muted)".into(),
                disabled: true,
                url: "ignored".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.disabled),
        ("oom (muted)", true)
    );
    assert_eq!(changed.url, made.url);
    assert_status(
        client
            .update_alert_rule(update(
                &["trigger"],
                pb::AlertRule {
                    id: made.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
        "update_mask.paths[0]: a rule's trigger cannot change",
    );
    assert_status(
        client
            .update_alert_rule(update(
                &["url"],
                pb::AlertRule {
                    id: made.id.clone(),
                    url: "x".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
        "rule.url",
    );
    assert_status(
        client
            .update_alert_rule(pb::UpdateAlertRuleRequest {
                rule: Some(pb::AlertRule {
                    id: made.id.clone(),
                    ..Default::default()
                }),
                update_mask: None,
            })
            .await,
        Code::InvalidArgument,
        "update_mask: required",
    );
    // A disabled rule does not fire.
    report(&mut client, oom("run-d", 0, "muted")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(receiver.got().is_empty());

    // TestAlertRule sends a sample now and says what the receiver answered.
    let tested = client
        .test_alert_rule(pb::TestAlertRuleRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((tested.status_code, tested.error.as_str()), (200, ""));
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["test"], true);
    assert!(
        got[0].body["summary"]
            .as_str()
            .unwrap()
            .starts_with("[test of rule oom (muted)] NEW HIGH oom")
    );
    receiver.status.store(500, Ordering::SeqCst);
    let tested = client
        .test_alert_rule(pb::TestAlertRuleRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tested.status_code, 500);
    assert!(tested.error.contains("500"), "{}", tested.error);

    let listed = client
        .list_alert_rules(pb::ListAlertRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, made.id);

    // Unknown ids: NOT_FOUND; bad ids: INVALID_ARGUMENT.
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_status(
        client
            .delete_alert_rule(pb::DeleteAlertRuleRequest {
                id: unknown.clone(),
            })
            .await,
        Code::NotFound,
        "alert rule",
    );
    assert_status(
        client
            .test_alert_rule(pb::TestAlertRuleRequest {
                id: unknown.clone(),
            })
            .await,
        Code::NotFound,
        "alert rule",
    );
    assert_status(
        client
            .update_alert_rule(update(
                &["name"],
                pb::AlertRule {
                    id: unknown,
                    name: "n".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::NotFound,
        "alert rule",
    );
    assert_status(
        client
            .delete_alert_rule(pb::DeleteAlertRuleRequest { id: "nope".into() })
            .await,
        Code::InvalidArgument,
        "id",
    );
    assert_status(
        client
            .list_alert_deliveries(pb::ListAlertDeliveriesRequest {
                page_size: 201,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_size",
    );
    client
        .delete_alert_rule(pb::DeleteAlertRuleRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap();
    assert!(
        client
            .list_alert_rules(pb::ListAlertRulesRequest {})
            .await
            .unwrap()
            .into_inner()
            .rules
            .is_empty()
    );
}

#[tokio::test]
async fn a_rules_file_creates_then_updates_rules_by_name_and_bad_files_name_the_field() {
    let server = TestServer::start().await;
    let store = server.store().await;
    let mut client = server.client().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    let write = |json: serde_json::Value| std::fs::write(&path, json.to_string()).unwrap();
    write(serde_json::json!({"rules": [
        {"name": "oom", "trigger": "ALERT_TRIGGER_NEW_GROUP", "destinationKind": "ALERT_DESTINATION_KIND_SLACK",
         "url": "https://hooks.slack.com/services/T0/B0/XYZ", "filter": {"errorTypes": ["ERROR_TYPE_OOM"]}},
        {"name": "hangs", "trigger": "ALERT_TRIGGER_RUN_STATE", "destinationKind": "ALERT_DESTINATION_KIND_WEBHOOK",
         "url": "http://127.0.0.1:9/hook", "runStates": ["RUN_STATE_STUCK"], "throttle": "60s"}
    ]}));
    assert_eq!(
        diagd::api::apply_rules_file(&store, &path).await,
        Ok((2, 0))
    );
    let first = client
        .list_alert_rules(pb::ListAlertRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(first.len(), 2);
    assert_eq!(first[1].name, "hangs");
    assert_eq!(first[1].throttle, secs(60));
    // Applied again with a change: the same rules, changed in place.
    write(serde_json::json!({"rules": [
        {"name": "hangs", "trigger": "ALERT_TRIGGER_RUN_STATE", "destinationKind": "ALERT_DESTINATION_KIND_WEBHOOK",
         "url": "http://127.0.0.1:9/hook", "runStates": ["RUN_STATE_STUCK", "RUN_STATE_LOST"]}
    ]}));
    assert_eq!(
        diagd::api::apply_rules_file(&store, &path).await,
        Ok((0, 1))
    );
    let second = client
        .list_alert_rules(pb::ListAlertRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(second.len(), 2, "rules not in the file stay");
    assert_eq!(second[1].id, first[1].id);
    assert_eq!(second[1].run_states.len(), 2);
    assert_eq!(second[1].throttle, secs(600), "the file's rule, whole");
    // Bad files say where.
    write(serde_json::json!({"rules": [
        {"name": "x", "trigger": "ALERT_TRIGGER_NEW_GROUP", "destinationKind": "ALERT_DESTINATION_KIND_SLACK",
         "url": "https://x/"},
        {"name": "y", "trigger": "ALERT_TRIGGER_NEW_GROUP", "destinationKind": "ALERT_DESTINATION_KIND_SLACK",
         "url": "gopher://x/"}
    ]}));
    let error = diagd::api::apply_rules_file(&store, &path)
        .await
        .unwrap_err();
    assert!(error.contains("rules[1].url: scheme \"gopher\""), "{error}");
    write(serde_json::json!({"rules": [{"name": "x", "trigger": "NOPE"}]}));
    let error = diagd::api::apply_rules_file(&store, &path)
        .await
        .unwrap_err();
    assert!(error.contains("not a rules file"), "{error}");
    assert_eq!(
        client
            .list_alert_rules(pb::ListAlertRulesRequest {})
            .await
            .unwrap()
            .into_inner()
            .rules
            .len(),
        2,
        "a bad file changes nothing"
    );
}

#[tokio::test]
async fn a_url_fixed_while_an_alert_waits_applies_to_it() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // A typo'd port: attempts are refused.
    let wrong = format!("http://127.0.0.1:{}/hook", common::free_port());
    let made = create(
        &mut client,
        rule("critical", pb::AlertTrigger::CriticalLog, &wrong),
    )
    .await;
    report(
        &mut client,
        new_log(
            "ECC error on GPU 3",
            pb::Severity::Critical,
            pb::ErrorType::Other,
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while deliveries(&mut client, &made.id)
        .await
        .first()
        .is_none_or(|d| d.attempts.is_empty())
    {
        assert!(Instant::now() < deadline, "no attempt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .update_alert_rule(pb::UpdateAlertRuleRequest {
            rule: Some(pb::AlertRule {
                id: made.id.clone(),
                url: receiver.url(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["url".into()],
            }),
        })
        .await
        .unwrap();
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    let listed = deliveries(&mut client, &made.id).await;
    assert_eq!(listed[0].state, pb::AlertDeliveryState::Delivered as i32);
    assert_eq!(got[0].body["id"].as_str().unwrap(), listed[0].id);
}
