//! Config error diagnostics: [`ConfigError`] and the one-line wording of
//! every problem, naming the dotted key (`watch[1].to[2]`), the offending
//! value and, for a mistyped key, the key that was probably meant.
//!
//! The key path of a type error or an unknown key comes from
//! `serde_path_to_error`; the position of a syntax error from the toml
//! parser's span, and the key being written there from `toml_edit` reading
//! the (valid) text above it. It must never echo source text or a secret's
//! value: a broken line may hold a token.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml::Value;

use super::raw;

/// A config problem. `Display` is the one line shown to the user; it names
/// the key and the offending value, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        message: String,
    },
    /// A value is missing, malformed or out of range.
    #[error("invalid config: {key}: {message}")]
    Invalid {
        /// The key, as a dotted path (`watch[0].to[1]`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Keys whose values are secrets: their values never appear in errors.
const SECRET_KEYS: [&str; 3] = ["ll2.api_key", "telegram.token", "discord.token"];

pub(super) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_owned(), message: one_line(&message.into()) }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Quotes strings, prints other values as TOML.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => one_line(&other.to_string()),
    }
}

/// Deserializes config text into `T`; any failure becomes one keyed line.
pub(super) fn deserialize<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        // A syntax error surfaces through serde with an empty path; parsing
        // the document alone tells it apart from a type error.
        if text.parse::<toml_edit::DocumentMut>().is_err() {
            syntax_error(text, e.inner())
        } else {
            let segments: Vec<Segment> = e.path().iter().cloned().collect();
            keyed_error(&segments, e.inner())
        }
    })
}

/// The dotted form of a key path: `watch[1].to`.
fn dotted(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        let name = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } => key.as_str(),
            Segment::Enum { variant } => variant.as_str(),
            Segment::Unknown => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(name);
    }
    out
}

/// An unknown key or a wrongly typed value at `path`.
fn keyed_error(path: &[Segment], err: &toml::de::Error) -> ConfigError {
    let key = dotted(path);
    if let Some((Segment::Map { key: field }, parent)) = path.split_last()
        && let Some(known) = raw::keys_of(parent)
        && !known.contains(&field.as_str())
    {
        let hint = match suggest(field, known) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None if known.is_empty() => String::new(),
            None => format!(" (expected one of: {})", known.join(", ")),
        };
        return invalid(&key, format!("unknown key{hint}"));
    }
    match key.as_str() {
        "" => invalid("config", friendly_type_message(err.message())),
        "watch" => invalid("watch", "must be an array of tables: write [[watch]], not [watch]"),
        k if SECRET_KEYS.contains(&k) => invalid(k, "expected a string (value hidden)"),
        k => invalid(k, friendly_type_message(err.message())),
    }
}

/// serde's wording names Rust types and puts the value first; users write
/// TOML, and every other config error reads "expected …, got …".
fn friendly_type_message(message: &str) -> String {
    let mut m = match message.strip_prefix("invalid type: ").and_then(|rest| rest.rsplit_once(", expected ")) {
        Some((got, expected)) => format!("expected {expected}, got {got}"),
        None => message.to_owned(),
    };
    if let Some(pos) = m.find("expected struct ") {
        let name_start = pos + "expected struct ".len();
        let name_end =
            m[name_start..].find(|c: char| !c.is_alphanumeric() && c != '_').map_or(m.len(), |e| name_start + e);
        m.replace_range(pos..name_end, "expected a table");
    }
    for (from, to) in [
        ("expected i64", "expected an integer"),
        ("expected a sequence", "expected a list"),
        ("got map", "got a table"),
        ("got sequence", "got a list"),
    ] {
        m = m.replace(from, to);
    }
    m
}

/// The closest known key, if the unknown one looks like a typo of it.
pub(super) fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A TOML syntax error as one line with its line and column, keyed by the
/// dotted key being written there when that can be told.
fn syntax_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let offset = err.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let key = key_at_line(text, line_start).unwrap_or_else(|| format!("line {line}"));
    invalid(&key, format!("TOML syntax error at line {line}, column {column}: {}", one_line(err.message())))
}

/// Best effort: the dotted key of the line starting at `line_start`, from
/// the last table header above it (the text above the broken line is read
/// by the TOML parser itself) and the key at the start of the line. `None`
/// when the line is a table header or the text above does not parse.
fn key_at_line(text: &str, line_start: usize) -> Option<String> {
    let above: toml_edit::DocumentMut = text[..line_start].parse().ok()?;
    let table = last_header(above.as_table());
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    if line.starts_with('[') {
        return None;
    }
    let written = line.split_once('=').map_or_else(|| line.split_whitespace().next().unwrap_or(""), |(k, _)| k);
    let key = toml_edit::Key::parse(written.trim())
        .ok()
        .map(|keys| keys.iter().map(toml_edit::Key::get).collect::<Vec<_>>().join("."));
    match (table.is_empty(), key) {
        (true, key) => key,
        (false, None) => Some(table),
        (false, Some(key)) => Some(format!("{table}.{key}")),
    }
}

/// The path of the table whose header comes last in the document, e.g.
/// `watch[1]`; empty for the root table.
fn last_header(root: &toml_edit::Table) -> String {
    fn visit(table: &toml_edit::Table, path: &str, last: &mut (usize, String)) {
        for (key, item) in table.iter() {
            let path = if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
            let tables: Vec<(String, &toml_edit::Table)> = match item {
                toml_edit::Item::Table(t) => vec![(path, t)],
                toml_edit::Item::ArrayOfTables(a) => {
                    a.iter().enumerate().map(|(i, t)| (format!("{path}[{i}]"), t)).collect()
                }
                _ => continue,
            };
            for (path, t) in tables {
                // Implicit and dotted tables have no header of their own.
                if let Some(pos) = t.position()
                    && !t.is_implicit()
                    && !t.is_dotted()
                    && pos > last.0
                {
                    *last = (pos, path.clone());
                }
                visit(t, &path, last);
            }
        }
    }
    let mut last = (0, String::new());
    visit(root, "", &mut last);
    last.1
}
