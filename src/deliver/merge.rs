//! One message per destination per alert: routing keeps one outbox entry
//! per destination (`rules::Index::targets`, led by the destination's first
//! routed subscription), and this module merges every subscription of that
//! destination that wants the alert into the one message it gets: the
//! union of the changes each sees (their kinds, their horizons), the union
//! of their mentions, the chat's own time zone, and the Mute button (and
//! the chat's mutes, the strictest rule) when a chat's own subscription is
//! among them; silent only when silent for each of them. Pure:
//! the deliverer reads the subscriptions and settings and
//! decides what to do with a mute; this module must not touch the store.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::detect::{Alert, Change};
use crate::rules::{Origin, SubId, Subscription, is_silent};
use crate::types::{Mention, Style};

/// What one destination is sent for an alert, merged from its
/// subscriptions that want it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    /// The alert with the changes any of them sees, most important first.
    pub(crate) seen: Alert,
    /// The zone its dates are shown in.
    pub(crate) timezone: Tz,
    /// Who it pings: every mention of any of them, once, in order.
    pub(crate) mentions: Vec<Mention>,
    /// A chat's own subscription is among them: the chat's mutes apply
    /// and the message may carry a Mute button.
    pub(crate) chat: bool,
    /// It goes out without a sound: it is silent (quiet hours, silent
    /// kinds, a link added) for every one of them, each judged on the
    /// changes it sees; one that wants to hear it makes it loud.
    pub(crate) silent: bool,
    /// A config watch among them says `style = "card"`: the style of a
    /// destination with only config watches (a chat's own style wins when
    /// a chat's subscription is among them; see `card.rs`).
    pub(crate) watch_card: bool,
}

/// Merges `subs` (the destination's subscriptions, in id order) for
/// `alert`, queued under `lead`. A subscription takes part when it is
/// enabled, selects the item (`lead` was routed, so its filter is not
/// asked again, as before merging) and, for a reminder, has its offset;
/// `chat_timezone` is the zone the chat set, used when a chat's own
/// subscription takes part; `now` decides quiet hours. `None` when none
/// sees any change.
pub(crate) fn merge(
    alert: &Alert,
    lead: SubId,
    subs: &[Subscription],
    chat_timezone: Option<Tz>,
    now: DateTime<Utc>,
) -> Option<Merged> {
    let wanting: Vec<(&Subscription, Alert)> = subs
        .iter()
        .filter(|s| s.id == lead || (s.filter.matches(&alert.item) && wants_reminders_of(s, alert)))
        .filter_map(|s| Some((s, s.sees(alert)?)))
        .collect();
    let (first, _) = wanting.first()?;
    let changes: Vec<Change> =
        alert.changes.iter().filter(|c| wanting.iter().any(|(_, seen)| seen.changes.contains(c))).cloned().collect();
    let chat = wanting.iter().any(|(s, _)| s.origin == Origin::Chat);
    let own = wanting.iter().find(|(s, _)| s.origin == Origin::Chat).map(|(s, _)| s.timezone);
    let timezone = chat_timezone.filter(|_| chat).or(own).unwrap_or(first.timezone);
    let mut mentions: Vec<Mention> = Vec::new();
    for m in wanting.iter().flat_map(|(s, _)| &s.mentions) {
        if !mentions.contains(m) {
            mentions.push(*m);
        }
    }
    let silent = wanting.iter().all(|(s, seen)| is_silent(seen, s, now));
    let watch_card = wanting.iter().any(|(s, _)| s.origin != Origin::Chat && s.style == Style::Card);
    Some(Merged { seen: Alert { changes, ..alert.clone() }, timezone, mentions, chat, silent, watch_card })
}

