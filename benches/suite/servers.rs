//! Servers in their own processes (this binary, started again in a serving mode), so that load
//! generation and serving do not share a runtime: our server, and the hello-world floor.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Served {
    child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], env: &[(&str, String)]) -> Served {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).env("OXIFY_LOG_LEVEL", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start a server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the address");
    let url = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("server said: {line}")).to_owned();
    Served { child, url }
}

/// Our server on `database_url`, its LLM provider at `openai_url` if given.
pub fn oxify(database_url: &str, openai_url: Option<&str>) -> Served {
    let mut env = Vec::new();
    if let Some(url) = openai_url {
        env.push(("OPENAI_BASE_URL", url.to_owned()));
        env.push(("OPENAI_API_KEY", "bench".to_owned()));
    }
    start(&["--serve-oxify", database_url], &env)
}

pub fn hello() -> Served {
    start(&["--serve-hello"], &[])
}

/// In the child: serve and never return.
pub async fn serve_mode(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("--serve-oxify") => {
            let mut config = oxify_api::startup::config::Config::defaults();
            config.host = "127.0.0.1".into();
            config.port = 0;
            config.database_url = args.get(1).cloned().unwrap_or_else(|| "memory://".into());
            config.max_concurrent_nodes = 64;
            config.llm_concurrency = 256;
            // The benchmarks measure the engine and the HTTP path, not authentication or limits.
            config.access.allow_anonymous = true;
            config.access.rate_limit_per_min = 0;
            oxify_api::startup::telemetry::init(&config);
            let services = oxify_api::startup::wiring::build(&config).await.expect("services");
            let server = oxify_api::startup::server::Server::start(&config, services).await.expect("server");
            println!("listening http://{}", server.addr());
            let _ = server.wait().await;
            true
        }
        Some("--serve-hello") => {
            let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            println!("listening http://{}", listener.local_addr().expect("addr"));
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
            true
        }
        _ => false,
    }
}
