//! Small shared vocabulary types: feeds, item ids, watermarks, alert kinds,
//! destinations, durations and secrets. Pure data with parsing and display;
//! nothing here does I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One LL2 collection that tminus polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feed {
    /// LL2 `/events/`: dockings, EVAs, landings and the like.
    Events,
    /// LL2 `/launches/`.
    Launches,
}

impl Feed {
    /// Every feed, in polling order.
    pub const ALL: [Feed; 2] = [Feed::Events, Feed::Launches];

    /// The name used in the config and the store.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Feed::Events => "events",
            Feed::Launches => "launches",
        }
    }

    /// The kind of item this feed yields.
    pub fn kind(self) -> ItemKind {
        match self {
            Feed::Events => ItemKind::Event,
            Feed::Launches => ItemKind::Launch,
        }
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Feed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "events" => Ok(Feed::Events),
            "launches" => Ok(Feed::Launches),
            _ => Err(format!("unknown feed {s:?} (expected \"events\" or \"launches\")")),
        }
    }
}

/// What an item is: an LL2 event (docking, EVA, flyby, landing…) or a launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// An LL2 event.
    Event,
    /// An LL2 launch.
    Launch,
}

impl ItemKind {
    /// The name used in the config, commands and store keys.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ItemKind::Event => "event",
            ItemKind::Launch => "launch",
        }
    }

    /// The feed that yields items of this kind.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn feed(self) -> Feed {
        match self {
            ItemKind::Event => Feed::Events,
            ItemKind::Launch => Feed::Launches,
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "event" | "events" => Ok(ItemKind::Event),
            "launch" | "launches" => Ok(ItemKind::Launch),
            _ => Err(format!("unknown kind {s:?} (expected \"event\" or \"launch\")")),
        }
    }
}

/// Identity of an LL2 item. Event ids are integers and launch ids UUIDs in
/// LL2; both are kept as text so one type covers both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId {
    /// Event or launch.
    pub kind: ItemKind,
    /// LL2's id as text: an integer for events, a UUID for launches.
    pub id: String,
}

impl ItemId {
    /// An id of the given kind.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(kind: ItemKind, id: impl Into<String>) -> Self {
        ItemId { kind, id: id.into() }
    }

    /// Key used in the store: `launch/<uuid>` or `event/<n>`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.id)
    }
}

/// The newest `last_updated` of a feed that has been fully processed. It comes
/// from LL2's data, never from the local clock, so clock skew cannot hide edits.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Watermark(pub DateTime<Utc>);

impl Watermark {
    /// The form LL2 accepts in `last_updated__gte`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn to_query(self) -> String {
        self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    }
}

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// The item was seen for the first time.
    New,
    /// Its date (NET), the date's precision or its window moved.
    Schedule,
    /// Its status changed.
    Status,
    /// A webcast went live or was added.
    Webcast,
    /// A configured time before T-0 was reached (see `[alerts] reminders`).
    Reminder,
    /// A news article about the item (Spaceflight News API, see `news`).
    /// Opt-in: not in [`AlertKind::ALL`], so no default list holds it and
    /// records written before it existed read as they did.
    News,
}

impl AlertKind {
    /// The kinds heard by default (and by `/alerts all`), in the order
    /// commands and the config list them: every kind but the opt-in `news`.
    pub const ALL: [AlertKind; 5] =
        [AlertKind::New, AlertKind::Schedule, AlertKind::Status, AlertKind::Webcast, AlertKind::Reminder];

    /// Every kind one may choose: [`AlertKind::ALL`] and the opt-in `news`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) const CHOOSABLE: [AlertKind; 6] = [
        AlertKind::New,
        AlertKind::Schedule,
        AlertKind::Status,
        AlertKind::Webcast,
        AlertKind::Reminder,
        AlertKind::News,
    ];

    /// The name used in the config, commands and the store.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertKind::New => "new",
            AlertKind::Schedule => "schedule",
            AlertKind::Status => "status",
            AlertKind::Webcast => "webcast",
            AlertKind::Reminder => "reminder",
            AlertKind::News => "news",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AlertKind::CHOOSABLE.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown alert kind {s:?} (expected new, schedule, status, webcast, reminder or news)")
        })
    }
}

/// A Telegram chat id (negative for groups and channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatId(pub i64);

