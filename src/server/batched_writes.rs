//! Accepted connections whose writes leave in batches: everything the HTTP/2
//! connection writes during one round of the scheduler goes out in one
//! system call.
//!
//! Why: when one log reaches 1,000 live-tail subscribers, each subscriber's
//! stream task hands the connection one small frame and wakes it, and tokio
//! runs a task woken that way right after the waker (its "LIFO slot"). So the
//! connection wrote each frame on its own, one `writev` per delivered log;
//! the system calls were 30% of diagd's CPU in that benchmark. Here the
//! connection's writes only copy into a buffer, and a writer task per
//! connection, which first yields once to the back of the run queue, writes
//! what gathered meanwhile. A lone response (a unary call) still leaves at
//! once: with nothing else queued the yield returns immediately.
//!
//! Flushes are honest: `poll_flush` is ready only when the bytes were handed
//! to the socket. Writes stop being accepted above [`HIGH_WATER`] bytes, so a
//! peer that does not read still pushes back on HTTP/2 as before.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::BytesMut;
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::Notify,
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Bytes waiting to be written above which writes wait.
pub const HIGH_WATER: usize = 256 * 1024;

/// Write buffers that held up to this much are kept between batches; larger
/// ones (after a burst) are given back.
const KEEP_CAPACITY: usize = 64 * 1024;

/// An accepted TCP connection whose writes are batched by a writer task.
pub struct BatchedWrites {
    read: OwnedReadHalf,
    shared: Arc<Shared>,
    info: TcpConnectInfo,
    /// Tells the writer task that the connection was dropped: it sends what
    /// is left (for at most [`LINGER`]) and ends.
    _writer: DropGuard,
}

/// What the connection and its writer task share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: bytes arrived or shutdown was asked for.
    work: Notify,
}

#[derive(Default)]
struct State {
    /// Bytes accepted and not yet taken by the writer.
    pending: BytesMut,
    /// The writer holds bytes it has not finished writing.
    in_flight: bool,
    /// The connection waiting for room, a flush or the shutdown.
    waiting: Option<Waker>,
    /// The socket failed; every later call reports it.
    failed: Option<(io::ErrorKind, String)>,
    /// The connection asked to shut the write side down.
    shutdown_asked: bool,
    /// The write side is shut down.
    shut: bool,
}

impl State {
    fn error(&self) -> Option<io::Error> {
        self.failed
            .as_ref()
            .map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    fn wait(&mut self, cx: &Context<'_>) {
        match &self.waiting {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waiting = Some(cx.waker().clone()),
        }
    }

    /// Records how the writer ended (a failure is reported from then on)
    /// and wakes the connection.
    fn settle(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.failed = Some((e.kind(), e.to_string()));
        }
        self.wake_waiting();
    }

    fn wake_waiting(&mut self) {
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BatchedWrites {
    /// Takes over `stream` and starts its writer task (on the current tokio
    /// runtime).
    pub fn new(stream: TcpStream) -> BatchedWrites {
        let info = stream.connect_info();
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Notify::new(),
        });
        let stop = CancellationToken::new();
        tokio::spawn(write_batches(shared.clone(), write, stop.clone()));
        BatchedWrites {
            read,
            shared,
            info,
            _writer: stop.drop_guard(),
        }
    }

