//! The bot itself on matrix-sdk: logs in once and restores that session (same device) on
//! every later start, keeps its state and crypto store in the brain's data directory,
//! accepts invites from the anchor and trusted users, turns messages into tool calls as the
//! sender, and keeps one progress message per operation up to date from the operation's
//! follow stream, whichever process runs it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_plugin_api::{
    Caller, CommandTable, Event, JobListing, JobStatusResponse, Permission, ShellHandle, Source,
    ToolContext, ToolError,
};
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::encryption::{BackupDownloadStrategy, EncryptionSettings};
use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, MessageType, OriginalSyncRoomMessageEvent, Relation,
    ReplacementMetadata, RoomMessageEventContent, SyncRoomMessageEvent,
};
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent};
use matrix_sdk::ruma::{
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, UInt, UserId,
};
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room, RoomState, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::command::{self, Addressee, Command};
use crate::config::{Login, MatrixConfig};
use crate::echo;
use crate::edit::{self, Line, SendError};
use crate::render;

/// Why the bot could not start.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("{0}")]
    Io(String),
    #[error("cannot log in to {homeserver} as {user}: {message}")]
    Login {
        homeserver: String,
        user: String,
        message: String,
    },
    #[error("{0}")]
    Matrix(String),
}

/// What `session.json` holds: the login to restore, paired with the crypto store next to it.
#[derive(Serialize, Deserialize)]
struct SavedSession {
    homeserver: String,
    session: MatrixSession,
}

/// The running bot.
pub(crate) struct Running {
    pub(crate) client: Client,
    pub(crate) sync: JoinHandle<()>,
    pub(crate) bot: Arc<Bot>,
}

/// What the event handlers share.
pub(crate) struct Bot {
    shell: Arc<dyn ShellHandle>,
    config: MatrixConfig,
    me: OwnedUserId,
    /// Events older than this (minus slack) are backlog, never commands.
    started_at: MilliSecondsSinceUnixEpoch,
    /// Recently handled event ids: a sync that is delivered twice must not run a command twice.
    handled: Mutex<VecDeque<OwnedEventId>>,
    /// Tasks handling commands and following operations; awaited (then aborted) at stop.
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Cancelled when the bot stops: progress messages get a last edit saying so.
    pub(crate) stopping: CancellationToken,
}

/// How many handled event ids are remembered.
const HANDLED_MEMORY: usize = 512;

/// How far behind the bot's start an event may be and still be new (clock skew between the
/// bot and its homeserver); older ones are backlog.
const BACKLOG_SLACK_MS: u64 = 60_000;

