//! The read and create workloads: duikou on a SQLite file holding the national regions and
//! 100,000 pairings, next to the bare baseline, both driven by the same client code in
//! order — the baseline's GetRegion, then duikou's GetRegion, GetPairing, ListPairings
//! (first page and 1,000 pages deep) and CreatePairing.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicUsize},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use duikou::{
    config::{Overrides, Settings},
    domain::access::Role,
    proto::v1::{ListPairingsRequest, pairing_service_client::PairingServiceClient},
    server,
    store::{
        Store,
        token::{self, NewToken},
    },
};
use tokio::sync::oneshot;

use crate::{
    baseline,
    driver::{Authed, Measured, Op, PAGE_SIZE, connect, drive},
    knobs::BenchConfig,
    report::print_row,
    seed::{CreatePlan, SEED_PAIRINGS, Seed, seed_pairings},
    servers::listen,
};

/// How many pages are skipped before the deep ListPairings page.
const DEEP_PAGES: usize = 1_000;

/// What the read and create workloads measured, and how long their seed took.
pub struct Reads {
    /// Seconds spent loading the national regions.
    pub regions_secs: f64,
    /// Seconds spent inserting the program and its pairings.
    pub pairings_secs: f64,
    /// The workloads, the baseline first.
    pub results: Vec<Measured>,
}

/// Seeds the store, starts duikou and the baseline, runs the workloads against them in
/// order and shuts both servers down, whatever the workloads did.
pub async fn measure(config: &BenchConfig) -> Result<Reads> {
    // The real server, on a temporary SQLite file.
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db_path = dir.path().join("bench.db");
    let mut settings = Settings::load(
        None,
        &Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            database_url: Some(format!("sqlite://{}?mode=rwc", db_path.display())),
        },
    )
    .context("loading settings")?;
    settings.server.shutdown_grace_secs = 5;
    let store = Store::connect(&settings.database)
        .await
        .context("opening the store")?;
    store.migrate().await.context("migrating")?;

    let started = Instant::now();
    let regions_loaded = store.seed_regions().await.context("seeding regions")?;
    let regions_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let seed = seed_pairings(&store).await.context("seeding pairings")?;
    let pairings_secs = started.elapsed().as_secs_f64();
    let (_, secret) = token::create(
        store.db(),
        &NewToken {
            role: Role::Admin,
            label: "load bench",
            scopes: &[],
            expire_time: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("creating the bench's token")?;
    println!(
        "seeded {regions_loaded} regions in {regions_secs:.2} s and 1 program + {} pairings in \
         {pairings_secs:.2} s (ids {}..={}); database {}",
        SEED_PAIRINGS,
        seed.min_id,
        seed.max_id,
        db_path.display()
    );

    let real_listener = listen().context("binding the duikou listener")?;
    let real_addr = real_listener.local_addr().context("duikou address")?;
    let (real_stop, real_stop_rx) = oneshot::channel::<()>();
    let server_store = store.clone();
    let server_settings = settings.clone();
    let audit_key = settings.audit_key().context("the audit signing key")?;
    let real_server = tokio::spawn(async move {
        server::serve(
            server_store,
            audit_key,
            duikou::domain::clock::Clock::system(),
            server::Listeners {
                grpc: real_listener,
                stations: None,
            },
            &server_settings,
            async {
                let _ = real_stop_rx.await;
            },
        )
        .await
    });

    let bare_listener = listen().context("binding the baseline listener")?;
    let bare_addr = bare_listener.local_addr().context("baseline address")?;
    let (bare_stop, bare_stop_rx) = oneshot::channel::<()>();
    let bare_server = tokio::spawn(baseline::serve(bare_listener, async {
        let _ = bare_stop_rx.await;
    }));
    println!("duikou on {real_addr}, bare tonic baseline on {bare_addr}");

    let results = run_workloads(config, &seed, &secret, real_addr, bare_addr).await;

    // Shut both servers down, whatever the workloads did.
    let _ = real_stop.send(());
    let _ = bare_stop.send(());
    let real_outcome = tokio::time::timeout(Duration::from_secs(20), real_server)
        .await
        .context("duikou did not stop within 20 s")?
        .context("duikou server task panicked")?;
    let bare_outcome = tokio::time::timeout(Duration::from_secs(20), bare_server)
        .await
        .context("the baseline server did not stop within 20 s")?
        .context("baseline server task panicked")?;
    store.close().await.context("closing the store")?;
    drop(dir);
    real_outcome.context("duikou server failed")?;
    bare_outcome.context("baseline server failed")?;
    println!("both servers shut down cleanly");

    let results = results?;
    Ok(Reads {
        regions_secs,
        pairings_secs,
        results,
    })
}

/// Walks the pairing list from the start and returns the token of page `DEEP_PAGES + 1`.
async fn deep_page_token(channel: &Authed) -> Result<String> {
    let mut client = PairingServiceClient::new(channel.clone());
    let mut token = String::new();
    for page in 1..=DEEP_PAGES {
        let reply = client
            .list_pairings(ListPairingsRequest {
                page_size: PAGE_SIZE,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("listing page {page}"))?
            .into_inner();
        ensure!(
            reply.pairings.len() == PAGE_SIZE as usize,
            "page {page} has {} pairings",
            reply.pairings.len()
        );
        if reply.next_page_token.is_empty() {
            bail!("the list ended at page {page}");
        }
        token = reply.next_page_token;
    }
    Ok(token)
}

async fn run_workloads(
    config: &BenchConfig,
    seed: &Seed,
    secret: &str,
    real_addr: SocketAddr,
    bare_addr: SocketAddr,
) -> Result<Vec<Measured>> {
    let bare = connect(bare_addr, config.connections, secret).await?;
    let real = connect(real_addr, config.connections, secret).await?;
    let mut results = Vec::new();

    let measured = drive(
        config,
        "baseline GetRegion",
        "bare",
        &bare,
        Op::BaselineGetRegion,
    )
    .await?;
    print_row(&measured, None, true);
    let baseline = measured.rps;
    results.push(measured);
    drop(bare);

    let started = Instant::now();
    let token = deep_page_token(&real[0])
        .await
        .context("walking to the deep page")?;
    println!(
        "(walked {DEEP_PAGES} pages of {PAGE_SIZE} to reach page {} in {:.2} s)",
        DEEP_PAGES + 1,
        started.elapsed().as_secs_f64()
    );

    let plan = Arc::new(CreatePlan {
        program: seed.program.clone(),
        supporting: seed.supporting.clone(),
        supported: seed.supported.clone(),
        next: AtomicUsize::new(0),
    });
    let workloads: Vec<(&'static str, Op)> = vec![
        ("GetRegion", Op::GetRegion(seed.region_names.clone())),
        (
            "GetPairing",
            Op::GetPairing {
                min_id: seed.min_id,
                max_id: seed.max_id,
            },
        ),
        (
            "ListPairings first page",
            Op::ListPairings {
                token: String::new(),
                first_id: seed.min_id,
            },
        ),
        (
            "ListPairings page 1001",
            Op::ListPairings {
                token,
                first_id: seed.min_id + (DEEP_PAGES as i64) * i64::from(PAGE_SIZE),
            },
        ),
        ("CreatePairing", Op::CreatePairing(plan.clone())),
    ];
    for (name, op) in workloads {
        let measured = drive(config, name, "duikou", &real, op).await?;
        print_row(&measured, Some(baseline), false);
        results.push(measured);
    }
    println!(
        "(CreatePairing issued {} creates, warm-up included)",
        plan.issued()
    );
    Ok(results)
}
