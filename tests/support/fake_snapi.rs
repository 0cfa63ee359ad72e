//! A fake Spaceflight News API (SNAPI v4) for integration tests, in the
//! style of `fake_ll2`: a real axum server on `127.0.0.1:<random port>`
//! serving article objects from `tests/fixtures/snapi/` the way SNAPI v4
//! documents them: `/v4/articles/` with `count/next/previous/results`,
//! `limit` (default 10, max 100), `offset`, `ordering` (`published_at`,
//! `updated_at`, `-…`; default `-published_at`) and the filters
//! `updated_at_gt`, `updated_at_gte`, `published_at_gt`, `published_at_gte`.
//! It records every request's query string, and answers the next request
//! with a 429 on demand. Dropping it stops it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State as AxState;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// `tests/fixtures/snapi/NAME` as a page document's `results`.
pub fn fixture_articles(name: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapi").join(name);
    let page: Value = serde_json::from_slice(&std::fs::read(&path).expect("read SNAPI fixture")).unwrap();
    page["results"].as_array().expect("a SNAPI page has results").clone()
}

struct ServerState {
    articles: Vec<Value>,
    origin: String,
    queries: Vec<String>,
    throttle_next: Option<u64>,
}

pub struct FakeSnapi {
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSnapi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSnapi {
    /// A server holding `articles`.
    pub async fn start(articles: Vec<Value>) -> FakeSnapi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake SNAPI");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ServerState {
            articles,
            origin: format!("http://{addr}"),
            queries: Vec::new(),
            throttle_next: None,
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSnapi { addr, state, task }
    }

    /// `http://127.0.0.1:PORT/v4`, the value for `[news] base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// Publishes more articles.
    pub fn add(&self, articles: Vec<Value>) {
        self.state.lock().unwrap().articles.extend(articles);
    }

    /// Edits article `id`: `field` becomes `value` and `updated_at` moves
    /// to `updated_at` (SNAPI stamps every edit).
    pub fn edit(&self, id: u64, field: &str, value: Value, updated_at: &str) {
        let mut s = self.state.lock().unwrap();
        let a = s.articles.iter_mut().find(|a| a["id"] == json!(id)).expect("article to edit");
        a[field] = value;
        a["updated_at"] = json!(updated_at);
    }

    /// The query string of every request so far, in order.
    pub fn queries(&self) -> Vec<String> {
        self.state.lock().unwrap().queries.clone()
    }

    /// The next request gets HTTP 429 with `Retry-After: secs`.
    pub fn throttle_next(&self, secs: u64) {
        self.state.lock().unwrap().throttle_next = Some(secs);
    }
}

fn stamp(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field)?.as_str()?.parse().ok()
}

async fn handle(AxState(state): AxState<Arc<Mutex<ServerState>>>, uri: Uri) -> Response {
    let mut s = state.lock().unwrap();
    let query = uri.query().unwrap_or("").to_string();
    s.queries.push(query.clone());
    if let Some(secs) = s.throttle_next.take() {
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, secs.to_string())
            .body(json!({"detail": "Request was throttled."}).to_string().into())
            .unwrap();
    }
    if uri.path() != "/v4/articles/" {
        return Response::builder().status(StatusCode::NOT_FOUND).body(r#"{"detail":"Not found."}"#.into()).unwrap();
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut list: Vec<Value> = s.articles.clone();
    for (name, field, strict) in [
        ("updated_at_gt", "updated_at", true),
        ("updated_at_gte", "updated_at", false),
        ("published_at_gt", "published_at", true),
        ("published_at_gte", "published_at", false),
    ] {
        if let Some(bound) = param(name) {
            let bound: DateTime<Utc> = match bound.parse() {
                Ok(b) => b,
                Err(_) => {
                    return Response::builder()
                        .status(StatusCode::BAD_REQUEST)
                        .body(json!({ name: ["Enter a valid date/time."] }).to_string().into())
                        .unwrap();
                }
            };
            list.retain(|a| stamp(a, field).is_some_and(|t| if strict { t > bound } else { t >= bound }));
        }
    }
    let ordering = param("ordering").unwrap_or_else(|| "-published_at".into());
    let (desc, field) = match ordering.strip_prefix('-') {
        Some(f) => (true, f.to_string()),
        None => (false, ordering.clone()),
    };
    list.sort_by_key(|a| stamp(a, &field));
    if desc {
        list.reverse();
    }
    let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(10).min(100);
    let offset: usize = param("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let count = list.len();
    let results: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
    let link = |off: usize| {
        let mut q: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "offset").cloned().collect();
        q.push(("offset".into(), off.to_string()));
        let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish();
        format!("{}/v4/articles/?{q}", s.origin)
    };
    let next = (offset + limit < count).then(|| link(offset + limit));
    let previous = (offset > 0).then(|| link(offset.saturating_sub(limit)));
    let body = json!({ "count": count, "next": next, "previous": previous, "results": results });
    Response::builder().header(header::CONTENT_TYPE, "application/json").body(body.to_string().into()).unwrap()
}