/// A forum topic of a Telegram supergroup (`message_thread_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThreadId(pub i32);

/// A public Telegram channel's username, without the `@`, lowercased
/// (Telegram usernames are case-insensitive, so one channel has one key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelName(String);

impl ChannelName {
    /// Telegram's username rules: 5 to 32 of `a-z`, `0-9` and `_`,
    /// starting with a letter.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn parse(s: &str) -> Result<ChannelName, String> {
        let name = s.strip_prefix('@').unwrap_or(s);
        let ok = (5..=32).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(ChannelName(name.to_ascii_lowercase()))
        } else {
            Err(format!("{s:?} is not a channel username (5 to 32 letters, digits or _, starting with a letter)"))
        }
    }

    /// The form the Bot API takes as `chat_id`: `@name`.
    pub(crate) fn handle(&self) -> String {
        format!("@{}", self.0)
    }
}

/// A Discord channel snowflake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelId(pub u64);

/// Someone a Discord alert pings: a role (`<@&ID>`) or a user (`<@ID>`).
/// Only these, named in the config or by a chat admin, are ever allowed to
/// ping; nothing in LL2's text can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mention {
    /// A Discord role, by id.
    Role(u64),
    /// A Discord user, by id.
    User(u64),
}

impl fmt::Display for Mention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mention::Role(id) => write!(f, "<@&{id}>"),
            Mention::User(id) => write!(f, "<@{id}>"),
        }
    }
}

impl FromStr for Mention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad mention {s:?} (expected \"<@&ROLE_ID>\" or \"<@USER_ID>\")");
        let inner = s.trim().strip_prefix("<@").and_then(|r| r.strip_suffix('>')).ok_or_else(bad)?;
        let (role, id) = match inner.strip_prefix('&') {
            Some(id) => (true, id),
            None => (false, inner.strip_prefix('!').unwrap_or(inner)),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match id.parse::<u64>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(id) if role => Ok(Mention::Role(id)),
            Ok(id) => Ok(Mention::User(id)),
        }
    }
}

/// A value that must never reach a log line or an error message: tokens, the
/// LL2 API key, Discord webhook URLs. `Debug` and `Display` print a mask.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value; empty means not set.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The raw value, for the one place that must send it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no value is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// Where alerts of a subscription go. The text form is the one users write
/// in `config.toml`: `console`, `telegram:CHAT_ID`, `telegram:CHAT_ID/THREAD_ID`
/// (a forum topic), `telegram:@channel`, `discord:CHANNEL_ID`,
/// `discord-webhook:URL`, `calendar:NAME`, `discord-events:GUILD_ID`,
/// `webhook:URL`, `ntfy:URL`, `slack:URL`.
///
/// Topics and channels are variants of their own rather than fields of
/// `Telegram`, so stored records of plain chats read and key as before, and
/// a topic is a destination of its own: what disables or migrates a topic
/// leaves the rest of its group alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Destination {
    /// Standard output of the bot process.
    Console,
    /// A Telegram chat, by id.
    Telegram(ChatId),
    /// One forum topic of a Telegram group.
    TelegramTopic(ChatId, ThreadId),
    /// A public Telegram channel, by its @name.
    TelegramChannel(ChannelName),
    /// A Discord channel, sent to by the bot.
    Discord(ChannelId),
    /// A Discord webhook URL; secret because it grants posting.
    DiscordWebhook(Secret),
    /// An iCalendar feed served at `/calendar/NAME.ics`; its name is
    /// URL-safe (letters, digits, `-`, `_`).
    Calendar(String),
    /// A Discord guild whose scheduled events mirror the matching items.
    DiscordEvents(GuildId),
    /// An HTTP endpoint that receives tminus's versioned JSON
    /// (`hooks::webhook`); secret because such URLs often carry a token.
    Webhook(Secret),
    /// An ntfy topic URL (ntfy.sh or self-hosted); secret because a topic
    /// name is what lets anyone publish to it.
    Ntfy(Secret),
    /// A Slack incoming-webhook URL; secret because it grants posting.
    Slack(Secret),
}

