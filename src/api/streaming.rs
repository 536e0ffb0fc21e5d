//! Server streams fed by a task (SearchLogs, ExportLogs): a bounded queue
//! between the task and the response, a stall limit on every send, and an
//! ending status that follows whatever was queued.
//!
//! A client that stops reading fills the queue; the task's next send then
//! waits at most the stall limit, after which the task ends and gives back
//! its database connection and slot, and the stream ends with
//! DEADLINE_EXCEEDED. A client that goes away ends the task at once (see
//! [`StreamSender::closed`]), which cancels its query inside PostgreSQL.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::mpsc::{self, error::SendTimeoutError};
use tonic::Status;

use super::{
    ResponseStream,
    error::{self, ApiError},
};

/// The task's end of a response stream.
pub(super) struct StreamSender<T> {
    /// The queue to the response stream.
    sender: mpsc::Sender<Result<T, Status>>,
    /// Longest one send may wait for the client to read.
    stall: Duration,
    /// The status the stream ends with after the queued messages.
    ending: Arc<Mutex<Option<Status>>>,
}

impl<T> Clone for StreamSender<T> {
    fn clone(&self) -> Self {
        StreamSender {
            sender: self.sender.clone(),
            stall: self.stall,
            ending: self.ending.clone(),
        }
    }
}

/// A response stream of at most `capacity` queued messages, and its sender
/// whose sends wait at most `stall`.
pub(super) fn channel<T: Send + 'static>(
    capacity: usize,
    stall: Duration,
) -> (StreamSender<T>, ResponseStream<T>) {
    let (sender, mut receiver) = mpsc::channel(capacity.max(1));
    let ending = Arc::new(Mutex::new(None::<Status>));
    let stream = {
        let ending = ending.clone();
        async_stream::stream! {
            while let Some(item) = receiver.recv().await {
                yield item;
            }
            let status = ending.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(status) = status {
                yield Err(status);
            }
        }
    };
    (
        StreamSender {
            sender,
            stall,
            ending,
        },
        Box::pin(stream),
    )
}

impl<T> StreamSender<T> {
    /// Queues one message; fails when the client went away or read nothing
    /// for the stall limit (the stream then ends with DEADLINE_EXCEEDED).
    pub(super) async fn send(&self, message: T) -> Result<(), String> {
        self.send_result(Ok(message)).await
    }

    /// Queues the stream's last message or its error.
    pub(super) async fn send_result(&self, message: Result<T, Status>) -> Result<(), String> {
        match self.sender.send_timeout(message, self.stall).await {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Closed(_)) => Err("the client went away".to_string()),
            Err(SendTimeoutError::Timeout(_)) => {
                self.end_with(error::stream_stalled(self.stall));
                Err(format!(
                    "the client read nothing for {} s",
                    self.stall.as_secs()
                ))
            }
        }
    }

    /// Ends the stream with `status` after what is queued, without waiting
    /// for room in the queue.
    pub(super) fn end_with(&self, error: ApiError) {
        *self.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.into());
    }

    /// Resolves when the client went away (the response stream was dropped).
    pub(super) async fn closed(&self) {
        self.sender.closed().await
    }
}
