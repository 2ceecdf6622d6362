//! An LLM node's `images` as the model receives them: each string rendered as a template, and
//! an uploaded file's id (`file_<uuid>`) replaced by a `data:` URL of its bytes, read from the
//! execution's workspace and checked to be an image. URLs and provider-format parts are sent as
//! written.

use crate::adapters::runners::vision::image::{data_url, file_id, sniff};
use crate::domain::template;
use crate::ports::{FilesSlot, NodeInput, RunnerError};
use serde_json::Value;

/// # Errors
/// A template that does not render; a file the workspace does not have, or that is not an image.
pub(super) async fn resolve(images: &[Value], input: &NodeInput, files: &FilesSlot) -> Result<Vec<Value>, RunnerError> {
    let mut out = Vec::with_capacity(images.len());
    for (i, image) in images.iter().enumerate() {
        let Value::String(text) = image else {
            out.push(image.clone());
            continue;
        };
        let at = |m: String| RunnerError::Permanent(format!("images[{i}]: {m}"));
        let text = template::render(text, &input.data).map_err(|e| at(e.to_string()))?;
        let Some(id) = file_id(text.trim()) else {
            out.push(Value::String(text));
            continue;
        };
        let store = files.get().ok_or_else(|| at("uploaded files cannot be read here".into()))?;
        let (_, bytes) = store
            .file(input.scope, id)
            .await
            .map_err(|e| RunnerError::retryable(e.to_string()))?
            .ok_or_else(|| at(format!("file_{id} was not found")))?;
        let mime = sniff(&bytes).ok_or_else(|| at(format!("file_{id} is not an image")))?;
        out.push(Value::String(data_url(mime, &bytes)));
    }
    Ok(out)
}
