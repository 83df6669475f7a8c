//! The seed of the read and create workloads: one program and `SEED_PAIRINGS` pairings
//! over the national regions, written straight through sea-orm, and the plan that hands
//! CreatePairing the region pairs the seed left unused.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result, ensure};
use chrono::{NaiveDate, Utc};
use duikou::{
    domain::{pairing::PairingState, program::ProgramKind, region::RegionLevel},
    proto::v1::Pairing,
    store::{
        Store,
        entities::{pairing, program, region},
    },
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait, QueryOrder, TransactionTrait,
};

/// Pairings seeded before measuring.
pub const SEED_PAIRINGS: usize = 100_000;
/// Rows per INSERT statement while seeding (16 bound columns each).
const INSERT_CHUNK: usize = 1_000;
/// Rows per seeding transaction.
const ROWS_PER_TRANSACTION: usize = 25_000;
/// The supported regions of created pairings start this far into the supported pool, past
/// those the seed used.
const CREATE_OFFSET: usize = 1_000;
/// The seeded program's period, also used by every pairing.
const PERIOD: (&str, &str) = ("2021-01-01", "2035-12-31");
/// Beijing's code-path prefix: supporting regions come from inside it.
const BEIJING: &str = "/110000/";

/// What the seed left behind for the workloads.
pub struct Seed {
    pub program: String,
    pub min_id: i64,
    pub max_id: i64,
    /// Every region's resource name.
    pub region_names: Arc<Vec<String>>,
    /// Supporting candidates: Beijing's counties and townships, by code.
    pub supporting: Arc<Vec<String>>,
    /// Supported candidates: townships outside Beijing, by code.
    pub supported: Arc<Vec<String>>,
}

/// Inserts one program and `SEED_PAIRINGS` pairings straight through sea-orm. Pairing `i`
/// pairs `supporting[i % S]` with `supported[i / S]`, so every pair is distinct; created
/// pairings later use supported regions from `CREATE_OFFSET` on.
pub async fn seed_pairings(store: &Store) -> Result<Seed> {
    let regions = region::Entity::find()
        .order_by_asc(region::Column::Code)
        .all(store.db())
        .await
        .context("reading regions")?;
    let supporting: Vec<&region::Model> = regions
        .iter()
        .filter(|r| {
            r.path.starts_with(BEIJING)
                && matches!(r.level, RegionLevel::County | RegionLevel::Township)
        })
        .collect();
    let supported: Vec<&region::Model> = regions
        .iter()
        .filter(|r| !r.path.starts_with(BEIJING) && r.level == RegionLevel::Township)
        .collect();
    ensure!(!supporting.is_empty(), "no Beijing counties or townships");
    let needed = SEED_PAIRINGS.div_ceil(supporting.len());
    ensure!(
        needed < CREATE_OFFSET && CREATE_OFFSET < supported.len(),
        "not enough supported townships ({}) for the seed ({needed}) and the creates",
        supported.len()
    );

    let start = date(PERIOD.0)?;
    let end = date(PERIOD.1)?;
    let now = Utc::now();
    let program = program::ActiveModel {
        display_name: Set("京堰对口协作（2021—2035年）— load bench".to_owned()),
        basis_document: Set("load bench".to_owned()),
        period_start: Set(start),
        period_end: Set(end),
        description: Set(String::new()),
        kind: Set(ProgramKind::CounterpartCooperation),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..Default::default()
    }
    .insert(store.db())
    .await
    .context("inserting the program")?;

    let mut next = 0;
    while next < SEED_PAIRINGS {
        let last = (next + ROWS_PER_TRANSACTION).min(SEED_PAIRINGS);
        let tx = store
            .db()
            .begin()
            .await
            .context("beginning a transaction")?;
        for chunk_start in (next..last).step_by(INSERT_CHUNK) {
            let chunk_end = (chunk_start + INSERT_CHUNK).min(last);
            let rows = (chunk_start..chunk_end).map(|i| {
                let a = supporting[i % supporting.len()];
                let b = supported[i / supporting.len()];
                pairing::ActiveModel {
                    program_id: Set(program.id),
                    supporting_code: Set(a.code.clone()),
                    supported_code: Set(b.code.clone()),
                    supporting_path: Set(a.path.clone()),
                    supported_path: Set(b.path.clone()),
                    parent_id: Set(None),
                    level: Set(b.level),
                    fields: Set("1,4".to_owned()),
                    period_start: Set(start),
                    period_end: Set(end),
                    state: Set(PairingState::Active),
                    display_name: Set(format!("{} — {}", a.display_name, b.display_name)),
                    create_time: Set(now),
                    update_time: Set(now),
                    delete_time: Set(None),
                    revision: Set(1),
                    ..Default::default()
                }
            });
            pairing::Entity::insert_many(rows)
                .exec(&tx)
                .await
                .with_context(|| format!("inserting pairings {chunk_start}..{chunk_end}"))?;
        }
        tx.commit().await.context("committing pairings")?;
        next = last;
    }

    let count = pairing::Entity::find()
        .count(store.db())
        .await
        .context("counting pairings")?;
    ensure!(
        count == SEED_PAIRINGS as u64,
        "expected {SEED_PAIRINGS} pairings, found {count}"
    );
    let first = pairing::Entity::find()
        .order_by_asc(pairing::Column::Id)
        .one(store.db())
        .await
        .context("reading the first pairing")?
        .context("no pairings")?;
    let last = pairing::Entity::find()
        .order_by_desc(pairing::Column::Id)
        .one(store.db())
        .await
        .context("reading the last pairing")?
        .context("no pairings")?;
    ensure!(
        last.id - first.id + 1 == SEED_PAIRINGS as i64,
        "pairing ids {}..={} are not contiguous",
        first.id,
        last.id
    );

    Ok(Seed {
        program: format!("programs/{}", program.id),
        min_id: first.id,
        max_id: last.id,
        region_names: Arc::new(
            regions
                .iter()
                .map(|r| format!("regions/{}", r.code))
                .collect(),
        ),
        supporting: Arc::new(supporting.iter().map(|r| r.code.clone()).collect()),
        supported: Arc::new(supported.iter().map(|r| r.code.clone()).collect()),
    })
}

/// A civil date written `YYYY-MM-DD`.
pub fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| format!("parsing date {text}"))
}

/// Hands out distinct (supporting, supported) pairs that the seed did not use.
pub struct CreatePlan {
    pub program: String,
    pub supporting: Arc<Vec<String>>,
    pub supported: Arc<Vec<String>>,
    pub next: AtomicUsize,
}

impl CreatePlan {
    pub fn pairing(&self) -> Option<Pairing> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let a = &self.supporting[k % self.supporting.len()];
        let b = self
            .supported
            .get(CREATE_OFFSET + k / self.supporting.len())?;
        Some(Pairing {
            program: self.program.clone(),
            supporting_region: format!("regions/{a}"),
            supported_region: format!("regions/{b}"),
            fields: vec![1, 4],
            period_start: PERIOD.0.to_owned(),
            period_end: PERIOD.1.to_owned(),
            ..Default::default()
        })
    }

    pub fn issued(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }
}
