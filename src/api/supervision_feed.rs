//! The change feed of supervision timelines (`WatchSupervisionEvents`).
//!
//! Watchers follow the events as stored, by their store-wide number, which the store
//! hands out in commit order; so a watcher on any server sees, in one order, what every
//! server sharing the database stored. One reader per server follows the stored timeline
//! and hands each new run of events to every watcher of that server, so a thousand
//! watchers cost the database what one does. It reads at once when this server stored an
//! event, and every `server.watch_poll_ms` for what other servers stored. A watcher
//! that starts from an earlier event, or falls behind the reader, reads what it missed
//! from the database itself.
//!
//! A watch lasts only as long as its token: each watcher reads its token again every
//! `server.token_cache_ms` (at most once a second), also while it catches up, and ends
//! with UNAUTHENTICATED once the token is revoked or expired. A watcher whose caller has
//! stopped reading waits, holding its place among `server.max_watchers`, until the caller
//! leaves, the token lapses or the server stops. Besides the server's limit, one token may
//! hold `server.max_watchers_per_token` watches and one client address
//! `server.max_watchers_per_address`, so that no caller takes every place.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::{
    config::ServerSettings,
    domain::supervision_query::EntryFilter,
    error::Error,
    limits::{Held, Tally},
    proto::v1::SupervisionEvent,
    store::{
        Store,
        supervision::{self as entries, EntryRow, EventRow},
        token,
    },
};

/// Events read from the store at a time.
const BATCH: u64 = 200;
/// Events a watcher may have waiting to be sent before it stops taking more.
const BUFFER: usize = 256;
/// Runs of events the reader keeps for watchers that are busy sending; one that falls
/// further behind reads what it missed from the database.
const RUNS_KEPT: usize = 64;
/// The shortest time between two readings of a watcher's token.
const TOKEN_CHECK_FLOOR: Duration = Duration::from_secs(1);

/// The stream a watch answers with.
pub type Events = ReceiverStream<Result<SupervisionEvent, Status>>;

/// Every event stored after position `from`, up to the last of `rows`, in store order,
/// each with its entry.
#[derive(Debug)]
struct Run {
    from: i64,
    rows: Vec<(EventRow, EntryRow)>,
}

/// The watchers of one server, and the reader they share.
#[derive(Clone)]
pub struct Feed {
    store: Store,
    poll: Duration,
    token_check: Duration,
    watchers: Arc<Semaphore>,
    max_watchers: usize,
    holders: Arc<Holders>,
    stored: Arc<Notify>,
    runs: broadcast::Sender<Arc<Run>>,
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
        f.party.is_none_or(|p| p == entry.party)
            && f.category.is_none_or(|c| c == entry.category)
            && f.severity.is_none_or(|s| s == entry.severity)
            && f.subject.as_ref().is_none_or(|s| *s == entry.subject)
            && self
                .region_within
                .as_ref()
                .is_none_or(|path| entry.region_path.starts_with(path.as_str()))
    }
}

impl Feed {
    /// The feed of a server over `store` with `settings`; its reader and streams end
    /// when `stop` turns true.
    pub fn new(store: Store, settings: &ServerSettings, stop: watch::Receiver<bool>) -> Self {
        let (runs, _) = broadcast::channel(RUNS_KEPT);
        let feed = Self {
            store,
            poll: Duration::from_millis(settings.watch_poll_ms.max(1)),
            token_check: Duration::from_millis(settings.token_cache_ms).max(TOKEN_CHECK_FLOOR),
            watchers: Arc::new(Semaphore::new(settings.max_watchers)),
            max_watchers: settings.max_watchers,
            holders: Arc::new(Holders {
                per_token: settings.max_watchers_per_token,
                per_address: settings.max_watchers_per_address,
                open: Tally::new(),
            }),
            stored: Arc::new(Notify::new()),
            runs,
            stop,
        };
        tokio::spawn(feed.clone().read());
        feed
    }

    /// Tells this server's reader that an event was stored.
    pub fn stored(&self) {
        self.stored.notify_one();
    }

