//! tminus: a self-hosted spaceflight notification bot.
//!
//! Data flow, one module per stage:
//!
//! ```text
//! ll2 (client) → poller → detect → rules (index) → store (outbox) → deliver → console / telegram / discord
//!                    reminders ─┘                        ▲
//!          chat commands → subscriptions ────────────────┘
//! ```
//!
//! `run` wires the stages for the binary; everything below it is a library
//! that tests drive piece by piece.

pub mod budget;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod detect;
pub mod directory;
pub mod discord;
pub mod item;
pub mod ll2;
pub mod metrics;
pub mod poller;
pub mod reminders;
pub mod render;
pub mod rules;
pub mod server;
pub mod store;
pub mod subscriptions;
pub mod telegram;
pub mod types;
pub mod tz;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::cli::{Args, Command};
use crate::config::{Config, ConfigError, LogFormat};
use crate::deliver::{Deliverer, DeliveryConfig, Senders, console::ConsoleSender};
use crate::poller::{BudgetWait, Poller, PollerConfig};
use crate::reminders::Reminders;
use crate::store::{Store, StoreError};
use crate::subscriptions::Subscriptions;

/// Why `run` stopped with an error. The binary maps it to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store at {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error(transparent)]
    StoreOp(#[from] StoreError),
    #[error("{0}")]
    Startup(String),
}

impl RunError {
    /// 2 for what the user must fix in config or arguments, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// How long in-flight work may take once a shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the command in `args`: `run` (the daemon), `once` or `check-config`.
pub async fn run(args: Args) -> Result<(), RunError> {
    let config = Config::load(&args.config)?;
    if args.command == Command::CheckConfig {
        print!("{}", config.render_effective());
        print!("{}", unresolved_report(&config));
        return Ok(());
    }
    init_logging(config.log.format);
    let store = Store::open(&config.store.path)
        .map_err(|source| RunError::Store { path: config.store.path.display().to_string(), source })?;
    let subs = Subscriptions::load(store.clone())?;
    let watches = effective_watches(&config);
    let rec = subs.reconcile(&watches)?;
    info!(
        added = rec.added,
        changed = rec.changed,
        removed = rec.removed,
        unchanged = rec.unchanged,
        "config watches reconciled"
    );

    let client = ll2::Client::new(&config.ll2).map_err(|e| RunError::Startup(e.to_string()))?;
    let (senders, telegram_sender) = build_senders(&config)?;
    let defaults = commands::Defaults { timezone: config.alerts.timezone, reminders: config.alerts.reminders.clone() };
    let deliverer = Arc::new(Deliverer::new(
        subs.clone(),
        senders,
        DeliveryConfig { max_age: config.delivery.max_age, ..Default::default() },
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let poller_config = PollerConfig {
        feeds: config.ll2.feeds.clone(),
        requests_per_hour: config.ll2.requests_per_hour,
        resweep_interval: config.ll2.resweep_interval,
        on_first_sync: config.alerts.on_first_sync,
    };
    let health_max_age = server::health_threshold(config.server.health_max_age, poller_config.feed_interval());
    let mut poller =
        Poller::new(client, store.clone(), subs.index(), poller_config, deliverer.wake.clone(), stop_rx.clone())?;
    let reminders =
        Arc::new(Reminders::new(store.clone(), subs.index(), config.alerts.reminder_grace, deliverer.wake.clone()));

    if args.command == Command::Once {
        poller.sync_throttle().await;
        for feed in &config.ll2.feeds {
            match poller.poll_feed(*feed, BudgetWait::Skip).await {
                Ok(r) => {
                    info!(feed = %feed, requests = r.requests, items = r.items, alerts = r.alerts, deliveries = r.deliveries, "poll done")
                }
                Err(e) => warn!(feed = %feed, error = %e, "poll failed"),
            }
        }
        let fired = reminders.pass(chrono::Utc::now()).await?;
        if fired > 0 {
            info!(fired, "once: reminders due");
        }
        let stats = deliverer.drain_once().await?;
        info!(delivered = stats.delivered, waiting = stats.waiting, dead = stats.dead, "once: done");
        store.flush().await?;
        return Ok(());
    }

    // Routes other components mount on the same listener (e.g. Discord
    // interactions): see `server::start`.
    let mut extra_routes: Option<axum::Router> = None;
    // Discord front-end: one handler for slash commands, reached over the
    // gateway (`discord.token`) and the HTTP interactions endpoint
    // (`discord.public_key` with `server.listen`). See `discord::commands`.
    let mut discord_task = None;
    if config.discord.is_enabled() || config.discord.public_key.is_some() {
        let handler = Arc::new(discord::commands::Handler::new(
            store.clone(),
            subs.clone(),
            poller.directory(),
            defaults.clone(),
        ));
        match (&config.discord.public_key, config.server.listen) {
            (Some(key), Some(_)) => {
                let routes = discord::interactions::router(handler.clone(), key).map_err(|e| {
                    RunError::Config(ConfigError::Invalid { key: "discord.public_key".into(), message: e.to_string() })
                })?;
                extra_routes = Some(routes);
                info!(path = discord::interactions::PATH, "Discord interactions endpoint enabled");
            }
            (Some(_), None) => warn!("discord.public_key is set but server.listen is not: no interactions endpoint"),
            _ => {}
        }
        if config.discord.is_enabled() {
            discord_task = Some(discord::gateway::spawn(config.discord.clone(), handler, stop_rx.clone()));
        }
    }
    // Telegram front-end: commands by long polling (`telegram::bot`). It
    // talks as the same bot as the alert sender and shares its rate limiter,
    // so replies and alerts together stay within Telegram's limits.
    let mut telegram_task = None;
    if let Some(tg) = telegram_sender {
        let services = telegram::bot::BotServices {
            subs: subs.clone(),
            store: store.clone(),
            directory: poller.directory(),
            defaults,
        };
        let bot = telegram::bot::CommandBot::new(tg.bot().clone(), services).with_limiter(tg.limiter());
        telegram_task = Some(tokio::spawn(bot.run(stop_rx.clone())));
    }
    let server_task = match config.server.listen {
        Some(addr) => {
            let state = server::ServerState::new(
                store.clone(),
                metrics::global().clone(),
                config.ll2.feeds.clone(),
                health_max_age,
            );
            let (_, task) = server::start(addr, state, extra_routes, stop_rx.clone())
                .await
                .map_err(|e| RunError::Startup(format!("cannot listen on {addr} (server.listen): {e}")))?;
            Some(task)
        }
        None => None,
    };
    let poll_task = tokio::spawn(poller.run());
    let deliver_task = {
        let d = deliverer.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { d.run(rx).await })
    };
    let remind_task = {
        let r = reminders.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { r.run(rx).await })
    };
    info!(store = %config.store.path.display(), "tminus running; Ctrl-C or SIGTERM stops it");
    wait_for_signal().await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    let joined = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _ = poll_task.await;
        let _ = deliver_task.await;
        let _ = remind_task.await;
        if let Some(t) = server_task {
            let _ = t.await;
        }
        if let Some(t) = discord_task {
            let _ = t.await;
        }
        if let Some(t) = telegram_task {
            let _ = t.await;
        }
    })
    .await;
    if joined.is_err() {
        warn!("in-flight work did not finish within {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
    }
    store.flush().await?;
    info!("stopped");
    Ok(())
}

