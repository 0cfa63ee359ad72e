//! Discord rendering: one platform-neutral [`Message`] → one Discord embed,
//! and the bodies that carry it (`CreateMessage` for a bot post into a
//! channel, `ExecuteWebhook` for an incoming webhook), built with serenity's
//! builder types so the wire format is serenity's.
//!
//! Every Discord limit is enforced here, before anything reaches the
//! network: title 256, description 4096, at most 25 fields, field name 256
//! and value 1024, footer 2048, author 256, 6000 characters of text in all,
//! message content 2000; field names and values never empty; URLs only
//! when they are well-formed http(s). Text that does not fit is cut on a
//! character boundary and ends with an ellipsis. What Discord would answer
//! with a 400 is a rendering bug, so [`check_limits`] exists to prove in
//! tests (and to double-check in the sender) that this never happens.
//!
//! Pure functions: no clock, no I/O. Everything about HTTP, rate limits and
//! error handling lives in `discord::sender`.

use std::borrow::Cow;

use serenity::builder::{CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateMessage, ExecuteWebhook};
use serenity::model::id::{RoleId, UserId};

use crate::item::status;
use crate::links;
use crate::render::Message;
use crate::types::{AlertKind, Mention};

/// Discord's documented limits, in characters (Unicode scalar values,
/// which is how Discord counts them).
pub(crate) mod limits {
    pub(crate) const TITLE: usize = 256;
    pub(crate) const DESCRIPTION: usize = 4096;
    pub(crate) const FIELDS: usize = 25;
    pub(crate) const FIELD_NAME: usize = 256;
    pub(crate) const FIELD_VALUE: usize = 1024;
    pub(crate) const FOOTER: usize = 2048;
    pub(crate) const AUTHOR_NAME: usize = 256;
    /// Sum of title, description, field names and values, footer text and
    /// author name of all embeds in one message.
    pub(crate) const TOTAL: usize = 6000;
    pub(crate) const CONTENT: usize = 2000;
    pub(crate) const EMBEDS: usize = 10;
    /// Discord's URL fields are capped at 2048 characters.
    pub(crate) const URL: usize = 2048;
}

/// Embed colours. Results and holds use the colour everyone reads at a
/// glance; otherwise the alert kind decides.
pub(crate) mod colours {
    pub(crate) const SUCCESS: u32 = 0x2ECC71;
    pub(crate) const FAILURE: u32 = 0xE74C3C;
    pub(crate) const PARTIAL: u32 = 0xE67E22;
    pub(crate) const HOLD: u32 = 0xF1C40F;
    pub(crate) const IN_FLIGHT: u32 = 0x3498DB;
    pub(crate) const GO: u32 = 0x57F287;
    pub(crate) const NEW: u32 = 0x5865F2;
    pub(crate) const SCHEDULE: u32 = 0x9B59B6;
    pub(crate) const STATUS: u32 = 0x95A5A6;
    pub(crate) const WEBCAST: u32 = 0xEB459E;
    pub(crate) const REMINDER: u32 = 0x1ABC9C;
    /// A news article (`news`).
    pub(crate) const NEWS: u32 = 0x607D8B;
}

/// The item description is only worth showing when a reasonable piece of it
/// fits; a dozen characters and an ellipsis would be noise.
const MIN_ITEM_DESCRIPTION: usize = 40;

/// The colour of the embed for `msg`.
pub(crate) fn colour(msg: &Message) -> u32 {
    match msg.status_id {
        Some(status::SUCCESS | status::PAYLOAD_DEPLOYED) => return colours::SUCCESS,
        Some(status::FAILURE) => return colours::FAILURE,
        Some(status::PARTIAL_FAILURE) => return colours::PARTIAL,
        Some(status::HOLD) => return colours::HOLD,
        Some(status::IN_FLIGHT) => return colours::IN_FLIGHT,
        _ => {}
    }
    match msg.kind {
        AlertKind::New => colours::NEW,
        AlertKind::Schedule => colours::SCHEDULE,
        AlertKind::Status if msg.status_id == Some(status::GO) => colours::GO,
        AlertKind::Status => colours::STATUS,
        AlertKind::Webcast => colours::WEBCAST,
        AlertKind::Reminder => colours::REMINDER,
        AlertKind::News => colours::NEWS,
    }
}

