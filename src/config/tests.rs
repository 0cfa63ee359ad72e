//! Unit tests of the config contract: defaults, parsing, the wording of
//! every error (key path, value, "did you mean") and the check-config output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::diagnostics::suggest;
use super::*;
use crate::types::{AlertKind, Feed, ItemKind, Mention, Style};

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, &no_env)
}

/// The error line for `text`, which must be invalid.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("config should be rejected:\n{text}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "error must be one line: {line:?}");
            line
        }
    }
}

fn assert_err(text: &str, expected: &[&str]) {
    let line = err(text);
    for part in expected {
        assert!(line.contains(part), "error {line:?} should contain {part:?}");
    }
}

const WATCH: &str = "[[watch]]\nname = \"w\"\nto = [\"console\"]\n";

#[test]
fn empty_text_is_the_default_config() {
    let c = parse("").unwrap();
    assert_eq!(c, Config::default_config());
    assert_eq!(c.ll2.base_url, "https://ll.thespacedevs.com/2.3.0");
    assert!(c.ll2.api_key.is_empty());
    assert_eq!(c.ll2.requests_per_hour, 15);
    assert_eq!(c.ll2.feeds, vec![Feed::Events, Feed::Launches]);
    assert_eq!(c.ll2.resweep_interval, Duration::from_secs(6 * 3600));
    assert_eq!(c.ll2.timeout, Duration::from_secs(30));
    assert_eq!(c.ll2.max_body_bytes, 20_000_000);
    assert_eq!(c.store.path, PathBuf::from("data"));
    assert!(!c.alerts.on_first_sync);
    assert_eq!(c.alerts.reminders, [86_400, 3600, 600].map(Duration::from_secs).to_vec());
    assert_eq!(c.alerts.timezone, Tz::UTC);
    assert_eq!(c.alerts.reminder_grace, Duration::from_secs(900));
    assert!(c.telegram.token.is_empty());
    assert_eq!(c.telegram.api_url, "https://api.telegram.org");
    assert!(!c.telegram.paid_broadcast, "paid broadcast is off by default");
    assert!(!c.discord.is_enabled());
    assert_eq!(c.discord.api_url, "https://discord.com");
    assert_eq!(c.discord.guild_id, None);
    assert_eq!(c.discord.public_key, None);
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.server.listen, None);
    assert!(c.watches.is_empty());
}

#[test]
fn missing_file_is_defaults_or_error_and_directory_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let c = Config::load_with_env(&missing, IfMissing::Defaults, &no_env).unwrap();
    assert_eq!(c, Config::default_config());
    match Config::load_with_env(&missing, IfMissing::Error, &no_env) {
        Err(ConfigError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io error, got {other:?}"),
    }
    match Config::load_with_env(dir.path(), IfMissing::Defaults, &no_env) {
        Err(ConfigError::Io { path, .. }) => assert_eq!(path, dir.path()),
        other => panic!("expected Io error, got {other:?}"),
    }
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[ll2]\nrequests_per_hour = 200\n").unwrap();
    assert_eq!(Config::load_with_env(&path, IfMissing::Defaults, &no_env).unwrap().ll2.requests_per_hour, 200);
}

#[test]
fn repo_config_toml_loads_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    assert_eq!(Config::load_with_env(&path, IfMissing::Defaults, &no_env).unwrap(), Config::default_config());
}

#[test]
fn env_overrides_secrets_when_non_empty() {
    let text = "[ll2]\napi_key = \"file-key\"\n[telegram]\ntoken = \"file-tg\"\n[discord]\ntoken = \"file-dc\"\n";
    let env = |name: &str| match name {
        ENV_LL2_API_KEY => Some("env-key".to_owned()),
        ENV_TELEGRAM_TOKEN => Some(" env-tg\n".to_owned()),
        ENV_DISCORD_TOKEN => Some(String::new()),
        _ => None,
    };
    let c = Config::from_toml_str(text, &env).unwrap();
    assert_eq!(c.ll2.api_key.expose(), "env-key");
    assert_eq!(c.telegram.token.expose(), "env-tg");
    assert_eq!(c.discord.token.expose(), "file-dc", "empty env must not override");

    let c = parse(text).unwrap();
    assert_eq!(c.ll2.api_key.expose(), "file-key");
    assert!(!c.telegram.token.is_empty());
}

