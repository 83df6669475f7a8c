//! Automatic stations: registered by their MONITOR with a password shown once, and their
//! HJ 212-2017 packets over TCP recorded as samples, answered when asked, and dropped when
//! the CRC, the station or the password is wrong, without stopping the listener.

use std::time::Duration;

use duikou::{
    domain::{access::Role, hj212},
    proto::v1::{
        CreateMonitoringStationRequest, GetMonitoringStationRequest, ListMonitoringStationsRequest,
        ListWaterSamplesRequest, MonitoringSection, MonitoringStation,
        ResetMonitoringStationPasswordRequest, RevokeAccessTokenRequest, WaterSample,
    },
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, entries_on, river_section, spawn};

const MN: &str = "420381SHENDINGHE00000001";
const AUTOMATIC: i32 = 2;

/// The `accessTokens/{id}` name of a secret `dk_{id}_…`.
fn token_name(secret: &str) -> String {
    let id = secret
        .strip_prefix("dk_")
        .and_then(|rest| rest.split('_').next())
        .expect("a duikou secret");
    format!("accessTokens/{id}")
}

/// A station of `section` with `mn`, recording as the caller's own token.
fn station(section: &MonitoringSection, mn: &str) -> MonitoringStation {
    MonitoringStation {
        mn: mn.into(),
        display_name: "神定河口水质自动站".into(),
        section: section.name.clone(),
        ..Default::default()
    }
}

/// A section in Danjiangkou and its station registered by a MONITOR of Shiyan: the
/// monitor's secret and the station with its password.
async fn registered(app: &TestApp) -> (String, MonitoringSection, MonitoringStation) {
    let monitor = app.token(Role::Monitor, &["420300"]).await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let made = app
        .waters_as(Some(&monitor))
        .create_monitoring_station(CreateMonitoringStationRequest {
            monitoring_station: Some(station(&section, MN)),
            request_id: "station-1".into(),
        })
        .await
        .expect("register station")
        .into_inner();
    (monitor, section, made)
}

/// An hourly packet of `station` with password `pw`, QN `qn`, and `cp` items.
fn packet(mn: &str, pw: &str, qn: &str, flag: u8, cp: &str) -> Vec<u8> {
    hj212::frame(&format!(
        "QN={qn};ST=21;CN=2061;PW={pw};MN={mn};Flag={flag};CP=&&DataTime={};{cp}&&",
        data_time(qn)
    ))
}

/// The hour a QN `yyyyMMddHHmmssSSS` falls in, as `DataTime`.
fn data_time(qn: &str) -> String {
    format!("{}0000", &qn[..10])
}

/// A QN `n` milliseconds into the hour `hours_ago` hours before this one, in China's
/// local time.
fn qn(hours_ago: i64, n: u32) -> String {
    let local = chrono::Utc::now() + chrono::Duration::hours(8 - hours_ago);
    format!("{}0000{n:03}", local.format("%Y%m%d%H"))
}

/// A station's connection to the listener.
struct Station {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Station {
    async fn connect(app: &TestApp) -> Self {
        let stream = TcpStream::connect(app.stations).await.expect("connect");
        let (read, writer) = stream.into_split();
        Self {
            reader: BufReader::new(read),
            writer,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
    }

    /// The next answer, parsed; none when the server closed the connection.
    async fn answer(&mut self) -> Option<hj212::Packet> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            self.reader.read_until(b'\n', &mut line),
        )
        .await
        .expect("an answer within 10 s")
        .expect("read");
        (read > 0).then(|| hj212::Packet::parse(&line).expect("a well-formed answer"))
    }
}

async fn samples_of(app: &TestApp, section: &MonitoringSection) -> Vec<WaterSample> {
    app.waters_as(None)
        .list_water_samples(ListWaterSamplesRequest {
            page_size: 100,
            page_token: String::new(),
            filter: format!("section = \"{}\"", section.name),
        })
        .await
        .expect("list samples")
        .into_inner()
        .water_samples
}