/// The embed for `msg`, within every Discord limit.
pub(crate) fn embed(msg: &Message) -> CreateEmbed {
    let parts = EmbedParts::of(msg);
    let mut e = CreateEmbed::new().colour(parts.colour);
    if let Some(title) = parts.title {
        e = e.title(title);
        // Discord attaches the URL to the title; without a title it is useless.
        if let Some(url) = parts.url {
            e = e.url(url);
        }
    }
    e = e.description(parts.description);
    for (name, value, inline) in parts.fields {
        e = e.field(name, value, inline);
    }
    if let Some(thumb) = parts.thumbnail {
        e = e.thumbnail(thumb);
    }
    e.footer(CreateEmbedFooter::new(parts.footer))
}

/// Exactly `mentions` may ping, never `@everyone` or anything LL2 text
/// contains (an empty `parse` list turns Discord's own parsing off).
fn allowed(mentions: &[Mention]) -> CreateAllowedMentions {
    let roles = mentions.iter().filter_map(|m| match m {
        Mention::Role(id) => Some(RoleId::new(*id)),
        Mention::User(_) => None,
    });
    let users = mentions.iter().filter_map(|m| match m {
        Mention::User(id) => Some(UserId::new(*id)),
        Mention::Role(_) => None,
    });
    CreateAllowedMentions::new().roles(roles).users(users)
}

/// The message content: the mentions, space-separated; empty without.
fn mention_content(mentions: &[Mention]) -> String {
    mentions.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

/// Body of `POST /channels/{id}/messages` for `msg`, pinging `mentions`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn channel_message(msg: &Message, mentions: &[Mention]) -> CreateMessage {
    let m = CreateMessage::new().embed(embed(msg)).allowed_mentions(allowed(mentions));
    if mentions.is_empty() { m } else { m.content(mention_content(mentions)) }
}

/// Body of `POST /webhooks/{id}/{token}` for `msg`, pinging `mentions`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn webhook_message(msg: &Message, mentions: &[Mention]) -> ExecuteWebhook {
    let m = ExecuteWebhook::new().embed(embed(msg)).allowed_mentions(allowed(mentions));
    if mentions.is_empty() { m } else { m.content(mention_content(mentions)) }
}

/// `text` cut to at most `max` characters by [`crate::text::clip_with`]
/// (grapheme-safe), ending in an ellipsis when cut. Never leaves a dangling markdown escape
/// (a lone trailing backslash) or trailing whitespace before the ellipsis.
pub(crate) fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    crate::text::clip_with(text, max, |cut| {
        let head = cut.trim_end();
        let backslashes = head.len() - head.trim_end_matches('\\').len();
        if backslashes % 2 == 1 { head[..head.len() - 1].trim_end() } else { head }
    })
}

/// Escapes Discord markdown in text that comes from LL2, so names like
/// `*Mission*` or `__x__` show as written. Characters that only matter at
/// the start of a line (headings, quotes, lists) are escaped there only.
pub(crate) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' => out.push('\\'),
            '#' | '>' | '-' if line_start => out.push('\\'),
            _ => {}
        }
        out.push(c);
        line_start = c == '\n' || (line_start && c.is_whitespace());
    }
    out
}