/// The kind of a [`Destination`]: which sender handles it. Senders are
/// registered by it (`deliver::Senders::with`), and delivery's per-kind
/// bounds and metrics are kept by it, so delivery names no platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// [`Destination::Console`].
    Console,
    /// Telegram chats, topics and channels.
    Telegram,
    /// [`Destination::Discord`]: the Discord bot.
    Discord,
    /// [`Destination::DiscordWebhook`].
    DiscordWebhook,
    /// [`Destination::Calendar`].
    Calendar,
    /// [`Destination::DiscordEvents`].
    DiscordEvents,
    /// [`Destination::Webhook`].
    Webhook,
    /// [`Destination::Ntfy`].
    Ntfy,
    /// [`Destination::Slack`].
    Slack,
}

impl Platform {
    /// Its name in config (`telegram`, `discord-webhook`, ...), metrics
    /// labels, logs and the status page.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::DiscordWebhook => "discord-webhook",
            Platform::Calendar => "calendar",
            Platform::DiscordEvents => "discord-events",
            Platform::Webhook => "webhook",
            Platform::Ntfy => "ntfy",
            Platform::Slack => "slack",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Discord guild (server) snowflake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GuildId(pub u64);

impl Destination {
    /// The Telegram chat a destination posts into, when it is known by id
    /// (a chat or one of its topics).
    pub(crate) fn telegram_chat(&self) -> Option<ChatId> {
        match self {
            Destination::Telegram(c) | Destination::TelegramTopic(c, _) => Some(*c),
            _ => None,
        }
    }

    /// A Telegram chat, or the topic `thread` of it.
    pub(crate) fn telegram(chat: ChatId, thread: Option<ThreadId>) -> Destination {
        match thread {
            Some(t) => Destination::TelegramTopic(chat, t),
            None => Destination::Telegram(chat),
        }
    }

    /// Which sender handles it; its [`Platform::as_str`] is the metrics label.
    pub(crate) fn platform(&self) -> Platform {
        match self {
            Destination::Console => Platform::Console,
            Destination::Telegram(_) | Destination::TelegramTopic(..) | Destination::TelegramChannel(_) => {
                Platform::Telegram
            }
            Destination::Discord(_) => Platform::Discord,
            Destination::DiscordWebhook(_) => Platform::DiscordWebhook,
            Destination::Calendar(_) => Platform::Calendar,
            Destination::DiscordEvents(_) => Platform::DiscordEvents,
            Destination::Webhook(_) => Platform::Webhook,
            Destination::Ntfy(_) => Platform::Ntfy,
            Destination::Slack(_) => Platform::Slack,
        }
    }

    /// Whether alerts are sent to it as messages. Calendars and guild
    /// events are mirrors of the store's items, kept by the calendar sync
    /// (see `crate::calendar`), so alerts routed to them need no delivery.
    pub(crate) fn takes_messages(&self) -> bool {
        !matches!(self, Destination::Calendar(_) | Destination::DiscordEvents(_))
    }

    /// Stable key for grouping and storage. Contains the webhook URL, so it is
    /// for the store only, never for logs (use `Display` there).
    pub(crate) fn storage_key(&self) -> String {
        match self {
            Destination::Console => "console".into(),
            Destination::Telegram(c) => format!("telegram:{}", c.0),
            Destination::TelegramTopic(c, t) => format!("telegram:{}/{}", c.0, t.0),
            Destination::TelegramChannel(name) => format!("telegram:{}", name.handle()),
            Destination::Discord(c) => format!("discord:{}", c.0),
            Destination::DiscordWebhook(u) => format!("discord-webhook:{}", u.expose()),
            Destination::Calendar(name) => format!("calendar:{name}"),
            Destination::DiscordEvents(g) => format!("discord-events:{}", g.0),
            Destination::Webhook(u) | Destination::Ntfy(u) | Destination::Slack(u) => {
                format!("{}:{}", self.platform().as_str(), u.expose())
            }
        }
    }
}

/// Log-safe form: webhook URLs are masked. The URLs of `webhook:`, `ntfy:`
/// and `slack:` keep their host (`ntfy:*** (ntfy.sh)`), which tells two
/// apart without granting anything; the form does not parse back, so a
/// masked destination is never mistaken for a real one.
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::DiscordWebhook(_) => f.write_str("discord-webhook:***"),
            Destination::Webhook(u) | Destination::Ntfy(u) | Destination::Slack(u) => {
                let host = url::Url::parse(u.expose()).ok().and_then(|u| u.host_str().map(str::to_owned));
                write!(f, "{}:*** ({})", self.platform(), host.as_deref().unwrap_or("?"))
            }
            other => f.write_str(&other.storage_key()),
        }
    }
}

