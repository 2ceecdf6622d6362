//! File routes: a workspace's uploaded images and documents (`multipart/form-data`, one `file`
//! part, capped in size, typed by its bytes), listed, read back and deleted. Nodes refer to a
//! file as `file_<uuid>`. A file of another workspace does not exist here (404).

use super::AppState;
use super::caller::{Caller, Writer};
use super::dto::MessageResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use crate::domain::files::{FileInfo, sniff};
use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An uploaded file.
#[derive(Serialize, ToSchema)]
pub struct FileBody {
    /// `file_<uuid>`: what a Vision node's `image_input` or an LLM node's `images` take.
    #[schema(example = "file_01932c4e-8d6f-7a3b-9c1d-2e4f6a8b0c1d")]
    pub id: String,
    pub name: String,
    /// Sniffed from the bytes: `image/png`, `image/jpeg`, `image/gif`, `image/webp`,
    /// `image/tiff`, `image/bmp`, `application/pdf` or `text/plain; charset=utf-8`.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    pub created_at: DateTime<Utc>,
}

impl From<FileInfo> for FileBody {
    fn from(f: FileInfo) -> Self {
        Self { id: f.handle(), name: f.name, content_type: f.content_type, size: f.size, created_at: f.created_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FileList {
    pub files: Vec<FileBody>,
    pub total: u64,
}

/// The upload form: one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document only.
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `file_<uuid>` or a bare UUID; anything else names no file.
fn file_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text.strip_prefix("file_").unwrap_or(text))
        .map_err(|_| ApiError::not_found(format!("File {text} not found")))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let kind = if status == StatusCode::PAYLOAD_TOO_LARGE { "PayloadTooLarge" } else { "BadRequest" };
    ApiError::new(status, kind, format!("the upload is not a readable multipart form: {}", e.body_text()))
}

/// Stores an image or document for the caller's workspace. Needs the Write role.
#[utoipa::path(
    post, path = "/api/v1/files", tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileBody),
        (status = 400, description = "No `file` part, or an empty file", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Larger than the server's limit (OXIFY_MAX_UPLOAD_BYTES)", body = ErrorBody),
        (status = 415, description = "Neither an image, a PDF nor UTF-8 text", body = ErrorBody),
    )
)]
pub async fn upload_file(
    State(state): State<AppState>,
    Writer(scope): Writer,
    mut form: Multipart,
) -> Result<(StatusCode, Json<FileBody>), ApiError> {
    let max = state.settings.max_upload_bytes;
    while let Some(mut field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
            if bytes.len() + chunk.len() > max {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLarge",
                    format!("the file is larger than {max} bytes (OXIFY_MAX_UPLOAD_BYTES)"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !bytes.is_empty() && sniff(&bytes).is_none() {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "the file is neither an image (PNG, JPEG, GIF, WebP, TIFF, BMP), a PDF nor UTF-8 text",
            ));
        }
        let info = state.files.upload(scope, &name, &bytes).await?;
        return Ok((StatusCode::CREATED, Json(info.into())));
    }
    Err(ApiError::bad_request("the form has no part named 'file'"))
}

/// The workspace's files, newest first.
#[utoipa::path(
    get, path = "/api/v1/files", tag = "files",
    responses((status = 200, body = FileList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_files(State(state): State<AppState>, caller: Caller) -> Result<Json<FileList>, ApiError> {
    let files: Vec<FileBody> = state.files.list(caller.scope()).await?.into_iter().map(Into::into).collect();
    Ok(Json(FileList { total: files.len() as u64, files }))
}

/// One file's description.
#[utoipa::path(
    get, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path, description = "file_<uuid>")),
    responses((status = 200, body = FileBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FileBody>, ApiError> {
    Ok(Json(state.files.get(caller.scope(), file_id(&id)?).await?.0.into()))
}

/// One file's bytes, with the type they were sniffed as.
#[utoipa::path(
    get, path = "/api/v1/files/{id}/content", tag = "files", params(("id" = String, Path, description = "file_<uuid>")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn file_content(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (info, bytes) = state.files.get(caller.scope(), file_id(&id)?).await?;
    Response::builder()
        .header(header::CONTENT_TYPE, info.content_type)
        // Never rendered by a browser as a page of this origin.
        .header(header::CONTENT_DISPOSITION, "attachment")
        .header("x-content-type-options", "nosniff")
        .body(Body::from(bytes))
        .map_err(|_| ApiError::internal())
}

/// Deletes a file. Needs the Write role.
#[utoipa::path(
    delete, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path, description = "file_<uuid>")),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn delete_file(
    State(state): State<AppState>,
    Writer(scope): Writer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.files.delete(scope, file_id(&id)?).await?;
    Ok(Json(MessageResponse { message: "File deleted successfully".into() }))
}
