//! The gRPC server: duikou's services, health, reflection, limits, per-RPC logs, and
//! graceful shutdown.

mod admission;
mod connection;
pub mod stations;

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use http_body_util::BodyExt;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, body::Body, server::NamedService, transport::Server};
use tower::{Layer, Service};
use tracing::Instrument;

use self::{
    admission::Admission,
    connection::{ConnectionInfo, ConnectionLimits, Connections},
    stations::StationLimits,
};
use crate::{
    api::{
        access::Access,
        audit::Audit,
        authz::{self, TokenCache},
        fund::Funds,
        organization::Organizations,
        pairing::Pairings,
        plan::Plans,
        project::Projects,
        region::Regions,
        status::status,
        supervision::Supervision,
        talent::Talents,
        water::Waters,
    },
    config::{ServerSettings, Settings},
    domain::{checkpoint::AuditKey, clock::Clock},
    proto::{
        self,
        v1::{
            access_service_server::AccessServiceServer, audit_service_server::AuditServiceServer,
            fund_service_server::FundServiceServer,
            organization_service_server::OrganizationServiceServer,
            pairing_service_server::PairingServiceServer, plan_service_server::PlanServiceServer,
            project_service_server::ProjectServiceServer,
            region_service_server::RegionServiceServer,
            supervision_service_server::SupervisionServiceServer,
            talent_exchange_service_server::TalentExchangeServiceServer,
            water_quality_service_server::WaterQualityServiceServer,
        },
    },
    store::Store,
};

/// Opens the database, applies migrations, loads the national region list on an empty
/// database, and serves on `listener` until `shutdown` completes; then lets requests in
/// flight finish and closes the pool.
///
/// # Errors
/// When the database cannot be opened or migrated, or the server fails.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_clock(settings, listener, Clock::system(), shutdown).await
}

/// As [`run`], with supervision reading the time from `clock` (tests move it to make
/// entries overdue).
///
/// # Errors
/// When the database cannot be opened or migrated, or the server fails.
pub async fn run_with_clock(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stations = match settings.water.hj212_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("listening for HJ 212 stations on {address}"))?,
        ),
        None => None,
    };
    let listeners = Listeners {
        grpc: listener,
        stations,
    };
    run_with(settings, listeners, clock, shutdown).await
}

/// Where a server listens: gRPC, and the HJ 212 ingest listener of stations if any.
pub struct Listeners {
    /// gRPC.
    pub grpc: TcpListener,
    /// HJ 212-2017 stations.
    pub stations: Option<TcpListener>,
}

/// As [`run_with_clock`], on listeners already bound (tests bind port 0 and read it).
///
/// # Errors
/// When the database cannot be opened or migrated, or the server fails.
pub async fn run_with(
    settings: Settings,
    listeners: Listeners,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let started = Instant::now();
    let loaded = store.seed_regions().await?;
    if loaded > 0 {
        tracing::info!(
            regions = loaded,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded the national region list"
        );
    }
    let address = listeners
        .grpc
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(%address, database = %settings.database.redacted_url(), "duikou is serving");
    let audit_key = settings.audit_key()?;
    tracing::info!(public_key = %audit_key.public_key(), "audit checkpoints are signed with this key");
    serve(
        store.clone(),
        audit_key,
        clock,
        listeners,
        &settings,
        shutdown,
    )
    .await?;
    store.close().await?;
    tracing::info!("duikou stopped");
    Ok(())
}