/// Logs in (or restores the saved session), syncs once to skip the backlog, then syncs in a
/// task with the handlers registered.
pub(crate) async fn start(
    config: MatrixConfig,
    data_dir: &Path,
    shell: Arc<dyn ShellHandle>,
) -> Result<Running, BotError> {
    let client = login_or_restore(&config, data_dir).await?;
    let me = client
        .user_id()
        .map(ToOwned::to_owned)
        .ok_or_else(|| BotError::Matrix("no user id after login".into()))?;
    let bot = Arc::new(Bot {
        shell,
        config,
        me,
        started_at: MilliSecondsSinceUnixEpoch::now(),
        handled: Mutex::new(VecDeque::new()),
        tasks: Mutex::new(Vec::new()),
        stopping: CancellationToken::new(),
    });
    client.add_event_handler_context(bot.clone());
    // Before the first sync: invites that came while the bot was down are answered too.
    // (Messages are not handled by an event handler: the sync loop reads them.)
    client.add_event_handler(on_invite);
    let settings = SyncSettings::default()
        .filter(FilterDefinition::with_lazy_loading().into())
        .timeout(SYNC_TIMEOUT);
    let mut attempt = 0;
    let first = loop {
        match client.sync_once(settings.clone()).await {
            Ok(response) => break response,
            Err(error) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(%error, "initial Matrix sync failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => return Err(BotError::Matrix(format!("initial sync failed: {error}"))),
        }
    };
    // Synapse answers a repeated /sync (same token and filter) from a cache for a while: the
    // first answer may be the one the previous run asked for and never saw, older than
    // messages sent since. A second sync from its fresh token, without waiting, catches up
    // to now.
    let mut last_seen = LastSeen::default();
    last_seen.note(&first);
    let response = match client
        .sync_once(
            settings
                .clone()
                .token(first.next_batch.clone())
                .timeout(Duration::ZERO),
        )
        .await
    {
        Ok(newer) => newer,
        Err(error) => {
            tracing::warn!(%error, "catch-up sync failed; continuing from the first");
            first
        }
    };
    last_seen.note(&response);
    client
        .encryption()
        .wait_for_e2ee_initialization_tasks()
        .await;
    // From here on, what a sync delivers is new: the loop below reads each response's
    // timelines itself (not through an event handler), so that it can fill a limited
    // timeline's gap first and handle every command in order.
    let device = client
        .device_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    if bot.config.announce {
        let (b, c) = (bot.clone(), client.clone());
        bot.spawn(announce(b, c));
    }
    tracing::info!(user = %bot.me, %device, "Matrix bot ready");
    let sync = tokio::spawn(sync_loop(
        client.clone(),
        bot.clone(),
        settings,
        response.next_batch,
        last_seen,
    ));
    Ok(Running { client, sync, bot })
}

/// How long a sync waits on the server for something to happen (a long poll: it answers as
/// soon as an event arrives).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Syncs until aborted: each response's new messages are handled, a limited timeline's gap
/// first. matrix-sdk's own `Client::sync` is not used because it waits a second before the
/// next request whenever the last one came back within a second — which a command arriving
/// just after the bot's own reply always does, delaying its answer by up to that second.
/// This loop asks again at once, and only pauses when the server answers an empty sync
/// early (a server that ignores the timeout would otherwise be hammered).
async fn sync_loop(
    client: Client,
    bot: Arc<Bot>,
    settings: SyncSettings,
    mut token: String,
    mut last_seen: LastSeen,
) {
    loop {
        let asked = std::time::Instant::now();
        match client
            .sync_once(settings.clone().token(token.clone()))
            .await
        {
            Ok(response) => {
                token.clone_from(&response.next_batch);
                let empty = is_empty(&response);
                tracing::debug!(rooms = response.rooms.joined.len(), "synced");
                handle_sync(&bot, &client, response, &mut last_seen).await;
                if empty && asked.elapsed() < SYNC_TIMEOUT / 2 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "Matrix sync failed; retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Whether a sync brought nothing at all (what a long poll that timed out answers).
fn is_empty(response: &SyncResponse) -> bool {
    let rooms = &response.rooms;
    rooms.joined.is_empty()
        && rooms.invited.is_empty()
        && rooms.left.is_empty()
        && rooms.knocked.is_empty()
        && response.to_device.is_empty()
        && response.presence.is_empty()
        && response.account_data.is_empty()
}

/// The newest event the bot has seen in each room: where a limited timeline's gap ends.
#[derive(Default)]
struct LastSeen(HashMap<OwnedRoomId, OwnedEventId>);

impl LastSeen {
    fn note(&mut self, response: &SyncResponse) {
        for (room, update) in &response.rooms.joined {
            if let Some(id) = update
                .timeline
                .events
                .iter()
                .rev()
                .find_map(|e| e.event_id())
            {
                self.0.insert(room.clone(), id);
            }
        }
    }
}

/// How many `/messages` pages (of [`GAP_PAGE`] events) a gap is fetched over at most: a
/// bound for a bot that was away for long; what lies beyond is not run (and logged).
const GAP_PAGES: usize = 20;
const GAP_PAGE: u32 = 100;

/// Handles the messages of one sync, room by room, oldest first: when a room's timeline was
/// limited (the server sent only its newest events), the events before them back to the
/// last one the bot saw are fetched and handled first.
async fn handle_sync(
    bot: &Arc<Bot>,
    client: &Client,
    response: SyncResponse,
    last_seen: &mut LastSeen,
) {
    for (room_id, update) in response.rooms.joined {
        let Some(room) = client.get_room(&room_id) else {
            continue;
        };
        let mut events = Vec::new();
        if update.timeline.limited
            && let Some(from) = update.timeline.prev_batch.as_deref()
        {
            let until = last_seen.0.get(&room_id).cloned();
            events = fetch_gap(bot, &room, from, until.as_deref()).await;
        }
        events.extend(update.timeline.events);
        for event in &events {
            let Ok(event) = event.raw().deserialize() else {
                continue;
            };
            last_seen
                .0
                .insert(room_id.clone(), event.event_id().to_owned());
            if let AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                SyncRoomMessageEvent::Original(message),
            )) = event
            {
                on_message(bot, &room, message).await;
            }
        }
    }
}

/// The events of `room` before the `from` token back to (not including) `until`, oldest
/// first; stops at the bot's backlog (older than its start), the room's beginning or
/// [`GAP_PAGES`].
async fn fetch_gap(
    bot: &Bot,
    room: &Room,
    from: &str,
    until: Option<&EventId>,
) -> Vec<TimelineEvent> {
    let mut gap = Vec::new();
    let mut token = Some(from.to_owned());
    let mut reached = false;
    'pages: for _ in 0..GAP_PAGES {
        let Some(from) = token.take() else {
            reached = true;
            break;
        };
        let mut options = MessagesOptions::backward().from(from.as_str());
        options.limit = UInt::from(GAP_PAGE);
        let page = match room.messages(options).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(room = %room.room_id(), %error, "cannot fetch the messages a limited sync left out; commands among them are not run");
                return order(gap);
            }
        };
        if page.chunk.is_empty() {
            reached = true;
            break;
        }
        // Backwards: newest first.
        for event in page.chunk {
            if until.is_some() && event.event_id().as_deref() == until {
                reached = true;
                break 'pages;
            }
            if event.timestamp().is_some_and(|ts| bot.is_backlog(ts)) {
                reached = true;
                break 'pages;
            }
            gap.push(event);
        }
        token = page.end;
    }
    if reached {
        tracing::info!(room = %room.room_id(), events = gap.len(), "a sync left out earlier events; fetched them");
    } else {
        tracing::warn!(room = %room.room_id(), events = gap.len(), "a sync left out more events than the bot fetches; older commands are not run");
    }
    order(gap)
}