/// A URL Discord accepts in an embed: absolute http(s), not too long.
fn valid_url(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() || url.chars().count() > limits::URL {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some()).then_some(url)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The embed's content with every limit applied, before it becomes a
/// serenity builder. Kept separate so the budget arithmetic is testable.
#[derive(Debug, Clone, PartialEq)]
struct EmbedParts {
    colour: u32,
    title: Option<String>,
    url: Option<String>,
    description: String,
    fields: Vec<(String, String, bool)>,
    thumbnail: Option<String>,
    footer: String,
}

impl EmbedParts {
    fn of(msg: &Message) -> EmbedParts {
        let title = Some(msg.title.trim()).filter(|t| !t.is_empty()).map(|t| truncate(t, limits::TITLE).into_owned());
        let url = msg.link.as_deref().filter(|u| links::is_web(u)).and_then(valid_url).map(str::to_owned);
        let footer = truncate(&format!("{} alert · tminus", msg.kind), limits::FOOTER).into_owned();
        let fields = fields(msg);

        // The description gets what the other parts leave of the 6000
        // total. The fixed parts are bounded (title 256, five fields of at
        // most 256 + 1024, a short footer), so a positive budget is left.
        let others = title.as_deref().map_or(0, chars)
            + fields.iter().map(|(n, v, _)| chars(n) + chars(v)).sum::<usize>()
            + chars(&footer);
        let budget = limits::DESCRIPTION.min(limits::TOTAL.saturating_sub(others));
        let description = description(msg, budget);

        EmbedParts {
            colour: colour(msg),
            title,
            url,
            description,
            fields,
            thumbnail: msg.image.as_deref().and_then(valid_url).map(str::to_owned),
            footer,
        }
    }
}

/// Headline, what changed, the note, then as much of the item's own
/// description as fits in `budget` characters.
fn description(msg: &Message, budget: usize) -> String {
    let mut lines = Vec::with_capacity(msg.changes.len() + 2);
    let headline = truncate(msg.headline.trim(), limits::TITLE);
    lines.push(format!("{} **{}**", msg.emoji, escape_markdown(&headline)));
    for change in &msg.changes {
        lines.push(escape_markdown(&truncate(change.trim(), limits::FIELD_VALUE)));
    }
    if let Some(note) = msg.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        lines.push(format!("⚠️ {}", escape_markdown(&truncate(note, limits::FIELD_VALUE))));
    }
    let mut out = truncate(&lines.join("\n"), budget).into_owned();
    if let Some(text) = msg.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        let room = budget.saturating_sub(chars(&out) + 2);
        if room >= MIN_ITEM_DESCRIPTION {
            out.push_str("\n\n");
            out.push_str(&truncate(&escape_markdown(text), room));
        }
    }
    out
}

/// When, Status, Agency, Location, the details, Webcast, Links: each only
/// when known, each value non-empty and within the field limits. Detail
/// fields are dropped from the least important up when the fields would
/// leave the description less than `MIN_HEADLINE_ROOM` of the total.
fn fields(msg: &Message) -> Vec<(String, String, bool)> {
    let mut out = Vec::with_capacity(8 + msg.details.len());
    if let Some(when) = when_value(msg) {
        push_field(&mut out, "When", when, false);
    }
    let text = |v: &Option<String>| v.as_deref().map(escape_markdown).unwrap_or_default();
    push_field(&mut out, "Status", text(&msg.status), true);
    let agency_label = if msg.agencies.as_deref().is_some_and(|a| a.contains(", ")) { "Agencies" } else { "Agency" };
    push_field(&mut out, agency_label, text(&msg.agencies), true);
    push_field(&mut out, "Location", text(&msg.location), false);
    let fixed = out.len();
    for f in &msg.details {
        push_field(
            &mut out,
            f.label,
            truncate(&escape_markdown(&f.value), DETAIL_VALUE).into_owned(),
            chars(&f.value) <= 40,
        );
    }
    let details_end = out.len();
    // A cut URL is a broken link: drop it rather than trim it.
    let webcast = msg.webcast.as_deref().filter(|u| links::is_web(u)).and_then(valid_url);
    if let Some(url) = webcast.filter(|u| chars(u) <= limits::FIELD_VALUE) {
        push_field(&mut out, "Webcast", url.to_owned(), false);
    }
    push_field(&mut out, "Links", pages_value(msg), false);
    let size = |f: &[(String, String, bool)]| f.iter().map(|(n, v, _)| chars(n) + chars(v)).sum::<usize>();
    let room = limits::TOTAL - limits::TITLE - limits::FOOTER.min(200) - MIN_HEADLINE_ROOM;
    let mut end = details_end;
    while end > fixed && size(&out) > room {
        end -= 1;
        out.remove(end);
    }
    out
}

