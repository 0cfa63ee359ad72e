//! A fake receiver for the URL destinations (`webhook:`, `ntfy:`,
//! `slack:`): real HTTP on `127.0.0.1:<random port>` (axum, inside the
//! test's runtime; dropping it stops it). It records every request
//! (method, path, headers, body), answers 200 `ok` by default and plays
//! scripted answers: the next ones in order ([`FakeHook::answer_next`]),
//! or one for every request ([`FakeHook::answer_always`]).
//!
//! ```ignore
//! let hook = FakeHook::start().await;
//! hook.answer_next(Answer::Status(500));          // 500 once, then 200
//! let dest: Destination = format!("webhook:{}", hook.url("/hook")).parse().unwrap();
//! // ... deliver, then:
//! assert_eq!(hook.requests().len(), 2);
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status with a short text body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after_secs: u64 },
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    next: VecDeque<Answer>,
    always: Option<Answer>,
}

pub struct FakeHook {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeHook {
    pub async fn start() -> FakeHook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake hook");
        let addr = listener.local_addr().expect("fake hook address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move { answer(&state, method, uri, headers, body) }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeHook { addr, state, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next request with `a` (after those queued before).
    pub fn answer_next(&self, a: Answer) {
        self.state.lock().unwrap().next.push_back(a);
    }

    /// Answers every request not scripted by `answer_next` with `a`.
    pub fn answer_always(&self, a: Answer) {
        self.state.lock().unwrap().always = Some(a);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for FakeHook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(state: &Mutex<State>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = state.lock().unwrap();
    st.requests.push(Request {
        method: method.to_string(),
        path: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
        at: std::time::Instant::now(),
    });
    let a = st.next.pop_front().or(st.always).unwrap_or(Answer::Status(200));
    match a {
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            (status, if status.is_success() { "ok".to_string() } else { format!("fake says {code}") }).into_response()
        }
        Answer::RateLimited { retry_after_secs } => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after_secs.to_string())], "slow down")
                .into_response()
        }
    }
}
