//! `slack:URL`: a Slack incoming webhook. The body is `text` (the
//! notification and fallback) plus Block Kit `blocks`: a header, a section
//! with the changes and fields (when, status, agency, place, details), the
//! description when the alert is new, a context line, and link buttons
//! (webcast, the item's pages, from `links.rs`). Slack's limits are kept
//! here: at most 3,000 characters per section text, 2,000 per field and 10
//! fields, 150 per header, 75 per button label, 50 blocks. Sends are paced
//! to one message a second per webhook, Slack's rate.
//!
//! Slack's incoming webhooks have no silent message: quiet hours and
//! silent kinds cannot be expressed and alerts go out as usual.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::{HookClient, HookPost, HookSettings, SetupError, wrong_destination};
use crate::deliver::ratelimit::Rate;
use crate::deliver::{AlertExtras, BoxFuture, SendError, Sender, Sent};
use crate::discord::render::truncate;
use crate::links::WATCH_LIVE;
use crate::render::Message;
use crate::types::Destination;

/// Slack's limits on one message.
pub(crate) const MAX_SECTION_CHARS: usize = 3000;
/// Blocks per message.
pub(crate) const MAX_BLOCKS: usize = 50;
const MAX_FIELD_CHARS: usize = 2000;
const MAX_FIELDS: usize = 10;
const MAX_HEADER_CHARS: usize = 150;
const MAX_BUTTON_CHARS: usize = 75;
const MAX_BUTTONS: usize = 25;

/// Posts to `Destination::Slack`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct SlackSender {
    client: HookClient,
}

impl SlackSender {
    /// A sender paced to Slack's one message a second per webhook
    /// (`settings.per_url` is set to it).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(settings: HookSettings) -> Result<SlackSender, SetupError> {
        let settings = HookSettings { per_url: Some(Rate::new(1, Duration::from_secs(1))), ..settings };
        Ok(SlackSender { client: HookClient::new("Slack", &settings)? })
    }
}

impl Sender for SlackSender {
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        _extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::Slack(url) = dest else { return Err(wrong_destination("Slack", dest)) };
            let body = serde_json::to_vec(&payload(msg))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            self.client.post(HookPost { dest, url: url.expose(), headers, body, secrets: Vec::new() }).await
        })
    }
}

/// The webhook body for `msg`.
pub(crate) fn payload(msg: &Message) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&format!("{} {}", msg.emoji, msg.headline), MAX_HEADER_CHARS), "emoji": true },
    })];
    blocks.push(main_section(msg));
    if let Some(d) = msg.description.as_deref().filter(|d| !d.trim().is_empty()) {
        blocks.push(section(&escape(d.trim())));
    }
    let mut context = vec![json!({ "type": "mrkdwn", "text": format!("{} alert · tminus", msg.kind) })];
    if let Some(note) = &msg.note {
        context.insert(
            0,
            json!({ "type": "mrkdwn", "text": truncate(&format!("⚠ {}", escape(note)), MAX_SECTION_CHARS) }),
        );
    }
    blocks.push(json!({ "type": "context", "elements": context }));
    let buttons = buttons(msg);
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    blocks.truncate(MAX_BLOCKS);
    json!({ "text": truncate(&format!("{} {}: {}", msg.emoji, msg.headline, msg.title), MAX_SECTION_CHARS), "blocks": blocks })
}

/// The item's name (linked to its page) and what changed, with the facts
/// as fields.
fn main_section(msg: &Message) -> Value {
    let name = match &msg.link {
        Some(link) => format!("*<{}|{}>*", link, escape(&msg.title)),
        None => format!("*{}*", escape(&msg.title)),
    };
    let lines: Vec<String> = std::iter::once(name).chain(msg.changes.iter().map(|c| escape(c))).collect();
    let when = match (&msg.when, &msg.tminus) {
        (Some(w), Some(t)) => Some(format!("{w} ({t})")),
        (w, _) => w.clone(),
    };
    let facts = [
        ("When", when),
        ("Status", msg.status.clone()),
        ("Agency", msg.agencies.clone()),
        ("Where", msg.location.clone()),
    ];
    let fields: Vec<Value> = facts
        .into_iter()
        .filter_map(|(label, v)| v.map(|v| (label, v)))
        .chain(msg.details.iter().map(|f| (f.label, f.value.clone())))
        .take(MAX_FIELDS)
        .map(|(label, v)| {
            json!({ "type": "mrkdwn", "text": truncate(&format!("*{label}*\n{}", escape(&v)), MAX_FIELD_CHARS) })
        })
        .collect();
    let mut s = section(&lines.join("\n"));
    if !fields.is_empty() {
        s["fields"] = Value::Array(fields);
    }
    s
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS) } })
}

/// Link buttons: the webcast, then the item's pages.
fn buttons(msg: &Message) -> Vec<Value> {
    let webcast = msg.webcast.iter().map(|u| (WATCH_LIVE, u));
    webcast
        .chain(msg.pages.iter().map(|p| (p.label, &p.url)))
        .filter(|(_, url)| url.len() <= MAX_SECTION_CHARS && crate::links::is_web(url))
        .take(MAX_BUTTONS)
        .map(|(label, url)| {
            json!({
                "type": "button",
                "text": { "type": "plain_text", "text": truncate(label, MAX_BUTTON_CHARS) },
                "url": url,
            })
        })
        .collect()
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` only.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::detect::{Alert, AlertId, Change};

    fn message(description: &str) -> Message {
        let mut item = sample_launch();
        item.description = Some(description.to_string());
        item.videos = vec![crate::item::Video { url: "https://youtu.be/x".into(), title: None, live: None }];
        let alert = Alert::new(AlertId(1), item, vec![Change::New], chrono::Utc::now());
        crate::render::message(&alert, chrono_tz::UTC, chrono::Utc::now())
    }

    #[test]
    fn the_body_has_text_and_blocks_in_order() {
        let msg = message("A <b>batch</b> & more");
        let body = payload(&msg);
        assert!(body["text"].as_str().unwrap().contains(&msg.title));
        let types: Vec<&str> = body["blocks"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["header", "section", "section", "context", "actions"]);
        let main = &body["blocks"][1];
        assert!(main["text"]["text"].as_str().unwrap().contains(msg.link.as_deref().unwrap()));
        assert!(main["fields"].as_array().is_some_and(|f| !f.is_empty()));
        assert_eq!(body["blocks"][2]["text"]["text"], "A &lt;b&gt;batch&lt;/b&gt; &amp; more");
        let first = &body["blocks"][4]["elements"][0];
        assert_eq!(
            (first["text"]["text"].as_str(), first["url"].as_str()),
            (Some("Watch live"), Some("https://youtu.be/x"))
        );
    }

    #[test]
    fn a_huge_description_stays_within_slacks_limits() {
        let body = payload(&message(&"word ".repeat(10_000)));
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                let max = if b["type"] == "header" { MAX_HEADER_CHARS } else { MAX_SECTION_CHARS };
                assert!(t.chars().count() <= max, "{} chars in a {}", t.chars().count(), b["type"]);
            }
            for f in b["fields"].as_array().into_iter().flatten() {
                assert!(f["text"].as_str().unwrap().chars().count() <= MAX_FIELD_CHARS);
            }
        }
        assert!(body["text"].as_str().unwrap().chars().count() <= MAX_SECTION_CHARS);
    }
}
