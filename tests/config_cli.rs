//! The binary's config and usage contract, end to end: `tminus check-config`
//! prints the effective config (secrets masked) and exits 0; a bad config or
//! bad usage prints one line `tminus: ...` naming the key and value to stderr
//! and exits 2; `--help` prints to stdout and exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the real binary in `cwd` with a clean tminus environment plus `env`.
fn tminus(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tminus"));
    cmd.args(args).current_dir(cwd);
    // The developer's own tokens must not leak into (or change) the results.
    for var in ["TMINUS_LL2_API_KEY", "TMINUS_TELEGRAM_TOKEN", "TMINUS_DISCORD_TOKEN"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn tminus");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary directory holding `config.toml` with `text`.
fn config_file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn check_config(text: &str, env: &[(&str, &str)]) -> Output {
    let (dir, path) = config_file(text);
    tminus(&["--config", path.to_str().unwrap(), "check-config"], env, dir.path())
}

/// Asserts exit code 2 and a single stderr line `tminus: ...` containing
/// every part of `expected`.
fn assert_rejected(out: &Output, expected: &[&str]) {
    assert_eq!(out.code, Some(2), "exit code; stdout: {}\nstderr: {}", out.stdout, out.stderr);
    let err = out.stderr.trim_end();
    assert!(err.starts_with("tminus: "), "stderr should start with `tminus: `: {err:?}");
    assert_eq!(err.lines().count(), 1, "stderr should be one line: {err:?}");
    for part in expected {
        assert!(err.contains(part), "stderr {err:?} should contain {part:?}");
    }
}

fn assert_bad_config(text: &str, expected: &[&str]) {
    assert_rejected(&check_config(text, &[]), expected);
}

const WATCH: &str = "[[watch]]\nname = \"w\"\nto = [\"console\"]\n";

#[test]
fn missing_explicit_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    for cmd in ["check-config", "once", "run"] {
        let out = tminus(&["--config", missing.to_str().unwrap(), cmd], &[], dir.path());
        assert_rejected(&out, &["nope.toml"]);
    }
    assert!(!dir.path().join("data").exists(), "no store was created");
}

#[test]
fn missing_default_config_file_means_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = tminus(&["check-config"], &[], dir.path());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for line in [
        "base_url = \"https://ll.thespacedevs.com/2.3.0\"",
        "requests_per_hour = 15",
        "feeds = [\"events\", \"launches\"]",
        "timezone = \"UTC\"",
        "api_url = \"https://api.telegram.org\"",
    ] {
        assert!(out.stdout.contains(line), "stdout should contain {line:?}:\n{}", out.stdout);
    }
}

#[test]
fn default_config_path_is_config_toml_in_the_working_directory() {
    let (dir, _path) = config_file("[ll2]\nrequests_per_hour = 42\n");
    let out = tminus(&["check-config"], &[], dir.path());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("requests_per_hour = 42"), "{}", out.stdout);
}

#[test]
fn shipped_config_toml_is_the_default_config() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let with_file = tminus(&["--config", shipped.to_str().unwrap(), "check-config"], &[], dir.path());
    let without = tminus(&["check-config"], &[], dir.path());
    assert_eq!(with_file.code, Some(0), "stderr: {}", with_file.stderr);
    assert_eq!(with_file.stdout, without.stdout);
}

