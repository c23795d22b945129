//! Registration: ids, tool names, API versions, start failures.

use std::sync::atomic::Ordering;

use brain_core::ShellError;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_errors_are_refused_with_the_culprit_named() {
    let brain = Brain::new("");
    let err = brain
        .shell(vec![
            plugin(TestPlugin::new("alpha", &["alpha_run"])),
            plugin(TestPlugin::new("alpha", &["other"])),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShellError::DuplicatePlugin { id } if id == "alpha"),
        "{err}"
    );

    let err = brain
        .shell(vec![
            plugin(TestPlugin::new("alpha", &["run"])),
            plugin(TestPlugin::new("beta", &["run"])),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShellError::DuplicateTool { name, first, second } if name == "run" && first == "alpha" && second == "beta"),
        "{err}"
    );

    // A plugin may not take a built-in tool's name either.
    let err = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &["status"]))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShellError::DuplicateTool { first, .. } if first == "shell"),
        "{err}"
    );

    let err = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &["alpha:run"]))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShellError::InvalidToolName { plugin, message } if plugin == "alpha" && message.contains("alpha:run")),
        "{err}"
    );

    let mut old = TestPlugin::new("alpha", &[]);
    old.api_version = 0;
    let err = brain.shell(vec![plugin(old)]).await.unwrap_err();
    assert!(
        matches!(&err, ShellError::ApiVersion { plugin, found: 0, .. } if plugin == "alpha"),
        "{err}"
    );
    assert!(err.to_string().contains("rebuild the plugin"), "{err}");

    let err = brain
        .shell(vec![plugin(TestPlugin::new("Alpha", &[]))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShellError::InvalidPluginId { id } if id == "Alpha"),
        "{err}"
    );

    // And a correct set registers.
    let shell = brain
        .shell(vec![
            plugin(TestPlugin::new("alpha", &["alpha_run"])),
            plugin(TestPlugin::new("beta", &["beta_run"])),
        ])
        .await
        .unwrap();
    let names: Vec<String> = shell
        .tools(&brain_plugin_api::Caller::cli())
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "alpha_run",
            "beta_run",
            "jobs_cancel",
            "jobs_list",
            "jobs_logs",
            "jobs_retry",
            "notes_index",
            "query",
            "search",
            "status"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_fails_to_start_does_not_take_the_others_down() {
    let brain = Brain::new("");
    let mut bad = TestPlugin::new("bad", &["bad_run"]);
    bad.fail_start = true;
    let good = TestPlugin::new("good", &["good_run"]);
    let good_started = good.started.clone();
    let shell = brain.shell(vec![plugin(bad), plugin(good)]).await.unwrap();
    let failures = shell.start_plugins().await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "bad");
    assert!(
        failures[0]
            .1
            .to_string()
            .contains("asked this plugin to fail")
    );
    assert!(good_started.load(Ordering::SeqCst));
    shell.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reads_its_own_config_section() {
    let brain = Brain::new("[alpha]\ngreeting = \"hi\"\n");
    let shell = brain
        .shell(vec![plugin(TestPlugin::new("alpha", &[]))])
        .await
        .unwrap();
    assert_eq!(shell.config().section_json("alpha")["greeting"], "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_commands_are_checked_listed_and_completed() {
    use brain_plugin_api::{ArgSpec, Caller, CommandSpec, Permission, Source};

    let brain = Brain::new("");
    let work = |tool: &str| {
        CommandSpec::new("alpha", "work", tool, "Work")
            .arg(ArgSpec::number("steps", "How many").positional().required())
            .arg(ArgSpec::text("label", "A label").completes())
    };
    let refused = |commands: Vec<CommandSpec>, says: &'static str| {
        let brain = &brain;
        async move {
            let err = brain
                .shell(vec![plugin(
                    TestPlugin::new("alpha", &["alpha_run", "public_run"]).with_commands(commands),
                )])
                .await
                .unwrap_err();
            assert!(
                matches!(&err, ShellError::Command { plugin, message } if plugin == "alpha" && message.contains(says)),
                "{says}: {err}"
            );
        }
    };
    refused(
        vec![work("status")],
        "runs `status`, which is not one of its tools",
    )
    .await;
    refused(
        vec![work("alpha_run").arg(ArgSpec::switch("fast", ""))],
        "`alpha_run` has no input field `fast`",
    )
    .await;
    refused(
        vec![work("alpha_run"), work("public_run")],
        "the name `work` is taken",
    )
    .await;
    refused(
        vec![CommandSpec::new("", "run", "alpha_run", "")],
        "needs a group",
    )
    .await;
    refused(
        vec![CommandSpec::new("alpha", "cancel", "alpha_run", "")],
        "the name `cancel` is taken",
    )
    .await;

    let shell = brain
        .shell(vec![plugin(
            TestPlugin::new("alpha", &["alpha_run", "public_run"]).with_commands(vec![
                work("alpha_run"),
                CommandSpec::new("alpha", "open", "public_run", "Anyone"),
            ]),
        )])
        .await
        .unwrap();
    let names = |caller: &Caller| -> Vec<String> {
        shell.commands(caller).into_iter().map(|c| c.name).collect()
    };
    // The plugin's first, then the shell's; only what the caller may run.
    assert_eq!(
        names(&Caller::cli()),
        ["work", "open", "status", "jobs", "cancel", "retry", "logs"]
    );
    let public = Caller::new(Source::system(), Permission::Public);
    assert_eq!(names(&public), ["open"]);

    let typed = serde_json::json!({"steps": 3});
    assert_eq!(
        shell
            .complete("alpha_run", "label", typed.as_object().unwrap())
            .await,
        ["alpha-3"]
    );
    let started = shell
        .execute(
            "alpha_run",
            serde_json::json!({"steps": 2}),
            brain_plugin_api::ToolContext::new(Caller::cli()),
        )
        .await
        .unwrap()
        .started
        .unwrap();
    let ids = shell
        .complete("jobs_cancel", "id", &Default::default())
        .await;
    assert!(ids.contains(&started.job_id), "{ids:?}");
}
