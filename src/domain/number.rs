//! One spelling per number. JSON does not distinguish `3` from `3.0` (RFC 8259 §6 leaves number
//! representation to the parser), and many clients (Python's `json`, JavaScript on any computed
//! value) send whichever they happen to hold. So every number entering a run is made canonical
//! (an integral value within ±2^53 becomes an integer), and every number that becomes text is
//! written the way ECMAScript's `Number.prototype.toString` writes it: integral values without a
//! fraction, other values in their shortest round-trip form, exponent notation only beyond 1e21 or
//! below 1e-6. Then `{"count": 3.0}` and `{"count": 3}` render, route and compare the same.

use serde_json::{Map, Number, Value};

/// Largest integer every JSON consumer can hold exactly (2^53, the IEEE 754 double mantissa).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The text of a number, as ECMAScript writes it: `3`, `0.1`, `1e+21`, `-2.5e-7`.
#[must_use]
pub fn format_f64(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's `Display` for f64 is the shortest round-trip form, never with an exponent.
        return x.to_string();
    }
    // `{:e}` is shortest round-trip too: `1e21`, `-2.5e-7`; ECMAScript signs the exponent.
    let text = format!("{x:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    }
}

/// The text of a JSON number (see [`format_f64`]); integers are written exactly.
#[must_use]
pub fn format_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    format_f64(n.as_f64().unwrap_or(f64::NAN))
}

/// The text a value takes where it becomes text (Switch values, template output): strings as
/// they are, numbers canonical, everything else as compact JSON with canonical numbers.
#[must_use]
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => format_number(n),
        other if is_canonical(other) => other.to_string(),
        other => {
            let mut copy = other.clone();
            canonicalize(&mut copy);
            copy.to_string()
        }
    }
}

/// The integer an integral float stands for, when it can be held exactly.
fn integral(n: &Number) -> Option<Number> {
    if n.is_i64() || n.is_u64() {
        return None;
    }
    let x = n.as_f64()?;
    (x.fract() == 0.0 && x.abs() <= MAX_EXACT).then(|| Number::from(x as i64))
}

/// Whether every number in the value already has its canonical form.
#[must_use]
pub fn is_canonical(value: &Value) -> bool {
    match value {
        Value::Number(n) => integral(n).is_none(),
        Value::Array(items) => items.iter().all(is_canonical),
        Value::Object(map) => map.values().all(is_canonical),
        _ => true,
    }
}

/// Rewrites integral floats (`3.0`) as integers (`3`), in place, at any depth. Cheap when there
/// is nothing to rewrite: a walk, no allocation.
pub fn canonicalize(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(i) = integral(n) {
                *n = i;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize),
        Value::Object(map) => map.values_mut().for_each(canonicalize),
        _ => {}
    }
}

/// [`canonicalize`] over every value of a map.
pub fn canonicalize_map(map: &mut Map<String, Value>) {
    map.values_mut().for_each(canonicalize);
}

/// Whether two values are equal as JSON values, with `3 == 3.0` (numbers compare by value).
#[must_use]
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_are_written_as_integers() {
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(-12.0), "-12");
        assert_eq!(format_f64(0.0), "0");
        assert_eq!(format_f64(-0.0), "0");
        assert_eq!(format_f64(1e20), "100000000000000000000");
    }

    #[test]
    fn other_values_take_their_shortest_round_trip_form() {
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_f64(2.5), "2.5");
        assert_eq!(format_f64(1e21), "1e+21");
        assert_eq!(format_f64(1e300), "1e+300");
        assert_eq!(format_f64(-2.5e-7), "-2.5e-7");
        assert_eq!(format_f64(0.000001), "0.000001");
        for x in [0.1, 1.0 / 3.0, 123.456, 1e-9, 6.02e23, f64::MAX, f64::MIN_POSITIVE] {
            assert_eq!(format_f64(x).replace("e+", "e").parse::<f64>().unwrap(), x, "{x} round-trips");
        }
    }

    #[test]
    fn a_numbers_text_does_not_depend_on_its_spelling() {
        let spelled: Value = serde_json::from_str(r#"[3, 3.0, 3.00, 3e0, 30e-1]"#).unwrap();
        let texts: Vec<String> = spelled.as_array().unwrap().iter().map(text_of).collect();
        assert_eq!(texts, vec!["3"; 5]);
    }

    #[test]
    fn canonical_values_hold_integers_at_any_depth() {
        let mut v: Value = serde_json::from_str(r#"{"a": 3.0, "b": [1.5, 2.0, {"c": -0.0}], "d": "3.0"}"#).unwrap();
        assert!(!is_canonical(&v));
        canonicalize(&mut v);
        assert_eq!(v, json!({"a": 3, "b": [1.5, 2, {"c": 0}], "d": "3.0"}));
        assert!(is_canonical(&v));
        assert_eq!(v.to_string(), r#"{"a":3,"b":[1.5,2,{"c":0}],"d":"3.0"}"#);
    }

    #[test]
    fn integers_beyond_two_to_the_53_stay_floats() {
        let mut v: Value = serde_json::from_str("1e300").unwrap();
        canonicalize(&mut v);
        assert!(v.is_f64());
        assert_eq!(text_of(&v), "1e+300");
    }

    #[test]
    fn composite_values_become_json_with_canonical_numbers() {
        let v: Value = serde_json::from_str(r#"{"n": 2.0, "l": [1.0]}"#).unwrap();
        assert_eq!(text_of(&v), r#"{"l":[1],"n":2}"#);
        assert_eq!(text_of(&json!(true)), "true");
        assert_eq!(text_of(&Value::Null), "null");
    }

    #[test]
    fn numbers_compare_by_value() {
        let a: Value = serde_json::from_str(r#"{"x": [3.0, 1]}"#).unwrap();
        assert!(same_value(&a, &json!({"x": [3, 1.0]})));
        assert!(!same_value(&json!(3), &json!(3.5)));
        assert!(!same_value(&json!(3), &json!("3")));
        assert!(same_value(&json!(u64::MAX), &json!(u64::MAX)));
    }
}
