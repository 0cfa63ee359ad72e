//! Validation: turns the raw shapes serde read into the effective
//! [`Config`], checking every value and naming its exact key path in the
//! error (`watch[1].to[2]`). Secrets from the environment override the file
//! here. It must not read files or the process environment itself (the
//! caller passes an [`EnvLookup`]), and never put a secret into an error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use toml::Value;

use super::diagnostics::{invalid, show};
use super::raw::{RawAlerts, RawConfig, RawDiscord, RawLl2, RawLog, RawNews, RawServer, RawStore, RawWatch};
use super::*;
use crate::rules::{DigestSchedule, QuietHours};
use crate::types::{
    AlertKind, Destination, Feed, ItemKind, Mention, Platform, Secret, Style, format_duration, parse_duration,
};

pub(super) fn build(raw: RawConfig, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let ll2 = build_ll2(raw.ll2, env)?;
    let store = build_store(raw.store)?;
    let alerts = build_alerts(raw.alerts)?;
    let telegram = TelegramConfig {
        token: secret("telegram.token", ENV_TELEGRAM_TOKEN, raw.telegram.token, env)?,
        api_url: http_url("telegram.api_url", raw.telegram.api_url.as_deref().unwrap_or(DEFAULT_TELEGRAM_API_URL))?,
        paid_broadcast: raw.telegram.paid_broadcast.unwrap_or(false),
    };
    let discord = build_discord(raw.discord, env)?;
    let webhook = WebhookConfig { secret: secret("webhook.secret", ENV_WEBHOOK_SECRET, raw.webhook.secret, env)? };
    let ntfy = NtfyConfig { token: secret("ntfy.token", ENV_NTFY_TOKEN, raw.ntfy.token, env)? };
    let log = build_log(raw.log)?;
    let server = build_server(raw.server)?;
    let delivery = DeliverySettings {
        max_age: positive_duration("delivery.max_age", raw.delivery.max_age.as_ref(), DEFAULT_DELIVERY_MAX_AGE)?,
    };

    let watches = build_watches(raw.watch, &alerts, &discord)?;
    check_tokens(&watches, &telegram, &discord)?;
    let news = build_news(raw.news)?;

    Ok(Config { ll2, store, alerts, telegram, discord, webhook, ntfy, log, server, delivery, watches, news })
}

/// `[log]`: the format, text unless "json".
fn build_log(raw: RawLog) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        format: match raw.format.as_deref().map(str::trim) {
            None => LogFormat::Text,
            Some(f) if f.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(f) => {
                return Err(invalid("log.format", format!("expected \"text\" or \"json\", got {f:?}")));
            }
        },
    })
}

/// `[server]`: where to listen (nothing: no server), the health threshold
/// and the public URL for calendar links.
fn build_server(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    Ok(ServerConfig {
        listen: match raw.listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                invalid("server.listen", format!("expected an IP address and port like \"127.0.0.1:8080\", got {s:?}"))
            })?),
        },
        health_max_age: positive_duration(
            "server.health_max_age",
            raw.health_max_age.as_ref(),
            DEFAULT_HEALTH_MAX_AGE,
        )?,
        public_url: match raw.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(http_url("server.public_url", u)?),
        },
    })
}

/// Every `[[watch]]`, with unique names and platforms that are configured.
fn build_watches(
    raw: Vec<RawWatch>,
    alerts: &AlertsConfig,
    discord: &DiscordConfig,
) -> Result<Vec<Watch>, ConfigError> {
    let mut watches: Vec<Watch> = Vec::with_capacity(raw.len());
    for (i, raw_watch) in raw.into_iter().enumerate() {
        let prefix = format!("watch[{i}]");
        let watch = build_watch(&prefix, raw_watch, alerts)?;
        if let Some(j) = watches.iter().position(|w| w.name == watch.name) {
            return Err(invalid(
                &format!("{prefix}.name"),
                format!("duplicate watch name {:?} (also used by watch[{j}])", watch.name),
            ));
        }
        check_platforms(&prefix, &watch, discord)?;
        watches.push(watch);
    }
    Ok(watches)
}

fn build_news(raw: RawNews) -> Result<NewsConfig, ConfigError> {
    let requests_per_hour = match raw.requests_per_hour {
        None => DEFAULT_NEWS_REQUESTS_PER_HOUR,
        Some(n) if n < 1 => return Err(invalid("news.requests_per_hour", format!("must be at least 1, got {n}"))),
        Some(n) => u32::try_from(n)
            .map_err(|_| invalid("news.requests_per_hour", format!("must be at most {}, got {n}", u32::MAX)))?,
    };
    Ok(NewsConfig {
        base_url: http_url("news.base_url", raw.base_url.as_deref().unwrap_or(DEFAULT_NEWS_BASE_URL))?,
        requests_per_hour,
        enabled: raw.enabled,
    })
}