/// Newest-first events, oldest first.
fn order(mut events: Vec<TimelineEvent>) -> Vec<TimelineEvent> {
    events.reverse();
    events
}

async fn build_client(homeserver: &str, store: &Path) -> Result<Client, BotError> {
    Client::builder()
        .homeserver_url(homeserver)
        .sqlite_store(store, None)
        .with_encryption_settings(EncryptionSettings {
            // Cross-signs the device at first login, so clients that share keys only with
            // verified devices (MSC4153) still talk to the bot.
            auto_enable_cross_signing: true,
            backup_download_strategy: BackupDownloadStrategy::AfterDecryptionFailure,
            auto_enable_backups: false,
        })
        .request_config(RequestConfig::new().timeout(Duration::from_secs(60)))
        .build()
        .await
        .map_err(|e| {
            BotError::Matrix(format!(
                "cannot open the Matrix store in {}: {e}",
                store.display()
            ))
        })
}

fn io(path: &Path, error: impl std::fmt::Display) -> BotError {
    BotError::Io(format!("{}: {error}", path.display()))
}

/// The saved session when there is one (same device, same crypto store), else a new login
/// whose session is saved before anything else happens.
async fn login_or_restore(config: &MatrixConfig, dir: &Path) -> Result<Client, BotError> {
    let session_file = dir.join("session.json");
    let store = dir.join("store");
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(dir, e))?;
    if let Ok(text) = tokio::fs::read_to_string(&session_file).await {
        let saved: SavedSession = serde_json::from_str(&text).map_err(|e| io(&session_file, e))?;
        if saved.session.meta.user_id.as_str() != config.user_id {
            return Err(BotError::Matrix(format!(
                "{} belongs to {}, but [matrix] user_id is {}; remove {} to log in as the new user",
                session_file.display(),
                saved.session.meta.user_id,
                config.user_id,
                dir.display()
            )));
        }
        let client = build_client(&saved.homeserver, &store).await?;
        client
            .restore_session(saved.session)
            .await
            .map_err(|e| BotError::Matrix(format!("cannot restore the saved session: {e}")))?;
        return Ok(client);
    }
    // No session: a store left from an earlier device would not match the new one.
    if tokio::fs::metadata(&store).await.is_ok() {
        tokio::fs::remove_dir_all(&store)
            .await
            .map_err(|e| io(&store, e))?;
    }
    let client = build_client(&config.homeserver, &store).await?;
    let login_error = |message: String| BotError::Login {
        homeserver: config.homeserver.clone(),
        user: config.user_id.clone(),
        message,
    };
    match &config.login {
        Login::Password(password) => {
            client
                .matrix_auth()
                .login_username(&config.user_id, password)
                .initial_device_display_name(&config.device_name)
                .await
                .map_err(|e| login_error(e.to_string()))?;
        }
        Login::AccessToken(token) => {
            let (user_id, device_id) = whoami(&config.homeserver, token)
                .await
                .map_err(login_error)?;
            client
                .restore_session(MatrixSession {
                    meta: SessionMeta { user_id, device_id },
                    tokens: SessionTokens {
                        access_token: token.clone(),
                        refresh_token: None,
                    },
                })
                .await
                .map_err(|e| login_error(e.to_string()))?;
        }
    }
    let session = client
        .matrix_auth()
        .session()
        .ok_or_else(|| login_error("no session after login".into()))?;
    let saved = SavedSession {
        homeserver: config.homeserver.clone(),
        session,
    };
    let text = serde_json::to_string(&saved).map_err(|e| io(&session_file, e))?;
    write_private(&session_file, &text).map_err(|e| io(&session_file, e))?;
    Ok(client)
}

