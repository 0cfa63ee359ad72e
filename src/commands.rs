//! Chat commands, shared by the Telegram and Discord front-ends: parsing
//! (pure: text → `ChatCommand`) and execution against the subscription API
//! (→ a plain-text `Reply`). Front-ends only translate platform updates
//! into `parse`/`execute` calls and send the reply; they decide who may
//! manage a chat (`CommandContext::can_manage`). Replies are plain text,
//! so no platform markup needs escaping.
//!
//! Grammar (DESIGN.md): `/start`, `/help`,
//! `/subscribe [agency|type|program NAME]... [-agency|-type|-program NAME]...`
//! (no argument: everything), `/unsubscribe N|all`, `/list`, `/next [N]`,
//! `/timezone Area/City`, `/reminders 24h 1h 10m | off`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::directory::{Dimension, Directory};
use crate::render::{format_tminus, format_when};
use crate::rules::{Filter, Origin, SubId, Subscription};
use crate::store::{ChatSettings, Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::{AlertKind, Destination, ItemKind, format_duration, parse_duration};

/// Longest argument text accepted.
pub const MAX_ARGS_LEN: usize = 200;
/// Most subscriptions one chat may have.
pub const MAX_SUBSCRIPTIONS_PER_CHAT: usize = 20;
/// `/next` default and ceiling.
pub const NEXT_DEFAULT: usize = 5;
pub const NEXT_MAX: usize = 20;

/// The commands, for help texts and platform registration.
pub const COMMANDS: [(&str, &str, &str); 8] = [
    ("start", "Welcome and how to subscribe", "/start"),
    ("help", "List the commands with examples", "/help"),
    ("subscribe", "Get alerts here, optionally filtered", "/subscribe agency SpaceX -program Starlink"),
    ("unsubscribe", "Stop a subscription by its number, or all", "/unsubscribe 2"),
    ("list", "Show this chat's subscriptions", "/list"),
    ("next", "The next upcoming items for this chat", "/next 5"),
    ("timezone", "Show times in your timezone", "/timezone Europe/Berlin"),
    ("reminders", "When to be reminded before T-0", "/reminders 24h 1h 10m"),
];

/// One parsed chat command.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatCommand {
    Start,
    Help,
    Subscribe(Filter),
    Unsubscribe(Target),
    List,
    Next(usize),
    Timezone(Option<String>),
    Reminders(Option<Vec<Duration>>),
}

impl ChatCommand {
    /// Commands that change the chat's subscriptions or settings; in groups
    /// only administrators may use them.
    pub fn changes_settings(&self) -> bool {
        match self {
            ChatCommand::Subscribe(_) | ChatCommand::Unsubscribe(_) => true,
            ChatCommand::Timezone(tz) => tz.is_some(),
            ChatCommand::Reminders(r) => r.is_some(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Number(usize),
    All,
}

/// Why a command could not be parsed; `Display` is the reply to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("Unknown command /{0}. Send /help for the list.")]
    Unknown(String),
    #[error("{0}")]
    Usage(String),
}

/// Splits `/cmd@bot args` into the command name and its arguments. `None`
/// when the text is not a command, or is addressed to another bot.
pub fn split_command<'a>(text: &'a str, bot_username: Option<&str>) -> Option<(String, &'a str)> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (name, addressee) = match head.split_once('@') {
        Some((n, a)) => (n, Some(a)),
        None => (head, None),
    };
    if let (Some(to), Some(me)) = (addressee, bot_username)
        && !to.eq_ignore_ascii_case(me)
    {
        return None;
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name.to_ascii_lowercase(), args.trim()))
}

/// Parses a command given its name (without `/`) and argument text.
pub fn parse(name: &str, args: &str) -> Result<ChatCommand, CommandError> {
    if args.chars().count() > MAX_ARGS_LEN {
        return Err(CommandError::Usage(format!(
            "That is a lot of text: arguments are limited to {MAX_ARGS_LEN} characters."
        )));
    }
    match name {
        "start" => Ok(ChatCommand::Start),
        "help" => Ok(ChatCommand::Help),
        "subscribe" | "sub" => parse_filter(args).map(ChatCommand::Subscribe),
        "unsubscribe" | "unsub" => parse_target(args).map(ChatCommand::Unsubscribe),
        "list" => Ok(ChatCommand::List),
        "next" => parse_next(args).map(ChatCommand::Next),
        "timezone" | "tz" => Ok(ChatCommand::Timezone(if args.is_empty() { None } else { Some(args.to_string()) })),
        "reminders" => parse_reminders(args).map(ChatCommand::Reminders),
        other => Err(CommandError::Unknown(other.chars().take(32).collect())),
    }
}

