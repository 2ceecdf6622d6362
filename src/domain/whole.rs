//! Whole numbers in request bodies, read the way JSON Schema reads them: `12` and `12.0` are both
//! the integer 12 (a client's JSON library may write either), while a fraction, a negative
//! number, or one past the range the OpenAPI document gives (`int32` for 32-bit fields, `int64`
//! for 64-bit ones) is refused. Use with `#[serde(deserialize_with = "...")]`; serializing is
//! unchanged.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::{Number, Value};

/// Largest value of a field the document declares `int32`.
const INT32_MAX: u64 = i32::MAX as u64;
/// Largest value of a field the document declares `int64`.
const INT64_MAX: u64 = i64::MAX as u64;

fn whole<'de, D: Deserializer<'de>>(deserializer: D, max: u64) -> Result<u64, D::Error> {
    let number = Number::deserialize(deserializer)?;
    let value = number.as_u64().or_else(|| {
        // Above 2^53 a float no longer holds every whole number: such a float is refused.
        number.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9_007_199_254_740_992.0).map(|f| f as u64)
    });
    match value {
        Some(n) if n <= max => Ok(n),
        _ => Err(D::Error::custom(format!("expected a whole number from 0 to {max}, got {number}"))),
    }
}

/// A `u32` field (`int32` in the document).
///
/// # Errors
/// Not a whole number from 0 to 2147483647.
pub fn u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    whole(deserializer, INT32_MAX).map(|n| n as u32)
}

/// A `u64` field (`int64` in the document).
///
/// # Errors
/// Not a whole number from 0 to 9223372036854775807.
pub fn u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    whole(deserializer, INT64_MAX)
}

/// A `usize` field (`int64` in the document).
///
/// # Errors
/// Not a whole number from 0 to 9223372036854775807 (or past what this machine's `usize` holds).
pub fn usize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let n = whole(deserializer, INT64_MAX)?;
    usize::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large")))
}

/// An optional `u32` field; pair with `#[serde(default)]`.
///
/// # Errors
/// As [`u32`], for a value that is not `null`.
pub fn opt_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    Option::<Number>::deserialize(deserializer)?
        .map(|n| whole(Value::Number(n), INT32_MAX).map(|n| n as u32).map_err(D::Error::custom))
        .transpose()
}

/// An optional `u64` field; pair with `#[serde(default)]`.
///
/// # Errors
/// As [`u64`], for a value that is not `null`.
pub fn opt_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Option::<Number>::deserialize(deserializer)?
        .map(|n| whole(Value::Number(n), INT64_MAX).map_err(D::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        #[serde(deserialize_with = "super::u32")]
        small: u32,
        #[serde(default, deserialize_with = "super::opt_u64")]
        big: Option<u64>,
    }

    fn read(value: serde_json::Value) -> Result<Sample, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_whole_numbers_and_fractions_are_not() {
        assert_eq!(read(json!({"small": 12.0, "big": 1057.0})).unwrap(), Sample { small: 12, big: Some(1057) });
        assert_eq!(read(json!({"small": 3})).unwrap(), Sample { small: 3, big: None });
        assert_eq!(read(json!({"small": 3, "big": null})).unwrap(), Sample { small: 3, big: None });
        assert!(read(json!({"small": 1.5})).unwrap_err().contains("expected a whole number from 0 to 2147483647"));
        assert!(read(json!({"small": -1})).is_err());
        assert!(read(json!({"small": "3"})).is_err());
    }

    #[test]
    fn numbers_past_the_documented_range_are_refused() {
        assert!(read(json!({"small": 2_147_483_648_u64})).is_err());
        assert!(read(json!({"small": 1, "big": 9_223_372_036_854_775_808_u64})).is_err());
        assert!(read(json!({"small": 1, "big": 1e300})).is_err());
        assert_eq!(read(json!({"small": 1, "big": i64::MAX})).unwrap().big, Some(i64::MAX as u64));
    }
}