#[tokio::test]
async fn a_monitor_registers_its_station_and_sees_its_password_once() {
    let app = spawn().await;
    let (monitor, section, made) = registered(&app).await;
    let mut as_monitor = app.waters_as(Some(&monitor));

    assert!(made.name.starts_with("monitoringStations/"), "{made:?}");
    assert_eq!(made.password.len(), 6, "{made:?}");
    assert_eq!(made.monitor, token_name(&monitor));
    assert_eq!(made.section, section.name);
    let retried = as_monitor
        .create_monitoring_station(CreateMonitoringStationRequest {
            monitoring_station: Some(station(&section, MN)),
            request_id: "station-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.name, made.name);
    assert_eq!(retried.password, "", "a retry shows no password");
    let read = as_monitor
        .get_monitoring_station(GetMonitoringStationRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        read,
        MonitoringStation {
            password: String::new(),
            ..made.clone()
        }
    );
    let listed = app
        .waters
        .clone()
        .list_monitoring_stations(ListMonitoringStationsRequest {
            page_size: 10,
            page_token: String::new(),
            filter: format!("section = \"{}\"", section.name),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.monitoring_stations, [read]);

    let reset = as_monitor
        .reset_monitoring_station_password(ResetMonitoringStationPasswordRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.password.len(), 6);
    assert_ne!(reset.password, made.password);
}

#[tokio::test]
async fn stations_are_refused_outside_scope_for_another_token_and_with_bad_fields() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let shiyan = app.token(Role::Monitor, &["420300"]).await;
    let beijing = app.token(Role::Monitor, &["110000"]).await;
    let create = |secret: &str, station: MonitoringStation| {
        let mut client = app.waters_as(Some(secret));
        async move {
            client
                .create_monitoring_station(CreateMonitoringStationRequest {
                    monitoring_station: Some(station),
                    request_id: String::new(),
                })
                .await
        }
    };
    let outside = create(&beijing, station(&section, MN)).await.unwrap_err();
    assert_error(&outside, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    let other = create(
        &shiyan,
        MonitoringStation {
            monitor: token_name(&beijing),
            ..station(&section, MN)
        },
    )
    .await
    .unwrap_err();
    assert_error(&other, Code::PermissionDenied, "NOT_OWN_TOKEN", None);
    let admin_without = app
        .waters
        .clone()
        .create_monitoring_station(CreateMonitoringStationRequest {
            monitoring_station: Some(station(&section, MN)),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &admin_without,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("monitoring_station.monitor"),
    );
    let admin_for_beijing = app
        .waters
        .clone()
        .create_monitoring_station(CreateMonitoringStationRequest {
            monitoring_station: Some(MonitoringStation {
                monitor: token_name(&beijing),
                ..station(&section, MN)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    // A token whose scope misses the section is refused.
    assert_error(
        &admin_for_beijing,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("monitoring_station.monitor"),
    );
    let short = create(&shiyan, station(&section, "42038"))
        .await
        .unwrap_err();
    assert_error(
        &short,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("monitoring_station.mn"),
    );
    let coordinator = app.token(Role::Coordinator, &["420300"]).await;
    let not_monitor = create(&coordinator, station(&section, MN))
        .await
        .unwrap_err();
    assert_eq!(not_monitor.code(), Code::PermissionDenied);
    let anonymous = app
        .waters_as(None)
        .list_monitoring_stations(ListMonitoringStationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let listed = app
        .waters
        .clone()
        .list_monitoring_stations(ListMonitoringStationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.monitoring_stations.is_empty(), "nothing was written");

    create(&shiyan, station(&section, MN)).await.unwrap();
    let taken = create(&shiyan, station(&section, MN)).await.unwrap_err();
    assert_error(&taken, Code::AlreadyExists, "STATION_MN_TAKEN", None);
}

#[tokio::test]
async fn a_station_session_over_tcp_is_answered_recorded_once_and_refuses_bad_packets() {
    let app = spawn().await;
    let (monitor, section, made) = registered(&app).await;
    let (mn, pw) = (made.mn.as_str(), made.password.as_str());
    let first_qn = qn(2, 0);
    // pH, dissolved oxygen, ammonia nitrogen at class III: worse than the target II.
    let items = "w01001-Avg=7.6,w01001-Flag=N;w01009-Avg=6.8,w01009-Flag=N;\
                 w21003-Avg=0.9,w21003-Flag=N;w01014-Avg=320,w01014-Flag=N";
    let good = packet(mn, pw, &first_qn, 5, items);
    let mut station = Station::connect(&app).await;

    station.send(&good).await;
    let answer = station.answer().await.expect("an answer");
    assert_eq!(
        (answer.cn.as_str(), answer.qn.as_str()),
        ("9014", first_qn.as_str())
    );
    let samples = samples_of(&app, &section).await;
    assert_eq!(samples.len(), 1, "{samples:?}");
    let sample = &samples[0];
    assert_eq!(sample.source, AUTOMATIC);
    assert_eq!(sample.creator, format!("test {}", Role::Monitor.word()));
    assert_eq!(sample.values.len(), 3, "conductivity is no GB 3838 item");
    assert_eq!(sample.water_class, 3);
    assert!(
        !sample.supervision_entry.is_empty(),
        "an exceedance files an entry"
    );

    // A bad CRC, a wrong password and an unknown MN get no answer and write nothing: the
    // next answer is the next good packet's.
    let mut bad_crc = packet(mn, pw, &qn(1, 1), 5, items);
    let at = bad_crc.len() - 3;
    bad_crc[at] = if bad_crc[at] == b'0' { b'1' } else { b'0' };
    station.send(&bad_crc).await;
    station
        .send(&packet(mn, "wrong0", &qn(1, 2), 5, items))
        .await;
    station
        .send(&packet("420381UNKNOWN00000000000", pw, &qn(1, 3), 5, items))
        .await;
    let second_qn = qn(1, 4);
    station
        .send(&packet(
            mn,
            pw,
            &second_qn,
            5,
            "w01001-Avg=7.4,w01001-Flag=N",
        ))
        .await;
    let answer = station.answer().await.expect("an answer");
    assert_eq!(answer.qn, second_qn, "the bad packets were not answered");
    assert_eq!(samples_of(&app, &section).await.len(), 2);

    // A packet whose Flag asks for no answer is recorded all the same (the answer to the
    // one after it comes once both are).
    station
        .send(&packet(
            mn,
            pw,
            &qn(0, 1),
            4,
            "w01001-Avg=7.5,w01001-Flag=N",
        ))
        .await;
    station
        .send(&packet(
            mn,
            pw,
            &qn(0, 2),
            5,
            "w01001-Avg=7.5,w01001-Flag=N",
        ))
        .await;
    assert_eq!(station.answer().await.map(|a| a.qn), Some(qn(0, 2)));
    // The station resends the first packet on a new connection, as one does whose answer
    // was lost: it is answered again and recorded once.
    let mut again = Station::connect(&app).await;
    again.send(&good).await;
    let answer = again.answer().await.expect("an answer");
    assert_eq!(answer.qn, first_qn);
    let samples = samples_of(&app, &section).await;
    assert_eq!(samples.len(), 4, "the resent packet made no second sample");
    assert_eq!(entries_on(&app, &section).await.len(), 1);

    // Three wrong passwords close a connection.
    let mut guesser = Station::connect(&app).await;
    for guess in ["aaaaaa", "bbbbbb", "cccccc"] {
        guesser.send(&packet(mn, guess, &qn(0, 3), 5, items)).await;
    }
    assert!(
        guesser.answer().await.is_none(),
        "closed after three guesses"
    );

    // Once the station's token is revoked, its packets are dropped.
    app.access
        .clone()
        .revoke_access_token(RevokeAccessTokenRequest {
            name: token_name(&monitor),
        })
        .await
        .unwrap();
    let mut revoked = Station::connect(&app).await;
    revoked
        .send(&packet(
            mn,
            pw,
            &qn(3, 0),
            5,
            "w01001-Avg=7.4,w01001-Flag=N",
        ))
        .await;
    revoked.writer.shutdown().await.expect("shutdown");
    assert!(
        revoked.answer().await.is_none(),
        "no answer for a revoked token"
    );
    assert_eq!(samples_of(&app, &section).await.len(), 4);
}

#[tokio::test]
async fn a_new_password_stops_the_old_one_on_open_connections_too() {
    let app = spawn().await;
    let (monitor, section, made) = registered(&app).await;
    let mut station = Station::connect(&app).await;
    let first = qn(2, 0);
    station
        .send(&packet(
            &made.mn,
            &made.password,
            &first,
            5,
            "w01001-Avg=7.4",
        ))
        .await;
    assert_eq!(station.answer().await.map(|a| a.qn), Some(first));
    let reset = app
        .waters_as(Some(&monitor))
        .reset_monitoring_station_password(ResetMonitoringStationPasswordRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    station
        .send(&packet(
            &made.mn,
            &made.password,
            &qn(1, 0),
            5,
            "w01001-Avg=7.5",
        ))
        .await;
    let next = qn(0, 0);
    station
        .send(&packet(
            &made.mn,
            &reset.password,
            &next,
            5,
            "w01001-Avg=7.6",
        ))
        .await;
    assert_eq!(
        station.answer().await.map(|a| a.qn),
        Some(next),
        "the old password got no answer"
    );
    assert_eq!(samples_of(&app, &section).await.len(), 2);
}
