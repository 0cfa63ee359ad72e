//! Executing chat commands: a parsed `ChatCommand` for one chat, run
//! against the subscription API and the store's chat settings, answered
//! with a plain-text `Reply`. It must not parse text (see `parse`) nor
//! write subscriptions other than through `Subscriptions`.

use std::time::Duration;

use chrono_tz::Tz;

use super::context::{CommandContext, Services, chat_settings, unknown_names};
use super::parse::{NextQuery, alert_kind_names};
use super::{COMMANDS, ChatCommand, MAX_SUBSCRIPTIONS_PER_CHAT, Target};
use crate::item::Item;
use crate::rules::{DigestSchedule, Filter, Origin, QuietHours, SubId, Subscription};
use crate::store::{ChatSettings, DestinationPause, StoreError};
use crate::types::{AlertKind, Mention, Style, format_duration};

/// What to answer. `private`: only the sender should see it (Discord
/// ephemeral replies).
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// Plain text, no platform markup.
    pub text: String,
    /// Only the sender should see it.
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

/// The `/help` reply: every command with an example.
fn help_text() -> String {
    let mut out = String::from("tminus tells this chat about launches, dockings, spacewalks and landings.\n\n");
    for (name, what, example) in COMMANDS {
        out.push_str(&format!("/{name} — {what}\n   e.g. {example}\n"));
    }
    out.push_str("\nNames work as LL2 spells them (SpaceX, NASA, Artemis) or as LL2 ids.");
    out
}

/// Runs a parsed command for one chat.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn execute(cmd: ChatCommand, ctx: &CommandContext, svc: &Services<'_>) -> Result<Reply, StoreError> {
    if cmd.changes_settings() && !ctx.can_manage {
        return Ok(Reply::private("Only administrators of this chat can change its subscriptions and settings."));
    }
    let settings = chat_settings(&ctx.destination, svc)?;
    // A command from a paused chat means someone is there who may have
    // fixed what it refused us for: alerts go out again (the next one is
    // the test). `/list` says so.
    let resumed = svc.subs.resume_from_chat(&ctx.destination)?;
    let chat = Chat { ctx, svc, settings, resumed };
    Ok(match cmd {
        ChatCommand::Start => Reply::public(super::manage::WELCOME),
        ChatCommand::Help => Reply::public(help_text()),
        ChatCommand::Subscribe(filter, mentions) => chat.subscribe(filter, mentions)?,
        ChatCommand::Unsubscribe(target) => chat.unsubscribe(target)?,
        ChatCommand::List => chat.list()?,
        ChatCommand::Next(query) => chat.next(&query)?,
        ChatCommand::Timezone(None) => chat.show_timezone(),
        ChatCommand::Timezone(Some(name)) => chat.set_timezone(&name)?,
        ChatCommand::Reminders(None) => chat.show_reminders(),
        ChatCommand::Reminders(Some(offsets)) => chat.set_reminders(offsets)?,
        ChatCommand::Alerts(None) => chat.show_alerts(),
        ChatCommand::Alerts(Some(kinds)) => chat.set_alerts(kinds)?,
        ChatCommand::Horizon(None) => chat.show_horizon(),
        ChatCommand::Horizon(Some(h)) => chat.set_horizon(h)?,
        ChatCommand::Quiet(None) | ChatCommand::Silent(None) => chat.loudness(),
        ChatCommand::Quiet(Some(q)) => chat.set_quiet(q)?,
        ChatCommand::Silent(Some(kinds)) => chat.set_silent(kinds)?,
        ChatCommand::Style(None) => chat.show_style(),
        ChatCommand::Style(Some(style)) => chat.set_style(style)?,
        ChatCommand::Digest(None) => chat.show_digest(),
        ChatCommand::Digest(Some(d)) => chat.set_digest(d)?,
        ChatCommand::Mute(name) => chat.mute(&name)?,
        ChatCommand::Muted => chat.muted()?,
        ChatCommand::News => chat.news()?,
        // The front-end shows the keyboard (`settings::keyboard`) with it.
        ChatCommand::Settings => Reply::public(super::SETTINGS_TEXT),
        ChatCommand::Unmute(target) => chat.unmute(target)?,
        ChatCommand::Calendar { reset } => chat.calendar(reset)?,
    })
}