/// Writes a file only its owner can read (it holds the access token).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The user and device an access token belongs to (E2EE needs the device).
async fn whoami(
    homeserver: &str,
    token: &str,
) -> Result<(OwnedUserId, matrix_sdk::ruma::OwnedDeviceId), String> {
    #[derive(Deserialize)]
    struct WhoAmI {
        user_id: OwnedUserId,
        device_id: Option<matrix_sdk::ruma::OwnedDeviceId>,
    }
    let url = format!(
        "{}/_matrix/client/v3/account/whoami",
        homeserver.trim_end_matches('/')
    );
    let response = matrix_sdk::reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("whoami answered {}", response.status()));
    }
    let body = response.text().await.map_err(|e| e.to_string())?;
    let who: WhoAmI = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let device = who
        .device_id
        .ok_or("the access token has no device (an appservice token?)")?;
    Ok((who.user_id, device))
}

impl Bot {
    /// The sender's level: the higher of `[matrix]` anchor/trusted and the shell's
    /// `[permissions]`.
    /// Every command the shell and its plugins declare: a command the sender may not run is
    /// parsed, then refused by its tool with the permission it needs (not "unknown").
    fn commands(&self) -> CommandTable {
        let everyone = Caller::new(Source::system(), Permission::Anchor);
        command::table(&self.config.command_prefix, self.shell.commands(&everyone))
    }

    fn level(&self, user: &UserId) -> Permission {
        let own = if user.as_str() == self.config.anchor {
            Permission::Anchor
        } else if self.config.trusted.iter().any(|t| t == user.as_str()) {
            Permission::Trusted
        } else {
            Permission::Public
        };
        own.max(self.shell.permission_of("matrix", user.as_str()))
    }

    /// Whether the bot may act in `room` (`[matrix] rooms`, by id or canonical alias).
    fn room_allowed(&self, room: &Room) -> bool {
        if self.config.rooms.is_empty() {
            return true;
        }
        let alias = room.canonical_alias().map(|a| a.to_string());
        self.config
            .rooms
            .iter()
            .any(|r| r == room.room_id().as_str() || Some(r) == alias.as_ref())
    }

    /// Whether an event sent at `ts` is backlog: from before the bot started (less the
    /// clock-skew slack), never a command.
    fn is_backlog(&self, ts: MilliSecondsSinceUnixEpoch) -> bool {
        let slack = UInt::try_from(BACKLOG_SLACK_MS).unwrap_or_default();
        ts.0.saturating_add(slack) < self.started_at.0
    }

