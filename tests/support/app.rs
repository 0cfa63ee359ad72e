//! The tminus pipeline assembled in-process for integration tests: a store
//! in a temporary directory, subscriptions, the real poller and the real
//! deliverer, aimed at a fake LL2. Tests that need the binary spawn
//! `CARGO_BIN_EXE_tminus` instead.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tminus::config::{Ll2Config, Watch};
use tminus::deliver::{BoxFuture, Deliverer, DeliveryConfig, SendError, Sender, Senders, Sent};
use tminus::poller::{BudgetWait, FeedReport, PollError, Poller, PollerConfig};
use tminus::render::Message;
use tminus::store::Store;
use tminus::subscriptions::{Subscriptions, default_console_watch};
use tminus::types::{Destination, Feed};
use tokio::sync::watch;

/// Records what would have been shown, instead of printing it.
#[derive(Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<(Destination, Message)>>,
}

impl Recorder {
    pub fn messages(&self) -> Vec<(Destination, Message)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Sender for Recorder {
    fn send<'a>(&'a self, dest: &'a Destination, msg: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            self.sent.lock().unwrap().push((dest.clone(), msg.clone()));
            Ok(Sent::default())
        })
    }
}

pub struct App {
    pub dir: Arc<tempfile::TempDir>,
    pub store: Store,
    pub subs: Subscriptions,
    pub poller: Poller,
    pub deliverer: Arc<Deliverer>,
    pub recorder: Arc<Recorder>,
    pub stop: watch::Sender<bool>,
}

pub struct AppOptions {
    pub ll2: Ll2Config,
    pub watches: Vec<Watch>,
    pub on_first_sync: bool,
    /// Reuse a store directory (restart tests).
    pub dir: Option<Arc<tempfile::TempDir>>,
}

impl AppOptions {
    pub fn new(ll2: Ll2Config) -> AppOptions {
        AppOptions {
            ll2,
            watches: vec![default_console_watch(chrono_tz::UTC, vec![])],
            on_first_sync: false,
            dir: None,
        }
    }
}

impl App {
    pub async fn start(opts: AppOptions) -> App {
        let dir = opts.dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let store = Store::open(&dir.path().join("store")).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        subs.reconcile(&opts.watches).unwrap();
        let recorder = Arc::new(Recorder::default());
        let senders = Senders::default().with("console", recorder.clone());
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        let (stop, stop_rx) = watch::channel(false);
        let client = tminus::ll2::Client::new(&opts.ll2).unwrap();
        let config = PollerConfig {
            feeds: opts.ll2.feeds.clone(),
            requests_per_hour: opts.ll2.requests_per_hour,
            resweep_interval: opts.ll2.resweep_interval,
            on_first_sync: opts.on_first_sync,
        };
        let poller = Poller::new(client, store.clone(), subs.index(), config, deliverer.wake.clone(), stop_rx).unwrap();
        App { dir, store, subs, poller, deliverer, recorder, stop }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// One poll of every feed (without waiting for budget), then delivery.
    pub async fn cycle(&mut self) -> Vec<Result<FeedReport, PollError>> {
        let mut out = Vec::new();
        for feed in Feed::ALL {
            out.push(self.poller.poll_feed(feed, BudgetWait::Skip).await);
        }
        self.deliverer.drain_once().await.unwrap();
        out
    }

    pub async fn poll(&mut self, feed: Feed) -> Result<FeedReport, PollError> {
        let r = self.poller.poll_feed(feed, BudgetWait::Skip).await;
        self.deliverer.drain_once().await.unwrap();
        r
    }
}
