//! Configuration: reads `config.toml` (or all defaults when the file is
//! missing), merges secrets from the environment, validates every value and
//! produces the typed, effective `Config`. It owns the config contract of
//! DESIGN.md and the wording of config errors.
//!
//! It must not start anything, log, or touch the network, and it must never
//! put a secret (tokens, the LL2 API key, Discord webhook URLs) into an error
//! message or into `render_effective`.
//!
//! Parsing happens in two stages so that every problem can be reported as one
//! line naming the full dotted key: the text is first parsed into a plain
//! `toml::Table` (syntax errors, located by line), then each table is
//! deserialized into a `Raw*` struct with `deny_unknown_fields` (unknown keys
//! and wrong types), and finally the raw values are validated here with their
//! exact paths, e.g. `watch[1].to[2]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Value;

use crate::types::{AlertKind, Destination, Feed, ItemKind, Secret, format_duration, parse_duration};

/// Environment variable that overrides `[ll2] api_key` when set and non-empty.
pub const ENV_LL2_API_KEY: &str = "TMINUS_LL2_API_KEY";
/// Environment variable that overrides `[telegram] token` when set and non-empty.
pub const ENV_TELEGRAM_TOKEN: &str = "TMINUS_TELEGRAM_TOKEN";
/// Environment variable that overrides `[discord] token` when set and non-empty.
pub const ENV_DISCORD_TOKEN: &str = "TMINUS_DISCORD_TOKEN";

pub const DEFAULT_LL2_BASE_URL: &str = "https://ll.thespacedevs.com/2.3.0";
/// Anonymous LL2 access allows about 15 requests an hour.
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 15;
pub const DEFAULT_RESWEEP_INTERVAL: Duration = Duration::from_secs(6 * 3600);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_BODY_BYTES: u64 = 20_000_000;
pub const DEFAULT_STORE_PATH: &str = "data";
pub const DEFAULT_REMINDERS: [Duration; 3] =
    [Duration::from_secs(24 * 3600), Duration::from_secs(3600), Duration::from_secs(10 * 60)];
pub const DEFAULT_REMINDER_GRACE: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com";
pub const DEFAULT_HEALTH_MAX_AGE: Duration = Duration::from_secs(3600);
pub const DEFAULT_DELIVERY_MAX_AGE: Duration = Duration::from_secs(6 * 3600);

/// The effective configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub ll2: Ll2Config,
    pub store: StoreConfig,
    pub alerts: AlertsConfig,
    pub telegram: TelegramConfig,
    pub discord: DiscordConfig,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub delivery: DeliverySettings,
    pub watches: Vec<Watch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ll2Config {
    /// Without trailing slash, e.g. `https://ll.thespacedevs.com/2.3.0`.
    pub base_url: String,
    pub api_key: Secret,
    pub requests_per_hour: u32,
    /// Never empty, no duplicates, in the order the user wrote them.
    pub feeds: Vec<Feed>,
    /// `resweep_interval`, default 6h: full re-read of the upcoming lists.
    pub resweep_interval: Duration,
    /// `timeout`, default 30s, per HTTP request.
    pub timeout: Duration,
    /// `max_body_bytes`, default 20 MB.
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    pub on_first_sync: bool,
    /// Distinct, non-zero, longest first. Empty means no reminders.
    pub reminders: Vec<Duration>,
    pub timezone: Tz,
    /// `reminder_grace`, default 15m: a reminder whose moment passed longer
    /// ago than this (bot was down) is skipped.
    pub reminder_grace: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    /// Empty = Telegram off.
    pub token: Secret,
    /// Without trailing slash.
    pub api_url: String,
}

