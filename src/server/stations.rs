//! The HJ 212-2017 ingest listener: automatic stations connect over TCP and send data
//! packets; each one becomes a water sample, recorded as the station's MONITOR token
//! would record it with RecordWaterSample.
//!
//! A packet is checked in this order: its frame and CRC, its fields, its system code
//! (`ST=21`, surface water) and command (`CN` 2011, 2051, 2061 or 2031), its station
//! (`MN`) and password (`PW`), then it is recorded. The request id of the sample is the
//! station's MN and the packet's QN (`{MN}-{QN}`), so that a station resending a packet
//! whose answer it missed gets the same sample, on any connection, and two stations of one
//! token never meet. A packet whose Flag asks for an answer gets `CN=9014` once it is
//! recorded. A packet refused at any step is dropped with a log line naming the station
//! (when known) and the reason, and counted; the connection goes on, the listener too.
//!
//! Limits: connections open at once, in all and from one address; the idle time of a
//! connection; the length of a packet (a line longer than a frame can be is dropped);
//! packets of one connection recorded at once (the station waits for their answers);
//! wrong passwords per station per minute; and three wrong passwords close a connection.

use std::{
    collections::{BTreeMap, HashMap},
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
    task::JoinHandle,
};

use crate::{
    api::water::Waters,
    config::WaterSettings,
    domain::{
        access::Role,
        audit::Call,
        hj212::{self, MAX_DATA_BYTES, Packet, Refusal, SURFACE_WATER},
        monitoring::SampleSource,
        name,
        station::password_matches,
    },
    error::Error,
    limits::Tally,
    proto::v1::{RecordWaterSampleRequest, WaterSample, WaterValue},
    store::{
        Store,
        station::{self as stations, StationRow},
        token,
    },
};

/// The longest line a frame can be: `##`, four digits, the data, four hex digits, CRLF.
const MAX_FRAME_BYTES: usize = 2 + 4 + MAX_DATA_BYTES + 4 + 2;

/// The data uploads of surface-water stations that become samples.
const DATA_COMMANDS: [&str; 4] = ["2011", "2051", "2061", "2031"];

/// Wrong passwords after which a connection is closed.
const WRONG_PASSWORDS_PER_CONNECTION: u32 = 3;

/// The method a packet is recorded through, as the audit log and request ids name it.
const RECORD_METHOD: &str = "/duikou.v1.WaterQualityService/RecordWaterSample";

/// China's offset from UTC: HJ 212's `DataTime` is local time.
const CHINA_SECS: i64 = 8 * 3600;

/// The limits the listener holds connections and stations to.
#[derive(Debug, Clone, Copy)]
pub struct StationLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Of those, from one address; 0: no cap of its own.
    pub per_address: usize,
    /// How long a connection may stay silent.
    pub idle: Duration,
    /// Packets of one connection recorded at once.
    pub in_flight: usize,
    /// Wrong passwords per station per minute.
    pub wrong_passwords_per_minute: u32,
}

impl StationLimits {
    /// The limits of the settings.
    pub fn of(settings: &WaterSettings) -> Self {
        Self {
            max_connections: settings.hj212_max_connections.max(1),
            per_address: settings.hj212_max_connections_per_address,
            idle: Duration::from_secs(settings.hj212_idle_timeout_secs.max(1)),
            in_flight: settings.hj212_in_flight_per_connection.max(1),
            wrong_passwords_per_minute: settings.hj212_wrong_passwords_per_minute,
        }
    }
}

/// Who holds station connections: all of them together, and each address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    All,
    Address(IpAddr),
}

/// Why a packet was dropped: the kind it is counted under, and the words of its log line.
#[derive(Debug)]
struct Dropped {
    kind: &'static str,
    why: String,
}

impl Dropped {
    fn new(kind: &'static str, why: impl Into<String>) -> Self {
        Self {
            kind,
            why: why.into(),
        }
    }
}

impl From<Refusal> for Dropped {
    fn from(refusal: Refusal) -> Self {
        let kind = match refusal {
            Refusal::Frame(_) => "malformed_frame",
            Refusal::Crc { .. } => "bad_crc",
            Refusal::Field(..) => "malformed_field",
        };
        Self::new(kind, refusal.to_string())
    }
}

/// The packets the listener recorded and dropped since it started, by kind.
#[derive(Debug, Default)]
pub struct StationCounts {
    recorded: AtomicU64,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
}

