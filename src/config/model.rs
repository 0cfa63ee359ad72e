//! The effective configuration: the typed, validated values the rest of the
//! bot reads, and their defaults. Plain data: it must not parse, validate or
//! print (see `validate`, `diagnostics` and `render` beside it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use crate::rules::{DigestSchedule, QuietHours};
use crate::types::{AlertKind, Destination, Feed, ItemKind, Mention, Secret, Style};

/// Environment variable that overrides `[ll2] api_key` when set and non-empty.
pub(crate) const ENV_LL2_API_KEY: &str = "TMINUS_LL2_API_KEY";
/// Environment variable that overrides `[telegram] token` when set and non-empty.
pub(crate) const ENV_TELEGRAM_TOKEN: &str = "TMINUS_TELEGRAM_TOKEN";
/// Environment variable that overrides `[discord] token` when set and non-empty.
pub(crate) const ENV_DISCORD_TOKEN: &str = "TMINUS_DISCORD_TOKEN";
/// Environment variable that overrides `[webhook] secret` when set and non-empty.
pub(crate) const ENV_WEBHOOK_SECRET: &str = "TMINUS_WEBHOOK_SECRET";
/// Environment variable that overrides `[ntfy] token` when set and non-empty.
pub(crate) const ENV_NTFY_TOKEN: &str = "TMINUS_NTFY_TOKEN";

/// `[ll2] base_url` when unset: the public LL2 2.3.0 API.
pub(crate) const DEFAULT_LL2_BASE_URL: &str = "https://ll.thespacedevs.com/2.3.0";
/// `[news] base_url` when unset.
pub(crate) const DEFAULT_NEWS_BASE_URL: &str = "https://api.spaceflightnewsapi.net/v4";
/// `[news] requests_per_hour` when unset.
pub(crate) const DEFAULT_NEWS_REQUESTS_PER_HOUR: u32 = 12;
/// Anonymous LL2 access allows about 15 requests an hour.
pub(crate) const DEFAULT_REQUESTS_PER_HOUR: u32 = 15;
/// `[ll2] resweep_interval` when unset.
pub(crate) const DEFAULT_RESWEEP_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// `[ll2] timeout` when unset, per HTTP request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `[ll2] max_body_bytes` when unset.
pub(crate) const DEFAULT_MAX_BODY_BYTES: u64 = 20_000_000;
/// `[store] path` when unset, relative to the working directory.
pub(crate) const DEFAULT_STORE_PATH: &str = "data";
/// `[alerts] reminders` when unset: 24h, 1h and 10m before T-0.
pub(crate) const DEFAULT_REMINDERS: [Duration; 3] =
    [Duration::from_secs(24 * 3600), Duration::from_secs(3600), Duration::from_secs(10 * 60)];
/// `[alerts] reminder_grace` when unset.
pub(crate) const DEFAULT_REMINDER_GRACE: Duration = Duration::from_secs(15 * 60);
/// A week: the README says why.
pub(crate) const DEFAULT_SCHEDULE_HORIZON: Duration = Duration::from_secs(7 * 86_400);
/// `[telegram] api_url` when unset.
pub(crate) const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
/// `[discord] api_url` when unset.
pub(crate) const DEFAULT_DISCORD_API_URL: &str = "https://discord.com";
/// `[server] health_max_age` when unset.
pub(crate) const DEFAULT_HEALTH_MAX_AGE: Duration = Duration::from_secs(3600);
/// `[store] retention`: 30 days keeps a month of history for edits and
/// debugging while the store stays a few megabytes.
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// `[delivery] max_age` when unset.
pub(crate) const DEFAULT_DELIVERY_MAX_AGE: Duration = Duration::from_secs(6 * 3600);
/// `[discord] events_window` when unset.
pub(crate) const DEFAULT_EVENTS_WINDOW: Duration = Duration::from_secs(14 * 86_400);

