//! The assembled bot: [`App`] is built once from a [`Config`] (store,
//! reconciled subscriptions, LL2 client, senders, deliverer, poller,
//! reminders) and then either runs one pass ([`App::once`]) or the daemon
//! ([`App::run`]): poller, deliverer, reminders, retention, the HTTP server and the
//! chat front-ends as tasks of one `TaskTracker`, stopped together through
//! one `CancellationToken`. The binary and the integration tests build the
//! same `App`; tests swap in their own senders ([`App::with_senders`]).
//!
//! This module owns wiring and the shutdown sequence only: it must not
//! poll, route or deliver by itself, and it does not parse arguments or
//! install the global logger (`main` does, through [`init_logging`]).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::commands::Defaults;
use crate::config::{Config, ConfigError, LogFormat, Watch};
use crate::console::ConsoleSender;
use crate::deliver::{Deliverer, DeliveryConfig, Senders};
use crate::digest::{DIGEST_GRACE, Digests};
use crate::poller::{BudgetWait, PollError, Poller, PollerConfig};
use crate::reminders::Reminders;
use crate::store::{Store, StoreError};
use crate::subscriptions::{self, Subscriptions};
use crate::telegram::TelegramSender;
use crate::transfer::{self, TransferError};
use crate::types::Platform;
use crate::{calendar, discord, ll2, metrics, server, telegram};

/// Why the app could not start or stopped with an error. The binary maps it
/// to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The config file is missing, unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error("cannot open the store at {path}: {source}")]
    Store {
        /// The configured store path (`[store] path`).
        path: String,
        /// Why it could not be opened.
        source: StoreError,
    },
    /// A read or write on the open store failed.
    #[error(transparent)]
    StoreOp(#[from] StoreError),
    /// Start-up or a file step failed (a bad token, a taken port, no store to
    /// export, an unreadable file); the text says what.
    #[error("{0}")]
    Startup(String),
    /// `export` or `import` failed.
    #[error("{path}: {source}")]
    Transfer {
        /// The file read or written (`stdout` for an export without a file).
        path: String,
        /// What went wrong with it.
        source: TransferError,
    },
    /// `once`: LL2 could not be polled for any feed.
    #[error("no feed could be polled from LL2: {0}")]
    NoFeedPolled(String),
}

impl AppError {
    /// 2 for what the user must fix in config or arguments, 3 when `once`
    /// could poll no feed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Config(_) => 2,
            AppError::NoFeedPolled(_) => 3,
            // A file that is not an export of this version: bad usage.
            AppError::Transfer {
                source: TransferError::Malformed(_) | TransferError::UnknownVersion { .. }, ..
            } => 2,
            _ => 1,
        }
    }
}

/// How far ahead `once` waits for a paused delivery (a 429's retry-after,
/// a retry) before exiting; later ones stay in the outbox for the next run.
pub(crate) const ONCE_PATIENCE: Duration = Duration::from_secs(60);

/// How long in-flight work may take once a shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bot, assembled. The parts are public so tests can drive them step
/// by step (one poll, one delivery pass) instead of running the daemon.
pub struct App {
    /// The open store every part shares.
    pub store: Store,
    /// The one API that changes subscriptions (commands, reconcile, import).
    pub subs: Subscriptions,
    /// Polls LL2 and turns changes into outbox entries.
    pub poller: Poller,
    /// Drains the outbox to the senders.
    pub deliverer: Arc<Deliverer>,
    /// Enqueues the reminders that come due.
    pub reminders: Arc<Reminders>,
    /// Polls the Spaceflight News API while someone wants `news`.
    pub news: crate::news::NewsFeed,
    /// Enqueues the digests that come due.
    pub digests: Arc<Digests>,
    /// Keeps `discord-events:` guilds in step; `None` without such a
    /// destination or without a Discord token.
    pub events: Option<Arc<discord::events::EventSync>>,
    config: Config,
    /// The Telegram sender, shared with the command bot.
    telegram: Option<Arc<TelegramSender>>,
    shutdown: CancellationToken,
}

