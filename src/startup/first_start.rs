//! The first start: a server with no users and no API keys creates an Admin API key of the
//! default workspace, prints it once on stderr and writes it to a file only its owner can read
//! (`OXIFY_BOOTSTRAP_KEY_FILE`, by default `oxify-admin.key` beside the SQLite database, else in
//! the working directory), so that `export OXIFY_KEY=$(cat oxify-admin.key)` is all a first
//! session needs. With `OXIFY_BOOTSTRAP_ADMIN_KEY` that key is stored instead, and nothing is
//! printed or written. With anonymous access on, no key is made (none is needed; one is made at
//! the first start without it).

use super::config::Config;
use super::error::StartupError;
use super::log_writer::LogWriter;
use crate::adapters::clock::SystemClock;
use crate::app::identity::{FirstKey, first_admin_key};
use crate::ports::IdentityStore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name when none is configured.
pub const KEY_FILE_NAME: &str = "oxify-admin.key";

/// Where the first start writes its key.
#[must_use]
pub fn key_file(config: &Config) -> PathBuf {
    if let Some(path) = &config.access.bootstrap_key_file {
        return path.clone();
    }
    let url = config.database_url.trim();
    let sqlite_file = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default());
    match sqlite_file.map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(KEY_FILE_NAME),
        _ => PathBuf::from(KEY_FILE_NAME),
    }
}

/// Creates the first admin key when this is the first start.
///
/// # Errors
/// The store fails. (A key file that cannot be written is not fatal: the key is printed.)
pub async fn admin_key_on_first_start(config: &Config, store: &dyn IdentityStore) -> Result<(), StartupError> {
    let given = config.access.given_admin_key();
    if given.is_none() && config.access.allow_anonymous {
        return Ok(());
    }
    let failed =
        |e: crate::app::error::ServiceError| StartupError::Config(format!("cannot create the first admin key: {e}"));
    match first_admin_key(store, &SystemClock, given.as_ref()).await.map_err(failed)? {
        Some(FirstKey::Generated(secret)) => {
            let path = key_file(config);
            let written = write_private(&path, secret.expose());
            let mut message = format!(
                "\noxify-api: first start: created an Admin API key of the default workspace. It is shown this once:\n\n    {}\n\n",
                secret.expose()
            );
            match written {
                Ok(()) => message.push_str(&format!(
                    "It is also in {} (readable by you only). Send it as: Authorization: Bearer <key>\n\n",
                    path.display()
                )),
                Err(e) => message.push_str(&format!(
                    "It could NOT be written to {} ({e}): copy it now. Send it as: Authorization: Bearer <key>\n\n",
                    path.display()
                )),
            }
            LogWriter::global().send(message.as_bytes());
        }
        Some(FirstKey::Given) => tracing::info!("first start: stored the admin API key of OXIFY_BOOTSTRAP_ADMIN_KEY"),
        None => {
            if let Some(given) = &given
                && store.api_key_by_prefix(given.prefix()).await.ok().flatten().is_none()
            {
                tracing::warn!(
                    "OXIFY_BOOTSTRAP_ADMIN_KEY is set, but the server has users or API keys already, so it was not stored"
                );
            }
        }
    }
    Ok(())
}

/// Writes `key` and a newline to `path`, readable and writable by the owner only (also when the
/// file existed with wider permissions).
fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(format!("{key}\n").as_bytes())?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(format!("{key}\n").as_bytes())?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_key_file_lies_beside_the_sqlite_database_or_in_the_working_directory() {
        let at = |args: &[&str]| {
            let mut all = vec!["oxify-api"];
            all.extend_from_slice(args);
            key_file(&Config::parse_from(all))
        };
        assert_eq!(
            at(&["--database-url", "sqlite:///var/lib/oxify/oxify.db"]),
            Path::new("/var/lib/oxify/oxify-admin.key")
        );
        assert_eq!(at(&["--database-url", "sqlite://data/x.db?mode=rwc"]), Path::new("data/oxify-admin.key"));
        assert_eq!(at(&[]), Path::new("oxify-admin.key"));
        assert_eq!(at(&["--database-url", "postgres://u@h/d"]), Path::new("oxify-admin.key"));
        assert_eq!(at(&["--bootstrap-key-file", "/run/k"]), Path::new("/run/k"));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "oxk_new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "oxk_new\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
