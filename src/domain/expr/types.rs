//! A static type check of CEL expressions at save: what the document already shows to be wrong
//! (`"yes"` as an IfElse condition, `id == 123` when `id` is declared a string) is reported then,
//! instead of failing, or silently taking the wrong branch, in every run.
//!
//! It is deliberately partial: a type it cannot know (a node output, an undeclared variable, a
//! function it does not model) is `Dyn`, which agrees with everything. Only facts are reported.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use serde_json::Value;
use std::collections::BTreeMap;

/// A CEL type, as far as it is known before running.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Bool,
    Int,
    Uint,
    Double,
    /// A JSON Schema `number`: an `int` or a `double` at run time.
    Number,
    String,
    Bytes,
    Null,
    Timestamp,
    Duration,
    List(Box<Type>),
    /// A map; an object declared with properties knows their types.
    Map(BTreeMap<String, Type>),
    /// A type value (`type(x)`).
    Type,
    /// Unknown: agrees with everything.
    Dyn,
}

impl Type {
    fn is_numeric(&self) -> bool {
        matches!(self, Self::Int | Self::Uint | Self::Double | Self::Number)
    }

    /// How the type reads in a message: `a string`, `an int`.
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Bool => "a bool",
            Self::Int => "an int",
            Self::Uint => "a uint",
            Self::Double => "a double",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Bytes => "bytes",
            Self::Null => "null",
            Self::Timestamp => "a timestamp",
            Self::Duration => "a duration",
            Self::List(_) => "a list",
            Self::Map(_) => "a map",
            Self::Type => "a type",
            Self::Dyn => "a value",
        }
    }

    /// The type a JSON Schema describes (its `type`, or the type of its `enum`/`const` values).
    #[must_use]
    pub fn of_schema(schema: &Value) -> Self {
        let named = |name: &str, schema: &Value| match name {
            "string" => Self::String,
            "integer" => Self::Int,
            "number" => Self::Number,
            "boolean" => Self::Bool,
            "null" => Self::Null,
            "array" => Self::List(Box::new(schema.get("items").map_or(Self::Dyn, Self::of_schema))),
            "object" => Self::Map(
                schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), Self::of_schema(v))).collect())
                    .unwrap_or_default(),
            ),
            _ => Self::Dyn,
        };
        match schema.get("type") {
            Some(Value::String(name)) => named(name, schema),
            // `["string", "null"]`: null compares with anything, so the other type is what counts.
            Some(Value::Array(names)) => {
                let non_null: Vec<&str> = names.iter().filter_map(Value::as_str).filter(|n| *n != "null").collect();
                match non_null.as_slice() {
                    [one] => named(one, schema),
                    _ => Self::Dyn,
                }
            }
            _ => {
                let values = schema.get("enum").and_then(Value::as_array).cloned();
                let values = values.or_else(|| schema.get("const").map(|c| vec![c.clone()]));
                values.map_or(Self::Dyn, |v| Self::unify_all(v.iter().map(Self::of_value)))
            }
        }
    }

    fn of_value(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Int,
            Value::Number(_) => Self::Double,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::List(Box::new(Self::Dyn)),
            Value::Object(_) => Self::Map(BTreeMap::new()),
        }
    }

    fn unify_all(mut types: impl Iterator<Item = Self>) -> Self {
        let Some(first) = types.next() else { return Self::Dyn };
        types.fold(first, |a, b| if a == b { a } else { Self::Dyn })
    }

    /// Whether values of the two types can ever be equal.
    fn comparable(&self, other: &Self) -> bool {
        use Type::{Dyn, List, Map, Null};
        match (self, other) {
            (Dyn, _) | (_, Dyn) | (Null, _) | (_, Null) => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (List(a), List(b)) => a.comparable(b),
            (Map(_), Map(_)) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// Whether `<`, `<=`, `>`, `>=` are defined between the two types.
    fn ordered_with(&self, other: &Self) -> bool {
        use Type::{Bool, Bytes, Duration, Dyn, String, Timestamp};
        match (self, other) {
            (Dyn, _) | (_, Dyn) => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (String, String) | (Bytes, Bytes) | (Bool, Bool) | (Timestamp, Timestamp) | (Duration, Duration) => true,
            _ => false,
        }
    }
}

/// Where a type mistake is, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeProblem {
    /// 1-based line and column in the expression's source.
    pub at: (u32, u32),
    pub message: String,
}

