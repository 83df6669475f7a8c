//! The change feed of supervision timelines (`WatchSupervisionEvents`).
//!
//! Watchers follow the events as stored, by their store-wide number, which the store
//! hands out in commit order; so a watcher on any server sees, in one order, what every
//! server sharing the database stored. A server wakes its own watchers when it stores an
//! event; events stored through other servers are found by looking every
//! `server.watch_poll_ms`. A watch lasts only as long as its token: each watcher reads its
//! token again every `server.token_cache_ms` (at least every poll) and ends with
//! UNAUTHENTICATED once the token is revoked or expired.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;

use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::{
    config::ServerSettings,
    domain::supervision_query::EntryFilter,
    error::Error,
    proto::v1::SupervisionEvent,
    store::{
        Store,
        supervision::{self as entries, EntryRow},
        token,
    },
};

/// Events read from the store at a time.
const BATCH: u64 = 200;
/// Events a watcher may have waiting to be sent before reading stops for it.
const BUFFER: usize = 256;

/// The stream a watch answers with.
pub type Events = ReceiverStream<Result<SupervisionEvent, Status>>;

/// The watchers of one server.
#[derive(Clone)]
pub struct Feed {
    poll: Duration,
    token_check: Duration,
    watchers: Arc<Semaphore>,
    max_watchers: usize,
    stored: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

/// Which events a watcher wants: those of entries matching the filter, with the region
/// condition resolved to a path.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// The filter as parsed.
    pub filter: EntryFilter,
    /// The path of the filter's region, when it has one.
    pub region_within: Option<String>,
}

impl Wanted {
    fn matches(&self, entry: &EntryRow) -> bool {
        let f = &self.filter;
        f.party.is_none_or(|p| p.number() == i32::from(entry.party))
            && f.category
                .is_none_or(|c| c.number() == i32::from(entry.category))
            && f.severity
                .is_none_or(|s| s.number() == i32::from(entry.severity))
            && f.subject.as_ref().is_none_or(|s| *s == entry.subject)
            && self
                .region_within
                .as_ref()
                .is_none_or(|path| entry.region_path.starts_with(path.as_str()))
    }
}

impl Feed {
    /// The feed of a server with `settings`; its streams end when `stop` turns true.
    pub fn new(settings: &ServerSettings, stop: watch::Receiver<bool>) -> Self {
        Self {
            poll: Duration::from_millis(settings.watch_poll_ms.max(1)),
            token_check: Duration::from_millis(settings.token_cache_ms),
            watchers: Arc::new(Semaphore::new(settings.max_watchers)),
            max_watchers: settings.max_watchers,
            stored: Arc::new(Notify::new()),
            stop,
        }
    }

    /// Tells this server's watchers that an event was stored.
    pub fn stored(&self) {
        self.stored.notify_waiters();
    }

    /// Starts a watcher, for the caller holding token `token_id`, of the events stored
    /// after position `after` that `wanted` picks, each turned into its API form by
    /// `to_proto`.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED `WATCHER_LIMIT` when `server.max_watchers` streams are open.
    pub fn open(
        &self,
        store: Store,
        token_id: i64,
        wanted: Wanted,
        after: i64,
        to_proto: fn(entries::EventRow) -> SupervisionEvent,
    ) -> Result<Events, Error> {
        let permit =
            self.watchers
                .clone()
                .try_acquire_owned()
                .map_err(|_| Error::ResourceExhausted {
                    reason: "WATCHER_LIMIT",
                    message: format!(
                        "{} supervision watches are open, the most this server serves; \
                     try again later",
                        self.max_watchers
                    ),
                })?;
        let (sender, receiver) = mpsc::channel(BUFFER);
        let (poll, stored, mut stop) = (self.poll, self.stored.clone(), self.stop.clone());
        let token_check = self.token_check;
        tokio::spawn(async move {
            let _permit = permit;
            let mut after = after;
            let mut checked = Instant::now();
            loop {
                // Armed before reading, so an event stored while reading still wakes us.
                let woken = stored.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                loop {
                    let rows = match entries::events_after(store.db(), after, BATCH).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            tracing::error!(error = %e, "a supervision watch could not read");
                            let _ = sender
                                .send(Err(Status::unavailable(
                                    "the watch stopped reading; reconnect with start_after",
                                )))
                                .await;
                            return;
                        }
                    };
                    let full = rows.len() as u64 == BATCH;
                    for (event, entry) in rows {
                        after = event.id;
                        if wanted.matches(&entry) && sender.send(Ok(to_proto(event))).await.is_err()
                        {
                            return;
                        }
                    }
                    if !full {
                        break;
                    }
                }
                if checked.elapsed() >= token_check {
                    checked = Instant::now();
                    if let Err(status) = still_valid(&store, token_id).await {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(poll) => {}
                    () = sender.closed() => return,
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
        });
        Ok(ReceiverStream::new(receiver))
    }
}

/// Whether token `token_id` still lets its holder watch.
///
/// # Errors
/// UNAUTHENTICATED when it was revoked, has expired or is gone; UNAVAILABLE when it could
/// not be read.
async fn still_valid(store: &Store, token_id: i64) -> Result<(), Status> {
    let row = token::find(store, token_id).await.map_err(|e| {
        tracing::error!(error = %e, "a supervision watch could not read its token");
        Status::unavailable("the watch could not check its token; reconnect")
    })?;
    let refusal = match row {
        None => Some(("TOKEN_UNKNOWN", "the token is not valid")),
        Some(row) if row.revoke_time.is_some() => Some(("TOKEN_REVOKED", "the token was revoked")),
        Some(row) if row.expire_time.is_some_and(|t| t <= Utc::now()) => {
            Some(("TOKEN_EXPIRED", "the token has expired"))
        }
        Some(_) => None,
    };
    match refusal {
        None => Ok(()),
        Some((reason, message)) => Err(Error::Unauthenticated {
            reason,
            message: format!("{message}; the watch ends"),
        }
        .into()),
    }
}
