//! TLS to PostgreSQL: a url with `sslmode=require` connects over rustls and verifies the
//! server's certificate (here signed by a CA the test makes, named with `sslrootcert`);
//! every connection the queue holds is encrypted. A certificate nobody vouches for, a
//! missing CA file and an unknown `sslmode` are refused, naming what is wrong.

use std::path::Path;
use std::process::Command;

use brain_job_queue::{NewJob, QueueConfig};
use brain_plugin_api::JobStatus;
use serde_json::json;

use crate::support::*;

/// Runs `openssl args…` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (the TLS test makes its certificates with it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate it signed for localhost and 127.0.0.1
/// (`server.pem`, `server.key`), readable by the server.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=brains test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    // The server refuses a key others may read; as root it runs as `postgres`.
    let key = dir.join("server.key");
    let _ = Command::new("chown")
        .args(["postgres:", &key.to_string_lossy()])
        .status();
    let _ = Command::new("chmod")
        .args(["600", &key.to_string_lossy()])
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_connects_over_tls_and_verifies_the_server() {
    let certs = tempfile::tempdir().unwrap();
    let _ = Command::new("chmod")
        .args(["755", &certs.path().to_string_lossy()])
        .status();
    certificates(certs.path());
    let file = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    let cluster = postgres::Cluster::start(&format!(
        "-c listen_addresses='127.0.0.1' -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        file("server.pem"),
        file("server.key")
    ));
    let local = cluster.database().await;
    let name = local
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .unwrap()
        .to_owned();
    let base = format!("postgres://postgres@localhost:{}/{name}", cluster.port());

    // Trusting the test's CA: the queue works, over TLS only.
    let url = format!("{base}?sslmode=require&sslrootcert={}", file("ca.pem"));
    let queue = open(&Db::Postgres(url), QueueConfig::default()).await;
    let job = queue
        .enqueue(NewJob::new("test:echo", json!(7)))
        .await
        .unwrap();
    let pool = queue.start_workers(workers(1)).await.unwrap();
    let state = wait_for("the job over TLS", || async {
        let state = queue.status(&job.id).await.unwrap();
        state.event.status.is_finished().then_some(state)
    })
    .await;
    assert_eq!(state.event.status, JobStatus::Completed);
    let admin = postgres::client(&local).await;
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'brains'",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, plain): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        encrypted >= 2,
        "the pool and the listener: {encrypted} encrypted"
    );
    assert_eq!(plain, 0, "a connection without TLS");
    pool.shutdown(std::time::Duration::from_secs(5)).await;

    // The system's roots do not know the test's CA: refused, and the error says why.
    let Err(error) = Db::Postgres(format!("{base}?sslmode=require"))
        .open(QueueConfig::default())
        .await
    else {
        panic!("a server certificate nobody vouches for was accepted");
    };
    let text = error.to_string();
    eprintln!("refused: {text}");
    assert!(text.contains("certificate"), "{text}");
    assert!(
        text.contains(&format!("localhost:{}", cluster.port())),
        "{text}"
    );

    // A CA file that is not there, and a mode PostgreSQL does not know: the url's fault.
    for (url, expected) in [
        (
            format!("{base}?sslmode=require&sslrootcert=/nonexistent/ca.pem"),
            "/nonexistent/ca.pem",
        ),
        (format!("{base}?sslmode=sometimes"), "\"sometimes\""),
    ] {
        let Err(error) = Db::Postgres(url).open(QueueConfig::default()).await else {
            panic!("accepted");
        };
        let text = error.to_string();
        assert!(text.contains(expected) && text.contains("url"), "{text}");
    }
}
