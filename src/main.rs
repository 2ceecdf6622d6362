//! The `oxify-api` binary: parse the configuration, run the server.

use clap::Parser;
use oxify_api::app::config::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match oxify_api::app::server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxify-api: {e}");
            ExitCode::FAILURE
        }
    }
}