impl TelegramConfig {
    pub fn is_enabled(&self) -> bool {
        !self.token.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscordConfig {
    /// Empty = Discord bot off (webhook destinations still work).
    pub token: Secret,
    /// Without trailing slash; REST requests go to `{api_url}/api/v10/...`.
    pub api_url: String,
    pub guild_id: Option<u64>,
    /// 64 lowercase hex characters when set.
    pub public_key: Option<String>,
}

impl DiscordConfig {
    pub fn is_enabled(&self) -> bool {
        !self.token.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    /// `health_max_age`, default 1h: `/healthz` answers 503 when a feed's
    /// last successful poll is older (never less than two poll intervals).
    pub health_max_age: Duration,
}

/// `[delivery]`: how long an alert may keep failing before it is given up.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// `max_age`, default 6h: a delivery still failing this long after its
    /// alert was created moves to the dead letters.
    pub max_age: Duration,
}

/// One `[[watch]]`: a static watchlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Trimmed, non-empty, unique among watches.
    pub name: String,
    /// Never empty, no duplicates.
    pub to: Vec<Destination>,
    /// Never empty: an empty or missing list means both kinds.
    pub kinds: Vec<ItemKind>,
    /// Filter values: LL2 ids (as text) or names, trimmed, never empty
    /// strings, duplicates (ignoring case) removed.
    pub types: Vec<String>,
    pub agencies: Vec<String>,
    pub programs: Vec<String>,
    pub exclude_types: Vec<String>,
    pub exclude_agencies: Vec<String>,
    pub exclude_programs: Vec<String>,
    /// Never empty, no duplicates.
    pub alerts: Vec<AlertKind>,
    pub timezone: Tz,
    /// Distinct, non-zero, longest first. Empty means no reminders.
    pub reminders: Vec<Duration>,
}

/// A config problem. `Display` is the one line shown to the user; it names
/// the key and the offending value, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("invalid config: {key}: {message}")]
    Invalid { key: String, message: String },
}

/// Looks up an environment variable; injectable so tests need not touch the
/// process environment (tests run in parallel).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    /// Loads `path` (all defaults if it does not exist) and the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with_env(path, &process_env)
    }

    /// Like [`Config::load`], reading environment variables through `env`.
    pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            // The contract: a missing file means all defaults.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ConfigError::Io { path: path.to_path_buf(), message: e.to_string() });
            }
        };
        Config::from_toml_str(&text, env)
    }

    /// Parses and validates config text, reading environment variables
    /// through `env`. An empty text gives the defaults.
    pub fn from_toml_str(text: &str, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        if let Some(w) = table.get("watch")
            && !w.is_array()
        {
            return Err(invalid("watch", "must be an array of tables: write [[watch]], not [watch]"));
        }
        let raw: RawConfig = table.try_into().map_err(|e| de_error(&e, ""))?;
        build(raw, env)
    }

    /// The configuration used when no file exists and no environment variable
    /// is set.
    pub fn default_config() -> Config {
        Config {
            ll2: Ll2Config {
                base_url: DEFAULT_LL2_BASE_URL.to_owned(),
                api_key: Secret::default(),
                requests_per_hour: DEFAULT_REQUESTS_PER_HOUR,
                feeds: Feed::ALL.to_vec(),
                resweep_interval: DEFAULT_RESWEEP_INTERVAL,
                timeout: DEFAULT_TIMEOUT,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            },
            store: StoreConfig { path: PathBuf::from(DEFAULT_STORE_PATH) },
            alerts: AlertsConfig {
                on_first_sync: false,
                reminders: DEFAULT_REMINDERS.to_vec(),
                timezone: Tz::UTC,
                reminder_grace: DEFAULT_REMINDER_GRACE,
            },
            telegram: TelegramConfig { token: Secret::default(), api_url: DEFAULT_TELEGRAM_API_URL.to_owned() },
            discord: DiscordConfig {
                token: Secret::default(),
                api_url: DEFAULT_DISCORD_API_URL.to_owned(),
                guild_id: None,
                public_key: None,
            },
            log: LogConfig { format: LogFormat::Text },
            server: ServerConfig { listen: None, health_max_age: DEFAULT_HEALTH_MAX_AGE },
            delivery: DeliverySettings { max_age: DEFAULT_DELIVERY_MAX_AGE },
            watches: Vec::new(),
        }
    }

    /// The effective configuration as TOML, for `tminus check-config`.
    /// Secrets print as `"***"` when set and `""` when empty; webhook URLs as
    /// `discord-webhook:***`. Without secrets the output loads back to the
    /// same `Config`.
    pub fn render_effective(&self) -> String {
        let mut out = String::from("# tminus effective configuration (defaults filled in, secrets masked)\n");

        out.push_str("\n[ll2]\n");
        kv(&mut out, "base_url", &quote(&self.ll2.base_url));
        kv(&mut out, "api_key", &quote(&self.ll2.api_key.to_string()));
        kv(&mut out, "requests_per_hour", &self.ll2.requests_per_hour.to_string());
        kv(&mut out, "feeds", &list(self.ll2.feeds.iter().map(|f| f.as_str())));
        kv(&mut out, "resweep_interval", &quote(&format_duration(self.ll2.resweep_interval)));
        kv(&mut out, "timeout", &quote(&format_duration(self.ll2.timeout)));
        kv(&mut out, "max_body_bytes", &self.ll2.max_body_bytes.to_string());

        out.push_str("\n[store]\n");
        kv(&mut out, "path", &quote(&self.store.path.to_string_lossy()));

        out.push_str("\n[alerts]\n");
        kv(&mut out, "on_first_sync", &self.alerts.on_first_sync.to_string());
        kv(&mut out, "reminders", &render_reminders(&self.alerts.reminders));
        kv(&mut out, "timezone", &quote(self.alerts.timezone.name()));
        kv(&mut out, "reminder_grace", &quote(&format_duration(self.alerts.reminder_grace)));

        out.push_str("\n[telegram]\n");
        kv(&mut out, "token", &quote(&self.telegram.token.to_string()));
        kv(&mut out, "api_url", &quote(&self.telegram.api_url));

        out.push_str("\n[discord]\n");
        kv(&mut out, "token", &quote(&self.discord.token.to_string()));
        kv(&mut out, "api_url", &quote(&self.discord.api_url));
        match self.discord.guild_id {
            Some(id) => kv(&mut out, "guild_id", &id.to_string()),
            None => out.push_str("# guild_id: not set\n"),
        }
        match &self.discord.public_key {
            Some(key) => kv(&mut out, "public_key", &quote(key)),
            None => out.push_str("# public_key: not set\n"),
        }

        out.push_str("\n[log]\n");
        kv(&mut out, "format", &quote(self.log.format.as_str()));

        out.push_str("\n[server]\n");
        match self.server.listen {
            Some(addr) => kv(&mut out, "listen", &quote(&addr.to_string())),
            None => out.push_str("# listen: not set (no HTTP server)\n"),
        }
        kv(&mut out, "health_max_age", &quote(&format_duration(self.server.health_max_age)));

        out.push_str("\n[delivery]\n");
        kv(&mut out, "max_age", &quote(&format_duration(self.delivery.max_age)));

        if self.watches.is_empty() {
            out.push_str("\n# no [[watch]] configured\n");
        }
        for w in &self.watches {
            out.push_str("\n[[watch]]\n");
            kv(&mut out, "name", &quote(&w.name));
            // Display masks webhook URLs.
            let to: Vec<String> = w.to.iter().map(ToString::to_string).collect();
            kv(&mut out, "to", &list(to.iter().map(String::as_str)));
            kv(&mut out, "kinds", &list(w.kinds.iter().map(|k| k.as_str())));
            for (key, values) in [
                ("types", &w.types),
                ("agencies", &w.agencies),
                ("programs", &w.programs),
                ("exclude_types", &w.exclude_types),
                ("exclude_agencies", &w.exclude_agencies),
                ("exclude_programs", &w.exclude_programs),
            ] {
                kv(&mut out, key, &list(values.iter().map(String::as_str)));
            }
            kv(&mut out, "alerts", &list(w.alerts.iter().map(|a| a.as_str())));
            kv(&mut out, "timezone", &quote(w.timezone.name()));
            kv(&mut out, "reminders", &render_reminders(&w.reminders));
        }
        out
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::default_config()
    }
}