/// Articles `/news` shows.
const NEWS_COUNT: usize = 5;

/// One chat while a command runs: its settings (or the defaults) and the
/// services to change them.
struct Chat<'a> {
    ctx: &'a CommandContext,
    svc: &'a Services<'a>,
    settings: ChatSettings,
    /// Pauses of this chat the command ended.
    resumed: Vec<DestinationPause>,
}

impl Chat<'_> {
    /// The chat's private feed link (made on first use); `reset` replaces
    /// the token so the old link stops working. The link names a random
    /// token, never the chat.
    fn calendar(&self, reset: bool) -> Result<Reply, StoreError> {
        let Some(base) = &self.svc.defaults.calendar_base else {
            return Ok(Reply::private(
                "Calendar feeds are off on this bot. Its operator can turn them on by setting [server] listen \
                 and [server] public_url in config.toml.",
            ));
        };
        let link = crate::calendar::private_link(self.svc.store, base, &self.ctx.destination, reset)?;
        let empty = if self.svc.store.subscriptions_of(&self.ctx.destination)?.is_empty() {
            "\nThis chat has no subscriptions yet, so the feed is empty until you /subscribe."
        } else {
            ""
        };
        let lead = if reset { "New calendar link (the old one no longer works)" } else { "This chat's calendar" };
        Ok(Reply::private(format!(
            "{lead}: {link}\nAdd it by URL in Google Calendar (Other calendars → From URL) or Apple Calendar \
             (File → New Calendar Subscription). Anyone with the link sees the feed; /calendar reset makes a new one.{empty}"
        )))
    }

    /// The subscriptions made in this chat, in id order (their `/list`
    /// numbers); config watches to the same destination are not the chat's
    /// to change.
    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let all = self.svc.store.subscriptions_of(&self.ctx.destination)?;
        Ok(all.into_iter().filter(|s| s.origin == Origin::Chat).collect())
    }

    fn subscribe(&self, filter: Filter, mentions: Vec<Mention>) -> Result<Reply, StoreError> {
        let existing = self.subscriptions()?;
        if existing.len() >= MAX_SUBSCRIPTIONS_PER_CHAT {
            return Ok(Reply::private(format!(
                "This chat already has {MAX_SUBSCRIPTIONS_PER_CHAT} subscriptions, the most allowed. \
                 Remove one with /unsubscribe N first."
            )));
        }
        if let Some(problem) = unknown_names(&filter, self.svc.directory) {
            return Ok(Reply::private(problem));
        }
        if let Some(same) = existing.iter().position(|s| s.filter.normalized() == filter.normalized() && s.enabled) {
            return Ok(Reply::private(format!("Already subscribed: #{} {}", same + 1, describe(&filter))));
        }
        let id = SubId(self.svc.store.next_id()?);
        let sub = Subscription::new(id, self.ctx.destination.clone(), filter.clone(), Origin::Chat)
            .with_alerts(self.settings.alerts.clone())
            .with_schedule_horizon(self.settings.schedule_horizon)
            .with_reminders(self.settings.reminders.clone())
            .with_timezone(self.settings.timezone)
            .with_loudness(self.settings.quiet_hours, self.settings.silent.clone())
            .with_digest(self.settings.digest)
            .with_mentions(mentions);
        self.svc.subs.put(&sub)?;
        Ok(Reply::private(format!(
            "✅ Subscribed #{}: {}.\nTimes are shown in {}; change with /timezone. See /next for what's coming.",
            existing.len() + 1,
            describe(&filter),
            self.settings.timezone.name()
        )))
    }

    fn unsubscribe(&self, target: Target) -> Result<Reply, StoreError> {
        let existing = self.subscriptions()?;
        Ok(match target {
            Target::All => {
                for s in &existing {
                    self.svc.subs.remove(s.id)?;
                }
                Reply::private(format!("Removed all {} subscriptions of this chat.", existing.len()))
            }
            Target::Number(n) => match existing.get(n - 1) {
                Some(s) => {
                    self.svc.subs.remove(s.id)?;
                    Reply::private(format!("Removed #{n}: {}.", describe(&s.filter)))
                }
                None if existing.is_empty() => Reply::private("This chat has no subscriptions."),
                None => Reply::private(format!("There is no #{n}; this chat has {} (see /list).", existing.len())),
            },
        })
    }

    fn list(&self) -> Result<Reply, StoreError> {
        let existing = self.subscriptions()?;
        if existing.is_empty() {
            return Ok(Reply::public("No subscriptions here yet. Try /subscribe or /subscribe agency SpaceX."));
        }
        let mut out = String::from("Subscriptions of this chat:\n");
        for p in &self.resumed {
            let since = p.since.with_timezone(&self.settings.timezone).format("%Y-%m-%d %H:%M %Z");
            out.push_str(&format!(
                "⏸ paused since {since}: {}. Resumed now by this command; alerts go out again.\n",
                p.reason
            ));
        }
        for (i, s) in existing.iter().enumerate() {
            let paused = if s.enabled { "" } else { " (paused: the bot could not post here)" };
            out.push_str(&format!("{}. {}{paused}\n", i + 1, describe(&s.filter)));
        }
        out.push_str(&format!(
            "Times in {}; reminders: {}.",
            self.settings.timezone.name(),
            describe_reminders(&self.settings.reminders)
        ));
        Ok(Reply::public(out))
    }

    fn set_timezone(&self, name: &str) -> Result<Reply, StoreError> {
        let tz = match resolve_timezone(name) {
            Ok(tz) => tz,
            Err(hint) => return Ok(Reply::private(hint)),
        };
        self.save(ChatSettings { timezone: tz, ..self.settings.clone() }, |s| s.timezone = tz)?;
        Ok(Reply::private(format!("🕑 Times in this chat are now shown in {}.", tz.name())))
    }

    fn set_reminders(&self, offsets: Vec<Duration>) -> Result<Reply, StoreError> {
        let reply = Reply::private(format!("⏰ Reminders: {}.", describe_reminders(&offsets)));
        self.save(ChatSettings { reminders: offsets.clone(), ..self.settings.clone() }, |s| {
            s.reminders = offsets.clone()
        })?;
        Ok(reply)
    }

    fn set_alerts(&self, kinds: Vec<AlertKind>) -> Result<Reply, StoreError> {
        let reply = Reply::private(format!("🔔 This chat now hears: {}.", describe_alerts(&kinds)));
        self.save(ChatSettings { alerts: kinds.clone(), ..self.settings.clone() }, |s| s.alerts = kinds.clone())?;
        Ok(reply)
    }

    fn set_horizon(&self, horizon: Option<Duration>) -> Result<Reply, StoreError> {
        self.save(ChatSettings { schedule_horizon: horizon, ..self.settings.clone() }, |s| {
            s.schedule_horizon = horizon
        })?;
        Ok(Reply::private(format!("🗓 Schedule changes: {}.", describe_horizon(horizon))))
    }

    /// `/timezone` without a zone: the zone times are shown in.
    fn show_timezone(&self) -> Reply {
        Reply::public(format!(
            "Times here are shown in {}. Change with /timezone Area/City, e.g. /timezone Europe/Berlin.",
            self.settings.timezone.name()
        ))
    }

    /// `/reminders` without times: the chat's reminders.
    fn show_reminders(&self) -> Reply {
        Reply::public(format!(
            "Reminders here: {}. Change with /reminders 24h 1h 10m, or /reminders off.",
            describe_reminders(&self.settings.reminders)
        ))
    }

    /// `/alerts` without kinds: the alert kinds this chat hears.
    fn show_alerts(&self) -> Reply {
        Reply::public(format!(
            "This chat hears: {}. Change with /alerts followed by any of {}, or /alerts all.",
            describe_alerts(&self.settings.alerts),
            alert_kind_names()
        ))
    }

    /// `/horizon` without a duration: how close schedule changes must be.
    fn show_horizon(&self) -> Reply {
        Reply::public(format!(
            "Schedule changes here: {}. Change with /horizon 7d, or /horizon off.",
            describe_horizon(self.settings.schedule_horizon)
        ))
    }

    /// `/style` without a style: this chat's style, and what each one does.
    fn show_style(&self) -> Reply {
        Reply::public(format!(
            "Style here: {}. Change with /style card (one live card per launch on its day, edited as it \
             changes; only reminders, liftoff and the result add a message) or /style messages.",
            self_style(self.settings.style)
        ))
    }

    /// `/digest` without a schedule: this chat's digest.
    fn show_digest(&self) -> Reply {
        Reply::public(format!(
            "Digest here: {}. Change with /digest daily 08:00, /digest weekly mon 08:00, or /digest off.",
            crate::rules::describe_digest(self.settings.digest, self.settings.timezone)
        ))
    }

    /// `/quiet` or `/silent` without arguments: how loud this chat is.
    fn loudness(&self) -> Reply {
        Reply::public(format!(
            "Quiet hours here: {}. Change with /quiet 23:00-07:00, or /quiet off.\n\
             Sent without a sound here: {}. Change with /silent followed by any of {}, or /silent none.",
            describe_quiet(self.settings.quiet_hours, self.settings.timezone),
            describe_silent(&self.settings.silent),
            alert_kind_names()
        ))
    }

    fn set_quiet(&self, quiet_hours: Option<QuietHours>) -> Result<Reply, StoreError> {
        self.save(ChatSettings { quiet_hours, ..self.settings.clone() }, |s| s.quiet_hours = quiet_hours)?;
        Ok(Reply::private(format!("🌙 Quiet hours: {}.", describe_quiet(quiet_hours, self.settings.timezone))))
    }

    fn set_style(&self, style: Style) -> Result<Reply, StoreError> {
        // The style lives in the chat's settings only (`deliver::card`
        // reads it there): its subscriptions stay as they are.
        self.save(ChatSettings { style, ..self.settings.clone() }, |_| {})?;
        Ok(Reply::private(format!("🪧 Style: {}.", self_style(style))))
    }

    fn set_silent(&self, kinds: Vec<AlertKind>) -> Result<Reply, StoreError> {
        let reply = Reply::private(format!("🔈 Sent without a sound: {}.", describe_silent(&kinds)));
        self.save(ChatSettings { silent: kinds.clone(), ..self.settings.clone() }, |s| s.silent = kinds.clone())?;
        Ok(reply)
    }

    fn set_digest(&self, digest: Option<DigestSchedule>) -> Result<Reply, StoreError> {
        self.save(ChatSettings { digest, ..self.settings.clone() }, |s| s.digest = digest)?;
        let mut text = format!("📰 Digest: {}.", crate::rules::describe_digest(digest, self.settings.timezone));
        if digest.is_some() && self.subscriptions()?.is_empty() {
            text.push_str(" It lists what this chat's subscriptions select: /subscribe first.");
        }
        Ok(Reply::private(text))
    }

    /// `/mute NAME`: the one upcoming item whose name contains NAME (an
    /// exact name wins over partial matches); several → the candidates.
    fn mute(&self, name: &str) -> Result<Reply, StoreError> {
        let wanted = name.to_lowercase();
        let mut found: Vec<Item> =
            self.svc.store.items()?.into_iter().filter(|i| i.name.to_lowercase().contains(&wanted)).collect();
        if let Some(exact) = found.iter().position(|i| i.name.to_lowercase() == wanted) {
            found = vec![found.swap_remove(exact)];
        }
        found.sort_by_key(|i| i.when);
        Ok(match found.as_slice() {
            [] => Reply::private(format!(
                "Nothing upcoming is named like {:?}. See /next for names.",
                name.chars().take(40).collect::<String>()
            )),
            [item] => {
                let new = self.svc.subs.mute(&self.ctx.destination, item, self.ctx.now)?;
                Reply::private(if new {
                    format!("🔕 Muted {}: no more alerts or reminders about it here. /muted lists mutes.", item.name)
                } else {
                    format!("{} is already muted here.", item.name)
                })
            }
            many => {
                let mut out = String::from(
                    "Several upcoming items match; which one? Send /mute with more of its name:
",
                );
                for item in many.iter().take(8) {
                    out.push_str(&format!(
                        "• {}
",
                        item.name
                    ));
                }
                if many.len() > 8 {
                    out.push_str(&format!(
                        "… and {} more
",
                        many.len() - 8
                    ));
                }
                Reply::private(out.trim_end())
            }
        })
    }

    /// `/news`: the latest articles about what the chat follows, from the
    /// articles the news feed kept (no request of its own).
    fn news(&self) -> Result<Reply, StoreError> {
        let store = self.svc.store;
        let subs: Vec<_> = store.subscriptions_of(&self.ctx.destination)?.into_iter().filter(|s| s.enabled).collect();
        let articles = store.articles()?;
        let latest = crate::news::latest_for(&articles, &subs, |id| store.item(id).ok().flatten(), NEWS_COUNT);
        Ok(Reply::public(crate::news::render::news_list(&latest, chrono::Utc::now())))
    }

    fn muted(&self) -> Result<Reply, StoreError> {
        let mutes = self.svc.subs.mutes_of(&self.ctx.destination)?;
        if mutes.is_empty() {
            return Ok(Reply::public("Nothing is muted here. Press 🔕 Mute under an alert, or send /mute NAME."));
        }
        let mut out = String::from(
            "Muted in this chat:
",
        );
        for (i, m) in mutes.iter().enumerate() {
            out.push_str(&format!(
                "{}. {}
",
                i + 1,
                m.name
            ));
        }
        out.push_str("Undo with /unmute N or /unmute all.");
        Ok(Reply::public(out))
    }

    fn unmute(&self, target: Target) -> Result<Reply, StoreError> {
        let mutes = self.svc.subs.mutes_of(&self.ctx.destination)?;
        Ok(match target {
            Target::All => {
                for m in &mutes {
                    self.svc.subs.unmute(&self.ctx.destination, &m.item)?;
                }
                Reply::private(format!("🔔 Unmuted all {} items.", mutes.len()))
            }
            Target::Number(n) => match mutes.get(n - 1) {
                Some(m) => {
                    self.svc.subs.unmute(&self.ctx.destination, &m.item)?;
                    Reply::private(format!("🔔 Unmuted {}.", m.name))
                }
                None if mutes.is_empty() => Reply::private("Nothing is muted here."),
                None => Reply::private(format!("There is no #{n}; {} items are muted (see /muted).", mutes.len())),
            },
        })
    }

    /// `/next`: the first page as text; front-ends with buttons call
    /// `next::open` for the page and its keyboard.
    fn next(&self, query: &NextQuery) -> Result<Reply, StoreError> {
        Ok(match super::next::text(query, self.ctx, self.svc)? {
            Ok(text) => Reply::public(text),
            Err(problem) => Reply::private(problem),
        })
    }

    /// Stores the chat's new settings and applies `change` to its
    /// subscriptions: settings hold for the subscriptions it has and the
    /// ones it makes later.
    fn save(&self, new: ChatSettings, change: impl Fn(&mut Subscription)) -> Result<(), StoreError> {
        self.svc.store.put_chat_settings(&self.ctx.destination, &new)?;
        for mut s in self.subscriptions()? {
            change(&mut s);
            self.svc.subs.put(&s)?;
        }
        Ok(())
    }
}