/// Appends a field when its value is not blank and the embed has room for
/// one more, both within their limits.
fn push_field(out: &mut Vec<(String, String, bool)>, name: &str, value: String, inline: bool) {
    let value = value.trim();
    if !value.is_empty() && out.len() < limits::FIELDS {
        out.push((
            truncate(name, limits::FIELD_NAME).into_owned(),
            truncate(value, limits::FIELD_VALUE).into_owned(),
            inline,
        ));
    }
}

/// Longest detail field value: details are one-liners, not essays.
const DETAIL_VALUE: usize = 300;
/// What the headline and changes keep of the 6000 total at least.
const MIN_HEADLINE_ROOM: usize = 400;

/// The item's pages as Markdown links, as many whole ones as fit a field.
fn pages_value(msg: &Message) -> String {
    let mut out = String::new();
    for p in msg.pages.iter().filter(|p| links::is_web(&p.url)) {
        let Some(url) = valid_url(&p.url) else { continue };
        let link = format!("[{}]({})", p.label, url);
        let sep = if out.is_empty() { "" } else { " · " };
        if chars(&out) + sep.len() + chars(&link) <= limits::FIELD_VALUE {
            out.push_str(sep);
            out.push_str(&link);
        }
    }
    out
}

/// Discord timestamps render in every reader's own timezone and keep
/// counting down, so they replace the subscriber-timezone text when the
/// instant is known to the minute. An hour-precision date (which
/// `render::format_when` spells with a `~`) keeps the `~` and says so.
/// Coarser dates stay the honest text ("NET 2026-12", "Q3 2026").
fn when_value(msg: &Message) -> Option<String> {
    match (msg.when_exact, msg.when.as_deref()) {
        (Some(at), text) => {
            let ts = at.timestamp();
            if text.is_some_and(|t| t.contains('~')) {
                Some(format!("~<t:{ts}:F> (<t:{ts}:R>), to the hour"))
            } else {
                Some(format!("<t:{ts}:F> (<t:{ts}:R>)"))
            }
        }
        (None, Some(text)) => Some(escape_markdown(text)),
        (None, None) => None,
    }
}