/// The effective configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[ll2]`: where and how often to poll Launch Library 2.
    pub ll2: Ll2Config,
    /// `[store]`: the sled database.
    pub store: StoreConfig,
    /// `[alerts]`: defaults for what alerts and reminders are sent.
    pub alerts: AlertsConfig,
    /// `[telegram]`: the Telegram bot.
    pub telegram: TelegramConfig,
    /// `[discord]`: the Discord bot and REST API.
    pub discord: DiscordConfig,
    /// `[webhook]`: how `webhook:` bodies are signed.
    pub webhook: WebhookConfig,
    /// `[ntfy]`: the token `ntfy:` destinations publish with.
    pub ntfy: NtfyConfig,
    /// `[log]`: log output.
    pub log: LogConfig,
    /// `[server]`: the HTTP server (health, metrics, calendars).
    pub server: ServerConfig,
    /// `[delivery]`: retry limits.
    pub(crate) delivery: DeliverySettings,
    /// The `[[watch]]` tables, in file order.
    pub watches: Vec<Watch>,
    /// `[news]`: the Spaceflight News API feed (the `news` alert kind).
    pub news: NewsConfig,
}

/// `[news]`: articles of the Spaceflight News API, sent as `news` alerts.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewsConfig {
    /// Without trailing slash, e.g. `https://api.spaceflightnewsapi.net/v4`.
    pub base_url: String,
    /// SNAPI requests per sliding hour (its own budget, not LL2's).
    pub(crate) requests_per_hour: u32,
    /// `Some`: forced on or off; `None` (unset): polled only while some
    /// watch or chat chose `news`.
    pub(crate) enabled: Option<bool>,
}

/// `[ll2]`: the Launch Library 2 API and how the poller uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ll2Config {
    /// Without trailing slash, e.g. `https://ll.thespacedevs.com/2.3.0`.
    pub base_url: String,
    /// Empty = anonymous access.
    pub api_key: Secret,
    /// Request budget shared by all feeds.
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

/// `[store]`: where the sled database lives and how long it keeps history.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Directory of the sled database.
    pub path: PathBuf,
    /// Delivered records, old alerts, dead letters, reminder marks and
    /// snapshots of past items are pruned after this long.
    pub(crate) retention: Duration,
}

/// `[alerts]`: defaults for subscriptions that do not set their own.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// Alert on what a feed's first sync finds; otherwise that sync only fills the store.
    pub on_first_sync: bool,
    /// Distinct, non-zero, longest first. Empty means no reminders.
    pub(crate) reminders: Vec<Duration>,
    /// Zone that rendered dates and times are shown in.
    pub(crate) timezone: Tz,
    /// `reminder_grace`, default 15m: a reminder whose moment passed longer
    /// ago than this (bot was down) is skipped.
    pub(crate) reminder_grace: Duration,
    /// `schedule_horizon`, default 7d: schedule changes alert only while
    /// the old or the new date is this close. `None` ("off"): always.
    pub(crate) schedule_horizon: Option<Duration>,
}

/// `[telegram]`: the Telegram bot.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    /// Empty = Telegram off.
    pub token: Secret,
    /// Without trailing slash.
    pub api_url: String,
    /// Send with `allow_paid_broadcast` and pace to Telegram's paid limit
    /// (1000 messages/s) instead of the free 30/s. Every message above the
    /// free limit costs Telegram Stars from the bot's balance.
    pub paid_broadcast: bool,
}

/// `[discord]`: the Discord bot, its REST API and scheduled events.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordConfig {
    /// Empty = Discord bot off (webhook destinations still work).
    pub token: Secret,
    /// Without trailing slash; REST requests go to `{api_url}/api/v10/...`.
    pub api_url: String,
    /// Guild to register the slash commands in; `None`: registered globally.
    pub guild_id: Option<u64>,
    /// 64 lowercase hex characters when set.
    pub(crate) public_key: Option<String>,
    /// `events_window`, default 14d: `discord-events:` destinations mirror
    /// items this far ahead.
    pub(crate) events_window: Duration,
}

impl DiscordConfig {
    /// Whether a token is set, i.e. the Discord bot runs.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.token.is_empty()
    }
}

/// `[webhook]`: settings of every `webhook:` destination.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookConfig {
    /// HMAC-SHA256 key of `X-Tminus-Signature-256`; empty = unsigned.
    pub(crate) secret: Secret,
}

/// `[ntfy]`: settings of every `ntfy:` destination.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NtfyConfig {
    /// Sent as `Authorization: Bearer`; empty = anonymous.
    pub(crate) token: Secret,
}