fn process_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        // Not silently ignored: the lossy value fails secret validation
        // with an error naming the variable.
        Err(std::env::VarError::NotUnicode(raw)) => Some(raw.to_string_lossy().into_owned()),
    }
}

// ---------------------------------------------------------------------------
// Raw shapes: what serde reads. Scalars with an obvious type are typed here
// so the toml crate reports type errors with their key; lists and values
// that need per-element paths or custom wording stay `toml::Value`.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    ll2: RawLl2,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    telegram: RawTelegram,
    #[serde(default)]
    discord: RawDiscord,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    watch: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLl2 {
    base_url: Option<String>,
    api_key: Option<String>,
    requests_per_hour: Option<i64>,
    feeds: Option<Vec<Value>>,
    resweep_interval: Option<Value>,
    timeout: Option<Value>,
    max_body_bytes: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    on_first_sync: Option<bool>,
    reminders: Option<Value>,
    timezone: Option<String>,
    reminder_grace: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTelegram {
    token: Option<String>,
    api_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDiscord {
    token: Option<String>,
    api_url: Option<String>,
    guild_id: Option<Value>,
    public_key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    max_age: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    health_max_age: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    name: Option<String>,
    to: Option<Vec<Value>>,
    kinds: Option<Vec<Value>>,
    types: Option<Vec<Value>>,
    agencies: Option<Vec<Value>>,
    programs: Option<Vec<Value>>,
    exclude_types: Option<Vec<Value>>,
    exclude_agencies: Option<Vec<Value>>,
    exclude_programs: Option<Vec<Value>>,
    alerts: Option<Vec<Value>>,
    timezone: Option<String>,
    reminders: Option<Value>,
}

/// Keys whose values are secrets: their values never appear in errors.
const SECRET_KEYS: [&str; 3] = ["ll2.api_key", "telegram.token", "discord.token"];

// ---------------------------------------------------------------------------
// Validation.

fn build(raw: RawConfig, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let ll2 = build_ll2(raw.ll2, env)?;
    let store = build_store(raw.store)?;
    let alerts = build_alerts(raw.alerts)?;
    let telegram = TelegramConfig {
        token: secret("telegram.token", ENV_TELEGRAM_TOKEN, raw.telegram.token, env)?,
        api_url: http_url("telegram.api_url", raw.telegram.api_url.as_deref().unwrap_or(DEFAULT_TELEGRAM_API_URL))?,
    };
    let discord = build_discord(raw.discord, env)?;
    let log = LogConfig {
        format: match raw.log.format.as_deref().map(str::trim) {
            None => LogFormat::Text,
            Some(f) if f.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(f) => {
                return Err(invalid("log.format", format!("expected \"text\" or \"json\", got {f:?}")));
            }
        },
    };
    let server = ServerConfig {
        listen: match raw.server.listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                invalid("server.listen", format!("expected an IP address and port like \"127.0.0.1:8080\", got {s:?}"))
            })?),
        },
        health_max_age: positive_duration(
            "server.health_max_age",
            raw.server.health_max_age.as_ref(),
            DEFAULT_HEALTH_MAX_AGE,
        )?,
    };
    let delivery = DeliverySettings {
        max_age: positive_duration("delivery.max_age", raw.delivery.max_age.as_ref(), DEFAULT_DELIVERY_MAX_AGE)?,
    };

    let mut watches: Vec<Watch> = Vec::with_capacity(raw.watch.len());
    for (i, value) in raw.watch.into_iter().enumerate() {
        let prefix = format!("watch[{i}]");
        let watch = build_watch(&prefix, value, &alerts)?;
        if let Some(j) = watches.iter().position(|w| w.name == watch.name) {
            return Err(invalid(
                &format!("{prefix}.name"),
                format!("duplicate watch name {:?} (also used by watch[{j}])", watch.name),
            ));
        }
        watches.push(watch);
    }

    Ok(Config { ll2, store, alerts, telegram, discord, log, server, delivery, watches })
}

