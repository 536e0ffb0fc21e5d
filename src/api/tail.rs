//! SubscribeLogs: the live tail. Optional backfill (or resume from a cursor)
//! read from the store up to the hub's position at subscription time, then
//! the hub's live events after it — no gap and no duplicate at the seam.
//! Heartbeats keep idle streams open; drops, outages and clears arrive as
//! notices.

use std::{ops::ControlFlow, sync::atomic::Ordering, time::Duration};

use chrono::Utc;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use prost::Message;

use super::error::{ApiError, Limit};
use super::limits::MAX_REPLAY;
use super::{
    DiagnosticsApi, ResponseStream, convert, error::FieldError, page_token, pb,
    tail_message::TailMessage,
};
use crate::{
    domain::{LogEntry, LogFilter, NoticeKind, TailCursor},
    store::Store,
    workers::tail::{HeldBytes, Subscription, TailBudget, TailEvent},
};

/// Longest a backfill or resume waits for the logs committed before it to
/// settle (see `Tail::settled_position`), and how often it looks (first,
/// and at the slowest).
const SETTLE_WAIT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(10);
const SETTLE_POLL_MAX: Duration = Duration::from_millis(250);

/// The LIVE notice's words.
const LIVE: &str = "live: new logs follow as they are committed";

type Sender = mpsc::Sender<Result<Replayed, Status>>;

/// A message of the replay on its way to the client, with the bytes it holds
/// in the live tail's shared budget (a replayed log's), given back when the
/// response stream takes it (or drops it with the stream).
struct Replayed {
    message: pb::SubscribeLogsResponse,
    _held: Option<HeldBytes>,
}

impl DiagnosticsApi {
    /// Follows new logs until the client goes away or diagd stops.
    pub(super) async fn subscribe_logs(
        &self,
        request: Request<pb::SubscribeLogsRequest>,
    ) -> Result<Response<ResponseStream<TailMessage>>, ApiError> {
        let request = request.into_inner();
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let query = if request.query.trim().is_empty() {
            None
        } else {
            Some(super::search::search_query(&request.query)?)
        };
        // (Ignored on resume, so only checked without one.)
        if request.resume_cursor.is_empty() && request.backfill as usize > MAX_REPLAY {
            return Err(FieldError::new("backfill", format!("at most {MAX_REPLAY}")).into());
        }
        let resume = if request.resume_cursor.is_empty() {
            None
        } else {
            Some(page_token::tail::decode(
                "resume_cursor",
                &request.resume_cursor,
            )?)
        };
        let subscription = self
            .hub
            .subscribe(filter.clone(), query.clone())
            .map_err(|e| {
                ApiError::busy(
                    Limit {
                        reason: "SUBSCRIBER_LIMIT",
                        value: self.hub.options().max_subscribers as u64,
                        flag: Some("--max-subscribers"),
                    },
                    e.to_string(),
                )
            })?;
        // What precedes the live part (a replay, the LIVE notice) comes
        // from a task through a channel; the live part is read straight from
        // the hub's queue by the response stream itself — no task and no
        // second queue per subscriber on the hot path.
        let (sender, receiver) = mpsc::channel(16);
        let (seam_sender, seam) = oneshot::channel();
        let tail = Tail {
            store: self.store.clone(),
            filter,
            terms: query.map(|q| q.terms).unwrap_or_default(),
            backfill: if resume.is_some() {
                0
            } else {
                request.backfill as usize
            },
            replay_bytes: self.hub.options().replay_bytes,
            budget: self.hub.budget().clone(),
            sender,
        };
        let start = subscription.start;
        tokio::spawn(async move {
            if let Ok(seam) = tail.replay(resume, start).await {
                let _ = seam_sender.send(seam);
            }
        });
        let live = follow(
            subscription,
            seam,
            self.hub.options().heartbeat,
            self.shutdown.clone(),
        );
        Ok(Response::new(Box::pin(
            ReceiverStream::new(receiver)
                .map(|replayed| replayed.map(|replayed| TailMessage::from(replayed.message)))
                .chain(live),
        )))
    }
}