impl App {
    /// The bot as configured: a sender per platform the config can reach,
    /// and the configured watches (or, on a fresh install without watches
    /// and chat tokens, everything to the console).
    pub fn new(config: Config) -> Result<App, AppError> {
        // The one limiter of every request made with the Discord bot token
        // (alerts and scheduled events): Discord counts 50/s per bot.
        let discord_limiter = discord::BotLimiter::discord();
        let (senders, telegram) = build_senders(&config, &discord_limiter)?;
        let watches = effective_watches(&config);
        App::assemble(config, senders, telegram, &watches, discord_limiter)
    }

    /// The bot with `senders` instead of the configured platforms, and
    /// exactly `config.watches` (tests record what would be sent).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_senders(config: Config, senders: Senders) -> Result<App, AppError> {
        let watches = config.watches.clone();
        App::assemble(config, senders, None, &watches, discord::BotLimiter::discord())
    }

    fn assemble(
        config: Config,
        senders: Senders,
        telegram: Option<Arc<TelegramSender>>,
        watches: &[Watch],
        discord_limiter: discord::BotLimiter,
    ) -> Result<App, AppError> {
        let store = open_store(&config.store.path)?;
        let subs = Subscriptions::load(store.clone())?;
        let rec = subs.reconcile(watches)?;
        info!(
            added = rec.added,
            changed = rec.changed,
            removed = rec.removed,
            unchanged = rec.unchanged,
            "config watches reconciled"
        );
        // The config is the truth: a watch's destination paused for a
        // refusal an admin can fix is tried again at every start.
        subs.resume_config_watches()?;
        let client = ll2::Client::new(&config.ll2).map_err(|e| AppError::Startup(e.to_string()))?;
        let deliverer = Arc::new(Deliverer::new(
            subs.clone(),
            senders,
            DeliveryConfig { max_age: config.delivery.max_age, ..Default::default() },
        ));
        let shutdown = CancellationToken::new();
        let poller = Poller::new(
            client,
            store.clone(),
            subs.index(),
            poller_config(&config),
            deliverer.wake.clone(),
            shutdown.clone(),
        )?;
        let reminders =
            Arc::new(Reminders::new(store.clone(), subs.index(), config.alerts.reminder_grace, deliverer.wake.clone()));
        let digests = Arc::new(Digests::new(store.clone(), DIGEST_GRACE, deliverer.wake.clone()));
        let events = event_sync(&config, &store, discord_limiter)?;
        let news = news_feed(&config, &store, &subs, &deliverer, &shutdown)?;
        Ok(App { store, subs, poller, deliverer, reminders, news, digests, events, config, telegram, shutdown })
    }

    /// `tminus once`: one poll of every feed (without waiting for the
    /// budget), due reminders, then delivery, waiting out pauses that end
    /// within [`ONCE_PATIENCE`]. Fails with [`AppError::NoFeedPolled`] (exit
    /// 3) after delivering, when every feed failed, so cron notices an
    /// outage; feeds skipped for the request budget are not failures.
    pub async fn once(mut self) -> Result<(), AppError> {
        self.poller.sync_throttle().await;
        let mut polled = 0;
        let mut failures = Vec::new();
        for feed in self.config.ll2.feeds.clone() {
            match self.poller.poll_feed(feed, BudgetWait::Skip).await {
                Ok(r) => {
                    polled += 1;
                    info!(feed = %feed, requests = r.requests, items = r.items, alerts = r.alerts, deliveries = r.deliveries, "poll done")
                }
                Err(PollError::NoBudget(until)) => {
                    warn!(feed = %feed, until = %until, "request budget exhausted; feed not polled this run")
                }
                Err(e) => {
                    warn!(feed = %feed, error = %e, "poll failed");
                    failures.push(format!("{feed}: {e}"));
                }
            }
        }
        if self.news.wanted() {
            match self.news.poll(BudgetWait::Skip).await {
                Ok(r) => info!(requests = r.requests, articles = r.articles, alerts = r.alerts, "news poll done"),
                Err(e) => warn!(error = %e, "news poll failed"),
            }
        }
        let fired = self.reminders.pass(chrono::Utc::now()).await?;
        if fired > 0 {
            info!(fired, "once: reminders due");
        }
        self.digests.pass(chrono::Utc::now()).await?;
        let stats = self.deliverer.drain_within(ONCE_PATIENCE).await?;
        if stats.waiting > 0 {
            warn!(
                waiting = stats.waiting,
                "once: deliveries paused beyond a minute or without a sender stay in the outbox for the next run"
            );
        }
        if let Some(events) = &self.events {
            events.pass_once().await;
        }
        info!(delivered = stats.delivered, waiting = stats.waiting, dead = stats.dead, "once: done");
        self.store.flush().await?;
        if polled == 0 && !failures.is_empty() {
            return Err(AppError::NoFeedPolled(failures.join("; ")));
        }
        Ok(())
    }

    /// `tminus run`: every part as a task until `signal` resolves, then a
    /// shutdown that gives in-flight work [`SHUTDOWN_GRACE`] to finish.
    pub async fn run(self, signal: impl Future<Output = ()>) -> Result<(), AppError> {
        let tasks = TaskTracker::new();
        let extra_routes = self.start_front_ends(&tasks)?;
        if let Err(e) = self.start_server(&tasks, extra_routes).await {
            // The front-ends may already run: stop them with the app.
            self.shutdown.cancel();
            return Err(e);
        }
        let App { store, subs, poller, deliverer, reminders, news, digests, events, config, shutdown, .. } = self;
        if let Some(events) = events {
            tasks.spawn(events.run(shutdown.clone()));
        }
        tasks.spawn(poller.run());
        tasks.spawn(news.run());
        tasks.spawn(forget_gone_mutes(subs, shutdown.clone()));
        let stop = shutdown.clone();
        tasks.spawn(async move { deliverer.run(stop).await });
        let stop = shutdown.clone();
        tasks.spawn(async move { reminders.run(stop).await });
        let stop = shutdown.clone();
        tasks.spawn(async move { digests.run(stop).await });
        tasks.spawn(prune_forever(store.clone(), config.store.retention, shutdown.clone()));
        tasks.close();

        info!(store = %config.store.path.display(), "tminus running; Ctrl-C or SIGTERM stops it");
        signal.await;
        info!("shutting down");
        shutdown.cancel();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await.is_err() {
            warn!("in-flight work did not finish within {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
        store.flush().await?;
        info!("stopped");
        Ok(())
    }

    /// The chat front-ends: the Discord handler (gateway task and/or the
    /// HTTP interactions routes, which are returned for the server) and
    /// the Telegram command bot.
    fn start_front_ends(&self, tasks: &TaskTracker) -> Result<Option<axum::Router>, AppError> {
        let config = &self.config;
        let defaults = Defaults {
            timezone: config.alerts.timezone,
            reminders: config.alerts.reminders.clone(),
            calendar_base: config.server.listen.and(config.server.public_url.clone()),
            schedule_horizon: config.alerts.schedule_horizon,
        };
        let mut routes = None;
        // One handler for slash commands, reached over the gateway
        // (`discord.token`) and the HTTP interactions endpoint
        // (`discord.public_key` with `server.listen`).
        if config.discord.is_enabled() || config.discord.public_key.is_some() {
            let handler = Arc::new(discord::commands::Handler::new(
                self.store.clone(),
                self.subs.clone(),
                self.poller.directory(),
                defaults.clone(),
            ));
            match (&config.discord.public_key, config.server.listen) {
                (Some(key), Some(_)) => {
                    routes = Some(discord::interactions::router(handler.clone(), key).map_err(|e| {
                        AppError::Config(ConfigError::Invalid {
                            key: "discord.public_key".into(),
                            message: e.to_string(),
                        })
                    })?);
                    info!(path = discord::interactions::PATH, "Discord interactions endpoint enabled");
                }
                (Some(_), None) => {
                    warn!("discord.public_key is set but server.listen is not: no interactions endpoint")
                }
                _ => {}
            }
            if config.discord.is_enabled() {
                tasks.spawn(discord::gateway::run(config.discord.clone(), handler, self.shutdown.clone()));
            }
        }
        // The command bot talks as the same bot as the alert sender and
        // shares its rate limiter, so replies and alerts together stay
        // within Telegram's limits.
        if let Some(tg) = &self.telegram {
            let services = crate::commands::SharedServices {
                subs: self.subs.clone(),
                store: self.store.clone(),
                directory: self.poller.directory(),
                defaults,
            };
            let bot = telegram::bot::CommandBot::new(tg.bot().clone(), services).with_limiter(tg.limiter());
            tasks.spawn(bot.run(self.shutdown.clone()));
        }
        Ok(routes)
    }

    /// `/`, `/healthz`, `/metrics`, the calendar feeds and `extra` routes on
    /// `server.listen`, if set.
    async fn start_server(&self, tasks: &TaskTracker, extra: Option<axum::Router>) -> Result<(), AppError> {
        let Some(addr) = self.config.server.listen else { return Ok(()) };
        let feeds = calendar::http::router(self.store.clone());
        let extra = Some(extra.map_or(feeds.clone(), |e| e.merge(feeds)));
        let feed_interval = poller_config(&self.config).max_feed_interval();
        let state = server::ServerState::new(
            self.store.clone(),
            metrics::global().clone(),
            self.config.ll2.feeds.clone(),
            server::health_threshold(self.config.server.health_max_age, feed_interval),
        )
        .with_reminders(self.config.alerts.reminders.clone());
        let (_, task) = server::start(addr, state, extra, self.shutdown.clone())
            .await
            .map_err(|e| AppError::Startup(format!("cannot listen on {addr} (server.listen): {e}")))?;
        tasks.spawn(async move {
            let _ = task.await;
        });
        Ok(())
    }
}

/// The scheduled-events sync whenever the Discord bot runs: a watch may
/// mirror into a guild, a chat may turn mirroring on (`/events on`), and
/// events of a removed watch are left to delete. Without a guild to keep
/// it stays idle (no request); paced by the bot's `limiter`.
fn event_sync(
    config: &Config,
    store: &Store,
    limiter: discord::BotLimiter,
) -> Result<Option<Arc<discord::events::EventSync>>, AppError> {
    if !config.discord.is_enabled() {
        return Ok(None);
    }
    let api = discord::events::EventsApi::new(config.discord.token.clone(), &config.discord.api_url, limiter)
        .map_err(|e| AppError::Startup(e.to_string()))?;
    Ok(Some(Arc::new(discord::events::EventSync::new(store.clone(), api, config.discord.events_window))))
}

/// How often the retention pass runs, and how many records per tree one
/// of its batches removes (small, so the store is never held for long).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: usize = 500;

/// Prunes records older than `retention` (`Store::prune`) at start and
/// every [`PRUNE_EVERY`], batch by batch, until shutdown.
async fn prune_forever(store: Store, retention: Duration, shutdown: CancellationToken) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    loop {
        let cutoff = chrono::Utc::now() - retention;
        let mut total = 0;
        while !shutdown.is_cancelled() {
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.prune(cutoff, PRUNE_BATCH)).await {
                Ok(Ok(p)) if p.total() > 0 => total += p.total(),
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    warn!(error = %e, "retention pass failed; trying again later");
                    break;
                }
                Err(_) => break,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if total > 0 {
            info!(pruned = total, cutoff = %cutoff, "retention: old records pruned");
            crate::store::release_freed_memory();
        }
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The news feed of `[news]`, on LL2's timeout and body cap.
fn news_feed(
    config: &Config,
    store: &Store,
    subs: &Subscriptions,
    deliverer: &Deliverer,
    shutdown: &CancellationToken,
) -> Result<crate::news::NewsFeed, AppError> {
    let client = crate::news::Client::new(&config.news.base_url, config.ll2.timeout, config.ll2.max_body_bytes)
        .map_err(|e| AppError::Startup(e.to_string()))?;
    let settings = crate::news::feed::NewsSettings {
        enabled: config.news.enabled,
        requests_per_hour: config.news.requests_per_hour,
    };
    Ok(crate::news::NewsFeed::new(
        client,
        store.clone(),
        subs.index(),
        settings,
        deliverer.wake.clone(),
        shutdown.clone(),
    )?)
}

fn poller_config(config: &Config) -> PollerConfig {
    PollerConfig::from_ll2(&config.ll2, config.alerts.on_first_sync)
}

/// One sender per platform this run can reach: the console always, webhooks
/// (Discord's, `webhook:`, `ntfy:`, `slack:`) always (they need no token), Telegram and Discord channels when their
/// token is set. Entries for a platform without a sender wait in the outbox.
/// The Telegram sender is also returned: the command bot shares it. The
/// Discord bot sender is paced by `discord_limiter`, which the
/// scheduled-events sync shares.
fn build_senders(
    config: &Config,
    discord_limiter: &discord::BotLimiter,
) -> Result<(Senders, Option<Arc<TelegramSender>>), AppError> {
    let startup = |e: &dyn std::fmt::Display| AppError::Startup(e.to_string());
    let webhooks =
        discord::sender::WebhookSender::new(discord::sender::SenderConfig::default()).map_err(|e| startup(&e))?;
    let mut senders = Senders::default()
        .with(Platform::Console, Arc::new(ConsoleSender))
        .with(Platform::DiscordWebhook, Arc::new(webhooks));
    senders = crate::hooks::register(senders, &config.webhook, &config.ntfy).map_err(|e| startup(&e))?;
    let mut telegram_sender = None;
    if !config.telegram.token.is_empty() {
        let sender = Arc::new(TelegramSender::from_config(&config.telegram).map_err(|e| startup(&e))?);
        senders = senders.with(Platform::Telegram, sender.clone());
        telegram_sender = Some(sender);
    } else {
        info!("no telegram.token: Telegram is off (alerts for telegram: destinations wait in the outbox)");
    }
    if !config.discord.token.is_empty() {
        let sender = discord::sender::DiscordSender::from_config(&config.discord, discord_limiter.clone())
            .map_err(|e| startup(&e))?;
        senders = senders.with(Platform::Discord, Arc::new(sender));
    } else {
        info!("no discord.token: the Discord bot is off (discord-webhook destinations still work)");
    }
    Ok((senders, telegram_sender))
}

/// The watches to reconcile: the configured ones, or with no watches and
/// no chat tokens, everything to the console, so a fresh install is useful.
fn effective_watches(config: &Config) -> Vec<Watch> {
    if config.watches.is_empty() && config.telegram.token.is_empty() && config.discord.token.is_empty() {
        vec![Watch {
            schedule_horizon: config.alerts.schedule_horizon,
            ..subscriptions::default_console_watch(config.alerts.timezone, config.alerts.reminders.clone())
        }]
    } else {
        config.watches.clone()
    }
}

/// `tminus check-config`: the effective configuration as TOML (for
/// stdout), and the notes for stderr: watch filter names that match nothing
/// LL2 listed so far, as warnings. Stdout stays a valid config file.
pub fn check_config(config: &Config) -> (String, Vec<String>) {
    (config.render_effective(), unresolved_warnings(config))
}

/// The unresolved filter names, one warning each. Reads an existing store
/// only; never creates one, and says so when the running bot holds it.
fn unresolved_warnings(config: &Config) -> Vec<String> {
    let path = &config.store.path;
    let synced_later = "note: filter names are checked against LL2 data once the bot has synced";
    if !path.exists() {
        return vec![format!("{synced_later} (no store yet)")];
    }
    let directory = match Store::open(path).and_then(|s| s.directory()) {
        Ok(d) => d,
        Err(e) => return vec![format!("note: could not read the store to check filter names ({e})")],
    };
    if directory.is_empty() {
        return vec![format!("{synced_later} (the store is empty)")];
    }
    let mut out = Vec::new();
    for (i, w) in config.watches.iter().enumerate() {
        for (dim, value) in directory.unresolved(&subscriptions::watch_filter(w)) {
            let hint = directory.suggest(dim, &value, 3);
            let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
            out.push(format!(
                "warning: watch[{i}] ({}): {} {value:?} matches nothing LL2 listed so far{hint}",
                w.name,
                dim.as_str()
            ));
        }
    }
    out
}

fn open_store(path: &Path) -> Result<Store, AppError> {
    Store::open(path).map_err(|source| match source {
        // Already names the path and the other process.
        e @ StoreError::InUse { .. } => AppError::StoreOp(e),
        source => AppError::Store { path: path.display().to_string(), source },
    })
}

/// `tminus export [FILE]`: the chat-made state as JSON, to `file` or stdout.
pub fn export_state(config: &Config, file: Option<&Path>) -> Result<(), AppError> {
    let path = &config.store.path;
    if !path.exists() {
        return Err(AppError::Startup(format!("no store at {} ([store] path): nothing to export", path.display())));
    }
    let store = open_store(path)?;
    let name = file.map_or("stdout".to_owned(), |f| f.display().to_string());
    let export = transfer::export(&store).map_err(|source| AppError::Transfer { path: name.clone(), source })?;
    let text = transfer::to_json(&export);
    let written = match file {
        Some(f) => std::fs::write(f, text),
        None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()),
    };
    written.map_err(|e| AppError::Startup(format!("cannot write {name}: {e}")))?;
    eprintln!(
        "tminus: exported {} subscriptions and {} chat settings to {name}",
        export.subscriptions.len(),
        export.chat_settings.len()
    );
    Ok(())
}

/// `tminus import FILE`: loads an export into the configured store (created
/// if missing); importing the same file again changes nothing.
pub async fn import_state(config: &Config, file: &Path) -> Result<transfer::Imported, AppError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| AppError::Startup(format!("cannot read {name}: {e}")))?;
    let export = transfer::parse(&text).map_err(|source| AppError::Transfer { path: name.clone(), source })?;
    let store = open_store(&config.store.path)?;
    let subs = Subscriptions::load(store.clone())?;
    let done = transfer::import(&subs, &export).map_err(|source| AppError::Transfer { path: name, source })?;
    store.flush().await?;
    Ok(done)
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs go to stderr (stdout carries console alerts). `RUST_LOG` overrides
/// the default level. Colour only on a terminal and without `NO_COLOR`
/// (<https://no-color.org>): files, pipes and journald get plain text.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sled=warn,hyper=warn,reqwest=warn,serenity=warn,teloxide=warn"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// How often mutes of items that left the upcoming list are forgotten.
const MUTE_SWEEP: Duration = Duration::from_secs(3600);

/// Forgets, every [`MUTE_SWEEP`], the mutes whose item left the store, so a
/// chat's `/muted` list does not fill with launches long gone.
async fn forget_gone_mutes(subs: Subscriptions, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MUTE_SWEEP) => {}
            _ = stop.cancelled() => return,
        }
        match subs.forget_gone_mutes() {
            Ok(0) => {}
            Ok(n) => info!(forgotten = n, "mutes of items no longer upcoming forgotten"),
            Err(e) => warn!(error = %e, "forgetting mutes of gone items failed"),
        }
    }
}
