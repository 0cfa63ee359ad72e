//! The live card (`style = "card"` per watch, `/style card` per chat): on a
//! launch's day, one message per destination per launch, edited in place
//! as the launch changes, instead of one message per alert. It owns the
//! decision (send a new card, edit the card, edit it and answer it with a
//! short loud reply), the card's and the reply's content, and the glue
//! that carries a decision out through a [`Sender`]. It must not read or
//! write the store (the deliverer passes the card's record in and writes
//! the new one with the delivery's confirmation) nor know a platform.
//!
//! **When.** A card applies to launches whose T-0 is within 24 h of the
//! alert (or past): the launch day. Before that, and for events, alerts
//! are messages: days ahead, each change is news worth its own message.
//! Once a destination has a card for a launch it keeps editing it, even if
//! the date slips out of the 24 h again, so a chat never has two cards of
//! one launch. A sender that cannot edit ([`Sender::can_edit`]) gets
//! messages.
//!
//! **What.** The card is the launch's full current state rendered from the
//! alert's item snapshot in the destination's zone: status as headline,
//! the latest change, NET/window and countdown, webcast, landings. Edits
//! make no sound. Only the moments people wait for make a new message, a
//! short reply to the card: a reminder ("T-10m"), liftoff (status In
//! Flight), the result (Success / Failure / Partial failure, with the
//! landings known then). It is loud unless the destination's loudness
//! rules make the alert silent. So a launch day costs at most one card,
//! one reply per reminder, liftoff and the result. A new card (the first,
//! or one replacing a card that cannot be edited) is loud only when its
//! alert is one of those moments (a reminder that starts the card is its
//! loud message); started by a webcast or status change, it comes without
//! a sound, like the edits it stands for.
//!
//! **Durability.** The card's message id is written with the delivery's
//! confirmation in one transaction (`Store::complete_with_card`), so a
//! restart edits the same card. A kill between the platform's answer and
//! that commit repeats the entry, which then sends one more card (the old
//! one is not known); no alert is lost. A card the platform no longer lets
//! us edit (deleted, too old: `EditError::Gone`) is replaced by a new
//! card.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::info;

use super::{AlertExtras, EditError, SendError, Sender, Sent};
use crate::detect::{Alert, Change};
use crate::item::status;
use crate::render::{self, Message};
use crate::store::CardRecord;
use crate::types::{AlertKind, Destination, ItemKind, Style};

/// How far before T-0 a launch gets a card instead of messages: its day,
/// the span in which its alerts make a sound at all (`rules::LAUNCH_DAY`).
pub(crate) const CARD_HORIZON: chrono::Duration = crate::rules::LAUNCH_DAY;

/// What to do with one alert at one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Not a card: the alert's own message.
    Message,
    /// Send the card (the first of this launch here), loud only when the
    /// alert carries a loud moment.
    NewCard {
        /// The loud moment this alert carries, if any.
        moment: Option<Moment>,
    },
    /// Edit the card `message_id`, then send `reply` as an answer to it.
    Edit {
        /// The card's message.
        message_id: String,
        /// The loud moment this alert carries, if any.
        reply: Option<Moment>,
    },
}

/// A moment worth a new, loud message beside the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    /// A T-minus reminder.
    Reminder(std::time::Duration),
    /// Lifted off (status In Flight).
    Liftoff,
    /// A final status (LL2's status id).
    Result(i64),
}

/// Decides how `alert` reaches a destination of `style` whose card of the
/// launch is `card`, at `now`; `editable`: its sender can edit.
pub(crate) fn plan(style: Style, editable: bool, alert: &Alert, card: Option<&CardRecord>, now: DateTime<Utc>) -> Plan {
    // An article is its own message, never a card's state.
    let news = alert.changes.iter().any(|c| matches!(c, Change::News { .. }));
    if style != Style::Card || !editable || alert.item.kind() != ItemKind::Launch || news {
        return Plan::Message;
    }
    if let Some(card) = card {
        return Plan::Edit { message_id: card.message_id.clone(), reply: moment(alert) };
    }
    match alert.item.when {
        Some(t0) if t0 - now <= CARD_HORIZON => Plan::NewCard { moment: moment(alert) },
        _ => Plan::Message,
    }
}

