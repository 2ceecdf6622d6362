//! List parameters: `limit` and an opaque `cursor` (keyset pagination, newest first).

use super::error::ApiError;
use crate::ports::{Cursor, PageRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

#[must_use]
pub fn encode(cursor: &Cursor) -> String {
    let micros = cursor.created_at.timestamp_micros();
    URL_SAFE_NO_PAD.encode(format!("{micros}:{}", cursor.id))
}

fn decode(text: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::bad_request("invalid cursor: pass the next_cursor of a previous page unchanged");
    let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = raw.split_once(':').ok_or_else(bad)?;
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
        assert!(PageParams { limit: None, cursor: Some("nope".into()) }.to_request().is_err());
        assert!(PageParams { limit: Some(0), cursor: None }.to_request().is_err());
        assert!(PageParams { limit: Some(501), cursor: None }.to_request().is_err());
    }
}
