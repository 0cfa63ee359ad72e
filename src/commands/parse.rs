//! Parsing chat commands: text in, a `ChatCommand` or a usage error (whose
//! text is the reply) out. Pure: no store, no directory, no clock.

use std::time::Duration;

use super::{MAX_ARGS_LEN, NEXT_DEFAULT, NEXT_MAX};
use crate::rules::{DigestSchedule, Filter, QuietHours};
use crate::types::{AlertKind, ItemKind, Mention, Style, parse_duration};

/// One parsed chat command.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatCommand {
    /// `/start`: the welcome text.
    Start,
    /// `/help`: the command list.
    Help,
    /// A filter, and the Discord roles and users its alerts ping.
    Subscribe(Filter, Vec<Mention>),
    /// Remove one subscription (numbered as `/list` shows) or all.
    Unsubscribe(Target),
    /// Show the chat's subscriptions.
    List,
    /// Show the next items.
    Next(NextQuery),
    /// `None`: show the chat's timezone; `Some`: set it (unvalidated name).
    Timezone(Option<String>),
    /// `None`: show; `Some(empty)`: off; otherwise the reminder offsets.
    Reminders(Option<Vec<Duration>>),
    /// `None`: show the kinds this chat hears.
    Alerts(Option<Vec<AlertKind>>),
    /// `None`: show; `Some(None)`: off (schedule changes at any distance).
    Horizon(Option<Option<Duration>>),
    /// `None`: show; `Some(None)`: off; `Some(span)`: every alert in the
    /// span goes out without a sound.
    Quiet(Option<Option<QuietHours>>),
    /// `None`: show; `Some(kinds)`: the kinds sent without a sound (empty:
    /// none).
    Silent(Option<Vec<AlertKind>>),
    /// `None`: show; `Some(style)`: a live card or messages on launch day.
    Style(Option<Style>),
    /// `None`: show; `Some(None)`: off; `Some(schedule)`: a digest then.
    Digest(Option<Option<DigestSchedule>>),
    /// Mute the upcoming item with this name.
    Mute(String),
    /// List the chat's mutes.
    Muted,
    /// The latest articles about the chat's subscriptions (subscribes to
    /// nothing).
    News,
    /// The chat's settings as buttons.
    Settings,
    /// Remove one mute (numbered as `/muted` shows) or all.
    Unmute(Target),
    /// The chat's private calendar link; `reset: true` revokes the old one.
    Calendar {
        /// Revoke the old link and make a new one.
        reset: bool,
    },
}

/// `/next [N] [agency|type|program NAME]... | [N] NAME`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NextQuery {
    /// How many items to show.
    pub count: usize,
    /// Explicit dimensions (`agency SpaceX`).
    pub(crate) filter: Filter,
    /// A bare name (`/next SpaceX`): any agency, program or type so named.
    pub(crate) name: Option<String>,
}

impl NextQuery {
    /// `count` items, no filter.
    pub(crate) fn count(count: usize) -> NextQuery {
        NextQuery { count, ..Default::default() }
    }
}

impl ChatCommand {
    /// Commands that change the chat's subscriptions or settings; in groups
    /// only administrators may use them.
    pub(crate) fn changes_settings(&self) -> bool {
        match self {
            ChatCommand::Subscribe(..) | ChatCommand::Unsubscribe(_) => true,
            ChatCommand::Timezone(tz) => tz.is_some(),
            ChatCommand::Reminders(r) => r.is_some(),
            ChatCommand::Alerts(a) => a.is_some(),
            ChatCommand::Horizon(h) => h.is_some(),
            ChatCommand::Quiet(q) => q.is_some(),
            ChatCommand::Silent(s) => s.is_some(),
            ChatCommand::Style(s) => s.is_some(),
            ChatCommand::Digest(d) => d.is_some(),
            ChatCommand::Mute(_) | ChatCommand::Unmute(_) => true,
            ChatCommand::Calendar { reset } => *reset,
            _ => false,
        }
    }
}

/// Which entry of a numbered list a command removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The entry with this 1-based number.
    Number(usize),
    /// Every entry.
    All,
}

