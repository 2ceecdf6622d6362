//! List parameters: `limit` and an opaque `cursor` (keyset pagination, newest first).

use super::error::ApiError;
use crate::ports::{Cursor, PageRequest};
use chrono::DateTime;
use serde::Deserialize;
use utoipa::IntoParams;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Paging of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

impl PageParams {
    /// # Errors
    /// A 400 for a limit out of range or a cursor this server did not hand out.
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}")));
        }
        let after = self.cursor.as_deref().map(decode).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

/// A cursor as `<microseconds since 1970>_<id in 32 hex digits>`: readable, and every string of
/// that form (the form the OpenAPI document declares) is one the server accepts.
#[must_use]
pub fn encode(cursor: &Cursor) -> String {
    let micros = cursor.created_at.timestamp_micros().max(0);
    format!("{micros}_{}", cursor.id.simple())
}

fn decode(text: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::bad_request("invalid cursor: pass the next_cursor of a previous page unchanged");
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let digits =
        |s: &str, most: usize, ok: fn(&u8) -> bool| !s.is_empty() && s.len() <= most && s.bytes().all(|b| ok(&b));
    if !digits(micros, 16, u8::is_ascii_digit)
        || id.len() != 32
        || !digits(id, 32, |b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(bad());
    }
    let created_at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok(Cursor { created_at, id: id.parse().map_err(|_| bad())? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SubsecRound, Utc};

    #[test]
    fn cursor_round_trips() {
        let c = Cursor { created_at: Utc::now().trunc_subsecs(6), id: uuid::Uuid::now_v7() };
        let params = PageParams { limit: None, cursor: Some(encode(&c)) };
        assert_eq!(params.to_request().unwrap(), PageRequest { limit: DEFAULT_LIMIT, after: Some(c) });
    }

    #[test]
    fn bad_cursor_and_limit_are_client_errors() {
        for bad in [
            "nope",
            "",
            "1_",
            "_0123456789abcdef0123456789abcdef",
            "12345678901234567_0123456789abcdef0123456789abcdef",
            "1_0123456789ABCDEF0123456789abcdef",
        ] {
            assert!(PageParams { limit: None, cursor: Some(bad.into()) }.to_request().is_err(), "{bad}");
        }
        assert!(PageParams { limit: None, cursor: Some(format!("0_{}", "f".repeat(32))) }.to_request().is_ok());
        assert!(PageParams { limit: Some(0), cursor: None }.to_request().is_err());
        assert!(PageParams { limit: Some(501), cursor: None }.to_request().is_err());
    }
}
