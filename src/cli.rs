//! The command line: `duikou serve` (the default) and `duikou migrate`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::{
    config::{Overrides, Settings},
    server,
    store::Store,
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
            Some(Command::Migrate(args)) => Overrides {
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
        }
    }
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
