//! How errors become log text: [`error_chain`] puts an error and its causes
//! on one line, and [`redact`] masks secrets (tokens, API keys, webhook
//! URLs) in any text before it is logged or stored as a reason. Every
//! module that turns an outside error into a message uses these two, so
//! there is one place to get redaction right. This module must not log or
//! classify errors itself; it only formats.

use std::error::Error;

/// Shortest secret worth redacting: masking a two-letter string would
/// mangle every message without protecting anything.
const MIN_SECRET_LEN: usize = 6;

/// An error and its sources on one line, `outer: cause: root cause`. A
/// cause whose text the line already holds is left out (HTTP clients often
/// repeat their source in their own message).
pub(crate) fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// `text` with every secret replaced by `***`: each of `secrets` as given
/// and percent-encoded (a token with a `:` appears as `%3A` in URLs), and
/// anything shaped like a Telegram bot token after `/bot` in a URL path
/// (`/bot123:ABC/`), so even a token we were not told about cannot leak
/// through a URL. Secrets shorter than a few characters are ignored.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| s.len() >= MIN_SECRET_LEN) {
        out = out.replace(secret, "***");
        if secret.contains(':') {
            out = out.replace(&secret.replace(':', "%3A"), "***").replace(&secret.replace(':', "%3a"), "***");
        }
    }
    mask_bot_paths(&out)
}

/// `/bot<digits>…` up to the end of the path segment becomes `/bot***`.
fn mask_bot_paths(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/bot") {
        let (before, after) = rest.split_at(i + 4);
        result.push_str(before);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            let end = after
                .find(|c: char| matches!(c, '/' | '?' | '#' | ')' | '"') || c.is_whitespace())
                .unwrap_or(after.len());
            result.push_str("***");
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAE-secret_Token";

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(String, #[source] Option<Box<Layer>>);

    fn layers(texts: &[&str]) -> Layer {
        texts.iter().rev().fold(None, |inner, t| Some(Layer(t.to_string(), inner.map(Box::new)))).unwrap()
    }

    #[test]
    fn chains_causes_on_one_line_without_repeats() {
        assert_eq!(error_chain(&layers(&["send failed", "connect", "refused"])), "send failed: connect: refused");
        assert_eq!(error_chain(&layers(&["request failed: timed out", "timed out"])), "request failed: timed out");
        assert_eq!(error_chain(&layers(&["alone"])), "alone");
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let url = format!("error sending request for url (http://127.0.0.1:1/bot{TOKEN}/SendMessage)");
        let red = redact(&url, &[TOKEN]);
        assert_eq!(red, "error sending request for url (http://127.0.0.1:1/bot***/SendMessage)");
        let encoded = format!("https://api.telegram.org/bot{}/getMe", TOKEN.replace(':', "%3A"));
        assert!(!redact(&encoded, &[TOKEN]).contains("secret"));
        let lower = format!("see x?t={}", TOKEN.replace(':', "%3a"));
        assert_eq!(redact(&lower, &[TOKEN]), "see x?t=***");
        // A token we were not given (e.g. another bot's) is still masked in URLs.
        assert_eq!(redact("GET /bot987:XYZ?x=1 failed", &[]), "GET /bot***?x=1 failed");
        assert_eq!(redact("the /bots and /botany stay", &[TOKEN]), "the /bots and /botany stay");
        assert_eq!(redact("tail /bot1:a", &[TOKEN]), "tail /bot***");

        let hook = "https://discord.com/api/webhooks/123/AbCdEf-token";
        let text = format!("error for {hook}?wait=true and AbCdEf-token again");
        let red = redact(&text, &[hook, "AbCdEf-token"]);
        assert!(!red.contains("AbCdEf-token") && !red.contains("webhooks/123"), "{red}");
        assert_eq!(redact("abc", &["ab"]), "abc", "tiny strings are not secrets worth redacting");
        assert_eq!(redact("abc", &[""]), "abc");
    }
}
