//! Build script: tells the tests whether a Postgres server is configured for them.
//!
//! With `OXIFY_TEST_POSTGRES_URL` set at build time, the Postgres tests are compiled to run (and
//! fail when the server is unreachable); without it they are marked ignored with the reason, so
//! `cargo test` does not report as passed tests that ran nothing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(oxify_test_postgres)");
    println!("cargo::rerun-if-env-changed=OXIFY_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("OXIFY_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=oxify_test_postgres");
    }
}
