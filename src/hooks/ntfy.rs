//! `ntfy:URL`: a push through ntfy (ntfy.sh or a self-hosted server),
//! published to the topic URL with a plain-text body and ntfy's headers:
//! `Title` (the headline and the item), `Click` (its page for people,
//! from `links.rs`), `Priority` (by alert kind; low when the deliverer
//! decided the alert is silent: quiet hours, silent kinds), `Tags` (an
//! emoji and the kind) and `Actions` (a view button for the webcast).
//! `[ntfy] token` is sent as a Bearer token. ntfy's 429 is honoured like
//! every hook's (see the parent module).
//!
//! Headers are ASCII: a title with other characters is sent RFC 2047
//! encoded (`=?UTF-8?B?...?=`), which ntfy decodes.

use base64::Engine as _;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::{HookClient, HookPost, HookSettings, SetupError, header_value, wrong_destination};
use crate::deliver::{AlertExtras, BoxFuture, SendError, Sender, Sent};
use crate::render::{self, Message};
use crate::types::{AlertKind, Destination, Secret};

/// ntfy keeps messages up to 4,096 bytes as text (longer ones become
/// attachments); the body stays under it.
const MAX_BODY_BYTES: usize = 4000;

/// ntfy's priorities: 2 is "low" (no sound, no pop-up), 3 the default,
/// 4 "high".
const LOW: u8 = 2;

/// Publishes to `Destination::Ntfy`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct NtfySender {
    client: HookClient,
    token: Secret,
}

impl NtfySender {
    /// A sender authenticating with `token` (empty: anonymous).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(token: Secret, settings: HookSettings) -> Result<NtfySender, SetupError> {
        Ok(NtfySender { client: HookClient::new("ntfy", &settings)?, token })
    }
}

impl Sender for NtfySender {
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::Ntfy(url) = dest else { return Err(wrong_destination("ntfy", dest)) };
            let push = Push::of(msg, extras.silent);
            let mut headers = push.headers();
            if !self.token.is_empty() {
                let mut auth = header_value(&format!("Bearer {}", self.token.expose()))
                    .ok_or_else(|| SendError::Rejected { reason: "ntfy.token is not a valid header value".into() })?;
                auth.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, auth);
            }
            let body = push.body.into_bytes();
            let secrets = vec![self.token.expose()];
            self.client.post(HookPost { dest, url: url.expose(), headers, body, secrets }).await
        })
    }
}

/// One ntfy message, before it becomes headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Push {
    /// The headline and the item.
    pub(crate) title: String,
    /// Plain text: what changed, when, status, place, details, links.
    pub(crate) body: String,
    /// The item's page for people.
    pub(crate) click: Option<String>,
    /// 1 (min) to 5 (max).
    pub(crate) priority: u8,
    /// ntfy shows a tag that names an emoji as that emoji.
    pub(crate) tags: Vec<String>,
    /// ntfy's `Actions` header: a view button for the webcast.
    pub(crate) actions: Option<String>,
}

impl Push {
    /// The message for `msg`; `silent` lowers its priority to low.
    pub(crate) fn of(msg: &Message, silent: bool) -> Push {
        let text = render::console(msg);
        // The console's first line is the title's: headline and item.
        let lines: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
        Push {
            title: format!("{}: {}", msg.headline, msg.title),
            body: cut_bytes(lines.join("\n").trim(), MAX_BODY_BYTES),
            click: msg.link.as_deref().and_then(ascii_url),
            priority: if silent { LOW } else { priority(msg.kind) },
            tags: vec![emoji_tag(msg.emoji).to_string(), msg.kind.as_str().to_string()],
            actions: msg.webcast.as_deref().and_then(ascii_url).map(|u| format!("view, Watch live, {}", quoted(&u))),
        }
    }

    /// The headers ntfy reads.
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        let mut put = |name: &'static str, value: &str| {
            if let Some(v) = header_value(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        put("title", &rfc2047(&self.title));
        put("priority", &self.priority.to_string());
        put("tags", &self.tags.join(","));
        if let Some(c) = &self.click {
            put("click", c);
        }
        if let Some(a) = &self.actions {
            put("actions", a);
        }
        h
    }
}

