//! Discord slash commands, independent of how interactions arrive (gateway
//! or HTTP endpoint):
//!
//! - [`definitions`] (built in `discord::definitions`): the commands as
//!   serenity builders, for registration with [`register`] (bulk overwrite
//!   through serenity's `Http` at `{api_url}/api/v10`, globally or in
//!   `discord.guild_id`);
//! - [`Invocation`] (in `discord::invocation`): what the front-end needs from one interaction, built
//!   from serenity's `Interaction` by `interactions::invocation` for both
//!   the gateway and the HTTP endpoint;
//! - [`to_command`] (pure): interaction options → `commands::ChatCommand`;
//! - [`Handler::handle`]: the one code path from an invocation to a
//!   [`Response`] (in `discord::reply`): permission re-check (serenity's `Permissions`),
//!   `commands::execute` for the channel the command was used in,
//!   autocomplete from the name directory, `/settings` with its buttons,
//!   and pressed buttons (dispatched in `discord::components`). Commands
//!   and presses are first judged by a `commands::flood::FloodGuard` per
//!   channel and per member, whichever front-end they came through. Both
//!   front-ends answer with the response as serenity's
//!   `CreateInteractionResponse` (built in `discord::components`).
//!
//! Replies are plain text from `commands`; Discord sees them with
//! `allowed_mentions` off, so a name typed by a user can never ping anyone.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serenity::all::{ApplicationId, GuildId};
use serenity::http::{HttpBuilder, HttpError, LightMethod, Request, Route};
use tokio::time::Instant;
use tracing::{debug, error, info};

use crate::commands::flood::{FloodGuard, FloodLimits, SLOW_DOWN, Verdict};
use crate::commands::settings;
use crate::commands::{
    self, ChatCommand, CommandContext, CommandError, Defaults, MAX_ARGS_LEN, Reply, Services, SharedServices,
};
use crate::config::DiscordConfig;
use crate::directory::{Dimension, Directory};
use crate::rules::{Filter, Origin};
use crate::store::{Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::{ChannelId, Destination, ItemKind, Mention};

/// The answer to commands past the flood limit after [`SLOW_DOWN`].
const STILL_FLOODING: &str = "⏳ Still too many commands here; try again in a few seconds.";
/// Per registration request: connect, send and read the answer.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

use super::autocomplete::{name_choices, timezone_choices};
use super::definitions::{ALERT_OPTIONS, FILTER_OPTIONS};
pub(crate) use super::definitions::{definitions, help_text};
use super::invocation::{CommandOption, Invocation, InvocationKind, OptionValue};
use super::reply::{Choice, MAX_CHOICE_LEN, MAX_CHOICES, MAX_CONTENT, Response, clip};

/// Interaction options → a chat command (pure). `name` is the command's
/// name; unknown commands and options are usage errors.
pub(crate) fn to_command(name: &str, options: &[CommandOption]) -> Result<ChatCommand, CommandError> {
    reject_unknown_options(name, options)?;
    let text = |opt: &str| option_text(options, opt);
    match name {
        "start" => Ok(ChatCommand::Start),
        "help" => Ok(ChatCommand::Help),
        "list" => Ok(ChatCommand::List),
        "subscribe" => subscribe_command(options),
        "unsubscribe" => match text("which")? {
            Some(which) if !which.is_empty() => commands::parse("unsubscribe", &which),
            _ => Err(CommandError::Usage("Which subscription? Give its number from /list, or all.".into())),
        },
        "next" => {
            let count = text("count")?.unwrap_or_default();
            commands::parse("next", &format!("{count} {}", text("name")?.unwrap_or_default()))
        }
        "alerts" => {
            let mut kinds = Vec::new();
            for o in ALERT_OPTIONS {
                kinds.extend(text(o)?);
            }
            commands::parse("alerts", &kinds.join(" "))
        }
        "horizon" => commands::parse("horizon", &text("duration")?.unwrap_or_default()),
        "quiet" => commands::parse("quiet", &text("span")?.unwrap_or_default()),
        "silent" => commands::parse("silent", &text("kinds")?.unwrap_or_default()),
        "style" => commands::parse("style", &text("style")?.unwrap_or_default()),
        "digest" => commands::parse("digest", &text("schedule")?.unwrap_or_default()),
        "mute" => commands::parse("mute", &text("name")?.unwrap_or_default()),
        "muted" => Ok(ChatCommand::Muted),
        "news" => Ok(ChatCommand::News),
        "settings" => Ok(ChatCommand::Settings),
        "unmute" => match text("which")? {
            Some(which) if !which.is_empty() => commands::parse("unmute", &which),
            _ => Err(CommandError::Usage("Which one? Give its number from /muted, or all.".into())),
        },
        "timezone" => commands::parse("timezone", &text("zone")?.unwrap_or_default()),
        "reminders" => commands::parse("reminders", &text("times")?.unwrap_or_default()),
        "calendar" => Ok(ChatCommand::Calendar {
            reset: options.iter().any(|o| o.name == "reset" && o.value == OptionValue::Bool(true)),
        }),
        other => Err(CommandError::Unknown(other.chars().take(32).collect())),
    }
}

/// The options each command takes; any other is refused.
fn allowed_options(name: &str) -> &'static [&'static str] {
    match name {
        "subscribe" => {
            &["agency", "type", "program", "exclude_agency", "exclude_type", "exclude_program", "kind", "mention"]
        }
        "unsubscribe" => &["which"],
        "next" => &["count", "name"],
        "timezone" => &["zone"],
        "reminders" => &["times"],
        "alerts" => &ALERT_OPTIONS,
        "horizon" => &["duration"],
        "quiet" => &["span"],
        "silent" => &["kinds"],
        "style" => &["style"],
        "digest" => &["schedule"],
        "mute" => &["name"],
        "unmute" => &["which"],
        "calendar" => &["reset"],
        _ => &[],
    }
}