/// Why a command could not be parsed; `Display` is the reply to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such command; holds the name as typed.
    #[error("Unknown command /{0}. Send /help for the list.")]
    Unknown(String),
    /// Bad arguments; holds the reply explaining the usage.
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
        "subscribe" | "sub" => parse_filter(args).map(|f| ChatCommand::Subscribe(f, Vec::new())),
        "unsubscribe" | "unsub" => parse_target(args).map(ChatCommand::Unsubscribe),
        "list" => Ok(ChatCommand::List),
        "next" => parse_next(args).map(ChatCommand::Next),
        "timezone" | "tz" => Ok(ChatCommand::Timezone(if args.is_empty() { None } else { Some(args.to_string()) })),
        "reminders" => parse_reminders(args).map(ChatCommand::Reminders),
        "alerts" => parse_alerts(args).map(ChatCommand::Alerts),
        "horizon" => parse_horizon(args).map(ChatCommand::Horizon),
        "quiet" => parse_quiet(args).map(ChatCommand::Quiet),
        "silent" => parse_silent(args).map(ChatCommand::Silent),
        "style" => parse_style(args).map(ChatCommand::Style),
        "digest" => parse_digest(args).map(ChatCommand::Digest),
        "mute" => match args.trim() {
            "" => Err(CommandError::Usage(
                "Use: /mute NAME (part of the name is enough), or press 🔕 Mute under an alert.".into(),
            )),
            name => Ok(ChatCommand::Mute(name.to_string())),
        },
        "muted" => Ok(ChatCommand::Muted),
        "news" => Ok(ChatCommand::News),
        "settings" => Ok(ChatCommand::Settings),
        "unmute" => parse_target(args)
            .map_err(|_| CommandError::Usage("Use: /unmute N (the number from /muted) or /unmute all".into()))
            .map(ChatCommand::Unmute),
        "calendar" | "ical" => match args.to_ascii_lowercase().as_str() {
            "" => Ok(ChatCommand::Calendar { reset: false }),
            "reset" => Ok(ChatCommand::Calendar { reset: true }),
            _ => Err(CommandError::Usage(
                "Usage: /calendar for this chat's feed link, /calendar reset for a new one.".into(),
            )),
        },
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

/// `[N] [agency|type|program NAME]...` or `[N] NAME`.
pub(crate) fn parse_next(args: &str) -> Result<NextQuery, CommandError> {
    let usage = || {
        CommandError::Usage(format!(
            "Use: /next [N] [NAME], N from 1 to {NEXT_MAX}; e.g. /next SpaceX, /next 5 agency SpaceX, /next program Artemis"
        ))
    };
    let a = args.trim();
    let (count, rest) = match a.split_once(char::is_whitespace).unwrap_or((a, "")) {
        // A count in other digits (`٣`) is a count nobody can use, not a name.
        (first, rest) if first.starts_with(|c: char| c.is_numeric() || c == '-') => match first.parse::<usize>() {
            Ok(n) if n >= 1 => (n.min(NEXT_MAX), rest.trim()),
            _ => return Err(usage()),
        },
        _ => (NEXT_DEFAULT, a),
    };
    let mut query = NextQuery::count(count);
    let first_word = rest.split_whitespace().next().map(|w| w.trim_start_matches('-'));
    if first_word.is_some_and(|w| dimension_word(w).is_some()) {
        query.filter = parse_filter(rest).map_err(|e| match e {
            CommandError::Usage(m) => CommandError::Usage(m.replace("/subscribe", "/next")),
            other => other,
        })?;
    } else if !rest.is_empty() {
        query.name = Some(rest.trim_matches(|c| c == '"' || c == '\'').to_string());
    }
    Ok(query)
}

/// `new schedule status webcast reminder news` (also comma-separated) or
/// `all` (every kind but the opt-in `news`); empty = show current.
pub(crate) fn parse_alerts(args: &str) -> Result<Option<Vec<AlertKind>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("all") {
        return Ok(Some(AlertKind::ALL.to_vec()));
    }
    alert_kinds(a, "all", "/alerts status webcast").map(Some)
}

/// `23:00-07:00` or `off`; empty = show current.
pub(super) fn parse_quiet(args: &str) -> Result<Option<Option<QuietHours>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("off") || a.eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    let span = a.parse::<QuietHours>().map_err(|e| {
        CommandError::Usage(format!("{e} Example: /quiet 23:00-07:00 (in this chat's timezone), or /quiet off."))
    })?;
    Ok(Some(Some(span)))
}

