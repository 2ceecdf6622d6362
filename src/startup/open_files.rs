//! The open-files limit (RLIMIT_NOFILE): raised at start as far as the system allows, since every
//! connection holds a file; and the connection cap derived from it, leaving room for the files
//! the server needs besides (database, logs, calls to providers).

/// Files kept free for everything but client connections, plus four per database connection.
const RESERVED_FILES: u64 = 64;

/// The cap on connections when none is configured.
const MAX_DEFAULT_CONNECTIONS: u64 = 10_000;

/// The soft limit before and after [`raise`], and the hard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// The soft open-files limit in force now; `None` when it cannot be read.
#[must_use]
pub fn current() -> Option<u64> {
    rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
}

/// Raises the soft open-files limit to `wanted` (`None`: the hard limit; `Some(0)`: leave it),
/// never above the hard limit and never lowering it.
///
/// # Errors
/// When the limit cannot be read (the caller logs it and goes on with what it has).
pub fn raise(wanted: Option<u64>) -> std::io::Result<OpenFiles> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let target = match wanted {
        Some(0) => before,
        Some(n) => n.min(hard),
        None => hard,
    };
    let now = if target > before { rlimit::increase_nofile_limit(target).unwrap_or(before) } else { before };
    Ok(OpenFiles { before, now, hard })
}

/// The connection cap for a soft limit of `open_files`: what is left after the reserve, at least
/// half the limit, at most 10000.
#[must_use]
pub fn default_max_connections(open_files: u64, database_connections: u32) -> usize {
    let reserve = RESERVED_FILES + 4 * u64::from(database_connections);
    let room = open_files.saturating_sub(reserve).max(open_files / 2).clamp(1, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(room).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_server_s_own_files() {
        assert_eq!(default_max_connections(1024, 10), 1024 - 104);
        assert_eq!(default_max_connections(128, 10), 64, "at least half");
        assert_eq!(default_max_connections(1 << 20, 10), 10_000);
        assert_eq!(default_max_connections(0, 10), 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one_and_never_lowered() {
        let limits = raise(None).unwrap();
        assert!(limits.before <= limits.now && limits.now <= limits.hard);
        #[cfg(target_os = "linux")]
        assert_eq!(limits.now, limits.hard);
        let again = raise(Some(1)).unwrap();
        assert_eq!(again.now, again.before, "a lower wish leaves the limit as it is");
    }
}
