//! Workspace secrets in Code and HTTP Tool nodes: a tool's header and a script name secrets,
//! which reach the fake API and the script for that attempt only; what comes back (an echoed
//! header, a script's result) is stored with `[redacted]` in their place.

use crate::upstream::Upstream;
use crate::{chain, code, config, harness, node, tool};
use serde_json::json;

const TOKEN: &str = "crm-token-5b2d7f3a9c1e";
const SIGNING: &str = "signing-key-0a1b2c3d4e";

#[tokio::test]
async fn secrets_reach_the_call_and_the_script_and_come_back_redacted() {
    let api = Upstream::start().await;
    let mut opened = config();
    opened.http_allow = "127.0.0.1".into();
    let h = harness(opened).await;
    for (name, value) in [("CRM_TOKEN", TOKEN), ("SIGNING_KEY", SIGNING)] {
        let (status, body) = h.post("/api/v1/secrets", json!({"name": name, "value": value})).await;
        assert_eq!(status, 201, "{body}");
    }
    let mut call = tool("crm", &api.url, "GET /echo", json!({"q": "orders"}));
    call["kind"]["config"]["headers"] = json!({"Authorization": "Bearer {{ secrets.CRM_TOKEN }}"});
    let sign = code(
        "sign",
        "javascript",
        "({ length: secrets.SIGNING_KEY.length, leaked: 'key=' + secrets.SIGNING_KEY })",
        &[],
    );
    let run = h.finished(&h.start(chain(vec![call, sign]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(api.seen()[0].headers["authorization"], format!("Bearer {TOKEN}"), "the API got the token");
    assert_eq!(node(&run, "crm")["output"]["body"]["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(node(&run, "sign")["output"]["result"], json!({"length": SIGNING.len(), "leaked": "key=[redacted]"}));
    let everything = run.to_string();
    assert!(!everything.contains(TOKEN) && !everything.contains(SIGNING), "a secret leaked: {everything}");
}