/// The live part of a tail, after the replay has sent everything up to
/// `seam`: the hub's events (logs after the seam, notices), dropped-log
/// reports and heartbeats, until the client goes away (the stream is
/// dropped, which unsubscribes) or diagd stops.
fn follow(
    mut subscription: Subscription,
    seam: oneshot::Receiver<TailCursor>,
    heartbeat: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl tokio_stream::Stream<Item = Result<TailMessage, Status>> + Send {
    async_stream::stream! {
        // No seam: the replay failed (its error was sent) or the client left.
        let Ok(seam) = seam.await else { return };
        let mut last = seam;
        // One timer and one cancellation wait for the whole stream: a log
        // only records when it was sent, and the timer, when it fires, is
        // moved on to a heartbeat after the last message (registering both
        // anew for every log cost each of 1,000 subscribers a lock or two).
        let mut last_sent = Instant::now();
        let beat = tokio::time::sleep(heartbeat);
        let stopping = shutdown.cancelled_owned();
        tokio::pin!(beat, stopping);
        loop {
            if let Some(report) = drops_report(&subscription, last) {
                yield Ok(report.into());
                last_sent = Instant::now();
            }
            for (kind, count, message) in subscription.take_held_notices() {
                yield Ok(notice_response(kind, count, message, last).into());
                last_sent = Instant::now();
            }
            tokio::select! {
                event = subscription.events.recv() => match event {
                    Some(TailEvent::Log { cursor, log }) if cursor <= seam => {
                        subscription.received(&log);
                    }
                    Some(TailEvent::Log { cursor, log }) => {
                        subscription.received(&log);
                        last = cursor;
                        let encoded = log.encoded.get_or_init(|| {
                            log_response(cursor, log.entry.clone()).encode_to_vec().into()
                        });
                        yield Ok(TailMessage::Encoded(encoded.clone()));
                        last_sent = Instant::now();
                    }
                    Some(TailEvent::Notice { kind, count, message }) => {
                        yield Ok(notice_response(kind, count, message, last).into());
                        last_sent = Instant::now();
                    }
                    None => return,
                },
                () = &mut beat => {
                    let due = last_sent + heartbeat;
                    if Instant::now() >= due {
                        let beat = pb::Heartbeat { time: Some(convert::to_wire::timestamp_to_proto(Utc::now())) };
                        yield Ok(response(pb::subscribe_logs_response::Event::Heartbeat(beat), last).into());
                        last_sent = Instant::now();
                    }
                    beat.as_mut().reset(last_sent + heartbeat);
                }
                () = &mut stopping => return,
            }
        }
    }
}

/// A DROPPED notice when logs were dropped for this subscriber since the
/// last report.
fn drops_report(
    subscription: &Subscription,
    last: TailCursor,
) -> Option<pb::SubscribeLogsResponse> {
    if subscription.dropped.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let dropped = subscription.dropped.swap(0, Ordering::Relaxed);
    (dropped > 0).then(|| {
        let message = format!("{dropped} logs were dropped because this subscriber fell behind");
        notice_response(NoticeKind::Dropped, dropped, message, last)
    })
}

/// A log event.
fn log_response(cursor: TailCursor, log: LogEntry) -> pb::SubscribeLogsResponse {
    response(
        pb::subscribe_logs_response::Event::Log(convert::to_wire::log_entry(log)),
        cursor,
    )
}

/// A notice event.
fn notice_response(
    kind: NoticeKind,
    count: u64,
    message: String,
    cursor: TailCursor,
) -> pb::SubscribeLogsResponse {
    let kind = match kind {
        NoticeKind::Dropped => pb::NoticeKind::Dropped,
        NoticeKind::Missed => pb::NoticeKind::Missed,
        NoticeKind::Live => pb::NoticeKind::Live,
        NoticeKind::LogsCleared => pb::NoticeKind::LogsCleared,
        NoticeKind::DatabaseUnavailable => pb::NoticeKind::DatabaseUnavailable,
        NoticeKind::DatabaseRestored => pb::NoticeKind::DatabaseRestored,
    };
    let notice = pb::SubscriptionNotice {
        message,
        count,
        kind: kind as i32,
    };
    response(pb::subscribe_logs_response::Event::Notice(notice), cursor)
}

/// An event with the cursor to resume after it.
fn response(
    event: pb::subscribe_logs_response::Event,
    cursor: TailCursor,
) -> pb::SubscribeLogsResponse {
    pb::SubscribeLogsResponse {
        event: Some(event),
        cursor: page_token::tail::encode(cursor),
    }
}

/// The replay of one subscriber's tail (what precedes the live part).
struct Tail {
    store: Store,
    filter: LogFilter,
    terms: Vec<String>,
    /// Logs of backfill asked for (0 on resume).
    backfill: usize,
    /// Most bytes a replay sends.
    replay_bytes: usize,
    /// The live tail's process-wide budget, which holds the replay's bytes
    /// until each log is sent.
    budget: TailBudget,
    sender: Sender,
}

/// The logs a replay sends, newest first, and where the byte budget cut it.
struct Replay {
    /// Ready to send, each with its bytes held in the shared budget.
    logs: Vec<(pb::SubscribeLogsResponse, HeldBytes)>,
    /// The newest log left out for the byte budget, if one was.
    cut: Option<TailCursor>,
}

/// The client went away (or diagd is stopping): stop quietly.
struct Gone;

impl Tail {
    /// Sends what precedes the live part — a resume's missed logs or a
    /// backfill, oldest first — then the LIVE notice. Replays up to the
    /// newest settled log (the hub may not have dispatched it yet) and
    /// returns that seam: live events at or before it are skipped.
    async fn replay(
        &self,
        resume: Option<TailCursor>,
        start: TailCursor,
    ) -> Result<TailCursor, Gone> {
        if resume.is_none() && self.backfill == 0 {
            self.notice(NoticeKind::Live, 0, LIVE.into(), start).await?;
            return Ok(start);
        }
        let seam = match self.settled_position().await {
            Ok(settled) => settled.max(start),
            Err(e) => return self.fail(e.into()).await,
        };
        let (after, limit) = match resume {
            Some(after) if after >= seam => (Some(after), 0),
            Some(after) => (Some(after), MAX_REPLAY),
            None => (None, self.backfill),
        };
        let replay = match self.read_replay(after, seam, limit).await {
            Ok(replay) => replay,
            Err(e) => return self.fail(e.into()).await,
        };
        if let Some((kind, count, message, cursor)) = self.left_out(resume, &replay, seam).await? {
            self.notice(kind, count, message, cursor).await?;
        }
        for (message, held) in replay.logs.into_iter().rev() {
            self.send_held(message, Some(held)).await?;
        }
        self.notice(NoticeKind::Live, 0, LIVE.into(), seam).await?;
        Ok(seam)
    }

    /// The newest settled log, once the logs committed before the replay
    /// began have settled, or after `SETTLE_WAIT`: a log committed just
    /// before the tail is opened, while another transaction was still
    /// running, belongs in its backfill rather than after the LIVE notice.
    async fn settled_position(&self) -> Result<TailCursor, crate::store::StoreError> {
        let committed = self.store.committed_position().await?;
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        let mut pause = SETTLE_POLL;
        loop {
            let settled = self.store.tail_position().await?;
            if settled >= committed || tokio::time::Instant::now() >= deadline {
                return Ok(settled);
            }
            // Looked at again soon, then less and less often (a long
            // transaction elsewhere keeps it waiting the whole time).
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(SETTLE_POLL_MAX);
        }
    }

    /// Reads the newest matching logs in `(after, seam]`, at most `limit`,
    /// newest first, as messages ready to send, until they would exceed the
    /// replay byte budget or the live tail's shared one (which holds each
    /// collected log's bytes until it is sent).
    async fn read_replay(
        &self,
        after: Option<TailCursor>,
        seam: TailCursor,
        limit: usize,
    ) -> Result<Replay, crate::store::StoreError> {
        let mut replay = Replay {
            logs: Vec::new(),
            cut: None,
        };
        if limit == 0 {
            return Ok(replay);
        }
        let mut bytes = 0usize;
        let budget = self.replay_bytes;
        self.store
            .visit_matching_logs_newest_first(
                &self.filter,
                &self.terms,
                after,
                seam,
                limit,
                |cursor, log| {
                    let message = log_response(cursor, log);
                    let size = message.encoded_len();
                    bytes = bytes.saturating_add(size);
                    let held = (bytes <= budget).then(|| self.budget.hold(size)).flatten();
                    let Some(held) = held else {
                        replay.cut = Some(cursor);
                        return ControlFlow::Break(());
                    };
                    replay.logs.push((message, held));
                    ControlFlow::Continue(())
                },
            )
            .await?;
        Ok(replay)
    }

    /// The MISSED notice owed before a replay, if any: on resume, the logs
    /// that arrived meanwhile beyond the replay (over `MAX_REPLAY` or the
    /// byte budget); on backfill, the requested logs the byte budget left
    /// out.
    async fn left_out(
        &self,
        resume: Option<TailCursor>,
        replay: &Replay,
        seam: TailCursor,
    ) -> Result<Option<(NoticeKind, u64, String, TailCursor)>, Gone> {
        let budget = self.replay_bytes;
        let shared = self.budget.limit();
        let sent = replay.logs.len() as u64;
        let notice = match resume {
            Some(after) if after < seam => {
                let total = self
                    .store
                    .count_matching_between(&self.filter, &self.terms, Some(after), seam, None)
                    .await;
                let total = match total {
                    Ok(total) => total,
                    Err(e) => return self.fail(e.into()).await,
                };
                let missed = total.saturating_sub(sent);
                (missed > 0).then(|| {
                    let message = format!(
                        "{missed} logs arrived while you were away, more than the replay holds \
                         (at most {MAX_REPLAY} logs and {budget} bytes, within the live tail's \
                         {shared} bytes for all tails); the newest follow"
                    );
                    (NoticeKind::Missed, missed, message, after)
                })
            }
            Some(_) => None,
            None => match replay.cut {
                Some(cut) => {
                    let requested = self.backfill.saturating_sub(replay.logs.len());
                    let older = self
                        .store
                        .count_matching_between(
                            &self.filter,
                            &self.terms,
                            None,
                            cut,
                            Some(requested),
                        )
                        .await;
                    let left_out = match older {
                        Ok(left_out) => left_out,
                        Err(e) => return self.fail(e.into()).await,
                    };
                    let message = format!(
                        "{left_out} older logs of the backfill were left out: a replay sends at most \
                         {budget} bytes, within the live tail's {shared} bytes for all tails"
                    );
                    Some((NoticeKind::Missed, left_out, message, cut))
                }
                None => None,
            },
        };
        Ok(notice)
    }

    async fn notice(
        &self,
        kind: NoticeKind,
        count: u64,
        message: String,
        cursor: TailCursor,
    ) -> Result<(), Gone> {
        self.send(notice_response(kind, count, message, cursor))
            .await
    }

    async fn send(&self, message: pb::SubscribeLogsResponse) -> Result<(), Gone> {
        self.send_held(message, None).await
    }

    async fn send_held(
        &self,
        message: pb::SubscribeLogsResponse,
        held: Option<HeldBytes>,
    ) -> Result<(), Gone> {
        let replayed = Replayed {
            message,
            _held: held,
        };
        self.sender.send(Ok(replayed)).await.map_err(|_| Gone)
    }

    async fn fail<T>(&self, status: Status) -> Result<T, Gone> {
        let _ = self.sender.send(Err(status)).await;
        Err(Gone)
    }
}
