//! The abuse suite: what a hostile caller tried against the release binary, kept as
//! regression tests, each named for what it protects. Callers speak raw HTTP/2 (the `h2`
//! crate) or raw TCP where a well-behaved client could not misbehave as an attacker does.
//!
//! The probe's other findings are kept where the rest of their feature is tested:
//! - one token or address taking every watch:
//!   `supervision_lists::one_token_or_one_address_cannot_take_every_watch`;
//! - concurrent `VerifyAuditLog` calls costing the whole log each:
//!   `audit::service::concurrent_verifications_from_separate_clients_all_answer_alike`;
//! - scopes ignored for ADMIN, SUPERVISOR and AUDITOR, and 1,000 duplicate scopes:
//!   `access::only_coordinator_and_fund_officer_tokens_take_a_scope` and the authorization
//!   walk `access::every_method_answers_every_kind_of_caller_as_the_table_says`;
//! - anyone writing into a citizen's public timeline:
//!   `supervision::comments_are_for_the_entry_s_course_and_internal_unless_public`,
//!   `supervision::comments_made_before_the_public_flag_become_internal`;
//! - `UpdatePairing` leaving records outside its period:
//!   `pairings::an_update_keeps_what_hangs_off_the_pairing_inside_it`;
//! - world-readable database and key files: `store::tests::a_new_database_and_its_key_are_for_their_owner_alone`
//!   and `config::tests::a_key_file_others_may_read_is_refused` (unit tests);
//! - `file://` evidence: `supervision::evidence_links_only_to_the_web`;
//! - malformed protobuf answered INTERNAL:
//!   `processes::bytes_that_do_not_decode_are_invalid_arguments_not_server_errors` (a server
//!   process, raw bytes over a socket), and every method fed arbitrary bytes by
//!   the `every_method` fuzz target in `fuzz/`;
//! - a token label forging a row of `duikou token list`:
//!   `cli::token_labels_cannot_forge_a_row_of_the_token_list`.

use std::{net::SocketAddr, time::Duration};

use duikou::proto::v1::{
    DeletePairingRequest, GetRegionRequest, ListRegionsRequest, Region,
    SubmitSupervisionEntryRequest, SupervisionEntry, WatchSupervisionEventsRequest,
};
use migration::MigratorTrait;
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_client::HealthClient};

use crate::helpers::{Fresh, TestApp, assert_error, pairing, spawn_with, water_report};

/// A raw HTTP/2 connection to `address`, its driver spawned; the peer's settings are in
/// once this returns.
async fn raw_h2(
    address: SocketAddr,
) -> anyhow::Result<(h2::client::SendRequest<bytes::Bytes>, u32)> {
    let tcp = TcpStream::connect(address).await?;
    let (client, mut connection) = h2::client::handshake(tcp).await?;
    // Drive the connection until the server's SETTINGS have arrived.
    let _ = tokio::time::timeout(Duration::from_millis(300), &mut connection).await;
    let streams = connection.max_concurrent_send_streams() as u32;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, streams))
}

/// The headers of a unary gRPC call to `method`, sent without its message.
fn headers_only(address: SocketAddr, method: &str) -> anyhow::Result<http::Request<()>> {
    Ok(http::Request::post(format!("http://{address}{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())?)
}

/// Whether the server closed `socket` within `wait` (a read ends or fails), rather than
/// leaving it open.
async fn closed_within(socket: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // The server's own SETTINGS: keep reading.
            Ok(Ok(_)) => continue,
        }
    }
}

/// What an ADMIN's GetRegion and an anonymous health check get now.
async fn region_and_health(
    app: &mut TestApp,
) -> (
    Result<tonic::Response<Region>, tonic::Status>,
    Result<tonic::Response<HealthCheckResponse>, tonic::Status>,
) {
    let region = app
        .regions
        .get_region(GetRegionRequest {
            name: "regions/420300".into(),
        })
        .await;
    let health = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest::default())
        .await;
    (region, health)
}

#[tokio::test]
async fn headers_without_a_body_hold_no_permit_of_others() -> anyhow::Result<()> {
    let mut app = spawn_with(Fresh::Prepared, |s| {
        s.server.concurrency_limit = 8;
        s.server.request_body_timeout_ms = 60_000;
    })
    .await;
    let (mut attacker, _) = raw_h2(app.address).await?;
    let mut held = Vec::new();
    for _ in 0..50 {
        attacker = attacker.ready().await?;
        let request = headers_only(app.address, "/duikou.v1.RegionService/GetRegion")?;
        held.push(attacker.send_request(request, false)?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (served, health) = region_and_health(&mut app).await;

    assert!(served.is_ok(), "{served:?}");
    assert!(health.is_ok(), "{health:?}");
    drop(held);
    Ok(())
}

#[tokio::test]
async fn a_body_that_never_comes_times_out() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| s.server.request_body_timeout_ms = 300).await;
    let (mut client, _) = raw_h2(app.address).await?;
    client = client.ready().await?;
    let request = headers_only(app.address, "/duikou.v1.RegionService/GetRegion")?;
    let (response, _body) = client.send_request(request, false)?;

    let response = tokio::time::timeout(Duration::from_secs(5), response).await??;

    let status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(status.as_deref(), Some("4"), "{response:?}"); // DEADLINE_EXCEEDED
    Ok(())
}