fn build_ll2(raw: RawLl2, env: EnvLookup<'_>) -> Result<Ll2Config, ConfigError> {
    let d = Config::default_config().ll2;
    let requests_per_hour = match raw.requests_per_hour {
        None => d.requests_per_hour,
        Some(n) if n < 1 => {
            return Err(invalid("ll2.requests_per_hour", format!("must be at least 1, got {n}")));
        }
        Some(n) => u32::try_from(n)
            .map_err(|_| invalid("ll2.requests_per_hour", format!("must be at most {}, got {n}", u32::MAX)))?,
    };
    let feeds = match raw.feeds {
        None => d.feeds,
        Some(values) => {
            let mut feeds = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let key = format!("ll2.feeds[{i}]");
                let feed = match v {
                    Value::String(s) => s.trim().parse::<Feed>().map_err(|e| invalid(&key, e))?,
                    other => {
                        return Err(invalid(&key, format!("expected \"events\" or \"launches\", got {}", show(other))));
                    }
                };
                if !feeds.contains(&feed) {
                    feeds.push(feed);
                }
            }
            if feeds.is_empty() {
                return Err(invalid("ll2.feeds", "must name at least one feed (\"events\", \"launches\"), got []"));
            }
            feeds
        }
    };
    let max_body_bytes = match raw.max_body_bytes {
        None => d.max_body_bytes,
        Some(n) if n < 1 => {
            return Err(invalid("ll2.max_body_bytes", format!("must be at least 1, got {n}")));
        }
        Some(n) => n.unsigned_abs(),
    };
    Ok(Ll2Config {
        base_url: http_url("ll2.base_url", raw.base_url.as_deref().unwrap_or(DEFAULT_LL2_BASE_URL))?,
        api_key: secret("ll2.api_key", ENV_LL2_API_KEY, raw.api_key, env)?,
        requests_per_hour,
        feeds,
        resweep_interval: positive_duration("ll2.resweep_interval", raw.resweep_interval.as_ref(), d.resweep_interval)?,
        timeout: positive_duration("ll2.timeout", raw.timeout.as_ref(), d.timeout)?,
        max_body_bytes,
    })
}