/// Declared variable types, and whether a name without a declaration is an error.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    /// From the workflow's `input_schema`; empty without one.
    pub variables: BTreeMap<String, Type>,
    /// Whether the workflow declares its inputs (then every name read must be declared).
    pub strict: bool,
}

pub(super) struct Checker<'a> {
    declared: &'a Declared,
    locals: Vec<(String, Type)>,
    pub problems: Vec<(u64, String)>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(declared: &'a Declared) -> Self {
        Self { declared, locals: Vec::new(), problems: Vec::new() }
    }

    fn report(&mut self, e: &IdedExpr, message: String) {
        self.problems.push((e.id, message));
    }

    fn ident(&mut self, e: &IdedExpr, name: &str) -> Type {
        if let Some((_, t)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return t.clone();
        }
        match name {
            "nodes" => Type::Dyn,
            "variables" => {
                if self.declared.strict {
                    Type::Map(self.declared.variables.clone())
                } else {
                    Type::Map(BTreeMap::new())
                }
            }
            other => match self.declared.variables.get(other) {
                Some(t) => t.clone(),
                None if self.declared.strict => {
                    self.report(e, format!("reads `{other}`, which the workflow's input_schema does not declare"));
                    Type::Dyn
                }
                None => Type::Dyn,
            },
        }
    }

    pub(super) fn infer(&mut self, e: &IdedExpr) -> Type {
        match &e.expr {
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Type::Bool,
                LiteralValue::Bytes(_) => Type::Bytes,
                LiteralValue::Double(_) => Type::Double,
                LiteralValue::Int(_) => Type::Int,
                LiteralValue::Null => Type::Null,
                LiteralValue::String(_) => Type::String,
                LiteralValue::UInt(_) => Type::Uint,
            },
            Expr::Ident(name) => self.ident(e, name),
            Expr::Select(select) => {
                let operand = self.infer(&select.operand);
                if select.test {
                    return Type::Bool;
                }
                match operand {
                    Type::Map(props) => {
                        // `variables.x` of a workflow that declares its inputs must name one.
                        let is_variables = matches!(&select.operand.expr, Expr::Ident(n) if n == "variables");
                        match props.get(&select.field) {
                            Some(t) => t.clone(),
                            None if is_variables && self.declared.strict => {
                                let field = &select.field;
                                self.report(
                                    e,
                                    format!("reads `variables.{field}`, which the input_schema does not declare"),
                                );
                                Type::Dyn
                            }
                            None => Type::Dyn,
                        }
                    }
                    Type::Dyn => Type::Dyn,
                    other => {
                        let field = &select.field;
                        self.report(e, format!("selects `.{field}` of {}, which has no fields", other.describe()));
                        Type::Dyn
                    }
                }
            }
            Expr::List(list) => {
                let items: Vec<Type> = list.elements.iter().map(|x| self.infer(x)).collect();
                Type::List(Box::new(Type::unify_all(items.into_iter())))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        self.infer(&m.key);
                        self.infer(&m.value);
                    }
                }
                Type::Map(BTreeMap::new())
            }
            Expr::Struct(_) | Expr::Unspecified => Type::Dyn,
            Expr::Comprehension(c) => {
                let range = self.infer(&c.iter_range);
                let element = match &range {
                    Type::List(t) => (**t).clone(),
                    Type::Map(_) => Type::String,
                    _ => Type::Dyn,
                };
                let accu = self.infer(&c.accu_init);
                let depth = self.locals.len();
                match &c.iter_var2 {
                    Some(second) => {
                        let key = if matches!(range, Type::List(_)) { Type::Int } else { element.clone() };
                        self.locals.push((c.iter_var.clone(), key));
                        self.locals.push((second.clone(), Type::Dyn));
                    }
                    None => self.locals.push((c.iter_var.clone(), element)),
                }
                self.locals.push((c.accu_var.clone(), accu));
                self.infer(&c.loop_cond);
                self.infer(&c.loop_step);
                let result = self.infer(&c.result);
                self.locals.truncate(depth);
                result
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.infer(t));
                let args: Vec<Type> = call.args.iter().map(|a| self.infer(a)).collect();
                self.call(e, &call.func_name, target, &args)
            }
        }
    }

    fn call(&mut self, e: &IdedExpr, name: &str, target: Option<Type>, args: &[Type]) -> Type {
        use Type::{Bool, Dyn, Int, List, Map, String as Str};
        let binary = |args: &[Type]| match args {
            [a, b] => Some((a.clone(), b.clone())),
            _ => None,
        };
        match (name, target, binary(args)) {
            (operators::EQUALS | operators::NOT_EQUALS, None, Some((a, b))) => {
                if !a.comparable(&b) {
                    let op = if name == operators::EQUALS { "==" } else { "!=" };
                    let verdict = if name == operators::EQUALS { "false" } else { "true" };
                    self.report(e, format!("`{op}` compares {} with {}: always {verdict}", a.describe(), b.describe()));
                }
                Bool
            }
            (
                operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS,
                None,
                Some((a, b)),
            ) => {
                if !a.ordered_with(&b) {
                    self.report(e, format!("cannot order {} against {}", a.describe(), b.describe()));
                }
                Bool
            }
            (operators::LOGICAL_AND | operators::LOGICAL_OR, None, Some((a, b))) => {
                for side in [a, b] {
                    if !matches!(side, Bool | Dyn) {
                        self.report(e, format!("`&&` and `||` need bools, got {}", side.describe()));
                    }
                }
                Bool
            }
            (operators::LOGICAL_NOT, None, _) => {
                if let Some(a) = args.first().filter(|a| !matches!(a, Bool | Dyn)) {
                    self.report(e, format!("`!` needs a bool, got {}", a.describe()));
                }
                Bool
            }
            (operators::CONDITIONAL, None, _) => match args {
                [cond, a, b] => {
                    if !matches!(cond, Bool | Dyn) {
                        self.report(e, format!("the condition of `? :` must be a bool, got {}", cond.describe()));
                    }
                    if a == b { a.clone() } else { Dyn }
                }
                _ => Dyn,
            },
            (operators::ADD, None, Some((a, b))) => self.arithmetic(e, "+", &a, &b, true),
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                None,
                Some((a, b)),
            ) => self.arithmetic(e, name.trim_matches('_'), &a, &b, false),
            (operators::IN, None, Some((item, container))) => {
                if let List(element) = &container
                    && !item.comparable(element)
                {
                    let (i, c) = (item.describe(), element.describe());
                    self.report(e, format!("`in` looks for {i} in a list of {c}s: always false"));
                }
                if !matches!(container, List(_) | Map(_) | Dyn) {
                    self.report(e, format!("`in` needs a list or a map, got {}", container.describe()));
                }
                Bool
            }
            (operators::INDEX, None, Some((List(t), _))) => *t,
            ("size", _, _) => Int,
            ("contains" | "startsWith" | "endsWith" | "matches", Some(t), _) => {
                if matches!(
                    t,
                    Bool | Int
                        | Type::Uint
                        | Type::Double
                        | Type::Number
                        | Type::Null
                        | Type::Timestamp
                        | Type::Duration
                ) {
                    self.report(e, format!("`{name}` is a string function, called on {}", t.describe()));
                }
                Bool
            }
            ("int", None, _) => Int,
            ("uint", None, _) => Type::Uint,
            ("double", None, _) => Type::Double,
            ("string", None, _) => Str,
            ("bool", None, _) => Bool,
            ("bytes", None, _) => Type::Bytes,
            ("timestamp" | "@utc", None, _) => Type::Timestamp,
            ("duration", None, _) => Type::Duration,
            ("type", None, _) => Type::Type,
            (
                "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate" | "getDayOfWeek" | "getHours"
                | "getMinutes" | "getSeconds" | "getMilliseconds",
                Some(_),
                _,
            ) => Int,
            ("@not_strictly_false", None, _) => Bool,
            _ => Dyn,
        }
    }

    fn arithmetic(&mut self, e: &IdedExpr, op: &str, a: &Type, b: &Type, is_add: bool) -> Type {
        use Type::{Duration, Dyn, List, Timestamp};
        match (a, b) {
            (Dyn, _) | (_, Dyn) => Dyn,
            (x, y) if x.is_numeric() && y.is_numeric() => {
                if x == y {
                    x.clone()
                } else {
                    Dyn
                }
            }
            (Type::String, Type::String) | (Type::Bytes, Type::Bytes) if is_add => a.clone(),
            (List(x), List(y)) if is_add => List(Box::new(if x == y { (**x).clone() } else { Dyn })),
            (Timestamp, Duration) | (Duration, Timestamp) if is_add => Timestamp,
            (Timestamp, Duration) if op == "-" => Timestamp,
            (Timestamp, Timestamp) if op == "-" => Duration,
            (Duration, Duration) if is_add || op == "-" => Duration,
            _ => {
                self.report(e, format!("`{op}` is not defined between {} and {}", a.describe(), b.describe()));
                Dyn
            }
        }
    }
}
