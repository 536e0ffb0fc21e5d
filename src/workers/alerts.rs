//! Alerts in the background, in every diagd: the evaluator (every
//! [`EVALUATE_INTERVAL`]; only the diagd holding the evaluator's cursor row
//! evaluates, see `store::alerts`) turns what was committed into alerts in
//! the outbox; the deliverer claims due alerts (any diagd; `FOR UPDATE SKIP
//! LOCKED` and a lease, so each is sent by one at a time) and posts them
//! with [`Sender`], retrying with exponential backoff on no answer, 408,
//! 429 and 5xx until `retry_for` has passed since the alert was made. Ingest
//! never waits for any of it: the evaluator reads after the commit.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    domain::alert::{self, DestinationKind, Outcome},
    store::{Attempt, Claimed, DeliveryState, Store},
};

/// How often the evaluator looks for what was committed.
pub const EVALUATE_INTERVAL: Duration = Duration::from_millis(200);

/// Logs one evaluation reads at most (each its message cut to 300 bytes and
/// its source: a few MiB at most).
const LOGS_PER_EVALUATION: usize = 2000;

/// Alerts one diagd sends at once.
const IN_FLIGHT: usize = 16;

/// How long the deliverer sleeps when nothing is due and nobody wakes it.
const DELIVER_INTERVAL: Duration = Duration::from_millis(500);

/// Bytes of a receiver's answer kept for the attempt's error.
const ANSWER_BYTES: usize = 512;

/// How long delivered and failed alerts are kept.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// How alerts are delivered.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// Longest a receiver gets to answer one request.
    pub timeout: Duration,
    /// How long after an alert was made its delivery is retried.
    pub retry_for: Duration,
    /// Alerts of one rule waiting for delivery at most; beyond, new ones
    /// are held back (counted) until there is room.
    pub max_pending: i64,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(3600),
            max_pending: 10_000,
        }
    }
}

/// What one request to a receiver gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Its HTTP status; `None`: no answer.
    pub status: Option<u16>,
    /// What went wrong (empty on 2xx).
    pub error: String,
    /// The receiver's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Posts alerts: one HTTP client (rustls, no redirects, timeouts) shared by
/// the deliverer and TestAlertRule.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A sender whose requests end after `timeout`.
    pub fn new(timeout: Duration) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("diagd/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Sender { client }
    }

    /// Posts `document` as a destination of `kind` expects it, signed when
    /// `secret` is set.
    pub async fn send(
        &self,
        kind: DestinationKind,
        url: &str,
        secret: &str,
        document: &serde_json::Value,
    ) -> Answer {
        let body = alert::body(kind, document);
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                "X-Diagd-Alert-Id",
                document["id"].as_str().unwrap_or_default(),
            )
            .header("X-Diagd-Timestamp", timestamp.to_string());
        if !secret.is_empty() {
            request = request.header(
                "X-Diagd-Signature",
                alert::signature(secret, timestamp, &body),
            );
        }
        let started = std::time::Instant::now();
        let answer = request.body(body).send().await;
        let mut response = match answer {
            Ok(response) => response,
            Err(e) => {
                return Answer {
                    status: None,
                    error: describe(&e),
                    retry_after: None,
                    elapsed: started.elapsed(),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Only the start of the answer is read (a receiver cannot make
        // diagd hold a large body).
        let mut text = Vec::new();
        while text.len() < ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => text.extend_from_slice(&chunk),
                _ => break,
            }
        }
        text.truncate(ANSWER_BYTES);
        let error = if status.is_success() {
            String::new()
        } else {
            let said = String::from_utf8_lossy(&text);
            let said = said.trim();
            if said.is_empty() {
                format!("the receiver answered {status}")
            } else {
                format!("the receiver answered {status}: {said}")
            }
        };
        Answer {
            status: Some(status.as_u16()),
            error,
            retry_after,
            elapsed: started.elapsed(),
        }
    }
}

/// A request error in one line, with its cause (refused, timed out, TLS).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no answer before the timeout".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The alert workers' handle: the sender, for TestAlertRule.
#[derive(Clone)]
pub struct Alerts {
    /// Posts alerts.
    pub sender: Sender,
}