#[test]
fn effective_config_reflects_the_file() {
    let out = check_config(
        "[alerts]\nreminders = [\"10m\", \"2h\"]\ntimezone = \"Europe/Berlin\"\n[[watch]]\nname = \"spacex\"\nto = [\"console\"]\nagencies = [\"SpaceX\", 121]\n",
        &[],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for line in [
        "reminders = [\"2h\", \"10m\"]",
        "timezone = \"Europe/Berlin\"",
        "name = \"spacex\"",
        "agencies = [\"SpaceX\", \"121\"]",
    ] {
        assert!(out.stdout.contains(line), "stdout should contain {line:?}:\n{}", out.stdout);
    }
}

#[test]
fn secrets_in_the_file_are_masked() {
    let out = check_config(
        "[ll2]\napi_key = \"LL2FILESECRET\"\n[telegram]\ntoken = \"123:TGFILESECRET\"\n[discord]\ntoken = \"DCFILESECRET\"\n\
         [webhook]\nsecret = \"SIGNFILESECRET\"\n[ntfy]\ntoken = \"NTFYFILESECRET\"\n\
         [[watch]]\nname = \"hook\"\nto = [\"discord-webhook:https://discord.com/api/webhooks/1/HOOKSECRET\", \
         \"webhook:https://hass.example.org/api/webhook/WHSECRET\", \"ntfy:https://ntfy.sh/TOPICSECRET\", \
         \"slack:https://hooks.slack.com/services/SLACKSECRET\"]\n",
        &[],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for secret in [
        "LL2FILESECRET",
        "TGFILESECRET",
        "DCFILESECRET",
        "HOOKSECRET",
        "SIGNFILESECRET",
        "NTFYFILESECRET",
        "WHSECRET",
        "TOPICSECRET",
        "SLACKSECRET",
    ] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{secret} leaked:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("api_key = \"***\""), "{}", out.stdout);
    assert!(out.stdout.contains("token = \"***\""), "{}", out.stdout);
    assert!(out.stdout.contains("discord-webhook:***"), "{}", out.stdout);
    assert!(out.stdout.contains("[webhook]\nsecret = \"***\"\n\n[ntfy]\ntoken = \"***\""), "{}", out.stdout);
    for masked in ["webhook:*** (hass.example.org)", "ntfy:*** (ntfy.sh)", "slack:*** (hooks.slack.com)"] {
        assert!(out.stdout.contains(masked), "{masked} in:\n{}", out.stdout);
    }
}

#[test]
fn secrets_from_the_environment_are_used_and_masked() {
    let env = [("TMINUS_TELEGRAM_TOKEN", "123:TGENVSECRET"), ("TMINUS_LL2_API_KEY", "LL2ENVSECRET")];
    let out = check_config("", &env);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for secret in ["TGENVSECRET", "LL2ENVSECRET"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{secret} leaked:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("api_key = \"***\""), "{}", out.stdout);
    assert!(out.stdout.contains("[telegram]\ntoken = \"***\""), "{}", out.stdout);
    // Without the variables the same file has no secrets.
    let out = check_config("", &[]);
    assert!(out.stdout.contains("api_key = \"\""), "{}", out.stdout);
}

#[test]
fn unknown_key() {
    assert_bad_config(
        "[ll2]\nrequest_per_hour = 5\n",
        &["ll2.request_per_hour", "unknown key", "did you mean `requests_per_hour`?"],
    );
    assert_bad_config(&format!("{WATCH}agency = [\"SpaceX\"]\n"), &["watch[0].agency", "unknown key"]);
}

#[test]
fn unknown_feed() {
    assert_bad_config("[ll2]\nfeeds = [\"events\", \"rockets\"]\n", &["ll2.feeds[1]", "rockets"]);
}

#[test]
fn zero_requests_per_hour() {
    assert_bad_config("[ll2]\nrequests_per_hour = 0\n", &["ll2.requests_per_hour", "got 0"]);
}

#[test]
fn wrong_type() {
    assert_bad_config("[ll2]\nrequests_per_hour = \"ten\"\n", &["ll2.requests_per_hour", "\"ten\""]);
}

#[test]
fn bad_duration_in_reminders() {
    assert_bad_config("[alerts]\nreminders = [\"24h\", \"soon\"]\n", &["alerts.reminders[1]", "\"soon\""]);
}

#[test]
fn bad_timezone() {
    assert_bad_config("[alerts]\ntimezone = \"Mars/Olympus\"\n", &["alerts.timezone", "Mars/Olympus"]);
    assert_bad_config(&format!("{WATCH}timezone = \"Berlin\"\n"), &["watch[0].timezone", "Berlin"]);
}

#[test]
fn malformed_destination() {
    assert_bad_config("[[watch]]\nname = \"w\"\nto = [\"console\", \"matrix:5\"]\n", &["watch[0].to[1]", "matrix:5"]);
}

#[test]
fn malformed_webhook_is_masked() {
    let out = check_config("[[watch]]\nname = \"w\"\nto = [\"discord-webhook:ftp://h/HOOKSECRET\"]\n", &[]);
    assert_rejected(&out, &["watch[0].to[0]"]);
    assert!(!out.stderr.contains("HOOKSECRET"), "{}", out.stderr);
}

#[test]
fn toml_syntax_error() {
    assert_bad_config("[alerts]\ntimezone = Europe/Berlin\n", &["alerts.timezone", "line 2"]);
}

#[test]
fn duplicate_watch_names() {
    assert_bad_config(&format!("{WATCH}{WATCH}"), &["watch[1].name", "\"w\""]);
}

#[test]
fn destination_without_token_names_watch_and_key() {
    let text = "[[watch]]\nname = \"news\"\nto = [\"console\", \"telegram:-1001\"]\n";
    assert_bad_config(text, &["watch[0].to[1]", "\"news\"", "telegram.token", "TMINUS_TELEGRAM_TOKEN"]);
    let out = check_config(text, &[("TMINUS_TELEGRAM_TOKEN", "1:T")]);
    assert_eq!(out.code, Some(0), "a token from the environment counts: {}", out.stderr);
    let text = "[[watch]]\nname = \"ops\"\nto = [\"discord:5\"]\n";
    assert_bad_config(text, &["watch[0].to[0]", "\"ops\"", "discord.token", "TMINUS_DISCORD_TOKEN"]);
}

#[test]
fn unreadable_config_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = tminus(&["--config", dir.path().to_str().unwrap(), "check-config"], &[], dir.path());
    assert_rejected(&out, &[dir.path().to_str().unwrap()]);
}

