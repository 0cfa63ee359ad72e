//! `/settings` as buttons: the chat's settings as a keyboard (a
//! platform-neutral grid of labelled buttons with callback data), and what
//! a press does. A press runs the same command a person could type
//! (`/alerts`, `/reminders`, `/horizon`, `/timezone`, `/quiet`, `/style`, `/digest`,
//! `/unsubscribe`), so
//! permissions and storage have one path. Front-ends turn the grid into an
//! inline keyboard (Telegram) or components (Discord), answer the press
//! with the toast and edit the message in place. It must not talk to a
//! platform.
//!
//! Callback data is `s:<stamp>:<action>`, at most [`MAX_DATA_LEN`] bytes.
//! The stamp is a checksum of what the keyboard showed; a press whose
//! stamp no longer matches (changed elsewhere, a removed subscription) is
//! not applied: it gets a toast and the current keyboard. Actions name
//! only values from fixed lists and the chat's own subscriptions, and the
//! chat is always the one the press came from.

use std::time::Duration;

use chrono_tz::Tz;

use super::context::{CommandContext, Services, chat_settings};
use super::exec::execute;
use super::keyboard::{Key, Keyboard, MAX_DATA_LEN, clip_toast, fnv1a};
use super::parse::{ChatCommand, Target};
use crate::rules::{Origin, Subscription};
use crate::store::{ChatSettings, StoreError};
use crate::types::{AlertKind, Style, format_duration};

/// Reminder offsets always offered, besides those the chat has.
const REMINDERS: [u64; 4] = [86_400, 43_200, 3_600, 600];
/// Horizon choices, in days; `None` = off.
const HORIZONS: [Option<u64>; 5] = [Some(1), Some(3), Some(7), Some(30), None];
/// Timezone shortcuts.
pub(crate) const TIMEZONES: [Tz; 4] = [Tz::UTC, Tz::Europe__Berlin, Tz::America__New_York, Tz::Asia__Tokyo];
/// The quiet hours the 🌙 button turns on.
const QUIET_DEFAULT: &str = "23:00-07:00";
/// The digest the 📋 button turns on.
const DIGEST_DEFAULT: &str = "daily 08:00";
/// Most subscriptions with a remove button: a row of Discord components
/// holds five, Discord allows no sixth row, and the last row also holds
/// the 📰 news, 🪧 live card and 📋 digest toggles (/unsubscribe N removes
/// any).
const MAX_REMOVE: usize = 2;

/// What a press of a settings button does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Kind(AlertKind),
    Reminder(u64),
    Horizon(Option<u64>),
    Zone(usize),
    /// Quiet hours on (`QUIET_DEFAULT`) or off.
    Quiet(bool),
    /// The live card on (`/style card`) or off (`/style messages`).
    Card(bool),
    /// The digest on (`DIGEST_DEFAULT`) or off.
    Digest(bool),
    Remove(u64),
}

impl Action {
    fn encode(&self) -> String {
        match self {
            Action::Kind(k) => format!("k{}", k.as_str()),
            Action::Reminder(s) => format!("r{s}"),
            Action::Horizon(Some(d)) => format!("h{d}"),
            Action::Horizon(None) => "hoff".into(),
            Action::Zone(i) => format!("z{i}"),
            Action::Quiet(on) => format!("q{}", u8::from(*on)),
            Action::Card(on) => format!("c{}", u8::from(*on)),
            Action::Digest(on) => format!("d{}", u8::from(*on)),
            Action::Remove(id) => format!("x{id}"),
        }
    }

    fn decode(s: &str) -> Option<Action> {
        let (tag, rest) = s.split_at_checked(1)?;
        let num = || rest.parse::<u64>().ok();
        match tag {
            "k" => rest.parse::<AlertKind>().ok().map(Action::Kind),
            "r" => num().filter(|s| (60..=30 * 86_400).contains(s)).map(Action::Reminder),
            "h" if rest == "off" => Some(Action::Horizon(None)),
            "h" => num().filter(|d| HORIZONS.contains(&Some(*d))).map(|d| Action::Horizon(Some(d))),
            "z" => num().map(|i| i as usize).filter(|i| *i < TIMEZONES.len()).map(Action::Zone),
            "q" => num().filter(|n| *n <= 1).map(|n| Action::Quiet(n == 1)),
            "c" => num().filter(|n| *n <= 1).map(|n| Action::Card(n == 1)),
            "d" => num().filter(|n| *n <= 1).map(|n| Action::Digest(n == 1)),
            "x" => num().map(Action::Remove),
            _ => None,
        }
    }
}