#[test]
fn bad_secret_from_env_names_the_variable_not_the_value() {
    let env = |name: &str| (name == ENV_TELEGRAM_TOKEN).then(|| "abc def".to_owned());
    let line = Config::from_toml_str("", &env).unwrap_err().to_string();
    assert!(line.contains("env TMINUS_TELEGRAM_TOKEN"), "{line}");
    assert!(!line.contains("abc"), "{line}");
}

#[test]
fn full_config_parses() {
    let text = r#"
[ll2]
base_url = "http://localhost:8080/2.3.0/"
requests_per_hour = 210
feeds = ["launches", "launches"]
resweep_interval = "1h30m"
timeout = "10s"
max_body_bytes = 1000

[store]
path = "/data"

[alerts]
on_first_sync = true
reminders = ["10m", "1h", "10m", "2d"]
timezone = "europe/berlin"
reminder_grace = "5m"

[telegram]
api_url = "http://127.0.0.1:9000/"
token = "1:T"
paid_broadcast = true

[discord]
token = "D"
guild_id = "112233445566778899"
public_key = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

[log]
format = "json"

[server]
listen = "0.0.0.0:8080"

[[watch]]
name = " spacex "
to = ["console", "telegram:-1001234567890", "discord:1", "console"]
kinds = ["launch"]
agencies = ["SpaceX", 121, " spacex "]
exclude_programs = ["Starlink"]
alerts = ["new", "reminder"]

[[watch]]
name = "nasa"
to = ["discord-webhook:https://discord.com/api/webhooks/1/SECRET"]
kinds = []
timezone = "America/New_York"
reminders = "off"
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.ll2.base_url, "http://localhost:8080/2.3.0");
    assert_eq!(c.ll2.requests_per_hour, 210);
    assert_eq!(c.ll2.feeds, vec![Feed::Launches]);
    assert_eq!(c.ll2.resweep_interval, Duration::from_secs(5400));
    assert_eq!(c.ll2.max_body_bytes, 1000);
    assert_eq!(c.store.path, PathBuf::from("/data"));
    assert!(c.alerts.on_first_sync);
    assert_eq!(c.alerts.reminders, [172_800, 3600, 600].map(Duration::from_secs).to_vec());
    assert_eq!(c.alerts.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(c.telegram.api_url, "http://127.0.0.1:9000");
    assert!(c.telegram.paid_broadcast);
    assert_eq!(c.discord.guild_id, Some(112_233_445_566_778_899));
    assert_eq!(c.discord.public_key.as_deref(), Some(&"abcdef0123456789".repeat(4)[..]));
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.server.listen, Some("0.0.0.0:8080".parse().unwrap()));

    let w = &c.watches[0];
    assert_eq!(w.name, "spacex");
    assert_eq!(w.to.len(), 3);
    assert_eq!(w.kinds, vec![ItemKind::Launch]);
    assert_eq!(w.agencies, vec!["SpaceX".to_owned(), "121".to_owned()]);
    assert_eq!(w.exclude_programs, vec!["Starlink".to_owned()]);
    assert!(w.types.is_empty());
    assert_eq!(w.alerts, vec![AlertKind::New, AlertKind::Reminder]);
    assert_eq!(w.timezone, chrono_tz::Europe::Berlin, "inherits [alerts].timezone");
    assert_eq!(w.reminders, c.alerts.reminders, "inherits [alerts].reminders");

    let w = &c.watches[1];
    assert_eq!(w.kinds, vec![ItemKind::Event, ItemKind::Launch]);
    assert_eq!(w.alerts, AlertKind::ALL.to_vec());
    assert_eq!(w.timezone, chrono_tz::America::New_York);
    assert!(w.reminders.is_empty());
}

#[test]
fn reminder_forms() {
    assert!(parse("[alerts]\nreminders = []").unwrap().alerts.reminders.is_empty());
    assert!(parse("[alerts]\nreminders = \"OFF\"").unwrap().alerts.reminders.is_empty());
    assert_eq!(
        parse("[alerts]\nreminders = \"1h 24h, 1h\"").unwrap().alerts.reminders,
        vec![Duration::from_secs(86_400), Duration::from_secs(3600)]
    );
}

