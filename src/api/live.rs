//! SubscribeLogs: the live tail. Optional backfill (or resume from a cursor)
//! read from the store up to the hub's position at subscription time, then
//! the hub's live events after it — no gap and no duplicate at the seam.
//! Heartbeats keep idle streams open; drops, outages and clears arrive as
//! notices.

use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{DiagnosticsApi, ResponseStream, convert, error::FieldError, page_token, pb};
use crate::{
    domain::{LogEntry, LogFilter, SearchQuery, TailCursor},
    live::{LiveEvent, NoticeKind, Subscription},
    store::Store,
};

/// Most logs a backfill or a resume replays.
pub const MAX_REPLAY: usize = 10_000;

/// The LIVE notice's words.
const LIVE: &str = "live: new logs follow as they are committed";

type Sender = mpsc::Sender<Result<pb::SubscribeLogsResponse, Status>>;

impl DiagnosticsApi {
    /// Follows new logs until the client goes away or diagd stops.
    pub(super) async fn subscribe_logs(
        &self,
        request: Request<pb::SubscribeLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::SubscribeLogsResponse>>, Status> {
        let request = request.into_inner();
        let filter = convert::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let query = if request.query.trim().is_empty() {
            None
        } else {
            Some(
                SearchQuery::parse(&request.query)
                    .map_err(|reason| FieldError::new("query", reason))?,
            )
        };
        if request.backfill as usize > MAX_REPLAY {
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
            .map_err(|e| Status::resource_exhausted(e.to_string()))?;
        let (sender, receiver) = mpsc::channel(16);
        let tail = Tail {
            store: self.store.clone(),
            filter,
            terms: query.map(|q| q.terms).unwrap_or_default(),
            sender,
            heartbeat: self.hub.options().heartbeat,
            shutdown: self.shutdown.clone(),
        };
        tokio::spawn(tail.run(subscription, resume, request.backfill as usize));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// One subscriber's stream.
struct Tail {
    store: Store,
    filter: LogFilter,
    terms: Vec<String>,
    sender: Sender,
    heartbeat: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
}

/// The client went away (or diagd is stopping): stop quietly.
struct Gone;

impl Tail {
    async fn run(
        self,
        mut subscription: Subscription,
        resume: Option<TailCursor>,
        backfill: usize,
    ) {
        let seam = match self.replay(resume, backfill, subscription.start).await {
            Ok(seam) => seam,
            Err(Gone) => return,
        };
        let _ = self.follow(&mut subscription, seam).await;
        // Dropping the subscription unsubscribes from the hub.
    }

    /// Sends what precedes the live part — a resume's missed logs or a
    /// backfill, oldest first — then the LIVE notice. Replays up to the
    /// newest settled log (the hub may not have dispatched it yet) and
    /// returns that seam: live events at or before it are skipped.
    async fn replay(
        &self,
        resume: Option<TailCursor>,
        backfill: usize,
        start: TailCursor,
    ) -> Result<TailCursor, Gone> {
        if resume.is_none() && backfill == 0 {
            self.notice(NoticeKind::Live, 0, LIVE.into(), start).await?;
            return Ok(start);
        }
        let seam = match self.store.tail_position().await {
            Ok(settled) => settled.max(start),
            Err(e) => return self.fail(e.into()).await,
        };
        let logs = match resume {
            Some(after) if after < seam => {
                let result = async {
                    let total = self
                        .store
                        .count_matching_between(&self.filter, &self.terms, after, seam)
                        .await?;
                    let logs = self
                        .store
                        .matching_logs_before(
                            &self.filter,
                            &self.terms,
                            Some(after),
                            seam,
                            MAX_REPLAY,
                        )
                        .await?;
                    Ok::<_, crate::store::StoreError>((total, logs))
                }
                .await;
                match result {
                    Ok((total, logs)) => {
                        let missed = total.saturating_sub(logs.len() as u64);
                        if missed > 0 {
                            let message = format!(
                                "{missed} logs arrived while you were away, more than the {MAX_REPLAY} replayed; the newest follow"
                            );
                            self.notice(NoticeKind::Missed, missed, message, after)
                                .await?;
                        }
                        logs
                    }
                    Err(e) => return self.fail(e.into()).await,
                }
            }
            Some(_) => Vec::new(),
            None => {
                match self
                    .store
                    .matching_logs_before(&self.filter, &self.terms, None, seam, backfill)
                    .await
                {
                    Ok(logs) => logs,
                    Err(e) => return self.fail(e.into()).await,
                }
            }
        };
        for (cursor, log) in logs.into_iter().rev() {
            self.log(cursor, log).await?;
        }
        self.notice(NoticeKind::Live, 0, LIVE.into(), seam).await?;
        Ok(seam)
    }

    /// Forwards the hub's events, reporting drops and sending heartbeats.
    async fn follow(&self, subscription: &mut Subscription, seam: TailCursor) -> Result<(), Gone> {
        let mut last = seam;
        loop {
            self.report_drops(subscription, last).await?;
            tokio::select! {
                event = subscription.events.recv() => match event {
                    Some(LiveEvent::Log { cursor, .. }) if cursor <= seam => {}
                    Some(LiveEvent::Log { cursor, log }) => {
                        last = cursor;
                        self.log(cursor, LogEntry::clone(&log)).await?;
                        if subscription.events.is_empty() {
                            self.report_drops(subscription, last).await?;
                        }
                    }
                    Some(LiveEvent::Notice { kind, count, message }) => self.notice(kind, count, message, last).await?,
                    None => return Err(Gone),
                },
                () = tokio::time::sleep(self.heartbeat) => {
                    let heartbeat = pb::Heartbeat { time: Some(convert::timestamp_to_proto(Utc::now())) };
                    self.send(pb::subscribe_logs_response::Event::Heartbeat(heartbeat), last).await?;
                }
                () = self.sender.closed() => return Err(Gone),
                () = self.shutdown.cancelled() => return Err(Gone),
            }
        }
    }

    async fn report_drops(
        &self,
        subscription: &Subscription,
        last: TailCursor,
    ) -> Result<(), Gone> {
        let dropped = subscription.dropped.swap(0, Ordering::Relaxed);
        if dropped == 0 {
            return Ok(());
        }
        let message = format!("{dropped} logs were dropped because this subscriber fell behind");
        self.notice(NoticeKind::Dropped, dropped, message, last)
            .await
    }

    async fn log(&self, cursor: TailCursor, log: LogEntry) -> Result<(), Gone> {
        let entry = convert::log_entry(log);
        self.send(pb::subscribe_logs_response::Event::Log(entry), cursor)
            .await
    }

    async fn notice(
        &self,
        kind: NoticeKind,
        count: u64,
        message: String,
        cursor: TailCursor,
    ) -> Result<(), Gone> {
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
        self.send(pb::subscribe_logs_response::Event::Notice(notice), cursor)
            .await
    }

    async fn send(
        &self,
        event: pb::subscribe_logs_response::Event,
        cursor: TailCursor,
    ) -> Result<(), Gone> {
        let message = pb::SubscribeLogsResponse {
            event: Some(event),
            cursor: page_token::tail::encode(cursor),
        };
        self.sender.send(Ok(message)).await.map_err(|_| Gone)
    }

    async fn fail<T>(&self, status: Status) -> Result<T, Gone> {
        let _ = self.sender.send(Err(status)).await;
        Err(Gone)
    }
}
