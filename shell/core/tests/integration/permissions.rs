//! The permission check comes before anything runs.

use brain_job_queue::ListFilter;
use brain_plugin_api::{Caller, Permission, Source, ToolContext, ToolError};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_caller_cannot_run_an_anchor_tool_and_nothing_is_enqueued() {
    let brain = Brain::new("");
    let shell = brain
        .shell(vec![plugin(TestPlugin::new(
            "alpha",
            &["alpha_run", "public_run"],
        ))])
        .await
        .unwrap();
    let public = Caller::new(
        Source::with_detail("matrix", "!room:example.org").unwrap(),
        Permission::Public,
    );

    let err = shell
        .execute(
            "alpha_run",
            json!({"steps": 3}),
            ToolContext::new(public.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::PermissionDenied {
            tool: "alpha_run".into(),
            required: Permission::Anchor,
            caller: Permission::Public
        }
    );
    let listed = shell
        .queue()
        .list(ListFilter {
            include_batch_items: true,
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert!(listed.is_empty(), "a refused call enqueued {listed:?}");

    // A public caller sees only public tools, and may run those.
    let visible: Vec<String> = shell.tools(&public).into_iter().map(|t| t.name).collect();
    assert_eq!(visible, ["public_run", "search"]);
    shell
        .execute(
            "public_run",
            json!({"steps": 3}),
            ToolContext::new(public.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        shell
            .queue()
            .list(ListFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );

    // Built-in job tools: status is for trusted callers, cancel for the anchor.
    let trusted = Caller::new(public.source.clone(), Permission::Trusted);
    assert!(
        shell
            .execute("status", json!({}), ToolContext::new(trusted.clone()))
            .await
            .is_ok()
    );
    let err = shell
        .execute(
            "jobs_cancel",
            json!({"id": "job_x"}),
            ToolContext::new(trusted),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::PermissionDenied {
                required: Permission::Anchor,
                ..
            }
        ),
        "{err}"
    );
    let err = shell
        .execute("status", json!({}), ToolContext::new(public))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::PermissionDenied {
                required: Permission::Trusted,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_come_from_the_config() {
    let brain = Brain::new(
        "[permissions]\nanchor = [\"@me:example.org\"]\ntrusted = [\"@friend:example.org\"]\n",
    );
    let shell = brain.shell(vec![]).await.unwrap();
    let handle = shell.handle();
    assert_eq!(
        handle.permission_of("matrix", "@me:example.org"),
        Permission::Anchor
    );
    assert_eq!(
        handle.permission_of("matrix", "@friend:example.org"),
        Permission::Trusted
    );
    assert_eq!(
        handle.permission_of("matrix", "@stranger:example.org"),
        Permission::Public
    );
}
