//! The test harness: a real server on port 0 over its own database, and its clients.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use duikou::{
    config::{Overrides, Settings},
    domain::{access::Role, clock::Clock, region::RegionCode},
    proto::v1::{
        AddPlanTaskRequest, CreateMonitoringSectionRequest, CreateOrganizationRequest,
        CreatePairingRequest, CreateProgramRequest, CreateProjectRequest, CreateWorkPlanRequest,
        FieldWeight, ListSupervisionEntriesRequest, ListSupervisionEventsRequest, Milestone, Money,
        MonitoringSection, Organization, Pairing, Participant, PlanTask, Program, Project,
        RecordWaterSampleRequest, Reporter, SupervisionEntry, SupervisionEvent, TalentExchange,
        WaterSample, WaterValue, WorkPlan, access_service_client::AccessServiceClient,
        audit_service_client::AuditServiceClient, fund_service_client::FundServiceClient,
        organization_service_client::OrganizationServiceClient,
        pairing_service_client::PairingServiceClient, plan_service_client::PlanServiceClient,
        project_service_client::ProjectServiceClient, region_service_client::RegionServiceClient,
        supervision_service_client::SupervisionServiceClient,
        talent_exchange_service_client::TalentExchangeServiceClient,
        water_quality_service_client::WaterQualityServiceClient,
    },
    store::{
        Store, region,
        token::{self, NewToken},
    },
};
use sea_orm::{ConnectionTrait, Database};
use sha2::{Digest, Sha256};
use tokio::{net::TcpListener, sync::OnceCell};
use tonic::{Code, Status, transport::Channel};
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
};
use tonic_types::StatusExt;