fn dimension_word(word: &str) -> Option<&'static str> {
    match word.to_lowercase().as_str() {
        "agency" | "agencies" | "provider" => Some("agency"),
        "type" | "types" => Some("type"),
        "program" | "programs" | "programme" => Some("program"),
        "kind" | "kinds" => Some("kind"),
        _ => None,
    }
}

/// `agency SpaceX type launch -program Starlink`: a dimension word starts
/// a value that runs until the next dimension word, so names with spaces
/// ("Rocket Lab") need no quotes.
pub fn parse_filter(args: &str) -> Result<Filter, CommandError> {
    let mut filter = Filter::default();
    let mut current: Option<(bool, &'static str, Vec<&str>)> = None;
    let usage = || {
        CommandError::Usage(
            "Use: /subscribe [agency|type|program NAME]... [-agency|-type|-program NAME]...\n\
             Example: /subscribe agency SpaceX -program Starlink"
                .to_string(),
        )
    };
    let finish = |cur: Option<(bool, &'static str, Vec<&str>)>, filter: &mut Filter| -> Result<(), CommandError> {
        let Some((exclude, dim, words)) = cur else { return Ok(()) };
        let value = words.join(" ");
        let value = value.trim_matches(|c| c == '"' || c == '\'' || c == ',').trim().to_string();
        if value.is_empty() {
            return Err(CommandError::Usage(format!("Which {dim}? Example: /subscribe {dim} {}", example(dim))));
        }
        let list = match (exclude, dim) {
            (false, "agency") => &mut filter.agencies,
            (false, "type") => &mut filter.types,
            (false, "program") => &mut filter.programs,
            (true, "agency") => &mut filter.exclude_agencies,
            (true, "type") => &mut filter.exclude_types,
            (true, "program") => &mut filter.exclude_programs,
            (false, "kind") => {
                let kind = value.parse::<ItemKind>().map_err(|_| {
                    CommandError::Usage(format!("Kind must be \"launch\" or \"event\", not {:?}.", shown(&value)))
                })?;
                if !filter.kinds.contains(&kind) {
                    filter.kinds.push(kind);
                }
                return Ok(());
            }
            _ => return Err(CommandError::Usage("Kinds cannot be excluded; choose the kind you want.".into())),
        };
        if !list.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            list.push(value);
        }
        Ok(())
    };
    for word in args.split_whitespace() {
        let (exclude, bare) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        if let Some(dim) = dimension_word(bare) {
            finish(current.take(), &mut filter)?;
            current = Some((exclude, dim, Vec::new()));
        } else if let Some((_, _, words)) = current.as_mut() {
            words.push(word);
        } else {
            return Err(usage());
        }
    }
    finish(current, &mut filter)?;
    Ok(filter)
}

fn example(dim: &str) -> &'static str {
    match dim {
        "agency" => "SpaceX",
        "type" => "launch",
        "program" => "Artemis",
        _ => "launch",
    }
}

fn parse_target(args: &str) -> Result<Target, CommandError> {
    let a = args.trim();
    if a.eq_ignore_ascii_case("all") {
        return Ok(Target::All);
    }
    match a.trim_start_matches('#').parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Target::Number(n)),
        _ => Err(CommandError::Usage("Use: /unsubscribe N (the number from /list) or /unsubscribe all".to_string())),
    }
}

fn parse_next(args: &str) -> Result<usize, CommandError> {
    if args.trim().is_empty() {
        return Ok(NEXT_DEFAULT);
    }
    match args.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n.min(NEXT_MAX)),
        _ => Err(CommandError::Usage(format!("Use: /next [N], N from 1 to {NEXT_MAX}"))),
    }
}

