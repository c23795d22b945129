//! A throwaway PostgreSQL server for tests: initdb in a temporary folder, the
//! non-durable settings, a Unix socket (and TCP when asked), stopped by a watchdog once the
//! test process exits. Shared by the queue's PostgreSQL suite (`tests/postgres`) and its
//! query-plan unit test (`src/query_plans.rs`).

use std::process::Command;

/// Where the server's binaries are (Debian's PostgreSQL 15).
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL server of a test's own, with the non-durable settings, on a socket in
/// a temporary folder (and TCP addresses when `extra` says so). A watchdog stops it and
/// removes its folder once this process has exited.
pub(crate) struct Cluster {
    dir: std::path::PathBuf,
    port: u32,
    root: bool,
}

impl Cluster {
    /// `extra`: more `-c name=value` server options.
    pub(crate) fn start(extra: &str) -> Cluster {
        assert!(
            std::path::Path::new(BIN).join("initdb").exists(),
            "PostgreSQL 15 is not installed at {BIN}: `apt-get install postgresql-15`, or set DATABASE_URL"
        );
        let dir = tempfile::Builder::new()
            .prefix("brains-pg.")
            .tempdir()
            .unwrap()
            .keep();
        // `initdb` refuses root: as root the server runs as the `postgres` user.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        if root {
            let ok = Command::new("chown")
                .args(["postgres:", &dir.to_string_lossy()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give {} to the postgres user", dir.display());
        }
        // A port no other server uses (each test server has its own socket folder, but
        // one that listens on TCP needs a port of its own too).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| u32::from(a.port()))
            .unwrap();
        let cluster = Cluster { port, dir, root };
        let data = cluster.data();
        cluster.run(&[
            &format!("{BIN}/initdb"),
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        std::fs::write(
            cluster.dir.join("data/pg_hba.conf"),
            "local all all trust\nhost all all 0.0.0.0/0 trust\n",
        )
        .unwrap_or_else(|e| panic!("cannot write pg_hba.conf: {e}"));
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories={} -c port={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 {extra}",
            cluster.dir.display(),
            cluster.port,
        );
        let log = cluster.dir.join("log").to_string_lossy().into_owned();
        cluster.pg_ctl(&["-D", &data, "-l", &log, "-w", "start", "-o", &options]);
        let stop = if root {
            format!("runuser -u postgres -- {BIN}/pg_ctl")
        } else {
            format!("{BIN}/pg_ctl")
        };
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = cluster.dir.display(),
        );
        // Not waited for: it outlives this process on purpose.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .args(["-c", &watchdog])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        cluster
    }

    /// Its folder (the data directory is `data/` in it).
    #[allow(dead_code)] // the TLS test's
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Connection parameters, without a database name.
    pub(crate) fn conninfo(&self) -> String {
        format!(
            "host={} port={} user=postgres ",
            self.dir.display(),
            self.port
        )
    }

    /// What the server logged (with `log_statement = all`: every statement it ran).
    #[allow(dead_code)] // the query-plan test's
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The port it listens on.
    #[allow(dead_code)] // only some tests use TCP
    pub(crate) fn port(&self) -> u32 {
        self.port
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is cut.
    #[allow(dead_code)] // the PostgreSQL suite's
    pub(crate) fn restart(&self) {
        let data = self.data();
        // With a log file: otherwise the new server holds this process's pipe open.
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.pg_ctl(&["-D", &data, "-l", &log, "-m", "fast", "-w", "restart"]);
    }

    /// A new, empty database; its connection string.
    #[allow(dead_code)] // the PostgreSQL suite's
    pub(crate) async fn database(&self) -> String {
        create_database(&self.conninfo()).await
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = format!("{BIN}/pg_ctl");
        let mut all = vec![pg_ctl.as_str()];
        all.extend_from_slice(args);
        self.run(&all);
    }

    fn run(&self, args: &[&str]) {
        let mut command = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", args[0]]);
            c
        } else {
            Command::new(args[0])
        };
        command.args(&args[1..]);
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The connection parameters of `url` (a URL or `key=value` pairs) without its database
/// name: what [`create_database`] adds one to.
#[allow(dead_code)] // the suite's and the benchmark's
pub(crate) fn server_of(url: &str) -> Result<String, tokio_postgres::Error> {
    use std::str::FromStr;
    let config = tokio_postgres::Config::from_str(url)?;
    let mut out = String::new();
    if let Some(host) = config.get_hosts().first() {
        match host {
            tokio_postgres::config::Host::Tcp(h) => out.push_str(&format!("host={h} ")),
            tokio_postgres::config::Host::Unix(p) => {
                out.push_str(&format!("host={} ", p.display()))
            }
        }
    }
    if let Some(port) = config.get_ports().first() {
        out.push_str(&format!("port={port} "));
    }
    if let Some(user) = config.get_user() {
        out.push_str(&format!("user={user} "));
    }
    if let Some(password) = config.get_password() {
        out.push_str(&format!("password={} ", String::from_utf8_lossy(password)));
    }
    Ok(out)
}

/// A client on database `url`.
pub(crate) async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// A new, empty database on the server `cluster` (connection parameters without a
/// database name); its connection string.
pub(crate) async fn create_database(cluster: &str) -> String {
    let name = format!("t_{:016x}", rand_u64());
    let admin = client(&format!("{cluster}dbname=postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    format!("{cluster}dbname={name}")
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}