/// The loud moment `alert` carries, the most important if several.
pub(crate) fn moment(alert: &Alert) -> Option<Moment> {
    let status_to = |ids: &[i64]| {
        alert.changes.iter().find_map(|c| match c {
            Change::Status { new: Some(n), .. } => n.id.filter(|id| ids.contains(id)),
            _ => None,
        })
    };
    if let Some(id) = status_to(&status::FINAL) {
        return Some(Moment::Result(id));
    }
    if status_to(&[status::IN_FLIGHT]).is_some() {
        return Some(Moment::Liftoff);
    }
    alert.changes.iter().find_map(|c| match c {
        Change::Reminder { offset, .. } => Some(Moment::Reminder(*offset)),
        _ => None,
    })
}

/// The card: the launch's current state from `seen`'s item, headed by its
/// status, with the latest change (`seen`'s changes) below the title.
pub(crate) fn body(seen: &Alert, tz: Tz, now: DateTime<Utc>) -> Message {
    let mut msg = render::message(seen, tz, now);
    // The landings are a detail line of the card already: once is enough.
    let landings: Vec<String> = msg.details.iter().filter(|f| f.label == "Landing").map(|f| f.value.clone()).collect();
    msg.changes.retain(|line| !landings.iter().any(|l| l.split("; ").any(|one| one == line)));
    let latest = format!("Latest: {} {}", msg.emoji, msg.headline);
    msg.changes.insert(0, latest);
    let state = seen.item.status.as_ref();
    let id = state.and_then(|s| s.id);
    msg.emoji = status_emoji(id);
    msg.headline = state.map_or_else(|| "Status unknown".to_string(), |s| s.name.clone());
    // Its colour and icon follow the status, whatever changed last.
    msg.kind = AlertKind::Status;
    msg.status = None;
    msg
}

/// The short reply for `moment`: what happened, the launch's name and,
/// with a result, the landings known then.
pub(crate) fn reply(moment: Moment, seen: &Alert) -> Message {
    let item = &seen.item;
    let (emoji, headline) = match moment {
        Moment::Reminder(offset) => ("⏰", format!("T-{}", crate::types::format_duration(offset))),
        Moment::Liftoff => ("🚀", "Liftoff!".to_string()),
        Moment::Result(id) => (status_emoji(Some(id)), result_word(id).to_string()),
    };
    let landings = render::details(item).into_iter().filter(|f| f.label == "Landing");
    Message {
        status_id: item.status.as_ref().and_then(|s| s.id),
        details: if matches!(moment, Moment::Result(_)) { landings.collect() } else { Vec::new() },
        ..Message::bare(seen.kind(), emoji, headline, item.name.clone())
    }
}

fn result_word(id: i64) -> &'static str {
    match id {
        status::SUCCESS => "Success",
        status::FAILURE => "Failure",
        _ => "Partial failure",
    }
}

fn status_emoji(id: Option<i64>) -> &'static str {
    match id {
        Some(status::GO) => "🟢",
        Some(status::SUCCESS) => "✅",
        Some(status::FAILURE) => "❌",
        Some(status::PARTIAL_FAILURE) => "⚠️",
        Some(status::HOLD) => "✋",
        Some(status::IN_FLIGHT) => "🚀",
        Some(status::TBC) => "🟡",
        _ => "❔",
    }
}

/// A card to send or edit for one entry: the plan's I/O half.
#[derive(Debug, Clone)]
pub(crate) struct CardSend {
    /// The card to edit; `None`: send a new one.
    pub(crate) edit: Option<String>,
    /// The short loud reply after an edit.
    pub(crate) reply: Option<Message>,
    /// The alert carries a loud moment: a new card makes a sound (unless
    /// the destination's loudness rules say silent).
    pub(crate) loud: bool,
}