/// User text quoted in a reply: at most 40 characters, since `{:?}` may
/// escape each control character into up to ten.
fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `24h 1h 10m` (also comma-separated) or `off`; empty = show current.
pub fn parse_reminders(args: &str) -> Result<Option<Vec<Duration>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("off") || a.eq_ignore_ascii_case("none") {
        return Ok(Some(Vec::new()));
    }
    let mut out = Vec::new();
    for part in a.split(|c: char| c.is_whitespace() || c == ',').filter(|p| !p.is_empty()) {
        let d = parse_duration(part).map_err(|_| {
            CommandError::Usage(format!(
                "{:?} is not a duration. Use e.g. /reminders 24h 1h 10m, or /reminders off",
                shown(part)
            ))
        })?;
        if d.is_zero() || d > Duration::from_secs(30 * 86_400) {
            return Err(CommandError::Usage("Reminders must be between 1 minute and 30 days before T-0.".into()));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.len() > 6 {
        return Err(CommandError::Usage("At most 6 reminder times, please.".into()));
    }
    out.sort_by(|a, b| b.cmp(a));
    Ok(Some(out))
}

/// The chat a command came from and what its sender may do.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub destination: Destination,
    /// Allowed to change subscriptions and settings (private chat, group
    /// admin, Manage Channels on Discord).
    pub can_manage: bool,
    pub now: DateTime<Utc>,
}

/// Defaults for chats that set nothing yet: `[alerts]` of the config.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub timezone: Tz,
    pub reminders: Vec<Duration>,
}

/// What to answer. `private`: only the sender should see it (Discord
/// ephemeral replies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub private: bool,
}

impl Reply {
    fn public(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), private: false }
    }
    fn private(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), private: true }
    }
}

/// What a command needs to run.
pub struct Services<'a> {
    pub subs: &'a Subscriptions,
    pub store: &'a Store,
    pub directory: &'a Directory,
    pub defaults: &'a Defaults,
}

pub fn help_text() -> String {
    let mut out = String::from("tminus tells this chat about launches, dockings, spacewalks and landings.\n\n");
    for (name, what, example) in COMMANDS {
        out.push_str(&format!("/{name} — {what}\n   e.g. {example}\n"));
    }
    out.push_str("\nNames work as LL2 spells them (SpaceX, NASA, Artemis) or as LL2 ids.");
    out
}