/// Refuses an option the command does not take, naming it (cut short).
fn reject_unknown_options(name: &str, options: &[CommandOption]) -> Result<(), CommandError> {
    let allowed = allowed_options(name);
    match options.iter().find(|o| !allowed.contains(&o.name.as_str())) {
        Some(o) => Err(CommandError::Usage(format!(
            "/{name} has no option {:?}. Send /help for the options.",
            o.name.chars().take(32).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// The trimmed text of option `opt`, `None` when absent; an error when it
/// holds something other than text.
fn option_text(options: &[CommandOption], opt: &str) -> Result<Option<String>, CommandError> {
    match options.iter().find(|o| o.name == opt) {
        None => Ok(None),
        Some(o) => o
            .value
            .text()
            .map(|t| Some(t.trim().to_owned()))
            .ok_or_else(|| CommandError::Usage(format!("The {opt} option takes text."))),
    }
}

/// `/subscribe`: the filter from every option but `mention`, and the
/// mentioned roles or members.
fn subscribe_command(options: &[CommandOption]) -> Result<ChatCommand, CommandError> {
    let mentions: Vec<Mention> = options.iter().filter_map(|o| o.value.mention()).collect();
    let filters: Vec<CommandOption> = options.iter().filter(|o| o.name != "mention").cloned().collect();
    if options.iter().any(|o| o.name == "mention") && mentions.is_empty() {
        return Err(CommandError::Usage("The mention option takes a role or a member.".into()));
    }
    subscribe_filter(&filters).map(|f| ChatCommand::Subscribe(f, mentions))
}

/// The filter `/subscribe` options describe; no option means everything.
pub(crate) fn subscribe_filter(options: &[CommandOption]) -> Result<Filter, CommandError> {
    let total: usize = options.iter().filter_map(|o| o.value.text()).map(|t| t.chars().count()).sum();
    if total > MAX_ARGS_LEN {
        return Err(CommandError::Usage(format!(
            "That is a lot of text: options are limited to {MAX_ARGS_LEN} characters together."
        )));
    }
    let mut filter = Filter::default();
    for o in options {
        let Some(value) = o.value.text() else {
            return Err(CommandError::Usage(format!("The {} option takes text.", o.name)));
        };
        let value = value.trim().to_owned();
        if o.name == "kind" {
            let kind = value
                .parse::<ItemKind>()
                .map_err(|_| CommandError::Usage(format!("Kind must be \"launch\" or \"event\", not {value:?}.")))?;
            if !filter.kinds.contains(&kind) {
                filter.kinds.push(kind);
            }
            continue;
        }
        let Some((_, exclude, dim)) = FILTER_OPTIONS.iter().find(|(n, ..)| *n == o.name) else {
            return Err(CommandError::Usage(format!("/subscribe has no option {:?}.", o.name)));
        };
        if value.is_empty() {
            return Err(CommandError::Usage(format!("Which {}? Leave the option out for any.", dim.as_str())));
        }
        let list = match (exclude, dim) {
            (false, Dimension::Agency) => &mut filter.agencies,
            (false, Dimension::Type) => &mut filter.types,
            (false, Dimension::Program) => &mut filter.programs,
            (true, Dimension::Agency) => &mut filter.exclude_agencies,
            (true, Dimension::Type) => &mut filter.exclude_types,
            (true, Dimension::Program) => &mut filter.exclude_programs,
        };
        if !list.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            list.push(value);
        }
    }
    Ok(filter)
}

/// What the handler works with; cheap to share.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct Handler {
    services: SharedServices,
    flood: Mutex<FloodGuard<FloodKey>>,
}

/// Who a command or press counts against for flooding: its channel, and
/// in a guild also the member in that channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FloodKey {
    Channel(u64),
    Member(u64, u64),
}

impl Handler {
    /// `directory`: the poller's live directory (`Poller::directory`), so
    /// autocomplete knows the names of the latest sync. Flooding is judged
    /// with [`FloodLimits::default`].
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(
        store: Store,
        subs: Subscriptions,
        directory: Arc<RwLock<Directory>>,
        defaults: Defaults,
    ) -> Handler {
        let flood = Mutex::new(FloodGuard::new(FloodLimits::default()));
        Handler { services: SharedServices { subs, store, directory, defaults }, flood }
    }

    /// The same handler with other flood limits.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_flood_limits(self, limits: FloodLimits) -> Handler {
        Handler { flood: Mutex::new(FloodGuard::new(limits)), ..self }
    }

    /// Answers one interaction. Blocking (store access): call it from
    /// `spawn_blocking` in async code.
    pub(crate) fn handle(&self, inv: &Invocation, now: DateTime<Utc>) -> Response {
        match inv.kind {
            InvocationKind::Ping => Response::Pong,
            InvocationKind::Command => self.over_limit(inv).unwrap_or_else(|| self.command(inv, now)),
            InvocationKind::Autocomplete => Response::Choices(self.autocomplete(inv)),
            InvocationKind::Component => self.over_limit(inv).unwrap_or_else(|| self.press(inv, now)),
            InvocationKind::Unsupported(_) => Response::ephemeral("This kind of interaction is not supported."),
        }
    }

    /// The answer to a command or press past the flood limit, or `None`
    /// to handle it. Discord shows "The application did not respond" when
    /// an interaction is not answered within 3 s, so "nothing" is not
    /// silence here: the first one past the limit gets [`SLOW_DOWN`] and
    /// later commands a short note, both ephemeral (only the flooder sees
    /// them), later presses a bare acknowledgement (type 6) that changes
    /// nothing. None of them is a channel message: an answer travels in
    /// the interaction's own callback, outside the alert rate limiter.
    /// Autocomplete is not counted: it is typing, and answers no one else.
    fn over_limit(&self, inv: &Invocation) -> Option<Response> {
        let channel = inv.channel_id?;
        let mut keys = vec![FloodKey::Channel(channel)];
        if inv.guild_id.is_some()
            && let Some(user) = inv.user_id
        {
            keys.push(FloodKey::Member(channel, user));
        }
        match self.flood.lock().unwrap_or_else(|e| e.into_inner()).check(&keys, Instant::now()) {
            Verdict::Answer => None,
            Verdict::SlowDown => {
                info!(channel, "Discord command flood; asking to slow down until it passes");
                Some(Response::ephemeral(SLOW_DOWN))
            }
            Verdict::Ignore => {
                debug!(channel, "Discord command flood; interaction answered without running it");
                Some(match inv.kind {
                    InvocationKind::Component => Response::Acknowledge,
                    _ => Response::ephemeral(STILL_FLOODING),
                })
            }
        }
    }

    /// Runs `f` with the services (`SharedServices::with`).
    pub(super) fn with_services<T>(&self, f: impl FnOnce(&Services<'_>) -> T) -> T {
        self.services.with(f)
    }

    /// The command context of an interaction in `channel`.
    pub(super) fn context(inv: &Invocation, channel: u64, now: DateTime<Utc>) -> CommandContext {
        CommandContext { destination: Destination::Discord(ChannelId(channel)), can_manage: inv.can_manage(), now }
    }

    fn command(&self, inv: &Invocation, now: DateTime<Utc>) -> Response {
        let Some(channel) = inv.channel_id else {
            return Response::ephemeral("I cannot tell which channel this is; please use the command in a channel.");
        };
        if inv.name == "events" {
            return self.with_services(|svc| super::mirror::command(inv, channel, svc)).unwrap_or_else(|e| {
                error!(channel, error = %e, "Discord /events failed");
                Response::ephemeral("Something went wrong on my side; please try again in a moment.")
            });
        }
        let cmd = match to_command(&inv.name, &inv.options) {
            Ok(ChatCommand::Help) => {
                // Like every command, it ends a pause of the channel.
                let ctx = Handler::context(inv, channel, now);
                if let Err(e) = self.with_services(|svc| svc.subs.resume_from_chat(&ctx.destination)) {
                    error!(channel, error = %e, "could not resume the channel on /help");
                }
                return Response::message(Reply { text: help_text(), private: false });
            }
            Ok(cmd) => cmd,
            Err(e) => return Response::ephemeral(e.to_string()),
        };
        let changes = cmd.changes_settings();
        let wants_keyboard = cmd == ChatCommand::Settings;
        let ctx = Handler::context(inv, channel, now);
        if changes && !ctx.can_manage {
            return Response::ephemeral("Changing this channel's subscriptions needs the Manage Channels permission.");
        }
        if let ChatCommand::Next(query) = &cmd {
            return self.with_services(|svc| super::pages::command(query, &ctx, svc));
        }
        let result = self.with_services(|svc| {
            let reply = commands::execute(cmd, &ctx, svc)?;
            let keyboard = if wants_keyboard { Some(settings::keyboard(&ctx, svc)?) } else { None };
            Ok::<_, StoreError>((reply, keyboard))
        });
        match result {
            Ok((reply, Some(keyboard))) => {
                Response::Settings { content: clip(&reply.text, MAX_CONTENT), keyboard, edit: false }
            }
            Ok((reply, None)) => {
                if changes {
                    info!(channel, command = %inv.name, "Discord command changed a channel's subscriptions");
                }
                // Whatever changes the channel is answered only to its user.
                Response::message(Reply { private: reply.private || changes, ..reply })
            }
            Err(e) => {
                error!(channel, command = %inv.name, error = %e, "Discord command failed");
                Response::ephemeral("Something went wrong on my side; please try again in a moment.")
            }
        }
    }

    fn autocomplete(&self, inv: &Invocation) -> Vec<Choice> {
        let Some(focused) = inv.options.iter().find(|o| o.focused) else { return Vec::new() };
        let typed = focused.value.text().unwrap_or_default();
        match (inv.name.as_str(), focused.name.as_str()) {
            ("subscribe", option) => match FILTER_OPTIONS.iter().find(|(n, ..)| *n == option) {
                Some((_, _, dim)) => {
                    let directory = self.services.directory.read().unwrap_or_else(|e| e.into_inner());
                    name_choices(&directory, *dim, &typed)
                }
                None => Vec::new(),
            },
            ("unsubscribe", "which") => self.subscription_choices(inv, &typed),
            ("timezone", "zone") => timezone_choices(&typed),
            _ => Vec::new(),
        }
    }

    /// The channel's subscriptions by number, and "all".
    fn subscription_choices(&self, inv: &Invocation, typed: &str) -> Vec<Choice> {
        let Some(channel) = inv.channel_id else { return Vec::new() };
        let dest = Destination::Discord(ChannelId(channel));
        let subs = match self.services.store.subscriptions_of(&dest) {
            Ok(s) => s.into_iter().filter(|s| s.origin == Origin::Chat).collect::<Vec<_>>(),
            Err(e) => {
                error!(channel, error = %e, "cannot read subscriptions for autocomplete");
                return Vec::new();
            }
        };
        let q = typed.trim().to_lowercase();
        let mut out: Vec<Choice> = subs
            .iter()
            .enumerate()
            .map(|(i, s)| Choice {
                name: clip(&format!("{}. {}", i + 1, commands::describe(&s.filter)), MAX_CHOICE_LEN),
                value: (i + 1).to_string(),
            })
            .filter(|c| q.is_empty() || c.value.starts_with(&q) || c.name.to_lowercase().contains(&q))
            .take(MAX_CHOICES - 1)
            .collect();
        if !subs.is_empty() && (q.is_empty() || "all".starts_with(&q)) {
            out.push(Choice { name: format!("all ({} subscriptions)", subs.len()), value: "all".into() });
        }
        out
    }
}

/// Why registration failed. Never contains the token.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegisterError {
    /// The request did not get an answer (network, TLS, timeout).
    #[error("Discord request failed: {0}")]
    Http(String),
    /// Discord answered with an error status.
    #[error("Discord answered {status} to {what}: {body}")]
    Status {
        /// Which request: fetching the application or putting the commands.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// Discord's error body.
        body: String,
    },
    /// serenity's error keeps the status but not Discord's `retry_after`;
    /// the caller's retry backoff spaces the next attempt.
    #[error("Discord rate-limited {what}")]
    RateLimited {
        /// Which request was limited.
        what: &'static str,
    },
}

impl RegisterError {
    /// Worth trying again later (network, 5xx, 429); a 4xx is not.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            RegisterError::Http(_) | RegisterError::RateLimited { .. } => true,
            RegisterError::Status { status, .. } => *status >= 500,
        }
    }

    fn from_serenity(what: &'static str, e: serenity::Error) -> RegisterError {
        match e {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 429 => {
                RegisterError::RateLimited { what }
            }
            serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => RegisterError::Status {
                what,
                status: r.status_code.as_u16(),
                body: r.error.message.chars().take(300).collect(),
            },
            // The token travels in a header, never in a URL, so reqwest's
            // error text (which names the URL) cannot hold it.
            other => RegisterError::Http(format!("{what}: {other}")),
        }
    }
}

