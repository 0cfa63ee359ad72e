//! `/events on|off`: a member with Manage Events makes the guild's
//! scheduled events mirror the subscriptions of the channel the command is
//! used in, with no operator config. The mirror is stored as chat-made
//! subscriptions to `discord-events:GUILD` (copies of the channel's
//! filters, through the subscription API), so it survives restarts, is in
//! `tminus export`, and `discord::events` keeps it like a config watch's;
//! the sync is woken at once (`Store::mirrors_changed`). `/events on`
//! again refreshes the copies after the channel's subscriptions changed;
//! `/events off` removes them and the sync deletes the bot's events.
//! Config watches into the same guild are not the chat's to change.
//!
//! It must not talk to Discord itself: the sync does.

use serenity::model::permissions::Permissions;

use super::invocation::{Invocation, OptionValue};
use super::reply::Response;
use crate::commands::Services;
use crate::commands::manage::{EventsArg, parse_events};
use crate::rules::{Origin, SubId, Subscription};
use crate::store::StoreError;
use crate::subscriptions::Subscriptions;
use crate::types::{ChannelId, Destination, GuildId};

/// The refusal for members without Manage Events.
pub(super) const NEEDS_MANAGE_EVENTS: &str =
    "Turning this server's scheduled events on or off needs the Manage Events permission.";

/// Manage Events (bit 33) or Administrator.
fn may_manage_events(inv: &Invocation) -> bool {
    inv.permissions.is_some_and(|p| p.intersects(Permissions::MANAGE_EVENTS | Permissions::ADMINISTRATOR))
}

/// Answers `/events [state:on|off]` used in `channel`.
pub(super) fn command(inv: &Invocation, channel: u64, svc: &Services<'_>) -> Result<Response, StoreError> {
    let Some(guild) = inv.guild_id else {
        return Ok(Response::ephemeral("Scheduled events belong to a server: use /events in a server's channel."));
    };
    let state = match inv.options.iter().find(|o| o.name == "state").map(|o| &o.value) {
        Some(OptionValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let arg = match parse_events(&state) {
        Ok(arg) => arg,
        Err(e) => return Ok(Response::ephemeral(e.to_string())),
    };
    let guild = Destination::DiscordEvents(GuildId(guild));
    if arg != EventsArg::Show && !may_manage_events(inv) {
        return Ok(Response::ephemeral(NEEDS_MANAGE_EVENTS));
    }
    let text = match arg {
        EventsArg::Show => show(&guild, svc)?,
        EventsArg::On => on(&guild, ChannelId(channel), svc)?,
        EventsArg::Off => off(&guild, svc)?,
    };
    Ok(Response::ephemeral(text))
}

/// The guild's mirror subscriptions: (made by `/events on`, from the config).
fn mirrors(guild: &Destination, svc: &Services<'_>) -> Result<(Vec<Subscription>, usize), StoreError> {
    let (chat, config): (Vec<_>, Vec<_>) =
        svc.store.subscriptions_of(guild)?.into_iter().partition(|s| s.origin == Origin::Chat);
    Ok((chat, config.len()))
}

fn config_note(config: usize) -> &'static str {
    if config > 0 { " The bot's config mirrors into this server too; that part is the operator's." } else { "" }
}

fn show(guild: &Destination, svc: &Services<'_>) -> Result<String, StoreError> {
    let (chat, config) = mirrors(guild, svc)?;
    Ok(if chat.is_empty() {
        format!(
            "Scheduled events from /events are off in this server. /events state:on mirrors a channel's \
             subscriptions as events.{}",
            config_note(config)
        )
    } else {
        format!(
            "Scheduled events are on: this server's events mirror {} subscription(s). /events state:off stops.{}",
            chat.len(),
            config_note(config)
        )
    })
}

fn on(guild: &Destination, channel: ChannelId, svc: &Services<'_>) -> Result<String, StoreError> {
    let source: Vec<Subscription> = svc
        .store
        .subscriptions_of(&Destination::Discord(channel))?
        .into_iter()
        .filter(|s| s.origin == Origin::Chat && s.enabled)
        .collect();
    if source.is_empty() {
        return Ok("This channel has no subscriptions to mirror. /subscribe first, then /events state:on.".into());
    }
    let (old, config) = mirrors(guild, svc)?;
    // New copies first: a kill in between leaves the old ones beside them
    // (the same items, once), never a guild without its mirror.
    for s in &source {
        let id = SubId(svc.store.next_id()?);
        svc.subs.put(&Subscription::new(id, guild.clone(), s.filter.clone(), Origin::Chat))?;
    }
    remove_all(svc.subs, &old)?;
    svc.store.mirrors_changed();
    Ok(format!(
        "📅 Scheduled events on: this server's events now mirror the {} subscription(s) of this channel \
         (upcoming items with a known day, nearest first). After changing this channel's subscriptions, \
         send /events state:on again to refresh; /events state:off deletes the events I made.{}",
        source.len(),
        config_note(config)
    ))
}

fn off(guild: &Destination, svc: &Services<'_>) -> Result<String, StoreError> {
    let (old, config) = mirrors(guild, svc)?;
    if old.is_empty() {
        return Ok(format!("Scheduled events from /events were already off here.{}", config_note(config)));
    }
    remove_all(svc.subs, &old)?;
    svc.store.mirrors_changed();
    Ok(format!(
        "Scheduled events off: the events I made for this server are deleted at the next sync, within moments.{}",
        config_note(config)
    ))
}

fn remove_all(subs: &Subscriptions, old: &[Subscription]) -> Result<(), StoreError> {
    old.iter().try_for_each(|s| subs.remove(s.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Defaults;
    use crate::directory::Directory;
    use crate::rules::Filter;
    use crate::store::Store;

    fn world() -> (tempfile::TempDir, Store, Subscriptions) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        (dir, store, subs)
    }

    #[test]
    fn the_mirror_is_chat_state_export_carries_and_import_restores() {
        let (_dir, store, subs) = world();
        let defaults =
            Defaults { timezone: chrono_tz::UTC, reminders: vec![], calendar_base: None, schedule_horizon: None };
        let directory = Directory::default();
        let svc = Services { subs: &subs, store: &store, directory: &directory, defaults: &defaults };
        let channel = ChannelId(7);
        let filter = Filter { agencies: vec!["SpaceX".into()], ..Filter::default() };
        let sub =
            Subscription::new(SubId(store.next_id().unwrap()), Destination::Discord(channel), filter, Origin::Chat);
        subs.put(&sub).unwrap();
        let guild = Destination::DiscordEvents(GuildId(9));
        assert!(on(&guild, channel, &svc).unwrap().contains("Scheduled events on"));

        let json = crate::transfer::to_json(&crate::transfer::export(&store).unwrap());
        assert!(json.contains("\"DiscordEvents\": 9"), "{json}");
        let (_dir2, store2, subs2) = world();
        crate::transfer::import(&subs2, &crate::transfer::parse(&json).unwrap()).unwrap();
        let restored = store2.subscriptions_of(&guild).unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!(
            (restored[0].origin.clone(), restored[0].filter.agencies.clone()),
            (Origin::Chat, vec!["SpaceX".into()])
        );

        assert!(off(&guild, &svc).unwrap().contains("Scheduled events off"));
        assert!(store.subscriptions_of(&guild).unwrap().is_empty());
        assert!(off(&guild, &svc).unwrap().contains("already off"));
    }
}