fn build_store(raw: RawStore) -> Result<StoreConfig, ConfigError> {
    let path = raw.path.unwrap_or_else(|| DEFAULT_STORE_PATH.to_owned());
    if path.trim().is_empty() {
        return Err(invalid("store.path", "must not be empty, got \"\""));
    }
    Ok(StoreConfig { path: PathBuf::from(path) })
}

fn build_alerts(raw: RawAlerts) -> Result<AlertsConfig, ConfigError> {
    let d = Config::default_config().alerts;
    Ok(AlertsConfig {
        on_first_sync: raw.on_first_sync.unwrap_or(d.on_first_sync),
        reminders: match &raw.reminders {
            None => d.reminders,
            Some(v) => reminders("alerts.reminders", v)?,
        },
        timezone: match raw.timezone.as_deref() {
            None => d.timezone,
            Some(s) => timezone("alerts.timezone", s)?,
        },
        reminder_grace: positive_duration("alerts.reminder_grace", raw.reminder_grace.as_ref(), d.reminder_grace)?,
    })
}

fn build_discord(raw: RawDiscord, env: EnvLookup<'_>) -> Result<DiscordConfig, ConfigError> {
    let guild_id = match &raw.guild_id {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => {
            let id = match v {
                Value::Integer(n) => u64::try_from(*n).ok(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            match id {
                Some(id) if id > 0 => Some(id),
                _ => {
                    return Err(invalid(
                        "discord.guild_id",
                        format!("expected a server id (a positive integer), got {}", show(v)),
                    ));
                }
            }
        }
    };
    let public_key = match raw.public_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) if k.len() == 64 && k.chars().all(|c| c.is_ascii_hexdigit()) => Some(k.to_ascii_lowercase()),
        Some(k) => {
            return Err(invalid(
                "discord.public_key",
                format!("expected the application's public key (64 hexadecimal characters), got {k:?}"),
            ));
        }
    };
    Ok(DiscordConfig {
        token: secret("discord.token", ENV_DISCORD_TOKEN, raw.token, env)?,
        api_url: http_url("discord.api_url", raw.api_url.as_deref().unwrap_or(DEFAULT_DISCORD_API_URL))?,
        guild_id,
        public_key,
    })
}