/// Adds `authorization: Bearer …` to every call, when it has a secret.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Calls with `secret`, or anonymous with `None`.
    pub fn new(secret: Option<&str>) -> Self {
        Self(secret.map(|s| format!("Bearer {s}").parse().expect("ASCII secret")))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that authenticates its calls.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A running server and its clients.
pub struct TestApp {
    /// RegionService client, as ADMIN.
    pub regions: RegionServiceClient<Authed>,
    /// PairingService client, as ADMIN.
    pub pairings: PairingServiceClient<Authed>,
    /// ProjectService client, as ADMIN.
    pub projects: ProjectServiceClient<Authed>,
    /// FundService client, as ADMIN.
    pub funds: FundServiceClient<Authed>,
    /// TalentExchangeService client, as ADMIN.
    pub talents: TalentExchangeServiceClient<Authed>,
    /// SupervisionService client, as ADMIN.
    pub supervision: SupervisionServiceClient<Authed>,
    /// WaterQualityService client, as ADMIN.
    pub waters: WaterQualityServiceClient<Authed>,
    /// AccessService client, as ADMIN.
    pub access: AccessServiceClient<Authed>,
    /// AuditService client, as ADMIN.
    pub audit: AuditServiceClient<Authed>,
    /// A channel for other services (health).
    pub channel: Channel,
    /// Where the server listens.
    pub address: std::net::SocketAddr,
    /// Where the server takes HJ 212-2017 stations.
    pub stations: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The server's clock, which a test may move forward.
    pub clock: Clock,
    /// The database URL the server uses.
    pub database_url: String,
    /// Removed when the app is dropped.
    _database: TestDatabase,
}

enum TestDatabase {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; a helper thread with its own runtime removes the
            // test's database.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime for dropping a test database");
                runtime.block_on(async {
                    if let Ok(db) = Database::connect(&admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// The seed of the key that signs audit checkpoints in tests, base64.
pub const TEST_AUDIT_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// The PostgreSQL server to test against, if any.
fn postgres_url() -> Option<String> {
    std::env::var("DUIKOU_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says once, past the test harness's output capture, which backend this run uses.
fn announce_backend() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let line = match postgres_url() {
            Some(_) => "duikou tests: running on PostgreSQL (DUIKOU_TEST_DATABASE_URL)\n",
            None => {
                "duikou tests: running on SQLite; the PostgreSQL run was SKIPPED because \
                 DUIKOU_TEST_DATABASE_URL is unset\n"
            }
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    });
}

/// The URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let (server, _) = base.rsplit_once('/').expect("a database URL has a path");
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{server}/{name}{query}")
}

/// A digest of everything that shapes a fresh database, so that a prepared template is
/// rebuilt whenever the migrations or the shipped region list change.
fn schema_digest() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("migrations/src"))
        .expect("migrations folder")
        .map(|e| e.expect("migration file").path())
        .collect();
    files.push(root.join("data/regions.csv.gz"));
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(std::fs::read(&file).expect("readable file"));
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn settings(url: &str) -> Settings {
    let mut settings = Settings::load(
        None,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(url.to_owned()),
        },
    )
    .expect("settings");
    settings.database.pool_size = 8;
    // A fixed key, so that no key file is written anywhere.
    settings.audit.signing_key = Some(TEST_AUDIT_KEY.to_owned());
    settings
}

/// A migrated SQLite database with the regions loaded, made once per test process and
/// copied for each test.
async fn sqlite_template() -> &'static PathBuf {
    static TEMPLATE: OnceCell<(tempfile::TempDir, PathBuf)> = OnceCell::const_new();
    let (_, path) = TEMPLATE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("template.db");
            let store = Store::connect(&settings(&sqlite_url(&path)).database)
                .await
                .expect("template database");
            store.migrate().await.expect("migrations");
            store.seed_regions().await.expect("regions");
            store.close().await.expect("close");
            (dir, path)
        })
        .await;
    path
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A migrated PostgreSQL template with the regions loaded, shared by test runs until the
/// schema changes.
async fn postgres_template(admin_url: &str) -> String {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("duikou_test_template_{}", schema_digest());
            let admin = Database::connect(admin_url)
                .await
                .expect("PostgreSQL admin connection");
            // Two test processes may race to build it: one lock, then check again.
            admin
                .execute_unprepared("SELECT pg_advisory_lock(424242)")
                .await
                .expect("advisory lock");
            let exists = admin
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
                ))
                .await
                .expect("template lookup")
                .is_some();
            if !exists {
                // Templates of earlier schemas are of no more use.
                let stale = admin
                    .query_all_raw(sea_orm::Statement::from_string(
                        sea_orm::DatabaseBackend::Postgres,
                        "SELECT datname FROM pg_database WHERE datname LIKE 'duikou_test_template_%'"
                            .to_owned(),
                    ))
                    .await
                    .expect("template list");
                for row in stale {
                    let old: String = row.try_get_by_index(0).expect("a name");
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"))
                        .await
                        .expect("drop a stale template");
                }
                let building = format!("{name}_building");
                admin
                    .execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                    ))
                    .await
                    .expect("drop half-built template");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
                    .await
                    .expect("create template");
                let store =
                    Store::connect(&settings(&with_database(admin_url, &building)).database)
                        .await
                        .expect("template connection");
                store.migrate().await.expect("migrations");
                store.seed_regions().await.expect("regions");
                store.close().await.expect("close");
                admin
                    .execute_unprepared(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                    ))
                    .await
                    .expect("rename template");
            }
            admin
                .execute_unprepared("SELECT pg_advisory_unlock(424242)")
                .await
                .expect("advisory unlock");
            admin.close().await.expect("close admin");
            name
        })
        .await
        .clone()
}

/// How a test wants its database.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fresh {
    /// Migrated, regions loaded (copied from a template: fast).
    Prepared,
    /// Entirely empty: the server migrates and loads regions itself.
    Empty,
}

/// Starts a server over a database prepared for this test alone.
pub async fn spawn() -> TestApp {
    spawn_with(Fresh::Prepared, |_| {}).await
}

