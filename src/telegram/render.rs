//! Telegram rendering of a `Message`: HTML parse mode text (≤ 4096),
//! a photo caption (≤ 1024) when it fits, and the inline keyboard buttons.
//!
//! Only `new` alerts and results (success, failure, partial failure)
//! carry the item's photo (`carries_photo`): a photo card fills a phone
//! screen, worth it when an item is first told and when it ends; for a
//! slip, a hold, a webcast or a reminder the reader saw the picture
//! already, and the text alone says the news in less room.
//!
//! Every dynamic string is escaped (`&`, `<`, `>`, `"`: all Telegram's HTML
//! mode needs). Limits are counted conservatively: Telegram counts the
//! *visible* text in UTF-16 code units after parsing, we count the whole
//! HTML source in UTF-16 code units, which is never less.
//!
//! Trimming never produces broken markup: text is cut *before* escaping
//! (so no entity is split), every tag opens and closes on one line (so a
//! cut at a line boundary keeps tags balanced), and the long dynamic parts
//! go first: the description, then change lines and long fields.
//!
//! Pure functions; no I/O. Sending is `telegram::sender`'s job.

use crate::item::status;
use crate::links;
use crate::render::Message;
use crate::types::AlertKind;

/// Telegram's limit for message text, in UTF-16 code units.
pub const TEXT_LIMIT: usize = 4096;
/// Telegram's limit for media captions, in UTF-16 code units.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const CAPTION_LIMIT: usize = 1024;
/// Longest URL we link or put on a button; longer ones are dropped rather
/// than risk the whole message being refused.
const MAX_URL: usize = 1024;
/// A description shorter than this after trimming is not worth showing.
const MIN_DESCRIPTION: usize = 40;
/// Captions sit under a photo: keep the description short there.
const CAPTION_DESCRIPTION: usize = 400;

/// Escapes text for Telegram HTML (text and attribute values alike).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        c => out.push(c),
    }
}

fn escaped_units(c: char) -> usize {
    match c {
        '&' | '<' | '>' => 4 + usize::from(c == '&'),
        '"' => 6,
        c => c.len_utf16(),
    }
}

/// Length as Telegram counts it: UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `url` in normalized form (spaces and the like percent-encoded) when it
/// is an absolute http(s) URL with a host and of sane length: the only
/// links Telegram reliably accepts in text and buttons.
pub(crate) fn http_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let ok = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.as_str().len() <= MAX_URL;
    ok.then(|| parsed.into())
}

/// Inline keyboard buttons as (label, url): "Watch live" for the webcast,
/// "Details" for the item's main page. Only valid http(s) URLs, never the
/// LL2 API.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn buttons(msg: &Message) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(u) = msg.webcast.as_deref().filter(|u| links::is_web(u)).and_then(http_url) {
        out.push((links::WATCH_LIVE.to_string(), u));
    }
    if let Some(u) = msg.link.as_deref().filter(|u| links::is_web(u)).and_then(http_url) {
        out.push(("Details".to_string(), u));
    }
    out
}

/// Whether the message goes as a photo card (see the module doc for why):
/// a `new` alert or a result; never anything else, even with an image.
pub(crate) fn carries_photo(msg: &Message) -> bool {
    let result = msg.status_id.is_some_and(|id| status::FINAL.contains(&id));
    msg.kind == AlertKind::New || (msg.kind == AlertKind::Status && result)
}

/// The message as Telegram HTML, within [`TEXT_LIMIT`].
pub fn html(msg: &Message) -> String {
    for caps in [Caps::FULL, Caps::TIGHT] {
        // The least important detail lines go first.
        for details in (0..=msg.details.len()).rev() {
            let (body, _) = body(msg, caps, details);
            if let Some(text) = with_description(&body, msg, TEXT_LIMIT, usize::MAX) {
                return text;
            }
        }
    }
    // Only absurd inputs get here (every field at its tight cap): keep the
    // whole lines that fit. Lines are balanced on their own.
    let (body, _) = body(msg, Caps::TIGHT, 0);
    cut_lines(&body.assemble(None), TEXT_LIMIT)
}

