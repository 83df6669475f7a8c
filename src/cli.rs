//! The command line: `duikou serve` (the default), `duikou migrate`, `duikou token` and
//! `duikou audit`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::{
    app::token::{CreateToken, IssuedToken, RevokeToken, TokenFields},
    config::{Overrides, Settings},
    domain::{
        access::Role,
        audit::Call,
        checkpoint::{Checkpoint, verify_signed},
        merkle,
        region::RegionCode,
        text,
    },
    server,
    store::{Store, audit, token},
};

/// duikou: the gRPC backend of counterpart cooperation (对口协作).
#[derive(Debug, Parser)]
#[command(name = "duikou", version, about)]
pub struct Cli {
    /// A TOML settings file; `DUIKOU_*` environment variables and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, load the region list if the database is empty, and serve gRPC.
    Serve(ServeArgs),
    /// Apply pending migrations, then exit.
    Migrate(DatabaseArgs),
    /// Manage access tokens directly in the database (works before any server runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the audit log, offline, without trusting a server.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `duikou audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the public key that checks the server's signed checkpoints.
    PublicKey(DatabaseArgs),
    /// Check the database's audit log against itself and its signed checkpoints; exit 0
    /// when intact, non-zero naming the first bad event otherwise.
    Verify(DatabaseArgs),
    /// Check a proof saved from GetInclusionProof or GetConsistencyProof (grpcurl's JSON)
    /// against a checkpoint saved from GetCheckpoint, with the public key alone.
    VerifyProof(VerifyProofArgs),
}

/// Flags of `audit verify-proof`.
#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The checkpoint, as GetCheckpoint returned it (JSON).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The proof, as GetInclusionProof or GetConsistencyProof returned it (JSON).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// The server's public key, as `duikou audit public-key` prints it.
    #[arg(long, value_name = "BASE64")]
    pub public_key: String,
    /// For a consistency proof: an earlier checkpoint of the smaller tree (JSON); without
    /// it, the smaller root is taken from the proof.
    #[arg(long, value_name = "FILE")]
    pub first_checkpoint: Option<PathBuf>,
}

/// `duikou token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret, alone on one line of stdout.
    Create(TokenCreateArgs),
    /// List the tokens, one per line (never their secrets).
    List(DatabaseArgs),
    /// Revoke a token by its id.
    Revoke(TokenRevokeArgs),
}