/// `[log] format`: how log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The spelling used in the config file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// `[log]`: log output.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
}

/// `[server]`: the HTTP server for health, metrics and calendars.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerConfig {
    /// Address to listen on; `None`: no server.
    pub(crate) listen: Option<SocketAddr>,
    /// `health_max_age`, default 1h: `/healthz` answers 503 when a feed's
    /// last successful poll is older (never less than two poll intervals).
    pub health_max_age: Duration,
    /// `public_url`: how users reach the server (calendar links), an
    /// http(s) URL without trailing slash.
    pub(crate) public_url: Option<String>,
}

/// `[delivery]`: how long an alert may keep failing before it is given up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeliverySettings {
    /// `max_age`, default 6h: a delivery still failing this long after its
    /// alert was created moves to the dead letters.
    pub(crate) max_age: Duration,
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
    /// Agencies to match, same form as `types`.
    pub agencies: Vec<String>,
    /// Programs to match, same form as `types`.
    pub programs: Vec<String>,
    /// Types that exclude an item even if it matches, same form as `types`.
    pub exclude_types: Vec<String>,
    /// Agencies that exclude an item, same form as `types`.
    pub exclude_agencies: Vec<String>,
    /// Programs that exclude an item, same form as `types`.
    pub exclude_programs: Vec<String>,
    /// Never empty, no duplicates.
    pub alerts: Vec<AlertKind>,
    /// Zone its alerts show dates and times in; default `[alerts].timezone`.
    pub timezone: Tz,
    /// Distinct, non-zero, longest first. Empty means no reminders.
    pub reminders: Vec<Duration>,
    /// Default: `[alerts].schedule_horizon`; `None` ("off"): always.
    pub schedule_horizon: Option<Duration>,
    /// Discord roles and users its `discord:` and `discord-webhook:`
    /// alerts ping. No duplicates.
    pub mentions: Vec<Mention>,
    /// `"HH:MM-HH:MM"` in `timezone`: every alert in the span goes out
    /// without a sound. `None`: no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// Alert kinds always sent without a sound. No duplicates.
    pub silent: Vec<AlertKind>,
    /// `"card"`: one live card per launch on its day, edited in place;
    /// `"messages"` (default): a message per alert.
    pub style: Style,
    /// `"daily HH:MM"` or `"weekly DAY HH:MM"` in `timezone`: one message
    /// listing what the watch selects in the next 24 h or 7 days. `None`:
    /// no digest.
    pub digest: Option<DigestSchedule>,
}

impl Config {
    /// The configuration used when no file exists and no environment variable
    /// is set.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn default_config() -> Config {
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
            store: StoreConfig { path: PathBuf::from(DEFAULT_STORE_PATH), retention: DEFAULT_RETENTION },
            alerts: AlertsConfig {
                on_first_sync: false,
                reminders: DEFAULT_REMINDERS.to_vec(),
                timezone: Tz::UTC,
                reminder_grace: DEFAULT_REMINDER_GRACE,
                schedule_horizon: Some(DEFAULT_SCHEDULE_HORIZON),
            },
            telegram: TelegramConfig {
                token: Secret::default(),
                api_url: DEFAULT_TELEGRAM_API_URL.to_owned(),
                paid_broadcast: false,
            },
            discord: DiscordConfig {
                token: Secret::default(),
                api_url: DEFAULT_DISCORD_API_URL.to_owned(),
                guild_id: None,
                public_key: None,
                events_window: DEFAULT_EVENTS_WINDOW,
            },
            webhook: WebhookConfig::default(),
            ntfy: NtfyConfig::default(),
            log: LogConfig { format: LogFormat::Text },
            server: ServerConfig { listen: None, health_max_age: DEFAULT_HEALTH_MAX_AGE, public_url: None },
            delivery: DeliverySettings { max_age: DEFAULT_DELIVERY_MAX_AGE },
            watches: Vec::new(),
            news: NewsConfig {
                base_url: DEFAULT_NEWS_BASE_URL.to_owned(),
                requests_per_hour: DEFAULT_NEWS_REQUESTS_PER_HOUR,
                enabled: None,
            },
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::default_config()
    }
}
