//! The tminus pipeline assembled in-process for integration tests: the
//! library's own [`tminus::app::App`], built from a config whose store lives
//! in a temporary directory and whose LL2 is a fake, with a recorder as the
//! console sender. Tests drive its parts (poller, deliverer) step by step;
//! tests that need the binary spawn `CARGO_BIN_EXE_tminus` instead.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tminus::config::{Config, Ll2Config, Watch};
use tminus::deliver::{AlertExtras, BoxFuture, SendError, Sender, Senders, Sent};
use tminus::poller::{BudgetWait, FeedReport, PollError};
use tminus::render::Message;
use tminus::subscriptions::default_console_watch;
use tminus::types::Platform;
use tminus::types::{Destination, Feed};

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
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        _extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            self.sent.lock().unwrap().push((dest.clone(), msg.clone()));
            Ok(Sent::default())
        })
    }
}

pub struct App {
    pub dir: Arc<tempfile::TempDir>,
    pub recorder: Arc<Recorder>,
    app: tminus::app::App,
}

/// The app's parts (`store`, `subs`, `poller`, `deliverer`, …) read as the
/// harness's own.
impl Deref for App {
    type Target = tminus::app::App;
    fn deref(&self) -> &Self::Target {
        &self.app
    }
}

impl DerefMut for App {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.app
    }
}

pub struct AppOptions {
    pub ll2: Ll2Config,
    pub watches: Vec<Watch>,
    pub on_first_sync: bool,
    /// Reuse a store directory (restart tests).
    pub dir: Option<Arc<tempfile::TempDir>>,
    /// `[news] base_url` (a fake SNAPI); `None`: the default.
    pub news_url: Option<String>,
    /// Platform senders (e.g. the real Telegram and Discord senders aimed
    /// at the fakes) in place of the console recorder.
    pub senders: Option<Senders>,
}

impl AppOptions {
    pub fn new(ll2: Ll2Config) -> AppOptions {
        AppOptions {
            ll2,
            watches: vec![default_console_watch(chrono_tz::UTC, vec![])],
            on_first_sync: false,
            dir: None,
            news_url: None,
            senders: None,
        }
    }
}

impl App {
    pub async fn start(opts: AppOptions) -> App {
        let dir = opts.dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let mut config = Config::default_config();
        config.ll2 = opts.ll2;
        config.store.path = dir.path().join("store");
        config.alerts.on_first_sync = opts.on_first_sync;
        config.watches = opts.watches;
        if let Some(url) = opts.news_url {
            config.news.base_url = url;
        }
        let recorder = Arc::new(Recorder::default());
        let senders = opts.senders.unwrap_or_else(|| Senders::default().with(Platform::Console, recorder.clone()));
        let app = tminus::app::App::with_senders(config, senders).unwrap();
        App { dir, recorder, app }
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