#[test]
fn schedule_horizon_defaults_to_a_week_and_watches_inherit_it() {
    let week = Some(Duration::from_secs(7 * 86_400));
    assert_eq!(parse("").unwrap().alerts.schedule_horizon, week);
    let c = parse(&format!("[alerts]\nschedule_horizon = \"off\"\n{WATCH}")).unwrap();
    assert_eq!((c.alerts.schedule_horizon, c.watches[0].schedule_horizon), (None, None));
    let c = parse(&format!("{WATCH}schedule_horizon = \"5d\"\n")).unwrap();
    assert_eq!(c.watches[0].schedule_horizon, Some(Duration::from_secs(5 * 86_400)));
    assert_eq!(parse(WATCH).unwrap().watches[0].schedule_horizon, week);
    assert_err("[alerts]\nschedule_horizon = \"3 parsecs\"", &["alerts.schedule_horizon"]);
    assert_err("[alerts]\nschedule_horizon = 7", &["alerts.schedule_horizon", "\"off\""]);
    assert_err(&format!("{WATCH}schedule_horizon = \"0s\"\n"), &["schedule_horizon"]);
}

#[test]
fn unknown_keys_are_named() {
    assert_err(
        "[ll2]\nrequest_per_hour = 5",
        &["invalid config: ll2.request_per_hour: unknown key", "requests_per_hour"],
    );
    assert_err("[telegarm]\ntoken = \"x\"", &["invalid config: telegarm: unknown key", "telegram"]);
    assert_err("color = true", &["color: unknown key", "ll2"]);
    assert_err(&format!("{WATCH}agency = [\"SpaceX\"]"), &["watch[0].agency: unknown key", "agencies"]);
    assert_err(
        &format!("{WATCH}{WATCH}name2 = 1").replacen("name = \"w\"", "name = \"v\"", 1),
        &["watch[1].name2: unknown key"],
    );
}

#[test]
fn type_errors_are_named() {
    assert_err(
        "[ll2]\nrequests_per_hour = \"ten\"",
        &["invalid config: ll2.requests_per_hour:", "\"ten\"", "expected an integer"],
    );
    assert_err("[alerts]\non_first_sync = \"yes\"", &["alerts.on_first_sync:", "\"yes\""]);
    assert_err("ll2 = 5", &["invalid config: ll2:", "expected a table"]);
    assert_err("[ll2]\nfeeds = \"events\"", &["ll2.feeds:", "expected a list"]);
    assert_err("[ll2]\ntimeout = 30", &["ll2.timeout:", "got 30"]);
    assert_err(&format!("{WATCH}timezone = 1"), &["watch[0].timezone:"]);
    assert_err("[watch]\nname = \"w\"", &["watch: must be an array of tables", "[[watch]]"]);
    assert_err("watch = [1]", &["watch[0]: expected a table"]);
}

#[test]
fn type_errors_read_expected_then_got() {
    assert_err(
        "[ll2]\nrequests_per_hour = \"ten\"",
        &["ll2.requests_per_hour: expected an integer, got string \"ten\""],
    );
    assert_err("[store]\npath = 5", &["store.path: expected a string, got integer `5`"]);
    assert_err("[ll2]\nfeeds = {a = 1}", &["ll2.feeds: expected a list, got a table"]);
    assert_err("watch = [1]", &["watch[0]: expected a table, got integer `1`"]);
}

#[test]
fn unknown_keys_without_a_close_match_list_the_known_ones() {
    assert_err("[log]\nlevel = \"debug\"", &["log.level: unknown key (expected one of: format)"]);
    assert_err("[[watch]]\nname = \"w\"\nto = [\"console\"]\ntimezon = \"UTC\"", &["did you mean `timezone`?"]);
}

#[test]
fn unknown_timezones_suggest_close_names() {
    assert_err("[alerts]\ntimezone = \"berlin\"", &["alerts.timezone", "\"berlin\"", "did you mean Europe/Berlin?"]);
    assert_err(&format!("{WATCH}timezone = \"Mars/Olympus\""), &["watch[0].timezone", "such as \"Europe/Berlin\""]);
}