/// Runs a parsed command for one chat.
pub fn execute(cmd: ChatCommand, ctx: &CommandContext, svc: &Services<'_>) -> Result<Reply, StoreError> {
    if cmd.changes_settings() && !ctx.can_manage {
        return Ok(Reply::private("Only administrators of this chat can change its subscriptions and settings."));
    }
    let settings = svc
        .store
        .chat_settings(&ctx.destination)?
        .unwrap_or_else(|| ChatSettings { timezone: svc.defaults.timezone, reminders: svc.defaults.reminders.clone() });
    let chat_subs = |store: &Store| -> Result<Vec<Subscription>, StoreError> {
        Ok(store.subscriptions_of(&ctx.destination)?.into_iter().filter(|s| s.origin == Origin::Chat).collect())
    };
    Ok(match cmd {
        ChatCommand::Start => Reply::public(
            "🚀 Hi! I send alerts about launches and space events: new items, schedule slips, status changes, \
             webcasts and T-minus reminders.\n\n\
             Try /subscribe for everything, or /subscribe agency SpaceX for one agency. /help lists all commands.",
        ),
        ChatCommand::Help => Reply::public(help_text()),
        ChatCommand::Subscribe(filter) => {
            let existing = chat_subs(svc.store)?;
            if existing.len() >= MAX_SUBSCRIPTIONS_PER_CHAT {
                return Ok(Reply::private(format!(
                    "This chat already has {MAX_SUBSCRIPTIONS_PER_CHAT} subscriptions, the most allowed. \
                     Remove one with /unsubscribe N first."
                )));
            }
            if let Some(problem) = unknown_names(&filter, svc.directory) {
                return Ok(Reply::private(problem));
            }
            if let Some(same) = existing.iter().position(|s| s.filter.normalized() == filter.normalized() && s.enabled)
            {
                return Ok(Reply::private(format!("Already subscribed: #{} {}", same + 1, describe(&filter))));
            }
            let sub = Subscription {
                id: SubId(svc.store.next_id()?),
                destination: ctx.destination.clone(),
                filter: filter.clone(),
                alerts: AlertKind::ALL.to_vec(),
                reminders: settings.reminders.clone(),
                timezone: settings.timezone,
                enabled: true,
                origin: Origin::Chat,
            };
            svc.subs.put(&sub)?;
            Reply::private(format!(
                "✅ Subscribed #{}: {}.\nTimes are shown in {}; change with /timezone. See /next for what's coming.",
                existing.len() + 1,
                describe(&filter),
                settings.timezone.name()
            ))
        }
        ChatCommand::Unsubscribe(target) => {
            let existing = chat_subs(svc.store)?;
            match target {
                Target::All => {
                    for s in &existing {
                        svc.subs.remove(s.id)?;
                    }
                    Reply::private(format!("Removed all {} subscriptions of this chat.", existing.len()))
                }
                Target::Number(n) => match existing.get(n - 1) {
                    Some(s) => {
                        svc.subs.remove(s.id)?;
                        Reply::private(format!("Removed #{n}: {}.", describe(&s.filter)))
                    }
                    None if existing.is_empty() => Reply::private("This chat has no subscriptions."),
                    None => Reply::private(format!("There is no #{n}; this chat has {} (see /list).", existing.len())),
                },
            }
        }
        ChatCommand::List => {
            let existing = chat_subs(svc.store)?;
            if existing.is_empty() {
                return Ok(Reply::public("No subscriptions here yet. Try /subscribe or /subscribe agency SpaceX."));
            }
            let mut out = String::from("Subscriptions of this chat:\n");
            for (i, s) in existing.iter().enumerate() {
                let paused = if s.enabled { "" } else { " (paused: the bot could not post here)" };
                out.push_str(&format!("{}. {}{paused}\n", i + 1, describe(&s.filter)));
            }
            out.push_str(&format!(
                "Times in {}; reminders: {}.",
                settings.timezone.name(),
                describe_reminders(&settings.reminders)
            ));
            Reply::public(out)
        }
        ChatCommand::Next(n) => {
            Reply::public(next_text(svc.store, &chat_subs(svc.store)?, settings.timezone, ctx.now, n)?)
        }
        ChatCommand::Timezone(None) => Reply::public(format!(
            "Times here are shown in {}. Change with /timezone Area/City, e.g. /timezone Europe/Berlin.",
            settings.timezone.name()
        )),
        ChatCommand::Timezone(Some(name)) => match resolve_timezone(&name) {
            Ok(tz) => {
                let new = ChatSettings { timezone: tz, ..settings };
                svc.store.put_chat_settings(&ctx.destination, &new)?;
                for mut s in chat_subs(svc.store)? {
                    s.timezone = tz;
                    svc.subs.put(&s)?;
                }
                Reply::private(format!("🕑 Times in this chat are now shown in {}.", tz.name()))
            }
            Err(hint) => Reply::private(hint),
        },
        ChatCommand::Reminders(None) => Reply::public(format!(
            "Reminders here: {}. Change with /reminders 24h 1h 10m, or /reminders off.",
            describe_reminders(&settings.reminders)
        )),
        ChatCommand::Reminders(Some(offsets)) => {
            let new = ChatSettings { reminders: offsets.clone(), ..settings };
            svc.store.put_chat_settings(&ctx.destination, &new)?;
            for mut s in chat_subs(svc.store)? {
                s.reminders = offsets.clone();
                svc.subs.put(&s)?;
            }
            Reply::private(format!("⏰ Reminders: {}.", describe_reminders(&offsets)))
        }
    })
}

/// A filter in words: "agency SpaceX, except program Starlink".
pub fn describe(f: &Filter) -> String {
    let mut parts = Vec::new();
    let mut add = |label: &str, values: &[String]| {
        if !values.is_empty() {
            parts.push(format!("{label} {}", values.join(" or ")));
        }
    };
    let kinds: Vec<String> = f.kinds.iter().map(|k| k.feed().as_str().to_string()).collect();
    add("only", &kinds);
    add("agency", &f.agencies);
    add("type", &f.types);
    add("program", &f.programs);
    add("except agency", &f.exclude_agencies);
    add("except type", &f.exclude_types);
    add("except program", &f.exclude_programs);
    if parts.is_empty() { "everything".to_string() } else { parts.join(", ") }
}

