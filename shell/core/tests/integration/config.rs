//! Configuration errors reach the caller naming the key.

use brain_core::{ConfigError, ShellError};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_key_and_nothing_is_created() {
    let brain = Brain::new("[queue]\nconcurrency = 0\n");
    let err = brain.shell(vec![]).await.unwrap_err();
    match &err {
        ShellError::Config(ConfigError::Invalid {
            key,
            value,
            allowed,
        }) => {
            assert_eq!(key, "queue.concurrency");
            assert_eq!(value, "0");
            assert!(allowed.contains("1 to 256"), "{allowed}");
        }
        other => panic!("expected an invalid-value error, got {other}"),
    }
    assert!(
        !brain.dir.path().join(".brain").exists(),
        "a refused config must not create the data dir"
    );

    let missing = tempfile::tempdir().unwrap();
    let err = brain_core::Shell::builder(missing.path())
        .env(Vec::new())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("brain init"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_apply_and_are_validated() {
    let brain = Brain::new("[queue]\nconcurrency = 2\n");
    let shell = brain_core::Shell::builder(brain.dir.path())
        .env(vec![("BRAIN_QUEUE__CONCURRENCY".into(), "7".into())])
        .build()
        .await
        .unwrap();
    assert_eq!(shell.config().queue.concurrency, 7);
    drop(shell);
    let err = brain_core::Shell::builder(brain.dir.path())
        .env(vec![("BRAIN_QUEUE__CONCURRENCY".into(), "many".into())])
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("BRAIN_QUEUE__CONCURRENCY"),
        "{err}"
    );
}
