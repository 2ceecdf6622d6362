//! The `oxify-api` binary: parse the configuration, run the server, report a failure to start
//! in one line on stderr.

use clap::Parser;
use oxify_api::startup::config::Config;
use oxify_api::startup::log_writer::LogWriter;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let config = Config::parse();
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => {
            let result = runtime.block_on(oxify_api::startup::server::run(config));
            // Work still running after the server stopped (a blocked write) must not hold the exit.
            runtime.shutdown_timeout(Duration::from_secs(5));
            result.map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("cannot start the async runtime: {e}")),
    };
    let code = match code {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            LogWriter::global().send(format!("oxify-api: {message}\n").as_bytes());
            ExitCode::FAILURE
        }
    };
    // The last lines (the reason for a failure among them) get a moment to reach stderr, but a
    // stderr that takes nothing cannot hold the exit.
    LogWriter::global().flush(Duration::from_secs(2));
    code
}