fn describe_reminders(r: &[Duration]) -> String {
    if r.is_empty() { "off".into() } else { r.iter().map(|d| format_duration(*d)).collect::<Vec<_>>().join(" ") }
}

/// Names the directory does not know, with suggestions. Ids always pass
/// (the directory only knows what LL2 listed recently), and before the
/// first sync nothing can be checked.
fn unknown_names(filter: &Filter, dir: &Directory) -> Option<String> {
    if dir.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for (dim, value) in dir.unresolved(filter) {
        if value.parse::<i64>().is_ok() {
            continue;
        }
        let hint = dir.suggest(dim, &value, 3);
        lines.push(if hint.is_empty() {
            format!("I don't know the {} {value:?} (nothing upcoming from it on LL2).", dim.as_str())
        } else {
            format!("I don't know the {} {value:?}. Did you mean {}?", dim.as_str(), hint.join(", "))
        });
    }
    if lines.is_empty() {
        None
    } else {
        lines.push("Names are matched as LL2 spells them; an LL2 id works too.".into());
        Some(lines.join("\n"))
    }
}

/// A timezone by IANA name, case-insensitively; otherwise a hint with the
/// closest names.
pub fn resolve_timezone(name: &str) -> Result<Tz, String> {
    crate::tz::parse_timezone(name).map_err(|unknown| {
        let shown: String = name.trim().chars().take(40).collect();
        if unknown.close.is_empty() {
            format!(
                "{shown:?} is not a timezone I know. Use an Area/City name such as Europe/Berlin or America/New_York."
            )
        } else {
            format!("{shown:?} is not a timezone I know. Did you mean {}?", unknown.close.join(", "))
        }
    })
}

/// `/next`: upcoming stored items matching any of the chat's filters.
fn next_text(store: &Store, subs: &[Subscription], tz: Tz, now: DateTime<Utc>, n: usize) -> Result<String, StoreError> {
    if subs.is_empty() {
        return Ok("Nothing to show: this chat has no subscriptions. Try /subscribe.".into());
    }
    let mut items: Vec<_> = store
        .items()?
        .into_iter()
        .filter(|i| i.when.is_some_and(|w| w > now))
        .filter(|i| subs.iter().any(|s| s.enabled && s.filter.matches(i)))
        .collect();
    items.sort_by_key(|i| i.when);
    if items.is_empty() {
        return Ok("Nothing upcoming matches this chat's subscriptions right now.".into());
    }
    let mut out = String::from("Coming up:\n");
    for (i, item) in items.iter().take(n).enumerate() {
        let when = item.when.map(|w| format_when(w, item.precision.as_ref(), tz)).unwrap_or_default();
        let exact = item.precision.as_ref().is_none_or(|p| p.id <= 2);
        let tminus = match (item.when, exact) {
            (Some(w), true) => format!(" ({})", format_tminus(w, now)),
            _ => String::new(),
        };
        let status = item.status.as_ref().map(|s| format!(" [{}]", s.short())).unwrap_or_default();
        out.push_str(&format!("{}. {} — {when}{tminus}{status}\n", i + 1, item.name));
    }
    Ok(out.trim_end().to_string())
}

