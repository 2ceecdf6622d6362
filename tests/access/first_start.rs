//! The binary's first start: an Admin API key printed once on stderr and written to a file only
//! its owner can read; nothing printed at the next start; a key given for automation taken as it
//! is; and a warning when anonymous access is on beyond loopback.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_oxify-api");

/// A started binary, its URL, and (once stopped) its stderr.
struct Started {
    child: Child,
    url: String,
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Started {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OXIFY_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args(["--port", "0"])
        .args(args)
        .env("OXIFY_LOG_LEVEL", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("oxify-api listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    Started { child, url }
}

impl Started {
    /// Stops the server (SIGTERM) and returns everything it wrote on stderr.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let _ = self.child.wait();
        err
    }
}

async fn status(url: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/workflows"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_first_start_prints_its_admin_key_once_and_keeps_it_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("oxify.db").display());
    let first = start(&["--host", "127.0.0.1", "--database-url", &url], &[]);
    let file = dir.path().join("oxify-admin.key");
    let key = std::fs::read_to_string(&file).expect("the key file beside the database").trim().to_owned();
    assert!(key.starts_with("oxk_"), "{key}");
    assert_eq!(status(&first.url, &key).await, 200, "the key works");
    assert_eq!(status(&first.url, "").await, 401, "nothing works without it");
    let err = first.stop();
    assert_eq!(err.matches(&key).count(), 1, "printed once: {err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let second = start(&["--host", "127.0.0.1", "--database-url", &url], &[]);
    assert_eq!(status(&second.url, &key).await, 200, "the key outlives a restart");
    let err = second.stop();
    assert!(!err.contains("oxk_"), "nothing printed at the next start: {err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), key, "the file is left alone");
}

#[tokio::test]
async fn a_key_given_for_automation_is_taken_and_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("oxify.db").display());
    let given = format!("oxk_{}_{}", "abcdefghij", "k".repeat(40));
    let started = start(&["--host", "127.0.0.1", "--database-url", &url], &[("OXIFY_BOOTSTRAP_ADMIN_KEY", &given)]);
    assert_eq!(status(&started.url, &given).await, 200);
    let err = started.stop();
    assert!(!err.contains(&given), "{err}");
    assert!(!Path::new(&dir.path().join("oxify-admin.key")).exists(), "nothing written");
}

#[tokio::test]
async fn anonymous_access_beyond_loopback_is_warned_about() {
    let started = start(&["--host", "0.0.0.0", "--database-url", "memory://"], &[("OXIFY_ALLOW_ANONYMOUS", "true")]);
    let url = started.url.replace("0.0.0.0", "127.0.0.1");
    assert_eq!(status(&url, "").await, 401, "an empty bearer is a malformed header, still checked");
    let anonymous = reqwest::get(format!("{url}/api/v1/workflows")).await.unwrap().status().as_u16();
    assert_eq!(anonymous, 200);
    let err = started.stop();
    assert!(err.contains("OXIFY_ALLOW_ANONYMOUS is on while listening beyond this machine"), "{err}");
    assert!(!err.contains("oxk_"), "no key is made with anonymous access: {err}");
}