/// Checks a serialized message body against Discord's limits; `Err` names
/// the first violation. The sender runs it before posting so a rendering
/// bug is reported as such instead of costing a request (and an invalid
/// request against Discord's per-IP budget).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn check_limits(body: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(chars);
    let content = text(body, "content").unwrap_or(0);
    if content > limits::CONTENT {
        return Err(format!("content has {content} characters (max {})", limits::CONTENT));
    }
    let embeds = body.get("embeds").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    if content == 0 && embeds.is_empty() {
        return Err("empty message".into());
    }
    if embeds.len() > limits::EMBEDS {
        return Err(format!("{} embeds (max {})", embeds.len(), limits::EMBEDS));
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let mut check = |what: &str, n: Option<usize>, max: usize| {
            let n = n.unwrap_or(0);
            total += n;
            if n > max { Err(format!("embeds[{i}].{what} has {n} characters (max {max})")) } else { Ok(()) }
        };
        check("title", text(e, "title"), limits::TITLE)?;
        check("description", text(e, "description"), limits::DESCRIPTION)?;
        check("footer.text", e.get("footer").and_then(|f| text(f, "text")), limits::FOOTER)?;
        check("author.name", e.get("author").and_then(|a| text(a, "name")), limits::AUTHOR_NAME)?;
        let fields = e.get("fields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        if fields.len() > limits::FIELDS {
            return Err(format!("embeds[{i}] has {} fields (max {})", fields.len(), limits::FIELDS));
        }
        for (j, f) in fields.iter().enumerate() {
            for (key, max) in [("name", limits::FIELD_NAME), ("value", limits::FIELD_VALUE)] {
                let v = f.get(key).and_then(Value::as_str).unwrap_or("");
                if v.trim().is_empty() {
                    return Err(format!("embeds[{i}].fields[{j}].{key} is empty"));
                }
                check(&format!("fields[{j}].{key}"), Some(chars(v)), max)?;
            }
        }
        let url_at = |path: &[&str]| path.iter().try_fold(e, |v, k| v.get(*k)).and_then(Value::as_str);
        for path in [&["url"][..], &["thumbnail", "url"], &["image", "url"]] {
            if let Some(u) = url_at(path)
                && valid_url(u).is_none()
            {
                return Err(format!("embeds[{i}].{} is not a well formed http(s) URL", path.join(".")));
            }
        }
    }
    if total > limits::TOTAL {
        return Err(format!("embeds have {total} characters of text in all (max {})", limits::TOTAL));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch_with_details;
    use crate::detect::{Alert, AlertId, Change};
    use crate::item::{Named, Precision, Video};
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    fn alert(change: Change) -> Alert {
        let mut item = sample_launch_with_details();
        item.image = Some("https://thespacedevs-prod.nyc3.digitaloceanspaces.com/media/images/falcon_9.jpeg".into());
        item.description = Some("A batch of Starlink satellites for the v2 mini constellation.".into());
        item.videos = vec![Video { url: "https://www.youtube.com/watch?v=abc_123".into(), title: None, live: None }];
        Alert::new(AlertId(7), item, vec![change], now())
    }

    fn msg(change: Change) -> Message {
        crate::render::message(&alert(change), chrono_tz::Europe::Berlin, now())
    }

    fn pretty<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string_pretty(v).unwrap()
    }

    fn body(m: &Message) -> serde_json::Value {
        serde_json::to_value(channel_message(m, &[])).unwrap()
    }

    #[test]
    fn new_launch_embed() {
        let m = msg(Change::New);
        check_limits(&body(&m)).unwrap();
        insta::assert_snapshot!("new_launch_embed", pretty(&body(&m)));
    }

    #[test]
    fn schedule_change_embed_shows_old_new_and_shift() {
        let m = msg(Change::Schedule {
            old_when: Some("2026-12-05T11:00:00Z".parse().unwrap()),
            new_when: Some("2026-12-05T13:30:00Z".parse().unwrap()),
            old_precision: Some(Precision::Minute),
            new_precision: Some(Precision::Minute),
            old_window: (None, None),
            new_window: (None, None),
        });
        let v = body(&m);
        check_limits(&v).unwrap();
        let desc = v["embeds"][0]["description"].as_str().unwrap();
        assert!(desc.contains("→") && desc.contains("(+2h 30m)"), "{desc}");
        insta::assert_snapshot!("schedule_change_embed", pretty(&v));
    }

    #[test]
    fn status_results_have_their_colours() {
        for (id, want) in [
            (3, colours::SUCCESS),
            (4, colours::FAILURE),
            (7, colours::PARTIAL),
            (5, colours::HOLD),
            (6, colours::IN_FLIGHT),
            (1, colours::GO),
            (2, colours::STATUS),
        ] {
            let new = Some(Named::new(Some(id), "X", None));
            let mut a = alert(Change::Status { old: None, new: new.clone() });
            a.item.status = new;
            let m = crate::render::message(&a, chrono_tz::UTC, now());
            assert_eq!(colour(&m), want, "status {id}");
            assert_eq!(body(&m)["embeds"][0]["color"], want, "status {id}");
        }
        assert_eq!(colour(&msg(Change::New)), colours::NEW);
    }

    #[test]
    fn failure_embed() {
        let new = Some(Named::new(Some(4), "Launch Failure", Some("Failure".into())));
        let mut a =
            alert(Change::Status { old: Some(Named::new(Some(6), "Launch in Flight", None)), new: new.clone() });
        a.item.status = new;
        let m = crate::render::message(&a, chrono_tz::UTC, now());
        insta::assert_snapshot!("failure_embed", pretty(&body(&m)));
    }

    #[test]
    fn coarse_dates_stay_honest_text() {
        let mut a = alert(Change::New);
        a.item.precision = Some(Precision::Month);
        let m = crate::render::message(&a, chrono_tz::UTC, now());
        let v = body(&m);
        let when = &v["embeds"][0]["fields"][0];
        assert_eq!(when["name"], "When");
        assert_eq!(when["value"], "NET 2026-12", "no timestamp for a month: {when}");
        // Hour precision: a timestamp, marked approximate.
        a.item.precision = Some(Precision::Hour);
        let m = crate::render::message(&a, chrono_tz::UTC, now());
        let ts = a.item.when.unwrap().timestamp();
        assert_eq!(body(&m)["embeds"][0]["fields"][0]["value"], format!("~<t:{ts}:F> (<t:{ts}:R>), to the hour"));
    }

    #[test]
    fn exact_dates_use_discord_timestamps() {
        let m = msg(Change::New);
        let ts = m.when_exact.unwrap().timestamp();
        assert_eq!(body(&m)["embeds"][0]["fields"][0]["value"], format!("<t:{ts}:F> (<t:{ts}:R>)"));
    }

    #[test]
    fn ten_thousand_character_description_fits() {
        let mut a = alert(Change::New);
        a.item.description = Some("Ä".repeat(9_990) + "0123456789");
        let m = crate::render::message(&a, chrono_tz::UTC, now());
        let v = body(&m);
        check_limits(&v).unwrap();
        let desc = v["embeds"][0]["description"].as_str().unwrap();
        assert!(chars(desc) <= limits::DESCRIPTION);
        assert!(desc.ends_with(crate::text::ELLIPSIS), "cut text ends with an ellipsis");
        assert!(desc.starts_with("🆕 **New launch**"), "the headline survives: {}", &desc[..40]);
    }

    #[test]
    fn very_long_everything_stays_within_every_limit() {
        let long = |c: &str| c.repeat(5_000);
        let m = Message {
            kind: AlertKind::Schedule,
            emoji: "🗓",
            headline: long("H"),
            title: long("T"),
            changes: (0..40).map(|i| format!("{i}: {}", long("c"))).collect(),
            note: Some(long("n")),
            when: Some(long("w")),
            when_exact: None,
            tminus: None,
            status: Some(long("s")),
            status_id: Some(1),
            agencies: Some(long("a, ")),
            location: Some(long("l")),
            details: ["Rocket", "Mission", "Weather", "Landing"]
                .map(|label| crate::render::Fact { icon: "•", label, value: long(label) })
                .to_vec(),
            webcast: Some(format!("https://example.com/{}", long("v"))),
            link: Some(format!("https://example.com/{}", long("x"))),
            pages: (0..30)
                .map(|i| crate::links::Link { label: "Page", url: format!("https://example.com/{i}/{}", long("p")) })
                .collect(),
            image: Some("not a url".into()),
            description: Some(long("d")),
        };
        let v = body(&m);
        check_limits(&v).unwrap();
        let e = &v["embeds"][0];
        assert_eq!(chars(e["title"].as_str().unwrap()), limits::TITLE);
        assert!(e.get("url").is_none(), "an over-long URL is dropped, not cut");
        assert!(e.get("thumbnail").is_none(), "an invalid image URL is dropped");
        let webhook = serde_json::to_value(webhook_message(&m, &[])).unwrap();
        check_limits(&webhook).unwrap();
    }

    #[test]
    fn trimming_is_clean() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello world", 7), "hello…");
        assert_eq!(truncate("ÄÖÜäöü", 4), "ÄÖÜ…");
        assert_eq!(truncate("ab\\*cd", 4), "ab…", "no dangling escape");
        assert_eq!(truncate("ab\\\\cd", 5), "ab\\\\…", "a complete escape stays");
        assert_eq!(truncate("🚀🚀🚀", 2), "🚀…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn markdown_in_ll2_text_is_escaped() {
        assert_eq!(escape_markdown("*Falcon* __9__ ~x~ `y` |z|"), "\\*Falcon\\* \\_\\_9\\_\\_ \\~x\\~ \\`y\\` \\|z\\|");
        assert_eq!(escape_markdown("# Title\n> quote\n- item a-b"), "\\# Title\n\\> quote\n\\- item a-b");
    }

    #[test]
    fn empty_parts_are_left_out() {
        let m = Message {
            kind: AlertKind::New,
            emoji: "🆕",
            headline: "New event".into(),
            title: "   ".into(),
            changes: vec![],
            note: None,
            when: None,
            when_exact: None,
            tminus: None,
            status: Some(" ".into()),
            status_id: None,
            agencies: None,
            location: None,
            details: vec![],
            pages: vec![],
            webcast: Some("javascript:alert(1)".into()),
            link: Some("https://ll.thespacedevs.com/2.3.0/events/1/".into()),
            image: None,
            description: Some("  ".into()),
        };
        let v = body(&m);
        check_limits(&v).unwrap();
        let e = &v["embeds"][0];
        assert!(e.get("title").is_none() && e.get("url").is_none());
        assert!(e.get("fields").is_none(), "{e}");
        assert_eq!(e["description"], "🆕 **New event**");
        assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    #[test]
    fn check_limits_catches_what_discord_refuses() {
        let ok = serde_json::json!({"embeds": [{"title": "x", "fields": [{"name": "a", "value": "b"}]}]});
        check_limits(&ok).unwrap();
        for bad in [
            serde_json::json!({"embeds": []}),
            serde_json::json!({"content": "x".repeat(2001)}),
            serde_json::json!({"embeds": [{"title": "x".repeat(257)}]}),
            serde_json::json!({"embeds": [{"fields": [{"name": "a", "value": ""}]}]}),
            serde_json::json!({"embeds": [{"url": "ftp://x"}]}),
            serde_json::json!({"embeds": [{"description": "x".repeat(4000)}, {"description": "x".repeat(2001)}]}),
        ] {
            assert!(check_limits(&bad).is_err(), "{bad}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                "[a-z *_~`|#>\\-\\\\\n]{0,40}",
                (0usize..7000, "[a-zÄ🚀 \\\\]{1,3}").prop_map(|(n, s)| s.repeat(n)),
            ]
        }

        fn opt() -> impl Strategy<Value = Option<String>> {
            prop::option::of(text())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn any_message_renders_within_limits(
                headline in text(), title in text(), changes in prop::collection::vec(text(), 0..6),
                note in opt(), when in opt(), status in opt(), agencies in opt(), location in opt(),
                description in opt(), exact in any::<bool>(), detail in opt(),
            ) {
                let m = Message {
                    kind: AlertKind::Status, emoji: "🚦", headline, title, changes, note, when,
                    when_exact: exact.then(now), tminus: None, status, status_id: None, agencies, location,
                    details: detail.into_iter().map(|value| crate::render::Fact { icon: "🚀", label: "Rocket", value }).collect(),
                    webcast: Some("https://example.com/live".into()), link: None, image: None, description,
                    pages: vec![crate::links::Link { label: "Space Launch Now", url: "https://spacelaunchnow.me/launch/x/".into() }],
                };
                prop_assert!(check_limits(&body(&m)).is_ok(), "{:?}", check_limits(&body(&m)));
                prop_assert!(check_limits(&serde_json::to_value(webhook_message(&m, &[])).unwrap()).is_ok());
            }
        }
    }
}
