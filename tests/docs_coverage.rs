//! The documentation covers the contract: every key `check-config` prints
//! is shown in the shipped `config.toml`, every destination kind is named
//! in `config.toml` and the README, and every chat command and alias is in
//! the README's command list.

use std::path::Path;

use tminus::commands::{COMMANDS, parse};
use tminus::config::Config;

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// A config with one watch, so the watch keys are printed too.
const WITH_WATCH: &str = "[[watch]]\nname = \"w\"\nto = [\"console\"]\n";

#[test]
fn every_config_key_is_shown_in_config_toml() {
    let config = Config::from_toml_str(WITH_WATCH, &|_: &str| None).unwrap();
    let effective = config.render_effective();
    let shipped = read("config.toml");
    let shown = |key: &str| {
        shipped.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let keys: Vec<&str> = effective
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty())
        .collect();
    assert!(keys.contains(&"schedule_horizon") && keys.contains(&"events_window"), "{effective}");
    let missing: Vec<&&str> = keys.iter().filter(|k| !shown(k)).collect();
    assert!(missing.is_empty(), "config.toml shows no example of {missing:?}");
    for key in ["mentions", "quiet_hours", "silent", "guild_id", "public_key", "public_url"] {
        assert!(shown(key), "config.toml shows no example of {key}");
    }
}

#[test]
fn every_destination_kind_is_documented() {
    let (shipped, readme) = (read("config.toml"), read("README.md"));
    for dest in [
        "console",
        "telegram:CHAT_ID",
        "THREAD_ID",
        "telegram:@",
        "discord:",
        "discord-webhook:",
        "calendar:",
        "discord-events:",
    ] {
        assert!(shipped.contains(dest), "config.toml names no {dest} destination");
        assert!(readme.contains(dest), "the README names no {dest} destination");
    }
}

#[test]
fn every_command_and_alias_is_in_the_readme() {
    let readme = read("README.md");
    for (name, _, _) in COMMANDS {
        assert!(readme.contains(&format!("`/{name}")), "the README's command list lacks /{name}");
    }
    assert!(readme.contains("`/events"), "the README lacks Discord's /events");
    for (alias, command) in [("sub", "subscribe"), ("unsub", "unsubscribe"), ("tz", "timezone"), ("ical", "calendar")] {
        assert_eq!(parse(alias, "").is_ok(), parse(command, "").is_ok(), "/{alias} is an alias");
        assert!(readme.contains(&format!("`/{alias}` = `/{command}`")), "the README lacks the alias /{alias}");
    }
}
