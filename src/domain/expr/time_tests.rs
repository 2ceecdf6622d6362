//! Timestamps against the CEL specification's conformance cases (`cel-spec`,
//! `tests/simple/testdata/timestamps.textproto`: the cases that need no protobuf bindings) and
//! against the rule that accessors without a zone read the instant in UTC.

use super::Expr;
use crate::domain::data::tests::context;
use serde_json::{Value, json};

fn eval(source: &str) -> Result<Value, String> {
    Expr::compile(source)?.evaluate(&context(json!({}), &[]))
}

fn eval_with(source: &str, vars: Value) -> Result<Value, String> {
    Expr::compile(source)?.evaluate(&context(vars, &[]))
}

/// (name, expression, expected value)
const SPEC_VALUES: &[(&str, &str, i64)] = &[
    ("toInt_timestamp", "int(timestamp('2009-02-13T23:31:30Z'))", 1_234_567_890),
    ("getDate", "timestamp('2009-02-13T23:31:30Z').getDate()", 13),
    ("getDayOfMonth", "timestamp('2009-02-13T23:31:30Z').getDayOfMonth()", 12),
    ("getDayOfWeek", "timestamp('2009-02-13T23:31:30Z').getDayOfWeek()", 5),
    ("getDayOfYear", "timestamp('2009-02-13T23:31:30Z').getDayOfYear()", 43),
    ("getFullYear", "timestamp('2009-02-13T23:31:30Z').getFullYear()", 2009),
    ("getHours", "timestamp('2009-02-13T23:31:30Z').getHours()", 23),
    ("getMilliseconds", "timestamp('2009-02-13T23:31:20.123456789Z').getMilliseconds()", 123),
    ("getMinutes", "timestamp('2009-02-13T23:31:30Z').getMinutes()", 31),
    ("getMonth", "timestamp('2009-02-13T23:31:30Z').getMonth()", 1),
    ("getSeconds", "timestamp('2009-02-13T23:31:30Z').getSeconds()", 30),
    ("tz getDate", "timestamp('2009-02-13T23:31:30Z').getDate('Australia/Sydney')", 14),
    ("tz getDayOfMonth_name_pos", "timestamp('2009-02-13T23:31:30Z').getDayOfMonth('US/Central')", 12),
    ("tz getDayOfMonth_numerical_pos", "timestamp('2009-02-13T23:31:30Z').getDayOfMonth('+11:00')", 13),
    ("tz getDayOfMonth_numerical_neg", "timestamp('2009-02-13T02:00:00Z').getDayOfMonth('-02:30')", 11),
    ("tz getDayOfMonth_name_neg", "timestamp('2009-02-13T02:00:00Z').getDayOfMonth('America/St_Johns')", 11),
    ("tz getDayOfWeek", "timestamp('2009-02-13T23:31:30Z').getDayOfWeek('UTC')", 5),
    ("tz getDayOfYear", "timestamp('2009-02-13T23:31:30Z').getDayOfYear('US/Central')", 43),
    ("tz getFullYear", "timestamp('2009-02-13T23:31:30Z').getFullYear('-09:30')", 2009),
    ("tz getHours", "timestamp('2009-02-13T23:31:30Z').getHours('02:00')", 1),
    ("tz getMinutes", "timestamp('2009-02-13T23:31:30Z').getMinutes('Asia/Kathmandu')", 16),
    ("tz getMonth", "timestamp('2009-02-13T23:31:30Z').getMonth('UTC')", 1),
    ("tz getSeconds", "timestamp('2009-02-13T23:31:30Z').getSeconds('-00:00')", 30),
];

/// (name, expression) that must be true.
const SPEC_TRUE: &[(&str, &str)] = &[
    ("eq_same", "timestamp('2009-02-13T23:31:30Z') == timestamp('2009-02-13T23:31:30Z')"),
    ("eq_diff", "!(timestamp('2009-02-13T23:31:29Z') == timestamp('2009-02-13T23:31:30Z'))"),
    ("neq_diff", "timestamp('2000-01-01T00:00:00Z') != timestamp('2001-01-01T00:00:00Z')"),
    (
        "add_duration_to_time",
        "timestamp('2009-02-13T23:00:00Z') + duration('240s') == timestamp('2009-02-13T23:04:00Z')",
    ),
    (
        "add_time_to_duration",
        "duration('120s') + timestamp('2009-02-13T23:01:00Z') == timestamp('2009-02-13T23:03:00Z')",
    ),
    (
        "subtract_duration_from_time",
        "timestamp('2009-02-13T23:10:00Z') - duration('600s') == timestamp('2009-02-13T23:00:00Z')",
    ),
    (
        "subtract_time_from_time",
        "timestamp('2009-02-13T23:31:00Z') - timestamp('2009-02-13T23:29:00Z') == duration('120s')",
    ),
    ("leq_timestamp_true", "timestamp('2009-02-13T23:00:00Z') <= timestamp('2009-02-13T23:00:00Z')"),
    ("less_timestamp_true", "timestamp('2009-02-13T23:00:00Z') < timestamp('2009-03-13T23:00:00Z')"),
    ("greater_timestamp_true", "timestamp('2009-02-13T23:59:00Z') > timestamp('2009-02-13T23:00:00Z')"),
    ("toString_timestamp", "string(timestamp('2009-02-13T23:31:30Z')) == '2009-02-13T23:31:30Z'"),
    (
        "toString_timestamp_nanos",
        "string(timestamp('9999-12-31T23:59:59.999999999Z')) == '9999-12-31T23:59:59.999999999Z'",
    ),
];

