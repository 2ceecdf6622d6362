//! The Vision node: reads an image (a URL fetched through the SSRF guard, base64 data, or an
//! uploaded file of the workspace) and turns it into text, with Tesseract OCR (`tesseract`),
//! a multimodal model through the model gateway (`openai`, `anthropic`), or a fixed answer for
//! tests (`mock`).

pub mod image;
mod tesseract;

use crate::adapters::models::conversation::Turn;
use crate::adapters::models::{ChatRequest, ModelGateway};
use crate::adapters::runners::tool::HttpTool;
use crate::domain::template;
use crate::domain::workflow::{Node, NodeKind, VisionConfig};
use crate::ports::redact::RedactingSink;
use crate::ports::{ConfigProblem, FilesSlot, NodeInput, NodeOutput, NodeRunner, RunnerError};
use image::{MAX_IMAGE_BYTES, Source};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
pub use tesseract::Tesseract;
use tokio_util::sync::CancellationToken;

/// `provider` values this server runs.
const PROVIDERS: &[&str] = &["mock", "tesseract", "openai", "anthropic"];

/// Output formats: plain text, Markdown (models keep headings, lists and tables), or JSON (the
/// text with each word's place and confidence, for `tesseract`).
const FORMATS: &[&str] = &["text", "markdown", "json"];

/// Output tokens a model may spend on one image, unless `options.max_tokens` says otherwise.
const DEFAULT_MAX_TOKENS: u32 = 2048;

/// Secrets a workspace may set to use its own provider accounts.
const WORKSPACE_KEYS: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY"];

/// Runs `Vision` nodes.
pub struct VisionRunner {
    http: HttpTool,
    tesseract: Tesseract,
    gateway: Arc<ModelGateway>,
    files: Arc<FilesSlot>,
}

impl VisionRunner {
    #[must_use]
    pub fn new(http: HttpTool, tesseract: Tesseract, gateway: Arc<ModelGateway>, files: Arc<FilesSlot>) -> Self {
        Self { http, tesseract, gateway, files }
    }
}

fn language(config: &VisionConfig) -> String {
    config.language.as_deref().map(str::trim).filter(|l| !l.is_empty()).unwrap_or("eng").to_owned()
}

