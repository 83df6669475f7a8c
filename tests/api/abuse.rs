//! The abuse suite: what a hostile caller tried against the release binary, kept as
//! regression tests, each named for what it protects. Callers speak raw HTTP/2 (the `h2`
//! crate) or raw TCP where a well-behaved client could not misbehave as an attacker does.

use std::{net::SocketAddr, time::Duration};

use duikou::proto::v1::GetRegionRequest;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::helpers::{Fresh, spawn_with};

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

    let served = app
        .regions
        .get_region(GetRegionRequest {
            name: "regions/420300".into(),
        })
        .await;
    let health = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest::default())
        .await;

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