/// Starts the evaluator and the deliverer; both end with `shutdown`.
pub fn start(store: Store, options: AlertOptions, shutdown: CancellationToken) -> Alerts {
    let sender = Sender::new(options.timeout);
    let wake = Arc::new(Notify::new());
    tokio::spawn(evaluate(
        store.clone(),
        options.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(deliver(
        store,
        sender.clone(),
        options,
        wake.clone(),
        shutdown,
    ));
    Alerts { sender }
}

async fn evaluate(
    store: Store,
    options: AlertOptions,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut pruned_at = tokio::time::Instant::now() - Duration::from_secs(3590);
    let mut failing = false;
    loop {
        let mut more = false;
        match store
            .evaluate_alerts(LOGS_PER_EVALUATION, options.max_pending)
            .await
        {
            Ok(Some(evaluation)) => {
                failing = false;
                more = evaluation.more;
                if evaluation.alerts > 0 {
                    crate::metrics::METRICS.alerts_made(evaluation.alerts as u64);
                    wake.notify_one();
                }
                if evaluation.dropped > 0 {
                    crate::metrics::METRICS.alerts_dropped(evaluation.dropped as u64);
                    tracing::warn!(
                        dropped = evaluation.dropped,
                        max_pending = options.max_pending,
                        "the alert outbox is full: alerts are counted into the next one of their group or run"
                    );
                }
            }
            Ok(None) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "evaluating alert rules failed; retrying");
                }
                failing = true;
            }
        }
        if pruned_at.elapsed() > Duration::from_secs(3600) {
            pruned_at = tokio::time::Instant::now();
            if let Err(e) = store.prune_alerts(Utc::now() - KEEP).await {
                tracing::warn!(error = %e, "pruning old alerts failed");
            }
        }
        if more {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVALUATE_INTERVAL) => {}
        }
    }
}

async fn deliver(
    store: Store,
    sender: Sender,
    options: AlertOptions,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    // Longer than a request and its record can take (the record waits at
    // most the pool's timeout): a claim runs out only when its diagd died.
    let lease = options.timeout + Duration::from_secs(30);
    let mut sending: JoinSet<()> = JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        let room = IN_FLIGHT - sending.len();
        let mut claimed = 0;
        if room > 0 {
            match store.claim_alerts(room, lease).await {
                Ok(due) => {
                    claimed = due.len();
                    for alert in due {
                        sending.spawn(attempt(
                            store.clone(),
                            sender.clone(),
                            options.clone(),
                            alert,
                        ));
                    }
                }
                Err(e) => tracing::debug!(error = %e, "claiming alerts failed"),
            }
        }
        if claimed > 0 && claimed == room {
            // More may be due: claim again as soon as one finishes.
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = sending.join_next() => {}
            }
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(DELIVER_INTERVAL) => {}
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
        }
    }
    // Attempts under way are dropped with this diagd; their leases let
    // another diagd (or this one, restarted) try again what was not
    // recorded — a receiver that answered just then gets it twice, with
    // the same X-Diagd-Alert-Id.
    sending.abort_all();
}

/// One attempt at one alert, and its record.
async fn attempt(store: Store, sender: Sender, options: AlertOptions, alert: Claimed) {
    let answer = sender
        .send(alert.kind, &alert.url, &alert.secret, &alert.document)
        .await;
    let at = Utc::now();
    let outcome = alert::outcome(answer.status);
    let mut error = answer.error.clone();
    let retry_in = alert::backoff(alert.attempt, answer.retry_after);
    let give_up_at = alert.created_at
        + chrono::TimeDelta::from_std(options.retry_for).unwrap_or(chrono::TimeDelta::MAX);
    let state = match outcome {
        Outcome::Delivered => DeliveryState::Delivered,
        Outcome::GiveUp => DeliveryState::Failed,
        Outcome::Retry => {
            let next = at + chrono::TimeDelta::from_std(retry_in).unwrap_or_default();
            if next > give_up_at {
                error.push_str(&format!(
                    " (given up: retried for {} s)",
                    options.retry_for.as_secs()
                ));
                DeliveryState::Failed
            } else {
                DeliveryState::Pending
            }
        }
    };
    crate::metrics::METRICS.alert_attempt(state.as_str());
    if state == DeliveryState::Failed {
        tracing::warn!(alert = %alert.id, error = %error, "an alert could not be delivered");
    }
    let record = Attempt {
        at,
        status: answer.status.unwrap_or(0),
        error,
        millis: answer.elapsed.as_millis() as u64,
    };
    // Recorded only while this claim is the latest; retried while the
    // database is briefly away (else the lease runs out and the alert is
    // sent again: receivers may de-duplicate by X-Diagd-Alert-Id).
    for wait in [0, 1, 2, 4] {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        match store
            .record_attempt(alert.id, alert.attempt, &record, state, retry_in)
            .await
        {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(alert = %alert.id, "an alert attempt was recorded by no one: its claim had run out");
                return;
            }
            Err(e) => {
                tracing::warn!(alert = %alert.id, error = %e, "recording an alert attempt failed");
            }
        }
    }
}