/// `options.model` (or the seed's `model_path`) for the model providers.
fn model(config: &VisionConfig) -> Option<String> {
    config
        .options
        .get("model")
        .and_then(Value::as_str)
        .or(config.model_path.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
}

impl VisionRunner {
    /// The image `image_input` names: its bytes and sniffed type.
    async fn image(&self, input: &NodeInput, config: &VisionConfig) -> Result<(Vec<u8>, &'static str), RunnerError> {
        let permanent = |m: String| RunnerError::Permanent(format!("image_input: {m}"));
        let text = if template::is_template(&config.image_input) {
            template::render(&config.image_input, &input.data).map_err(|e| permanent(e.to_string()))?
        } else {
            let name = config.image_input.trim();
            match input.data.lookup(name) {
                Some(Value::String(text)) => text,
                Some(other) => {
                    return Err(permanent(format!(
                        "variable '{name}' holds {other}, not a URL, file id or base64 text"
                    )));
                }
                None => return Err(permanent(format!("there is no variable '{name}'"))),
            }
        };
        let bytes = match image::source(&text).map_err(permanent)? {
            Source::Bytes(bytes) => bytes,
            Source::Url(url) => {
                let url = reqwest::Url::parse(&url).map_err(|_| permanent("not a URL".into()))?;
                self.http.get_bytes(url, MAX_IMAGE_BYTES).await?.0
            }
            Source::File(id) => {
                let files = self.files.get().ok_or_else(|| permanent("uploaded files cannot be read here".into()))?;
                let found = files.file(input.scope, id).await.map_err(|e| RunnerError::retryable(e.to_string()))?;
                found.ok_or_else(|| permanent(format!("file_{id} was not found")))?.1
            }
        };
        let mime = image::sniff(&bytes).ok_or_else(|| {
            permanent(format!(
                "the data ({} bytes) is not an image: PNG, JPEG, GIF, WebP, TIFF or BMP expected",
                bytes.len()
            ))
        })?;
        Ok((bytes, mime))
    }

    async fn ask_model(
        &self,
        input: &NodeInput,
        config: &VisionConfig,
        image: &str,
        cancel: &CancellationToken,
    ) -> Result<NodeOutput, RunnerError> {
        let model = model(config)
            .ok_or_else(|| RunnerError::Permanent("options.model is required for a model provider".into()))?;
        let format = config.output_format.trim();
        let prompt = match config.options.get("prompt").and_then(Value::as_str) {
            Some(prompt) => template::render(prompt, &input.data).map_err(|e| RunnerError::Permanent(format!("options.prompt: {e}")))?,
            None if format == "markdown" => "Transcribe all the text in this image as Markdown, keeping its headings, lists and tables. Answer with the transcription only.".into(),
            None => "Transcribe all the text in this image as plain text. Answer with the transcription only.".into(),
        };
        let max_tokens = config
            .options
            .get("max_tokens")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_MAX_TOKENS, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let turns = [Turn::User { text: prompt, images: vec![Value::String(image.to_owned())] }];
        let redactor = self.gateway.redactor().clone();
        let sink = RedactingSink::new(&*input.sink, redactor.clone());
        let request = ChatRequest {
            provider: config.provider.trim(),
            model: &model,
            base_url: None,
            secrets: &input.data.secrets,
            system: None,
            turns: &turns,
            tools: &[],
            raw_tools: &[],
            max_tokens: Some(max_tokens),
            temperature: Some(0.0),
            extra: &Map::new(),
            stream: true,
            idle: Duration::from_secs(60),
            budget: &input.budget,
        };
        let answer = self.gateway.chat(request, &sink, cancel).await;
        sink.finish();
        let answer = answer?;
        let text = redactor.text(&answer.reply.text);
        let value = json!({"provider": answer.provider, "model": model, "format": format, "text": text});
        Ok(NodeOutput { value, usage: answer.usage })
    }
}

#[async_trait::async_trait]
impl NodeRunner for VisionRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Vision(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Vision node", node.id)));
        };
        if let Some(problem) = problems(config).into_iter().next() {
            return Err(RunnerError::Permanent(problem.problem));
        }
        let (bytes, mime) = self.image(&input, config).await?;
        let provider = config.provider.trim().to_ascii_lowercase();
        let format = config.output_format.trim();
        let base = json!({"provider": provider, "format": format, "content_type": mime, "bytes": bytes.len()});
        let mut value = match provider.as_str() {
            "mock" => {
                let text = format!("Mock OCR of a {} image of {} bytes", mime, bytes.len());
                json!({"text": text})
            }
            "tesseract" => {
                let language = language(config);
                if let Some(problem) = self.tesseract.problem(&language) {
                    return Err(RunnerError::Permanent(problem));
                }
                let mut read = self.tesseract.read(&bytes, &language, &cancel).await?;
                if format != "json" {
                    read.as_object_mut().map(|o| o.remove("words"));
                }
                read["language"] = json!(language);
                read
            }
            _ => {
                let output = self.ask_model(&input, config, &image::data_url(mime, &bytes), &cancel).await?;
                let mut value = base;
                if let (Some(all), Value::Object(more)) = (value.as_object_mut(), output.value) {
                    all.extend(more);
                }
                return Ok(NodeOutput { value, usage: output.usage });
            }
        };
        if let (Some(all), Some(more)) = (value.as_object_mut(), base.as_object()) {
            for (k, v) in more {
                all.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok(NodeOutput::of(value))
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Vision(config) = &node.kind else { return Vec::new() };
        let mut found = problems(config);
        if !found.is_empty() {
            return found;
        }
        match config.provider.trim().to_ascii_lowercase().as_str() {
            "tesseract" => {
                found.extend(self.tesseract.problem(&language(config)).map(|p| ConfigProblem::at("language", p)))
            }
            "openai" | "anthropic" => {
                found.extend(
                    self.gateway
                        .problem(&config.provider, None)
                        .map(|p| ConfigProblem { field: Some("provider".into()), ..p }),
                );
            }
            _ => {}
        }
        found
    }

    fn workspace_secrets(&self) -> &'static [&'static str] {
        WORKSPACE_KEYS
    }
}

/// What is wrong with `config` on any server.
fn problems(config: &VisionConfig) -> Vec<ConfigProblem> {
    let mut found = Vec::new();
    let provider = config.provider.trim().to_ascii_lowercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        let what = if matches!(provider.as_str(), "surya" | "paddle") {
            "is not available on this server"
        } else {
            "is unknown"
        };
        found.push(ConfigProblem::at(
            "provider",
            format!(
                "Vision provider '{}' {what}: use tesseract (OCR), openai or anthropic (multimodal models) or mock",
                config.provider.trim()
            ),
        ));
    }
    if !FORMATS.contains(&config.output_format.trim()) {
        found.push(ConfigProblem::at(
            "output_format",
            format!("output_format '{}' is unknown: use text, markdown or json", config.output_format),
        ));
    }
    if config.image_input.trim().is_empty() {
        found.push(ConfigProblem::at(
            "image_input",
            "image_input is empty: name a variable holding a URL, an uploaded file's id or base64 data",
        ));
    }
    if config.language.as_deref().is_some_and(|l| {
        !l.trim().is_empty() && !l.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
    }) {
        found.push(ConfigProblem::at("language", "language is tesseract's code, such as eng or eng+deu"));
    }
    if matches!(provider.as_str(), "openai" | "anthropic") && model(config).is_none() {
        found.push(ConfigProblem::at(
            "options.model",
            "options.model is required for a model provider (e.g. gpt-4o-mini)",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: &str, format: &str) -> VisionConfig {
        serde_json::from_value(json!({"provider": provider, "image_input": "image", "output_format": format})).unwrap()
    }

    #[test]
    fn surya_and_paddle_are_refused_naming_what_runs_here() {
        for provider in ["surya", "paddle"] {
            let found = problems(&config(provider, "markdown"));
            assert!(
                found[0].problem.contains("not available on this server") && found[0].problem.contains("tesseract"),
                "{found:?}"
            );
        }
        assert!(problems(&config("tesseract", "markdown")).is_empty());
        assert!(problems(&config("mock", "yaml"))[0].problem.contains("output_format"));
        assert!(problems(&config("openai", "text"))[0].problem.contains("options.model"));
    }
}