/// Flags of `token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// ADMIN, COORDINATOR, FUND_OFFICER, SUPERVISOR or AUDITOR.
    #[arg(long)]
    pub role: String,
    /// A region the token may act on, e.g. regions/420300 (repeatable; none: everywhere;
    /// COORDINATOR, FUND_OFFICER and MONITOR only).
    #[arg(long = "scope", value_name = "regions/CODE")]
    pub scopes: Vec<String>,
    /// Who holds the token.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Days until the token expires (none: never).
    #[arg(long, value_name = "N")]
    pub expires_in_days: Option<u32>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Flags of `token revoke`.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (the N of accessTokens/N).
    pub id: i64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Flags of `serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:50051.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The database flag shared by the subcommands.
#[derive(Debug, Args, Default)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

impl Cli {
    /// The settings, with this command line's flags on top.
    ///
    /// # Errors
    /// When the settings cannot be read.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let overrides = match &self.command {
            None => Overrides::default(),
            Some(Command::Serve(args)) => Overrides {
                listen: args.listen.clone(),
                database_url: args.database.database_url.clone(),
            },
            Some(Command::Migrate(args))
            | Some(Command::Token(TokenCommand::List(args)))
            | Some(Command::Token(TokenCommand::Create(TokenCreateArgs {
                database: args, ..
            })))
            | Some(Command::Token(TokenCommand::Revoke(TokenRevokeArgs {
                database: args, ..
            })))
            | Some(Command::Audit(AuditCommand::PublicKey(args)))
            | Some(Command::Audit(AuditCommand::Verify(args))) => Overrides {
                listen: None,
                database_url: args.database_url.clone(),
            },
            Some(Command::Audit(AuditCommand::VerifyProof(_))) => Overrides::default(),
        };
        Settings::load(self.config.as_deref(), &overrides)
    }

    /// Runs the command.
    ///
    /// # Errors
    /// When the command fails.
    pub async fn run(self, settings: Settings) -> anyhow::Result<()> {
        match self.command {
            None | Some(Command::Serve(_)) => {
                let listener = TcpListener::bind(settings.server.listen)
                    .await
                    .with_context(|| format!("binding {}", settings.server.listen))?;
                server::run(settings, listener, shutdown_signal()).await
            }
            Some(Command::Migrate(_)) => {
                let store = Store::connect(&settings.database).await?;
                store.migrate().await?;
                tracing::info!(database = %settings.database.redacted_url(), "migrations applied");
                store.close().await
            }
            Some(Command::Audit(AuditCommand::VerifyProof(args))) => verify_proof(&args),
            Some(Command::Audit(AuditCommand::PublicKey(_))) => {
                println!("{}", settings.audit_key()?.public_key());
                Ok(())
            }
            Some(Command::Audit(AuditCommand::Verify(_))) => {
                let public_key = settings.audit_key()?.public_key();
                let store = Store::connect(&settings.database).await?;
                let outcome = verify_log(&store, &public_key).await;
                store.close().await?;
                outcome
            }
            Some(Command::Token(command)) => {
                let store = Store::connect(&settings.database).await?;
                store.migrate().await?;
                store.seed_regions().await?;
                let outcome = run_token(&store, command).await;
                store.close().await?;
                outcome
            }
        }
    }
}

async fn run_token(store: &Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => {
            let role = Role::from_word(&args.role).with_context(|| {
                format!(
                    "--role {}: use ADMIN, COORDINATOR, FUND_OFFICER, SUPERVISOR or AUDITOR",
                    args.role
                )
            })?;
            let expire_time = args
                .expires_in_days
                .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let scopes = args
                .scopes
                .iter()
                .map(|scope| RegionCode::from_name("--scope", scope))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let change = CreateToken {
                role,
                label: args.label,
                scopes,
                fields: TokenFields::COMMAND_LINE,
                expire_time,
            };
            let IssuedToken { row, secret } = store
                .write(Call::command_line("duikou token create"), change)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(token = row.id, role = role.word(), "access token created");
            println!("{secret}");
        }
        TokenCommand::List(_) => {
            let mut after = None;
            loop {
                let rows = token::list(store.db(), after, 500)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let Some(last) = rows.last() else { break };
                after = Some(last.id);
                for row in &rows {
                    let role = row.role.word();
                    let scope = if row.scopes.is_empty() {
                        "everywhere"
                    } else {
                        row.scopes.as_str()
                    };
                    let state = match (row.revoke_time, row.expire_time) {
                        (Some(t), _) => format!("revoked {t}"),
                        (None, Some(t)) => format!("expires {t}"),
                        (None, None) => "valid".to_owned(),
                    };
                    // A label stored before labels were one line must not forge a row.
                    let (label, scope) = (text::printable(&row.label), text::printable(scope));
                    println!("{}\t{role}\t{label}\t{scope}\t{state}", row.id);
                }
            }
        }
        TokenCommand::Revoke(args) => {
            let id = args.id;
            store
                .write(
                    Call::command_line("duikou token revoke"),
                    RevokeToken { id },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(token = id, "access token revoked");
        }
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}

async fn verify_log(store: &Store, public_key: &str) -> anyhow::Result<()> {
    let db = store.db();
    let size = audit::size(db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(mismatch) = audit::verify(db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        anyhow::bail!(
            "the audit log is damaged at event {}: {}",
            mismatch.seq,
            mismatch.problem
        );
    }
    if let Some((claimed, why)) = audit::verify_checkpoints(db, public_key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        anyhow::bail!("the audit log does not match checkpoint {claimed}: {why}");
    }
    println!("intact: {size} events, every checkpoint signed and matching");
    Ok(())
}

/// Reads a JSON file that grpcurl printed.
fn json_file(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// A number in grpcurl's JSON: int64 values come as strings; an absent one is zero.
fn json_u64(value: &serde_json::Value, field: &str) -> anyhow::Result<u64> {
    match value.get(field) {
        None => Ok(0),
        Some(serde_json::Value::String(s)) => s.parse().with_context(|| format!("{field}: {s}")),
        Some(v) => v
            .as_u64()
            .with_context(|| format!("{field} is not a number")),
    }
}

/// A base64 SHA-256 in grpcurl's JSON.
fn hash_of(value: Option<&serde_json::Value>, what: &str) -> anyhow::Result<merkle::Hash> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    value
        .and_then(serde_json::Value::as_str)
        .and_then(|text| STANDARD.decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{what} is missing or not a base64 SHA-256"))
}

fn proof_hashes(proof: &serde_json::Value) -> anyhow::Result<Vec<merkle::Hash>> {
    proof
        .get("hashes")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .map(|h| hash_of(Some(h), "a proof hash"))
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// A checkpoint file whose signature holds under `public_key`.
fn signed_checkpoint(path: &std::path::Path, public_key: &str) -> anyhow::Result<Checkpoint> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let json = json_file(path)?;
    let text = json
        .get("text")
        .and_then(serde_json::Value::as_str)
        .context("the checkpoint has no text")?;
    let signature = json
        .get("signature")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
        .context("the checkpoint has no signature")?;
    verify_signed(public_key, text, &signature).with_context(|| {
        format!(
            "{}: the signature does not hold under this key",
            path.display()
        )
    })
}

fn verify_proof(args: &VerifyProofArgs) -> anyhow::Result<()> {
    let checkpoint = signed_checkpoint(&args.checkpoint, &args.public_key)?;
    let proof = json_file(&args.proof)?;
    if proof.get("leafHash").is_some() {
        let sequence = json_u64(&proof, "sequence")?;
        let size = json_u64(&proof, "treeSize")?;
        anyhow::ensure!(
            size == checkpoint.tree_size,
            "the proof is for a tree of {size} events, the checkpoint for {}",
            checkpoint.tree_size
        );
        anyhow::ensure!(sequence >= 1, "the proof names no event");
        let leaf = hash_of(proof.get("leafHash"), "leafHash")?;
        anyhow::ensure!(
            merkle::verify_inclusion(
                sequence - 1,
                size,
                &leaf,
                &proof_hashes(&proof)?,
                &checkpoint.root
            ),
            "the inclusion proof does not hold: event {sequence} is not in the signed tree"
        );
        println!("event {sequence} is in the signed tree of {size} events");
    } else {
        let first = json_u64(&proof, "firstSize")?;
        let second = json_u64(&proof, "secondSize")?;
        anyhow::ensure!(
            second == checkpoint.tree_size,
            "the proof reaches a tree of {second} events, the checkpoint covers {}",
            checkpoint.tree_size
        );
        let first_root = match &args.first_checkpoint {
            Some(path) => {
                let earlier = signed_checkpoint(path, &args.public_key)?;
                anyhow::ensure!(
                    earlier.tree_size == first,
                    "the earlier checkpoint covers {} events, the proof starts from {first}",
                    earlier.tree_size
                );
                earlier.root
            }
            None => hash_of(proof.get("firstRootHash"), "firstRootHash")?,
        };
        anyhow::ensure!(
            merkle::verify_consistency(
                first,
                second,
                &first_root,
                &checkpoint.root,
                &proof_hashes(&proof)?
            ),
            "the consistency proof does not hold: the log of {first} events is not a prefix \
             of the signed one"
        );
        println!("the log of {first} events is a prefix of the signed log of {second} events");
    }
    Ok(())
}