/// The priority of a loud alert of `kind`: reminders, status changes and
/// webcasts are what people act on now (high); news of an item and its
/// date moves are the default; articles are read at leisure (low).
fn priority(kind: AlertKind) -> u8 {
    match kind {
        AlertKind::Reminder | AlertKind::Status | AlertKind::Webcast => 4,
        AlertKind::New | AlertKind::Schedule => 3,
        AlertKind::News => 2,
    }
}

/// ntfy's emoji short code for a headline icon.
fn emoji_tag(emoji: &str) -> &'static str {
    match emoji {
        "✅" => "white_check_mark",
        "❌" => "x",
        "⚠️" => "warning",
        "✋" => "raised_hand",
        "🚦" => "vertical_traffic_light",
        "🗓" => "calendar",
        "🆕" => "new",
        "🔴" => "red_circle",
        "📺" => "tv",
        "⏰" => "alarm_clock",
        "🛬" => "airplane",
        "💥" => "boom",
        _ => "rocket",
    }
}

/// A URL in its ASCII form (percent-encoded, punycode), or `None` when it
/// is none.
fn ascii_url(u: &str) -> Option<String> {
    url::Url::parse(u).ok().filter(|u| matches!(u.scheme(), "http" | "https")).map(String::from)
}

/// A value of ntfy's action syntax, quoted when it holds a separator.
fn quoted(v: &str) -> String {
    if v.contains([',', ';', '"']) { format!("\"{}\"", v.replace('"', "%22")) } else { v.to_string() }
}

/// `text` as is when ASCII, else RFC 2047 encoded for a header.
fn rfc2047(text: &str) -> String {
    let flat = text.replace(['\r', '\n'], " ");
    if flat.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        flat
    } else {
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(flat))
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with an
/// ellipsis when cut.
fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::detect::{Alert, AlertId, Change};

    fn message(changes: Vec<Change>) -> Message {
        let mut item = sample_launch();
        item.videos = vec![crate::item::Video { url: "https://youtu.be/x?a=1,2".into(), title: None, live: None }];
        render::message(&Alert::new(AlertId(1), item, changes, chrono::Utc::now()), chrono_tz::UTC, chrono::Utc::now())
    }

    #[test]
    fn headers_carry_title_click_priority_tags_and_a_webcast_button() {
        let msg =
            message(vec![Change::Reminder { offset: std::time::Duration::from_secs(3600), when: chrono::Utc::now() }]);
        let push = Push::of(&msg, false);
        assert_eq!(push.title, format!("T-1h reminder: {}", msg.title));
        assert_eq!(push.click, msg.link);
        assert!(!crate::links::is_ll2_api(push.click.as_deref().unwrap()));
        assert_eq!(push.priority, 4);
        assert_eq!(push.tags, ["alarm_clock", "reminder"]);
        assert_eq!(push.actions.as_deref(), Some("view, Watch live, \"https://youtu.be/x?a=1,2\""));
        assert!(!push.body.contains("T-1h reminder"), "the title says it: {}", push.body);
        let h = push.headers();
        assert_eq!(h["priority"], "4");
        assert_eq!(h["tags"], "alarm_clock,reminder");
        assert!(h.contains_key("click") && h.contains_key("actions") && h.contains_key("title"));
    }

    #[test]
    fn silent_alerts_are_low_priority() {
        let msg = message(vec![Change::Status { old: None, new: sample_launch().status }]);
        assert_eq!(Push::of(&msg, false).priority, 4);
        assert_eq!(Push::of(&msg, true).priority, LOW);
        assert_eq!(Push::of(&message(vec![Change::New]), false).priority, 3);
    }

    #[test]
    fn titles_beyond_ascii_are_encoded_and_bodies_fit() {
        assert_eq!(rfc2047("Go: Falcon 9"), "Go: Falcon 9");
        assert_eq!(rfc2047("Mission Δ"), "=?UTF-8?B?TWlzc2lvbiDOlA==?=");
        let long = "é".repeat(5000);
        let cut = cut_bytes(&long, MAX_BODY_BYTES);
        assert!(cut.len() <= MAX_BODY_BYTES && cut.ends_with('…'));
    }
}