/// Whether callback data is a settings button's (else: another button).
pub(crate) fn is_settings_data(data: &str) -> bool {
    data.starts_with("s:")
}

/// The chat's own subscriptions, in `/list` order.
fn own_subscriptions(ctx: &CommandContext, svc: &Services<'_>) -> Result<Vec<Subscription>, StoreError> {
    Ok(svc.store.subscriptions_of(&ctx.destination)?.into_iter().filter(|s| s.origin == Origin::Chat).collect())
}

/// A checksum of what the keyboard shows.
fn stamp(settings: &ChatSettings, subs: &[Subscription]) -> String {
    let mut text = serde_json::to_string(settings).unwrap_or_default();
    for s in subs {
        text.push_str(&format!(",{}", s.id.0));
    }
    format!("{:08x}", fnv1a(&text))
}

/// The chat's settings as buttons.
pub(crate) fn keyboard(ctx: &CommandContext, svc: &Services<'_>) -> Result<Keyboard, StoreError> {
    let settings = chat_settings(&ctx.destination, svc)?;
    let subs = own_subscriptions(ctx, svc)?;
    let stamp = stamp(&settings, &subs);
    let key = |on: bool, label: String, action: Action| Key {
        label: format!("{} {label}", if on { "✅" } else { "▫️" }),
        data: format!("s:{stamp}:{}", action.encode()),
    };
    let kinds = AlertKind::ALL
        .into_iter()
        .map(|k| key(settings.alerts.contains(&k), k.as_str().to_string(), Action::Kind(k)))
        .collect();
    let reminders = reminder_row(&settings, &key);
    let horizons = HORIZONS
        .into_iter()
        .map(|d| {
            let current = settings.schedule_horizon.map(|h| h.as_secs());
            let label = d.map_or("any".to_string(), |d| format!("{d}d"));
            key(current == d.map(|d| d * 86_400), label, Action::Horizon(d))
        })
        .collect();
    // Quiet hours (read in that zone) share its row: Discord allows five.
    let mut zones: Vec<Key> = TIMEZONES
        .iter()
        .enumerate()
        .map(|(i, tz)| key(settings.timezone == *tz, tz.name().to_string(), Action::Zone(i)))
        .collect();
    zones.push(match settings.quiet_hours {
        Some(q) => key(true, format!("🌙 {q}"), Action::Quiet(false)),
        None => key(false, format!("🌙 {QUIET_DEFAULT}"), Action::Quiet(true)),
    });
    let last = last_row(&settings, &subs, &stamp, &key);
    let rows = vec![kinds, reminders, horizons, zones, last];
    debug_assert!(rows.iter().flatten().all(|k| k.data.len() <= MAX_DATA_LEN));
    Ok(rows)
}

/// The reminders row: the usual offsets and up to five in all with the
/// chat's own, longest first.
fn reminder_row(settings: &ChatSettings, key: &impl Fn(bool, String, Action) -> Key) -> Vec<Key> {
    let mut offsets: Vec<u64> = REMINDERS.to_vec();
    for r in &settings.reminders {
        if !offsets.contains(&r.as_secs()) && offsets.len() < 5 {
            offsets.push(r.as_secs());
        }
    }
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets
        .into_iter()
        .map(|s| {
            let on = settings.reminders.iter().any(|r| r.as_secs() == s);
            key(on, reminder_label(s), Action::Reminder(s))
        })
        .collect()
}

/// The last row: news, the live card, the digest, and remove buttons for
/// the first subscriptions.
fn last_row(
    settings: &ChatSettings,
    subs: &[Subscription],
    stamp: &str,
    key: &impl Fn(bool, String, Action) -> Key,
) -> Vec<Key> {
    // Discord shows five rows of five: the opt-in news kind, the live card
    // and the digest lead the last row, and the first subscriptions get a remove
    // button beside them (/unsubscribe removes any).
    let news = AlertKind::News;
    let news = key(settings.alerts.contains(&news), format!("📰 {news}"), Action::Kind(news));
    let card = settings.style == Style::Card;
    let card = key(card, "🪧 live card".to_string(), Action::Card(!card));
    let digest = match settings.digest {
        Some(d) => key(true, format!("📋 {d}"), Action::Digest(false)),
        None => key(false, format!("📋 {DIGEST_DEFAULT}"), Action::Digest(true)),
    };
    [news, card, digest]
        .into_iter()
        .chain(subs.iter().take(MAX_REMOVE).enumerate().map(|(i, s)| Key {
            label: format!("❌ #{}", i + 1),
            data: format!("s:{stamp}:{}", Action::Remove(s.id.0).encode()),
        }))
        .collect()
}

