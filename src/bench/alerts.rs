//! The alerts part of `diagd bench` (issue #15): how long after a log's
//! commit (its ReportError answered) the alert it fires arrives at a
//! healthy webhook receiver — a real HTTP server in this process, on
//! loopback — for CRITICAL logs sent at a steady rate to a rule without a
//! throttle, first alone and then while IngestLogs loads the database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{Router, body::Bytes, extract::State, routing::post};

use super::*;

/// The component of this part's logs, which its rule watches.
const COMPONENT: &str = "bench-alerts";

/// When each alert arrived, by the id of the log that fired it.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn record(State(arrivals): State<Arrivals>, body: Bytes) -> &'static str {
    let at = Instant::now();
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(id) = document["log"]["id"].as_str()
    {
        arrivals
            .lock()
            .expect("arrivals")
            .insert(id.to_string(), at);
    }
    "ok"
}

/// Measures alert latency: `count` CRITICAL logs at `rate` per second,
/// alone, then again while `load` rows are ingested (4 streams x 1000).
pub(super) async fn measure<F, Fut>(
    connect: &F,
    count: usize,
    rate: f64,
    load: std::ops::Range<usize>,
) -> Result<Vec<Figure>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    let arrivals: Arrivals = Arrivals::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = Router::new()
        .route("/hook", post(record))
        .with_state(arrivals.clone());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut client = connect().await?;
    let rule = client
        .create_alert_rule(pb::CreateAlertRuleRequest {
            rule: Some(pb::AlertRule {
                name: "bench: every critical log".into(),
                trigger: pb::AlertTrigger::CriticalLog as i32,
                throttle: Some(prost_types::Duration::default()),
                destination_kind: pb::AlertDestinationKind::Webhook as i32,
                // Only this part's logs (the load has CRITICAL logs too).
                filter: Some(pb::AlertFilter {
                    component: COMPONENT.into(),
                    ..Default::default()
                }),
                url,
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .rule
        .unwrap_or_default();
    let mut figures = Vec::new();
    for loaded in [false, true] {
        let background = if loaded {
            let rows = load.clone();
            let connect_rows = connect();
            let channel_client = connect_rows.await?;
            Some(tokio::spawn(async move {
                let client = channel_client;
                let connect = || {
                    let client = client.clone();
                    async move { Ok::<_, String>(client) }
                };
                workload::ingest(&connect, rows, 1000, 4, false).await
            }))
        } else {
            None
        };
        eprintln!(
            "bench: alerts: {count} CRITICAL logs at {rate:.0}/s{}",
            if loaded { " while ingest loads" } else { "" }
        );
        let mut acked: Vec<(String, Instant)> = Vec::new();
        let pause = Duration::from_secs_f64(1.0 / rate);
        let mut due = Instant::now();
        for i in 0..count {
            due += pause;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            let mut log = realistic_log(i);
            log.severity = pb::Severity::Critical as i32;
            log.event_id = String::new();
            log.source.get_or_insert_default().component = COMPONENT.into();
            // Each its own group: one alert per log (alerts of one group
            // within one evaluation are one alert).
            log.fingerprint = vec![format!("bench-alert-{loaded}-{i}")];
            let id = client
                .report_error(pb::ReportErrorRequest { log: Some(log) })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .id;
            acked.push((id, Instant::now()));
        }
        // Every alert arrives within a few seconds, or is counted missing.
        let deadline = Instant::now() + Duration::from_secs(30);
        let all_arrived = || {
            let arrived = arrivals.lock().expect("arrivals");
            acked.iter().all(|(id, _)| arrived.contains_key(id))
        };
        while !all_arrived() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ingested = match background {
            Some(task) => Some(task.await.map_err(|e| e.to_string())??),
            None => None,
        };
        let arrived = arrivals.lock().expect("arrivals").clone();
        let mut times: Vec<Duration> = acked
            .iter()
            .filter_map(|(id, at)| {
                arrived
                    .get(id)
                    .map(|got| got.saturating_duration_since(*at))
            })
            .collect();
        let missing = acked.len() - times.len();
        times.sort();
        let max = times.last().copied().unwrap_or_default();
        figures.push(Figure::new(
            format!(
                "alerts: a CRITICAL log's commit to its webhook request arriving (rule without throttle, {count} logs at {rate:.0}/s, loopback receiver{})",
                match ingested {
                    Some((stored, elapsed)) => format!(
                        ", while IngestLogs 4 x 1000 stores {stored} logs at {:.0} logs/s",
                        stored as f64 / elapsed.as_secs_f64()
                    ),
                    None => String::new(),
                }
            ),
            format!(
                "{}, max {}{}",
                p50_p99(&mut times),
                ms(max),
                if missing > 0 {
                    format!(", {missing} not arrived within 30 s")
                } else {
                    String::new()
                }
            ),
            "p99 < 1 s",
            Some("alerts"),
        ));
    }
    client
        .delete_alert_rule(pb::DeleteAlertRuleRequest { id: rule.id })
        .await
        .map_err(|e| e.to_string())?;
    receiver.abort();
    Ok(figures)
}