/// Serves duikou's services over an open store on `listeners.grpc`, and HJ 212 stations
/// on `listeners.stations` when given, signing a checkpoint of the audit log as often as
/// the settings say when it has grown.
///
/// # Errors
/// When a listener's address cannot be read, reflection cannot be built or the transport
/// fails.
pub async fn serve(
    store: Store,
    audit_key: AuditKey,
    clock: Clock,
    listeners: Listeners,
    all: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = &all.server;
    let checkpoint_every = Duration::from_secs(all.audit.checkpoint_interval_secs);
    let Listeners {
        grpc: listener,
        stations,
    } = listeners;
    let max = settings.max_message_bytes;
    // The signal is needed several times: to close the listener, to let tonic finish the
    // connections, to start the grace period, and to end watch streams and checkpoints.
    let (stop_tx, mut stop_rx) = watch::channel(false);
    // Every service takes and sends messages up to the same size.
    macro_rules! limited {
        ($server:expr) => {
            $server
                .max_decoding_message_size(max)
                .max_encoding_message_size(max)
        };
    }
    let regions = limited!(RegionServiceServer::new(Regions::new(store.clone())));
    let pairings = limited!(PairingServiceServer::new(Pairings::new(store.clone())));
    let tokens = TokenCache::new(Duration::from_millis(settings.token_cache_ms));
    let access = limited!(AccessServiceServer::new(Access::new(
        store.clone(),
        tokens.clone()
    )));
    let projects = limited!(ProjectServiceServer::new(Projects::new(store.clone())));
    let funds = limited!(FundServiceServer::new(Funds::new(store.clone())));
    let talents = limited!(TalentExchangeServiceServer::new(Talents::new(
        store.clone()
    )));
    let water = Waters::new(store.clone(), clock.clone());
    if let Some(stations) = stations {
        let address = stations
            .local_addr()
            .context("reading the HJ 212 listening address")?;
        tracing::info!(%address, "HJ 212-2017 stations are taken");
        self::stations::serve(
            stations,
            store.clone(),
            water.clone(),
            StationLimits::of(&all.water),
            stop_rx.clone(),
        );
    }
    let waters = limited!(WaterQualityServiceServer::new(water));
    let organizations = limited!(OrganizationServiceServer::new(Organizations::new(
        store.clone(),
        clock.clone()
    )));
    let plans = limited!(PlanServiceServer::new(Plans::new(
        store.clone(),
        clock.clone()
    )));
    let supervision = limited!(SupervisionServiceServer::new(Supervision::new(
        store.clone(),
        clock,
        settings,
        stop_rx.clone(),
    )));
    let audit = limited!(AuditServiceServer::new(Audit::new(
        store.clone(),
        audit_key.clone()
    )));

    let (health, health_service) = tonic_health::server::health_reporter();
    for name in service_names() {
        health
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    // Health checks turn NOT_SERVING before the stop is sent, so that they have turned
    // whichever of the listener and tonic's accept loop sees the stop first.
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        for name in service_names() {
            health
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        let _ = stop_tx.send(true);
    });

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    let mut grace_rx = stop_rx.clone();
    if !checkpoint_every.is_zero() {
        tokio::spawn(crate::api::audit::sign_checkpoints(
            store.clone(),
            audit_key,
            checkpoint_every,
            stop_rx.clone(),
        ));
    }
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let connections = Connections::new(ConnectionLimits {
        max: settings.max_connections,
        per_address: settings.max_connections_per_address,
        handshake: Duration::from_secs(settings.handshake_timeout_secs),
        idle: Duration::from_secs(settings.idle_timeout_secs),
    });
    let incoming = accepted(listener, connections, stop_rx.clone());
    let keepalive =
        (settings.keepalive_secs > 0).then(|| Duration::from_secs(settings.keepalive_secs));
    let stopping = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };

    let server = Server::builder()
        .max_concurrent_streams(settings.max_streams_per_connection)
        .http2_keepalive_interval(keepalive)
        .http2_keepalive_timeout(keepalive)
        .layer(RpcLayer::new(settings, store, tokens))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(regions)
        .add_service(pairings)
        .add_service(projects)
        .add_service(funds)
        .add_service(talents)
        .add_service(waters)
        .add_service(organizations)
        .add_service(plans)
        .add_service(supervision)
        .add_service(access)
        .add_service(audit)
        .serve_with_incoming_shutdown(incoming, stopping);

    tokio::select! {
        result = server => result.context("serving gRPC"),
        () = async {
            let _ = grace_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period; stopping anyway");
            Ok(())
        }
    }
}