    /// The shared reader: follows the stored timeline and hands each new run of events to
    /// the watchers, while there are any.
    async fn read(self) {
        let mut stop = self.stop.clone();
        let mut last = None;
        loop {
            if self.runs.receiver_count() == 0 {
                // Nobody watches: nothing to read; a new watcher starts from the latest.
                last = None;
            } else {
                let from = match last {
                    Some(last) => Ok(last),
                    None => entries::last_event_position(self.store.db()).await,
                };
                match from {
                    Ok(from) => last = Some(self.hand_out(from).await),
                    Err(e) => tracing::error!(error = %e, "the supervision feed could not read"),
                }
            }
            tokio::select! {
                () = self.stored.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Reads the events after position `from` and hands them out; returns the position
    /// read up to.
    async fn hand_out(&self, mut from: i64) -> i64 {
        loop {
            match entries::events_after(self.store.db(), from, BATCH).await {
                Ok(rows) => {
                    let full = rows.len() as u64 == BATCH;
                    if let Some(last) = rows.last().map(|(event, _)| event.id) {
                        // No watcher left is no error: the next one reads for itself.
                        let _ = self.runs.send(Arc::new(Run { from, rows }));
                        from = last;
                    }
                    if !full {
                        return from;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the supervision feed could not read");
                    return from;
                }
            }
        }
    }

    /// Starts a watcher, for the caller holding token `token_id` at address `address`, of
    /// the events stored after position `after` that `wanted` picks, each turned into its
    /// API form by `to_proto`.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED `WATCHER_LIMIT_PER_TOKEN` or `WATCHER_LIMIT_PER_ADDRESS` when the
    /// token or the address holds as many watches as it may, and `WATCHER_LIMIT` when
    /// `server.max_watchers` streams are open.
    pub fn open(
        &self,
        token_id: i64,
        address: Option<IpAddr>,
        wanted: Wanted,
        after: i64,
        to_proto: fn(EventRow) -> SupervisionEvent,
    ) -> Result<Events, Error> {
        let claim = self.holders.claim(token_id, address)?;
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
        // Subscribed before reading anything, so that no run handed out from here on is
        // missed; what came before is read from the database.
        let runs = self.runs.subscribe();
        let watcher = Watcher {
            store: self.store.clone(),
            token_id,
            token_check: self.token_check,
            checked: Instant::now(),
            wanted,
            after,
            to_proto,
            sender,
            stop: self.stop.clone(),
        };
        tokio::spawn(async move {
            let _held = (permit, claim);
            if let Err(ended) = watcher.run(runs).await {
                tracing::debug!(reason = ended, "a supervision watch ended");
            }
        });
        // The reader may be idle with nobody to read for: wake it.
        self.stored();
        Ok(ReceiverStream::new(receiver))
    }
}

/// Who holds a watch: its token, and the client address it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    Token(i64),
    Address(IpAddr),
}

/// The watches each token and each client address holds, against their limits (0: none).
struct Holders {
    per_token: usize,
    per_address: usize,
    open: Arc<Tally<Holder>>,
}

impl Holders {
    /// Counts a new watch for `token` from `address`, unless either holds its limit.
    fn claim(&self, token: i64, address: Option<IpAddr>) -> Result<Held<Holder, 2>, Error> {
        let keys = [
            Some((Holder::Token(token), self.per_token)),
            address.map(|a| (Holder::Address(a), self.per_address)),
        ];
        self.open.hold(keys).map_err(|full| match full {
            Holder::Token(_) => Error::ResourceExhausted {
                reason: "WATCHER_LIMIT_PER_TOKEN",
                message: format!(
                    "this token holds {} supervision watches, the most one token may; close \
                     one first",
                    self.per_token
                ),
            },
            Holder::Address(_) => Error::ResourceExhausted {
                reason: "WATCHER_LIMIT_PER_ADDRESS",
                message: format!(
                    "this address holds {} supervision watches, the most one address may; \
                     close one first",
                    self.per_address
                ),
            },
        })
    }
}

/// One watch: where it stands and where its events go.
struct Watcher {
    store: Store,
    token_id: i64,
    /// How often the token is read again.
    token_check: Duration,
    /// When the token was last read.
    checked: Instant,
    wanted: Wanted,
    /// The position of the last event this watch has passed (sent or filtered out).
    after: i64,
    to_proto: fn(EventRow) -> SupervisionEvent,
    sender: mpsc::Sender<Result<SupervisionEvent, Status>>,
    stop: watch::Receiver<bool>,
}

/// Completes once the server stops.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Watcher {
    /// Follows the shared runs until the caller leaves, the token lapses or the server
    /// stops; the error says why it ended.
    async fn run(mut self, mut runs: broadcast::Receiver<Arc<Run>>) -> Result<(), &'static str> {
        self.catch_up().await?;
        loop {
            let token_due = self.token_check.saturating_sub(self.checked.elapsed());
            tokio::select! {
                run = runs.recv() => match run {
                    Ok(run) => {
                        // A run that starts past this watch's position (the reader began
                        // after it, or it skipped runs): read the gap first.
                        if run.from > self.after {
                            self.catch_up().await?;
                        }
                        self.pass(run.rows.iter().cloned()).await?;
                    }
                    // Fell behind the reader: read the rest from the database.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await?,
                    Err(broadcast::error::RecvError::Closed) => return Err("the feed closed"),
                },
                () = tokio::time::sleep(token_due) => self.check_token().await?,
                () = self.sender.closed() => return Err("the caller left"),
                () = stopping(&mut self.stop) => return Err("the server stops"),
            }
        }
    }

    /// Reads from the database everything stored after this watch's position, checking
    /// the token as it goes.
    async fn catch_up(&mut self) -> Result<(), &'static str> {
        loop {
            let rows = match entries::events_after(self.store.db(), self.after, BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "a supervision watch could not read");
                    let _ = self.sender.try_send(Err(super::status::status(
                        tonic::Code::Unavailable,
                        "DATABASE_UNAVAILABLE",
                        "the watch stopped reading; reconnect with start_after",
                    )));
                    return Err("the database failed");
                }
            };
            let full = rows.len() as u64 == BATCH;
            self.pass(rows).await?;
            if !full {
                return Ok(());
            }
            if self.checked.elapsed() >= self.token_check {
                self.check_token().await?;
            }
        }
    }

    /// Reads the token again; ends the watch once it no longer holds.
    async fn check_token(&mut self) -> Result<(), &'static str> {
        self.checked = Instant::now();
        match still_valid(&self.store, self.token_id).await {
            Ok(()) => Ok(()),
            Err(status) => {
                // A caller that no longer reads will not read this either.
                let _ = self.sender.try_send(Err(status));
                Err("the token lapsed")
            }
        }
    }

    /// Sends the events of `rows` this watch has not passed yet and wants, waiting while
    /// the caller's queue is full unless the server stops.
    async fn pass(
        &mut self,
        rows: impl IntoIterator<Item = (EventRow, EntryRow)>,
    ) -> Result<(), &'static str> {
        for (event, entry) in rows {
            if event.id <= self.after {
                continue;
            }
            self.after = event.id;
            if !self.wanted.matches(&entry) {
                continue;
            }
            let event = Ok((self.to_proto)(event));
            tokio::select! {
                sent = self.sender.send(event) => sent.map_err(|_| "the caller left")?,
                () = stopping(&mut self.stop) => return Err("the server stops"),
            }
        }
        Ok(())
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
        super::status::status(
            tonic::Code::Unavailable,
            "DATABASE_UNAVAILABLE",
            "the watch could not check its token; reconnect",
        )
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

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use chrono::Utc;

    use super::*;
    use crate::{
        config::{Overrides, Settings},
        domain::{
            access::Role,
            supervision::{Category, Party, Severity, State, Step},
        },
        store::supervision::{NewEntry, NewEvent},
    };

    async fn store_with_an_entry() -> anyhow::Result<(tempfile::TempDir, Store, EntryRow)> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("feed.db").display());
        let settings = Settings::load(
            None,
            &Overrides {
                listen: None,
                database_url: Some(url),
            },
        )?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        store.seed_regions().await?;
        let entry = entries::insert(
            store.db(),
            &NewEntry {
                party: Party::Public,
                subject: "",
                region_code: "420381".into(),
                region_path: "/420000/420300/420381/".into(),
                pairing_id: None,
                project_id: None,
                category: Category::WaterQuality,
                severity: Severity::High,
                title: "排污口",
                description: "暗管排污",
                evidence: &[],
                reporter_name: "",
                reporter_contact: "",
                tracking_hash: None,
                responsible_unit: "",
                responsible_organization_id: None,
                water_section_id: None,
            },
            Utc::now(),
        )
        .await?;
        Ok((dir, store, entry))
    }

    /// Appends a comment; returns its store-wide position, with its entry as it now is.
    async fn comment(store: &Store, entry: &EntryRow) -> anyhow::Result<(EventRow, EntryRow)> {
        let event = NewEvent {
            actor_role: Some(Role::Supervisor),
            actor_label: "市人大代表".into(),
            anonymous: false,
            step: Step::Comment,
            from_state: Some(State::Submitted),
            to_state: State::Submitted,
            note: "补充说明".into(),
            responsible_unit: String::new(),
            due_date: None,
            evidence: Vec::new(),
            public: false,
        };
        let event = entries::append(store.db(), entry, event, Utc::now()).await?;
        let entry =
            crate::store::by_id::<EntryRow>(store.db(), entry.id, crate::store::Hold::Nothing)
                .await?
                .context("the entry")?;
        Ok((event, entry))
    }

    /// The number of the next event a watcher sends, within five seconds.
    async fn next_seq(
        events: &mut mpsc::Receiver<Result<SupervisionEvent, Status>>,
    ) -> anyhow::Result<String> {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .context("an event within five seconds")?
            .context("the watch goes on")??;
        event
            .name
            .rsplit('/')
            .next()
            .map(str::to_owned)
            .context("an event name")
    }

    #[tokio::test]
    async fn a_watcher_skips_what_it_has_fills_gaps_and_recovers_from_lagging() -> anyhow::Result<()>
    {
        let (_dir, store, mut entry) = store_with_an_entry().await?;
        let mut rows = Vec::new();
        for _ in 0..2 {
            let (event, now) = comment(&store, &entry).await?;
            entry = now.clone();
            rows.push((event, now));
        }
        // Room for one run: the second of two sent unread makes the receiver lag.
        let (runs, receiver) = broadcast::channel::<Arc<Run>>(1);
        let (sender, mut events) = mpsc::channel(16);
        let (_stop, stop) = watch::channel(false);
        let watcher = Watcher {
            store: store.clone(),
            token_id: 0,
            token_check: Duration::from_secs(3600),
            checked: Instant::now(),
            stop,
            wanted: Wanted {
                filter: EntryFilter::default(),
                region_within: None,
            },
            after: 0,
            to_proto: |row| SupervisionEvent {
                name: format!("supervisionEntries/{}/events/{}", row.entry_id, row.seq),
                ..Default::default()
            },
            sender,
        };
        // A run of what the watcher's first reading from the database already holds.
        runs.send(Arc::new(Run {
            from: 0,
            rows: rows.clone(),
        }))?;
        let task = tokio::spawn(watcher.run(receiver));
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(next_seq(&mut events).await?);
        }
        // Two runs past it, the first of which it never gets; then one after a gap.
        let mut later = Vec::new();
        for _ in 0..4 {
            let (event, now) = comment(&store, &entry).await?;
            entry = now.clone();
            later.push((event, now));
        }
        let at = |i: usize| later[i].0.id;
        runs.send(Arc::new(Run {
            from: rows[1].0.id,
            rows: later[..1].to_vec(),
        }))?;
        runs.send(Arc::new(Run {
            from: at(0),
            rows: later[1..2].to_vec(),
        }))?;
        runs.send(Arc::new(Run {
            from: at(2),
            rows: later[3..].to_vec(),
        }))?;
        for _ in 0..4 {
            seen.push(next_seq(&mut events).await?);
        }
        // A run that starts past the watcher's position: the gap comes from the database.
        let mut last = Vec::new();
        for _ in 0..2 {
            let (event, now) = comment(&store, &entry).await?;
            entry = now.clone();
            last.push((event, now));
        }
        runs.send(Arc::new(Run {
            from: last[0].0.id,
            rows: last[1..].to_vec(),
        }))?;
        for _ in 0..2 {
            seen.push(next_seq(&mut events).await?);
        }
        assert_eq!(seen, ["1", "2", "3", "4", "5", "6", "7", "8"]);
        drop(events);
        task.abort();
        store.close().await?;
        Ok(())
    }
}