impl StationCounts {
    /// Packets recorded as samples, replays of a resent packet included.
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    /// Packets dropped, by why.
    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        self.dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one more dropped of `kind`; the count of that kind now.
    fn drop_one(&self, kind: &'static str) -> u64 {
        let mut dropped = self.dropped.lock().unwrap_or_else(PoisonError::into_inner);
        let count = dropped.entry(kind).or_default();
        *count += 1;
        *count
    }
}

/// A station whose password a connection has been sent right, with the hash it matched:
/// a later packet with the same password is not hashed again while the hash stays.
struct Proven {
    hash: String,
    password: String,
}

/// The wrong passwords of one station in the current minute.
struct Guesses {
    since: Instant,
    count: u32,
}

/// The listener's shared state.
struct Ingest {
    waters: Waters,
    store: Store,
    limits: StationLimits,
    counts: Arc<StationCounts>,
    connections: Arc<Tally<Holder>>,
    guesses: Mutex<HashMap<i64, Guesses>>,
}

/// Serves stations on `listener` until `stop` turns true; connections open then are
/// closed once their packets in flight are recorded. Returns at once, with the counts.
pub fn serve(
    listener: TcpListener,
    store: Store,
    waters: Waters,
    limits: StationLimits,
    mut stop: watch::Receiver<bool>,
) -> Arc<StationCounts> {
    let counts = Arc::new(StationCounts::default());
    let ingest = Arc::new(Ingest {
        waters,
        store,
        limits,
        counts: Arc::clone(&counts),
        connections: Tally::new(),
        guesses: Mutex::new(HashMap::new()),
    });
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let ingest = Arc::clone(&ingest);
                    let stop = stop.clone();
                    tokio::spawn(async move { ingest.connection(stream, peer, stop).await });
                }
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // the next accept may succeed; a pause keeps a persistent fault from
                    // spinning.
                    tracing::warn!(error = %e, "HJ 212 listener could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    counts
}

