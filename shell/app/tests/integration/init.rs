//! `brain init`: what it creates, and that it never changes a file that exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{brain_run, scaffolded};

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(root).unwrap().to_owned(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn scaffolds_config_notes_and_gitignore() {
    let (_tmp, dir) = scaffolded();
    let names: Vec<String> = files(&dir)
        .keys()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            ".gitignore",
            "brain.toml",
            "notes/example-product.md",
            "notes/hello-world.md",
            "notes/ideas.md",
            "notes/welcome.md"
        ]
    );
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == ".brain/"), "{gitignore}");

    let config: toml::Table = std::fs::read_to_string(dir.join("brain.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(config["brain"]["name"].as_str(), Some("brain"));
    assert_eq!(config["site"]["title"].as_str(), Some("brain"));
    let routes = config["site"]["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0]["sections"].as_array().unwrap().len(), 4);

    let product = std::fs::read_to_string(dir.join("notes/example-product.md")).unwrap();
    assert!(product.starts_with("---\ntitle: "), "{product}");
    assert!(product.contains("tags: [product]"), "{product}");
    assert!(!product.contains("{date}"), "{product}");
}

#[test]
fn a_second_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let first = brain_run(tmp.path(), &["init", "b"]).expect(0);
    assert_eq!(first.stdout.lines().count(), 6, "{}", first.stdout);
    assert!(
        first.stdout.lines().all(|l| l.starts_with("created ")),
        "{}",
        first.stdout
    );
    let before = files(&tmp.path().join("b"));

    let second = brain_run(tmp.path(), &["init", "b"]).expect(0);
    assert_eq!(files(&tmp.path().join("b")), before);
    assert_eq!(second.stdout.lines().count(), 6, "{}", second.stdout);
    assert!(
        second.stdout.lines().all(|l| l.starts_with("kept ")),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("kept brain.toml"),
        "{}",
        second.stdout
    );
}

#[test]
fn existing_files_are_kept_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("notes")).unwrap();
    let note = b"---\ntitle: Mine\n---\nmy words\n";
    let config = b"# mine\n[queue]\nconcurrency = 2\n";
    std::fs::write(dir.join("notes/my.md"), note).unwrap();
    std::fs::write(dir.join("brain.toml"), config).unwrap();

    // The brain directory given by --dir, and the command run from elsewhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let run = brain_run(elsewhere.path(), &["--dir", dir.to_str().unwrap(), "init"]).expect(0);
    assert!(run.stdout.contains("kept brain.toml"), "{}", run.stdout);
    assert!(
        run.stdout.contains("created notes/welcome.md"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(dir.join("notes/my.md")).unwrap(), note);
    assert_eq!(std::fs::read(dir.join("brain.toml")).unwrap(), config);
}

#[test]
fn a_new_brain_answers_jobs_list_by_dir_and_from_inside() {
    let tmp = tempfile::tempdir().unwrap();
    brain_run(tmp.path(), &["init", "demo"]).expect(0);
    let by_dir = brain_run(tmp.path(), &["--dir", "demo", "jobs", "list"]).expect(0);
    assert_eq!(by_dir.stdout.trim(), "No active or recent jobs.");
    let inside = brain_run(&tmp.path().join("demo"), &["jobs", "list"]).expect(0);
    assert_eq!(inside.stdout, by_dir.stdout);
    let json = brain_run(&tmp.path().join("demo"), &["jobs", "list", "--json"]).expect(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn a_folder_without_brain_toml_says_to_run_init() {
    let empty = tempfile::tempdir().unwrap();
    let run = brain_run(
        empty.path(),
        &["--dir", empty.path().to_str().unwrap(), "jobs", "list"],
    )
    .expect(2);
    assert!(run.stderr.contains("brain init"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Nothing was created in a folder that is not a brain.
    assert!(!empty.path().join(".brain").exists());
}

/// Like git: a command run in a folder inside a brain finds the brain above it; outside
/// any brain it says where it looked and how to make one, and creates nothing.
#[test]
fn the_brain_is_found_from_any_folder_inside_it() {
    let (_tmp, dir) = scaffolded();
    let nested = dir.join("notes/deeper");
    std::fs::create_dir_all(&nested).unwrap();
    let listed = brain_run(&nested, &["jobs", "list", "--json"]).expect(0);
    assert_eq!(listed.stdout.trim(), "[]", "{listed:?}");
    brain_run(&nested, &["site", "generate", "about", "-q"]).expect(0);
    assert!(dir.join("content/preview/about/text.md").is_file());
    assert!(!nested.join(".brain").exists() && !nested.join("content").exists());

    // `brain init` in a folder inside a brain makes a brain there, not above.
    let inner = dir.join("projects/inner");
    std::fs::create_dir_all(&inner).unwrap();
    brain_run(&inner, &["init"]).expect(0);
    assert!(inner.join("brain.toml").is_file());

    let outside = tempfile::tempdir().unwrap();
    let run = brain_run(outside.path(), &["jobs", "list"]).expect(2);
    assert!(
        run.stderr.contains("or any folder above it")
            && run.stderr.contains("`brain init <dir>`")
            && run.stderr.contains("--dir or BRAIN_DIR"),
        "{}",
        run.stderr
    );
    assert!(!outside.path().join(".brain").exists());
}