/// Whether `sub` asked for the reminder offsets of `alert`'s reminders (an
/// alert without one: yes).
fn wants_reminders_of(sub: &Subscription, alert: &Alert) -> bool {
    alert.changes.iter().all(|c| match c {
        Change::Reminder { offset, .. } => sub.reminders.contains(offset),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::detect::AlertId;
    use crate::item::Named;
    use crate::rules::Filter;
    use crate::types::{AlertKind, Destination};

    fn alert() -> Alert {
        let item = crate::detect::tests::sample_launch();
        let status = Change::Status { old: None, new: Some(Named { id: Some(3), name: "Hold".into(), abbrev: None }) };
        let webcast = Change::Webcast { went_live: true, url: None };
        Alert::new(AlertId(9), item, vec![status, webcast], Utc::now())
    }

    fn watch() -> Origin {
        Origin::Config { watch: "ops".into() }
    }

    fn sub(id: u64, origin: Origin, kinds: &[AlertKind]) -> Subscription {
        Subscription::new(SubId(id), Destination::Calendar("ops".into()), Filter::default(), origin)
            .with_alerts(kinds.to_vec())
    }

    #[test]
    fn kinds_and_mentions_unite_and_the_chat_zone_wins() {
        let a = alert();
        let mut status = sub(1, watch(), &[AlertKind::Status]);
        status.mentions = vec![Mention::Role(1), Mention::User(2)];
        status.timezone = chrono_tz::Asia::Tokyo;
        let mut webcast = sub(2, Origin::Chat, &[AlertKind::Webcast]);
        webcast.mentions = vec![Mention::User(2), Mention::Role(3)];
        let berlin = Some(chrono_tz::Europe::Berlin);
        let m = merge(&a, SubId(1), &[status.clone(), webcast.clone()], berlin, Utc::now()).unwrap();
        assert_eq!(m.seen.changes, a.changes, "both changes, in the alert's order");
        assert_eq!(m.mentions, [Mention::Role(1), Mention::User(2), Mention::Role(3)]);
        assert_eq!((m.timezone, m.chat), (chrono_tz::Europe::Berlin, true));

        // Only the config watch: its own zone, no mutes, no button.
        let m = merge(&a, SubId(1), std::slice::from_ref(&status), berlin, Utc::now()).unwrap();
        assert_eq!((m.seen.changes.len(), m.timezone, m.chat), (1, chrono_tz::Asia::Tokyo, false));
    }

    #[test]
    fn a_merged_message_is_silent_only_when_silent_for_every_part() {
        let a = alert();
        let all_day: crate::rules::QuietHours = "00:00-00:00".parse().unwrap();
        let quiet = |id, origin| Subscription { quiet_hours: Some(all_day), ..sub(id, origin, &AlertKind::ALL) };
        let silent = |subs: &[Subscription]| merge(&a, SubId(1), subs, None, Utc::now()).unwrap().silent;
        assert!(silent(&[quiet(1, watch()), quiet(2, Origin::Chat)]));
        assert!(!silent(&[quiet(1, watch()), sub(2, Origin::Chat, &AlertKind::ALL)]), "one wants it loud");
        // A part that sees nothing of the alert has no say.
        assert!(silent(&[quiet(1, watch()), sub(2, Origin::Chat, &[AlertKind::Schedule])]));
    }

    #[test]
    fn a_config_watch_asking_for_the_card_is_named() {
        let a = alert();
        let card = |id, origin| sub(id, origin, &AlertKind::ALL).with_style(Style::Card);
        let watch_card = |subs: &[Subscription]| merge(&a, SubId(1), subs, None, Utc::now()).unwrap().watch_card;
        assert!(watch_card(&[sub(1, watch(), &AlertKind::ALL), card(2, watch())]), "any watch there says card");
        assert!(!watch_card(&[sub(1, watch(), &AlertKind::ALL)]));
        // A chat's own style lives in its settings, not on its subscriptions.
        assert!(!watch_card(&[card(1, Origin::Chat)]));
        // A watch that does not want the alert has no say.
        assert!(!watch_card(&[sub(1, watch(), &AlertKind::ALL), Subscription { enabled: false, ..card(2, watch()) }]));
    }

    #[test]
    fn only_enabled_selecting_subscriptions_take_part() {
        let a = alert();
        let lead = sub(1, Origin::Chat, &[AlertKind::Status]);
        let off = Subscription { enabled: false, ..sub(2, Origin::Chat, &[AlertKind::Webcast]) };
        let elsewhere = Subscription {
            filter: Filter { agencies: vec!["Nobody".into()], ..Filter::default() },
            ..sub(3, Origin::Chat, &[AlertKind::Webcast])
        };
        let subs = [lead.clone(), off, elsewhere];
        assert_eq!(merge(&a, SubId(1), &subs, None, Utc::now()).unwrap().seen.changes, a.changes[..1]);
        assert_eq!(
            merge(&a, SubId(1), &subs[1..], None, Utc::now()),
            None,
            "the lead is gone and no one else wants it"
        );
        let deaf = sub(4, Origin::Chat, &[AlertKind::New]);
        assert_eq!(merge(&a, SubId(4), &[deaf], None, Utc::now()), None);
    }

    #[test]
    fn a_reminder_merges_only_the_subscriptions_with_its_offset() {
        let hour = Duration::from_secs(3600);
        let reminder = Change::Reminder { offset: hour, when: Utc::now() };
        let a = Alert::new(AlertId(1), alert().item, vec![reminder], Utc::now());
        let mut with = sub(2, Origin::Chat, &[AlertKind::Reminder]).with_reminders(vec![hour]);
        with.mentions = vec![Mention::Role(7)];
        let mut without = sub(3, Origin::Chat, &[AlertKind::Reminder]);
        without.mentions = vec![Mention::Role(8)];
        let m = merge(&a, SubId(2), &[with, without], None, Utc::now()).unwrap();
        assert_eq!(m.mentions, [Mention::Role(7)]);
    }
}
