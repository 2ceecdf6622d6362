//! Storage adapters, one per backend.

mod json_columns;
mod memory;
mod pgvector;
mod postgres;
mod sqlite;
mod vector_codec;
mod version_cache;

pub use memory::InMemoryStore;
pub(crate) use memory::paged_tasks as memory_paged;
pub use pgvector::PgvectorIndex;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[cfg(test)]
mod tests {
    fn migrations(dialect: &str) -> Vec<String> {
        let dir = format!("{}/migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_dialects_have_the_same_migrations_in_step() {
        let sqlite = migrations("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migrations("postgres"), "every migration needs a twin in the other dialect");
        for name in &sqlite {
            let version = name.split('_').next().unwrap();
            assert!(version.len() == 4 && version.parse::<u32>().is_ok(), "{name}: NNNN_name.sql");
        }
    }
}