    /// Remembers `id`; false when it was handled already.
    fn first_time(&self, id: &OwnedEventId) -> bool {
        let Ok(mut handled) = self.handled.lock() else {
            return true;
        };
        if handled.contains(id) {
            return false;
        }
        if handled.len() >= HANDLED_MEMORY {
            handled.pop_front();
        }
        handled.push_back(id.clone());
        true
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(handle);
        }
    }
}

async fn on_invite(event: StrippedRoomMemberEvent, room: Room, Ctx(bot): Ctx<Arc<Bot>>) {
    if event.state_key != bot.me || event.content.membership != MembershipState::Invite {
        return;
    }
    let level = bot.level(&event.sender);
    if level < Permission::Trusted || !bot.room_allowed(&room) {
        tracing::info!(room = %room.room_id(), inviter = %event.sender, %level, "declining invite");
        if let Err(error) = room.leave().await {
            tracing::warn!(%error, "cannot decline the invite");
        }
        return;
    }
    // In a task: handlers run inside the sync loop. Retried, because the server may not let
    // us join yet right after the invite (synapse#4345).
    bot.spawn(async move {
        let mut delay = Duration::from_secs(1);
        while let Err(error) = room.join().await {
            if delay > Duration::from_secs(120) {
                tracing::warn!(room = %room.room_id(), %error, "giving up joining");
                return;
            }
            tracing::debug!(room = %room.room_id(), %error, "join failed; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        tracing::info!(room = %room.room_id(), inviter = %event.sender, "joined");
    });
}

/// Handles one new message: a command or question for the bot runs in a task of its own.
async fn on_message(bot: &Arc<Bot>, room: &Room, event: OriginalSyncRoomMessageEvent) {
    if room.state() != RoomState::Joined || event.sender == bot.me || !bot.room_allowed(room) {
        return;
    }
    // An edit of an earlier message ("* !build") must not run it again.
    if matches!(event.content.relates_to, Some(Relation::Replacement(_))) {
        return;
    }
    let MessageType::Text(text) = &event.content.msgtype else {
        return;
    };
    if bot.is_backlog(event.origin_server_ts) {
        return;
    }
    let mentioned = event
        .content
        .mentions
        .as_ref()
        .is_some_and(|m| m.user_ids.contains(&bot.me));
    let display_name = room
        .get_member_no_sync(&bot.me)
        .await
        .ok()
        .flatten()
        .and_then(|m| m.display_name().map(ToOwned::to_owned));
    let me = Addressee {
        user_id: bot.me.as_str(),
        display_name: display_name.as_deref(),
    };
    let table = bot.commands();
    let Some(command) = command::parse(&text.body, &table, &me, mentioned) else {
        return;
    };
    if !bot.first_time(&event.event_id) {
        return;
    }
    let too_long = (text.body.len() > echo::MAX_COMMAND_BYTES).then_some(text.body.len());
    let (b, room) = (bot.clone(), room.clone());
    bot.spawn(async move {
        let answered = match too_long {
            // Refused before anything runs: no tool sees it, the refusal quotes none of it.
            Some(bytes) => reply(&room, &event, &[], &echo::too_long(bytes))
                .await
                .map(|_| ()),
            None => handle(&b, &room, &event, command).await,
        };
        if let Err(error) = answered {
            tracing::warn!(room = %room.room_id(), %error, "command not answered");
        }
    });
}

/// A reply to `to`: a notice with Markdown rendered to HTML.
fn notice(markdown: &str) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_html(
        render::markdown_to_plain(markdown),
        render::markdown_to_html(markdown),
    )
}

/// Replies to `to` with `markdown`, in which no long piece of `inputs` (what the person
/// typed) is repeated whole.
async fn reply(
    room: &Room,
    to: &OriginalSyncRoomMessageEvent,
    inputs: &[&str],
    markdown: &str,
) -> Result<OwnedEventId, matrix_sdk::Error> {
    let markdown = echo::clip_echoes(markdown, inputs);
    let content = notice(&markdown).make_reply_to(to, ForwardThread::Yes, AddMentions::No);
    Ok(room.send(content).await?.response.event_id)
}

async fn handle(
    bot: &Arc<Bot>,
    room: &Room,
    event: &OriginalSyncRoomMessageEvent,
    command: Command,
) -> Result<(), matrix_sdk::Error> {
    let body = event.content.body();
    let mut inputs = vec![body];
    inputs.extend(command.inputs());
    inputs.extend(body.split_whitespace());
    let Some((tool, input)) = command.tool() else {
        // Answered at once: no typing notice first (a request that would delay the answer).
        let text = match &command {
            Command::Usage { message } => message.clone(),
            _ => command::help_text(&bot.commands()),
        };
        reply(room, event, &inputs, &text).await?;
        return Ok(());
    };
    let mut typing = Typing::start(room);
    let answered = run_tool(
        bot,
        room,
        event,
        &command,
        (&tool, input),
        &inputs,
        &mut typing,
    )
    .await;
    typing.stop().await;
    answered
}

/// "The bot is typing…" while a tool runs. Started without waiting, so the work and its
/// answer need not wait for this request; stopped only once the request that started it is
/// done, so that the stop cannot overtake it.
struct Typing {
    room: Room,
    started: Option<JoinHandle<()>>,
}

impl Typing {
    fn start(room: &Room) -> Typing {
        let r = room.clone();
        let started = tokio::spawn(async move {
            let _ = r.typing_notice(true).await;
        });
        Typing {
            room: room.clone(),
            started: Some(started),
        }
    }

    async fn stop(&mut self) {
        if let Some(started) = self.started.take() {
            let _ = started.await;
            let _ = self.room.typing_notice(false).await;
        }
    }
}

/// Runs the tool a command asks for as the sender and answers: with the result, or with a
/// progress message kept up to date until the work it started ends.
async fn run_tool(
    bot: &Arc<Bot>,
    room: &Room,
    event: &OriginalSyncRoomMessageEvent,
    command: &Command,
    (tool, input): (&str, serde_json::Value),
    inputs: &[&str],
    typing: &mut Typing,
) -> Result<(), matrix_sdk::Error> {
    let prefix = &bot.config.command_prefix;
    let source =
        Source::with_detail("matrix", room.room_id().as_str()).unwrap_or_else(|_| Source::system());
    let caller =
        Caller::new(source.clone(), bot.level(&event.sender)).with_user(event.sender.as_str());
    let result = bot
        .shell
        .execute(tool, input, ToolContext::new(caller))
        .await;
    let result = match result {
        Ok(result) => result,
        Err(ToolError::PermissionDenied {
            required, caller, ..
        }) => {
            let text = format!(
                "⛔ Sorry, `{prefix}{}` needs {required} permission; you are {caller}.",
                command.name()
            );
            reply(room, event, inputs, &text).await?;
            return Ok(());
        }
        Err(error) => {
            reply(room, event, inputs, &format!("❌ {error}")).await?;
            return Ok(());
        }
    };
    if let Some(started) = &result.started {
        // Quick work answers with its outcome: one message, no "⏳" to edit a moment later.
        if let Some(ended) = bot.shell.settle(&started.job_id).await {
            reply(room, event, inputs, &render::final_line(&ended)).await?;
            return Ok(());
        }
        // The shell's follow stream reads the current state first, so nothing the work did
        // since it started is missed, and it sees the work wherever it runs.
        let mut follow = match bot.shell.follow(&started.job_id).await {
            Ok(follow) => follow,
            Err(error) => {
                reply(room, event, inputs, &format!("❌ {error}")).await?;
                return Ok(());
            }
        };
        let initial = bot
            .commands()
            .in_own_words(tool, &render::started_line(started));
        let original = reply(room, event, inputs, &initial).await?;
        typing.stop().await;
        let (tx, rx) = watch::channel(Line {
            text: initial.clone(),
            done: false,
        });
        let editor_room = room.clone();
        let interval = bot.config.edit_interval;
        let editor = tokio::spawn(async move {
            edit::run(rx, &initial, interval, move |text| {
                send_edit(editor_room.clone(), original.clone(), text)
            })
            .await
        });
        loop {
            let progress = tokio::select! {
                e = follow.next() => e,
                () = bot.stopping.cancelled() => {
                    tx.send_replace(Line { text: render::stopped_line(&started.job_id, prefix), done: true });
                    break;
                }
            };
            let Some(progress) = progress else {
                break;
            };
            let done = render::is_final(&progress);
            tx.send_replace(Line {
                text: render::progress_line(&progress),
                done,
            });
            if done {
                break;
            }
        }
        drop(tx);
        match editor.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "progress message not finished"),
            Err(error) => tracing::warn!(%error, "progress editor stopped"),
        }
        return Ok(());
    }
    // The status tool's answer as a list with bars (the shell's own tool, not a plugin's).
    let text = match serde_json::from_value::<JobStatusResponse>(result.structured.clone()) {
        Ok(status) if tool == "status" => render::status_list_markdown(&status),
        // A tool's text names its fields; here they are the command's flags.
        _ => bot.commands().in_own_words(tool, &result.text),
    };
    reply(room, event, inputs, &text).await?;
    Ok(())
}

