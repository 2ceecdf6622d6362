//! The binary at start: every malformed setting stops it with one line naming the setting and the
//! expected form; normalised settings work; `--help` names every variable read; log lines carry
//! no colour codes off a terminal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");

/// Every environment variable the server reads, `OXIFY_*` or not.
const VARIABLES: &[&str] = &[
    "OXIFY_HOST",
    "OXIFY_PORT",
    "OXIFY_LOG_LEVEL",
    "OXIFY_LOG_FORMAT",
    "OXIFY_DATABASE_URL",
    "OXIFY_DATABASE_MAX_CONNECTIONS",
    "OXIFY_LEASE_SECS",
    "OXIFY_MAX_CONCURRENT_NODES",
    "OXIFY_NODE_TIMEOUT_SECS",
    "OXIFY_CORS_ORIGINS",
    "OXIFY_MAX_BODY_BYTES",
    "OXIFY_SSE_KEEPALIVE_SECS",
    "OXIFY_OLLAMA_URL",
    "OXIFY_LLM_LIMITS",
    "OXIFY_LLM_CONCURRENCY",
    "OXIFY_LLM_PRICES",
    "OXIFY_IDEMPOTENCY_TTL_SECS",
    "OXIFY_SHUTDOWN_GRACE_SECS",
    "OXIFY_HEADER_TIMEOUT_SECS",
    "OXIFY_BODY_TIMEOUT_SECS",
    "OXIFY_IDLE_TIMEOUT_SECS",
    "OXIFY_MAX_CONNECTIONS",
    "OXIFY_OPEN_FILES",
    "OXIFY_REGISTRATION",
    "OXIFY_ALLOW_ANONYMOUS",
    "OXIFY_JWT_SECRET",
    "OXIFY_JWT_TTL_SECS",
    "OXIFY_OIDC_ISSUER",
    "OXIFY_OIDC_AUDIENCE",
    "OXIFY_BOOTSTRAP_KEY_FILE",
    "OXIFY_BOOTSTRAP_ADMIN_KEY",
    "OXIFY_RATE_LIMIT_PER_MIN",
    "OXIFY_AUTH_RATE_LIMIT_PER_MIN",
    "OXIFY_TRUSTED_PROXIES",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "RUST_LOG",
    "NO_COLOR",
];

/// A command for the binary with none of the variables it reads inherited from the test's
/// environment.
fn bin() -> Command {
    let mut command = Command::new(BIN);
    for var in VARIABLES {
        command.env_remove(var);
    }
    command
}

#[test]
fn help_lists_every_variable_the_server_reads() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for var in VARIABLES {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

/// The whole stderr of a start that must fail, and its last line.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = bin()
        .env("OXIFY_PORT", "0")
        .env("OXIFY_DATABASE_URL", "memory://")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} {env:?} should not start");
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap_or_default().to_owned();
    (err, last)
}

/// Flags, environment, and how the refusal's last line starts after `invalid configuration: `.
type Case = (&'static [&'static str], &'static [(&'static str, &'static str)], &'static str);

#[test]
fn each_malformed_setting_is_one_line_naming_it_and_the_expected_form() {
    let cases: &[Case] = &[
        (&["--cors-origins", "not a url"], &[], "OXIFY_CORS_ORIGINS (--cors-origins): 'not a url' has no scheme"),
        (
            &["--cors-origins", "127.0.0.1:8088"],
            &[],
            "OXIFY_CORS_ORIGINS (--cors-origins): '127.0.0.1:8088' has no scheme",
        ),
        (
            &[],
            &[("OXIFY_CORS_ORIGINS", "https://a.example/app")],
            "OXIFY_CORS_ORIGINS (--cors-origins): 'https://a.example/app' has a path",
        ),
        (&["--host", "not a host"], &[], "OXIFY_HOST (--host): 'not a host' is not an address"),
        (
            &["--log-level", "oxify_api=loud"],
            &[],
            "OXIFY_LOG_LEVEL (--log-level): 'oxify_api=loud' is not a log filter",
        ),
        (&[], &[("RUST_LOG", "oxify_api=loud")], "RUST_LOG: 'oxify_api=loud' is not a log filter"),
        (&["--ollama-url", "gpu-box:8000"], &[], "OXIFY_OLLAMA_URL (--ollama-url): 'gpu-box:8000'"),
        (&["--llm-limits", "openai=fast"], &[], "OXIFY_LLM_LIMITS (--llm-limits): "),
        (&["--llm-prices", "gpt=cheap"], &[], "OXIFY_LLM_PRICES (--llm-prices): "),
        (&[], &[("OPENAI_BASE_URL", "api.openai.com/v1")], "OPENAI_BASE_URL: 'api.openai.com/v1' is not a URL"),
        (&[], &[("ANTHROPIC_BASE_URL", "ftp://x")], "ANTHROPIC_BASE_URL: 'ftp://x' is not an http or https URL"),
        (&[], &[("OLLAMA_HOST", "not a host")], "OLLAMA_HOST: 'not a host' is not an address"),
        (&[], &[("OPENAI_API_KEY", "sk-with a space")], "OPENAI_API_KEY: the key contains spaces"),
    ];
    for (args, env, start) in cases {
        let (_, last) = refused(args, env);
        let expected = format!("oxify-api: invalid configuration: {start}");
        assert!(last.starts_with(&expected), "{args:?} {env:?}:\n{last}\nshould start with\n{expected}");
        assert!(last.contains("expected"), "{last} names the expected form");
        assert!(!last.contains("sk-with"), "a key never shows: {last}");
    }
}

#[test]
fn numbers_out_of_range_are_refused_by_name() {
    for (flag, value) in [
        ("--max-body-bytes", "0"),
        ("--lease-secs", "0"),
        ("--header-timeout-secs", "0"),
        ("--body-timeout-secs", "99999999"),
        ("--max-connections", "0"),
        ("--port", "70000"),
    ] {
        let (err, _) = refused(&[flag, value], &[]);
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains(flag) && first.contains(value), "{flag} {value}: {first}");
    }
}

#[test]
fn a_missing_database_directory_is_named_as_such() {
    let (_, last) = refused(&["--database-url", "sqlite:///nonexistent-dir/sub/oxify.db"], &[]);
    assert!(last.contains("directory /nonexistent-dir/sub does not exist"), "{last}");
}

/// Starts the binary; returns it, its URL and its stderr reader.
fn start(args: &[&str]) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut child = bin()
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", "memory://"])
        .args(args)
        .env("OXIFY_ALLOW_ANONYMOUS", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("oxify-api listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    (child, url, stderr)
}

#[tokio::test]
async fn a_cors_origin_with_a_trailing_slash_is_normalised_and_works() {
    let (mut child, url, _stderr) = start(&["--cors-origins", "http://127.0.0.1:8088/"]);
    let reply = reqwest::Client::new()
        .get(format!("{url}/health"))
        .header("Origin", "http://127.0.0.1:8088")
        .send()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reply.headers()["access-control-allow-origin"], "http://127.0.0.1:8088");
}

#[test]
fn log_lines_carry_no_colour_codes_off_a_terminal() {
    let (mut child, _url, mut stderr) = start(&[]);
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("starting"), "{first}");
    assert!(!first.contains('\u{1b}'), "no escape codes: {first:?}");
}
