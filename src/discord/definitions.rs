//! The slash commands as registered with Discord (names, descriptions,
//! options, choices, who may see them) and the Discord help text. Pure
//! builders: registering them is `commands::register`'s job, answering
//! them `commands::Handler`'s.

use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::CommandOptionType;
use serenity::model::permissions::Permissions;

use crate::commands::{COMMANDS, NEXT_MAX};
use crate::directory::Dimension;
use crate::types::AlertKind;

/// Discord-style examples for the help text, by command name.
const EXAMPLES: [(&str, &str); 21] = [
    ("start", "/start"),
    ("help", "/help"),
    ("subscribe", "/subscribe agency:SpaceX exclude_program:Starlink"),
    ("unsubscribe", "/unsubscribe which:2 (or which:all)"),
    ("list", "/list"),
    ("next", "/next count:5 name:SpaceX"),
    ("news", "/news"),
    ("timezone", "/timezone zone:Europe/Berlin"),
    ("reminders", "/reminders times:24h 1h 10m (or times:off)"),
    ("alerts", "/alerts first:status second:webcast (or first:all)"),
    ("horizon", "/horizon duration:7d (or duration:off)"),
    ("quiet", "/quiet span:23:00-07:00 (or span:off)"),
    ("silent", "/silent kinds:schedule webcast (or kinds:none)"),
    ("style", "/style style:card (or style:messages)"),
    ("digest", "/digest schedule:daily 08:00 (or schedule:weekly mon 08:00, schedule:off)"),
    ("mute", "/mute name:Starlink Group 10-1 (or the 🔕 Mute button)"),
    ("muted", "/muted"),
    ("unmute", "/unmute which:1 (or which:all)"),
    ("calendar", "/calendar (or reset:True for a new link)"),
    ("settings", "/settings (then press the buttons; changing needs Manage Channels)"),
    ("events", "/events state:on (or state:off; needs Manage Events)"),
];

/// `/events`' description: Discord-only, so not in `commands::COMMANDS`.
const EVENTS_DESCRIPTION: &str = "Mirror this channel's subscriptions as the server's scheduled events";

/// The `/alerts` options, each one alert kind chosen from a list.
pub(super) const ALERT_OPTIONS: [&str; 6] = ["first", "second", "third", "fourth", "fifth", "sixth"];

/// Longest accepted value of one name option (Discord enforces it too).
pub(crate) const MAX_OPTION_LEN: u16 = 100;

/// The filter options of `/subscribe`, as (option name, exclude, dimension).
pub(crate) const FILTER_OPTIONS: [(&str, bool, Dimension); 6] = [
    ("agency", false, Dimension::Agency),
    ("type", false, Dimension::Type),
    ("program", false, Dimension::Program),
    ("exclude_agency", true, Dimension::Agency),
    ("exclude_type", true, Dimension::Type),
    ("exclude_program", true, Dimension::Program),
];

/// The commands that change a channel's subscriptions or settings: hidden
/// from members without Manage Channels (`default_member_permissions`),
/// and re-checked on every use.
pub(crate) const MANAGING_COMMANDS: [&str; 12] = [
    "subscribe",
    "unsubscribe",
    "timezone",
    "reminders",
    "alerts",
    "horizon",
    "quiet",
    "silent",
    "style",
    "digest",
    "mute",
    "unmute",
];

/// The slash commands as registered with Discord.
pub(crate) fn definitions() -> Vec<CreateCommand> {
    let manage = |c: CreateCommand| c.default_member_permissions(Permissions::MANAGE_CHANNELS);
    subscription_definitions()
        .into_iter()
        .chain(setting_definitions())
        .chain(other_definitions())
        .map(|c| {
            let name = command_name(&c);
            if MANAGING_COMMANDS.contains(&name.as_str()) { manage(c) } else { c }
        })
        .collect()
}

/// An optional string option, the kind most commands take.
fn string(name: &str, description: &str) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, name, description).required(false)
}

/// The commands that add, remove and read subscriptions and launches:
/// `/subscribe`, `/unsubscribe`, `/list`, `/next`.
fn subscription_definitions() -> Vec<CreateCommand> {
    vec![
        subscribe_definition(),
        CreateCommand::new("unsubscribe").description(describe_command("unsubscribe")).add_option(
            string("which", "The subscription's number from /list, or all")
                .required(true)
                .set_autocomplete(true)
                .max_length(10),
        ),
        CreateCommand::new("list").description(describe_command("list")),
        CreateCommand::new("next")
            .description(describe_command("next"))
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "count", "How many (1-20, default 5)")
                    .required(false)
                    .min_int_value(1)
                    .max_int_value(NEXT_MAX as u64),
            )
            .add_option(
                string("name", "Only this agency, program or type (e.g. SpaceX, Artemis)")
                    .min_length(1)
                    .max_length(MAX_OPTION_LEN),
            ),
    ]
}

/// `/subscribe`: one autocompleted option per filter, plus kind and mention.
fn subscribe_definition() -> CreateCommand {
    let mut subscribe = CreateCommand::new("subscribe").description(describe_command("subscribe"));
    for (name, exclude, dim) in FILTER_OPTIONS {
        let what = match dim {
            Dimension::Agency => "agency (e.g. SpaceX, NASA, or an LL2 id)",
            Dimension::Type => "event or mission type (e.g. Docking, Communications)",
            Dimension::Program => "program (e.g. Artemis, Starlink)",
        };
        let description = if exclude { format!("Leave out this {what}") } else { format!("Only this {what}") };
        subscribe = subscribe
            .add_option(string(name, &description).set_autocomplete(true).min_length(1).max_length(MAX_OPTION_LEN));
    }
    subscribe = subscribe.add_option(
        string("kind", "Only launches, or only events (dockings, spacewalks, landings…)")
            .add_string_choice("launches", "launch")
            .add_string_choice("events", "event"),
    );
    subscribe.add_option(
        CreateCommandOption::new(CommandOptionType::Mentionable, "mention", "A role or member its alerts ping")
            .required(false),
    )
}