/// The message as a photo caption within [`CAPTION_LIMIT`], or `None` when
/// it would have to lose more than its description (then the alert goes as
/// a text message with a link preview of the image instead).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn caption(msg: &Message) -> Option<String> {
    // The least important detail lines go first.
    (0..=msg.details.len()).rev().find_map(|details| {
        let (body, truncated) = body(msg, Caps::FULL, details);
        if truncated {
            return None;
        }
        with_description(&body, msg, CAPTION_LIMIT, CAPTION_DESCRIPTION)
    })
}

/// Per-field ceilings, in UTF-16 code units of escaped text.
#[derive(Debug, Clone, Copy)]
struct Caps {
    headline: usize,
    title: usize,
    change: usize,
    max_changes: usize,
    field: usize,
}

impl Caps {
    /// Generous: real LL2 data never reaches these.
    const FULL: Caps = Caps { headline: 200, title: 600, change: 600, max_changes: 20, field: 400 };
    /// Guarantees the body fits 4096 with room to spare.
    const TIGHT: Caps = Caps { headline: 100, title: 300, change: 200, max_changes: 8, field: 150 };
}

/// Everything except the description, as blocks of lines: header, changes,
/// facts (with the first `details` detail lines), links. Returns whether
/// any field had to be shortened.
fn body(msg: &Message, caps: Caps, details: usize) -> (Body, bool) {
    let mut cut = false;
    let mut field = |s: &str, cap: usize| {
        let (t, c) = fit(&one_line(s), cap);
        cut |= c;
        t
    };

    let mut header = vec![format!("{} <b>{}</b>", msg.emoji, field(&msg.headline, caps.headline))];
    if !msg.title.trim().is_empty() {
        header.push(format!("<b>{}</b>", field(&msg.title, caps.title)));
    }

    let mut changes = Vec::new();
    for line in msg.changes.iter().take(caps.max_changes) {
        changes.push(field(line, caps.change));
    }
    let dropped_changes = msg.changes.len() > caps.max_changes;
    if dropped_changes {
        changes.push(format!("…and {} more changes", msg.changes.len() - caps.max_changes));
    }
    if let Some(n) = &msg.note {
        changes.push(format!("⚠️ <i>{}</i>", field(n, caps.change)));
    }

    let mut facts = Vec::new();
    let when = when_text(msg);
    for (icon, label, value) in [
        ("🕒", "When", &when),
        ("🚦", "Status", &msg.status),
        ("🏢", "Agency", &msg.agencies),
        ("📍", "Where", &msg.location),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            facts.push(format!("{icon} <b>{label}:</b> {}", field(v, caps.field)));
        }
    }
    for f in msg.details.iter().take(details) {
        facts.push(format!("{} <b>{}:</b> {}", f.icon, escape(f.label), field(&f.value, caps.field)));
    }

    (Body { header, changes, facts, links: link_lines(msg) }, cut || dropped_changes)
}

/// The "When" fact: the date and the countdown, either alone when the
/// other is not known.
fn when_text(msg: &Message) -> Option<String> {
    match (&msg.when, &msg.tminus) {
        (Some(w), Some(t)) => Some(format!("{w} ({t})")),
        (Some(w), None) => Some(w.clone()),
        (None, Some(t)) => Some(t.clone()),
        (None, None) => None,
    }
}

/// The link lines: the webcast, then the item's pages on one line; only
/// web (http/https) links.
fn link_lines(msg: &Message) -> Vec<String> {
    let mut links = Vec::new();
    if let Some(u) = msg.webcast.as_deref().filter(|u| links::is_web(u)).and_then(http_url) {
        links.push(format!("📺 <a href=\"{}\">{}</a>", escape(&u), links::WATCH_LIVE));
    }
    let pages: Vec<String> = msg
        .pages
        .iter()
        .filter(|p| links::is_web(&p.url))
        .filter_map(|p| http_url(&p.url).map(|u| format!("<a href=\"{}\">{}</a>", escape(&u), escape(p.label))))
        .collect();
    if !pages.is_empty() {
        links.push(format!("🔗 {}", pages.join(" · ")));
    }
    links
}

struct Body {
    header: Vec<String>,
    changes: Vec<String>,
    facts: Vec<String>,
    links: Vec<String>,
}