/// The directory dimension a filter dimension word names (for autocomplete).
pub fn dimension(word: &str) -> Option<Dimension> {
    match dimension_word(word)? {
        "agency" => Some(Dimension::Agency),
        "type" => Some(Dimension::Type),
        "program" => Some(Dimension::Program),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_and_ignores_other_bots() {
        assert_eq!(
            split_command("/subscribe agency SpaceX", Some("tminus_bot")),
            Some(("subscribe".into(), "agency SpaceX"))
        );
        assert_eq!(split_command("/next@tminus_bot 3", Some("tminus_bot")), Some(("next".into(), "3")));
        assert_eq!(split_command("/next@TMINUS_BOT", Some("tminus_bot")), Some(("next".into(), "")));
        assert_eq!(split_command("/next@otherbot", Some("tminus_bot")), None);
        assert_eq!(split_command("hello /next", Some("tminus_bot")), None);
        assert_eq!(split_command("/", None), None);
        assert_eq!(split_command("/🚀", None), None);
    }

    #[test]
    fn subscribe_grammar() {
        assert_eq!(parse("subscribe", "").unwrap(), ChatCommand::Subscribe(Filter::default()));
        let f = parse_filter("agency SpaceX -program Starlink").unwrap();
        assert_eq!(f.agencies, ["SpaceX"]);
        assert_eq!(f.exclude_programs, ["Starlink"]);
        let f = parse_filter("agency Rocket Lab type launch agency 121").unwrap();
        assert_eq!(f.agencies, ["Rocket Lab", "121"]);
        assert_eq!(f.types, ["launch"]);
        let f = parse_filter("kind event type Flyby").unwrap();
        assert_eq!(f.kinds, [ItemKind::Event]);
        assert!(parse_filter("SpaceX").is_err());
        assert!(parse_filter("agency").is_err());
        assert!(parse_filter("kind rocket").is_err());
        assert!(parse("subscribe", &"x".repeat(201)).is_err());
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse("unsubscribe", "2").unwrap(), ChatCommand::Unsubscribe(Target::Number(2)));
        assert_eq!(parse("unsubscribe", "ALL").unwrap(), ChatCommand::Unsubscribe(Target::All));
        assert!(parse("unsubscribe", "0").is_err());
        assert!(parse("unsubscribe", "").is_err());
        assert_eq!(parse("next", "").unwrap(), ChatCommand::Next(5));
        assert_eq!(parse("next", "50").unwrap(), ChatCommand::Next(20));
        assert!(parse("next", "-1").is_err());
        assert_eq!(
            parse("reminders", "24h, 1h 10m").unwrap(),
            ChatCommand::Reminders(Some(vec![
                Duration::from_secs(86_400),
                Duration::from_secs(3600),
                Duration::from_secs(600)
            ]))
        );
        assert_eq!(parse("reminders", "off").unwrap(), ChatCommand::Reminders(Some(vec![])));
        assert!(parse("reminders", "soon").is_err());
        assert!(matches!(parse("launch", ""), Err(CommandError::Unknown(_))));
        assert!(ChatCommand::Subscribe(Filter::default()).changes_settings());
        assert!(!ChatCommand::Next(5).changes_settings());
        assert!(!ChatCommand::Timezone(None).changes_settings());
    }

    #[test]
    fn timezones_with_hints() {
        assert_eq!(resolve_timezone("Europe/Berlin").unwrap(), chrono_tz::Europe::Berlin);
        assert_eq!(resolve_timezone("europe/berlin").unwrap(), chrono_tz::Europe::Berlin);
        let hint = resolve_timezone("Berlin").unwrap_err();
        assert!(hint.contains("Europe/Berlin"), "{hint}");
        let hint = resolve_timezone("Mars/Olympus").unwrap_err();
        assert!(hint.contains("Area/City"), "{hint}");
    }

    #[test]
    fn filters_in_words() {
        let f = parse_filter("agency SpaceX -program Starlink").unwrap();
        assert_eq!(describe(&f), "agency SpaceX, except program Starlink");
        assert_eq!(describe(&Filter::default()), "everything");
    }

    mod execute {
        use super::*;
        use crate::detect::tests::sample_launch;
        use crate::store::Batch;
        use crate::types::ChatId;

        struct Fixture {
            _dir: tempfile::TempDir,
            store: Store,
            subs: Subscriptions,
            directory: Directory,
            defaults: Defaults,
        }

        fn fixture() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let mut item = sample_launch();
            item.programs = vec![crate::item::Named::new(Some(25), "Starlink", None)];
            store.apply(&Batch { items: vec![item.clone()], ..Default::default() }).unwrap();
            let mut directory = Directory::default();
            directory.learn(&item);
            let subs = Subscriptions::load(store.clone()).unwrap();
            let defaults = Defaults { timezone: chrono_tz::UTC, reminders: vec![Duration::from_secs(3600)] };
            Fixture { _dir: dir, store, subs, directory, defaults }
        }

        fn run(f: &Fixture, chat: i64, admin: bool, text: &str) -> Reply {
            let (name, args) = split_command(text, Some("tminus_bot")).unwrap();
            let cmd = match parse(&name, args) {
                Ok(c) => c,
                Err(e) => return Reply::private(e.to_string()),
            };
            let ctx = CommandContext {
                destination: Destination::Telegram(ChatId(chat)),
                can_manage: admin,
                now: "2026-12-01T00:00:00Z".parse().unwrap(),
            };
            let svc = Services { subs: &f.subs, store: &f.store, directory: &f.directory, defaults: &f.defaults };
            execute(cmd, &ctx, &svc).unwrap()
        }

        #[test]
        fn subscribe_list_unsubscribe() {
            let f = fixture();
            assert!(run(&f, 555, true, "/subscribe agency SpaceX -program Starlink").text.contains("Subscribed #1"));
            assert!(run(&f, 555, true, "/subscribe agency spacex -program Starlink").text.contains("Already"));
            run(&f, 555, true, "/subscribe");
            let list = run(&f, 555, false, "/list").text;
            assert!(list.contains("1. agency SpaceX, except program Starlink"), "{list}");
            assert!(list.contains("2. everything"), "{list}");
            assert!(run(&f, 777, false, "/list").text.contains("No subscriptions"), "chats are separate");
            assert!(run(&f, 555, true, "/unsubscribe 3").text.contains("no #3"));
            assert!(run(&f, 555, true, "/unsubscribe 1").text.contains("Removed #1"));
            assert_eq!(f.store.subscriptions_of(&Destination::Telegram(ChatId(555))).unwrap().len(), 1);
            assert!(run(&f, 555, true, "/unsubscribe all").text.contains("all 1"));
            assert!(f.subs.index().read().unwrap().is_empty());
        }

        #[test]
        fn only_admins_change_settings_and_limits_hold() {
            let f = fixture();
            assert!(run(&f, -100, false, "/subscribe").text.contains("Only administrators"));
            assert!(run(&f, -100, false, "/timezone Europe/Berlin").text.contains("Only administrators"));
            assert!(run(&f, -100, false, "/help").text.contains("/subscribe"));
            for i in 0..MAX_SUBSCRIPTIONS_PER_CHAT {
                run(&f, -100, true, &format!("/subscribe agency {}", 1000 + i));
            }
            assert!(run(&f, -100, true, "/subscribe agency 5").text.contains("most allowed"));
        }

        #[test]
        fn unknown_names_get_suggestions() {
            let f = fixture();
            let reply = run(&f, 1, true, "/subscribe agency SpaceY").text;
            assert!(reply.contains("Did you mean SpaceX?"), "{reply}");
            assert!(f.store.subscriptions_of(&Destination::Telegram(ChatId(1))).unwrap().is_empty());
        }

        #[test]
        fn next_timezone_and_reminders() {
            let f = fixture();
            assert!(run(&f, 9, true, "/next").text.contains("no subscriptions"));
            run(&f, 9, true, "/subscribe agency SpaceX");
            run(&f, 9, true, "/subscribe type launch -program starlink");
            let next = run(&f, 9, true, "/next").text;
            assert!(
                next.contains("1. Falcon 9 Block 5 | Starlink Group 10-1 — 2026-12-05 13:30 UTC (T-4d 13h 30m) [Go]"),
                "{next}"
            );
            assert!(run(&f, 9, true, "/timezone Berlin").text.contains("Europe/Berlin"));
            assert!(run(&f, 9, true, "/timezone europe/berlin").text.contains("now shown in Europe/Berlin"));
            assert!(run(&f, 9, true, "/next 1").text.contains("14:30 CET"));
            assert!(run(&f, 9, true, "/reminders 1h 10m").text.contains("1h 10m"));
            let subs = f.store.subscriptions_of(&Destination::Telegram(ChatId(9))).unwrap();
            assert_eq!(subs[0].reminders, [Duration::from_secs(3600), Duration::from_secs(600)]);
            assert_eq!(subs[0].timezone, chrono_tz::Europe::Berlin);
            run(&f, 9, true, "/subscribe type launch");
            let subs = f.store.subscriptions_of(&Destination::Telegram(ChatId(9))).unwrap();
            assert_eq!(subs[2].timezone, chrono_tz::Europe::Berlin, "new subscriptions take the chat's settings");
            assert!(run(&f, 9, true, "/reminders off").text.contains("off"));
        }
    }
}
