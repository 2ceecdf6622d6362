//! The save-time type check: facts are reported, the unknown is not.

use super::Expr;
use super::types::{Declared, Type};
use serde_json::json;

fn problems(source: &str, declared: &Declared, boolean: bool) -> Vec<String> {
    Expr::compile(source).unwrap().type_problems(declared, boolean)
}

fn undeclared(source: &str) -> Vec<String> {
    problems(source, &Declared::default(), true)
}

fn declared(schema: serde_json::Value) -> Declared {
    let Type::Map(variables) = Type::of_schema(&schema) else { panic!("an object schema") };
    Declared { variables, strict: true }
}

#[test]
fn a_constant_that_is_not_a_bool_is_no_condition() {
    assert_eq!(undeclared(r#""yes""#), vec!["must yield a bool, but yields a string"]);
    assert_eq!(undeclared("1 + 2"), vec!["must yield a bool, but yields an int"]);
    assert_eq!(undeclared("[true]"), vec!["must yield a bool, but yields a list"]);
    assert!(undeclared("true").is_empty());
    assert!(undeclared("x").is_empty(), "unknown without a schema");
    assert!(problems(r#""yes""#, &Declared::default(), false).is_empty(), "a Switch may yield any value");
}

#[test]
fn comparing_values_that_can_never_be_equal_is_reported() {
    let p = undeclared(r#"'a' == 1"#);
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("compares a string with an int: always false"), "{p:?}");
    assert!(undeclared("[1] != 'x'")[0].contains("always true"));
    assert!(undeclared("1 == 1.0 && 2u == 2 && x == null").is_empty(), "numbers compare across kinds");
    assert!(undeclared(r#"'a' < 2"#)[0].contains("cannot order a string against an int"));
    assert!(undeclared("!'x'")[0].contains("`!` needs a bool"));
    assert!(undeclared("1 && true")[0].contains("need bools"));
    assert!(undeclared("'a' in [1, 2]")[0].contains("always false"));
    assert!(undeclared("'a' + 1")[0].contains("`+` is not defined between a string and an int"));
    assert!(undeclared("(1).startsWith('a')")[0].contains("string function"));
}

#[test]
fn declared_inputs_give_variables_their_types() {
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "count": {"type": "integer"}, "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "user": {"type": "object", "properties": {"age": {"type": "integer"}}},
        "tier": {"enum": ["gold", "silver"]}, "note": {"type": ["string", "null"]}}});
    let d = declared(schema);
    let p = problems("id == 123", &d, true);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("compares a string with an int"), "{p:?}");
    assert!(problems("id == '123' && count > 2.5 && score >= 1 && 'x' in tags", &d, true).is_empty());
    assert!(problems("user.age >= 18 && tier == 'gold' && note == null", &d, true).is_empty());
    assert!(problems("tier == 1", &d, true)[0].contains("string with an int"));
    assert!(problems("user.age == 'x'", &d, true)[0].contains("int with a string"));
    assert!(problems("1 in tags", &d, true)[0].contains("always false"));
    assert!(problems("tags.all(t, t == 1)", &d, true)[0].contains("string with an int"));
    assert!(problems("count.x == 1", &d, true)[0].contains("has no fields"));
}

#[test]
fn with_declared_inputs_every_name_read_must_be_declared() {
    let d = declared(json!({"type": "object", "properties": {"id": {"type": "string"}}}));
    assert!(problems("idd == 'x'", &d, true)[0].contains("reads `idd`"));
    assert!(problems("variables.idd == 'x'", &d, true)[0].contains("`variables.idd`"));
    assert!(problems("has(variables.other) || id == 'x'", &d, true).is_empty(), "has() tests presence");
    assert!(problems("nodes.a.output.x == 1 && [1].exists(i, i == 1)", &d, true).is_empty());
}
