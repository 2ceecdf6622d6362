//! The SSRF guard on HTTP tools: every address that is not public is refused, in any spelling,
//! before a connection is made, whether written in the node, reached by resolving a name, or
//! reached by a redirect; `OXIFY_HTTP_ALLOW` opens hosts and ranges.

use crate::upstream::Upstream;
use crate::{attempt, chain, config, harness, node, tool};
use oxify_api::ports::RunnerError;
use serde_json::json;

fn refusal(result: Result<oxify_api::ports::NodeOutput, RunnerError>) -> String {
    match result {
        Err(RunnerError::Permanent(message)) if message.contains(" refused: ") => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn every_non_public_range_and_ipv6_form_is_refused_before_connecting() {
    let api = Upstream::start().await;
    let port = api.port();
    let h = harness(config()).await;
    let targets = [
        (format!("http://127.0.0.1:{port}"), "loopback"),
        ("http://10.0.0.1".to_owned(), "private"),
        ("http://172.16.0.1".to_owned(), "private"),
        ("http://192.168.0.1".to_owned(), "private"),
        ("http://169.254.169.254".to_owned(), "link-local"),
        ("http://100.64.0.1".to_owned(), "CGNAT"),
        ("http://100.100.100.200".to_owned(), "CGNAT"),
        ("http://192.0.0.192".to_owned(), "IETF protocol"),
        ("http://168.63.129.16".to_owned(), "Azure platform metadata"),
        (format!("http://0.0.0.0:{port}"), "this network"),
        ("http://224.0.0.1".to_owned(), "multicast"),
        ("http://255.255.255.255".to_owned(), "broadcast"),
        (format!("http://2130706433:{port}"), "loopback"),
        (format!("http://0x7f.0.0.1:{port}"), "loopback"),
        (format!("http://[::1]:{port}"), "IPv6 loopback"),
        (format!("http://[::]:{port}"), "unspecified"),
        (format!("http://[::ffff:127.0.0.1]:{port}"), "IPv4-mapped form of 127.0.0.1"),
        ("http://[::ffff:169.254.169.254]".to_owned(), "IPv4-mapped form of 169.254.169.254"),
        (format!("http://[::127.0.0.1]:{port}"), "IPv4-compatible form of 127.0.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]".to_owned(), "NAT64 form of 169.254.169.254"),
        ("http://[2002:7f00:1::]".to_owned(), "6to4 form of 127.0.0.1"),
        ("http://[fd00:ec2::254]".to_owned(), "unique-local"),
        ("http://[fe80::1]".to_owned(), "link-local"),
        ("http://[ff02::1]".to_owned(), "multicast"),
    ];
    for (base, what) in &targets {
        let message = refusal(attempt(&config(), tool("t", base, "GET /echo", json!(null)), json!({})).await);
        assert!(message.contains(what), "{base}: {message}");
        // The same node is refused when the workflow is saved, naming the field.
        let (status, body) = h.post("/api/v1/workflows", chain(vec![tool("t", base, "GET /echo", json!(null))])).await;
        assert_eq!(status, 400, "{base}: {body}");
        assert_eq!(body["details"][0]["path"], "workflow.nodes[1].kind.config.server_id");
    }
    assert!(api.seen().is_empty(), "a refused call never reaches the server: {:?}", api.seen());
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_as_it_resolves() {
    let api = Upstream::start().await;
    let h = harness(config()).await;
    let named = format!("http://localhost:{}", api.port());
    let run = h.finished(&h.start(chain(vec![tool("t", &named, "GET /echo", json!(null))]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    let error = node(&run, "t")["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("refused: localhost (127.0.0.1) is a loopback address")
            || error.contains("refused: localhost (::1)"),
        "{error}"
    );
    assert_eq!(node(&run, "t")["attempts"], 1, "a refusal is not retried");
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn a_redirect_from_an_allowed_server_to_a_private_address_is_refused() {
    let api = Upstream::start().await;
    let mut opened = config();
    opened.http_allow = "127.0.0.1".into();
    for target in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/admin".to_owned(),
        format!("http://[::1]:{}/echo", api.port()),
        format!("http://[::ffff:7f00:2]:{}/echo", api.port()),
    ] {
        for code in ["302", "307"] {
            let node = tool("t", &api.url, "GET /redirect", json!({"to": target, "code": code}));
            let message = refusal(attempt(&opened, node, json!({})).await);
            assert!(message.starts_with(&format!("GET {}/redirect refused: ", api.url)), "{message}");
        }
    }
    assert!(api.seen().iter().all(|s| s.path == "/redirect"), "only the redirecting server was reached");
}

#[tokio::test]
async fn the_allow_list_opens_addresses_ranges_and_names() {
    let api = Upstream::start().await;
    let literal = tool("t", &api.url, "GET /echo", json!(null));
    let named = tool("t", &format!("http://localhost:{}", api.port()), "GET /echo", json!(null));
    for allow in ["127.0.0.1", "127.0.0.0/8", "::ffff:127.0.0.1"] {
        let mut c = config();
        c.http_allow = allow.into();
        assert!(attempt(&c, literal.clone(), json!({})).await.is_ok(), "{allow}");
    }
    let mut by_name = config();
    by_name.http_allow = "localhost".into();
    assert!(attempt(&by_name, named, json!({})).await.is_ok(), "an opened name reaches what it resolves to");
    refusal(attempt(&by_name, literal, json!({})).await);
    let mut other = config();
    other.http_allow = "10.0.0.0/8, api.internal".into();
    refusal(attempt(&other, tool("t", &api.url, "GET /echo", json!(null)), json!({})).await);
}