fn build_watch(prefix: &str, value: Value, alerts: &AlertsConfig) -> Result<Watch, ConfigError> {
    let key = |field: &str| format!("{prefix}.{field}");
    let table = match value {
        Value::Table(t) => t,
        other => {
            return Err(invalid(prefix, format!("expected a table ([[watch]]), got {}", show(&other))));
        }
    };
    let raw: RawWatch = table.try_into().map_err(|e| de_error(&e, prefix))?;

    let name = match raw.name.as_deref().map(str::trim) {
        None => {
            return Err(invalid(&key("name"), "missing: every [[watch]] needs a unique name"));
        }
        Some("") => return Err(invalid(&key("name"), "must not be empty, got \"\"")),
        Some(n) => n.to_owned(),
    };

    let Some(to_values) = raw.to else {
        return Err(invalid(&key("to"), "missing: list where alerts go, e.g. [\"console\"]"));
    };
    let mut to: Vec<Destination> = Vec::new();
    for (i, v) in to_values.iter().enumerate() {
        let k = format!("{prefix}.to[{i}]");
        let dest = match v {
            // Destination's errors already mask webhook URLs.
            Value::String(s) => s.parse::<Destination>().map_err(|e| invalid(&k, e))?,
            other => {
                return Err(invalid(
                    &k,
                    format!(
                        "expected a destination string (console, telegram:CHAT_ID, discord:CHANNEL_ID or discord-webhook:URL), got {}",
                        show(other)
                    ),
                ));
            }
        };
        if !to.contains(&dest) {
            to.push(dest);
        }
    }
    if to.is_empty() {
        return Err(invalid(&key("to"), "must name at least one destination, got []"));
    }

    let mut kinds: Vec<ItemKind> = Vec::new();
    for (i, v) in raw.kinds.iter().flatten().enumerate() {
        let k = format!("{prefix}.kinds[{i}]");
        let kind = match v {
            Value::String(s) => s.trim().parse::<ItemKind>().map_err(|e| invalid(&k, e))?,
            other => {
                return Err(invalid(&k, format!("expected \"event\" or \"launch\", got {}", show(other))));
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    // An empty dimension matches everything (DESIGN, rules).
    if kinds.is_empty() {
        kinds = vec![ItemKind::Event, ItemKind::Launch];
    }

    let alert_kinds = match &raw.alerts {
        None => AlertKind::ALL.to_vec(),
        Some(values) => {
            let mut out: Vec<AlertKind> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let k = format!("{prefix}.alerts[{i}]");
                let kind = match v {
                    Value::String(s) => s.trim().parse::<AlertKind>().map_err(|e| invalid(&k, e))?,
                    other => {
                        return Err(invalid(
                            &k,
                            format!(
                                "expected one of \"new\", \"schedule\", \"status\", \"webcast\", \"reminder\", got {}",
                                show(other)
                            ),
                        ));
                    }
                };
                if !out.contains(&kind) {
                    out.push(kind);
                }
            }
            if out.is_empty() {
                return Err(invalid(
                    &key("alerts"),
                    "must name at least one alert kind (or leave it out for all), got []",
                ));
            }
            out
        }
    };

    Ok(Watch {
        name,
        to,
        kinds,
        types: filter_values(&key("types"), raw.types.as_deref())?,
        agencies: filter_values(&key("agencies"), raw.agencies.as_deref())?,
        programs: filter_values(&key("programs"), raw.programs.as_deref())?,
        exclude_types: filter_values(&key("exclude_types"), raw.exclude_types.as_deref())?,
        exclude_agencies: filter_values(&key("exclude_agencies"), raw.exclude_agencies.as_deref())?,
        exclude_programs: filter_values(&key("exclude_programs"), raw.exclude_programs.as_deref())?,
        alerts: alert_kinds,
        timezone: match raw.timezone.as_deref() {
            None => alerts.timezone,
            Some(s) => timezone(&key("timezone"), s)?,
        },
        reminders: match &raw.reminders {
            None => alerts.reminders.clone(),
            Some(v) => reminders(&key("reminders"), v)?,
        },
    })
}

/// LL2 ids may be written as integers or strings; both become trimmed text.
fn filter_values(key: &str, values: Option<&[Value]>) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for (i, v) in values.unwrap_or_default().iter().enumerate() {
        let k = format!("{key}[{i}]");
        let text = match v {
            Value::String(s) if s.trim().is_empty() => {
                return Err(invalid(&k, format!("must not be empty, got {s:?}")));
            }
            Value::String(s) => s.trim().to_owned(),
            Value::Integer(n) if *n >= 0 => n.to_string(),
            Value::Integer(n) => {
                return Err(invalid(&k, format!("LL2 ids are not negative, got {n}")));
            }
            other => {
                return Err(invalid(
                    &k,
                    format!("expected a name (string) or an LL2 id (integer), got {}", show(other)),
                ));
            }
        };
        // Matching is case-insensitive, so "SpaceX" and "spacex" are one value.
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&text)) {
            out.push(text);
        }
    }
    Ok(out)
}

/// `["24h", "1h"]`, `"24h 1h"` (as the `/reminders` chat command), `"off"`
/// or `[]`. Result: distinct, non-zero, longest first.
fn reminders(key: &str, value: &Value) -> Result<Vec<Duration>, ConfigError> {
    let mut out: Vec<Duration> = Vec::new();
    match value {
        Value::String(s) if s.trim().eq_ignore_ascii_case("off") => {}
        Value::String(s) => {
            let items: Vec<&str> = s.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()).collect();
            if items.is_empty() {
                return Err(invalid(key, format!("expected durations like [\"24h\", \"1h\"] or \"off\", got {s:?}")));
            }
            for item in items {
                out.push(reminder(key, item)?);
            }
        }
        Value::Array(values) => {
            for (i, v) in values.iter().enumerate() {
                let k = format!("{key}[{i}]");
                match v {
                    Value::String(s) => out.push(reminder(&k, s)?),
                    other => {
                        return Err(invalid(
                            &k,
                            format!("expected a duration string like \"1h\", got {}", show(other)),
                        ));
                    }
                }
            }
        }
        other => {
            return Err(invalid(
                key,
                format!("expected a list like [\"24h\", \"1h\"] or \"off\", got {}", show(other)),
            ));
        }
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    Ok(out)
}

fn reminder(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration(text).map_err(|e| invalid(key, e))?;
    if d.is_zero() {
        return Err(invalid(key, format!("must be longer than 0s, got {text:?}")));
    }
    Ok(d)
}

fn positive_duration(key: &str, value: Option<&Value>, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(Value::String(s)) => {
            let d = parse_duration(s).map_err(|e| invalid(key, e))?;
            if d.is_zero() {
                return Err(invalid(key, format!("must be longer than 0s, got {s:?}")));
            }
            Ok(d)
        }
        Some(other) => Err(invalid(
            key,
            format!("expected a duration string like {:?}, got {}", format_duration(default), show(other)),
        )),
    }
}