#[test]
fn syntax_errors_name_the_table_even_when_nested_or_far_below() {
    assert_err("[ll2]\nfeeds = [\"events\"]\n\n# comment\ntimeout = 5s\n", &["ll2.timeout", "line 5"]);
    assert_err("[a.b]\nx = 1\ny = \n", &["a.b.y", "line 3"]);
    assert_err("[[watch]]\nname = \"a\"\n[alerts]\n[[watch]]\nto = [,]\n", &["watch[1].to", "line 5"]);
    // A broken header is named by its line: the table it opens is unknown.
    assert_err("[ll2]\nrequests_per_hour = 1\n[alerts\n", &["invalid config: line 3:", "line 3, column"]);
    // The text above does not parse (an open multi-line string): position only.
    assert_err("[ll2]\nbase_url = \"\"\"\nx\n", &["invalid config: line 4: TOML syntax error at line 4"]);
}

#[test]
fn secret_type_errors_hide_the_value() {
    let line = err("[telegram]\ntoken = 123456789");
    assert!(line.contains("telegram.token"), "{line}");
    assert!(!line.contains("123456789"), "{line}");
    let line = err("[ll2]\napi_key = \"bad key\"");
    assert!(line.contains("ll2.api_key") && !line.contains("bad key"), "{line}");
}

#[test]
fn syntax_errors_are_one_line_with_key_and_position() {
    assert_err("[ll2]\nrequests_per_hour = 15\nbase_url = \"https://x\n", &["ll2.base_url", "line 3"]);
    assert_err("[alerts]\ntimezone = Europe/Berlin\n", &["alerts.timezone", "line 2, column"]);
    assert_err("[ll2\n", &["line 1"]);
    assert_err("[[watch]]\nname = \"a\"\n[[watch]]\nname = = \"b\"\n", &["watch[1].name", "line 4"]);
    assert_err("[telegram]\ntoken = \"a\"\ntoken = \"b\"\n", &["telegram.token", "duplicate key"]);
    let line = err("[telegram]\ntoken = \"SECRETTOKEN\n");
    assert!(!line.contains("SECRETTOKEN"), "{line}");
}

#[test]
fn ll2_values_are_validated() {
    assert_err("[ll2]\nrequests_per_hour = 0", &["invalid config: ll2.requests_per_hour: must be at least 1, got 0"]);
    assert_err("[ll2]\nrequests_per_hour = 5000000000", &["ll2.requests_per_hour", "5000000000"]);
    assert_err("[ll2]\nfeeds = [\"events\", \"rockets\"]", &["ll2.feeds[1]", "\"rockets\""]);
    assert_err("[ll2]\nfeeds = [\"events\", 3]", &["ll2.feeds[1]", "got 3"]);
    assert_err("[ll2]\nfeeds = []", &["ll2.feeds", "at least one"]);
    assert_err("[ll2]\nbase_url = \"ftp://example.com\"", &["ll2.base_url", "ftp://example.com"]);
    assert_err("[ll2]\nbase_url = \"not a url\"", &["ll2.base_url", "not a url"]);
    assert_err("[ll2]\nbase_url = \"https://x.org/?a=1\"", &["ll2.base_url", "query"]);
    let line = err("[ll2]\nbase_url = \"https://user:hunter2@x.org\"");
    assert!(line.contains("ll2.base_url") && !line.contains("hunter2"), "{line}");
    assert_err("[ll2]\ntimeout = \"0s\"", &["ll2.timeout", "\"0s\""]);
    assert_err("[ll2]\nresweep_interval = \"6 hours\"", &["ll2.resweep_interval", "\"6 hours\""]);
    assert_err("[ll2]\nmax_body_bytes = 0", &["ll2.max_body_bytes", "got 0"]);
    assert_err("[telegram]\napi_url = \"api.telegram.org\"", &["telegram.api_url", "api.telegram.org"]);
}