#[tokio::test]
async fn one_connection_opens_at_most_a_hundred_streams() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |_| {}).await;

    let (_, streams) = raw_h2(app.address).await?;

    assert_eq!(streams, 100);
    Ok(())
}

#[tokio::test]
async fn half_a_preface_is_closed_after_the_handshake_timeout() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| {
        s.server.handshake_timeout_secs = 1;
        s.server.max_connections_per_address = 0;
    })
    .await;
    let mut sockets = Vec::new();
    for _ in 0..200 {
        let mut socket = TcpStream::connect(app.address).await?;
        socket.write_all(b"PRI * HTTP/2.0\r\n").await?;
        sockets.push(socket);
    }

    let mut open = 0;
    for socket in &mut sockets {
        if !closed_within(socket, Duration::from_secs(4)).await {
            open += 1;
        }
    }

    assert_eq!(open, 0, "of {} half-open connections", sockets.len());
    Ok(())
}

#[tokio::test]
async fn one_address_holds_at_most_its_connections() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| {
        s.server.max_connections_per_address = 4
    })
    .await;
    // The test's own client holds one already.
    let mut sockets = Vec::new();
    for _ in 0..6 {
        sockets.push(TcpStream::connect(app.address).await?);
    }

    let mut closed = Vec::new();
    for socket in &mut sockets {
        closed.push(closed_within(socket, Duration::from_millis(500)).await);
    }

    assert_eq!(closed, [false, false, false, true, true, true]);
    Ok(())
}

#[tokio::test]
async fn a_connection_without_requests_is_closed_when_idle() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| s.server.idle_timeout_secs = 1).await;
    let tcp = TcpStream::connect(app.address).await?;
    let (_client, connection) = h2::client::handshake(tcp).await?;

    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;

    assert!(ended.is_ok(), "the idle connection is still open");
    Ok(())
}

/// An anonymous report on `subject`, sent with `region`.
fn report_on(subject: &str, region: &str) -> SupervisionEntry {
    SupervisionEntry {
        subject: subject.into(),
        ..water_report(region)
    }
}

#[tokio::test]
async fn the_public_learns_nothing_of_subjects_it_may_not_read() -> anyhow::Result<()> {
    let mut app = spawn_with(Fresh::Prepared, |s| s.server.public_reports_per_hour = 0).await;
    let program = app.program().await;
    let live = app.pairing(pairing(&program, "110105", "420381")).await;
    let gone = app.pairing(pairing(&program, "110106", "420381")).await;
    app.pairings
        .delete_pairing(DeletePairingRequest {
            name: gone.name.clone(),
            etag: String::new(),
        })
        .await?;
    let mut public = app.supervision_as(None);

    let mut answers = Vec::new();
    for entry in [
        report_on(&live.name, "regions/420302"), // exists, elsewhere
        report_on(&gone.name, "regions/420302"), // deleted
        report_on("pairings/999999", "regions/420302"), // never existed
        report_on("projects/999999", "regions/420302"),
        report_on("fundTransactions/999999", "regions/420302"),
        report_on("talentExchanges/999999", "regions/420302"),
    ] {
        let refused = public
            .submit_supervision_entry(SubmitSupervisionEntryRequest {
                supervision_entry: Some(entry),
                request_id: String::new(),
            })
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a report on a subject elsewhere was filed"))?;
        assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("supervision_entry.subject"),
        );
        answers.push((refused.message().to_owned(), refused.details().to_vec()));
    }

    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the answers differ: {answers:?}"
    );
    assert!(!answers[0].0.contains("420381"), "{}", answers[0].0);
    // An official still gets the precise answer.
    let official = app
        .supervision
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(report_on(&live.name, "regions/420302")),
            request_id: String::new(),
        })
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("filed"))?;
    assert!(official.message().contains("420381"), "{official:?}");
    Ok(())
}