/// What to answer a press with: a toast, and the keyboard to show now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingsPressed {
    /// Short text the platform shows the presser.
    pub(crate) toast: String,
    /// The settings buttons to show now.
    pub(crate) keyboard: Keyboard,
}

/// Runs a press of a settings button with `data` in the chat of `ctx`.
pub(crate) fn press(data: &str, ctx: &CommandContext, svc: &Services<'_>) -> Result<SettingsPressed, StoreError> {
    let answer = |toast: &str| -> Result<SettingsPressed, StoreError> {
        Ok(SettingsPressed { toast: clip_toast(toast), keyboard: keyboard(ctx, svc)? })
    };
    let parsed = (data.len() <= MAX_DATA_LEN)
        .then(|| data.strip_prefix("s:")?.split_once(':'))
        .flatten()
        .and_then(|(stamp, action)| Some((stamp, Action::decode(action)?)));
    let Some((pressed_stamp, action)) = parsed else {
        return answer("This button is not one I understand any more; here are the settings now.");
    };
    if !ctx.can_manage {
        return answer("Only administrators of this chat can change its settings.");
    }
    let settings = chat_settings(&ctx.destination, svc)?;
    let subs = own_subscriptions(ctx, svc)?;
    if pressed_stamp != stamp(&settings, &subs) {
        return answer("These buttons were out of date; here are the settings now. Press again.");
    }
    let command = match action {
        Action::Kind(k) => {
            let mut kinds: Vec<AlertKind> = settings.alerts.clone();
            if kinds.contains(&k) {
                kinds.retain(|x| *x != k);
            } else {
                kinds.push(k);
            }
            if kinds.is_empty() {
                return answer("At least one kind must stay on (or /unsubscribe all).");
            }
            kinds.sort();
            ChatCommand::Alerts(Some(kinds))
        }
        Action::Reminder(s) => {
            let d = Duration::from_secs(s);
            let mut offsets = settings.reminders.clone();
            if offsets.contains(&d) {
                offsets.retain(|x| *x != d);
            } else {
                offsets.push(d);
            }
            offsets.sort_unstable_by(|a, b| b.cmp(a));
            ChatCommand::Reminders(Some(offsets))
        }
        Action::Horizon(d) => ChatCommand::Horizon(Some(d.map(|d| Duration::from_secs(d * 86_400)))),
        Action::Zone(i) => ChatCommand::Timezone(Some(TIMEZONES[i].name().to_string())),
        Action::Quiet(on) => ChatCommand::Quiet(Some(on.then(|| QUIET_DEFAULT.parse()).transpose().ok().flatten())),
        Action::Card(on) => ChatCommand::Style(Some(if on { Style::Card } else { Style::Messages })),
        Action::Digest(on) => ChatCommand::Digest(Some(on.then(|| DIGEST_DEFAULT.parse()).transpose().ok().flatten())),
        Action::Remove(id) => match subs.iter().position(|s| s.id.0 == id) {
            Some(n) => ChatCommand::Unsubscribe(Target::Number(n + 1)),
            None => return answer("That subscription is gone; here are the settings now."),
        },
    };
    let reply = execute(command, ctx, svc)?;
    answer(&reply.text)
}

/// Whole hours as hours (`24h`, not `1d`, as people say it of reminders).
fn reminder_label(secs: u64) -> String {
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format_duration(Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_bad_data_is_refused() {
        for a in [
            Action::Kind(AlertKind::Webcast),
            Action::Reminder(600),
            Action::Horizon(Some(7)),
            Action::Horizon(None),
            Action::Zone(3),
            Action::Quiet(true),
            Action::Quiet(false),
            Action::Card(true),
            Action::Card(false),
            Action::Digest(true),
            Action::Digest(false),
            Action::Remove(123_456_789),
        ] {
            assert_eq!(Action::decode(&a.encode()), Some(a));
        }
        for bad in [
            "",
            "k",
            "kbogus",
            "r5",
            "r99999999999",
            "h2",
            "z4",
            "z-1",
            "x",
            "xabc",
            "q2",
            "q",
            "w1",
            "c2",
            "c",
            "d2",
            "d",
        ] {
            assert_eq!(Action::decode(bad), None, "{bad:?}");
        }
        assert!(is_settings_data("s:0a1b2c3d:hoff") && !is_settings_data("mute:launch/x"));
    }

    #[test]
    fn toasts_are_one_short_line() {
        assert_eq!(clip_toast("a\nb"), "a");
        assert!(clip_toast(&"x".repeat(500)).chars().count() <= 190);
    }
}