/// A destination whose platform has no token would never be delivered (its
/// alerts would dead-letter hours later), so it is refused up front, naming
/// the watch, the destination and where the token goes.
fn check_tokens(watches: &[Watch], telegram: &TelegramConfig, discord: &DiscordConfig) -> Result<(), ConfigError> {
    for (i, w) in watches.iter().enumerate() {
        for (j, to) in w.to.iter().enumerate() {
            let (key, env_name, platform) = match to.platform() {
                Platform::Telegram if telegram.token.is_empty() => ("telegram.token", ENV_TELEGRAM_TOKEN, "Telegram"),
                Platform::Discord | Platform::DiscordEvents if discord.token.is_empty() => {
                    ("discord.token", ENV_DISCORD_TOKEN, "Discord")
                }
                _ => continue,
            };
            return Err(invalid(
                &format!("watch[{i}].to[{j}]"),
                format!(
                    "watch {:?} sends to {to}, but no {platform} token is set (missing key {key}, or env {env_name})",
                    w.name
                ),
            ));
        }
    }
    Ok(())
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
            let feeds = words::<Feed>("ll2.feeds", &values, "\"events\" or \"launches\"")?;
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

/// Shorter would prune records that delivery (`[delivery] max_age`, 6 h)
/// and reminders (up to days ahead) still rely on.
const MIN_RETENTION: Duration = Duration::from_secs(7 * 86_400);

fn build_store(raw: RawStore) -> Result<StoreConfig, ConfigError> {
    let path = raw.path.unwrap_or_else(|| DEFAULT_STORE_PATH.to_owned());
    if path.trim().is_empty() {
        return Err(invalid("store.path", "must not be empty, got \"\""));
    }
    let retention = positive_duration("store.retention", raw.retention.as_ref(), DEFAULT_RETENTION)?;
    if retention < MIN_RETENTION {
        return Err(invalid(
            "store.retention",
            format!(
                "must be at least {} (pending deliveries and reminders need their records), got {:?}",
                format_duration(MIN_RETENTION),
                format_duration(retention)
            ),
        ));
    }
    Ok(StoreConfig { path: PathBuf::from(path), retention })
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
        schedule_horizon: match &raw.schedule_horizon {
            None => d.schedule_horizon,
            Some(v) => horizon("alerts.schedule_horizon", v)?,
        },
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
        events_window: positive_duration("discord.events_window", raw.events_window.as_ref(), DEFAULT_EVENTS_WINDOW)?,
    })
}

/// Destinations that need a platform token the config does not have.
fn check_platforms(prefix: &str, watch: &Watch, discord: &DiscordConfig) -> Result<(), ConfigError> {
    for (j, dest) in watch.to.iter().enumerate() {
        if matches!(dest, Destination::DiscordEvents(_)) && !discord.is_enabled() {
            return Err(invalid(
                &format!("{prefix}.to[{j}]"),
                format!(
                    "watch {:?} sends to {dest}, which needs the Discord bot: set discord.token (or {ENV_DISCORD_TOKEN})",
                    watch.name
                ),
            ));
        }
    }
    Ok(())
}

fn build_watch(prefix: &str, raw: RawWatch, alerts: &AlertsConfig) -> Result<Watch, ConfigError> {
    let key = |field: &str| format!("{prefix}.{field}");

    let name = watch_name(&key("name"), raw.name.as_deref())?;
    let to = watch_destinations(&key("to"), raw.to)?;
    let mut kinds =
        words::<ItemKind>(&key("kinds"), raw.kinds.as_deref().unwrap_or_default(), "\"event\" or \"launch\"")?;
    // An empty dimension matches everything (the README, "Watchlists").
    if kinds.is_empty() {
        kinds = vec![ItemKind::Event, ItemKind::Launch];
    }
    let alert_kinds = watch_alert_kinds(&key("alerts"), raw.alerts.as_deref())?;

    Ok(Watch {
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
        schedule_horizon: match &raw.schedule_horizon {
            None => alerts.schedule_horizon,
            Some(v) => horizon(&key("schedule_horizon"), v)?,
        },
        mentions: mentions(&key("mentions"), &name, raw.mentions.as_deref().unwrap_or_default())?,
        quiet_hours: raw.quiet_hours.as_ref().map(|v| quiet_hours(&key("quiet_hours"), v)).transpose()?,
        silent: words::<AlertKind>(&key("silent"), raw.silent.as_deref().unwrap_or_default(), ALERT_KIND_WORDS)?,
        style: raw.style.as_ref().map(|v| style(&key("style"), v)).transpose()?.unwrap_or_default(),
        digest: raw.digest.as_ref().map(|v| digest(&key("digest"), v)).transpose()?,
        name,
    })
}

/// A watch's `name`: required and not blank (trimmed).
fn watch_name(key: &str, raw: Option<&str>) -> Result<String, ConfigError> {
    match raw.map(str::trim) {
        None => Err(invalid(key, "missing: every [[watch]] needs a unique name")),
        Some("") => Err(invalid(key, "must not be empty, got \"\"")),
        Some(n) => Ok(n.to_owned()),
    }
}

