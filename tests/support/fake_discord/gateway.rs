//! A fake Discord gateway: a websocket server on `127.0.0.1:<random port>`
//! speaking the gateway protocol as far as a bot that only answers
//! interactions needs it, in plain-text JSON frames (serenity accepts
//! them; Discord would send zlib when asked):
//!
//! 1. on connect: HELLO (op 10, a long heartbeat interval);
//! 2. IDENTIFY (op 2) must carry the token (with or without `Bot `),
//!    else the socket is closed with 4004 "Authentication failed";
//! 3. READY (op 0, `t: READY`), a payload serenity's `Ready` accepts;
//! 4. every heartbeat (op 1) gets its ACK (op 11);
//! 5. the test pushes dispatches with [`FakeGateway::dispatch`], e.g.
//!    `INTERACTION_CREATE`, to every session that is ready.
//!
//! Give [`FakeGateway::url`] to `FakeDiscordBuilder::gateway` so the fake
//! REST answers `GET /gateway(/bot)` with it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{APPLICATION_ID, BOT_USER_ID};

/// What the fake saw, for assertions.
#[derive(Default)]
struct GatewayState {
    /// IDENTIFY payloads (`d`), token included, in arrival order.
    identifies: Vec<Value>,
    /// Sessions that got READY: where their dispatches go.
    sessions: Vec<mpsc::UnboundedSender<(String, Value)>>,
    /// IDENTIFYs refused for a wrong token.
    refused: usize,
    /// Heartbeats acknowledged.
    heartbeats: usize,
}

/// The running fake gateway; dropping it stops it.
pub struct FakeGateway {
    addr: SocketAddr,
    state: Arc<Mutex<GatewayState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGateway {
    /// A gateway that accepts IDENTIFY with `token`.
    pub async fn start(token: &str) -> FakeGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake gateway");
        let addr = listener.local_addr().expect("fake gateway address");
        let state = Arc::new(Mutex::new(GatewayState::default()));
        let (shared, token) = (state.clone(), token.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(session(tcp, addr, token.clone(), shared.clone()));
            }
        });
        FakeGateway { addr, state, task }
    }

    /// The websocket URL, as `GET /gateway/bot` gives it.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, GatewayState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The IDENTIFY payloads received.
    pub fn identifies(&self) -> Vec<Value> {
        self.lock().identifies.clone()
    }

    /// IDENTIFYs refused for a wrong token.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// Sessions that got READY and are still open.
    pub fn ready_sessions(&self) -> usize {
        let mut st = self.lock();
        st.sessions.retain(|s| !s.is_closed());
        st.sessions.len()
    }

    /// Waits until a session is ready; panics after `limit`.
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.ready_sessions() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no gateway session got READY within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends the dispatch `t` with payload `d` (op 0) to every ready
    /// session; how many it went to.
    pub fn dispatch(&self, t: &str, d: Value) -> usize {
        let st = self.lock();
        st.sessions.iter().filter(|s| s.send((t.to_owned(), d.clone())).is_ok()).count()
    }
}

/// The `READY` payload: the bot user, no guilds, one shard.
fn ready(url: &str) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": BOT_USER_ID.to_string(), "username": "tminus-test", "discriminator": "0",
            "global_name": null, "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0
        },
        "guilds": [],
        "session_id": "fake-session-1",
        "resume_gateway_url": url,
        "shard": [0, 1],
        "application": {"id": APPLICATION_ID.to_string(), "flags": 0}
    })
}

fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> Message {
    Message::Text(json!({"op": op, "d": d, "s": s, "t": t}).to_string())
}

/// One connection, from HELLO to close.
async fn session(tcp: tokio::net::TcpStream, addr: SocketAddr, token: String, state: Arc<Mutex<GatewayState>>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    if ws.send(frame(10, json!({"heartbeat_interval": 41_250}), None, None)).await.is_err() {
        return;
    }
    // IDENTIFY (a heartbeat may come first).
    let identify = loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else { return };
        let Ok(v) = serde_json::from_str::<Value>(&text) else { return };
        match v["op"].as_u64() {
            Some(2) => break v["d"].clone(),
            Some(1) => {
                lock().heartbeats += 1;
                let _ = ws.send(frame(11, Value::Null, None, None)).await;
            }
            _ => {}
        }
    };
    let given = identify["token"].as_str().unwrap_or_default().to_owned();
    lock().identifies.push(identify);
    if given.strip_prefix("Bot ").unwrap_or(&given) != token {
        lock().refused += 1;
        let close = CloseFrame { code: CloseCode::from(4004), reason: "Authentication failed.".into() };
        let _ = ws.send(Message::Close(Some(close))).await;
        return;
    }
    let mut seq = 1;
    if ws.send(frame(0, ready(&format!("ws://{addr}")), Some(seq), Some("READY"))).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    lock().sessions.push(tx);
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let op = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["op"].as_u64());
                    if op == Some(1) {
                        lock().heartbeats += 1;
                        if ws.send(frame(11, Value::Null, None, None)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            Some((t, d)) = rx.recv() => {
                seq += 1;
                if ws.send(frame(0, d, Some(seq), Some(&t))).await.is_err() {
                    return;
                }
            }
        }
    }
}
