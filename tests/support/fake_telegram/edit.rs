// `editMessageText`, as Telegram answers it: the message must be one the
// fake sent in that chat (`message to edit not found`) and have text
// (`there is no text in the message to edit`); the new text is validated
// like a `sendMessage` (HTML, length, keyboard); the same text and keyboard
// again is 400 `message is not modified`. Edits count toward the rate
// limits like sends. The stored message then shows the new text and
// keyboard (`FakeTelegram::reply_markup`, `FakeTelegram::message_text`).

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{Answer, Shared, as_i64, check_markup, over_limit, parse_html, record_send, utf16_len};

pub(super) const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and \
     reply markup are exactly the same as a current content and reply markup of the message";

pub(super) fn edit_message_text(shared: &Shared, params: &Map<String, Value>, at: Instant) -> Answer {
    let chat = params.get("chat_id").and_then(as_i64);
    let id = params.get("message_id").and_then(as_i64);
    let raw = params.get("text").and_then(Value::as_str).unwrap_or("");
    let text = match params.get("parse_mode").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("html") => match parse_html(raw) {
            Ok(t) => t,
            Err(e) => return Answer::err(400, &format!("Bad Request: can't parse entities: {e}")),
        },
        Some(m) if !m.eq_ignore_ascii_case("markdownv2") && !m.eq_ignore_ascii_case("markdown") => {
            return Answer::err(400, "Bad Request: unsupported parse_mode");
        }
        _ => raw.to_string(),
    };
    if text.trim().is_empty() {
        return Answer::err(400, "Bad Request: message text is empty");
    }
    if utf16_len(&text) > 4096 {
        return Answer::err(400, "Bad Request: message is too long");
    }
    let markup = params.get("reply_markup").cloned();
    if let Some(e) = markup.as_ref().and_then(|m| check_markup(m).err()) {
        return Answer::err(400, &format!("Bad Request: {e}"));
    }
    let mut st = shared.lock();
    let Some((chat, id)) = chat.zip(id).filter(|key| st.messages.contains_key(key)) else {
        return Answer::err(400, "Bad Request: message to edit not found");
    };
    let msg = &st.messages[&(chat, id)];
    let Some(current) = msg.get("text").and_then(Value::as_str) else {
        return Answer::err(400, "Bad Request: there is no text in the message to edit");
    };
    if current == text && msg.get("reply_markup") == markup.as_ref() {
        return Answer::err(400, NOT_MODIFIED);
    }
    if let Some(wait) = over_limit(&mut st, chat, false, at) {
        return Answer::err(429, &format!("Too Many Requests: retry after {wait}"))
            .with_parameters(json!({"retry_after": wait}));
    }
    record_send(&mut st, chat, at);
    let Some(msg) = st.messages.get_mut(&(chat, id)) else {
        return Answer::err(400, "Bad Request: message to edit not found");
    };
    msg["text"] = json!(text);
    msg["edit_date"] = json!(chrono::Utc::now().timestamp());
    match markup {
        Some(m) => msg["reply_markup"] = m,
        None => {
            msg.as_object_mut().map(|o| o.remove("reply_markup"));
        }
    }
    let mut answer = Answer::ok(msg.clone());
    answer.message_id = Some(id);
    answer
}
