//! Accepting client connections within bounds: at most `max_connections`
//! open at once and `max_per_ip` from one address (more are closed as they
//! arrive, before any byte is read),
//! a deadline for a new connection's first bytes (the HTTP/2 preface, or the
//! TLS ClientHello), and a pause after a failed accept (e.g. out of file
//! descriptors) instead of a busy loop. Silent connections therefore cost a
//! file descriptor for seconds, not forever, and never crowd out clients
//! that speak. HTTP/2 keepalive (set in `server`) then closes connections
//! whose peer stopped answering.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Sleep,
};
use tokio_stream::Stream;
use tonic::transport::server::Connected;

use crate::server::batched_writes::BatchedWrites;

/// Bytes a new connection must send before its deadline: the HTTP/2
/// client preface is 24 bytes (a TLS ClientHello is longer).
const FIRST_BYTES: usize = 24;

/// Pause after a failed accept, so running out of file descriptors does not
/// spin a core.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Limits on accepted connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one IP address, so one host
    /// cannot fill `max_connections` with connections that merely stay
    /// open.
    pub max_per_ip: usize,
    /// Time a new connection has to send its first bytes.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            max_per_ip: 256,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Open connections per IP address.
#[derive(Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    /// A place for one more connection from `ip`, or `None` at `max`.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpPlace> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(IpPlace {
            table: self.clone(),
            ip,
        })
    }
}

/// One connection's place under its address's limit, given back on drop.
struct IpPlace {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl Drop for IpPlace {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The accepted connections of `listener`, within `limits`. Connections
/// refused for the limit are counted in `refused`.
pub fn accept(
    listener: TcpListener,
    limits: ConnectionLimits,
    refused: Arc<AtomicU64>,
) -> impl Stream<Item = io::Result<Guarded<BatchedWrites>>> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerIp::default());
    async_stream::stream! {
        loop {
            let (socket, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; pausing briefly");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            };
            let places = open
                .clone()
                .try_acquire_owned()
                .ok()
                .zip(per_ip.take(peer.ip(), limits.max_per_ip.max(1)));
            let Some((permit, ip_place)) = places else {
                let before = refused.fetch_add(1, Ordering::Relaxed);
                if before.is_power_of_two() || before == 0 {
                    tracing::warn!(
                        %peer,
                        max_connections = limits.max_connections,
                        max_per_ip = limits.max_per_ip,
                        refused = before + 1,
                        "connection limit reached (--max-connections or --max-connections-per-ip): \
                         closing new connections"
                    );
                }
                drop(socket);
                continue;
            };
            // TCP_NODELAY: small messages (a live-tail log, a summary, the
            // trailers) go out at once instead of waiting on Nagle's
            // algorithm and the peer's delayed ACK (~40 ms). What a
            // connection writes in one scheduler round leaves in one call
            // (see batched_writes).
            if let Err(e) = socket.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "setting TCP_NODELAY failed");
            }
            yield Ok(Guarded::new(
                BatchedWrites::new(socket),
                (permit, ip_place),
                limits.handshake_timeout,
                peer,
            ));
        }
    }
}

/// An accepted connection holding its place under the connection limit,
/// closed with an error when its first bytes do not arrive in time.
pub struct Guarded<T> {
    /// The connection.
    inner: T,
    /// Its places under --max-connections and --max-connections-per-ip,
    /// given back on drop.
    _places: (OwnedSemaphorePermit, IpPlace),
    /// Until the first bytes arrived: the deadline.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far (up to [`FIRST_BYTES`]).
    read: usize,
    /// Who connected, for the log line.
    peer: SocketAddr,
}

impl<T> Guarded<T> {
    /// Wraps `inner` with its permit and a deadline of `timeout`.
    fn new(
        inner: T,
        places: (OwnedSemaphorePermit, IpPlace),
        timeout: Duration,
        peer: SocketAddr,
    ) -> Self {
        Guarded {
            inner,
            _places: places,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            read: 0,
            peer,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let filled = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.deadline.is_some() {
            match &polled {
                Poll::Ready(Ok(())) => {
                    this.read += buf.filled().len() - filled;
                    if this.read >= FIRST_BYTES {
                        this.deadline = None;
                    }
                }
                Poll::Ready(Err(_)) => {}
                Poll::Pending => {
                    if let Some(deadline) = this.deadline.as_mut()
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        tracing::debug!(peer = %this.peer, "connection closed: no handshake in time (--handshake-timeout-secs)");
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no HTTP/2 or TLS handshake in time",
                        )));
                    }
                }
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: Connected> Connected for Guarded<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Raises this process's open-file limit to its hard limit, so the
/// connection limit, not the descriptor limit, is what clients meet.
pub fn raise_open_file_limit() {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = nix::sys::resource::setrlimit(
                nix::sys::resource::Resource::RLIMIT_NOFILE,
                hard,
                hard,
            ) {
                tracing::debug!(error = %e, "raising the open-file limit failed");
            }
        }
        _ => {}
    }
}
