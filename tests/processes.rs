//! Real `duikou` processes sharing one database, a SQLite file or, when
//! `DUIKOU_TEST_DATABASE_URL` names a server, a fresh PostgreSQL database: two processes
//! racing to allocate one commitment; crash safety, with the binary killed by SIGKILL
//! while clients post ledger lines and restarted on the same database, ten times (every line
//! a client saw acknowledged must still be there, and the balances must still agree with
//! the lines and keep the ledger's rules); supervision watchers on two processes seeing
//! what both stored, in one order; and SIGTERM with a write held in flight by the
//! database's lock: new connections are refused, the write finishes and is kept, and the
//! process exits 0.

use std::{
    io::ErrorKind,
    net::TcpListener,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use duikou::proto::v1::{
    ApproveProjectRequest, CreatePairingRequest, CreateProgramRequest, CreateProjectRequest,
    FundTransaction, GetFundSummaryRequest, GetFundTransactionRequest, GetProjectRequest,
    ListFundTransactionsRequest, Money, Pairing, Program, Project, RecordFundTransactionRequest,
    StartProjectRequest, SubmitSupervisionEntryRequest, SupervisionEntry,
    WatchSupervisionEventsRequest, fund_service_client::FundServiceClient,
    pairing_service_client::PairingServiceClient, project_service_client::ProjectServiceClient,
    supervision_service_client::SupervisionServiceClient,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

const ROUNDS: usize = 10;
const WRITERS: usize = 16;
/// The file of a SQLite test database, in its temporary directory.
const SQLITE_FILE: &str = "duikou.db";

#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

fn duikou() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duikou"));
    command
        .env_remove("DUIKOU_DATABASE__URL")
        .env_remove("DUIKOU_SERVER__LISTEN")
        .env("RUST_LOG", "warn");
    command
}

fn cny(yuan: i64) -> Money {
    Money {
        currency_code: "CNY".into(),
        units: yuan,
        nanos: 0,
    }
}

/// A running `duikou serve` child process.
struct Server {
    child: Child,
    port: u16,
    /// Where its log goes.
    log: std::path::PathBuf,
    bearer: Bearer,
    channel: Authed,
}

impl Server {
    /// Starts the binary on `db`, with `settings` as `DUIKOU_*` variables (or `RUST_LOG`),
    /// its log in a file beside `key_file`, and waits until it answers.
    async fn start(db: &str, key_file: &Path, secret: &str, settings: &[(&str, &str)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = key_file.with_file_name(format!("server-{port}.log"));
        let child = duikou()
            .args(["serve", "--database-url", db])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("DUIKOU_AUDIT__KEY_FILE", key_file)
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the server's log file"))
            .spawn()
            .expect("start duikou");
        let deadline = Instant::now() + Duration::from_secs(60);
        let channel = loop {
            let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
            if let Ok(channel) = endpoint.connect().await {
                let mut health =
                    tonic_health::pb::health_client::HealthClient::new(channel.clone());
                if health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .is_ok()
                {
                    break channel;
                }
            }
            assert!(
                Instant::now() < deadline,
                "duikou did not start within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let bearer = Bearer(format!("Bearer {secret}").parse().unwrap());
        Server {
            child,
            port,
            log,
            channel: InterceptedService::new(channel, bearer.clone()),
            bearer,
        }
    }

    /// A connection of its own to the server.
    async fn connect(&self) -> Authed {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", self.port))
            .unwrap()
            .connect()
            .await
            .expect("connect to duikou");
        InterceptedService::new(channel, self.bearer.clone())
    }

    fn funds(&self) -> FundServiceClient<Authed> {
        FundServiceClient::new(self.channel.clone())
    }

    fn supervision(&self) -> SupervisionServiceClient<Authed> {
        SupervisionServiceClient::new(self.channel.clone())
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, as a service manager stops the server.
    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {}: {sent}", self.child.id());
    }

    /// Whether the process is still running.
    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the process").is_none()
    }

    /// Whether a new TCP connection is refused within `within`; it is tried until then,
    /// as the server handles a signal in its own time. A connection that is made, or
    /// that hangs (a listener that no longer accepts but is still open takes connections
    /// into its backlog until that is full), is not refused.
    async fn refuses_connections_within(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let attempt = tokio::net::TcpStream::connect(("127.0.0.1", self.port));
            match tokio::time::timeout(Duration::from_millis(200), attempt).await {
                Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => return true,
                _ if Instant::now() >= deadline => return false,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The exit status if the process ends within `within`; none if not (it is then killed).
    async fn exit_within(mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    /// A test that fails leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The line a writer sends: one yuan, rotating commitment, allocation and disbursement.
fn line(n: usize, pairing: &str, project: &str) -> FundTransaction {
    let kind = 1 + (n % 3) as i32;
    FundTransaction {
        kind,
        pairing: if kind == 1 {
            pairing.into()
        } else {
            String::new()
        },
        project: if kind == 1 {
            String::new()
        } else {
            project.into()
        },
        fiscal_year: 2025,
        amount: Some(cny(1)),
        source: 1,
        instrument: 1,
        payee: if kind == 3 {
            "施工单位".into()
        } else {
            String::new()
        },
        value_date: "2025-06-30".into(),
        ..Default::default()
    }
}

async fn all_lines(funds: &mut FundServiceClient<Authed>) -> Vec<FundTransaction> {
    let mut lines = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = funds
            .list_fund_transactions(ListFundTransactionsRequest {
                page_size: 1000,
                page_token,
                filter: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        lines.extend(page.fund_transactions);
        if page.next_page_token.is_empty() {
            return lines;
        }
        page_token = page.next_page_token;
    }
}

fn yuan(money: &Option<Money>) -> i64 {
    let m = money.clone().unwrap_or_default();
    assert_eq!(m.nanos, 0, "all amounts here are whole yuan");
    m.units
}

/// A fresh database for one test: a SQLite file, or a new PostgreSQL database when
/// `DUIKOU_TEST_DATABASE_URL` names a server (dropped by [`TestDatabase::remove`]).
struct TestDatabase {
    url: String,
    postgres: Option<(sea_orm::DatabaseConnection, String)>,
    dir: tempfile::TempDir,
}

impl TestDatabase {
    async fn fresh() -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        let (url, postgres) = match std::env::var("DUIKOU_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("duikou_process_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                let (server, _) = admin_url.rsplit_once('/').unwrap();
                (format!("{server}/{name}"), Some((admin, name)))
            }
            _ => (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(SQLITE_FILE).display()
                ),
                None,
            ),
        };
        TestDatabase { url, postgres, dir }
    }

    fn key_file(&self) -> std::path::PathBuf {
        self.dir.path().join("audit.key")
    }

    /// An ADMIN token made with the command line.
    fn admin_token(&self) -> String {
        let created = duikou()
            .args([
                "token",
                "create",
                "--role",
                "admin",
                "--database-url",
                &self.url,
            ])
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        String::from_utf8(created.stdout).unwrap().trim().to_owned()
    }

    async fn start(&self, secret: &str) -> Server {
        self.start_with(secret, &[]).await
    }

    /// A server with `settings` as `DUIKOU_*` variables.
    async fn start_with(&self, secret: &str, settings: &[(&str, &str)]) -> Server {
        Server::start(&self.url, &self.key_file(), secret, settings).await
    }

    /// Takes the lock that every write needs, from outside the server: on SQLite an
    /// IMMEDIATE transaction on the file, on PostgreSQL the audit head's row, which every
    /// audited write moves before it commits. The server's writes wait until
    /// [`WriteLock::release`].
    async fn lock_writes(&self) -> WriteLock {
        match &self.postgres {
            Some((admin, name)) => {
                let tx = sea_orm::Database::connect(&self.url)
                    .await
                    .unwrap()
                    .begin()
                    .await
                    .unwrap();
                tx.execute_unprepared("SELECT size FROM audit_head WHERE id = 1 FOR UPDATE")
                    .await
                    .unwrap();
                WriteLock::Postgres {
                    tx,
                    admin: admin.clone(),
                    database: name.clone(),
                }
            }
            None => {
                let file = rusqlite::Connection::open(self.dir.path().join(SQLITE_FILE)).unwrap();
                file.busy_timeout(Duration::from_secs(5)).unwrap();
                file.execute_batch("BEGIN IMMEDIATE").unwrap();
                WriteLock::Sqlite(file)
            }
        }
    }

    async fn remove(self) {
        if let Some((admin, name)) = self.postgres {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}

/// The write lock of a test database, held by the test (see [`TestDatabase::lock_writes`]).
enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres {
        tx: sea_orm::DatabaseTransaction,
        admin: sea_orm::DatabaseConnection,
        database: String,
    },
}

impl WriteLock {
    /// Waits until a request of the server is waiting for this lock. PostgreSQL shows the
    /// blocked backend in `pg_stat_activity`; SQLite shows nothing from outside (the writer
    /// sleeps in its busy handler), so there the request is given a moment to reach it.
    async fn until_a_write_waits(&self) {
        let Self::Postgres {
            admin, database, ..
        } = self
        else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let blocked = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            [database.clone().into()],
        );
        loop {
            let row = admin.query_one_raw(blocked.clone()).await.unwrap().unwrap();
            if row.try_get_by_index::<i64>(0).unwrap() > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no write waited for the lock within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets the server's writes go on (nothing was written under the lock).
    async fn release(self) {
        match self {
            Self::Sqlite(file) => file.execute_batch("ROLLBACK").unwrap(),
            Self::Postgres { tx, .. } => tx.rollback().await.unwrap(),
        }
    }
}

/// A program, a pairing of Dongcheng with Danjiangkou (2021–2030) and a started project
/// under it with a budget of 1,000,000 yuan; returns the pairing's and project's names.
async fn open_books(server: &Server) -> (String, String) {
    let program = PairingServiceClient::new(server.channel.clone())
        .create_program(CreateProgramRequest {
            program: Some(Program {
                display_name: "京堰对口协作".into(),
                period_start: "2021-01-01".into(),
                period_end: "2035-12-31".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let pairing = PairingServiceClient::new(server.channel.clone())
        .create_pairing(CreatePairingRequest {
            pairing: Some(Pairing {
                program: program.name.clone(),
                supporting_region: "regions/110101".into(),
                supported_region: "regions/420381".into(),
                fields: vec![4],
                period_start: "2021-01-01".into(),
                period_end: "2030-12-31".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut projects = ProjectServiceClient::new(server.channel.clone());
    let project = projects
        .create_project(CreateProjectRequest {
            project: Some(Project {
                pairing: pairing.name.clone(),
                display_name: "丹江口库区污水处理厂".into(),
                field: 4,
                location: "regions/420381".into(),
                implementing_org: "丹江口市水务局".into(),
                budget: Some(cny(1_000_000)),
                planned_start: "2022-01-01".into(),
                planned_end: "2026-12-31".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let name = project.name.clone();
    projects
        .approve_project(ApproveProjectRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    projects
        .start_project(StartProjectRequest {
            name,
            etag: String::new(),
        })
        .await
        .unwrap();
    (pairing.name, project.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_database_allocate_exactly_what_was_committed() {
    let db = TestDatabase::fresh().await;
    let secret = db.admin_token();
    let first = db.start(&secret).await;
    let (pairing, project) = open_books(&first).await;
    first
        .funds()
        .record_fund_transaction(RecordFundTransactionRequest {
            fund_transaction: Some(FundTransaction {
                amount: Some(cny(150)),
                ..line(0, &pairing, &project)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let second = db.start(&secret).await;
    // Both processes are warm before the race, so that their batches overlap.
    let servers = [&first, &second];
    for server in servers {
        server
            .funds()
            .get_fund_summary(GetFundSummaryRequest {
                scope: pairing.clone(),
                fiscal_year: 0,
            })
            .await
            .unwrap();
    }

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..400 {
        let mut funds = servers[i % 2].funds();
        let allocation = line(1, &pairing, &project);
        calls.spawn(async move {
            funds
                .record_fund_transaction(RecordFundTransactionRequest {
                    fund_transaction: Some(allocation),
                    request_id: String::new(),
                })
                .await
        });
    }
    let mut succeeded = 0;
    for outcome in calls.join_all().await {
        match outcome {
            Ok(_) => succeeded += 1,
            Err(status) => assert!(
                status.code() == tonic::Code::FailedPrecondition
                    && status.message().contains("exceeds what is committed"),
                "{status:?}"
            ),
        }
    }
    let funding = ProjectServiceClient::new(second.channel.clone())
        .get_project(GetProjectRequest { name: project })
        .await
        .unwrap()
        .into_inner()
        .funding
        .unwrap();

    assert_eq!(succeeded, 150);
    assert_eq!(yuan(&funding.allocated), 150);
    first.kill();
    second.kill();
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_lines_survive_sigkill_and_the_balances_still_hold() {
    let db = TestDatabase::fresh().await;
    let secret = db.admin_token();
    let mut server = db.start(&secret).await;
    let (pairing, project) = open_books(&server).await;

    let acknowledged: Arc<Mutex<Vec<FundTransaction>>> = Arc::default();
    for round in 0..ROUNDS {
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let mut funds = server.funds();
            let (pairing, project, acknowledged) =
                (pairing.clone(), project.clone(), acknowledged.clone());
            writers.spawn(async move {
                for n in w.. {
                    let request = RecordFundTransactionRequest {
                        fund_transaction: Some(line(n, &pairing, &project)),
                        request_id: String::new(),
                    };
                    match funds.record_fund_transaction(request).await {
                        Ok(reply) => acknowledged.lock().unwrap().push(reply.into_inner()),
                        // Refused by a rule (a disbursement ahead of its allocation): go on.
                        Err(status) if status.code() == tonic::Code::FailedPrecondition => {}
                        // The server is gone.
                        Err(_) => return,
                    }
                }
            });
        }
        let run_for = 150 + (round as u64 * 97) % 400;
        tokio::time::sleep(Duration::from_millis(run_for)).await;
        server.kill();
        writers.join_all().await;
        server = db.start(&secret).await;

        let mut funds = server.funds();
        let seen = acknowledged.lock().unwrap().clone();
        for line in &seen {
            let stored = funds
                .get_fund_transaction(GetFundTransactionRequest {
                    name: line.name.clone(),
                })
                .await
                .unwrap_or_else(|e| {
                    panic!("round {round}: acknowledged {} is lost: {e}", line.name)
                })
                .into_inner();
            assert_eq!(&stored, line, "round {round}: {} changed", line.name);
        }
        let lines = all_lines(&mut funds).await;
        let sum = |kind: i32| -> i64 {
            lines
                .iter()
                .filter(|l| l.kind == kind)
                .map(|l| yuan(&l.amount))
                .sum()
        };
        let (committed, allocated, disbursed) = (sum(1), sum(2), sum(3));
        let summary = funds
            .get_fund_summary(GetFundSummaryRequest {
                scope: pairing.clone(),
                fiscal_year: 2025,
            })
            .await
            .unwrap()
            .into_inner()
            .totals
            .unwrap();
        let funding = ProjectServiceClient::new(server.channel.clone())
            .get_project(GetProjectRequest {
                name: project.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .funding
            .unwrap();
        assert!(lines.len() >= seen.len(), "round {round}");
        assert_eq!(yuan(&summary.committed), committed, "round {round}");
        assert_eq!(yuan(&summary.allocated), allocated, "round {round}");
        assert_eq!(yuan(&summary.disbursed), disbursed, "round {round}");
        assert_eq!(yuan(&funding.allocated), allocated, "round {round}");
        assert_eq!(yuan(&funding.disbursed), disbursed, "round {round}");
        assert!(
            allocated <= committed,
            "round {round}: {allocated} > {committed}"
        );
        assert!(
            disbursed <= allocated,
            "round {round}: {disbursed} > {allocated}"
        );
    }
    let total = acknowledged.lock().unwrap().len();
    assert!(
        total > ROUNDS * 10,
        "only {total} lines were acknowledged in {ROUNDS} rounds"
    );
    server.kill();

    let verified = duikou()
        .args(["audit", "verify", "--database-url", &db.url])
        .env("DUIKOU_AUDIT__KEY_FILE", db.key_file())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "the audit log must survive the crashes: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_on_two_server_processes_see_what_both_stored_in_one_order() {
    const FILINGS: usize = 40;
    let db = TestDatabase::fresh().await;
    let secret = db.admin_token();
    let first = db.start(&secret).await;
    let second = db.start(&secret).await;
    let servers = [&first, &second];
    let mut watches = Vec::new();
    for server in servers {
        watches.push(
            server
                .supervision()
                .watch_supervision_events(WatchSupervisionEventsRequest::default())
                .await
                .unwrap()
                .into_inner(),
        );
    }

    let mut filings = tokio::task::JoinSet::new();
    for i in 0..FILINGS {
        let mut supervision = servers[i % 2].supervision();
        filings.spawn(async move {
            supervision
                .submit_supervision_entry(SubmitSupervisionEntryRequest {
                    supervision_entry: Some(SupervisionEntry {
                        party: 1,
                        region: "regions/420381".into(),
                        category: 1,
                        severity: 2,
                        title: format!("第{i}号巡查发现"),
                        description: "库区支流水质异常".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .supervision_entry
                .unwrap()
                .name
        });
    }
    let mut filed: Vec<String> = filings
        .join_all()
        .await
        .into_iter()
        .map(|name| format!("{name}/events/1"))
        .collect();
    filed.sort();

    let mut seen = Vec::new();
    for watch in &mut watches {
        let mut names = Vec::new();
        while names.len() < FILINGS {
            let event = tokio::time::timeout(Duration::from_secs(20), watch.message())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .expect("the watch stays open");
            names.push(event.name);
        }
        seen.push(names);
    }
    assert_eq!(seen[0], seen[1], "both servers' watchers see one order");
    let mut all = seen[0].clone();
    all.sort();
    assert_eq!(all, filed, "each sees every filing, through either server");
    first.kill();
    second.kill();
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_refuses_new_connections_and_the_write_in_flight_finishes_and_is_kept() {
    // The write is held well inside the busy timeout (SQLite's writer gives up after it)
    // and the request deadline, and the server must be gone well inside the grace period,
    // so that neither can end the write or the process in the test's place.
    const BUSY_TIMEOUT: Duration = Duration::from_secs(20);
    const GRACE: Duration = Duration::from_secs(30);
    let db = TestDatabase::fresh().await;
    let secret = db.admin_token();
    let busy_timeout_ms = BUSY_TIMEOUT.as_millis().to_string();
    let grace_secs = GRACE.as_secs().to_string();
    let mut server = db
        .start_with(
            &secret,
            &[
                ("DUIKOU_DATABASE__BUSY_TIMEOUT_MS", &busy_timeout_ms),
                ("DUIKOU_SERVER__REQUEST_TIMEOUT_SECS", &grace_secs),
                ("DUIKOU_SERVER__SHUTDOWN_GRACE_SECS", &grace_secs),
            ],
        )
        .await;
    let (pairing, project) = open_books(&server).await;
    // The write's connection is up and warm before the lock, so that the request itself is
    // all that has to reach the server.
    let mut funds = FundServiceClient::new(server.connect().await);
    funds
        .get_fund_summary(GetFundSummaryRequest {
            scope: pairing.clone(),
            fiscal_year: 0,
        })
        .await
        .unwrap();
    let lock = db.lock_writes().await;
    let held = Instant::now();
    let write = tokio::spawn(async move {
        funds
            .record_fund_transaction(RecordFundTransactionRequest {
                fund_transaction: Some(line(0, &pairing, &project)),
                request_id: String::new(),
            })
            .await
    });
    lock.until_a_write_waits().await;

    server.terminate();
    let refused = server
        .refuses_connections_within(Duration::from_secs(5))
        .await;
    let held_across_the_signal = !write.is_finished() && server.is_running();
    lock.release().await;
    let held_for = held.elapsed();
    let answered = tokio::time::timeout(Duration::from_secs(10), write).await;
    let exited = server.exit_within(Duration::from_secs(10)).await;
    let restarted = db.start(&secret).await;

    assert!(
        held_across_the_signal,
        "after SIGTERM, the write and the server still wait on the lock"
    );
    assert!(
        held_for < BUSY_TIMEOUT / 2,
        "the lock was held for {held_for:?}, too near the busy timeout"
    );
    assert!(
        refused,
        "after SIGTERM, a new connection is refused while a request is in flight"
    );
    let recorded = answered
        .expect("the write in flight is answered once the lock is released")
        .expect("the write's task")
        .expect("the write in flight succeeds")
        .into_inner();
    let status = exited.expect("the server exits once its request in flight is answered");
    assert!(status.success(), "the server exits 0: {status}");
    let stored = restarted
        .funds()
        .get_fund_transaction(GetFundTransactionRequest {
            name: recorded.name.clone(),
        })
        .await
        .expect("the line is kept")
        .into_inner();
    assert_eq!(stored, recorded);
    restarted.kill();
    db.remove().await;
}

/// Bytes that do not decode are the caller's fault: the probe got INTERNAL without an
/// ErrorInfo for each, and an ERROR line in the log (1,024 bodiless health checks made 1,024
/// of them). They get INVALID_ARGUMENT `MALFORMED_REQUEST`, and the log keeps its ERROR
/// lines for the operator's faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_decode_are_invalid_arguments_not_server_errors() {
    use tonic_types::StatusExt;
    let db = TestDatabase::fresh().await;
    let secret = db.admin_token();
    let server = db
        .start_with(
            &secret,
            &[("RUST_LOG", "info"), ("DUIKOU_LOG__FORMAT", "json")],
        )
        .await;
    let path = |p: &str| http::uri::PathAndQuery::try_from(p).unwrap();
    let mut grpc = tonic::client::Grpc::new(server.connect().await);
    grpc.ready().await.unwrap();
    // GetRegionRequest's field 1 is a string: as bytes that are not UTF-8, and as a varint.
    // prost encodes a Vec<u8> as google.protobuf.BytesValue and an i64 as Int64Value: field 1.
    let not_utf8: Vec<u8> = vec![0xff, 0xfe, 0xfd];
    let not_utf8 = grpc
        .unary(
            Request::new(not_utf8),
            path("/duikou.v1.RegionService/GetRegion"),
            tonic_prost::ProstCodec::<Vec<u8>, ()>::default(),
        )
        .await
        .unwrap_err();
    grpc.ready().await.unwrap();
    let wrong_wire_type = grpc
        .unary(
            Request::new(7i64),
            path("/duikou.v1.RegionService/GetRegion"),
            tonic_prost::ProstCodec::<i64, ()>::default(),
        )
        .await
        .unwrap_err();
    // A unary call whose stream ends before its one message.
    grpc.ready().await.unwrap();
    let no_message = grpc
        .client_streaming(
            Request::new(tokio_stream::empty::<()>()),
            path("/grpc.health.v1.Health/Check"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await
        .unwrap_err();
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.connect().await);
    let still_serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
    server.terminate();
    let log = server.log.clone();
    server.exit_within(Duration::from_secs(10)).await;
    let log = std::fs::read_to_string(log).unwrap();

    for status in [&not_utf8, &wrong_wire_type, &no_message] {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        let info = status.get_error_details();
        let info = info.error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, "MALFORMED_REQUEST", "{status:?}");
    }
    assert!(still_serving.is_ok(), "{still_serving:?}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"),
        "the log is written at info: {log}"
    );
    let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(
        errors.is_empty(),
        "no ERROR lines for a caller's bad bytes: {errors:?}"
    );
    db.remove().await;
}
