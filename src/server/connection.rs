//! The connections a server accepts: how many at once, in all and from one client
//! address, and how long one may take to start speaking HTTP/2 or stay open with no
//! request on it.
//!
//! A connection over either cap is closed as soon as it is accepted. One that has not sent
//! the HTTP/2 preface within the handshake timeout, or has had no request open for the
//! idle timeout, is closed by its next read failing: hyper then drops it.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::{Instant, Sleep},
};
use tonic::transport::server::Connected;

use crate::limits::{Held, Tally};

/// The bytes a client sends first on an HTTP/2 connection: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
const PREFACE_BYTES: u64 = 24;

/// The limits every accepted connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; 0: no cap.
    pub max: usize,
    /// Connections open at once from one client address; 0: no cap of its own.
    pub per_address: usize,
    /// How long a new connection may take to send the HTTP/2 preface.
    pub handshake: Duration,
    /// How long a connection may stay open with no request on it; zero: forever.
    pub idle: Duration,
}

/// Who holds connections: all of them together, and each client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    All,
    Address(IpAddr),
}

/// The connections open now, against their limits.
#[derive(Clone)]
pub struct Connections {
    limits: ConnectionLimits,
    open: Arc<Tally<Holder>>,
    /// When the server started: activity is kept as milliseconds since.
    epoch: Instant,
}

impl Connections {
    /// No connection open yet, under `limits`.
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            open: Tally::new(),
            epoch: Instant::now(),
        }
    }

    /// The accepted `stream` as a connection held against the limits, or `None` (and the
    /// stream closed) when the server or its client address holds all it may.
    pub fn admit(&self, stream: TcpStream) -> Option<Connection> {
        let remote = stream.peer_addr().ok();
        let keys = [
            Some((Holder::All, self.limits.max)),
            remote.map(|a| (Holder::Address(a.ip()), self.limits.per_address)),
        ];
        match self.open.hold(keys) {
            Ok(held) => Some(Connection {
                remote,
                stream,
                _held: held,
                activity: Arc::new(Activity {
                    open: AtomicUsize::new(0),
                    last: AtomicU64::new(self.millis()),
                    epoch: self.epoch,
                }),
                read: 0,
                limits: self.limits,
                timer: Box::pin(tokio::time::sleep(self.limits.handshake)),
            }),
            Err(full) => {
                tracing::debug!(
                    peer = ?remote,
                    over = if full == Holder::All { "server" } else { "address" },
                    "refused a connection over the connection cap"
                );
                None
            }
        }
    }

    fn millis(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// An accepted connection, closed by its own reads when it stalls.
pub struct Connection {
    stream: TcpStream,
    remote: Option<SocketAddr>,
    _held: Held<Holder, 2>,
    activity: Arc<Activity>,
    /// Bytes read so far, up to the preface.
    read: u64,
    limits: ConnectionLimits,
    timer: Pin<Box<Sleep>>,
}

/// What the requests on one connection are doing: how many are open, and since when none
/// has been.
#[derive(Debug)]
pub struct Activity {
    open: AtomicUsize,
    /// Milliseconds since `epoch` at which the last request ended, or the connection opened.
    last: AtomicU64,
    epoch: Instant,
}

impl Activity {
    /// Counts a request open on the connection until the guard is dropped.
    pub fn request(self: &Arc<Self>) -> OpenRequest {
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenRequest(Arc::clone(self))
    }

    /// How long the connection has had no request open, or zero while one is.
    fn idle_for(&self) -> Duration {
        if self.open.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last.load(Ordering::Acquire)))
    }
}

/// A request open on its connection; the connection is idle only when none is.
pub struct OpenRequest(Arc<Activity>);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        let now = self.0.epoch.elapsed().as_millis() as u64;
        self.0.last.store(now, Ordering::Release);
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a request learns of its connection: the client's address, and the
/// connection's activity, which the request counts itself in.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub remote: Option<SocketAddr>,
    /// The requests open on the connection.
    pub activity: Arc<Activity>,
}

impl Connected for Connection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo {
            remote: self.remote,
            activity: Arc::clone(&self.activity),
        }
    }
}

impl Connection {
    /// Fails once the connection has stalled: no preface within the handshake timeout, or
    /// no request for the idle timeout. Else arms the timer for the next look.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let wait = if self.read < PREFACE_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no HTTP/2 preface within the handshake timeout",
                ));
            } else if self.limits.idle.is_zero() {
                // Nothing more to watch for: a timer far away stays pending.
                Duration::from_secs(86_400 * 365)
            } else {
                let idle = self.activity.idle_for();
                if idle >= self.limits.idle {
                    tracing::debug!(peer = ?self.remote, "closing an idle connection");
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
                }
                self.limits.idle - idle
            };
            self.timer.as_mut().reset(Instant::now() + wait);
        }
        Ok(())
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Err(stalled) = this.check(cx) {
            return Poll::Ready(Err(stalled));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.read < PREFACE_BYTES {
            let got = (buf.filled().len() - before) as u64;
            this.read += got;
            if this.read >= PREFACE_BYTES {
                // Handshake done: from now on the timer watches for idleness.
                let idle = if this.limits.idle.is_zero() {
                    Duration::from_secs(86_400 * 365)
                } else {
                    this.limits.idle
                };
                this.timer.as_mut().reset(Instant::now() + idle);
            }
        }
        polled
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