/// Where the commands went.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    /// The bot's application id.
    pub application_id: u64,
    /// The guild they were registered in; `None`: globally.
    pub guild_id: Option<u64>,
    /// How many commands were registered.
    pub commands: usize,
}

/// Registers [`definitions`] through serenity's `Http` (bulk overwrite, so
/// removed commands disappear): `GET {api_url}/api/v10/oauth2/applications/@me`
/// for the application id, then `PUT .../applications/{id}/commands`, or
/// `.../guilds/{guild_id}/commands` when `discord.guild_id` is set.
///
/// `Http` is pointed at `discord.api_url` with `HttpBuilder::proxy`, and its
/// own rate limiter is off: that limiter would ignore the proxy and talk to
/// discord.com (serenity issue #1739). Registration is two requests at
/// start-up; the caller retries transient failures.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) async fn register(cfg: &DiscordConfig) -> Result<Registered, RegisterError> {
    let client = reqwest::Client::builder()
        .timeout(REGISTER_TIMEOUT)
        .build()
        .map_err(|e| RegisterError::Http(format!("cannot build an HTTP client: {e}")))?;
    let http = HttpBuilder::new(cfg.token.expose())
        .client(client)
        .proxy(cfg.api_url.trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .build();
    // Answers are read leniently, for what is used: serenity's full
    // `CurrentApplicationInfo` and `Command` would refuse an answer that
    // lacks a field this bot never reads, after the commands were stored.
    #[derive(serde::Deserialize)]
    struct App {
        id: ApplicationId,
    }
    let app: App = http
        .fire(Request::new(Route::Oauth2ApplicationCurrent, LightMethod::Get))
        .await
        .map_err(|e| RegisterError::from_serenity("GET application", e))?;
    let application_id = app.id;
    let route = match cfg.guild_id {
        Some(0) => return Err(RegisterError::Http("discord.guild_id 0 is not a server id".into())),
        Some(g) => Route::GuildCommands { application_id, guild_id: GuildId::new(g) },
        None => Route::Commands { application_id },
    };
    let body = serde_json::to_vec(&definitions()).map_err(|e| RegisterError::Http(e.to_string()))?;
    let registered: Vec<serde::de::IgnoredAny> = http
        .fire(Request::new(route, LightMethod::Put).body(Some(body)))
        .await
        .map_err(|e| RegisterError::from_serenity("PUT commands", e))?;
    Ok(Registered { application_id: application_id.get(), guild_id: cfg.guild_id, commands: registered.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::NextQuery;
    use crate::discord::definitions::{MANAGING_COMMANDS, definitions_json};
    use crate::rules::Filter;
    use crate::types::AlertKind;
    use serenity::model::permissions::Permissions;

    fn s(name: &str, v: &str) -> CommandOption {
        CommandOption::new(name, OptionValue::String(v.into()))
    }

    #[test]
    fn subscribe_options_build_a_filter() {
        assert_eq!(to_command("subscribe", &[]).unwrap(), ChatCommand::Subscribe(Filter::default(), vec![]));
        let role = CommandOption::new("mention", OptionValue::Mention(Mention::Role(42)));
        assert_eq!(
            to_command("subscribe", &[s("agency", "SpaceX"), role]).unwrap(),
            ChatCommand::Subscribe(
                Filter { agencies: vec!["SpaceX".into()], ..Filter::default() },
                vec![Mention::Role(42)]
            )
        );
        assert!(to_command("subscribe", &[CommandOption::new("mention", OptionValue::Other)]).is_err());
        let cmd = to_command(
            "subscribe",
            &[
                s("agency", " SpaceX "),
                s("exclude_program", "Starlink"),
                s("type", "Communications"),
                s("kind", "launch"),
            ],
        )
        .unwrap();
        let ChatCommand::Subscribe(f, _) = cmd else { panic!("{cmd:?}") };
        assert_eq!(f.agencies, ["SpaceX"]);
        assert_eq!(f.exclude_programs, ["Starlink"]);
        assert_eq!(f.types, ["Communications"]);
        assert_eq!(f.kinds, [ItemKind::Launch]);
        let f = subscribe_filter(&[s("program", "Artemis"), s("exclude_agency", "NASA"), s("exclude_type", "EVA")])
            .unwrap();
        assert_eq!(
            (f.programs, f.exclude_agencies, f.exclude_types),
            (vec!["Artemis".into()], vec!["NASA".into()], vec!["EVA".into()])
        );
        assert!(to_command("subscribe", &[s("agency", "  ")]).is_err());
        assert!(to_command("subscribe", &[s("kind", "rocket")]).is_err());
        assert!(to_command("subscribe", &[s("rocket", "Falcon")]).is_err());
        assert!(to_command("subscribe", &[s("agency", &"x".repeat(150)), s("program", &"y".repeat(60))]).is_err());
        let int = CommandOption::new("agency", OptionValue::Integer(121));
        assert_eq!(subscribe_filter(&[int]).unwrap().agencies, ["121"]);
    }

    #[test]
    fn other_options_go_through_the_shared_parser() {
        use crate::commands::Target;
        assert_eq!(to_command("unsubscribe", &[s("which", "2")]).unwrap(), ChatCommand::Unsubscribe(Target::Number(2)));
        assert_eq!(to_command("unsubscribe", &[s("which", "ALL")]).unwrap(), ChatCommand::Unsubscribe(Target::All));
        assert!(to_command("unsubscribe", &[]).is_err());
        assert!(to_command("unsubscribe", &[s("which", "zero")]).is_err());
        assert_eq!(to_command("next", &[]).unwrap(), ChatCommand::Next(NextQuery::count(5)));
        assert_eq!(
            to_command("next", &[CommandOption::new("count", OptionValue::Integer(3))]).unwrap(),
            ChatCommand::Next(NextQuery::count(3))
        );
        assert_eq!(
            to_command("next", &[CommandOption::new("count", OptionValue::Integer(99))]).unwrap(),
            ChatCommand::Next(NextQuery::count(20))
        );
        let ChatCommand::Next(q) = to_command("next", &[s("name", "SpaceX")]).unwrap() else { panic!() };
        assert_eq!((q.count, q.name.as_deref()), (5, Some("SpaceX")));
        assert_eq!(
            to_command("alerts", &[s("first", "status"), s("third", "webcast")]).unwrap(),
            ChatCommand::Alerts(Some(vec![AlertKind::Status, AlertKind::Webcast]))
        );
        assert_eq!(to_command("alerts", &[]).unwrap(), ChatCommand::Alerts(None));
        assert!(to_command("alerts", &[s("first", "bogus")]).unwrap_err().to_string().contains("reminder"));
        assert_eq!(to_command("horizon", &[s("duration", "off")]).unwrap(), ChatCommand::Horizon(Some(None)));
        assert_eq!(to_command("quiet", &[s("span", "off")]).unwrap(), ChatCommand::Quiet(Some(None)));
        assert_eq!(to_command("silent", &[s("kinds", "none")]).unwrap(), ChatCommand::Silent(Some(vec![])));
        let card = ChatCommand::Style(Some(crate::types::Style::Card));
        assert_eq!(to_command("style", &[s("style", "card")]).unwrap(), card);
        assert_eq!(to_command("digest", &[s("schedule", "off")]).unwrap(), ChatCommand::Digest(Some(None)));
        assert!(to_command("digest", &[s("schedule", "weekly funday 8")]).unwrap_err().to_string().contains("funday"));
        assert_eq!(to_command("mute", &[s("name", "Starlink")]).unwrap(), ChatCommand::Mute("Starlink".into()));
        assert_eq!(to_command("muted", &[]).unwrap(), ChatCommand::Muted);
        assert_eq!(to_command("unmute", &[s("which", "all")]).unwrap(), ChatCommand::Unmute(Target::All));
        assert_eq!(to_command("timezone", &[]).unwrap(), ChatCommand::Timezone(None));
        assert_eq!(
            to_command("timezone", &[s("zone", "Europe/Berlin")]).unwrap(),
            ChatCommand::Timezone(Some("Europe/Berlin".into()))
        );
        assert_eq!(to_command("reminders", &[s("times", "off")]).unwrap(), ChatCommand::Reminders(Some(vec![])));
        assert_eq!(to_command("reminders", &[]).unwrap(), ChatCommand::Reminders(None));
        assert!(to_command("reminders", &[s("times", "soon")]).is_err());
        assert_eq!(to_command("list", &[]).unwrap(), ChatCommand::List);
        assert_eq!(to_command("help", &[]).unwrap(), ChatCommand::Help);
        assert!(matches!(to_command("launch", &[]), Err(CommandError::Unknown(_))));
        assert!(to_command("list", &[s("x", "y")]).is_err());
    }

    #[test]
    fn permissions() {
        let mut inv = Invocation {
            kind: InvocationKind::Command,
            name: "subscribe".into(),
            options: vec![],
            channel_id: Some(1),
            guild_id: Some(2),
            permissions: Some(Permissions::MANAGE_CHANNELS),
            user_id: Some(3),
            watch: None,
        };
        assert!(inv.can_manage());
        inv.permissions = Some(Permissions::ADMINISTRATOR);
        assert!(inv.can_manage());
        inv.permissions = Some(Permissions::SEND_MESSAGES | Permissions::VIEW_CHANNEL);
        assert!(!inv.can_manage());
        inv.permissions = None;
        assert!(!inv.can_manage(), "a guild interaction without permissions is refused");
        inv.guild_id = None;
        assert!(inv.can_manage(), "a DM with the bot is the user's own");
    }

    #[test]
    fn definitions_follow_discord_rules() {
        let defs = definitions_json();
        let defs = defs.as_array().unwrap();
        let names: Vec<&str> = defs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "subscribe",
                "unsubscribe",
                "list",
                "next",
                "timezone",
                "reminders",
                "alerts",
                "horizon",
                "quiet",
                "silent",
                "style",
                "digest",
                "mute",
                "muted",
                "news",
                "unmute",
                "calendar",
                "settings",
                "events",
                "start",
                "help"
            ]
        );
        for c in defs {
            let name = c["name"].as_str().unwrap();
            let d = c["description"].as_str().unwrap();
            assert!((1..=100).contains(&d.chars().count()), "{name}: {d:?}");
            let manage = MANAGING_COMMANDS.contains(&name);
            // Manage Events (1 << 33) for /events, Manage Channels (16) for the rest that change things.
            let needs = if name == "events" { Some("8589934592") } else { manage.then_some("16") };
            assert_eq!(c["default_member_permissions"].as_str(), needs, "{name}");
            for o in c["options"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let on = o["name"].as_str().unwrap();
                assert!(on.len() <= 32 && on.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{on}");
                assert!((1..=100).contains(&o["description"].as_str().unwrap().chars().count()), "{name} {on}");
            }
        }
        let sub = &defs[0]["options"];
        assert_eq!(sub.as_array().unwrap().len(), 8);
        assert_eq!(sub[7]["type"], 9, "mention: a role or a member");
        assert!(sub.as_array().unwrap().iter().take(6).all(|o| o["autocomplete"] == true && o["type"] == 3));
        assert_eq!(defs[3]["options"][0]["max_value"], 20);
        assert_eq!(
            defs[6]["options"][0]["choices"].as_array().unwrap().len(),
            7,
            "six kinds (news among them) and all"
        );
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("short", 10), "short");
        let long = "word ".repeat(1000);
        let c = clip(&long, MAX_CONTENT);
        assert!(c.chars().count() <= MAX_CONTENT && c.ends_with("word…"), "{c}");
        assert_eq!(clip(&"é".repeat(50), 10).chars().count(), 10);
    }
}