/// Out-of-range timestamps must fail (the spec's "range" errors).
const SPEC_RANGE_ERRORS: &[&str] = &[
    "timestamp('0000-01-01T00:00:00Z')",
    "timestamp('10000-01-01T00:00:00Z')",
    "timestamp('0001-01-01T00:00:00Z') + duration('-1s')",
    "timestamp('9999-12-31T23:59:59Z') + duration('1s')",
];

#[test]
fn the_specifications_timestamp_values_hold() {
    for (name, source, expected) in SPEC_VALUES {
        assert_eq!(eval(source), Ok(json!(expected)), "{name}: {source}");
    }
    for (name, source) in SPEC_TRUE {
        assert_eq!(eval(source), Ok(json!(true)), "{name}: {source}");
    }
    for source in SPEC_RANGE_ERRORS {
        assert!(eval(source).is_err(), "{source} must be a range error");
    }
}

#[test]
fn accessors_without_a_zone_read_the_instant_in_utc() {
    assert_eq!(eval("timestamp('2026-07-01T01:00:00+02:00').getHours()"), Ok(json!(23)));
    assert_eq!(eval("timestamp('2026-07-01T01:00:00+02:00').getDate()"), Ok(json!(30)));
    assert_eq!(eval("timestamp('2026-07-01T01:00:00+02:00').getMonth()"), Ok(json!(5)));
    assert_eq!(eval("timestamp('2026-01-01T00:30:00+01:00').getFullYear()"), Ok(json!(2025)));
    assert_eq!(eval("timestamp('2026-07-01T01:00:00+02:00').getDayOfWeek()"), Ok(json!(2)));
    assert_eq!(eval("timestamp('2026-07-01T22:15:00-05:00').getMinutes()"), Ok(json!(15)));
    assert_eq!(eval("timestamp('2026-07-01T22:15:00-05:00').getHours()"), Ok(json!(3)));
}

#[test]
fn accessors_with_a_zone_read_the_instant_there() {
    let t = "timestamp('2026-07-01T01:00:00+02:00')";
    assert_eq!(eval(&format!("{t}.getHours('Europe/Berlin')")), Ok(json!(1)));
    assert_eq!(eval(&format!("{t}.getHours('+02:00')")), Ok(json!(1)));
    assert_eq!(eval(&format!("{t}.getHours('America/New_York')")), Ok(json!(19)));
    assert_eq!(eval(&format!("{t}.getDate('Asia/Tokyo')")), Ok(json!(1)));
    assert_eq!(eval(&format!("{t}.getHours('UTC')")), Ok(json!(23)));
    assert!(eval(&format!("{t}.getHours('Mars/Base')")).unwrap_err().contains("Mars/Base"));
}

#[test]
fn the_same_instant_takes_the_same_branch_whatever_its_offset() {
    let rule = "timestamp(at).getHours() >= 22 && timestamp(at).getDayOfWeek() == 2";
    let spellings = ["2026-06-30T23:00:00Z", "2026-07-01T01:00:00+02:00", "2026-06-30T18:00:00-05:00"];
    for at in spellings {
        assert_eq!(eval_with(rule, json!({"at": at})), Ok(json!(true)), "{at}");
    }
    let shifted = "timestamp(at).getHours('Asia/Kolkata') == 4 && timestamp(at).getMinutes('Asia/Kolkata') == 30";
    for at in spellings {
        assert_eq!(eval_with(shifted, json!({"at": at})), Ok(json!(true)), "{at}");
    }
}

#[test]
fn a_variable_named_timestamp_is_still_a_variable() {
    assert_eq!(eval_with("timestamp == 'x'", json!({"timestamp": "x"})), Ok(json!(true)));
    assert_eq!(eval("timestamp(timestamp('2026-07-01T01:00:00+02:00')).getHours()"), Ok(json!(23)));
    assert_eq!(eval("timestamp(0).getFullYear()"), Ok(json!(1970)));
}
