//! SQLite errors as [`StoreError`]s: busy, full, read-only and I/O trouble are `Unavailable`
//! (worth retrying, reported as 503), a uniqueness violation is a `Conflict`.

use crate::ports::StoreError;
use rusqlite::ErrorCode;

pub(super) fn store_error(e: rusqlite::Error) -> StoreError {
    let rusqlite::Error::SqliteFailure(failure, message) = &e else {
        return StoreError::Internal(e.to_string());
    };
    let detail = message.clone().unwrap_or_else(|| failure.to_string());
    match failure.code {
        ErrorCode::ConstraintViolation
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            ) =>
        {
            StoreError::Conflict(detail)
        }
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
            StoreError::Unavailable(format!("database is busy: {detail}"))
        }
        ErrorCode::DiskFull => StoreError::Unavailable(format!("disk is full: {detail}")),
        ErrorCode::ReadOnly => StoreError::Unavailable(format!("database is read-only: {detail}")),
        ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => {
            StoreError::Unavailable(format!("disk I/O error: {detail}"))
        }
        _ => StoreError::Internal(format!("database error: {detail}")),
    }
}
