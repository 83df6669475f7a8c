//! Servers for the bench: the listening socket every server of it uses (with TCP_NODELAY,
//! as `duikou serve` sets it), and a duikou server of its own on a fresh SQLite file for
//! the parts that need one.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use duikou::{
    config::{Overrides, Settings},
    domain::access::Role,
    server,
    store::{
        Store,
        token::{self, NewToken},
    },
};
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::oneshot,
};

/// A listening socket on a free port of 127.0.0.1 with TCP_NODELAY, which accepted
/// connections inherit on Linux (duikou also sets it on each connection itself).
pub fn listen() -> Result<TcpListener> {
    let socket = TcpSocket::new_v4().context("creating a socket")?;
    socket.set_reuseaddr(true).context("setting SO_REUSEADDR")?;
    socket.set_nodelay(true).context("setting TCP_NODELAY")?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding 127.0.0.1:0")?;
    socket.listen(1024).context("listening")
}

/// A duikou server of its own, on a fresh durable SQLite file in a temporary directory,
/// with the national regions loaded and a token of one role.
pub struct OwnServer {
    pub store: Store,
    pub secret: String,
    pub addr: SocketAddr,
    /// Where it takes HJ 212 stations, when started with them.
    pub stations: Option<SocketAddr>,
    what: &'static str,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<()>>,
    _dir: tempfile::TempDir,
}

impl OwnServer {
    /// Starts the server for `what` ("ledger", "supervision"), with a token of `role`.
    pub async fn start(what: &'static str, role: Role) -> Result<Self> {
        Self::start_with(what, role, false).await
    }

    /// As [`OwnServer::start`], taking HJ 212 stations on a port of its own when
    /// `stations` is set.
    pub async fn start_with(what: &'static str, role: Role, stations: bool) -> Result<Self> {
        let dir = tempfile::tempdir().with_context(|| format!("creating the {what} directory"))?;
        let settings = Settings::load(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".to_owned()),
                database_url: Some(format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("{what}.db")).display()
                )),
            },
        )
        .with_context(|| format!("loading the {what} settings"))?;
        let store = Store::connect(&settings.database)
            .await
            .with_context(|| format!("opening the {what} store"))?;
        store.migrate().await.context("migrating")?;
        store.seed_regions().await.context("seeding regions")?;
        let label = format!("{what} bench");
        let (_, secret) = token::create(
            store.db(),
            &NewToken {
                role,
                label: &label,
                scopes: &[],
                expire_time: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener = listen().with_context(|| format!("binding the {what} server"))?;
        let addr = listener.local_addr().context("the server's address")?;
        let stations = match stations {
            true => Some(listen().context("binding the stations' listener")?),
            false => None,
        };
        let stations_addr = match &stations {
            Some(l) => Some(l.local_addr().context("the stations' address")?),
            None => None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server_store = store.clone();
        let key = settings.audit_key().context("the audit key")?;
        let server = tokio::spawn(async move {
            server::serve(
                server_store,
                key,
                duikou::domain::clock::Clock::system(),
                server::Listeners {
                    grpc: listener,
                    stations,
                },
                &settings,
                async {
                    let _ = stopped.await;
                },
            )
            .await
        });
        Ok(Self {
            store,
            secret,
            addr,
            stations: stations_addr,
            what,
            stop,
            server,
            _dir: dir,
        })
    }

    /// Stops the server and closes its store.
    pub async fn stop(self) -> Result<()> {
        let what = self.what;
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.server)
            .await
            .with_context(|| format!("the {what} server did not stop within 20 s"))?
            .with_context(|| format!("the {what} server panicked"))?
            .with_context(|| format!("the {what} server failed"))?;
        self.store
            .close()
            .await
            .with_context(|| format!("closing the {what} store"))
    }
}
