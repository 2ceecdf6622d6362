//! The CEL environment every expression compiles and runs in: the standard library, with
//! timestamps read in UTC.
//!
//! The CEL specification defines the timestamp accessors without a zone argument (`getHours()`,
//! `getDate()`, ...) as reading the instant in UTC, and those with one in that zone
//! (`langdef.md`, "Timestamp and duration functions"). The `cel` crate keeps the offset a
//! timestamp was written with and reads the fields there, so
//! `timestamp("2026-07-01T01:00:00+02:00").getHours()` gave 1 instead of 23. Here `timestamp(x)`
//! is rewritten at parse time into `@utc(timestamp(x))`, which moves the instant to offset zero:
//! the zone-less accessors then read UTC, the zoned ones convert from the same instant, and the
//! same instant takes the same branch whatever offset its text carried.

use cel::common::ast::{CallExpr, Expr};
use cel::common::types::CelTimestamp;
use cel::parser::Macro;
use std::sync::{Arc, LazyLock};

/// The function the rewrite wraps every `timestamp(...)` call in. `@` cannot start an identifier
/// in CEL's grammar, so no expression can call or shadow it.
const IN_UTC: &str = "@utc";

pub(super) static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(build()));

fn build() -> cel::Env {
    let mut env = cel::Env::stdlib();
    let rewrite = Macro::global("timestamp", 1, |helper, _target, args| {
        let Some(arg) = args.pop() else { return Ok(None) };
        let call = |func: &str, arg| Expr::Call(CallExpr { func_name: func.into(), target: None, args: vec![arg] });
        let parsed = helper.next_expr(call("timestamp", arg));
        Ok(Some(helper.next_expr(call(IN_UTC, parsed))))
    });
    // Both can only fail on a duplicate, which a fresh standard environment does not have.
    env.add_macro(rewrite).expect("no other `timestamp` macro is declared");
    cel::add_overload!(env, fn in_utc: (CelTimestamp) -> CelTimestamp, name = "@utc", id = "oxify_timestamp_in_utc")
        .expect("`@utc` is declared once");
    env
}

fn in_utc(timestamp: &CelTimestamp) -> CelTimestamp {
    let utc = chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero is a valid offset"));
    CelTimestamp::from(timestamp.inner().with_timezone(&utc))
}