/// Gives an error that tonic produced itself (an oversized message, an unknown method, a
/// body that does not decode) the same ErrorInfo as every other error, and answers its
/// code. A request that does not decode — invalid UTF-8 in a string, a truncated message,
/// a wrong wire type, a unary call without its message — is the caller's fault, which
/// tonic reports as INTERNAL: it becomes INVALID_ARGUMENT `MALFORMED_REQUEST`. Any other
/// INTERNAL of tonic's stays one.
fn with_error_info(response: http::Response<Body>, code: Code) -> (http::Response<Body>, Code) {
    if code == Code::Ok || response.headers().contains_key("grpc-status-details-bin") {
        return (response, code);
    }
    let message = response
        .headers()
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let (code, reason) = match code {
        Code::OutOfRange | Code::ResourceExhausted => (code, "MESSAGE_TOO_LARGE"),
        Code::Unimplemented => (code, "METHOD_NOT_FOUND"),
        Code::Internal if is_decoding(&message) => (Code::InvalidArgument, MALFORMED),
        Code::Internal => (code, "TRANSPORT_ERROR"),
        _ => (code, "TRANSPORT_ERROR"),
    };
    (status(code, reason, message).into_http(), code)
}

/// The reason of a request that does not decode.
const MALFORMED: &str = "MALFORMED_REQUEST";

/// Whether tonic's message of an INTERNAL says the request did not decode: prost's decode
/// errors ("failed to decode Protobuf message: …", "invalid string value: …") or a unary
/// call that ended without its message.
fn is_decoding(message: &str) -> bool {
    [
        "failed to decode",
        "Missing request message",
        "invalid string value",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Decodes the percent-encoding of a `grpc-message` header.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs the request if the authorization table lets its caller through, with the caller
/// in the request's extensions; answers with the refusal otherwise.
async fn authorized<S>(
    store: &Store,
    tokens: &TokenCache,
    method: &str,
    peer: Option<std::net::IpAddr>,
    mut request: http::Request<Body>,
    inner: &mut S,
) -> Result<http::Response<Body>, S::Error>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    match authz::authorize(store, tokens, method, header.as_deref()).await {
        Ok(call) => {
            if let Some(caller) = call.caller() {
                tracing::Span::current().record("token", caller.token_id);
            }
            request.extensions_mut().insert(call.from_peer(peer));
            inner.call(request).await
        }
        Err(refusal) => Ok(tonic::Status::from(refusal).into_http()),
    }
}

/// The connections accepted on `listener` until `stop`, within the caps of `connections`
/// and held to its timeouts, with Nagle's algorithm off: a
/// reply that spans several packets must not wait for the client's delayed ACK (about
/// 40 ms a call for a client paging through a list one request at a time).
///
/// The listener belongs to a task of its own, which closes it as soon as `stop` comes, so
/// that a new connection is refused at once. Tonic keeps the stream it serves until the
/// last connection has closed: a listener inside it would stay open while requests in
/// flight finish, its backlog would fill with connections that are never answered, and
/// clients would hang instead of trying another server.
fn accepted(
    listener: TcpListener,
    connections: Connections,
    mut stop: watch::Receiver<bool>,
) -> ReceiverStream<std::io::Result<connection::Connection>> {
    let (accepted_tx, incoming) = mpsc::channel(16);
    tokio::spawn(async move {
        let stopped = stop.wait_for(|stop| *stop);
        tokio::pin!(stopped);
        loop {
            let accepted = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => accepted,
            };
            let connection = match accepted.and_then(|(connection, _)| {
                connection.set_nodelay(true)?;
                Ok(connections.admit(connection))
            }) {
                Ok(Some(connection)) => Ok(connection),
                // Over the cap: dropped, so closed.
                Ok(None) => continue,
                Err(error) => Err(error),
            };
            tokio::select! {
                _ = &mut stopped => return,
                sent = accepted_tx.send(connection) => if sent.is_err() { return },
            }
        }
    });
    ReceiverStream::new(incoming)
}

