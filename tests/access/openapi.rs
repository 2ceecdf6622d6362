//! The OpenAPI document declares how to authenticate: two bearer schemes, required by every
//! operation but health and sign-in; the access errors each operation can give; and Swagger UI
//! keeps its authorization across reloads.

use crate::support::harness;
use serde_json::{Value, json};

#[tokio::test]
async fn the_document_declares_security_schemes_and_requirements() {
    let h = harness(|_| {}).await;
    let doc: Value = reqwest::get(h.url("/api-docs/openapi.json")).await.unwrap().json().await.unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        (schemes["bearer"]["type"].as_str(), schemes["bearer"]["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}, {"api_key": []}]));
    assert_eq!(doc["paths"]["/health"]["get"]["security"], json!([]));
    assert_eq!(doc["paths"]["/api/v1/auth/login"]["post"]["security"], json!([]));
    assert_eq!(doc["paths"]["/api/v1/auth/register"]["post"]["security"][0], json!({}), "credentials optional");
    let execute = &doc["paths"]["/api/v1/workflows/{id}/execute"]["post"];
    assert!(execute.get("security").is_none(), "the document's requirement applies");
    for status in ["401", "403", "429"] {
        assert!(execute["responses"][status].is_object(), "{status}");
    }
    assert!(execute["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert!(
        doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("RateLimited"))
    );
    let config: Value = reqwest::get(h.url("/swagger-ui/swagger-initializer.js"))
        .await
        .unwrap()
        .text()
        .await
        .map(|js| json!(js))
        .unwrap();
    assert!(config.as_str().unwrap().contains("persistAuthorization"), "{config}");
}
