//! The feed route of the built-in server: `GET /calendar/{NAME|TOKEN}.ics`.
//! A name is a `calendar:NAME` destination of the config; a token is a
//! chat's private feed from `/calendar`. Answers carry an `ETag` of the
//! body and honour `If-None-Match` (304); anything unknown is a 404 that
//! says nothing about what exists. It must not log tokens.

use std::hash::{Hash, Hasher};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::warn;

use crate::store::{Store, StoreError};
use crate::types::Destination;

/// The calendar route, state applied, ready to merge into the server.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn router(store: Store) -> Router {
    Router::new().route("/calendar/{file}", get(serve)).with_state(store)
}

async fn serve(State(store): State<Store>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(key) = file.strip_suffix(".ics").map(str::to_owned) else { return not_found() };
    let now = chrono::Utc::now();
    let body = tokio::task::spawn_blocking(move || body_for(&store, &key, now)).await;
    match body {
        Ok(Ok(Some(body))) => respond(&body, &headers),
        Ok(Ok(None)) => not_found(),
        Ok(Err(e)) => {
            warn!(error = %e, "calendar feed: store read failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "feed failed\n").into_response(),
    }
}

/// The feed text for a name or token; `None` when neither is known.
fn body_for(store: &Store, key: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, StoreError> {
    if let Some(chat) = store.calendar_token_destination(key)? {
        return super::feed(store, &chat, "tminus", now).map(Some);
    }
    let dest = match format!("calendar:{key}").parse::<Destination>() {
        Ok(d @ Destination::Calendar(_)) => d,
        _ => return Ok(None),
    };
    if store.subscriptions_of(&dest)?.is_empty() {
        return Ok(None);
    }
    super::feed(store, &dest, &format!("tminus: {key}"), now).map(Some)
}

/// A strong validator for the body: stable for the same text.
pub(crate) fn etag(body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), body.len())
}

/// Whether an `If-None-Match` value matches `etag` (a list, weak forms, `*`).
pub(crate) fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

fn respond(body: &str, headers: &HeaderMap) -> Response {
    let tag = etag(body);
    let cached = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| matches(v, &tag));
    let common = [(header::ETAG, tag.clone()), (header::CACHE_CONTROL, "max-age=300".to_string())];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (StatusCode::OK, common, [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body.to_string()).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such calendar\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let tag = etag("BEGIN:VCALENDAR");
        assert_eq!(tag, etag("BEGIN:VCALENDAR"));
        assert_ne!(tag, etag("BEGIN:VCALENDAR "));
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"x\", W/{tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"other\"", &tag));
    }
}