#[test]
fn alerts_values_are_validated() {
    assert_err("[alerts]\nreminders = [\"24h\", \"5y\"]", &["invalid config: alerts.reminders[1]:", "\"5y\""]);
    assert_err("[alerts]\nreminders = [\"24h\", \"0m\"]", &["alerts.reminders[1]", "\"0m\""]);
    assert_err("[alerts]\nreminders = [\"24h\", 10]", &["alerts.reminders[1]", "got 10"]);
    assert_err("[alerts]\nreminders = \"soon\"", &["alerts.reminders", "\"soon\""]);
    assert_err("[alerts]\nreminders = 5", &["alerts.reminders", "got 5"]);
    assert_err(
        "[alerts]\ntimezone = \"Mars/Olympus\"",
        &["invalid config: alerts.timezone:", "\"Mars/Olympus\"", "Europe/Berlin"],
    );
    assert_err("[alerts]\nreminder_grace = \"0s\"", &["alerts.reminder_grace"]);
}

#[test]
fn other_sections_are_validated() {
    assert_err("[store]\npath = \"\"", &["store.path"]);
    assert_err("[log]\nformat = \"xml\"", &["log.format", "\"xml\""]);
    assert_err("[server]\nlisten = \"localhost\"", &["server.listen", "\"localhost\""]);
    assert_err("[discord]\npublic_key = \"abc\"", &["discord.public_key", "\"abc\""]);
    assert_err("[discord]\nguild_id = -4", &["discord.guild_id", "-4"]);
    assert_err("[discord]\nguild_id = \"x\"", &["discord.guild_id", "\"x\""]);
    assert_eq!(parse("[discord]\nguild_id = 42").unwrap().discord.guild_id, Some(42));
    assert_eq!(parse("[server]\nlisten = \"\"").unwrap().server.listen, None);
}

#[test]
fn watches_are_validated() {
    assert_err("[[watch]]\nto = [\"console\"]", &["watch[0].name", "missing"]);
    assert_err("[[watch]]\nname = \" \"\nto = [\"console\"]", &["watch[0].name", "empty"]);
    assert_err("[[watch]]\nname = \"a\"", &["watch[0].to", "missing"]);
    assert_err("[[watch]]\nname = \"a\"\nto = []", &["watch[0].to", "at least one"]);
    assert_err(&format!("{WATCH}{WATCH}"), &["watch[1].name", "duplicate", "\"w\"", "watch[0]"]);
    assert_err(
        "[[watch]]\nname = \"a\"\nto = [\"console\", \"telegram:1\", \"matrix:5\"]",
        &["invalid config: watch[0].to[2]:", "\"matrix:5\""],
    );
    assert_err("[[watch]]\nname = \"a\"\nto = [7]", &["watch[0].to[0]", "got 7"]);
    assert_err(&format!("{WATCH}timezone = \"Berlin\""), &["invalid config: watch[0].timezone:", "\"Berlin\""]);
    assert_err(&format!("{WATCH}kinds = [\"rocket\"]"), &["watch[0].kinds[0]", "\"rocket\""]);
    assert_err(&format!("{WATCH}alerts = [\"new\", \"boom\"]"), &["watch[0].alerts[1]", "\"boom\""]);
    assert_err(&format!("{WATCH}alerts = []"), &["watch[0].alerts", "at least one"]);
    assert_err(&format!("{WATCH}agencies = [\"SpaceX\", \"  \"]"), &["watch[0].agencies[1]", "empty"]);
    assert_err(&format!("{WATCH}programs = [true]"), &["watch[0].programs[0]", "got true"]);
    assert_err(&format!("{WATCH}types = [-1]"), &["watch[0].types[0]", "-1"]);
    assert_err(&format!("{WATCH}exclude_types = [1.5]"), &["watch[0].exclude_types[0]", "1.5"]);
    assert_err(&format!("{WATCH}reminders = [\"1h\", \"0s\"]"), &["watch[0].reminders[1]", "\"0s\""]);
}

#[test]
fn webhook_urls_never_appear_in_errors() {
    let line = err("[[watch]]\nname = \"a\"\nto = [\"discord-webhook:ftp://h/SECRETHOOK\"]");
    assert!(line.contains("watch[0].to[0]"), "{line}");
    assert!(!line.contains("SECRETHOOK"), "{line}");
}