/// One sender per platform this run can reach: the console always, webhooks
/// always (they need no token), Telegram and Discord channels when their
/// token is set. Entries for a platform without a sender wait in the outbox.
/// The Telegram sender is also returned: the command bot shares it.
fn build_senders(config: &Config) -> Result<(Senders, Option<Arc<telegram::TelegramSender>>), RunError> {
    let mut senders = Senders::default().with("console", Arc::new(ConsoleSender)).with(
        "discord-webhook",
        Arc::new(
            discord::sender::WebhookSender::new(discord::sender::SenderConfig::default())
                .map_err(|e| RunError::Startup(e.to_string()))?,
        ),
    );
    let mut telegram_sender = None;
    if !config.telegram.token.is_empty() {
        let sender = Arc::new(
            telegram::TelegramSender::from_config(&config.telegram).map_err(|e| RunError::Startup(e.to_string()))?,
        );
        senders = senders.with("telegram", sender.clone());
        telegram_sender = Some(sender);
    } else {
        info!("no telegram.token: Telegram is off (alerts for telegram: destinations wait in the outbox)");
    }
    if !config.discord.token.is_empty() {
        let sender = discord::sender::DiscordSender::from_config(&config.discord)
            .map_err(|e| RunError::Startup(e.to_string()))?;
        senders = senders.with("discord", Arc::new(sender));
    } else {
        info!("no discord.token: the Discord bot is off (discord-webhook destinations still work)");
    }
    Ok((senders, telegram_sender))
}

/// The watches to reconcile: the configured ones, or with no watches and
/// no chat tokens, everything to the console, so a fresh install is useful.
pub fn effective_watches(config: &Config) -> Vec<config::Watch> {
    if config.watches.is_empty() && config.telegram.token.is_empty() && config.discord.token.is_empty() {
        vec![subscriptions::default_console_watch(config.alerts.timezone, config.alerts.reminders.clone())]
    } else {
        config.watches.clone()
    }
}

/// For `check-config`: the watch filter values that match nothing the bot
/// has seen, as TOML comments. Reads an existing store only; never creates
/// one, and says so when the running bot holds it.
pub fn unresolved_report(config: &Config) -> String {
    let path = &config.store.path;
    if !path.exists() {
        return "\n# Filter names are checked against LL2 data once the bot has synced (no store yet).\n".into();
    }
    let directory = match Store::open(path).and_then(|s| s.directory()) {
        Ok(d) => d,
        Err(e) => return format!("\n# Could not read the store to check filter names ({e}); is the bot running?\n"),
    };
    if directory.is_empty() {
        return "\n# Filter names are checked against LL2 data once the bot has synced (store is empty).\n".into();
    }
    let mut out = String::new();
    for (i, w) in config.watches.iter().enumerate() {
        for (dim, value) in directory.unresolved(&subscriptions::watch_filter(w)) {
            let hint = directory.suggest(dim, &value, 3);
            let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
            out.push_str(&format!(
                "#   watch[{i}] ({}): {} {value:?} matches nothing seen so far{hint}\n",
                w.name,
                dim.as_str()
            ));
        }
    }
    if out.is_empty() {
        format!("\n# All watch filter names resolve ({} names known).\n", directory.len())
    } else {
        format!("\n# Unresolved filter names:\n{out}")
    }
}

async fn wait_for_signal() {
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
/// the default level.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sled=warn,hyper=warn,reqwest=warn,serenity=warn,teloxide=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
