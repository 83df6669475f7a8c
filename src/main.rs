//! The `duikou` binary: parse the command line, load settings, start logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = duikou::cli::Cli::parse();
    let settings = cli.settings()?;
    duikou::telemetry::init(&settings.log)?;
    cli.run(settings).await
}