impl Body {
    /// Blocks separated by a blank line; `description` goes before links.
    fn assemble(&self, description: Option<&str>) -> String {
        let desc = description.map(|d| vec![d.to_string()]).unwrap_or_default();
        [&self.header, &self.changes, &self.facts, &desc, &self.links]
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(|b| b.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// The body plus as much of the description as fits in `limit` (at most
/// `max_description` units), or `None` when the body alone does not fit.
fn with_description(body: &Body, msg: &Message, limit: usize, max_description: usize) -> Option<String> {
    let bare = body.assemble(None);
    let used = utf16_len(&bare);
    if used > limit {
        return None;
    }
    let Some(desc) = msg.description.as_deref().map(multi_line).filter(|d| !d.is_empty()) else {
        return Some(bare);
    };
    // The description adds itself plus one blank-line separator.
    let room = limit.saturating_sub(used + 2).min(max_description);
    if room < MIN_DESCRIPTION {
        return Some(bare);
    }
    let (text, _) = fit(&desc, room);
    if text.is_empty() {
        return Some(bare);
    }
    let full = body.assemble(Some(&text));
    debug_assert!(utf16_len(&full) <= limit);
    Some(full)
}

/// Escapes `s` and shortens it to at most `cap` UTF-16 units of escaped
/// text, ending with "…" when cut (preferably at a word boundary). Cutting
/// happens on the raw text, so an entity is never split.
fn fit(s: &str, cap: usize) -> (String, bool) {
    let clipped = crate::text::clip_by(s, cap, escaped_units, |kept| {
        // Prefer ending at whitespace if one is near the cut.
        let end = kept.char_indices().rev().take(40).find(|(_, c)| c.is_whitespace()).map_or(kept.len(), |(i, _)| i);
        kept[..end].trim_end()
    });
    // `…` needs no escaping, so escaping the clipped text escapes its head.
    let cut = matches!(clipped, std::borrow::Cow::Owned(_));
    (escape(&clipped), cut)
}

/// A single-line field: control characters (including newlines) become
/// spaces, so a tag around it never spans lines.
fn one_line(s: &str) -> String {
    let replaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A multi-line text: line breaks kept (at most one blank line in a row),
/// other control characters dropped.
fn multi_line(s: &str) -> String {
    let cleaned: String = s.replace("\r\n", "\n").chars().filter(|c| *c == '\n' || !c.is_control()).collect();
    let mut out = String::new();
    let mut blank_run = 0;
    for line in cleaned.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

/// Whole lines of `text` that fit in `limit`. Safe because no tag spans
/// lines in what this module produces. It selects lines rather than clips
/// text (no cut inside a line, which could split a tag; no ellipsis;
/// UTF-16 units, Telegram's measure), so it does not go through
/// `crate::text::clip`, which cuts everything else.
fn cut_lines(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let extra = utf16_len(line) + usize::from(!out.is_empty());
        if utf16_len(&out) + extra > limit {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::detect::{Alert, AlertId, Change};
    use crate::item::{Named, Precision, Video};
    use crate::links::Link;
    use crate::render::message;
    use crate::types::AlertKind;

    /// Checks `s` the way Telegram's HTML parser would: known tags only,
    /// balanced, entities well formed. Returns the visible text.
    fn parse_telegram_html(s: &str) -> Result<String, String> {
        const TAGS: &[&str] = &[
            "b",
            "strong",
            "i",
            "em",
            "u",
            "ins",
            "s",
            "strike",
            "del",
            "a",
            "code",
            "pre",
            "tg-spoiler",
            "blockquote",
        ];
        let mut stack: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            match c {
                '<' => {
                    let end = rest.find('>').ok_or("unclosed tag")?;
                    let inner = &rest[1..end];
                    if let Some(name) = inner.strip_prefix('/') {
                        if stack.pop().as_deref() != Some(name) {
                            return Err(format!("unexpected end tag {name}"));
                        }
                    } else {
                        let name = inner.split_whitespace().next().unwrap_or("");
                        if !TAGS.contains(&name) {
                            return Err(format!("unsupported tag {name:?}"));
                        }
                        if name == "a" && !inner.starts_with("a href=\"") {
                            return Err("a without href".into());
                        }
                        stack.push(name.to_string());
                    }
                    rest = &rest[end + 1..];
                }
                '&' => {
                    let end = rest.find(';').ok_or("unterminated entity")?;
                    let entity = &rest[..=end];
                    let decoded = match entity {
                        "&lt;" => '<',
                        "&gt;" => '>',
                        "&amp;" => '&',
                        "&quot;" => '"',
                        _ => return Err(format!("bad entity {entity:?}")),
                    };
                    text.push(decoded);
                    rest = &rest[end + 1..];
                }
                '>' => return Err("stray >".into()),
                c => {
                    text.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if let Some(open) = stack.pop() {
            return Err(format!("unclosed <{open}>"));
        }
        Ok(text)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn schedule_alert() -> Alert {
        let mut item = crate::detect::tests::sample_launch_with_details();
        item.videos = vec![Video { url: "https://www.youtube.com/watch?v=abc&t=1".into(), title: None, live: None }];
        item.image = Some("https://example.org/f9.jpg".into());
        item.description = Some("Batch of 23 Starlink satellites.\n\n\n\nSecond paragraph.".into());
        let old = item.when;
        item.when = Some(at("2026-12-05T16:00:00Z"));
        Alert {
            id: AlertId(7),
            changes: vec![Change::Schedule {
                old_when: old,
                new_when: item.when,
                old_precision: item.precision,
                new_precision: item.precision,
                old_window: (item.window_start, item.window_end),
                new_window: (item.window_start, item.window_end),
            }],
            item,
            detected_at: at("2026-12-01T10:00:00Z"),
        }
    }

    fn sample_message() -> Message {
        message(&schedule_alert(), chrono_tz::Europe::Berlin, at("2026-12-05T13:00:00Z"))
    }

    fn bare(headline: &str) -> Message {
        Message::bare(AlertKind::New, "🆕", headline.into(), String::new())
    }

    #[test]
    fn snapshot_schedule_change() {
        let msg = sample_message();
        insta::assert_snapshot!("schedule_change_html", html(&msg));
        insta::assert_snapshot!("schedule_change_caption", caption(&msg).unwrap());
    }

    #[test]
    fn snapshot_reminder_on_hold() {
        let mut item = sample_launch();
        item.status = Some(Named::new(Some(5), "On Hold", Some("Hold".into())));
        item.precision = Some(Precision::Hour);
        let when = item.when.unwrap();
        let alert = Alert {
            id: AlertId(2),
            item,
            changes: vec![Change::Reminder { offset: std::time::Duration::from_secs(3600), when }],
            detected_at: when,
        };
        let msg = message(&alert, chrono_tz::UTC, when - chrono::Duration::minutes(59));
        insta::assert_snapshot!("reminder_on_hold_html", html(&msg));
    }

    #[test]
    fn dynamic_strings_are_escaped() {
        let mut msg = sample_message();
        msg.title = "<b>&\"Rocket\"".into();
        msg.agencies = Some("A&B <Space>".into());
        msg.pages = vec![Link { label: "Space Launch Now", url: "https://ll.example/launch/?a=1&b=\"2\"".into() }];
        let out = html(&msg);
        assert!(out.contains("<b>&lt;b&gt;&amp;&quot;Rocket&quot;</b>"), "{out}");
        assert!(out.contains("A&amp;B &lt;Space&gt;"), "{out}");
        assert!(out.contains("href=\"https://ll.example/launch/?a=1&amp;b=%222%22\""), "{out}");
        let visible = parse_telegram_html(&out).unwrap();
        assert!(visible.contains("<b>&\"Rocket\""), "{visible}");
        assert_eq!(escape("<b>&\"Rocket\""), "&lt;b&gt;&amp;&quot;Rocket&quot;");
    }

    #[test]
    fn long_description_is_trimmed_to_fit() {
        let mut msg = sample_message();
        msg.description = Some("word & <more> ".repeat(800)); // ~11,000 chars
        let out = html(&msg);
        assert!(utf16_len(&out) <= TEXT_LIMIT, "{}", utf16_len(&out));
        assert!(utf16_len(&out) > TEXT_LIMIT - 100, "room left unused: {}", utf16_len(&out));
        parse_telegram_html(&out).unwrap();
        assert!(out.contains("…"), "trimmed text is marked");
        assert!(out.contains(">Space Launch Now</a> · <a"), "links survive trimming");
        let cap = caption(&msg).unwrap();
        assert!(utf16_len(&cap) <= CAPTION_LIMIT);
        parse_telegram_html(&cap).unwrap();
    }

    #[test]
    fn every_long_field_is_trimmed_safely() {
        let long = "&<\"é🚀 ".repeat(2000); // 10,000 chars, 2 units per rocket, entities everywhere
        let mut msg = sample_message();
        msg.headline = long.clone();
        msg.title = long.clone();
        msg.changes = vec![long.clone(); 50];
        msg.note = Some(long.clone());
        msg.when = Some(long.clone());
        msg.tminus = Some(long.clone());
        msg.status = Some(long.clone());
        msg.agencies = Some(long.clone());
        msg.location = Some(long.clone());
        msg.description = Some(long.clone());
        msg.webcast = Some(format!("https://x.org/{}", "a".repeat(10_000)));
        let out = html(&msg);
        assert!(utf16_len(&out) <= TEXT_LIMIT, "{}", utf16_len(&out));
        parse_telegram_html(&out).unwrap();
        assert!(out.starts_with("🗓 <b>"), "{}", &out[..50]);
        assert!(!out.contains("x.org/aaaa"), "overlong URLs are dropped");
        assert_eq!(caption(&msg), None, "a caption does not lose essentials");
    }

    #[test]
    fn caption_needs_the_essentials_to_fit() {
        let mut msg = sample_message();
        msg.changes = vec!["x".repeat(500), "y".repeat(500)];
        assert_eq!(caption(&msg), None);
        let out = html(&msg);
        assert!(out.contains(&"x".repeat(500)) && out.contains(&"y".repeat(500)), "text keeps them whole");
    }

    #[test]
    fn newlines_in_fields_do_not_split_tags() {
        let mut msg = sample_message();
        msg.title = "line one\nline two\r\n\tthree\u{0}".into();
        let out = html(&msg);
        assert!(out.contains("<b>line one line two three</b>"), "{out}");
        for line in out.lines() {
            parse_telegram_html(line).unwrap_or_else(|e| panic!("line {line:?}: {e}"));
        }
    }

    #[test]
    fn buttons_only_for_http_urls() {
        let mut msg = sample_message();
        assert_eq!(
            buttons(&msg),
            vec![
                ("Watch live".to_string(), "https://www.youtube.com/watch?v=abc&t=1".to_string()),
                ("Details".to_string(), "https://spacelaunchnow.me/launch/falcon-9-starlink-10-1/".to_string()),
            ]
        );
        msg.webcast = Some("javascript:alert(1)".into());
        msg.link = Some("not a url".into());
        msg.pages = vec![Link { label: "Go4Liftoff", url: "not a url".into() }];
        assert!(buttons(&msg).is_empty());
        msg.link = Some("https://ll.thespacedevs.com/2.3.0/launches/f059c8f4/".into());
        assert!(buttons(&msg).is_empty(), "never the LL2 API");
        let out = html(&msg);
        assert!(!out.contains("<a "), "no link for unsafe URLs: {out}");
    }

    #[test]
    fn minimal_message() {
        let out = html(&bare("New event"));
        assert_eq!(out, "🆕 <b>New event</b>");
        assert_eq!(caption(&bare("x")).as_deref(), Some("🆕 <b>x</b>"));
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![".{0,40}", "[<>&\"a-z🚀\n ]{0,3000}"]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn never_exceeds_limits_and_stays_valid(
            headline in text(), title in text(), changes in prop::collection::vec(text(), 0..30),
            note in prop::option::of(text()), when in prop::option::of(text()), location in prop::option::of(text()),
            description in prop::option::of(text()), link in prop::option::of(text()),
        ) {
            let mut msg = bare(&headline);
            msg.title = title;
            msg.changes = changes;
            msg.note = note;
            msg.when = when;
            msg.location = location;
            msg.description = description;
            msg.link = link.map(|l| format!("https://x.org/{l}"));
            let out = html(&msg);
            prop_assert!(utf16_len(&out) <= TEXT_LIMIT);
            prop_assert!(parse_telegram_html(&out).is_ok(), "{:?}", parse_telegram_html(&out));
            if let Some(c) = caption(&msg) {
                prop_assert!(utf16_len(&c) <= CAPTION_LIMIT);
                prop_assert!(parse_telegram_html(&c).is_ok());
            }
        }
    }
}