/// Posts a progress message in the announcement rooms for every operation started
/// elsewhere (CLI, MCP, the shell itself), and keeps it up to date like a command's. An
/// operation is noticed when this process's monitor reports it, or at the next read of the
/// active work (every [`ANNOUNCE_READ_INTERVAL`], for work other processes run); each is
/// then followed by its own stream, whichever process runs it.
async fn announce(bot: Arc<Bot>, client: Client) {
    let mut subscription = bot.shell.subscribe(Box::new(|e| match e {
        Event::JobProgress(p) => {
            announced_source(&p.source)
                && !p.status.is_finished()
                && p.job.as_ref().is_none_or(|j| j.batch_id.is_none())
        }
        _ => false,
    }));
    let mut reads = tokio::time::interval(ANNOUNCE_READ_INTERVAL);
    reads.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What is being announced; a follower sends its id back when it is done.
    let mut followed: HashSet<String> = HashSet::new();
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel::<String>();
    loop {
        let ids = tokio::select! {
            e = subscription.recv() => match e {
                Some(Event::JobProgress(p)) => vec![p.id.clone()],
                Some(_) => Vec::new(),
                None => return,
            },
            _ = reads.tick() => active_operations(&*bot.shell).await,
            Some(id) = ended.recv() => {
                followed.remove(&id);
                Vec::new()
            }
            () = bot.stopping.cancelled() => return,
        };
        for id in ids {
            if followed.insert(id.clone()) {
                let (bot, client, ended) = (bot.clone(), client.clone(), ended_tx.clone());
                bot.clone().spawn(async move {
                    announce_one(&bot, &client, &id).await;
                    let _ = ended.send(id);
                });
            }
        }
    }
}