impl FromStr for Destination {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "console" {
            return Ok(Destination::Console);
        }
        let Some((platform, rest)) = s.split_once(':') else {
            return Err(format!(
                "malformed destination {s:?} (expected console, telegram:CHAT_ID, discord:CHANNEL_ID, discord-webhook:URL, calendar:NAME, discord-events:GUILD_ID, webhook:URL, ntfy:URL or slack:URL)"
            ));
        };
        match platform {
            "telegram" => parse_telegram(rest).map_err(|why| format!("malformed destination {s:?}: {why}")),
            "discord" => rest
                .parse::<u64>()
                .map(|id| Destination::Discord(ChannelId(id)))
                .map_err(|_| format!("malformed destination {s:?}: discord channel id must be a positive integer")),
            "discord-webhook" => {
                let url = url::Url::parse(rest)
                    .map_err(|_| "malformed destination \"discord-webhook:***\": not a URL".to_string())?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err("malformed destination \"discord-webhook:***\": URL must be http(s) with a host".into());
                }
                Ok(Destination::DiscordWebhook(Secret::new(rest)))
            }
            "calendar" => {
                let ok = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if ok {
                    Ok(Destination::Calendar(rest.to_string()))
                } else {
                    Err(format!(
                        "malformed destination {s:?}: a calendar name is 1-64 letters, digits, '-' or '_' (it becomes /calendar/NAME.ics)"
                    ))
                }
            }
            "discord-events" => rest
                .parse::<u64>()
                .map(|id| Destination::DiscordEvents(GuildId(id)))
                .map_err(|_| format!("malformed destination {s:?}: discord guild id must be a positive integer")),
            "webhook" => parse_hook_url("webhook", rest).map(Destination::Webhook),
            "ntfy" => parse_hook_url("ntfy", rest).map(Destination::Ntfy),
            "slack" => parse_hook_url("slack", rest).map(Destination::Slack),
            _ => Err(format!(
                "malformed destination {s:?} (expected console, telegram:CHAT_ID, discord:CHANNEL_ID, discord-webhook:URL, calendar:NAME, discord-events:GUILD_ID, webhook:URL, ntfy:URL or slack:URL)"
            )),
        }
    }
}

/// The URL of a `webhook:`, `ntfy:` or `slack:` destination, checked
/// strictly: an absolute http(s) URL with a host, https unless the host is
/// loopback (a body sent in clear text could be read and replayed on the
/// way), and for ntfy a topic path. Errors never repeat the URL.
fn parse_hook_url(platform: &str, rest: &str) -> Result<Secret, String> {
    let bad = |why: &str| format!("malformed destination \"{platform}:***\": {why}");
    let url = url::Url::parse(rest.trim()).map_err(|_| bad("not a URL"))?;
    let Some(host) = url.host() else {
        return Err(bad("the URL must be http(s) with a host"));
    };
    let loopback = match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("the URL must be https (plain http is allowed only to a loopback host)")),
        _ => return Err(bad("the URL must be http(s) with a host")),
    }
    let topic = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("");
    if platform == "ntfy" && topic.is_empty() {
        return Err(bad("an ntfy URL names its topic, like https://ntfy.sh/my-topic"));
    }
    Ok(Secret::new(rest.trim()))
}

/// `CHAT_ID`, `CHAT_ID/THREAD_ID` or `@channel`.
fn parse_telegram(rest: &str) -> Result<Destination, String> {
    if rest.starts_with('@') {
        return ChannelName::parse(rest).map(Destination::TelegramChannel);
    }
    let (chat, thread) = match rest.split_once('/') {
        Some((chat, thread)) => (chat, Some(thread)),
        None => (rest, None),
    };
    let chat = ChatId(chat.parse::<i64>().map_err(|_| "telegram chat id must be an integer".to_string())?);
    match thread {
        None => Ok(Destination::Telegram(chat)),
        // Topics exist only in supergroups, whose ids are negative.
        Some(_) if chat.0 >= 0 => Err("forum topics exist only in groups (negative chat ids)".into()),
        Some(t) => match t.parse::<i32>() {
            Ok(t) if t > 0 => Ok(Destination::TelegramTopic(chat, ThreadId(t))),
            _ => Err("telegram topic id must be a positive integer".into()),
        },
    }
}

