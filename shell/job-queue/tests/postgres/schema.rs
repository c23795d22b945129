//! What only the PostgreSQL driver has: its `brains` schema beside other applications'
//! tables, refusing a schema that is not a job queue or is newer, and bad urls.

use brain_job_queue::{NewJob, QueueConfig, QueueError};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tables_are_untouched_and_a_foreign_brains_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Db::Postgres(url) = Db::fresh(dir.path()).await else {
        unreachable!()
    };
    let client = postgres::client(&url).await;
    client
        .batch_execute(
            "CREATE TABLE public.jobs (id TEXT); INSERT INTO public.jobs VALUES ('theirs');",
        )
        .await
        .unwrap();
    let queue = open(&Db::Postgres(url.clone()), QueueConfig::default()).await;
    queue
        .enqueue(NewJob::new("test:echo", json!(1)))
        .await
        .unwrap();
    let theirs: String = client
        .query_one("SELECT id FROM public.jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(theirs, "theirs");

    // Another application's `brains` schema.
    let other = Db::fresh(dir.path()).await;
    let Db::Postgres(other_url) = &other else {
        unreachable!()
    };
    postgres::client(other_url)
        .await
        .batch_execute("CREATE SCHEMA brains; CREATE TABLE brains.things (x INT);")
        .await
        .unwrap();
    match other.open(QueueConfig::default()).await {
        Err(QueueError::ForeignSchema { location }) => {
            assert!(location.starts_with("postgres://"), "{location}");
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a foreign brains schema was taken as a job queue"),
    }
    let tables: i64 = postgres::client(other_url)
        .await
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'brains'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "nothing was added to their schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_its_jobs_kept() {
    let t = TestQueue::new().await;
    let job = t
        .queue
        .enqueue(NewJob::new("test:echo", json!("keep me")))
        .await
        .unwrap();
    let Db::Postgres(url) = &t.db else {
        unreachable!()
    };
    let client = postgres::client(url).await;
    let version: String = client
        .query_one("SELECT value FROM brains.meta WHERE name = 'version'", &[])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute("UPDATE brains.meta SET value = '999' WHERE name = 'version'")
        .await
        .unwrap();
    match t.db.open(QueueConfig::default()).await {
        Err(QueueError::NewerSchema { found: 999, .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
    client
        .execute(
            "UPDATE brains.meta SET value = $1 WHERE name = 'version'",
            &[&version],
        )
        .await
        .unwrap();
    let again = open(&t.db, QueueConfig::default()).await;
    assert!(again.job(&job.id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_names_the_setting_and_an_unreachable_server_says_where() {
    let bad = Db::Postgres("postgres://user@host:notaport/db".into());
    match bad.open(QueueConfig::default()).await {
        Err(QueueError::InvalidArgument {
            field: "url",
            reason,
        }) => {
            assert!(
                reason.contains("not a PostgreSQL connection url"),
                "{reason}"
            );
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a bad url was accepted"),
    }
    let nobody = Db::Postgres("host=/nonexistent-brains-socket port=1 user=x dbname=x".into());
    match nobody.open(QueueConfig::default()).await {
        Err(QueueError::Unreachable { location, .. }) => {
            assert!(
                location.contains("/nonexistent-brains-socket"),
                "{location}"
            );
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
}