impl Ingest {
    /// Serves one station connection.
    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        mut stop: watch::Receiver<bool>,
    ) {
        let per_address = (self.limits.per_address > 0).then_some(self.limits.per_address);
        let held = self.connections.hold([
            Some((Holder::All, self.limits.max_connections)),
            per_address.map(|limit| (Holder::Address(peer.ip()), limit)),
        ]);
        let Ok(_held) = held else {
            tracing::warn!(%peer, "HJ 212 connection refused: too many connections open");
            return;
        };
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        // Answers go back in the order the packets came, each once it is recorded; the
        // channel's bound is the packets of this connection recorded at once.
        let (answers, mut pending) =
            mpsc::channel::<JoinHandle<Option<Vec<u8>>>>(self.limits.in_flight);
        let writer = tokio::spawn(async move {
            while let Some(answer) = pending.recv().await {
                if let Ok(Some(bytes)) = answer.await
                    && write.write_all(&bytes).await.is_err()
                {
                    break;
                }
            }
        });
        let mut frames = Frames::new(read);
        let mut proven: HashMap<String, Proven> = HashMap::new();
        let mut wrong = 0;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(self.limits.idle, frames.next()) => next,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let frame = match next {
                Ok(Ok(Some(frame))) => frame,
                Ok(Ok(None)) | Ok(Err(_)) => break,
                Err(_) => {
                    tracing::info!(%peer, "HJ 212 connection closed: idle");
                    break;
                }
            };
            let admitted = match frame {
                Frame::Whole(bytes) => self.admit(&bytes, &mut proven).await,
                Frame::TooLong => Err((
                    None,
                    Dropped::new(
                        "too_long",
                        format!("a line longer than a frame can be ({MAX_FRAME_BYTES} bytes)"),
                    ),
                )),
            };
            match admitted {
                Ok(admitted) => {
                    let ingest = Arc::clone(&self);
                    let record = tokio::spawn(async move { ingest.record(admitted, peer).await });
                    if answers.send(record).await.is_err() {
                        break;
                    }
                }
                Err((station, dropped)) => {
                    let closing = dropped.kind == "wrong_password" && {
                        wrong += 1;
                        wrong >= WRONG_PASSWORDS_PER_CONNECTION
                    };
                    self.dropped(&peer, station.as_deref(), &dropped);
                    if closing {
                        tracing::warn!(%peer, "HJ 212 connection closed: wrong passwords");
                        break;
                    }
                }
            }
        }
        drop(answers);
        let _ = writer.await;
    }

    /// Counts and logs a dropped packet.
    fn dropped(&self, peer: &SocketAddr, station: Option<&str>, dropped: &Dropped) {
        let count = self.counts.drop_one(dropped.kind);
        tracing::warn!(
            %peer,
            station = station.unwrap_or("-"),
            reason = dropped.kind,
            dropped = count,
            "HJ 212 packet dropped: {}",
            dropped.why
        );
    }

    /// Checks a frame up to its station's password: the packet to record, or why not (with
    /// the station's MN once it is read).
    async fn admit(
        &self,
        frame: &[u8],
        proven: &mut HashMap<String, Proven>,
    ) -> Result<Admitted, (Option<String>, Dropped)> {
        let packet = Packet::parse(frame).map_err(|r| (None, r.into()))?;
        let mn = packet.mn.clone();
        let refuse = |dropped: Dropped| (Some(mn.clone()), dropped);
        if packet.st != SURFACE_WATER {
            return Err(refuse(Dropped::new(
                "not_surface_water",
                format!("ST={} is not 21, surface-water quality", packet.st),
            )));
        }
        if !DATA_COMMANDS.contains(&packet.cn.as_str()) {
            return Err(refuse(Dropped::new(
                "not_data",
                format!(
                    "CN={} is no data upload duikou takes (2011, 2051, 2061, 2031)",
                    packet.cn
                ),
            )));
        }
        let sample_time = data_time(&packet).map_err(|r| refuse(r.into()))?;
        let readings = packet.readings().map_err(|r| refuse(r.into()))?;
        let station = stations::by_mn(&self.store, &mn)
            .await
            .map_err(|e| refuse(Dropped::new("failed", format!("reading the station: {e}"))))?
            .ok_or_else(|| refuse(Dropped::new("unknown_mn", "no station has this MN")))?;
        let known = proven
            .get(&mn)
            .is_some_and(|p| p.hash == station.password_hash && p.password == packet.pw);
        if !known {
            self.check_password(&station, &packet.pw).map_err(&refuse)?;
            if proven.len() < 16 {
                proven.insert(
                    mn.clone(),
                    Proven {
                        hash: station.password_hash.clone(),
                        password: packet.pw.clone(),
                    },
                );
            }
        }
        let values = readings
            .iter()
            .map(|r| WaterValue {
                parameter: r.parameter.number(),
                value: r.value.to_decimal(),
                flag: r.flag.number(),
            })
            .collect();
        Ok(Admitted {
            station,
            sample_time,
            values,
            answer: packet.wants_answer().then(|| hj212::answer(&packet)),
            qn: packet.qn,
        })
    }

    /// Checks a password sent for `station` by a connection that has not yet proven it,
    /// within the station's wrong passwords of the minute.
    fn check_password(&self, station: &StationRow, password: &str) -> Result<(), Dropped> {
        let limit = self.limits.wrong_passwords_per_minute;
        let mut guesses = self.guesses.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        guesses.retain(|_, g| now.duration_since(g.since) < Duration::from_secs(60));
        if guesses.get(&station.id).is_some_and(|g| g.count >= limit) {
            return Err(Dropped::new(
                "wrong_password_limit",
                format!(
                    "the station was sent {limit} wrong passwords this minute; \
                     connections that have not proven its password wait for the next"
                ),
            ));
        }
        if password_matches(&station.password_salt, &station.password_hash, password) {
            return Ok(());
        }
        guesses
            .entry(station.id)
            .or_insert(Guesses {
                since: now,
                count: 0,
            })
            .count += 1;
        Err(Dropped::new("wrong_password", "wrong password"))
    }

    /// Records an admitted packet as its station's token: the answer to send, if the
    /// packet asked for one and was recorded.
    async fn record(&self, admitted: Admitted, peer: SocketAddr) -> Option<Vec<u8>> {
        let mn = admitted.station.mn.clone();
        match self.record_as_monitor(&admitted, peer).await {
            Ok(_) => {
                self.counts.recorded.fetch_add(1, Ordering::Relaxed);
                admitted.answer
            }
            Err(dropped) => {
                self.dropped(&peer, Some(&mn), &dropped);
                None
            }
        }
    }

    async fn record_as_monitor(
        &self,
        admitted: &Admitted,
        peer: SocketAddr,
    ) -> Result<WaterSample, Dropped> {
        let station = &admitted.station;
        let row = token::find(&self.store, station.monitor_token_id)
            .await
            .map_err(|e| Dropped::new("failed", format!("reading the station's token: {e}")))?
            .ok_or_else(|| Dropped::new("token", "the station's token does not exist"))?;
        let caller = token::caller_of(&row).map_err(|refusal| {
            Dropped::new(
                "token",
                format!(
                    "the station's token {} no longer serves ({refusal:?})",
                    name::format_id("accessTokens", row.id)
                ),
            )
        })?;
        if !matches!(caller.role, Role::Monitor | Role::Admin) {
            return Err(Dropped::new(
                "token",
                "the station's token may not record samples",
            ));
        }
        let request = RecordWaterSampleRequest {
            sample: Some(WaterSample {
                section: name::format_id("monitoringSections", station.section_id),
                sample_time: Some(crate::api::timestamp(admitted.sample_time)),
                source: SampleSource::Automatic.number(),
                values: admitted.values.clone(),
                ..Default::default()
            }),
            request_id: format!("{}-{}", station.mn, admitted.qn),
        };
        let call = Call::new(Some(caller), RECORD_METHOD).from_peer(Some(peer.ip()));
        self.waters
            .record(call, request)
            .await
            .map_err(|e| match e {
                Error::Internal(_) | Error::Unavailable(_) | Error::Contention => Dropped::new(
                    "failed",
                    format!("not recorded, the station may resend: {e}"),
                ),
                refused => Dropped::new("refused", refused.to_string()),
            })
    }
}