/// Starts a server over a fresh database, with settings adjusted by `adjust`.
pub async fn spawn_with(fresh: Fresh, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    announce_backend();
    let (url, database) = match postgres_url() {
        Some(admin_url) => {
            let name = format!("duikou_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("PostgreSQL admin connection");
            let create = match fresh {
                Fresh::Prepared => format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                    postgres_template(&admin_url).await
                ),
                Fresh::Empty => format!("CREATE DATABASE \"{name}\""),
            };
            admin
                .execute_unprepared(&create)
                .await
                .expect("create test database");
            admin.close().await.expect("close admin");
            (
                with_database(&admin_url, &name),
                TestDatabase::Postgres { admin_url, name },
            )
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("duikou.db");
            if fresh == Fresh::Prepared {
                std::fs::copy(sqlite_template().await, &path).expect("copy template");
            }
            (sqlite_url(&path), TestDatabase::Sqlite { _dir: dir })
        }
    };
    let mut settings = settings(&url);
    adjust(&mut settings);
    let url = settings.database.url.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let stations = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let stations_address = stations.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let clock = Clock::adjustable();
    let server = tokio::spawn(duikou::server::run_with(
        settings,
        duikou::server::Listeners {
            grpc: listener,
            stations: Some(stations),
        },
        clock.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    // The server has migrated once it answers anything at all (even "overloaded").
    let _ = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
    let admin = create_token(&url, Role::Admin, &[], None).await;
    let bearer = Bearer::new(Some(&admin));
    TestApp {
        database_url: url.clone(),
        regions: RegionServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        pairings: PairingServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        projects: ProjectServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        funds: FundServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        talents: TalentExchangeServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        supervision: SupervisionServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        waters: WaterQualityServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        access: AccessServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        audit: AuditServiceClient::with_interceptor(channel.clone(), bearer),
        channel,
        address,
        stations: stations_address,
        clock,
        stop: Some(stop),
        server: Some(server),
        _database: database,
    }
}

/// Creates a token straight in the database, as `duikou token create` does.
async fn create_token(
    url: &str,
    role: Role,
    scopes: &[&str],
    expire_time: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    let store = Store::connect(&settings(url).database)
        .await
        .expect("store");
    let mut paths = Vec::new();
    for code in scopes {
        let row = region::get(store.db(), &RegionCode::from_stored((*code).to_owned()))
            .await
            .expect("region lookup")
            .expect("scope region exists");
        paths.push(duikou::domain::region::RegionPath::from_stored(row.path));
    }
    let (_, secret) = token::create(
        store.db(),
        &NewToken {
            role,
            label: &format!("test {}", role.word()),
            scopes: &paths,
            expire_time,
        },
    )
    .await
    .expect("token");
    store.close().await.expect("close");
    secret
}

impl TestApp {
    /// A token with `role` over the regions with these codes (none: everywhere).
    pub async fn token(&self, role: Role, scopes: &[&str]) -> String {
        create_token(&self.database_url, role, scopes, None).await
    }

    /// A token that expired a minute ago.
    pub async fn expired_token(&self, role: Role) -> String {
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        create_token(&self.database_url, role, &[], Some(past)).await
    }

    /// Whether the server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        postgres_url().is_some()
    }

    /// A store over the server's database, for looking behind its back.
    pub async fn store(&self) -> Store {
        Store::connect(&settings(&self.database_url).database)
            .await
            .expect("store")
    }

    /// Runs raw SQL on the server's database, as an intruder with database access would.
    pub async fn sql(&self, statement: &str) -> Result<(), sea_orm::DbErr> {
        let store = self.store().await;
        let outcome = store.db().execute_unprepared(statement).await.map(drop);
        store.close().await.expect("close");
        outcome
    }

    /// A PairingService client calling with `secret` (anonymous with `None`).
    pub fn pairings_as(&self, secret: Option<&str>) -> PairingServiceClient<Authed> {
        PairingServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A ProjectService client calling with `secret` (anonymous with `None`).
    pub fn projects_as(&self, secret: Option<&str>) -> ProjectServiceClient<Authed> {
        ProjectServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A SupervisionService client calling with `secret` (anonymous with `None`).
    pub fn supervision_as(&self, secret: Option<&str>) -> SupervisionServiceClient<Authed> {
        SupervisionServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A WaterQualityService client calling with `secret` (anonymous with `None`).
    pub fn waters_as(&self, secret: Option<&str>) -> WaterQualityServiceClient<Authed> {
        WaterQualityServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// An OrganizationService client as the caller `secret` (none: anonymous).
    pub fn organizations_as(&self, secret: Option<&str>) -> OrganizationServiceClient<Authed> {
        OrganizationServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A PlanService client as the caller `secret` (none: anonymous).
    pub fn plans_as(&self, secret: Option<&str>) -> PlanServiceClient<Authed> {
        PlanServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// Drafts a work plan as ADMIN.
    pub async fn work_plan(&self, plan: WorkPlan) -> WorkPlan {
        let admin = self.token(Role::Admin, &[]).await;
        self.plans_as(Some(&admin))
            .create_work_plan(CreateWorkPlanRequest {
                work_plan: Some(plan),
                request_id: String::new(),
            })
            .await
            .expect("create work plan")
            .into_inner()
    }

    /// Adds a task to a DRAFT work plan as ADMIN.
    pub async fn plan_task(&self, plan: &WorkPlan, task: PlanTask) -> PlanTask {
        let admin = self.token(Role::Admin, &[]).await;
        self.plans_as(Some(&admin))
            .add_plan_task(AddPlanTaskRequest {
                parent: plan.name.clone(),
                task: Some(task),
                request_id: String::new(),
            })
            .await
            .expect("add plan task")
            .into_inner()
    }

    /// Registers an organisation as ADMIN.
    pub async fn organization(&self, organization: Organization) -> Organization {
        let admin = self.token(Role::Admin, &[]).await;
        self.organizations_as(Some(&admin))
            .create_organization(CreateOrganizationRequest {
                organization: Some(organization),
                request_id: String::new(),
            })
            .await
            .expect("create organization")
            .into_inner()
    }

    /// Registers a monitoring section as ADMIN.
    pub async fn section(&self, section: MonitoringSection) -> MonitoringSection {
        self.waters
            .clone()
            .create_monitoring_section(CreateMonitoringSectionRequest {
                monitoring_section: Some(section),
                request_id: String::new(),
            })
            .await
            .expect("create section")
            .into_inner()
    }

    /// Records a sample as ADMIN.
    pub async fn record(&self, sample: WaterSample) -> Result<WaterSample, Status> {
        self.waters
            .clone()
            .record_water_sample(RecordWaterSampleRequest {
                sample: Some(sample),
                request_id: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// A TalentExchangeService client calling with `secret` (anonymous with `None`).
    pub fn talents_as(&self, secret: Option<&str>) -> TalentExchangeServiceClient<Authed> {
        TalentExchangeServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A FundService client calling with `secret` (anonymous with `None`).
    pub fn funds_as(&self, secret: Option<&str>) -> FundServiceClient<Authed> {
        FundServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// A RegionService client calling with `secret` (anonymous with `None`).
    pub fn regions_as(&self, secret: Option<&str>) -> RegionServiceClient<Authed> {
        RegionServiceClient::with_interceptor(self.channel.clone(), Bearer::new(secret))
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }

    /// Takes the write lock of the program table from outside the server and holds it
    /// until the returned guard is dropped, so that writes to programs wait.
    pub async fn hold_program_writes(&self) -> Box<dyn std::any::Any + Send> {
        if postgres_url().is_some() {
            use sea_orm::TransactionTrait;
            let db = Database::connect(&self.database_url)
                .await
                .expect("connect");
            let tx = db.begin().await.expect("begin");
            tx.execute_unprepared("LOCK TABLE programs IN EXCLUSIVE MODE")
                .await
                .expect("lock programs");
            Box::new((tx, db))
        } else {
            let path = self
                .database_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .expect("a path")
                .to_owned();
            let connection = rusqlite::Connection::open(path).expect("open");
            connection
                .execute_batch("BEGIN IMMEDIATE")
                .expect("write lock");
            Box::new(std::sync::Mutex::new(connection))
        }
    }

    /// A connection of its own to the server, as a separate client process would make.
    pub async fn own_channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// A FundService client on a connection of its own, calling with `secret`.
    pub async fn funds_on_own_connection(&self, secret: &str) -> FundServiceClient<Authed> {
        FundServiceClient::with_interceptor(self.own_channel().await, Bearer::new(Some(secret)))
    }

    /// A WaterQualityService client on a connection of its own, calling with `secret`.
    pub async fn waters_on_own_connection(
        &self,
        secret: &str,
    ) -> WaterQualityServiceClient<Authed> {
        WaterQualityServiceClient::with_interceptor(
            self.own_channel().await,
            Bearer::new(Some(secret)),
        )
    }

    /// Holds the writes of samples at section `section_id` until the returned value is
    /// dropped: on SQLite by taking the database's write lock, on PostgreSQL by locking
    /// the section's row, which every sample batch at that section locks.
    pub async fn hold_section_writes(&self, section_id: i64) -> Box<dyn std::any::Any + Send> {
        self.hold_row_or_writes("monitoring_sections", section_id)
            .await
    }

    /// Holds the ledger's writes until the returned value is dropped: on SQLite by taking
    /// the database's write lock, on PostgreSQL by locking the row of pairing `pairing_id`,
    /// which every ledger batch touching that pairing reads with a share lock.
    pub async fn hold_ledger_writes(&self, pairing_id: i64) -> Box<dyn std::any::Any + Send> {
        self.hold_row_or_writes("pairings", pairing_id).await
    }

    /// On PostgreSQL a lock of row `id` of `table` from outside the server; on SQLite the
    /// database's write lock; either held until the returned value is dropped.
    async fn hold_row_or_writes(&self, table: &str, id: i64) -> Box<dyn std::any::Any + Send> {
        if postgres_url().is_some() {
            use sea_orm::TransactionTrait;
            let db = Database::connect(&self.database_url)
                .await
                .expect("connect");
            let tx = db.begin().await.expect("begin");
            tx.execute_unprepared(&format!(
                "SELECT id FROM {table} WHERE id = {id} FOR UPDATE"
            ))
            .await
            .expect("lock the row");
            Box::new((tx, db))
        } else {
            self.hold_program_writes().await
        }
    }

    /// Creates the Beijing–Shiyan program (2021-01-01 to 2035-12-31).
    pub async fn program(&mut self) -> Program {
        self.pairings
            .create_program(CreateProgramRequest {
                program: Some(Program {
                    display_name: "京堰对口协作".into(),
                    basis_document: "国函〔2013〕42号".into(),
                    period_start: "2021-01-01".into(),
                    period_end: "2035-12-31".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create program")
            .into_inner()
    }

    /// Proposes a project, expecting success.
    pub async fn project(&mut self, project: Project) -> Project {
        self.projects
            .create_project(CreateProjectRequest {
                project: Some(project),
                request_id: String::new(),
            })
            .await
            .expect("create project")
            .into_inner()
    }

    /// Creates a pairing, expecting success.
    pub async fn pairing(&mut self, pairing: Pairing) -> Pairing {
        self.create_pairing(pairing).await.expect("create pairing")
    }

    /// Creates a pairing.
    pub async fn create_pairing(&mut self, pairing: Pairing) -> Result<Pairing, Status> {
        self.pairings
            .create_pairing(CreatePairingRequest {
                pairing: Some(pairing),
                request_id: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A pairing of `program` from `supporting` to `supported` (bare codes) over 2021–2025.
pub fn pairing(program: &Program, supporting: &str, supported: &str) -> Pairing {
    Pairing {
        program: program.name.clone(),
        supporting_region: format!("regions/{supporting}"),
        supported_region: format!("regions/{supported}"),
        period_start: "2021-01-01".into(),
        period_end: "2025-12-31".into(),
        fields: vec![4, 2],
        ..Default::default()
    }
}

/// A 2024 work plan of `scope` whose weights add up to 100 points.
pub fn plan_of(scope: &str) -> WorkPlan {
    WorkPlan {
        scope: scope.to_owned(),
        year: 2024,
        title: "2024年京堰对口协作工作计划及任务分工".into(),
        basis_document: "京堰协作〔2024〕1号".into(),
        weights: vec![
            FieldWeight {
                field: 1,
                weight: 20,
            },
            FieldWeight {
                field: 3,
                weight: 50,
            },
            FieldWeight {
                field: 7,
                weight: 30,
            },
        ],
        ..Default::default()
    }
}

/// A task of field `field` (a PlanField number) led by `lead`, due on `due`, without an
/// indicator.
pub fn task_of(field: i32, lead: &Organization, due: &str) -> PlanTask {
    PlanTask {
        title: format!("任务（{field}）"),
        field,
        lead_organization: lead.name.clone(),
        due_date: due.to_owned(),
        ..Default::default()
    }
}

/// An amount of `yuan` and `fen` as the API writes it.
pub fn cny(yuan: i64, fen: i32) -> Money {
    Money {
        currency_code: "CNY".into(),
        units: yuan,
        nanos: fen * 10_000_000,
    }
}

/// A water-source project of `pairing` at `location` (a bare code) with a budget of
/// 1,000,000 yuan, planned over 2022–2023.
pub fn project(pairing: &Pairing, location: &str) -> Project {
    Project {
        pairing: pairing.name.clone(),
        display_name: "丹江口库区污水处理厂".into(),
        description: "新建日处理两万吨污水处理厂".into(),
        field: 4,
        location: format!("regions/{location}"),
        implementing_org: "丹江口市水务局".into(),
        budget: Some(cny(1_000_000, 0)),
        planned_start: "2022-01-01".into(),
        planned_end: "2023-12-31".into(),
        progress_percent: 0,
        milestones: vec![Milestone {
            title: "选址".into(),
            due_date: "2022-03-31".into(),
            done_date: String::new(),
        }],
        ..Default::default()
    }
}

/// Asserts a status's code and ErrorInfo reason, and that its BadRequest names `field`
/// when one is given. Returns the message for further checks.
#[track_caller]
pub fn assert_error(status: &Status, code: Code, reason: &str, field: Option<&str>) -> String {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let details = status.get_error_details();
    let info = details.error_info().expect("every error carries ErrorInfo");
    assert_eq!(info.domain, duikou::api::status::ERROR_DOMAIN);
    assert_eq!(info.reason, reason, "unexpected reason: {status:?}");
    if let Some(field) = field {
        let bad = details
            .bad_request()
            .expect("invalid fields come with BadRequest");
        assert!(
            bad.field_violations.iter().any(|v| v.field == field),
            "BadRequest should name {field}: {:?}",
            bad.field_violations
        );
    }
    status.message().to_owned()
}

/// A secondment of two named cadres from the supporting side of `pairing`, from March
/// 2024 to February 2025, to a host in Danjiangkou.
pub fn secondment(pairing: &Pairing) -> TalentExchange {
    TalentExchange {
        pairing: pairing.name.clone(),
        kind: 1,
        direction: 1,
        field: 2,
        headcount: 3,
        start_date: "2024-03-01".into(),
        end_date: "2025-02-28".into(),
        host_organization: "丹江口市发展和改革局".into(),
        title: "2024年东城区赴丹江口市挂职干部".into(),
        description: "挂职一年".into(),
        participants: vec![
            Participant {
                display_name: "王建国".into(),
                organization: "北京市东城区发展和改革委员会".into(),
                position: "副主任".into(),
            },
            Participant {
                display_name: "李秀英".into(),
                organization: "北京市东城区教育委员会".into(),
                position: "科长".into(),
            },
        ],
        ..Default::default()
    }
}

/// A public report of sewage in the water at `region` (a region name), with a reporter.
pub fn water_report(region: &str) -> SupervisionEntry {
    SupervisionEntry {
        party: 5,
        region: region.into(),
        category: 1,
        severity: 3,
        title: "库区支流发现排污口".into(),
        description: "官山河下游右岸有一处暗管向河道排放污水，水体发黑有异味。".into(),
        reporter: Some(Reporter {
            display_name: "张秀兰".into(),
            contact: "13800000000".into(),
        }),
        ..Default::default()
    }
}

/// A county's ecology and environment bureau in region `code`, without a credit code.
pub fn county_bureau(code: &str) -> Organization {
    Organization {
        display_name: "生态环境分局".into(),
        kind: 1,
        region: format!("regions/{code}"),
        ..Default::default()
    }
}

/// How many steps `Migrator::down` takes to undo the migration `name` and every one after
/// it, so that a test of one migration stays one when more are added.
pub fn undoing(name: &str) -> u32 {
    use migration::MigratorTrait;
    let all = migration::Migrator::migrations();
    let at = all
        .iter()
        .position(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no migration named {name}"));
    u32::try_from(all.len() - at).expect("a handful of migrations")
}

/// The id at the end of a resource name.
pub fn id_of(name: &str) -> i64 {
    name.rsplit('/').next().unwrap().parse().unwrap()
}

/// The supervision entries whose subject is `section`.
pub async fn entries_on(app: &TestApp, section: &MonitoringSection) -> Vec<SupervisionEntry> {
    app.supervision
        .clone()
        .list_supervision_entries(ListSupervisionEntriesRequest {
            page_size: 100,
            page_token: String::new(),
            filter: format!("subject = \"{}\"", section.name),
            order_by: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_entries
}

/// The timeline of entry `entry`, up to 1,000 events.
pub async fn events_of(app: &TestApp, entry: &str) -> Vec<SupervisionEvent> {
    app.supervision
        .clone()
        .list_supervision_events(ListSupervisionEventsRequest {
            parent: entry.into(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_events
}

/// A river section `code` in `region` with target class II, answered for by its region.
pub fn river_section(code: &str, region: &str) -> MonitoringSection {
    MonitoringSection {
        code: code.into(),
        display_name: format!("断面{code}"),
        water_body: "神定河".into(),
        water_body_type: 1,
        region: format!("regions/{region}"),
        responsible_unit: "十堰市生态环境局".into(),
        target_class: 2,
        control_level: 1,
        ..Default::default()
    }
}

/// A manual sample at `section` taken `minutes_ago` before now, with `values` as
/// (parameter number, decimal) pairs, flagged normal.
pub fn sample_of(
    section: &MonitoringSection,
    minutes_ago: i64,
    values: &[(i32, &str)],
) -> WaterSample {
    let time = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    WaterSample {
        section: section.name.clone(),
        sample_time: Some(prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }),
        source: 1,
        values: values
            .iter()
            .map(|(parameter, value)| WaterValue {
                parameter: *parameter,
                value: (*value).into(),
                flag: 0,
            })
            .collect(),
        ..Default::default()
    }
}