/// Carries out `card` for `dest` with `body` (the card) through `sender`.
/// Returns the outcome for the deliverer and, when the card is (still)
/// there, its message id to record.
pub(crate) async fn deliver(
    sender: &dyn Sender,
    dest: &Destination,
    card: &CardSend,
    body: &Message,
    extras: AlertExtras<'_>,
) -> (Result<Sent, SendError>, Option<String>) {
    let as_card = AlertExtras { card: true, reply_to: None, ..extras };
    if let Some(id) = &card.edit {
        // An edit pings no one and makes no sound.
        let quiet = AlertExtras { mentions: &[], silent: true, ..as_card };
        match sender.edit_alert(dest, id, body, quiet).await {
            Ok(()) => {
                let sent = Sent { message_id: Some(id.clone()) };
                let Some(reply) = &card.reply else { return (Ok(sent), Some(id.clone())) };
                let answer = AlertExtras { mute: None, card: false, reply_to: Some(id), ..extras };
                let outcome = sender.send_alert(dest, reply, answer).await.map(|_| sent);
                return (outcome, Some(id.clone()));
            }
            Err(EditError::Gone { reason }) => {
                info!(%dest, %reason, "live card can no longer be edited; a new card replaces it");
            }
            Err(EditError::Failed(e)) => return (Err(e), None),
        }
    }
    let as_card = AlertExtras { silent: extras.silent || !card.loud, ..as_card };
    match sender.send_alert(dest, body, as_card).await {
        Ok(sent) => {
            let id = sent.message_id.clone();
            (Ok(sent), id)
        }
        Err(e) => (Err(e), None),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::detect::AlertId;
    use crate::detect::tests::sample_launch;
    use crate::item::{Item, Named};

    const HOUR: Duration = Duration::from_secs(3600);

    fn named(id: i64, name: &str) -> Option<Named> {
        Some(Named { id: Some(id), name: name.into(), abbrev: None })
    }

    fn at(hours_before_t0: i64) -> DateTime<Utc> {
        sample_launch().when.unwrap() - chrono::Duration::hours(hours_before_t0)
    }

    fn alert(item: Item, changes: Vec<Change>) -> Alert {
        Alert::new(AlertId(1), item, changes, Utc::now())
    }

    fn status(from: (i64, &str), to: (i64, &str)) -> Change {
        Change::Status { old: named(from.0, from.1), new: named(to.0, to.1) }
    }

    fn card(id: &str) -> CardRecord {
        CardRecord { message_id: id.into(), at: Utc::now() }
    }

    #[test]
    fn a_card_starts_within_a_day_of_t0_and_is_edited_after() {
        let webcast = alert(sample_launch(), vec![Change::Webcast { went_live: false, url: None }]);
        assert_eq!(plan(Style::Card, true, &webcast, None, at(25)), Plan::Message, "the day before: messages");
        let new_card = Plan::NewCard { moment: None };
        assert_eq!(plan(Style::Card, true, &webcast, None, at(23)), new_card);
        assert_eq!(plan(Style::Card, true, &webcast, None, at(-1)), new_card, "after T-0 too");
        let reminder = alert(sample_launch(), vec![Change::Reminder { offset: HOUR, when: Utc::now() }]);
        let loud_card = Plan::NewCard { moment: Some(Moment::Reminder(HOUR)) };
        assert_eq!(plan(Style::Card, true, &reminder, None, at(1)), loud_card, "a reminder starts a loud card");
        let edit = plan(Style::Card, true, &webcast, Some(&card("7")), at(25));
        assert_eq!(edit, Plan::Edit { message_id: "7".into(), reply: None }, "a card once made stays");
        assert_eq!(plan(Style::Messages, true, &webcast, Some(&card("7")), at(1)), Plan::Message);
        assert_eq!(plan(Style::Card, false, &webcast, None, at(1)), Plan::Message, "a sender that cannot edit");
    }

    #[test]
    fn events_and_undated_launches_stay_messages() {
        let mut event = sample_launch();
        event.id.kind = ItemKind::Event;
        assert_eq!(plan(Style::Card, true, &alert(event, vec![Change::New]), None, at(1)), Plan::Message);
        let undated = Item { when: None, ..sample_launch() };
        assert_eq!(plan(Style::Card, true, &alert(undated, vec![Change::New]), None, at(1)), Plan::Message);
        // An article about the launch is a message of its own, card or not.
        let article: crate::news::Article = serde_json::from_value(serde_json::json!({
            "id": 1, "title": "Roman stacked", "url": "https://news.example/1", "news_site": "Example",
            "summary": "", "published_at": "2026-07-22T08:00:00Z", "updated_at": "2026-07-22T08:00:00Z",
        }))
        .unwrap();
        let news = alert(sample_launch(), vec![Change::News { article: Box::new(article) }]);
        assert_eq!(plan(Style::Card, true, &news, Some(&card("7")), at(1)), Plan::Message);
    }

    #[test]
    fn only_reminders_liftoff_and_the_result_are_loud_moments() {
        let go = (status::GO, "Go for Launch");
        let cases = [
            (vec![Change::Webcast { went_live: true, url: None }], None),
            (vec![status(go, (status::HOLD, "On Hold"))], None),
            (vec![Change::Landing { results: vec![] }], None),
            (vec![Change::Reminder { offset: Duration::from_secs(600), when: Utc::now() }], {
                Some(Moment::Reminder(Duration::from_secs(600)))
            }),
            (vec![status(go, (status::IN_FLIGHT, "Launch in Flight"))], Some(Moment::Liftoff)),
            (
                vec![status((status::IN_FLIGHT, "In Flight"), (status::SUCCESS, "Launch Successful"))],
                Some(Moment::Result(status::SUCCESS)),
            ),
        ];
        for (changes, want) in cases {
            let a = alert(sample_launch(), changes.clone());
            assert_eq!(moment(&a), want, "{changes:?}");
            let planned = plan(Style::Card, true, &a, Some(&card("3")), at(0));
            assert_eq!(planned, Plan::Edit { message_id: "3".into(), reply: want });
        }
    }

    #[test]
    fn the_card_names_the_status_the_latest_change_and_the_landing() {
        let mut item = crate::detect::tests::sample_launch_with_details();
        item.status = named(status::SUCCESS, "Launch Successful");
        for l in &mut item.details.landings {
            l.success = Some(true);
        }
        let a = alert(item, vec![status((status::IN_FLIGHT, "In Flight"), (status::SUCCESS, "Launch Successful"))]);
        let card = body(&a, chrono_tz::UTC, at(0));
        assert_eq!((card.emoji, card.headline.as_str()), ("✅", "Launch Successful"));
        assert_eq!(card.changes[0], "Latest: ✅ Success");
        assert!(card.details.iter().any(|f| f.label == "Landing" && f.value.contains("landed")), "{card:?}");
        let short = reply(Moment::Result(status::SUCCESS), &a);
        assert_eq!(short.headline, "Success");
        assert!(short.details.iter().all(|f| f.label == "Landing") && !short.details.is_empty());
        assert_eq!(reply(Moment::Liftoff, &a).details, [], "liftoff says only that");

        let landed = Change::Landing { results: a.item.details.landings.clone() };
        let card = body(&alert(a.item.clone(), vec![landed]), chrono_tz::UTC, at(0));
        assert!(card.changes[0].starts_with("Latest: 🛬"), "{card:?}");
        assert_eq!(card.changes.len(), 1, "the landing is said once, as a detail: {card:?}");
    }
}