/// Parses the durations users write: `90s`, `10m`, `1h`, `24h`, `2d`, and
/// combinations like `1h30m`.
///
/// Hand-written rather than `humantime` on purpose: humantime formats
/// `1h 30m` (so `check-config` output would change and no longer match what
/// users wrote) and accepts more than the documented units (`6 hours`, `5y`,
/// `1month`), which the config and chat commands reject with a hint.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration (expected e.g. \"10m\", \"1h\", \"24h\")".into());
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("bad duration {s:?} (expected e.g. \"10m\", \"1h\", \"24h\")")),
        };
        let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?} (expected e.g. \"10m\", \"1h\", \"24h\")"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} is too large"))?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("bad duration {s:?}: missing unit (s, m, h or d)"));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way `parse_duration` reads it: `1h30m`, `10m`, `2d`.
pub(crate) fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// Serde for lists of durations as whole seconds (the store's form).
pub(crate) mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(Duration::as_secs))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?.into_iter().map(Duration::from_secs).collect())
    }
}

/// Serde for an optional `Duration` as whole seconds.
pub(crate) mod opt_duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_is_named_as_its_destinations_are_written() {
        for (text, platform) in [
            ("console", Platform::Console),
            ("telegram:5", Platform::Telegram),
            ("telegram:-1005/7", Platform::Telegram),
            ("telegram:@tminus_news", Platform::Telegram),
            ("discord:1", Platform::Discord),
            ("discord-webhook:https://discord.test/api/webhooks/1/x", Platform::DiscordWebhook),
            ("calendar:ops", Platform::Calendar),
            ("discord-events:1", Platform::DiscordEvents),
            ("webhook:https://hooks.test/in", Platform::Webhook),
            ("ntfy:https://ntfy.sh/launches", Platform::Ntfy),
            ("slack:https://hooks.slack.test/services/x", Platform::Slack),
        ] {
            let dest: Destination = text.parse().unwrap();
            assert_eq!(dest.platform(), platform, "{text}");
            assert_eq!(text.split(':').next(), Some(platform.as_str()), "metrics and status-page label of {text}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for (text, secs) in [("10m", 600), ("1h", 3600), ("24h", 86_400), ("1h30m", 5400), ("45s", 45)] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.as_secs(), secs);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        for bad in ["", "10", "ten minutes", "5y", "h", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn destinations_parse_and_mask() {
        assert_eq!("console".parse::<Destination>().unwrap(), Destination::Console);
        assert_eq!(
            "telegram:-1001234567890".parse::<Destination>().unwrap(),
            Destination::Telegram(ChatId(-1001234567890))
        );
        assert_eq!(
            "discord:112233445566778899".parse::<Destination>().unwrap(),
            Destination::Discord(ChannelId(112233445566778899))
        );
        let hook: Destination = "discord-webhook:https://discord.com/api/webhooks/1/SECRET".parse().unwrap();
        assert!(!hook.to_string().contains("SECRET"));
        assert!(!format!("{hook:?}").contains("SECRET"));
        assert_eq!("calendar:spacex".parse::<Destination>().unwrap(), Destination::Calendar("spacex".into()));
        assert_eq!("discord-events:42".parse::<Destination>().unwrap(), Destination::DiscordEvents(GuildId(42)));
        assert_eq!(Destination::DiscordEvents(GuildId(42)).to_string(), "discord-events:42");
        assert_eq!(
            "telegram:-1001234567890/77".parse::<Destination>().unwrap(),
            Destination::TelegramTopic(ChatId(-1001234567890), ThreadId(77))
        );
        let channel: Destination = "telegram:@SpaceNews".parse().unwrap();
        assert_eq!(channel.to_string(), "telegram:@spacenews");
        assert_eq!("telegram:-100/77".parse::<Destination>().unwrap().storage_key(), "telegram:-100/77");
        // Plain chats keep the key their stored records were written under.
        assert_eq!(Destination::Telegram(ChatId(-100)).storage_key(), "telegram:-100");
        for bad in [
            "telegram:abc",
            "discord:-5",
            "slack:1",
            "discord-webhook:notaurl",
            "telegram",
            "calendar:",
            "calendar:a/b",
            "calendar:a.ics",
            "discord-events:x",
            "telegram:42/7",
            "telegram:-100/0",
            "telegram:-100/x",
            "telegram:@ab",
            "telegram:@9news",
            "telegram:@bad-name",
        ] {
            assert!(bad.parse::<Destination>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn hook_destinations_are_strict_and_masked() {
        let hook: Destination = "webhook:https://hooks.example.com/t/SECRET".parse().unwrap();
        assert_eq!(hook, Destination::Webhook(Secret::new("https://hooks.example.com/t/SECRET")));
        assert_eq!(hook.platform().as_str(), "webhook");
        assert_eq!(hook.to_string(), "webhook:*** (hooks.example.com)");
        assert!(!format!("{hook:?}").contains("SECRET"));
        assert!(hook.to_string().parse::<Destination>().is_err(), "the masked form is no destination");
        assert_eq!(hook.storage_key(), "webhook:https://hooks.example.com/t/SECRET");
        let ntfy: Destination = "ntfy:https://ntfy.sh/launches-SECRET".parse().unwrap();
        assert_eq!((ntfy.platform().as_str(), ntfy.to_string().as_str()), ("ntfy", "ntfy:*** (ntfy.sh)"));
        let slack: Destination = "slack:https://hooks.slack.com/services/T0/B0/SECRET".parse().unwrap();
        assert_eq!(slack.platform().as_str(), "slack");
        for local in
            ["webhook:http://127.0.0.1:8123/api/webhook/x", "ntfy:http://localhost/t", "slack:http://[::1]:9/x"]
        {
            assert!(local.parse::<Destination>().is_ok(), "{local}: http is fine on loopback");
        }
        let http = "webhook:http://hooks.example.com/SECRET".parse::<Destination>().unwrap_err();
        assert!(http.contains("must be https") && !http.contains("SECRET"), "{http}");
        let topicless = "ntfy:https://ntfy.sh/".parse::<Destination>().unwrap_err();
        assert!(topicless.contains("topic"), "{topicless}");
        for bad in
            ["webhook:SECRET", "slack:ftp://x/SECRET", "ntfy:https://ntfy.sh", "webhook:", "slack:http://10.0.0.1/x"]
        {
            let e = bad.parse::<Destination>().unwrap_err();
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn mentions_parse_and_print() {
        assert_eq!("<@&42>".parse::<Mention>().unwrap(), Mention::Role(42));
        assert_eq!("<@7>".parse::<Mention>().unwrap(), Mention::User(7));
        assert_eq!("<@!7>".parse::<Mention>().unwrap(), Mention::User(7));
        assert_eq!(Mention::Role(42).to_string(), "<@&42>");
        for bad in ["@everyone", "<@&>", "<@&x1>", "<#5>", "<@0>", "<@&-1>", "42", "<@&99999999999999999999999>"] {
            assert!(bad.parse::<Mention>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn old_telegram_records_still_read() {
        let old: Destination = serde_json::from_str(r#"{"Telegram":-100}"#).unwrap();
        assert_eq!(old, Destination::Telegram(ChatId(-100)));
        for d in ["telegram:-100/77", "telegram:@spacenews"] {
            let d: Destination = d.parse().unwrap();
            assert_eq!(serde_json::from_str::<Destination>(&serde_json::to_string(&d).unwrap()).unwrap(), d);
        }
    }

    #[test]
    fn watermark_query_form() {
        let w = Watermark("2025-08-26T01:06:39Z".parse().unwrap());
        assert_eq!(w.to_query(), "2025-08-26T01:06:39Z");
    }
}

/// How a destination hears about a launch on its launch day (`style`
/// per watch, `/style` per chat): a message per alert, or one live card
/// edited in place (see `deliver::card`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// One message per alert.
    #[default]
    Messages,
    /// From the first alert within 24 h of T-0, one card per launch,
    /// edited as it changes; only reminders, liftoff and the result add a
    /// short reply.
    Card,
}

impl Style {
    /// The name used in the config, commands and the store.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Style::Messages => "messages",
            Style::Card => "card",
        }
    }

    /// Whether it is the default (records leave it out).
    pub(crate) fn is_messages(&self) -> bool {
        *self == Style::Messages
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Style::Messages, Style::Card]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown style {s:?} (expected \"card\" or \"messages\")"))
    }
}