#[test]
fn render_masks_secrets() {
    let text = "[ll2]\napi_key = \"LL2SECRET\"\n[telegram]\ntoken = \"TGSECRET\"\n[[watch]]\nname = \"a\"\nto = [\"discord-webhook:https://discord.com/api/webhooks/1/HOOKSECRET\"]\n";
    let out = parse(text).unwrap().render_effective();
    for secret in ["LL2SECRET", "TGSECRET", "HOOKSECRET"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(out.contains("api_key = \"***\""), "{out}");
    assert!(out.contains("[telegram]\ntoken = \"***\""), "{out}");
    assert!(out.contains("[discord]\ntoken = \"\""), "{out}");
    assert!(out.contains("discord-webhook:***"), "{out}");
}

#[test]
fn render_round_trips_without_secrets() {
    let text = r#"
[ll2]
feeds = ["launches"]
timeout = "90s"
[alerts]
reminders = "off"
timezone = "Asia/Tokyo"
[discord]
guild_id = 7
public_key = "00000000000000000000000000000000000000000000000000000000000000ff"
[server]
listen = "[::1]:9000"
[[watch]]
name = "a \"quoted\" name"
to = ["console", "telegram:-5"]
agencies = [121, "SpaceX"]
reminders = ["1h"]
"#;
    // The token is masked in the rendering, so it comes from the
    // environment both times.
    let env = |name: &str| (name == ENV_TELEGRAM_TOKEN).then(|| "1:T".to_owned());
    let c = Config::from_toml_str(text, &env).unwrap();
    let rendered = c.render_effective();
    assert_eq!(Config::from_toml_str(&rendered, &env).unwrap(), c, "rendered:\n{rendered}");
    let d = Config::default_config();
    assert_eq!(parse(&d.render_effective()).unwrap(), d);
}

#[test]
fn destination_without_its_platform_token_is_an_error() {
    let line = err("[[watch]]\nname = \"news\"\nto = [\"console\", \"telegram:-100\"]");
    for part in ["watch[0].to[1]", "\"news\"", "telegram.token", ENV_TELEGRAM_TOKEN] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    let line = err(
        "[telegram]\ntoken = \"1:T\"\n[[watch]]\nname = \"a\"\nto = [\"telegram:1\"]\n[[watch]]\nname = \"b\"\nto = [\"discord:5\"]",
    );
    for part in ["watch[1].to[0]", "\"b\"", "discord.token", ENV_DISCORD_TOKEN] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    // A token from the environment counts; webhooks and the console need none.
    let env = |name: &str| (name == ENV_DISCORD_TOKEN).then(|| "D".to_owned());
    let text =
        "[[watch]]\nname = \"b\"\nto = [\"discord:5\", \"console\", \"discord-webhook:https://h/api/webhooks/1/X\"]";
    assert!(Config::from_toml_str(text, &env).is_ok());
}

#[test]
fn suggestions_catch_typos_only() {
    assert_eq!(suggest("request_per_hour", &["base_url", "requests_per_hour"]), Some("requests_per_hour"));
    assert_eq!(suggest("colour", &["base_url", "requests_per_hour"]), None);
}

#[test]
fn calendar_keys_and_destinations() {
    let c = parse("[discord]\ntoken = \"t\"\nevents_window = \"7d\"\n[server]\npublic_url = \"https://bot.example.org/\"\n[[watch]]\nname = \"cal\"\nto = [\"calendar:spacex\", \"discord-events:42\"]").unwrap();
    assert_eq!(c.discord.events_window, Duration::from_secs(7 * 86_400));
    assert_eq!(c.server.public_url.as_deref(), Some("https://bot.example.org"));
    assert_eq!(parse("").unwrap().discord.events_window, DEFAULT_EVENTS_WINDOW);
    assert_err(
        "[[watch]]\nname = \"guild\"\nto = [\"console\", \"discord-events:42\"]",
        &["watch[0].to[1]", "\"guild\"", "discord.token"],
    );
    assert_err("[[watch]]\nname = \"c\"\nto = [\"calendar:a/b\"]", &["watch[0].to[0]", "calendar"]);
    assert_err("[discord]\nevents_window = \"0s\"", &["discord.events_window"]);
    assert_err("[server]\npublic_url = \"ftp://x\"", &["server.public_url"]);
}

#[test]
fn store_retention_has_a_default_and_a_floor() {
    assert_eq!(parse("").unwrap().store.retention, DEFAULT_RETENTION);
    assert_eq!(parse("[store]\nretention = \"90d\"").unwrap().store.retention, Duration::from_secs(90 * 86_400));
    let line = err("[store]\nretention = \"1d\"");
    assert!(line.contains("store.retention") && line.contains("at least 7d"), "{line}");
    assert!(err("[store]\nretention = 30").contains("store.retention"));
}

#[test]
fn watch_mentions_are_validated_and_name_their_watch() {
    let ok = parse(&format!("{WATCH}mentions = [\"<@&123>\", \"<@456>\", \"<@&123>\"]")).unwrap();
    assert_eq!(ok.watches[0].mentions, [Mention::Role(123), Mention::User(456)]);
    assert_err(
        &format!("{WATCH}mentions = [\"<@&123>\", \"@everyone\"]"),
        &["watch[0].mentions[1]", "watch \"w\"", "\"@everyone\"", "<@&ROLE_ID>"],
    );
    assert_err(&format!("{WATCH}mentions = [42]"), &["watch[0].mentions[0]", "watch \"w\"", "got 42"]);
}

#[test]
fn watch_quiet_hours_and_silent_kinds_are_validated() {
    let ok = parse(&format!("{WATCH}quiet_hours = \"23:00-07:00\"\nsilent = [\"schedule\", \"new\", \"schedule\"]\n"))
        .unwrap();
    assert_eq!(ok.watches[0].quiet_hours.map(|q| q.to_string()).as_deref(), Some("23:00-07:00"));
    assert_eq!(ok.watches[0].silent, [AlertKind::Schedule, AlertKind::New]);
    let plain = parse(WATCH).unwrap();
    assert_eq!((plain.watches[0].quiet_hours, plain.watches[0].silent.len()), (None, 0));
    assert_err(&format!("{WATCH}quiet_hours = \"23:00-7\"\n"), &["watch[0].quiet_hours", "HH:MM-HH:MM", "23:00-07:00"]);
    assert_err(&format!("{WATCH}quiet_hours = \"25:00-07:00\"\n"), &["watch[0].quiet_hours", "\"25:00\""]);
    assert_err(&format!("{WATCH}quiet_hours = 23\n"), &["watch[0].quiet_hours", "got 23"]);
    assert_err(&format!("{WATCH}silent = [\"launches\"]\n"), &["watch[0].silent[0]", "launches"]);
}

#[test]
fn watch_digest_is_validated() {
    let ok = parse(&format!("{WATCH}digest = \"weekly Monday 8:00\"\n")).unwrap();
    assert_eq!(ok.watches[0].digest.map(|d| d.to_string()).as_deref(), Some("weekly mon 08:00"));
    assert_eq!(parse(WATCH).unwrap().watches[0].digest, None);
    assert_err(&format!("{WATCH}digest = \"weekly funday 8\"\n"), &["watch[0].digest", "\"funday\"", "mon, tue"]);
    assert_err(&format!("{WATCH}digest = \"daily 8\"\n"), &["watch[0].digest", "\"8\" is not a time of day"]);
    assert_err(&format!("{WATCH}digest = 8\n"), &["watch[0].digest", "got 8"]);
}

#[test]
fn hook_destinations_are_validated_strictly() {
    let watch = |to: &str| format!("[[watch]]\nname = \"h\"\nto = [\"console\", \"{to}\"]\n");
    assert_err(&watch("webhook:http://hooks.example.com/SECRET"), &["watch[0].to[1]", "must be https", "loopback"]);
    assert_err(&watch("slack:not a url SECRET"), &["watch[0].to[1]", "slack:***", "not a URL"]);
    assert_err(&watch("ntfy:https://ntfy.sh/"), &["watch[0].to[1]", "topic"]);
    for to in ["webhook:http://hooks.example.com/SECRET", "slack:not a url SECRET"] {
        assert!(!err(&watch(to)).contains("SECRET"));
    }
    let ok = parse(&watch("webhook:http://127.0.0.1:8123/api/webhook/tminus")).unwrap();
    assert_eq!(ok.watches[0].to[1].platform().as_str(), "webhook");
}

#[test]
fn hook_secrets_come_from_the_file_or_the_environment_and_are_masked() {
    let text = format!(
        "[webhook]\nsecret = \"FILESECRET\"\n[ntfy]\ntoken = \"tk_FILETOKEN\"\n{WATCH}to = [\"webhook:https://h.example/HOOKSECRET\", \"ntfy:https://ntfy.sh/TOPICSECRET\", \"slack:https://hooks.slack.com/services/SLACKSECRET\"]\n"
    )
    .replace("to = [\"console\"]\n", "");
    let config = parse(&text).unwrap();
    assert_eq!(config.webhook.secret.expose(), "FILESECRET");
    assert_eq!(config.ntfy.token.expose(), "tk_FILETOKEN");
    let env = |name: &str| match name {
        ENV_WEBHOOK_SECRET => Some("ENVSECRET".to_owned()),
        ENV_NTFY_TOKEN => Some("tk_ENVTOKEN".to_owned()),
        _ => None,
    };
    let from_env = Config::from_toml_str(&text, &env).unwrap();
    assert_eq!((from_env.webhook.secret.expose(), from_env.ntfy.token.expose()), ("ENVSECRET", "tk_ENVTOKEN"));
    let out = config.render_effective();
    for secret in ["FILESECRET", "FILETOKEN", "HOOKSECRET", "TOPICSECRET", "SLACKSECRET"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(out.contains("[webhook]\nsecret = \"***\"") && out.contains("[ntfy]\ntoken = \"***\""), "{out}");
    assert!(
        out.contains("\"webhook:*** (h.example)\", \"ntfy:*** (ntfy.sh)\", \"slack:*** (hooks.slack.com)\""),
        "{out}"
    );
    assert_err("[ntfy]\ntokn = \"x\"", &["ntfy", "token"]);
}

#[test]
fn news_is_opt_in_and_configured_in_its_own_section() {
    let c = parse(WATCH).unwrap();
    assert!(!c.watches[0].alerts.contains(&AlertKind::News), "news is in no default list");
    assert_eq!(c.news.base_url, "https://api.spaceflightnewsapi.net/v4");
    assert_eq!((c.news.requests_per_hour, c.news.enabled), (12, None));
    let c = parse(&format!(
        "{WATCH}alerts = [\"status\", \"news\"]\n[news]\nbase_url = \"http://127.0.0.1:9/v4/\"\nrequests_per_hour = 6\nenabled = false\n"
    ))
    .unwrap();
    assert_eq!(c.watches[0].alerts, vec![AlertKind::Status, AlertKind::News]);
    assert_eq!(
        (c.news.base_url.as_str(), c.news.requests_per_hour, c.news.enabled),
        ("http://127.0.0.1:9/v4", 6, Some(false))
    );
    assert_eq!(parse(&c.render_effective()).unwrap(), c, "check-config output loads back");
    assert_err("[news]\nrequests_per_hour = 0", &["news.requests_per_hour", "at least 1"]);
    assert_err("[news]\nbase_url = \"ftp://x\"", &["news.base_url"]);
    assert_err("[news]\nenable = true", &["enable", "enabled"]);
}

#[test]
fn watch_style_is_card_or_messages() {
    assert_eq!(parse(WATCH).unwrap().watches[0].style, Style::Messages, "the default");
    assert_eq!(parse(&format!("{WATCH}style = \"card\"\n")).unwrap().watches[0].style, Style::Card);
    assert_eq!(parse(&format!("{WATCH}style = \"Messages\"\n")).unwrap().watches[0].style, Style::Messages);
    assert_err(&format!("{WATCH}style = \"cards\"\n"), &["watch[0].style", "\"cards\"", "\"card\" or \"messages\""]);
    assert_err(&format!("{WATCH}style = 1\n"), &["watch[0].style", "got 1"]);
}
