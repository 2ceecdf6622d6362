//! Start -> Code -> Tool (HTTP) -> Code -> End through the HTTP API: a script prepares a request,
//! the tool sends it to the fake API, a second script reads the answer.

use crate::upstream::Upstream;
use crate::{chain, code, config, harness, node, tool};
use serde_json::json;

#[tokio::test]
async fn a_script_prepares_a_call_the_tool_makes_and_another_script_reads_its_answer() {
    let api = Upstream::start().await;
    let mut opened = config();
    opened.http_allow = "127.0.0.1".into();
    let h = harness(opened).await;
    let prepare = code(
        "prepare",
        "javascript",
        "({ id: question.length, words: question.split(' '), asked_by: variables.user })",
        &["question"],
    );
    let call = tool(
        "api",
        &api.url,
        "POST /echo/questions/{id}",
        json!({"id": "{{ nodes.prepare.output.result.id }}", "words": "{{ nodes.prepare.output.result.words }}", "by": "{{ user }}"}),
    );
    let read = code(
        "read",
        "rhai",
        "let answer = nodes.api.output; #{ status: answer.status, path: answer.body.path, count: answer.body.body.words.len(), by: answer.body.body.by }",
        &[],
    );
    let execution =
        h.start(chain(vec![prepare, call, read]), json!({"question": "what is six times seven", "user": "ada"})).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "api")["output"]["status"], 200);
    assert_eq!(node(&run, "api")["output"]["body"]["method"], "POST");
    assert_eq!(
        node(&run, "read")["output"],
        json!({"runtime": "rhai", "output": "out", "result": {"status": 200, "path": "/echo/questions/23", "count": 5, "by": "ada"}})
    );
    assert_eq!(api.seen().len(), 1, "one call");
    assert_eq!(api.seen()[0].method, "POST");
}