/// A packet whose station and password are right, ready to record.
struct Admitted {
    station: StationRow,
    qn: String,
    sample_time: DateTime<Utc>,
    values: Vec<WaterValue>,
    answer: Option<Vec<u8>>,
}

/// The time of a data packet's readings: `DataTime` in its CP, China's local time.
fn data_time(packet: &Packet) -> Result<DateTime<Utc>, Refusal> {
    let text = packet
        .cp
        .iter()
        .find(|(key, _)| key == "DataTime")
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| Refusal::Field("DataTime", "is missing".into()))?;
    let local = NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S")
        .ok()
        .filter(|_| text.len() == 14)
        .ok_or_else(|| Refusal::Field("DataTime", format!("{text:?} is not yyyyMMddHHmmss")))?;
    Ok(local.and_utc() - chrono::Duration::seconds(CHINA_SECS))
}

/// What a station connection's next line is.
enum Frame {
    /// A line, its LF included.
    Whole(Vec<u8>),
    /// A line longer than any frame, dropped unread.
    TooLong,
}

/// Lines of a connection, none kept longer than a frame can be.
struct Frames<R> {
    reader: R,
    buffer: Vec<u8>,
    /// Bytes of an overlong line are being passed over up to its end.
    skipping: bool,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::with_capacity(2 * MAX_FRAME_BYTES),
            skipping: false,
        }
    }

    /// The next line; none at the end of the stream.
    async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        let mut scanned = 0;
        loop {
            if let Some(at) = self.buffer[scanned..].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=scanned + at).collect();
                let skipped = std::mem::take(&mut self.skipping);
                return Ok(Some(if skipped || line.len() > MAX_FRAME_BYTES {
                    Frame::TooLong
                } else {
                    Frame::Whole(line)
                }));
            }
            if self.buffer.len() > MAX_FRAME_BYTES {
                self.buffer.clear();
                self.skipping = true;
            }
            scanned = self.buffer.len();
            let mut chunk = [0u8; 4096];
            let read = self.reader.read(&mut chunk).await?;
            if read == 0 {
                return Ok(None);
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_and_overlong_ones_dropped() {
        let long = vec![b'x'; MAX_FRAME_BYTES + 10];
        let mut bytes = b"##0001a\r\n".to_vec();
        bytes.extend_from_slice(&long);
        bytes.extend_from_slice(b"\r\n##0002bc\r\n");
        bytes.extend_from_slice(&vec![b'y'; 3 * 4096]);
        bytes.extend_from_slice(b"\r\n##0003de\r\n");
        let mut frames = Frames::new(&bytes[..]);
        let mut got = Vec::new();
        while let Ok(Some(frame)) = frames.next().await {
            got.push(match frame {
                Frame::Whole(line) => String::from_utf8_lossy(&line).into_owned(),
                Frame::TooLong => "too long".to_owned(),
            });
        }
        assert_eq!(
            got,
            [
                "##0001a\r\n",
                "too long",
                "##0002bc\r\n",
                "too long",
                "##0003de\r\n"
            ]
        );
    }

    #[test]
    fn data_time_is_china_s_local_time() {
        let packet = Packet {
            qn: "20261201080000000".into(),
            st: "21".into(),
            cn: "2061".into(),
            pw: "123456".into(),
            mn: "420381TAOCHA000000000001".into(),
            flag: 5,
            cp: vec![("DataTime".into(), "20261201080000".into())],
        };
        let time = data_time(&packet).map(|t| t.to_rfc3339());
        assert_eq!(time.as_deref(), Ok("2026-12-01T00:00:00+00:00"));
        let bad = Packet {
            cp: vec![("DataTime".into(), "2026120108".into())],
            ..packet
        };
        assert!(data_time(&bad).is_err());
    }
}
