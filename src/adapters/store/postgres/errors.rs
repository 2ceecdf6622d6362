//! Postgres errors as [`StoreError`]s: connection trouble, a full disk, a read-only database and
//! serialization conflicts are `Unavailable` (worth retrying, reported as 503), a unique
//! violation is a `Conflict`. The twin of `sqlite/errors.rs`.

use crate::ports::StoreError;

/// Translates a database error. Connection trouble, a busy or full disk and a read-only database
/// are `Unavailable` (worth retrying, and reported as 503); a unique violation is a `Conflict`.
pub(in crate::adapters::store) fn store_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match transient_reason(&code) {
                Some(reason) => StoreError::Unavailable(format!("{reason}: {}", db.message())),
                None => StoreError::Internal(format!("database error {code}: {}", db.message())),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// SQLSTATEs that describe a passing condition.
fn transient_reason(code: &str) -> Option<&'static str> {
    match code {
        "53100" => Some("disk is full"),
        "25006" => Some("database is read-only"),
        "40001" | "40P01" => Some("transaction conflict"),
        c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => Some("database unavailable"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::transient_reason;

    #[test]
    fn passing_conditions_are_told_from_lasting_ones_by_sqlstate() {
        assert_eq!(transient_reason("53100"), Some("disk is full"));
        assert_eq!(transient_reason("25006"), Some("database is read-only"));
        assert_eq!(transient_reason("40P01"), Some("transaction conflict"));
        assert_eq!(transient_reason("08006"), Some("database unavailable"));
        assert_eq!(transient_reason("57P01"), Some("database unavailable"));
        assert_eq!(transient_reason("23505"), None, "a unique violation is a conflict, not a passing condition");
        assert_eq!(transient_reason("42P01"), None, "a missing table does not pass by itself");
    }
}
