//! Fuzz target for every method: the input's first byte picks one of duikou's methods, its
//! second whether the caller is ADMIN or anonymous, and the rest is sent as the request's
//! bytes over a real connection to a server in this process, on a scratch SQLite database.
//! Whatever the bytes, the server must answer with a status a caller can act on: never
//! INTERNAL, UNKNOWN or DATA_LOSS, and it must keep serving.

use std::{
    sync::LazyLock,
    time::{Duration, Instant},
};

use bolero::check;
use bytes::{Buf, BufMut};
use duikou::{
    config::{Overrides, Settings},
    domain::access::Role,
    proto::FILE_DESCRIPTOR_SET,
    store::{
        Store,
        token::{self, NewToken},
    },
};
use prost::Message;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};

/// Random inputs the target tries under `cargo test`, after its whole corpus (an iteration
/// count, unlike bolero's default of a second, never cuts the corpus short).
const RANDOM_INPUTS: usize = 300;

/// A fixed audit key, so that no key file is written.
const AUDIT_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// Sends and receives messages as the bytes they are.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

/// One method of the API: its path, and whether it answers with a stream.
struct Method {
    path: http::uri::PathAndQuery,
    streams: bool,
}

/// The server the target calls, and what it calls with.
struct Target {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    admin: String,
    methods: Vec<Method>,
    _dir: tempfile::TempDir,
}

/// Every method of duikou's services, from the descriptor set the server reflects.
fn methods() -> Vec<Method> {
    let Ok(set) = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET) else {
        panic!("the descriptor set does not decode");
    };
    let mut methods = Vec::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                let Ok(path) = path.parse() else {
                    panic!("a method path does not parse: {path}");
                };
                methods.push(Method {
                    path,
                    streams: method.server_streaming(),
                });
            }
        }
    }
    assert!(methods.len() > 40, "only {} methods", methods.len());
    methods
}

static TARGET: LazyLock<Target> = LazyLock::new(|| {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        panic!("no runtime");
    };
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no scratch folder");
    };
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("fuzz.db").display());
    let (channel, admin) = runtime.block_on(async {
        let Ok(mut settings) = Settings::load(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".into()),
                database_url: Some(url.clone()),
            },
        ) else {
            panic!("settings");
        };
        settings.audit.signing_key = Some(AUDIT_KEY.to_owned());
        // The target's calls come from one address, many at a time under the engine.
        settings.server.public_reports_per_hour = 0;
        // The database is made and migrated here, before the server opens it: a server
        // and another connection opening a new file at the same moment race to set it up.
        let store = match Store::connect(&settings.database).await {
            Ok(store) => store,
            Err(e) => panic!("store: {e:#}"),
        };
        if let Err(e) = store.migrate().await {
            panic!("migrations: {e:#}");
        }
        let admin = match token::create(
            store.db(),
            &NewToken {
                role: Role::Admin,
                label: "fuzz",
                scopes: &[],
                expire_time: None,
            },
        )
        .await
        {
            Ok((_, secret)) => secret,
            Err(e) => panic!("no token: {e}"),
        };
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            panic!("bind");
        };
        let Ok(address) = listener.local_addr() else {
            panic!("address");
        };
        let server = tokio::spawn(duikou::server::run(
            settings.clone(),
            listener,
            std::future::pending(),
        ));
        let Ok(endpoint) = Channel::from_shared(format!("http://{address}")) else {
            panic!("endpoint");
        };
        // The server answers once it has loaded the region list; until then, or if it
        // stopped, there is nothing to fuzz.
        let ready = Instant::now() + Duration::from_secs(120);
        let channel = loop {
            if server.is_finished() {
                match server.await {
                    Ok(Err(e)) => panic!("the server stopped: {e:#}"),
                    other => panic!("the server stopped: {other:?}"),
                }
            }
            if let Ok(channel) = endpoint.connect().await {
                break channel;
            }
            if Instant::now() > ready {
                panic!("the server did not answer in time");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // A connection is accepted before the server serves: a first call shows it does.
        loop {
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            let path = http::uri::PathAndQuery::from_static("/duikou.v1.RegionService/ListRegions");
            let answered = match grpc.ready().await {
                Ok(()) => grpc
                    .unary(tonic::Request::new(Vec::new()), path, Raw)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if answered {
                break;
            }
            if server.is_finished() || Instant::now() > ready {
                panic!("the server does not answer");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (channel, admin)
    });
    Target {
        runtime,
        channel,
        admin,
        methods: methods(),
        _dir: dir,
    }
});

/// Calls the method `input[0]` picks with the rest of `input` as its message, as ADMIN or
/// anonymously as `input[1]` says, and answers the status (OK for a reply).
async fn call(target: &Target, input: &[u8]) -> Code {
    let (Some(pick), Some(who)) = (input.first(), input.get(1)) else {
        return Code::Ok;
    };
    let method = &target.methods[usize::from(*pick) % target.methods.len()];
    let body = input[2..].to_vec();
    let mut grpc = tonic::client::Grpc::new(target.channel.clone());
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let mut request = tonic::Request::new(body);
    if who % 2 == 0 {
        let Ok(bearer) = format!("Bearer {}", target.admin).parse() else {
            return Code::Ok;
        };
        request.metadata_mut().insert("authorization", bearer);
    }
    request.set_timeout(Duration::from_secs(10));
    if method.streams {
        match grpc
            .server_streaming(request, method.path.clone(), Raw)
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                // The first event, if one comes soon; then the watch is dropped.
                match tokio::time::timeout(Duration::from_millis(20), stream.message()).await {
                    Ok(Err(status)) => status.code(),
                    _ => Code::Ok,
                }
            }
            Err(status) => status.code(),
        }
    } else {
        match grpc.unary(request, method.path.clone(), Raw).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        }
    }
}

#[test]
fn every_method() {
    // The target is only read, and a panic ends the run: nothing is seen half-changed.
    let target = std::panic::AssertUnwindSafe(&*TARGET);
    check!()
        .with_iterations(RANDOM_INPUTS)
        .for_each(|input: &[u8]| {
            let code = target.runtime.block_on(call(&target, input));
            assert!(
                !matches!(
                    code,
                    Code::Internal | Code::Unknown | Code::DataLoss | Code::Unavailable
                ),
                "{code:?} for {:?}",
                input
            );
        });
}
