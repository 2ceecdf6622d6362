//! Postgres rows written before migration 0004 (JSONB columns, free text without the NUL escape)
//! read back unchanged after it: U+FFFD that older versions stored for NUL stays U+FFFD, and a DLE
//! (the new escape character) in old text is not mistaken for an escape.

use super::WS;
use super::backends::{open_postgres, postgres_schema};
use super::{at, workflow_with};
use oxify_api::domain::ids::{ExecutionId, WorkflowId};
use oxify_api::domain::run::RunEvent;
use oxify_api::ports::{ExecutionLog, ExecutionRecords, WorkflowStore};
use serde_json::json;
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};
use std::path::Path;

/// The last migration before text was kept exactly.
const BEFORE: i64 = 3;

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn postgres_rows_from_before_exact_text_read_back_unchanged() {
    let (url, _schema) = postgres_schema().await;
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let all = Migrator::new(folder.as_path()).await.unwrap();
    let older = Migrator::with_migrations(all.migrations.iter().filter(|m| m.version <= BEFORE).cloned().collect());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    older.run(&mut conn).await.unwrap();

    let old_text = "nul was \u{FFFD}, dle \u{10}0 and \u{10}\u{10} kept";
    let id = WorkflowId::generate();
    let mut wf = workflow_with(id, at(0), "old").workflow().clone();
    wf.metadata.name = old_text.into();
    wf.nodes[0].name = old_text.into();
    let execution = ExecutionId::generate();
    let variables = json!({"q": old_text, "n": [1, 2.5]});
    // Earlier versions stored each event as the SSE text clients received.
    let event = json!({"node_id": "s", "attempt": 1, "error": old_text, "state": "Failed"}).to_string();
    let run = |sql: &'static str| sqlx::query(sql);
    run("INSERT INTO workflows (id, latest_version, created_at) VALUES ($1, 1, now())")
        .bind(id.0)
        .execute(&mut conn)
        .await
        .unwrap();
    run(
        "INSERT INTO workflow_versions (workflow_id, version, metadata, definition, node_count, edge_count, saved_at) \
         VALUES ($1, 1, $2::jsonb, $3::jsonb, 2, 1, now())",
    )
    .bind(id.0)
    .bind(serde_json::to_string(&wf.metadata).unwrap())
    .bind(serde_json::to_string(&wf).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    run("INSERT INTO executions (id, workflow_id, workflow_version, state, error, variables, created_at, options) \
         VALUES ($1, $2, 1, 'Failed', $3, $4::jsonb, now(), '{\"budget\": {\"max_tokens\": 7}}'::jsonb)")
    .bind(execution.0)
    .bind(id.0)
    .bind(old_text)
    .bind(variables.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    run(
        "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts) \
         VALUES ($1, 's', 0, $2, 'Start', 'Failed', $3::jsonb, $2, 1)",
    )
    .bind(execution.0)
    .bind(old_text)
    .bind(variables.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    run("INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) \
         VALUES ($1, 1, 'node_failed', 's', $2, 'Failed', 1, now())")
    .bind(execution.0)
    .bind(&event)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = open_postgres(&url).await;
    assert_eq!(WorkflowStore::get(&store, WS, id).await.unwrap().workflow.workflow(), &wf);
    assert_eq!(WorkflowStore::list_versions(&store, WS, id).await.unwrap()[0].name, old_text);
    let got = ExecutionRecords::get(&store, WS, execution).await.unwrap();
    assert_eq!(serde_json::Value::Object(got.variables.as_ref().clone()), variables);
    assert_eq!(got.error.as_deref(), Some(old_text));
    assert_eq!(got.budget.max_tokens, Some(7));
    let result = &store.node_results(WS, execution).await.unwrap()[0];
    assert_eq!((&*result.node_name, result.error.as_deref()), (old_text, Some(old_text)));
    assert_eq!(result.output.as_deref(), Some(&variables));
    let events = store.events_after(WS, execution, 0, 10).await.unwrap();
    let RunEvent::NodeFailed { error, .. } = &events[0].event else { panic!("{:?}", events[0].event) };
    assert_eq!(error, old_text, "a legacy event reads as a typed one, its text unchanged");
}