#[test]
fn help_and_version_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = tminus(&["--help"], &[], dir.path());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for part in ["--config", "run", "once", "check-config", "TMINUS_TELEGRAM_TOKEN", "Exit status", "2  bad config"] {
        assert!(out.stdout.contains(part), "help should mention {part}:\n{}", out.stdout);
    }
    let out = tminus(&["--version"], &[], dir.path());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{}", out.stdout);
}

#[test]
fn bad_usage_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    assert_rejected(&tminus(&["bogus"], &[], dir.path()), &["bogus", "--help"]);
    assert_rejected(&tminus(&["--verbose", "check-config"], &[], dir.path()), &["--verbose"]);
    assert_rejected(&tminus(&["check-config", "--config"], &[], dir.path()), &["missing value for --config"]);
    assert_rejected(&tminus(&["run", "once"], &[], dir.path()), &["\"once\"", "--help"]);
    assert_rejected(&tminus(&["-c", "a.toml", "--config=b.toml"], &[], dir.path()), &["more than once"]);
}

#[test]
fn quiet_hours_and_silent_kinds_are_checked_and_shown() {
    let out = check_config(&format!("{WATCH}quiet_hours = \"23:00-07:00\"\nsilent = [\"schedule\", \"new\"]\n"), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for line in ["quiet_hours = \"23:00-07:00\"", "silent = [\"schedule\", \"new\"]"] {
        assert!(out.stdout.contains(line), "stdout should contain {line:?}:\n{}", out.stdout);
    }
    assert_bad_config(&format!("{WATCH}quiet_hours = \"23:00-7\"\n"), &["watch[0].quiet_hours", "HH:MM-HH:MM"]);
    assert_bad_config(&format!("{WATCH}quiet_hours = \"25:00-07:00\"\n"), &["watch[0].quiet_hours", "25:00"]);
    assert_bad_config(&format!("{WATCH}silent = [\"launches\"]\n"), &["watch[0].silent[0]", "launches"]);
}

#[test]
fn the_shipped_quiet_hours_and_silent_examples_are_valid() {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let example = |key: &str| -> String {
        let line = shipped.lines().find_map(|l| l.strip_prefix("# ").filter(|l| l.starts_with(key)));
        format!("{}\n", line.unwrap_or_else(|| panic!("config.toml shows no {key} example")))
    };
    let out = check_config(&format!("{WATCH}{}{}", example("quiet_hours ="), example("silent =")), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("quiet_hours = \"23:00-07:00\"") && out.stdout.contains("silent = ["),
        "{}",
        out.stdout
    );
}

#[test]
fn digest_is_checked_and_shown_and_the_shipped_example_is_valid() {
    let out = check_config(&format!("{WATCH}digest = \"weekly Monday 8:00\"\n"), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("digest = \"weekly mon 08:00\""), "{}", out.stdout);
    assert_bad_config(&format!("{WATCH}digest = \"weekly funday 8\"\n"), &["watch[0].digest", "funday"]);
    assert_bad_config(&format!("{WATCH}digest = \"hourly\"\n"), &["watch[0].digest", "daily HH:MM"]);
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let example = shipped.lines().find_map(|l| l.strip_prefix("# ").filter(|l| l.starts_with("digest ="))).unwrap();
    let out = check_config(&format!("{WATCH}{example}\n"), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("digest = \"daily 08:00\""), "{}", out.stdout);
}

#[test]
fn hook_urls_are_refused_over_plain_http_to_another_host() {
    assert_bad_config(
        "[[watch]]\nname = \"h\"\nto = [\"webhook:http://hass.example.org/api/webhook/WHSECRET\"]\n",
        &["watch[0].to[0]", "webhook:***", "must be https", "loopback"],
    );
    assert_bad_config("[[watch]]\nname = \"h\"\nto = [\"ntfy:https://ntfy.sh\"]\n", &["watch[0].to[0]", "topic"]);
}

#[test]
fn the_watch_style_is_checked_and_shown() {
    let out = check_config(&format!("{WATCH}style = \"card\"\n"), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("style = \"card\""), "{}", out.stdout);
    let plain = check_config(WATCH, &[]);
    assert!(!plain.stdout.contains("style ="), "the default is left out:\n{}", plain.stdout);
    assert_bad_config(&format!("{WATCH}style = \"cards\"\n"), &["watch[0].style", "\"card\" or \"messages\""]);
    // The shipped example is valid.
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let example = shipped.lines().find_map(|l| l.strip_prefix("# ").filter(|l| l.starts_with("style =")));
    let out = check_config(&format!("{WATCH}{}\n", example.expect("config.toml shows a style example")), &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
}