/// A style in words, for replies.
fn self_style(style: Style) -> &'static str {
    match style {
        Style::Card => "card (one live card per launch on its day)",
        Style::Messages => "messages (one per alert)",
    }
}

/// A filter in words: "agency SpaceX, except program Starlink".
pub(crate) fn describe(f: &Filter) -> String {
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

fn describe_alerts(kinds: &[AlertKind]) -> String {
    if AlertKind::ALL.iter().all(|k| kinds.contains(k)) && !kinds.contains(&AlertKind::News) {
        "all alerts (new, schedule, status, webcast, reminder)".into()
    } else {
        kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn describe_horizon(h: Option<Duration>) -> String {
    match h {
        None => "alerted at any distance (horizon off)".into(),
        Some(d) => format!("alerted only while the old or new date is within {}", format_duration(d)),
    }
}

fn describe_quiet(q: Option<QuietHours>, tz: Tz) -> String {
    match q {
        None => "off (alerts make their usual sound)".into(),
        Some(q) => format!("{q} {}, when every alert arrives without a sound (none is held back)", tz.name()),
    }
}

fn describe_silent(kinds: &[AlertKind]) -> String {
    let mut words: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    words.push("webcast links appearing");
    words.join(", ")
}

fn describe_reminders(r: &[Duration]) -> String {
    if r.is_empty() { "off".into() } else { r.iter().map(|d| format_duration(*d)).collect::<Vec<_>>().join(" ") }
}

/// A timezone by IANA name, case-insensitively; otherwise a hint with the
/// closest names.
pub(crate) fn resolve_timezone(name: &str) -> Result<Tz, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{parse, parse_filter, split_command};
    use crate::types::Destination;

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
        use crate::commands::test_fixture::{Fixture, context};
        use crate::detect::tests::sample_launch;
        use crate::types::ChatId;

        fn fixture() -> Fixture {
            let mut item = sample_launch();
            item.programs = vec![crate::item::Named::new(Some(25), "Starlink", None)];
            Fixture::with_items(vec![item])
        }

        fn run(f: &Fixture, chat: i64, admin: bool, text: &str) -> Reply {
            let (name, args) = split_command(text, Some("tminus_bot")).unwrap();
            let cmd = match parse(&name, args) {
                Ok(c) => c,
                Err(e) => return Reply::private(e.to_string()),
            };
            execute(cmd, &context(chat, admin), &f.services()).unwrap()
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
        fn any_command_from_a_paused_chat_resumes_it_and_list_says_so() {
            let f = fixture();
            run(&f, -100, true, "/subscribe");
            let group = Destination::Telegram(ChatId(-100));
            let topic = Destination::TelegramTopic(ChatId(-100), crate::types::ThreadId(7));
            let since = "2030-01-01T10:00:00Z".parse().unwrap();
            for dest in [&group, &topic, &Destination::Telegram(ChatId(-200))] {
                let reason = "Telegram: Bad Request: not enough rights to send text messages to the chat".to_string();
                let until = since + chrono::Duration::hours(1);
                f.subs
                    .pause(&DestinationPause { destination: dest.clone(), reason, since, until, attempts: 1 })
                    .unwrap();
            }
            let list = run(&f, -100, false, "/list").text;
            assert!(
                list.contains("⏸ paused since 2030-01-01 10:00 UTC: Telegram: Bad Request: not enough rights"),
                "{list}"
            );
            assert!(list.contains("Resumed now"), "{list}");
            assert!(f.store.pause_of(&group).unwrap().is_none());
            assert!(f.store.pause_of(&topic).unwrap().is_none(), "the chat's topics too");
            assert!(f.store.pause_of(&Destination::Telegram(ChatId(-200))).unwrap().is_some(), "not other chats");
            assert!(!run(&f, -100, false, "/list").text.contains("paused"), "shown once, when resumed");
            run(&f, -200, false, "/next");
            assert!(f.store.pause_of(&Destination::Telegram(ChatId(-200))).unwrap().is_none(), "/next resumes too");
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
            let all = run(&f, 9, true, "/next").text;
            assert!(all.starts_with("Coming up:\n1. Falcon 9"), "without subscriptions: everything {all}");
            assert!(run(&f, 9, true, "/next SpaceX").text.contains("Falcon 9"));
            assert!(run(&f, 9, true, "/next 2 program Starlink").text.contains("Falcon 9"));
            assert!(run(&f, 9, true, "/next SpaceY").text.contains("Did you mean SpaceX?"));
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

        #[test]
        fn quiet_and_silent_apply_to_the_chats_subscriptions_old_and_new() {
            let f = fixture();
            let dest = Destination::Telegram(ChatId(11));
            run(&f, 11, true, "/subscribe agency SpaceX");
            assert!(run(&f, 11, true, "/quiet").text.starts_with("Quiet hours here: off"));
            let set = run(&f, 11, true, "/quiet 23:00-07:00").text;
            assert!(set.contains("23:00-07:00 UTC") && set.contains("none is held back"), "{set}");
            let odd = run(&f, 11, true, "/quiet 25:00-07:00").text;
            assert!(odd.contains("\"25:00\"") && odd.contains("/quiet 23:00-07:00"), "{odd}");
            let silent = run(&f, 11, true, "/silent schedule webcast").text;
            assert!(silent.contains("schedule, webcast"), "{silent}");
            run(&f, 11, true, "/subscribe type launch");
            for s in f.store.subscriptions_of(&dest).unwrap() {
                assert_eq!(s.quiet_hours.map(|q| q.to_string()).as_deref(), Some("23:00-07:00"));
                assert_eq!(s.silent, [AlertKind::Schedule, AlertKind::Webcast]);
            }
            assert!(run(&f, 11, true, "/quiet off").text.contains("off"));
            assert!(run(&f, 11, true, "/silent none").text.contains("Sent without a sound: webcast links appearing"));
            assert!(run(&f, -100, false, "/quiet 23:00-07:00").text.contains("Only administrators"));
            for s in f.store.subscriptions_of(&dest).unwrap() {
                assert_eq!((s.quiet_hours, s.silent.len()), (None, 0));
            }
        }

        #[test]
        fn digest_applies_to_the_chats_subscriptions_old_and_new() {
            let f = fixture();
            let dest = Destination::Telegram(ChatId(12));
            assert!(run(&f, 12, true, "/digest").text.starts_with("Digest here: off"));
            let lonely = run(&f, 12, true, "/digest daily 08:00").text;
            assert!(lonely.contains("/subscribe first"), "{lonely}");
            run(&f, 12, true, "/subscribe agency SpaceX");
            let set = run(&f, 12, true, "/digest weekly mon 8:00").text;
            assert!(set.contains("weekly mon 08:00 UTC") && set.contains("next 7 days"), "{set}");
            let odd = run(&f, 12, true, "/digest weekly funday 8").text;
            assert!(odd.contains("\"funday\" is not a day of the week") && odd.contains("/digest off"), "{odd}");
            run(&f, 12, true, "/subscribe type launch");
            for s in f.store.subscriptions_of(&dest).unwrap() {
                assert_eq!(s.digest.map(|d| d.to_string()).as_deref(), Some("weekly mon 08:00"));
            }
            assert!(run(&f, 12, true, "/digest").text.contains("weekly mon 08:00"));
            assert!(run(&f, -100, false, "/digest daily 08:00").text.contains("Only administrators"));
            assert!(run(&f, 12, true, "/digest off").text.contains("Digest: off"));
            assert!(f.store.subscriptions_of(&dest).unwrap().iter().all(|s| s.digest.is_none()));
        }
    }
}
