//! Promotion and rollback: the tools enqueue one job per section that has a file, the
//! handlers copy validated preview content to production and remove production content.

use serde_json::json;

use crate::support::Brain;

#[tokio::test]
async fn promote_and_rollback_tools_enqueue_one_job_per_file() {
    let brain = Brain::new();
    // Nothing generated yet: nothing to promote or roll back, answered at once.
    let result = brain.call("site_promote", json!({})).await.unwrap();
    assert!(
        result.text.starts_with("Nothing to promote"),
        "{}",
        result.text
    );
    let result = brain.call("site_rollback", json!({})).await.unwrap();
    assert!(
        result.text.starts_with("Nothing to roll back"),
        "{}",
        result.text
    );
    assert!(brain.recording.batches().is_empty());

    brain.generate_all().await;
    let result = brain
        .call("site_promote", json!({"route": "landing"}))
        .await
        .unwrap();
    assert!(
        result.text.contains("promoting 4 sections to production"),
        "{}",
        result.text
    );
    let batch = &brain.recording.batches()[0];
    assert_eq!(batch.label.as_deref(), Some("Promoting content"));
    let jobs: Vec<(&str, &str)> = batch
        .jobs
        .iter()
        .map(|j| (j.job_type.as_str(), j.label.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        jobs,
        [
            ("site-builder:promote", "landing:hero"),
            ("site-builder:promote", "landing:features"),
            ("site-builder:promote", "landing:products"),
            ("site-builder:promote", "landing:cta"),
        ]
    );
    assert_eq!(
        batch.jobs[0].input,
        json!({"route": "landing", "section": "hero"})
    );

    brain.write(
        "content/production/about/text.md",
        "---\ntemplate: text\ntitle: t\n---\nbody\n",
    );
    brain.call("site_rollback", json!({})).await.unwrap();
    let batch = &brain.recording.batches()[1];
    assert_eq!(batch.label.as_deref(), Some("Rolling back content"));
    assert_eq!(batch.jobs.len(), 1);
    assert_eq!(batch.jobs[0].job_type, "site-builder:rollback");
    assert_eq!(batch.jobs[0].label.as_deref(), Some("about:text"));
}

#[tokio::test]
async fn promote_copies_validated_content_and_rollback_removes_it() {
    let brain = Brain::new();
    brain.generate_all().await;
    // A person's edit, with a comment, is copied as it is.
    let edited = "---\n# my words\ntemplate: hero\nheadline: Mine\nsubheadline: s\ncta_text: c\ncta_url: /\n---\n";
    brain.write("content/preview/landing/hero.md", edited);
    let input = json!({"route": "landing", "section": "hero"});
    let output = brain
        .run_job("site-builder:promote", input.clone())
        .await
        .unwrap();
    assert_eq!(
        output,
        json!({"route": "landing", "section": "hero", "file": "content/production/landing/hero.md"})
    );
    assert_eq!(brain.read("content/production/landing/hero.md"), edited);

    let output = brain
        .run_job("site-builder:rollback", input.clone())
        .await
        .unwrap();
    assert_eq!(output["removed"], true);
    assert!(!brain.exists("content/production/landing/hero.md"));
    let output = brain
        .run_job("site-builder:rollback", input.clone())
        .await
        .unwrap();
    assert_eq!(output["removed"], false, "already gone is fine");
}

#[tokio::test]
async fn invalid_preview_content_is_not_promoted() {
    let brain = Brain::new();
    brain.write(
        "content/preview/landing/hero.md",
        "---\ntemplate: hero\nheadline: [1, 2]\nsubheadline: s\ncta_text: c\ncta_url: /\n---\n",
    );
    let err = brain
        .run_job(
            "site-builder:promote",
            json!({"route": "landing", "section": "hero"}),
        )
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .starts_with("content/preview/landing/hero.md: headline: invalid type"),
        "{err}"
    );
    assert!(!brain.exists("content/production/landing/hero.md"));

    let err = brain
        .run_job(
            "site-builder:promote",
            json!({"route": "landing", "section": "cta"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