/// A watch's `to`: required, at least one destination.
fn watch_destinations(key: &str, raw: Option<Vec<Value>>) -> Result<Vec<Destination>, ConfigError> {
    let Some(to_values) = raw else {
        return Err(invalid(key, "missing: list where alerts go, e.g. [\"console\"]"));
    };
    // Destination's errors already mask webhook URLs.
    let to = words::<Destination>(
        key,
        &to_values,
        "a destination string (console, telegram:CHAT_ID, discord:CHANNEL_ID, discord-webhook:URL, calendar:NAME or discord-events:GUILD_ID)",
    )?;
    if to.is_empty() {
        return Err(invalid(key, "must name at least one destination, got []"));
    }
    Ok(to)
}

/// A watch's `alerts`: every kind when left out, else at least one.
fn watch_alert_kinds(key: &str, raw: Option<&[Value]>) -> Result<Vec<AlertKind>, ConfigError> {
    match raw {
        None => Ok(AlertKind::ALL.to_vec()),
        Some(values) => {
            let out = words::<AlertKind>(key, values, ALERT_KIND_WORDS)?;
            if out.is_empty() {
                return Err(invalid(key, "must name at least one alert kind (or leave it out for all), got []"));
            }
            Ok(out)
        }
    }
}

/// What an alert kind in a list may be, for errors.
const ALERT_KIND_WORDS: &str = "one of \"new\", \"schedule\", \"status\", \"webcast\", \"reminder\", \"news\"";

/// `style = "card" | "messages"`.
fn style(key: &str, value: &Value) -> Result<Style, ConfigError> {
    match value {
        Value::String(s) => s.parse().map_err(|e: String| invalid(key, e)),
        other => Err(invalid(key, format!("expected \"card\" or \"messages\", got {}", show(other)))),
    }
}

/// `digest = "daily 08:00"` or `"weekly mon 08:00"` (`DigestSchedule`).
fn digest(key: &str, value: &Value) -> Result<DigestSchedule, ConfigError> {
    match value {
        Value::String(s) => s.parse().map_err(|e: String| invalid(key, e)),
        other => Err(invalid(key, format!("expected a schedule such as \"daily 08:00\", got {}", show(other)))),
    }
}

/// `quiet_hours = "23:00-07:00"`: a local span (`QuietHours`).
fn quiet_hours(key: &str, value: &Value) -> Result<QuietHours, ConfigError> {
    match value {
        Value::String(s) => s.parse().map_err(|e: String| invalid(key, e)),
        other => Err(invalid(key, format!("expected a span such as \"23:00-07:00\", got {}", show(other)))),
    }
}

/// A list of words such as `["events", "launches"]`, each parsed with its
/// type's `FromStr` (whose error names the bad word), duplicates dropped,
/// every problem keyed `key[i]`. `expected` describes a valid element.
/// `mentions = ["<@&ROLE_ID>", "<@USER_ID>"]`; a bad one names its watch,
/// since a role id alone does not say which watch pings it.
fn mentions(key: &str, watch: &str, values: &[Value]) -> Result<Vec<Mention>, ConfigError> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let parsed = match v {
            Value::String(s) => s.trim().parse::<Mention>(),
            other => Err(format!("expected \"<@&ROLE_ID>\" or \"<@USER_ID>\", got {}", show(other))),
        };
        let m = parsed.map_err(|e| invalid(&format!("{key}[{i}]"), format!("watch {watch:?}: {e}")))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

fn words<T>(key: &str, values: &[Value], expected: &str) -> Result<Vec<T>, ConfigError>
where
    T: FromStr<Err = String> + PartialEq,
{
    let mut out: Vec<T> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let k = format!("{key}[{i}]");
        let word = match v {
            Value::String(s) => s.trim().parse::<T>().map_err(|e| invalid(&k, e))?,
            other => return Err(invalid(&k, format!("expected {expected}, got {}", show(other)))),
        };
        if !out.contains(&word) {
            out.push(word);
        }
    }
    Ok(out)
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

/// A schedule horizon: a duration such as `"7d"`, or `"off"` (`None`).
fn horizon(key: &str, value: &Value) -> Result<Option<Duration>, ConfigError> {
    match value {
        Value::String(s) if s.trim().eq_ignore_ascii_case("off") => Ok(None),
        Value::String(s) => reminder(key, s.trim()).map(Some),
        other => Err(invalid(key, format!("expected a duration like \"7d\" or \"off\", got {}", show(other)))),
    }
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
    crate::tz::parse_timezone(text).map_err(|unknown| {
        let hint = match unknown.close.as_slice() {
            [] => "expected an IANA name such as \"Europe/Berlin\" or \"UTC\"".to_owned(),
            close => format!("did you mean {}?", close.join(", ")),
        };
        invalid(key, format!("unknown timezone {text:?} ({hint})"))
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