/// How often the announcer reads the active work, to notice what other processes run.
const ANNOUNCE_READ_INTERVAL: Duration = Duration::from_secs(2);

/// Whole operations people started outside Matrix (not the shell's own housekeeping, and
/// not Matrix commands, which have their own progress reply).
fn announced_source(source: &Source) -> bool {
    !matches!(source.kind(), "matrix" | "system")
}

/// The unfinished operations worth announcing, as the shell lists them (a batch, or a job
/// outside any batch), wherever they run.
async fn active_operations(shell: &dyn ShellHandle) -> Vec<String> {
    let listed = shell
        .execute(
            "jobs_list",
            serde_json::json!({"active": true, "limit": 100}),
            ToolContext::new(Caller::cli()),
        )
        .await;
    let Ok(listing) = listed.map(|r| serde_json::from_value::<JobListing>(r.structured)) else {
        return Vec::new();
    };
    listing
        .map(|l| l.jobs)
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j.source.parse().is_ok_and(|s: Source| announced_source(&s)))
        .map(|j| j.id)
        .collect()
}

/// Announces operation `id` in the announcement rooms and edits the message as it goes,
/// until it ends or the bot stops. Nothing is posted for one that has already ended.
async fn announce_one(bot: &Arc<Bot>, client: &Client, id: &str) {
    let Ok(mut follow) = bot.shell.follow(id).await else {
        return;
    };
    let Some(first) = follow.next().await else {
        return;
    };
    if render::is_final(&first) {
        return;
    }
    // The id, for `!status <id>` and `!cancel <id>`.
    let initial = format!(
        "{} (started from {} · `{id}`)",
        render::progress_line(&first),
        first.source.kind()
    );
    let mut senders = Vec::new();
    for room in announcement_rooms(bot, client).await {
        let original = match room.send(notice(&initial)).await {
            Ok(sent) => sent.response.event_id,
            Err(error) => {
                tracing::warn!(room = %room.room_id(), %error, "cannot announce");
                continue;
            }
        };
        let (tx, rx) = watch::channel(Line {
            text: initial.clone(),
            done: false,
        });
        let interval = bot.config.edit_interval;
        let first = initial.clone();
        bot.spawn(async move {
            let edit_room = room.clone();
            if let Err(error) = edit::run(rx, &first, interval, move |text| {
                send_edit(edit_room.clone(), original.clone(), text)
            })
            .await
            {
                tracing::warn!(%error, "announcement not finished");
            }
        });
        senders.push(tx);
    }
    loop {
        let line = tokio::select! {
            event = follow.next() => match event {
                Some(event) => Line {
                    text: render::progress_line(&event),
                    done: render::is_final(&event),
                },
                // The shell is stopping.
                None => stopped(bot, id),
            },
            () = bot.stopping.cancelled() => stopped(bot, id),
        };
        for tx in &senders {
            tx.send_replace(line.clone());
        }
        if line.done {
            return;
        }
    }
}

