//! Test support for the bot's end-to-end tests: a throwaway Synapse (installed from PyPI by
//! `scripts/test-deps/synapse.sh`, SQLite, a free loopback port, users registered with the
//! shared secret) and a person's client on matrix-sdk that creates rooms (encrypted or
//! not), sends commands and records what the bot answers. Not used by the bot itself.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use matrix_sdk::config::SyncSettings;
use matrix_sdk::encryption::EncryptionSettings;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::room::create_room::v3::Request as CreateRoom;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, ReplacementMetadata,
    RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UInt, UserId};
use matrix_sdk::{Client, Room};

/// A bot process — `brain matrix`, `brain start` with `[matrix]`, a custom binary's — with
/// its stderr in a log file; killed on drop.
pub struct BotProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl BotProcess {
    /// Spawns `command` (stdout discarded, stderr into `log`) and waits, up to `timeout`,
    /// until the bot has synced once: commands sent from then on run.
    pub fn start(mut command: Command, log: PathBuf, timeout: Duration) -> BotProcess {
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = command.spawn().unwrap();
        let bot = BotProcess { child, log };
        let until = Instant::now() + timeout;
        while !bot.log().contains("Matrix bot ready") {
            assert!(
                Instant::now() < until,
                "the bot never got ready:\n{}",
                bot.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bot
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let code = self.child.wait().unwrap();
        assert!(
            code.success(),
            "the bot exited with {code}:\n{}",
            self.log()
        );
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The error of a test helper: what failed, as text.
pub type TestResult<T> = Result<T, String>;

fn e(context: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |error| format!("{context}: {error}")
}

/// The python of the venv with Synapse, installed on first use.
pub fn synapse_python() -> TestResult<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-deps/synapse.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|x| e("cannot run synapse.sh")(&x))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", script.display(), output.status));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    ))
}

/// Rate limits of a test homeserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Every `rc_*` raised far beyond what a test does.
    Raised,
    /// Synapse's defaults (messages: 0.2/s, burst 10) — except logins and registrations,
    /// which tests do more of than people.
    Default,
}

/// A Synapse of its own for one test; killed (and its directory removed) on drop.
pub struct Synapse {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    python: PathBuf,
}

const SHARED_SECRET: &str = "brain-test-shared-secret";

impl Synapse {
    /// Starts a homeserver named `localhost` under `dir` and waits until it answers.
    pub async fn start(dir: &Path, limits: Limits) -> TestResult<Synapse> {
        let python = tokio::task::spawn_blocking(synapse_python)
            .await
            .map_err(|x| e("synapse.sh")(&x))??;
        std::fs::create_dir_all(dir).map_err(|x| e("synapse dir")(&x))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|x| e("free port")(&x))?
            .port();
        let d = dir.display();
        let hi = "{per_second: 1000, burst_count: 1000}";
        let mut config = format!(
            "server_name: localhost\n\
             pid_file: {d}/hs.pid\n\
             listeners:\n  - {{port: {port}, bind_addresses: ['127.0.0.1'], type: http, tls: false, resources: [{{names: [client], compress: false}}]}}\n\
             database: {{name: sqlite3, args: {{database: {d}/hs.db}}}}\n\
             media_store_path: {d}/media\n\
             signing_key_path: {d}/signing.key\n\
             log_config: {d}/log.yaml\n\
             registration_shared_secret: {SHARED_SECRET}\n\
             macaroon_secret_key: test-macaroon\n\
             form_secret: test-form\n\
             report_stats: false\n\
             trusted_key_servers: []\n\
             suppress_key_server_warning: true\n\
             presence: {{enabled: false}}\n\
             url_preview_enabled: false\n\
             enable_metrics: false\n\
             rc_registration: {hi}\n\
             rc_login: {{address: {hi}, account: {hi}, failed_attempts: {hi}}}\n"
        );
        if limits == Limits::Raised {
            let _ = write!(
                config,
                "rc_message: {hi}\n\
                 rc_room_creation: {hi}\n\
                 rc_joins: {{local: {hi}, remote: {hi}}}\n\
                 rc_joins_per_room: {hi}\n\
                 rc_invites: {{per_room: {hi}, per_user: {hi}, per_issuer: {hi}}}\n\
                 rc_key_requests: {hi}\n"
            );
        }
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).map_err(|x| e(name)(&x))
        };
        write("hs.yaml", config)?;
        write(
            "log.yaml",
            format!(
                "version: 1\nformatters: {{f: {{format: '%(asctime)s %(levelname)s %(name)s %(message)s'}}}}\n\
                 handlers: {{file: {{class: logging.FileHandler, filename: {d}/hs.log, formatter: f}}}}\n\
                 root: {{level: INFO, handlers: [file]}}\ndisable_existing_loggers: false\n"
            ),
        )?;
        // The signing key in Synapse's format, written here: one Python start-up less.
        write(
            "signing.key",
            format!("ed25519 a_test {}\n", unpadded_base64(&random_bytes())),
        )?;
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(dir.join("hs.yaml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).map_err(|x| e("stderr.log")(&x))?)
            .spawn()
            .map_err(|x| e("cannot start synapse")(&x))?;
        let synapse = Synapse {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
            python,
        };
        let http = matrix_sdk::reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/health", synapse.url)).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
                return Err(format!("synapse did not answer within 90 s:\n{log}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(synapse)
    }

    /// Registers users (name, password) with the shared secret, in parallel.
    pub async fn register(&self, users: &[(&str, &str)]) -> TestResult<()> {
        let script = self
            .python
            .parent()
            .ok_or("no venv bin dir")?
            .join("register_new_matrix_user");
        let mut handles = Vec::new();
        for (user, password) in users {
            let mut command = Command::new(&script);
            command
                .args([
                    "-u",
                    user,
                    "-p",
                    password,
                    "--no-admin",
                    "-k",
                    SHARED_SECRET,
                ])
                .arg(&self.url)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let user = (*user).to_owned();
            handles.push(tokio::task::spawn_blocking(move || {
                let output = command.output().map_err(|x| e("register")(&x))?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "registering {user} failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    ))
                }
            }));
        }
        for handle in handles {
            handle.await.map_err(|x| e("register")(&x))??;
        }
        Ok(())
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_bytes() -> [u8; 32] {
    use std::hash::{BuildHasher, RandomState};
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let v = RandomState::new().hash_one((i, Instant::now()));
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn unpadded_base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A message the person's client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub room: String,
    pub event_id: String,
    pub sender: String,
    /// `m.text`, `m.notice`, ...
    pub msgtype: String,
    pub body: String,
    pub formatted: Option<String>,
    /// The event this one replies to.
    pub reply_to: Option<String>,
    /// For an edit (`m.replace`): the event it replaces, and the new content's body.
    pub replaces: Option<String>,
    pub new_body: Option<String>,
    pub origin_ms: u64,
}

/// A person on the homeserver, syncing in the background and recording every message.
pub struct Person {
    pub client: Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

fn msgtype_name(msgtype: &MessageType) -> String {
    msgtype.msgtype().to_owned()
}

impl Person {
    /// Logs in (cross-signing its device, as Element does) and starts syncing.
    pub async fn login(synapse: &Synapse, user: &str, password: &str) -> TestResult<Person> {
        Box::pin(Self::login_inner(synapse, user, password)).await
    }

    async fn login_inner(synapse: &Synapse, user: &str, password: &str) -> TestResult<Person> {
        let client = Client::builder()
            .homeserver_url(&synapse.url)
            .sqlite_store(synapse.dir.join(format!("person-{user}")), None)
            .with_encryption_settings(EncryptionSettings {
                auto_enable_cross_signing: true,
                ..Default::default()
            })
            .build()
            .await
            .map_err(|x| e("person client")(&x))?;
        client
            .matrix_auth()
            .login_username(user, password)
            .initial_device_display_name("test person")
            .await
            .map_err(|x| e("person login")(&x))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
            let s = s.clone();
            async move {
                let (reply_to, replaces, new_body) = match &ev.content.relates_to {
                    Some(Relation::Reply(reply)) => {
                        (Some(reply.in_reply_to.event_id.to_string()), None, None)
                    }
                    Some(Relation::Replacement(r)) => (
                        None,
                        Some(r.event_id.to_string()),
                        Some(r.new_content.msgtype.body().to_owned()),
                    ),
                    _ => (None, None, None),
                };
                let formatted = match &ev.content.msgtype {
                    MessageType::Notice(n) => n.formatted.as_ref().map(|f| f.body.clone()),
                    MessageType::Text(t) => t.formatted.as_ref().map(|f| f.body.clone()),
                    _ => None,
                };
                s.lock().unwrap().push(Seen {
                    room: room.room_id().to_string(),
                    event_id: ev.event_id.to_string(),
                    sender: ev.sender.to_string(),
                    msgtype: msgtype_name(&ev.content.msgtype),
                    body: ev.content.msgtype.body().to_owned(),
                    formatted,
                    reply_to,
                    replaces,
                    new_body,
                    origin_ms: ev.origin_server_ts.0.into(),
                });
            }
        });
        client
            .sync_once(SyncSettings::default())
            .await
            .map_err(|x| e("person sync")(&x))?;
        client
            .encryption()
            .wait_for_e2ee_initialization_tasks()
            .await;
        let c = client.clone();
        // Every message, however many arrive between two syncs: with the server's default of
        // 10 a sync, a burst would leave gaps in what the person saw (the bot fills its gaps
        // itself; this client does not).
        let mut filter = FilterDefinition::default();
        filter.room.timeline.limit = Some(UInt::from(1000u32));
        let sync = tokio::spawn(async move {
            let settings = SyncSettings::default()
                .timeout(Duration::from_secs(1))
                .filter(filter.into());
            loop {
                let _ = c.sync(settings.clone()).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Ok(Person { client, seen, sync })
    }

    /// Creates a room and invites `bot`: an encrypted direct chat (as Element makes one) or
    /// a plain unencrypted room.
    pub async fn create_room(&self, bot: &str, encrypted: bool) -> TestResult<String> {
        Box::pin(async {
            let bot = user(bot)?;
            let room = if encrypted {
                self.client
                    .create_dm(&bot)
                    .await
                    .map_err(|x| e("create_dm")(&x))?
            } else {
                let mut request = CreateRoom::new();
                request.invite = vec![bot];
                self.client
                    .create_room(request)
                    .await
                    .map_err(|x| e("create_room")(&x))?
            };
            Ok(room.room_id().to_string())
        })
        .await
    }

    fn room(&self, room: &str) -> TestResult<Room> {
        let id: OwnedRoomId = RoomId::parse(room).map_err(|x| e("room id")(&x))?;
        self.client
            .get_room(&id)
            .ok_or_else(|| format!("{room} is unknown to the person"))
    }

    /// `user`'s membership in `room` as the person's client knows it ("join", "leave", …).
    pub async fn membership(&self, room: &str, user_id: &str) -> TestResult<Option<String>> {
        Box::pin(async {
            // Not known yet (an invite still on its way): no membership.
            let Ok(room) = self.room(room) else {
                return Ok(None);
            };
            let member = room
                .get_member_no_sync(&user(user_id)?)
                .await
                .map_err(|x| e("member")(&x))?;
            Ok(member.map(|m| match m.membership() {
                MembershipState::Join => "join".to_owned(),
                MembershipState::Leave => "leave".to_owned(),
                MembershipState::Invite => "invite".to_owned(),
                other => other.to_string(),
            }))
        })
        .await
    }

    /// Waits until `user`'s membership in `room` is `state`.
    pub async fn wait_membership(
        &self,
        room: &str,
        user_id: &str,
        state: &str,
        timeout: Duration,
    ) -> TestResult<()> {
        let until = Instant::now() + timeout;
        loop {
            let now = self.membership(room, user_id).await?;
            if now.as_deref() == Some(state) {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "{user_id} is {now:?} in {room} after {timeout:?}, not {state}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Invites `user_id` to `room`.
    pub async fn invite(&self, room: &str, user_id: &str) -> TestResult<()> {
        Box::pin(async {
            self.room(room)?
                .invite_user_by_id(&user(user_id)?)
                .await
                .map_err(|x| e("invite")(&x))
        })
        .await
    }

    /// Joins `room` (after an invite).
    pub async fn join(&self, room: &str) -> TestResult<()> {
        Box::pin(async {
            let id: OwnedRoomId = RoomId::parse(room).map_err(|x| e("room id")(&x))?;
            self.client
                .join_room_by_id(&id)
                .await
                .map(|_| ())
                .map_err(|x| e("join")(&x))
        })
        .await
    }

    /// Sends an `m.text` message; returns its event id.
    pub async fn send(&self, room: &str, body: &str) -> TestResult<String> {
        Box::pin(async {
            let room = self.room(room)?;
            let response = room
                .send(RoomMessageEventContent::text_plain(body))
                .await
                .map_err(|x| e("send")(&x))?;
            Ok(response.response.event_id.to_string())
        })
        .await
    }

    /// Edits the person's message `original` to say `body` (an `m.replace`).
    pub async fn edit(&self, room: &str, original: &str, body: &str) -> TestResult<String> {
        Box::pin(async {
            let room = self.room(room)?;
            let original = OwnedEventId::try_from(original).map_err(|x| e("event id")(&x))?;
            let content = RoomMessageEventContent::text_plain(body)
                .make_replacement(ReplacementMetadata::new(original, None));
            let response = room.send(content).await.map_err(|x| e("edit")(&x))?;
            Ok(response.response.event_id.to_string())
        })
        .await
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was seen; returns it then.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Seen]) -> bool,
    ) -> TestResult<Vec<Seen>> {
        let until = Instant::now() + timeout;
        loop {
            let seen = self.seen();
            if done(&seen) {
                return Ok(seen);
            }
            if Instant::now() > until {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}; seen: {seen:#?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `user`'s cross-signing identity is published (the bot is up with its keys).
    pub async fn wait_identity(&self, user_id: &str, timeout: Duration) -> TestResult<()> {
        Box::pin(async {
            let id = user(user_id)?;
            let until = Instant::now() + timeout;
            loop {
                let identity = self
                    .client
                    .encryption()
                    .request_user_identity(&id)
                    .await
                    .map_err(|x| e("identity")(&x))?;
                if identity.is_some() {
                    return Ok(());
                }
                if Instant::now() > until {
                    return Err(format!(
                        "{user_id} has no cross-signing identity after {timeout:?}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
        .await
    }

    /// `user`'s devices with end-to-end keys, and whether each is cross-signed by its owner.
    pub async fn devices(&self, user_id: &str) -> TestResult<Vec<(String, bool)>> {
        Box::pin(async {
            let id = user(user_id)?;
            // Fresh from the server, not the cache.
            let _ = self.client.encryption().request_user_identity(&id).await;
            let devices = self
                .client
                .encryption()
                .get_user_devices(&id)
                .await
                .map_err(|x| e("devices")(&x))?;
            let mut out: Vec<(String, bool)> = devices
                .devices()
                .map(|d| (d.device_id().to_string(), d.is_cross_signed_by_owner()))
                .collect();
            out.sort();
            Ok(out)
        })
        .await
    }
}

fn user(id: &str) -> TestResult<OwnedUserId> {
    UserId::parse(id).map_err(|x| e("user id")(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(unpadded_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(unpadded_base64(b"fooba"), "Zm9vYmE");
        assert_eq!(unpadded_base64(b"foob"), "Zm9vYg");
        assert_eq!(unpadded_base64(&[0u8; 32]).len(), 43);
    }
}