fn timezone(key: &str, text: &str) -> Result<Tz, ConfigError> {
    let t = text.trim();
    if let Ok(tz) = t.parse::<Tz>() {
        return Ok(tz);
    }
    // IANA names are unique ignoring case, so "europe/berlin" is unambiguous.
    chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(t)).ok_or_else(|| {
        invalid(key, format!("unknown timezone {text:?} (expected an IANA name such as \"Europe/Berlin\" or \"UTC\")"))
    })
}

/// An http(s) base URL without trailing slash. Rejects what would break
/// the `{base}/path?query` joins done by the clients.
fn http_url(key: &str, raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim();
    let url = url::Url::parse(s).map_err(|e| invalid(key, format!("not a valid URL ({e}), got {s:?}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // The value may hold a password, so it is not echoed.
        return Err(invalid(key, "must not contain credentials (user:password@)"));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(key, format!("must be an http:// or https:// URL with a host, got {s:?}")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(key, format!("must not contain a query or fragment, got {s:?}")));
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// The file value, overridden by the environment variable when that is set
/// and non-empty. Values go into HTTP headers and URLs, hence the check.
fn secret(key: &str, env_name: &str, file_value: Option<String>, env: EnvLookup<'_>) -> Result<Secret, ConfigError> {
    let (value, source) = match env(env_name).filter(|v| !v.trim().is_empty()) {
        Some(v) => (v, format!("env {env_name}")),
        None => (file_value.unwrap_or_default(), key.to_owned()),
    };
    let value = value.trim();
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(&source, "must be printable ASCII without spaces (value hidden)"));
    }
    Ok(Secret::new(value))
}

// ---------------------------------------------------------------------------
// Errors.

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_owned(), message: one_line(&message.into()) }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Quotes strings, prints other values as TOML.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => one_line(&other.to_string()),
    }
}

/// Turns a serde error from deserializing a `toml::Value` into a keyed error.
/// Such errors carry no span; the toml crate prints the key path as a last
/// line "in `a.b`", which is the only place it exposes it.
fn de_error(err: &toml::de::Error, prefix: &str) -> ConfigError {
    let rendered = err.to_string();
    let path = rendered.lines().rev().find_map(|l| l.trim().strip_prefix("in `")?.strip_suffix('`')).unwrap_or("");
    let join = |a: &str, b: &str| match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}.{b}"),
    };
    let base = join(prefix, path);
    let message = err.message();

    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let hint = match suggest(field, &expected) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None if expected.is_empty() => String::new(),
            None => format!(" (expected one of: {})", expected.join(", ")),
        };
        return invalid(&join(&base, field), format!("unknown key{hint}"));
    }

    let key = if base.is_empty() { "config".to_owned() } else { base };
    if SECRET_KEYS.contains(&key.as_str()) {
        return invalid(&key, "expected a string (value hidden)");
    }
    invalid(&key, friendly_type_message(message))
}

/// serde's wording names Rust types; users write TOML.
fn friendly_type_message(message: &str) -> String {
    let mut m = message.to_owned();
    if let Some(pos) = m.find("expected struct ") {
        m.truncate(pos);
        m.push_str("expected a table");
    }
    for (from, to) in [
        ("expected i64", "expected an integer"),
        ("expected a sequence", "expected a list"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: list"),
    ] {
        m = m.replace(from, to);
    }
    m
}

/// The closest known key, if the unknown one looks like a typo of it.
fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (crate::directory::edit_distance(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A TOML syntax error as one line. The toml crate reports a byte span and a
/// multi-line message; the key is recovered from the source line so the user
/// sees e.g. `alerts.timezone` rather than only a position. Source text is
/// never echoed, since the broken line may hold a token.
fn syntax_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let offset = err.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line_idx = before.matches('\n').count();
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let key = syntax_error_key(text, line_idx).unwrap_or_else(|| format!("line {}", line_idx + 1));
    invalid(&key, format!("TOML syntax error at line {}, column {column}: {}", line_idx + 1, one_line(err.message())))
}

/// Best effort: the dotted key of line `line_idx`, from the table headers
/// above it and the key at the start of that line.
fn syntax_error_key(text: &str, line_idx: usize) -> Option<String> {
    let mut table = String::new();
    let mut array_counts: Vec<(String, usize)> = Vec::new();
    let mut in_multiline = false;
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, raw_line) in lines.iter().enumerate().take(line_idx + 1) {
        let line = raw_line.trim();
        let header = if in_multiline { None } else { parse_header(line) };
        if let Some((name, is_array)) = header {
            table = if is_array {
                let idx = match array_counts.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => {
                        *count += 1;
                        *count - 1
                    }
                    None => {
                        array_counts.push((name.clone(), 1));
                        0
                    }
                };
                format!("{name}[{idx}]")
            } else {
                name
            };
            if i == line_idx {
                return Some(table);
            }
        } else if i == line_idx && !in_multiline {
            let candidate = match line.split_once('=') {
                Some((k, _)) => k.trim(),
                None => line.split_whitespace().next().unwrap_or(""),
            };
            if !is_dotted_bare_key(candidate) {
                return (!table.is_empty()).then_some(table);
            }
            let candidate: String = candidate.split('.').map(str::trim).collect::<Vec<_>>().join(".");
            return Some(if table.is_empty() { candidate } else { format!("{table}.{candidate}") });
        }
        // Multi-line strings may contain lines that look like headers.
        let delimiters = raw_line.matches("\"\"\"").count() + raw_line.matches("'''").count();
        if delimiters % 2 == 1 {
            in_multiline = !in_multiline;
        }
    }
    (!table.is_empty()).then_some(table)
}

