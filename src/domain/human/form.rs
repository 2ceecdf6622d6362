//! Forms: a submission checked field by field (type, required, options, `validation` pattern,
//! email and date formats), every problem reported with its path; the form as JSON Schema; and
//! the values as shown, with `Password` fields redacted.

use crate::domain::validation::Problem;
use crate::domain::workflow::{FormField, FormFieldType};
use serde_json::{Map, Value, json};

/// What a `Password` field's value is replaced with wherever the form's values are shown: the
/// node's output, events, the API. The value itself is kept sealed (see
/// [`crate::domain::human::HumanTask`] and the form service).
pub const REDACTED: &str = "[redacted]";

/// The accepted values of a submission: every field of the form, a missing optional one as its
/// `default_value` or `null`. Password values are in clear text here: callers seal and redact.
///
/// # Errors
/// Every problem, each with the path `values.<field id>` (or `values` for the whole).
pub fn check(fields: &[FormField], values: &Map<String, Value>) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut report = |path: String, problem: String| problems.push(Problem { node_id: None, path, problem });
    for key in values.keys() {
        if !fields.iter().any(|f| &f.id == key) {
            report(format!("values.{key}"), format!("'{key}' is not a field of this form"));
        }
    }
    let mut accepted = Map::new();
    for field in fields {
        let path = format!("values.{}", field.id);
        let given = values.get(&field.id).filter(|v| !is_empty(v));
        let value = match given.or(field.default_value.as_ref().filter(|v| !is_empty(v))) {
            Some(v) => v,
            None => {
                if field.required {
                    report(path, format!("'{}' is required", field.label));
                }
                accepted.insert(field.id.clone(), Value::Null);
                continue;
            }
        };
        match check_value(field, value) {
            Ok(()) => {
                accepted.insert(field.id.clone(), value.clone());
            }
            Err(problem) => report(path, problem),
        }
    }
    if problems.is_empty() { Ok(accepted) } else { Err(problems) }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn check_value(field: &FormField, value: &Value) -> Result<(), String> {
    use FormFieldType as T;
    let text = || value.as_str().ok_or_else(|| format!("'{}' must be text", field.label));
    match field.field_type {
        T::Text | T::TextArea | T::Password => {
            text()?;
        }
        T::Number => {
            if !value.is_number() {
                return Err(format!("'{}' must be a number", field.label));
            }
        }
        T::Email => {
            crate::domain::identity::Email::parse(text()?)
                .map_err(|_| format!("'{}' must be an email address", field.label))?;
        }
        T::Checkbox => {
            if !value.is_boolean() {
                return Err(format!("'{}' must be true or false", field.label));
            }
        }
        T::Date => {
            chrono::NaiveDate::parse_from_str(text()?, "%Y-%m-%d")
                .map_err(|_| format!("'{}' must be a date, YYYY-MM-DD", field.label))?;
        }
        T::DateTime => {
            chrono::DateTime::parse_from_rfc3339(text()?).map_err(|_| {
                format!("'{}' must be a date and time (RFC 3339, e.g. 2026-12-01T10:00:00Z)", field.label)
            })?;
        }
        T::Select | T::Radio => {
            if !options(field).any(|o| o == value) {
                return Err(format!("'{}' must be one of {}", field.label, listed(field)));
            }
        }
        T::MultiSelect => {
            let Some(items) = value.as_array() else {
                return Err(format!("'{}' must be a list of options", field.label));
            };
            if let Some(bad) = items.iter().find(|i| !options(field).any(|o| o == *i)) {
                return Err(format!("'{}': {bad} is not one of {}", field.label, listed(field)));
            }
        }
    }
    if let (Some(pattern), Some(s)) = (pattern(field), value.as_str()) {
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("'{}' has a validation pattern that is not a regular expression: {e}", field.label))?;
        if !re.is_match(s) {
            return Err(format!("'{}' does not match the pattern {pattern}", field.label));
        }
    }
    Ok(())
}

/// What makes a field unusable as configured, each with the config field at fault (below the
/// field): an id that is not a plain name (submissions and templates address values by it), a
/// choice without options, a Password with a default (it would sit in clear in the workflow), a
/// default its own checks refuse.
#[must_use]
pub fn field_problems(field: &FormField) -> Vec<(&'static str, String)> {
    use FormFieldType as T;
    let mut problems = Vec::new();
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if field.id.is_empty() || !field.id.chars().all(plain) {
        problems.push(("id", format!("field id '{}' must be letters, digits, '_' or '-'", field.id)));
    }
    if matches!(field.field_type, T::Select | T::Radio | T::MultiSelect) && field.options.is_empty() {
        problems.push(("options", format!("'{}' is a choice without options", field.label)));
    }
    match (&field.default_value, field.field_type) {
        (Some(_), T::Password) => problems.push((
            "default_value",
            format!(
                "'{}' is a Password field: it cannot have a default value (it would be kept in clear)",
                field.label
            ),
        )),
        (Some(value), _) if !value.is_null() => {
            if let Err(problem) = check_value(field, value) {
                problems.push(("default_value", format!("the default value does not fit: {problem}")));
            }
        }
        _ => {}
    }
    problems
}

/// What is wrong with the field's `validation` pattern, if it is not a regular expression.
#[must_use]
pub fn pattern_problem(field: &FormField) -> Option<String> {
    let p = pattern(field)?;
    regex::Regex::new(&format!("^(?:{p})$"))
        .err()
        .map(|e| format!("field '{}' has a validation pattern that is not a regular expression: {e}", field.id))
}

/// The values a choice field offers: each option, or its `value` when the option is an object
/// `{"value", "label"}`.
fn options(field: &FormField) -> impl Iterator<Item = &Value> {
    field.options.iter().map(|o| o.get("value").unwrap_or(o))
}

