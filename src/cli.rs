//! The command line: `duikou serve` (the default), `duikou migrate` and `duikou token`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::{
    api::{
        access::{self, scope_paths},
        digest,
    },
    config::{Overrides, Settings},
    domain::{access::Role, audit::Actor},
    server,
    store::{
        Store, audit,
        token::{self, NewToken},
    },
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
    /// A region the token may act on, e.g. regions/420300 (repeatable; none: everywhere).
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
            }))) => Overrides {
                listen: None,
                database_url: args.database_url.clone(),
            },
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
            let (row, secret) = store
                .write(move |tx| {
                    let (label, scopes) = (args.label.clone(), args.scopes.clone());
                    Box::pin(async move {
                        let paths = scope_paths(tx, "--scope", &scopes).await?;
                        let (row, secret) = token::create(
                            tx,
                            &NewToken {
                                role,
                                label: &label,
                                scopes: &paths,
                                expire_time,
                            },
                        )
                        .await?;
                        let after = access::to_proto(row.clone());
                        audit::append(
                            tx,
                            &Actor::command_line(),
                            "duikou token create",
                            &after.name,
                            None,
                            digest(&after),
                        )
                        .await?;
                        Ok((row, secret))
                    })
                })
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
                    let role = Role::from_number(i32::from(row.role)).map_or("?", Role::word);
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
                    println!("{}\t{role}\t{}\t{scope}\t{state}", row.id, row.label);
                }
            }
        }
        TokenCommand::Revoke(args) => {
            let id = args.id;
            store
                .write(move |tx| {
                    Box::pin(async move {
                        let row = token::revoke(tx, id).await?;
                        let after = access::to_proto(row);
                        audit::append(
                            tx,
                            &Actor::command_line(),
                            "duikou token revoke",
                            &after.name,
                            None,
                            digest(&after),
                        )
                        .await
                    })
                })
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