/// The names of duikou's own services, as health checks know them.
pub fn service_names() -> [&'static str; 11] {
    [
        <RegionServiceServer<Regions> as NamedService>::NAME,
        <PairingServiceServer<Pairings> as NamedService>::NAME,
        <ProjectServiceServer<Projects> as NamedService>::NAME,
        <FundServiceServer<Funds> as NamedService>::NAME,
        <TalentExchangeServiceServer<Talents> as NamedService>::NAME,
        <WaterQualityServiceServer<Waters> as NamedService>::NAME,
        <OrganizationServiceServer<Organizations> as NamedService>::NAME,
        <PlanServiceServer<Plans> as NamedService>::NAME,
        <SupervisionServiceServer<Supervision> as NamedService>::NAME,
        <AccessServiceServer<Access> as NamedService>::NAME,
        <AuditServiceServer<Audit> as NamedService>::NAME,
    ]
}

/// Wraps every RPC: a span with its method; for duikou's own methods, the message read
/// whole and the request admitted against the limits ([`Admission`]); a deadline,
/// authentication and the authorization table; the request counted open on its
/// connection until its response ends; and one log line with the status code and latency.
#[derive(Clone)]
struct RpcLayer {
    admission: Admission,
    timeout: Duration,
    store: Store,
    tokens: TokenCache,
}

impl RpcLayer {
    fn new(settings: &ServerSettings, store: Store, tokens: TokenCache) -> Self {
        Self {
            admission: Admission::new(settings),
            timeout: Duration::from_secs(settings.request_timeout_secs),
            store,
            tokens,
        }
    }

    /// Serves a request: to one of duikou's methods, read whole and admitted first; then
    /// authorized and run within the deadline.
    async fn serve<S>(
        &self,
        method: &str,
        request: http::Request<Body>,
        inner: &mut S,
    ) -> Result<http::Response<Body>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let peer = request
            .extensions()
            .get::<ConnectionInfo>()
            .and_then(|info| info.remote)
            .map(|address| address.ip());
        let anonymous = !request.headers().contains_key(http::header::AUTHORIZATION);
        let (request, _admitted) = if Admission::applies_to(method) {
            let request = match self.admission.read_whole(request).await {
                Ok(request) => request,
                Err(refused) => return Ok(refused.into_http()),
            };
            match self.admission.admit(peer, anonymous) {
                Ok(admitted) => (request, Some(admitted)),
                Err(refused) => return Ok(refused.into_http()),
            }
        } else {
            (request, None)
        };
        let work = authorized(&self.store, &self.tokens, method, peer, request, inner);
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Ok(status(
                Code::DeadlineExceeded,
                "REQUEST_TIMEOUT",
                format!("the request took longer than {:?}", self.timeout),
            )
            .into_http()),
        }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct RpcService<S> {
    inner: S,
    layer: RpcLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<Body>> for RpcService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready serves this call; a fresh clone waits for the
        // next one (tower's contract for Clone services).
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        let layer = self.layer.clone();
        let method = request.uri().path().to_owned();
        let open = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.activity.request());
        let span = tracing::info_span!("rpc", %method, token = tracing::field::Empty);
        Box::pin(
            async move {
                let started = Instant::now();
                let response = layer.serve(&method, request, &mut inner).await?;
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(Code::Ok, Code::from_i32);
                let tonic_said = code;
                let (response, code) = with_error_info(response, code);
                let latency_us = started.elapsed().as_micros() as u64;
                if tonic_said != code {
                    // Bad bytes from a caller: theirs to fix, not an operator's alarm.
                    tracing::debug!(code = ?code, reason = MALFORMED, latency_us, "rpc finished");
                } else if matches!(code, Code::Internal | Code::Unknown | Code::DataLoss) {
                    tracing::error!(code = ?code, latency_us, "rpc finished");
                } else {
                    tracing::info!(code = ?code, latency_us, "rpc finished");
                }
                // The connection is not idle while the response (a watch's stream) runs.
                Ok(match open {
                    Some(open) => response.map(|body| {
                        Body::new(body.map_frame(move |frame| {
                            let _open = &open;
                            frame
                        }))
                    }),
                    None => response,
                })
            }
            .instrument(span),
        )
    }
}