/// `daily 08:00`, `weekly mon 08:00` or `off`; empty = show current.
pub(super) fn parse_digest(args: &str) -> Result<Option<Option<DigestSchedule>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("off") || a.eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    let schedule = a.parse::<DigestSchedule>().map_err(|e| {
        CommandError::Usage(format!(
            "{e} Example: /digest daily 08:00 or /digest weekly mon 08:00 (this chat's timezone), or /digest off."
        ))
    })?;
    Ok(Some(Some(schedule)))
}

/// `schedule webcast` or `none`; empty = show current.
pub(super) fn parse_silent(args: &str) -> Result<Option<Vec<AlertKind>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("none") || a.eq_ignore_ascii_case("off") {
        return Ok(Some(Vec::new()));
    }
    alert_kinds(a, "none", "/silent schedule webcast").map(Some)
}

/// `card` or `messages`; empty = show current.
pub(super) fn parse_style(args: &str) -> Result<Option<Style>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    a.parse::<Style>().map(Some).map_err(|_| {
        CommandError::Usage(format!(
            "{:?} is not a style. Use: /style card (one live card per launch on its day) or /style messages.",
            shown(a)
        ))
    })
}

/// Alert kinds separated by spaces or commas, sorted, without duplicates;
/// an unknown one is named with the valid words (`or_word` among them).
fn alert_kinds(a: &str, or_word: &str, example: &str) -> Result<Vec<AlertKind>, CommandError> {
    let mut kinds = Vec::new();
    for part in a.split(|c: char| c.is_whitespace() || c == ',').filter(|p| !p.is_empty()) {
        let kind = part.to_ascii_lowercase().parse::<AlertKind>().map_err(|_| {
            CommandError::Usage(format!(
                "{:?} is not an alert kind. Use any of: {}, or {or_word}. Example: {example}",
                shown(part),
                alert_kind_names()
            ))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    Ok(kinds)
}

/// The alert kinds in words, for replies.
pub(crate) fn alert_kind_names() -> String {
    AlertKind::CHOOSABLE.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// `7d`, `36h` or `off`; empty = show current.
pub(crate) fn parse_horizon(args: &str) -> Result<Option<Option<Duration>>, CommandError> {
    let a = args.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.eq_ignore_ascii_case("off") || a.eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    let usage = || {
        CommandError::Usage(format!(
            "{:?} is not a horizon. Use a duration from 1h to 365d such as /horizon 7d, /horizon 36h, or /horizon off.",
            shown(a)
        ))
    };
    let d = parse_duration(&a.replace(' ', "")).map_err(|_| usage())?;
    if d < Duration::from_secs(3600) || d > Duration::from_secs(365 * 86_400) {
        return Err(usage());
    }
    Ok(Some(Some(d)))
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
        assert_eq!(parse("subscribe", "").unwrap(), ChatCommand::Subscribe(Filter::default(), vec![]));
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
        assert_eq!(parse("next", "").unwrap(), ChatCommand::Next(NextQuery::count(5)));
        assert_eq!(parse("next", "50").unwrap(), ChatCommand::Next(NextQuery::count(20)));
        assert!(parse("next", "-1").is_err());
        let ChatCommand::Next(q) = parse("next", "3 agency SpaceX").unwrap() else { panic!() };
        assert_eq!((q.count, q.filter.agencies.as_slice()), (3, ["SpaceX".to_string()].as_slice()));
        let ChatCommand::Next(q) = parse("next", "Rocket Lab").unwrap() else { panic!() };
        assert_eq!((q.count, q.name.as_deref()), (5, Some("Rocket Lab")));
        assert!(parse("next", "program").is_err());
        assert_eq!(parse("alerts", "").unwrap(), ChatCommand::Alerts(None));
        assert_eq!(
            parse("alerts", "webcast, STATUS").unwrap(),
            ChatCommand::Alerts(Some(vec![AlertKind::Status, AlertKind::Webcast]))
        );
        assert_eq!(parse("alerts", "all").unwrap(), ChatCommand::Alerts(Some(AlertKind::ALL.to_vec())));
        let bogus = parse("alerts", "bogus").unwrap_err().to_string();
        assert!(bogus.contains("new, schedule, status, webcast, reminder"), "{bogus}");
        assert_eq!(parse("horizon", "7d").unwrap(), ChatCommand::Horizon(Some(Some(Duration::from_secs(7 * 86_400)))));
        assert_eq!(parse("horizon", "off").unwrap(), ChatCommand::Horizon(Some(None)));
        assert_eq!(parse("style", "").unwrap(), ChatCommand::Style(None));
        assert_eq!(parse("style", " Card ").unwrap(), ChatCommand::Style(Some(Style::Card)));
        assert_eq!(parse("style", "messages").unwrap(), ChatCommand::Style(Some(Style::Messages)));
        let odd = parse("style", "cards").unwrap_err().to_string();
        assert!(odd.contains("\"cards\"") && odd.contains("/style card"), "{odd}");
        assert!(
            ChatCommand::Style(Some(Style::Card)).changes_settings() && !ChatCommand::Style(None).changes_settings()
        );
        assert_eq!(parse("quiet", "").unwrap(), ChatCommand::Quiet(None));
        assert_eq!(parse("quiet", "off").unwrap(), ChatCommand::Quiet(Some(None)));
        assert_eq!(
            parse("quiet", "23:00-07:00").unwrap(),
            ChatCommand::Quiet(Some(Some("23:00-07:00".parse().unwrap())))
        );
        let late = parse("quiet", "25:00-07:00").unwrap_err().to_string();
        assert!(late.contains("\"25:00\"") && late.contains("/quiet 23:00-07:00"), "{late}");
        assert!(parse("quiet", "23:00-7").unwrap_err().to_string().contains("HH:MM-HH:MM"));
        let kinds = vec![AlertKind::Schedule, AlertKind::Webcast];
        assert_eq!(parse("silent", "webcast, schedule").unwrap(), ChatCommand::Silent(Some(kinds)));
        assert_eq!(parse("silent", "none").unwrap(), ChatCommand::Silent(Some(vec![])));
        assert_eq!(parse("digest", "").unwrap(), ChatCommand::Digest(None));
        assert_eq!(parse("digest", "off").unwrap(), ChatCommand::Digest(Some(None)));
        let daily = ChatCommand::Digest(Some(Some("daily 08:00".parse().unwrap())));
        assert_eq!(parse("digest", "daily 8:00").unwrap(), daily);
        let funday = parse("digest", "weekly funday 8").unwrap_err().to_string();
        assert!(funday.contains("\"funday\"") && funday.contains("/digest weekly mon 08:00"), "{funday}");
        assert!(daily.changes_settings() && !ChatCommand::Digest(None).changes_settings());
        let odd = parse("silent", "launches").unwrap_err().to_string();
        assert!(odd.contains("\"launches\"") && odd.contains("or none"), "{odd}");
        assert!(ChatCommand::Quiet(Some(None)).changes_settings() && !ChatCommand::Silent(None).changes_settings());
        let parsecs = parse("horizon", "3 parsecs").unwrap_err().to_string();
        assert!(parsecs.contains("/horizon 7d") && parsecs.contains("off"), "{parsecs}");
        assert!(parse("horizon", "1m").is_err());
        assert!(parse("mute", "").is_err());
        assert_eq!(parse("mute", "Starlink 10-1").unwrap(), ChatCommand::Mute("Starlink 10-1".into()));
        assert_eq!(parse("unmute", "all").unwrap(), ChatCommand::Unmute(Target::All));
        assert!(parse("unmute", "x").unwrap_err().to_string().contains("/muted"));
        assert!(ChatCommand::Mute("x".into()).changes_settings());
        assert!(!ChatCommand::Muted.changes_settings());
        assert_eq!(
            parse("reminders", "24h, 1h 10m").unwrap(),
            ChatCommand::Reminders(Some(vec![
                Duration::from_secs(86_400),
                Duration::from_secs(3600),
                Duration::from_secs(600)
            ]))
        );
        assert_eq!(parse("reminders", "off").unwrap(), ChatCommand::Reminders(Some(vec![])));
        assert_eq!(parse("calendar", "").unwrap(), ChatCommand::Calendar { reset: false });
        assert_eq!(parse("calendar", "RESET").unwrap(), ChatCommand::Calendar { reset: true });
        assert!(parse("calendar", "please").is_err());
        assert!(ChatCommand::Calendar { reset: true }.changes_settings());
        assert!(!ChatCommand::Calendar { reset: false }.changes_settings());
        assert!(parse("reminders", "soon").is_err());
        assert!(matches!(parse("launch", ""), Err(CommandError::Unknown(_))));
        assert!(ChatCommand::Subscribe(Filter::default(), vec![]).changes_settings());
        assert!(!ChatCommand::Next(NextQuery::count(5)).changes_settings());
        assert!(!ChatCommand::Timezone(None).changes_settings());
    }
}