    /// Accepts `bufs` whole when there is room.
    fn accept(&self, cx: &Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut state = self.shared.lock();
        if let Some(error) = state.error() {
            return Poll::Ready(Err(error));
        }
        if state.shutdown_asked {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if state.pending.len() >= HIGH_WATER {
            state.wait(cx);
            return Poll::Pending;
        }
        let was_empty = state.pending.is_empty();
        let mut accepted = 0;
        for buf in bufs {
            state.pending.extend_from_slice(buf);
            accepted += buf.len();
        }
        drop(state);
        if was_empty && accepted > 0 {
            self.shared.work.notify_one();
        }
        Poll::Ready(Ok(accepted))
    }
}

/// The writer task: waits for bytes, yields once so that the rest of this
/// scheduler round's frames join them, and writes them in one call, until the
/// write side is shut down, fails, or the connection is dropped.
async fn write_batches(shared: Arc<Shared>, mut socket: OwnedWriteHalf, stop: CancellationToken) {
    let mut batch = BytesMut::new();
    tokio::select! {
        () = write_until_shut(&shared, &mut socket, &mut batch) => return,
        () = stop.cancelled() => {}
    }
    // Dropped: what the connection wrote still leaves, as the kernel sends
    // what a closed socket had buffered, but only for a while when the peer
    // does not read. Dropping the socket then sends FIN.
    let rest = std::mem::take(&mut shared.lock().pending);
    batch.extend_from_slice(&rest);
    if !batch.is_empty() {
        let _ = tokio::time::timeout(LINGER, socket.write_all_buf(&mut batch)).await;
    }
}

/// How long a dropped connection's last bytes may take to leave.
const LINGER: Duration = Duration::from_secs(5);

async fn write_until_shut(shared: &Shared, socket: &mut OwnedWriteHalf, batch: &mut BytesMut) {
    loop {
        let shutdown = loop {
            {
                let state = shared.lock();
                if !state.pending.is_empty() {
                    break false;
                }
                if state.shutdown_asked {
                    break true;
                }
            }
            shared.work.notified().await;
        };
        if shutdown {
            let result = socket.shutdown().await;
            let mut state = shared.lock();
            state.shut = true;
            state.settle(result);
            return;
        }
        tokio::task::yield_now().await;
        {
            let mut state = shared.lock();
            let was_full = state.pending.len() >= HIGH_WATER;
            std::mem::swap(&mut state.pending, batch);
            state.in_flight = true;
            if was_full {
                // Room again for the connection.
                state.wake_waiting();
            }
        }
        // Progress stays in `batch` (write_all_buf advances it), so a drop in
        // the middle loses nothing that was accepted.
        let size = batch.len();
        let result = socket.write_all_buf(batch).await;
        if batch.is_empty() && size > KEEP_CAPACITY {
            // (capacity() after the writes would be the unused rest only.)
            *batch = BytesMut::new();
        }
        let mut state = shared.lock();
        state.in_flight = false;
        if result.is_err() {
            state.settle(result);
            return;
        }
        if state.pending.is_empty() {
            // A flush may be waiting for exactly this.
            state.wake_waiting();
        }
    }
}

impl AsyncRead for BatchedWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for BatchedWrites {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.accept(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.accept(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        if let Some(error) = state.error() {
            return Poll::Ready(Err(error));
        }
        if state.pending.is_empty() && !state.in_flight {
            return Poll::Ready(Ok(()));
        }
        state.wait(cx);
        Poll::Pending
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        if state.shut {
            return Poll::Ready(state.error().map_or(Ok(()), Err));
        }
        if let Some(error) = state.error() {
            return Poll::Ready(Err(error));
        }
        let first = !state.shutdown_asked;
        state.shutdown_asked = true;
        state.wait(cx);
        drop(state);
        if first {
            self.shared.work.notify_one();
        }
        Poll::Pending
    }
}

impl Connected for BatchedWrites {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::AsyncReadExt,
        net::{TcpListener, TcpStream},
    };

    use super::*;

    /// A connected pair: the batched server side and a plain client.
    async fn pair() -> (BatchedWrites, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (accepted, client) = tokio::join!(listener.accept(), client);
        (BatchedWrites::new(accepted.unwrap().0), client.unwrap())
    }

    #[tokio::test]
    async fn bytes_arrive_whole_and_in_order_and_shutdown_ends_the_stream() {
        let (mut server, mut client) = pair().await;
        let mut sent = Vec::new();
        for i in 0..10_000u32 {
            let chunk = format!("frame {i};");
            server.write_all(chunk.as_bytes()).await.unwrap();
            sent.extend_from_slice(chunk.as_bytes());
            if i % 997 == 0 {
                server.flush().await.unwrap();
            }
        }
        server.shutdown().await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, sent);
    }

    #[tokio::test]
    async fn the_connection_info_is_the_sockets() {
        let (server, client) = pair().await;
        let info = server.connect_info();
        assert_eq!(info.remote_addr, client.local_addr().ok());
        assert_eq!(info.local_addr, client.peer_addr().ok());
    }

    #[tokio::test]
    async fn reads_pass_through() {
        let (mut server, mut client) = pair().await;
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }

    #[tokio::test]
    async fn a_peer_that_does_not_read_pushes_back_and_a_closed_peer_is_an_error() {
        let (mut server, client) = pair().await;
        let chunk = vec![7u8; 64 * 1024];
        // Writes must stop being accepted at some point (socket buffers plus
        // HIGH_WATER), instead of buffering without bound.
        let mut accepted = 0usize;
        while let Ok(result) =
            tokio::time::timeout(Duration::from_millis(500), server.write_all(&chunk)).await
        {
            result.unwrap();
            accepted += chunk.len();
            assert!(accepted < 256 * 1024 * 1024, "never pushed back");
        }
        // The peer goes away: the writer's failure reaches the connection.
        drop(client);
        let error = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Err(e) = server.write_all(&chunk).await {
                    return e;
                }
                if let Err(e) = server.flush().await {
                    return e;
                }
            }
        })
        .await
        .expect("the failure was reported");
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn dropping_the_connection_ends_its_writer_task() {
        let (server, _client) = pair().await;
        let shared = Arc::downgrade(&server.shared);
        drop(server);
        // The writer task holds the other reference; it ends and frees it.
        tokio::time::timeout(Duration::from_secs(5), async {
            while shared.strong_count() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the writer task ended");
    }

    #[tokio::test]
    async fn what_was_written_before_a_drop_still_arrives() {
        let (mut server, mut client) = pair().await;
        let sent: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        server.write_all(&sent).await.unwrap();
        // No flush, no shutdown: like a connection ended by an error right
        // after writing an alert.
        drop(server);
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert_eq!(received.len(), sent.len());
        assert!(received == sent);
    }
}