fn listed(field: &FormField) -> String {
    options(field).map(Value::to_string).collect::<Vec<_>>().join(", ")
}

/// The field's `validation` pattern: a string, or `{"pattern": "..."}`.
fn pattern(field: &FormField) -> Option<&str> {
    match field.validation.as_ref()? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Object(o) => o.get("pattern").and_then(Value::as_str),
        _ => None,
    }
}

/// The values as shown anywhere (output, events, API): `Password` fields replaced by
/// [`REDACTED`] (a `null` stays `null`).
#[must_use]
pub fn redacted(fields: &[FormField], values: &Map<String, Value>) -> Map<String, Value> {
    let mut shown = values.clone();
    for field in fields.iter().filter(|f| f.field_type == FormFieldType::Password) {
        if let Some(v) = shown.get_mut(&field.id)
            && !v.is_null()
        {
            *v = Value::String(REDACTED.into());
        }
    }
    shown
}

/// The `Password` values of accepted values (to be sealed).
#[must_use]
pub fn passwords(fields: &[FormField], values: &Map<String, Value>) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|f| f.field_type == FormFieldType::Password)
        .filter_map(|f| Some((f.id.clone(), values.get(&f.id)?.as_str()?.to_owned())))
        .collect()
}

/// The form as a JSON Schema (draft 2020-12) of its submission's `values`.
#[must_use]
pub fn json_schema(title: &str, fields: &[FormField]) -> Value {
    use FormFieldType as T;
    let mut properties = Map::new();
    for field in fields {
        let choices: Vec<Value> = options(field).cloned().collect();
        let mut schema = match field.field_type {
            T::Text | T::TextArea => json!({"type": "string"}),
            T::Password => json!({"type": "string", "format": "password", "writeOnly": true}),
            T::Email => json!({"type": "string", "format": "email"}),
            T::Number => json!({"type": "number"}),
            T::Checkbox => json!({"type": "boolean"}),
            T::Date => json!({"type": "string", "format": "date"}),
            T::DateTime => json!({"type": "string", "format": "date-time"}),
            T::Select | T::Radio => json!({"enum": choices}),
            T::MultiSelect => json!({"type": "array", "items": {"enum": choices}, "uniqueItems": true}),
        };
        schema["title"] = Value::String(field.label.clone());
        if let Some(p) = pattern(field) {
            schema["pattern"] = Value::String(format!("^(?:{p})$"));
        }
        if let Some(d) = field.default_value.as_ref().filter(|_| field.field_type != T::Password) {
            schema["default"] = d.clone();
        }
        properties.insert(field.id.clone(), schema);
    }
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.id.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<FormField> {
        serde_json::from_value(json!([
            {"id": "name", "label": "Name", "field_type": "Text", "required": true, "validation": "[A-Z][a-z]+"},
            {"id": "age", "label": "Age", "field_type": "Number"},
            {"id": "email", "label": "Email", "field_type": "Email", "required": true},
            {"id": "pw", "label": "Password", "field_type": "Password", "required": true},
            {"id": "bio", "label": "Bio", "field_type": "TextArea", "default_value": "none"},
            {"id": "size", "label": "Size", "field_type": "Select", "options": ["S", "M", "L"]},
            {"id": "tags", "label": "Tags", "field_type": "MultiSelect", "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
            {"id": "tier", "label": "Tier", "field_type": "Radio", "options": [1, 2]},
            {"id": "ok", "label": "OK", "field_type": "Checkbox"},
            {"id": "day", "label": "Day", "field_type": "Date"},
            {"id": "when", "label": "When", "field_type": "DateTime"}
        ]))
        .unwrap()
    }

    fn good() -> Map<String, Value> {
        json!({"name": "Ada", "age": 36, "email": "ada@example.com", "pw": "hunter2", "size": "M",
               "tags": ["a", "b"], "tier": 2, "ok": true, "day": "2026-12-01", "when": "2026-12-01T10:00:00Z"})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn a_valid_submission_is_accepted_with_defaults_filled_in() {
        let accepted = check(&fields(), &good()).unwrap();
        assert_eq!(accepted["bio"], "none");
        assert_eq!(accepted["pw"], "hunter2");
        assert_eq!(redacted(&fields(), &accepted)["pw"], REDACTED);
        assert_eq!(passwords(&fields(), &accepted), vec![("pw".into(), "hunter2".into())]);
    }

    #[test]
    fn every_problem_is_reported_with_its_field_path() {
        let bad = json!({"name": "ada", "age": "x", "email": "nope", "size": "XL", "tags": ["c"], "tier": 3,
                         "ok": "yes", "day": "01/12/2026", "when": "tomorrow", "extra": 1});
        let problems = check(&fields(), bad.as_object().unwrap()).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "values.extra",
                "values.name",
                "values.age",
                "values.email",
                "values.pw",
                "values.size",
                "values.tags",
                "values.tier",
                "values.ok",
                "values.day",
                "values.when"
            ]
        );
        assert!(problems[1].problem.contains("pattern"), "{:?}", problems[1]);
        assert!(problems[4].problem.contains("required"), "{:?}", problems[4]);
    }

    #[test]
    fn the_json_schema_lists_every_field_and_the_required_ones() {
        let schema = json_schema("Details", &fields());
        assert_eq!(schema["required"], json!(["name", "email", "pw"]));
        assert_eq!(schema["properties"]["pw"]["writeOnly"], true);
        assert_eq!(schema["properties"]["tags"]["items"]["enum"], json!(["a", "b"]));
        assert_eq!(schema["properties"]["day"]["format"], "date");
        assert_eq!(schema["properties"].as_object().unwrap().len(), 11);
    }
}
