//! Vision nodes and uploaded files end to end: real OCR with Tesseract of an image the test
//! draws, the mock, multimodal models through the fake provider (OpenAI and Anthropic wire
//! formats), the LLM node's `images` from an upload, and every bad input.

use crate::picture::text_png;
use crate::provider::{anthropic, openai};
use crate::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

const LINES: [&str; 2] = ["HELLO WORLD", "LOWER ROLE"];

impl Harness {
    /// `POST /api/v1/files` with one `file` part.
    pub async fn upload(&self, name: &str, bytes: &[u8]) -> (u16, Value) {
        let boundary = "oxify-test-boundary-7d1f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let reply = self
            .http
            .post(format!("{}/api/v1/files", self.base))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }
}

fn vision(provider: &str, extra: Value) -> Value {
    let mut config = json!({"provider": provider, "image_input": "photo", "output_format": "text"});
    config.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    json!({"id": "see", "name": "See", "kind": {"type": "Vision", "config": config}})
}

fn tesseract_installed() -> bool {
    std::process::Command::new("tesseract").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn tesseract_reads_the_words_of_an_uploaded_image() {
    assert!(tesseract_installed(), "tesseract-ocr is required (apt-get install tesseract-ocr tesseract-ocr-eng)");
    let h = harness(|_| {}).await;
    let png = text_png(&LINES, 6);
    let (status, file) = h.upload("sign.png", &png).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!((file["content_type"].clone(), file["size"].clone()), (json!("image/png"), json!(png.len())));
    let id = file["id"].as_str().unwrap();
    assert!(id.starts_with("file_"), "{id}");
    let wf = chain(vec![vision("tesseract", json!({"output_format": "json", "language": "eng"}))]);
    let run = h.finished(&h.start(wf, json!({"variables": {"photo": id}})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let output = &node(&run, "see")["output"];
    let read: Vec<String> = output["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase())
        .collect();
    let expected: Vec<&str> = LINES.iter().flat_map(|l| l.split_whitespace()).collect();
    let right = expected.iter().filter(|w| read.iter().any(|r| r == *w)).count();
    assert!(right * 4 >= expected.len() * 3, "word accuracy {right}/{}: read {read:?}", expected.len());
    assert_eq!(output["provider"], "tesseract");
    assert!(
        output["words"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["confidence"].is_number() && w["box"]["width"].as_u64() > Some(0))
    );
    assert!(output["text"].as_str().unwrap().contains('\n'), "two lines stay two lines: {output}");
}

#[tokio::test]
async fn the_mock_reads_base64_and_data_urls() {
    let h = harness(|_| {}).await;
    let png = text_png(&["HELLO"], 2);
    for given in [STANDARD.encode(&png), format!("data:image/png;base64,{}", STANDARD.encode(&png))] {
        let wf = chain(vec![vision("mock", json!({}))]);
        let run = h.finished(&h.start(wf, json!({"variables": {"photo": given}})).await).await;
        let output = &node(&run, "see")["output"];
        assert_eq!(run["state"], "Completed", "{run}");
        assert_eq!(output["content_type"], "image/png");
        assert_eq!(output["bytes"], png.len());
        assert_eq!(output["text"], format!("Mock OCR of a image/png image of {} bytes", png.len()));
    }
}

#[tokio::test]
async fn a_multimodal_model_gets_the_image_in_its_own_wire_format() {
    let h = harness(|_| {}).await;
    let png = text_png(&["RED"], 3);
    let (_, file) = h.upload("red.png", &png).await;
    let expected_url = format!("data:image/png;base64,{}", STANDARD.encode(&png));
    h.provider.script([openai("# RED"), anthropic("RED")]);
    let wf = chain(vec![vision("openai", json!({"output_format": "markdown", "options": {"model": "gpt-4o-mini"}}))]);
    let run = h.finished(&h.start(wf, json!({"variables": {"photo": file["id"]}})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "see")["output"]["text"], "# RED");
    assert_eq!(node(&run, "see")["usage"]["total_tokens"], 16);
    let sent = &h.provider.requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o-mini");
    let parts = sent["messages"][0]["content"].as_array().unwrap();
    assert!(parts[0]["text"].as_str().unwrap().contains("Markdown"), "{parts:?}");
    assert_eq!(parts[1], json!({"type": "image_url", "image_url": {"url": expected_url}}));
    let wf = chain(vec![vision("anthropic", json!({"options": {"model": "claude-sonnet-4", "prompt": "Read it."}}))]);
    let run = h.finished(&h.start(wf, json!({"variables": {"photo": file["id"]}})).await).await;
    assert_eq!(node(&run, "see")["output"]["text"], "RED", "{run}");
    let sent = &h.provider.requests()[1].body;
    assert_eq!(
        sent["messages"][0]["content"][0],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": STANDARD.encode(&png)}})
    );
    assert_eq!(sent["messages"][0]["content"][1], json!({"type": "text", "text": "Read it."}));
}

#[tokio::test]
async fn an_llm_node_sends_an_uploaded_image() {
    let h = harness(|_| {}).await;
    let png = text_png(&["DOOR"], 3);
    let (_, file) = h.upload("door.png", &png).await;
    h.provider.script([openai("A door.")]);
    let wf = chain(vec![llm(
        "look",
        "openai",
        "What is this?",
        json!({"images": ["{{ photo }}", "https://example.com/x.png"]}),
    )]);
    let run = h.finished(&h.start(wf, json!({"variables": {"photo": file["id"]}})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let parts = h.provider.requests()[0].body["messages"][0]["content"].clone();
    assert_eq!(parts[1]["image_url"]["url"], format!("data:image/png;base64,{}", STANDARD.encode(&png)));
    assert_eq!(parts[2]["image_url"]["url"], "https://example.com/x.png", "a URL is sent as written");
}

#[tokio::test]
async fn bad_images_and_uploads_are_refused_clearly() {
    let h = harness(|c| c.max_upload_bytes = 4096).await;
    let (status, refused) = h.upload("big.png", &text_png(&["HELLO WORLD"], 8)).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"], "PayloadTooLarge");
    let (status, refused) = h.upload("blob.bin", &[0, 159, 146, 150, 0, 1]).await;
    assert_eq!((status, refused["error"].clone()), (415, json!("UnsupportedMediaType")), "{refused}");
    let (status, text) = h.upload("notes.txt", b"just words").await;
    assert_eq!((status, text["content_type"].clone()), (201, json!("text/plain; charset=utf-8")), "{text}");
    let wf = chain(vec![vision("mock", json!({}))]);
    let run = h.finished(&h.start(wf.clone(), json!({"variables": {"photo": text["id"]}})).await).await;
    assert!(node(&run, "see")["error"].as_str().unwrap().contains("is not an image"), "{run}");
    let run = h
        .finished(&h.start(wf.clone(), json!({"variables": {"photo": format!("file_{}", uuid::Uuid::now_v7())}})).await)
        .await;
    assert!(node(&run, "see")["error"].as_str().unwrap().contains("was not found"), "{run}");
    let run = h.finished(&h.start(wf.clone(), json!({})).await).await;
    assert!(node(&run, "see")["error"].as_str().unwrap().contains("no variable 'photo'"), "{run}");
    // A URL goes through the SSRF guard: the fake provider's loopback address is refused.
    let url = format!("{}/image.png", h.provider_url);
    let run = h.finished(&h.start(wf, json!({"variables": {"photo": url}})).await).await;
    assert!(node(&run, "see")["error"].as_str().unwrap().contains("refused"), "{run}");
    for (provider, says) in
        [("surya", "not available on this server"), ("paddle", "not available"), ("magic", "unknown")]
    {
        let (status, refused) = h.post("/api/v1/workflows", chain(vec![vision(provider, json!({}))])).await;
        assert_eq!(status, 400, "{refused}");
        assert!(refused.to_string().contains(says) && refused.to_string().contains("tesseract"), "{refused}");
    }
    let (status, refused) =
        h.post("/api/v1/workflows", chain(vec![vision("tesseract", json!({"language": "klingon"}))])).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("klingon"), "{refused}");
}

#[tokio::test]
async fn files_are_listed_read_back_and_deleted_per_workspace() {
    let h = harness(|_| {}).await;
    let png = text_png(&["OLD"], 2);
    let (_, file) = h.upload("old.png", &png).await;
    let id = file["id"].as_str().unwrap();
    let listed = h.get("/api/v1/files").await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(h.get(&format!("/api/v1/files/{id}")).await["name"], "old.png");
    let content = h.http.get(format!("{}/api/v1/files/{id}/content", h.base)).send().await.unwrap();
    assert_eq!(content.headers()["content-type"], "image/png");
    assert_eq!(content.bytes().await.unwrap().as_ref(), png.as_slice());
    let gone = h.http.delete(format!("{}/api/v1/files/{id}", h.base)).send().await.unwrap();
    assert_eq!(gone.status().as_u16(), 200);
    let again = h.http.get(format!("{}/api/v1/files/{id}", h.base)).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
}