/// The last edit when the bot stops before operation `id` ends.
fn stopped(bot: &Bot, id: &str) -> Line {
    Line {
        text: render::stopped_line(id, &bot.config.command_prefix),
        done: true,
    }
}

/// `[matrix] rooms` the bot is in (aliases resolved), or every room it joined.
async fn announcement_rooms(bot: &Bot, client: &Client) -> Vec<Room> {
    if bot.config.rooms.is_empty() {
        return client.joined_rooms();
    }
    let mut rooms = Vec::new();
    for name in &bot.config.rooms {
        let id = if name.starts_with('#') {
            let Ok(alias) = matrix_sdk::ruma::RoomAliasId::parse(name) else {
                continue;
            };
            match client.resolve_room_alias(&alias).await {
                Ok(response) => response.room_id,
                Err(error) => {
                    tracing::warn!(room = %name, %error, "cannot resolve the room alias");
                    continue;
                }
            }
        } else {
            let Ok(id) = matrix_sdk::ruma::RoomId::parse(name) else {
                continue;
            };
            id
        };
        if let Some(room) = client.get_room(&id)
            && room.state() == RoomState::Joined
        {
            rooms.push(room);
        }
    }
    rooms
}

/// Sends one `m.replace` of `original` with `markdown` as the new content. One attempt: the
/// editor decides what to send after a refusal (the newest state), not the SDK's retry.
async fn send_edit(room: Room, original: OwnedEventId, markdown: String) -> Result<(), SendError> {
    let content = RoomMessageEventContent::notice_html(
        render::markdown_to_plain(&markdown),
        render::markdown_to_html(&markdown),
    )
    .make_replacement(ReplacementMetadata::new(original, None));
    match room
        .send(content)
        .with_request_config(RequestConfig::new().retry_limit(1))
        .await
    {
        Ok(_) => Ok(()),
        Err(error) => match error.client_api_error_kind() {
            Some(ErrorKind::LimitExceeded(data)) => {
                Err(SendError::RateLimited(match data.retry_after {
                    Some(RetryAfter::Delay(d)) => Some(d),
                    Some(RetryAfter::DateTime(at)) => {
                        at.duration_since(std::time::SystemTime::now()).ok()
                    }
                    None => None,
                }))
            }
            _ => Err(SendError::Other(error.to_string())),
        },
    }
}

/// Where the bot keeps its session and stores inside the brain's data directory.
pub fn state_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("matrix")
}