/// The per-channel settings: `/timezone`, `/reminders`, `/alerts`,
/// `/horizon`, `/quiet`, `/silent`, `/style`, `/digest`.
fn setting_definitions() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("timezone").description(describe_command("timezone")).add_option(
            string("zone", "An Area/City name such as Europe/Berlin; leave out to see the current one")
                .set_autocomplete(true)
                .max_length(64),
        ),
        CreateCommand::new("reminders").description(describe_command("reminders")).add_option(
            string("times", "Before T-0, e.g. 24h 1h 10m, or off; leave out to see the current ones").max_length(100),
        ),
        alerts_definition(),
        CreateCommand::new("horizon").description(describe_command("horizon")).add_option(
            string("duration", "Schedule changes only this close, e.g. 7d, or off; leave out to see it").max_length(20),
        ),
        CreateCommand::new("quiet").description(describe_command("quiet")).add_option(
            string("span", "Local HH:MM-HH:MM without sound, e.g. 23:00-07:00, or off; leave out to see it")
                .max_length(20),
        ),
        CreateCommand::new("silent").description(describe_command("silent")).add_option(
            string("kinds", "Alert kinds without sound, e.g. schedule webcast, or none; leave out to see them")
                .max_length(100),
        ),
        CreateCommand::new("style").description(describe_command("style")).add_option(
            string("style", "card: one live card per launch on its day; messages: one per alert")
                .add_string_choice("card", "card")
                .add_string_choice("messages", "messages"),
        ),
        CreateCommand::new("digest").description(describe_command("digest")).add_option(
            string("schedule", "daily 08:00, weekly mon 08:00 (local time), or off; leave out to see it")
                .max_length(30),
        ),
    ]
}

/// The rest, in registration order: muting, news, the calendar link, the
/// settings panel, scheduled events, start and help.
fn other_definitions() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("mute").description(describe_command("mute")).add_option(
            string("name", "The launch or event, or part of its name").required(true).min_length(1).max_length(100),
        ),
        CreateCommand::new("muted").description(describe_command("muted")),
        CreateCommand::new("news").description(describe_command("news")),
        CreateCommand::new("unmute")
            .description(describe_command("unmute"))
            .add_option(string("which", "The number from /muted, or all").required(true).max_length(10)),
        CreateCommand::new("calendar").description(describe_command("calendar")).add_option(
            CreateCommandOption::new(CommandOptionType::Boolean, "reset", "Make a new link; the old one stops working")
                .required(false),
        ),
        CreateCommand::new("settings").description(describe_command("settings")),
        CreateCommand::new("events")
            .description(EVENTS_DESCRIPTION)
            .default_member_permissions(Permissions::MANAGE_EVENTS)
            .add_option(
                string("state", "on or off; leave out to see whether events are on")
                    .add_string_choice("on", "on")
                    .add_string_choice("off", "off"),
            ),
        CreateCommand::new("start").description(describe_command("start")),
        CreateCommand::new("help").description(describe_command("help")),
    ]
}

/// `/alerts`: up to five kinds, each picked from the list; none shows the
/// current ones.
fn alerts_definition() -> CreateCommand {
    let mut c = CreateCommand::new("alerts").description(describe_command("alerts"));
    for (i, name) in ALERT_OPTIONS.iter().enumerate() {
        let what = if i == 0 { "An alert kind to hear, or all" } else { "Another alert kind to hear" };
        let mut o = CreateCommandOption::new(CommandOptionType::String, *name, what).required(false);
        for k in AlertKind::CHOOSABLE {
            o = o.add_string_choice(k.as_str(), k.as_str());
        }
        if i == 0 {
            o = o.add_string_choice("all", "all");
        }
        c = c.add_option(o);
    }
    c
}

fn describe_command(name: &str) -> &'static str {
    match name {
        "events" => EVENTS_DESCRIPTION,
        _ => COMMANDS.iter().find(|(n, ..)| *n == name).map(|(_, what, _)| *what).unwrap_or(""),
    }
}

fn command_name(c: &CreateCommand) -> String {
    serde_json::to_value(c).ok().and_then(|v| v["name"].as_str().map(str::to_owned)).unwrap_or_default()
}

/// The registration body: the JSON array Discord's bulk overwrite takes.
#[cfg(test)]
pub(crate) fn definitions_json() -> serde_json::Value {
    serde_json::to_value(definitions()).unwrap_or_else(|_| serde_json::json!([]))
}

/// The help text for Discord, with option syntax in the examples.
pub(crate) fn help_text() -> String {
    let mut out = String::from("tminus tells this channel about launches, dockings, spacewalks and landings.\n\n");
    for (name, example) in EXAMPLES {
        out.push_str(&format!("/{name} — {}\n   e.g. {example}\n", describe_command(name)));
    }
    out.push_str(
        "\nNames work as LL2 spells them (SpaceX, NASA, Artemis) or as LL2 ids. \
         Changing subscriptions needs the Manage Channels permission.",
    );
    out
}