/// `[a.b]` → ("a.b", false), `[[watch]]` → ("watch", true).
fn parse_header(line: &str) -> Option<(String, bool)> {
    let line = line.split('#').next().unwrap_or("").trim();
    let (inner, is_array) = if let Some(r) = line.strip_prefix("[[") {
        (r.strip_suffix("]]")?, true)
    } else {
        (line.strip_prefix('[')?.strip_suffix(']')?, false)
    };
    let name: String = inner.split('.').map(str::trim).collect::<Vec<_>>().join(".");
    is_dotted_bare_key(&name).then_some((name, is_array))
}

fn is_dotted_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let part = part.trim();
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

// ---------------------------------------------------------------------------
// Rendering helpers.

fn kv(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(quote).collect();
    format!("[{}]", quoted.join(", "))
}

fn render_reminders(reminders: &[Duration]) -> String {
    if reminders.is_empty() {
        return quote("off");
    }
    let texts: Vec<String> = reminders.iter().map(|d| format_duration(*d)).collect();
    list(texts.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!c.telegram.is_enabled());
        assert_eq!(c.telegram.api_url, "https://api.telegram.org");
        assert!(!c.discord.is_enabled());
        assert_eq!(c.discord.api_url, "https://discord.com");
        assert_eq!(c.discord.guild_id, None);
        assert_eq!(c.discord.public_key, None);
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.server.listen, None);
        assert!(c.watches.is_empty());
    }

    #[test]
    fn missing_file_is_defaults_and_directory_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load_with_env(&dir.path().join("nope.toml"), &no_env).unwrap();
        assert_eq!(c, Config::default_config());
        match Config::load_with_env(dir.path(), &no_env) {
            Err(ConfigError::Io { path, .. }) => assert_eq!(path, dir.path()),
            other => panic!("expected Io error, got {other:?}"),
        }
    }

    #[test]
    fn load_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[ll2]\nrequests_per_hour = 200\n").unwrap();
        assert_eq!(Config::load_with_env(&path, &no_env).unwrap().ll2.requests_per_hour, 200);
    }

    #[test]
    fn repo_config_toml_loads_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        assert_eq!(Config::load_with_env(&path, &no_env).unwrap(), Config::default_config());
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
        assert!(c.telegram.is_enabled());
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

[discord]
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
        assert_err(
            "[ll2]\nrequests_per_hour = 0",
            &["invalid config: ll2.requests_per_hour: must be at least 1, got 0"],
        );
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
            "[[watch]]\nname = \"a\"\nto = [\"console\", \"telegram:1\", \"slack:5\"]",
            &["invalid config: watch[0].to[2]:", "\"slack:5\""],
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
        let c = parse(text).unwrap();
        let rendered = c.render_effective();
        assert_eq!(parse(&rendered).unwrap(), c, "rendered:\n{rendered}");
        let d = Config::default_config();
        assert_eq!(parse(&d.render_effective()).unwrap(), d);
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("request_per_hour", &["base_url", "requests_per_hour"]), Some("requests_per_hour"));
        assert_eq!(suggest("colour", &["base_url", "requests_per_hour"]), None);
        assert_eq!(crate::directory::edit_distance("kitten", "sitting"), 3);
    }
}
