//! Tools end to end: validation names the field; a plugin's tool enqueues its job, the
//! workers run it, and the built-in status tool reports it.

use std::time::Duration;

use brain_plugin_api::{Caller, JobStatus, ToolContext, ToolError};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_the_field_and_unknown_tools_are_not_found() {
    let brain = Brain::new("");
    let shell = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &["alpha_run"]))])
        .await
        .unwrap();
    let cli = || ToolContext::new(Caller::cli());
    fn check(err: ToolError, expected_field: &str) {
        match err {
            ToolError::InvalidInput { field, message } => {
                assert_eq!(field, expected_field, "{message}");
            }
            other => panic!("expected invalid input at {expected_field}, got {other}"),
        }
    }
    check(
        shell
            .execute("alpha_run", json!({"steps": "three"}), cli())
            .await
            .unwrap_err(),
        "steps",
    );
    check(
        shell
            .execute("alpha_run", json!({}), cli())
            .await
            .unwrap_err(),
        "",
    );
    check(
        shell
            .execute("status", json!({"id": 5}), cli())
            .await
            .unwrap_err(),
        "id",
    );
    check(
        shell
            .execute("jobs_list", json!({"limit": 0}), cli())
            .await
            .unwrap_err(),
        "limit",
    );
    check(
        shell
            .execute("jobs_list", json!({"source": "Not A Source"}), cli())
            .await
            .unwrap_err(),
        "source",
    );
    check(
        shell
            .execute("status", json!({"id": "job_nope"}), cli())
            .await
            .unwrap_err(),
        "id",
    );
    let err = shell.execute("nope", json!({}), cli()).await.unwrap_err();
    assert_eq!(
        err,
        ToolError::NotFound {
            name: "nope".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_enqueues_and_status_follows_it_to_the_end() {
    let brain = Brain::new("[queue]\nconcurrency = 2\n");
    let shell = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &["alpha_run"]))])
        .await
        .unwrap();
    let cli = || ToolContext::new(Caller::cli());

    // Without workers the answer says the job is only queued.
    let queued = shell
        .execute("alpha_run", json!({"steps": 4, "label": "first"}), cli())
        .await
        .unwrap();
    assert_eq!(structured(&queued)["status"], "queued");
    let queued_id = structured(&queued)["jobId"].as_str().unwrap().to_owned();
    let status = shell
        .execute("status", json!({"id": queued_id}), cli())
        .await
        .unwrap();
    assert!(
        status.text.contains("waiting for a worker"),
        "{}",
        status.text
    );
    assert_eq!(structured(&status)[&queued_id]["workerRunning"], false);
    assert_eq!(structured(&status)[&queued_id]["waitingForWorker"], true);

    shell.start_workers().await.unwrap();
    let started = shell
        .execute("alpha_run", json!({"steps": 21}), cli())
        .await
        .unwrap();
    let s = structured(&started);
    assert_eq!(s["success"], true);
    assert_eq!(s["type"], "job");
    assert_eq!(s["status"], "started");
    assert!(
        s["estimatedDuration"].is_string() && s["checkStatusInMs"].is_u64(),
        "{s}"
    );
    assert!(
        started.text.starts_with("Started job job_"),
        "{}",
        started.text
    );
    let id = s["jobId"].as_str().unwrap().to_owned();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let entry = loop {
        let status = shell
            .execute("status", json!({"id": id}), cli())
            .await
            .unwrap();
        let entry = structured(&status)[&id].clone();
        if entry["status"] == "completed" {
            break entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not complete: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(entry["result"], 42);
    assert!(
        entry["startedAt"].is_string() && entry["finishedAt"].is_string(),
        "{entry}"
    );

    // The listing shows both; cancelling a finished job cancels nothing.
    let listed = shell.execute("jobs_list", json!({}), cli()).await.unwrap();
    let listed_ids: Vec<serde_json::Value> = structured(&listed)["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    // Newest first.
    assert_eq!(listed_ids, [json!(id), json!(queued_id)], "{listed_ids:?}");
    let cancel = shell
        .execute("jobs_cancel", json!({"id": id}), cli())
        .await
        .unwrap();
    assert_eq!(structured(&cancel)["cancelled"], 0);
    assert_eq!(
        shell.queue().status(&id).await.unwrap().event.status,
        JobStatus::Completed
    );
    shell.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_enqueue_another_plugins_jobs() {
    use brain_plugin_api::{NewJob, PluginContext};
    use std::sync::{Arc, Mutex};

    struct Sneaky(Arc<Mutex<Option<Arc<dyn PluginContext>>>>);
    #[async_trait::async_trait]
    impl brain_plugin_api::Plugin for Sneaky {
        fn id(&self) -> &str {
            "sneaky"
        }
        fn version(&self) -> &str {
            "1"
        }
        fn description(&self) -> &str {
            "tries to enqueue alpha's jobs"
        }
        fn register(
            &self,
            r: &mut brain_plugin_api::Registrar,
        ) -> Result<(), brain_plugin_api::PluginError> {
            *self.0.lock().unwrap() = Some(r.context());
            Ok(())
        }
    }
    let slot = Arc::new(Mutex::new(None));
    let brain = Brain::new("");
    let _shell = brain
        .shell(vec![
            plugin(TestPlugin::new("alpha", &[])),
            Arc::new(Sneaky(slot.clone())),
        ])
        .await
        .unwrap();
    let ctx = slot.lock().unwrap().clone().unwrap();
    let err = ctx
        .enqueue(NewJob::new("alpha:double", json!(1)), "nope")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only enqueue its own job types"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_quote_at_most_a_few_hundred_characters_of_the_input() {
    let brain = Brain::new("");
    let shell = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &["alpha_run"]))])
        .await
        .unwrap();
    let cli = || ToolContext::new(Caller::cli());
    let huge = "x".repeat(5 << 20);
    let quoted = "\"q\" ".repeat(1000);
    let errors = [
        // The tool's own message (no job or batch with that id), a type mismatch
        // (serde's message quotes the value), and an unknown tool.
        shell.execute("status", json!({ "id": huge }), cli()).await,
        shell
            .execute("status", json!({ "id": quoted }), cli())
            .await,
        shell
            .execute("alpha_run", json!({ "steps": huge }), cli())
            .await,
        shell.execute(&huge, json!({}), cli()).await,
    ];
    for error in errors {
        let message = error.unwrap_err().to_string();
        assert!(
            message.len() < 1000,
            "{} bytes: {}…",
            message.len(),
            &message[..200]
        );
        assert!(
            message.contains("xxx") || message.contains("\\\"q\\\""),
            "{message}"
        );
    }
}