#[tokio::test]
async fn every_public_attempt_counts_against_the_address_filed_or_not() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| s.server.public_reports_per_hour = 3).await;
    let mut public = app.supervision_as(None);
    let attempt = |subject: &str| SubmitSupervisionEntryRequest {
        supervision_entry: Some(report_on(subject, "regions/420302")),
        request_id: String::new(),
    };

    let mut codes = Vec::new();
    for _ in 0..5 {
        let refused = public
            .submit_supervision_entry(attempt("pairings/999999"))
            .await
            .err()
            .map(|s| s.code());
        codes.push(refused);
    }

    use Code::{InvalidArgument, ResourceExhausted};
    assert_eq!(
        codes,
        [
            Some(InvalidArgument),
            Some(InvalidArgument),
            Some(InvalidArgument),
            Some(ResourceExhausted),
            Some(ResourceExhausted)
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_reporter_address_is_kept_only_as_a_keyed_hash_that_expires() -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_with(Fresh::Prepared, |_| {}).await;
    app.supervision_as(None)
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await?;
    let store = app.store().await;
    let db = store.db();
    let backend = db.get_database_backend();
    let rows = |sql: &str| db.query_all_raw(Statement::from_string(backend, sql.to_owned()));

    // The entry holds no key of its address any more.
    assert!(
        rows("SELECT client_key FROM supervision_entries")
            .await
            .is_err()
    );
    // The hit is keyed, not the plain SHA-256 of the address anyone could recompute.
    let hits = rows("SELECT client_key FROM rate_limit_hits").await?;
    assert_eq!(hits.len(), 1);
    let key: String = hits[0].try_get("", "client_key")?;
    let plain: String = Sha256::digest(b"127.0.0.1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(key.len(), 64);
    assert_ne!(key, plain);
    // Its key is the day's, which is forgotten the day after.
    let today = format!("rate_limit:{}", chrono::Utc::now().date_naive());
    let keys = rows("SELECT name FROM server_secrets WHERE name LIKE 'rate_limit:%'").await?;
    let names: Vec<String> = keys
        .iter()
        .map(|r| r.try_get("", "name"))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, [today]);

    // A day later the old day's key goes, and hits older than the hour with it.
    app.clock.advance(chrono::Duration::days(2));
    app.supervision_as(None)
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await?;
    let later = format!("rate_limit:{}", app.clock.now().date_naive());
    let keys = rows("SELECT name FROM server_secrets WHERE name LIKE 'rate_limit:%'").await?;
    let names: Vec<String> = keys
        .iter()
        .map(|r| r.try_get("", "name"))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, [later]);
    assert_eq!(rows("SELECT id FROM rate_limit_hits").await?.len(), 1);
    store.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_upgrade_drops_the_reversible_address_hashes() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |_| {}).await;
    let store = app.store().await;
    let steps = crate::helpers::undoing("m0012_keyed_rate_limits");
    migration::Migrator::down(store.db(), Some(steps)).await?;
    app.supervision_as(None)
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await
        .err(); // the tables of the rate limit are gone: refused, and no matter
    app.sql(
        "UPDATE supervision_entries SET client_key = \
         '12ca17b49af2289436f303e0166030a21e525d266e209267433801a8fd4071a0'",
    )
    .await?;
    migration::Migrator::up(store.db(), None).await?;

    assert!(
        app.sql("SELECT client_key FROM supervision_entries")
            .await
            .is_err()
    );
    store.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_page_token_cannot_be_forged() -> anyhow::Result<()> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut app = spawn_with(Fresh::Prepared, |_| {}).await;
    let first = app
        .regions
        .list_regions(ListRegionsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await?
        .into_inner();
    let token = first.next_page_token;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&token)?)?;
    let fields: Vec<&str> = text.split('|').collect();
    assert_eq!(fields.len(), 4, "{text}");
    let forged = [
        // The first version's unsigned form, continuing where the caller chose.
        URL_SAFE_NO_PAD.encode(format!("1|{}|110000", fields[1])),
        // A real token with another key, its signature kept.
        URL_SAFE_NO_PAD.encode(format!("2|{}|110000|{}", fields[1], fields[3])),
    ];

    for token in forged {
        let refused = app
            .regions
            .list_regions(ListRegionsRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a forged token was taken"))?;
        assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("page_token"),
        );
    }
    // The real one continues, and every server of the database signs with the same key.
    app.regions
        .list_regions(ListRegionsRequest {
            page_size: 2,
            page_token: token,
            ..Default::default()
        })
        .await?;
    let (one, two) = (app.store().await, app.store().await);
    assert!(one.page_key().await? == two.page_key().await?);
    Ok(())
}

#[tokio::test]
async fn health_checks_are_never_shed() -> anyhow::Result<()> {
    let mut app = spawn_with(Fresh::Prepared, |s| s.server.concurrency_limit = 0).await;

    let (shed, health) = region_and_health(&mut app).await;

    assert_eq!(shed.err().map(|s| s.code()), Some(Code::ResourceExhausted));
    assert!(health.is_ok(), "{health:?}");
    Ok(())
}

#[tokio::test]
async fn an_open_watch_keeps_its_connection_past_the_idle_timeout() -> anyhow::Result<()> {
    let app = spawn_with(Fresh::Prepared, |s| s.server.idle_timeout_secs = 1).await;
    let mut events = app
        .supervision
        .clone()
        .watch_supervision_events(WatchSupervisionEventsRequest::default())
        .await?
        .into_inner();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    app.supervision
        .clone()
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await?;
    let event = tokio::time::timeout(Duration::from_secs(5), events.message()).await??;

    assert!(event.is_some(), "the watch ended");
    Ok(())
}
