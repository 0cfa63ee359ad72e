//! Fan-out of one alert to 10,000 Telegram chats through the real outbox,
//! the real `Deliverer` and the real `TelegramSender`, against the fake Bot
//! API enforcing Telegram's limits scaled up so that the global limit is
//! 1,000 messages/s (the sender is configured with the same scaled limits).
//! Ideal time = N / rate = 10 s; efficiency = ideal / actual; the issue's
//! goal is ≥ 0.9 with at most a handful of 429s.
//!
//! `cargo bench --bench fanout`. A plain `main` measuring wall time (one
//! multi-second scenario is not a criterion workload). Environment:
//! `TMINUS_FANOUT_CHATS` (default 10000), `TMINUS_FANOUT_RATE` (messages/s,
//! default 1000), `TMINUS_FANOUT_RUNS` (default 1), `TMINUS_FANOUT_DEBUG`
//! (sends per second and the largest gaps, as the fake saw them),
//! `TMINUS_FANOUT_LATENCY_MS` (the fake answers every call that long after
//! it arrived, default 0: with the send window W per platform, throughput
//! at a real round trip is what the window allows),
//! `TMINUS_FANOUT_WINDOW` (the deliverer's window W, default
//! `DEFAULT_WINDOW`), `TMINUS_FANOUT_NO_SETUP_FLUSH` (skip the flush the poller does after
//! committing the alert: the deliverer's first flush then writes the whole
//! 10,000-entry commit and the fan-out stalls behind it).
//!
//! The ceiling is 1 / (1 + headroom) = 0.952: the sender paces 5% under
//! the platform's numbers on purpose.
//!
//! Besides the fan-out it prints two numbers that explain it: the cost of
//! one store flush (the deliverer makes every confirmed send durable before
//! that destination's next send) and the pipeline's capacity with no rate
//! limit anywhere (what the deliverer, sender, store and fake manage when
//! nothing holds them back). The fake runs on its own runtime thread so it
//! competes with the code under test only for CPU, not for a worker.
#![allow(missing_docs)] // criterion_group! generates undocumented items

#[allow(dead_code)]
#[allow(unreachable_pub, missing_docs)]
#[path = "../tests/support/fake_telegram.rs"]
mod fake_telegram;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_telegram::{FakeLimits, FakeTelegram};
use tminus::deliver::{DEFAULT_WINDOW, Deliverer, DeliveryConfig, DrainStats, Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, Delivered, OutboxEntry, Store};
use tminus::subscriptions::Subscriptions;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{ChatId, Destination, Feed};
use tokio::runtime::Runtime;

/// Telegram's documented global limit, the base of the scaling.
const TELEGRAM_GLOBAL: f64 = 30.0;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A store in a fresh temporary directory with `chats` Telegram
/// subscriptions (half private chats, half groups) and one alert queued for
/// all of them, committed the way the poller does (one `apply`, then a
/// flush before delivery is woken).
fn store_with_fan_out(rt: &Runtime, chats: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store opens");
    let api = Subscriptions::load(store.clone()).expect("subscriptions load");
    let mut subs = Vec::with_capacity(chats as usize);
    for i in 1..=chats as i64 {
        let id = SubId(store.next_id().expect("id"));
        let chat = Destination::Telegram(ChatId(if i % 2 == 0 { i } else { -i }));
        api.put(&Subscription::new(id, chat, Filter::default(), Origin::Chat)).expect("subscription stored");
        subs.push(id);
    }
    let item = common::fixture_page(Feed::Launches, "launches-2.3.0-upcoming-detailed.json")
        .into_iter()
        .next()
        .expect("fixture has launches");
    let alert = Alert::new(AlertId(store.next_id().expect("id")), item, vec![Change::New], Utc::now());
    let targets = api.index().read().expect("index").targets(&subs);
    let fan_outs = vec![tminus::store::FanOut { alert: alert.id, targets, enqueued_at: Utc::now() }];
    store.apply(&Batch { alerts: vec![alert], fan_outs, ..Batch::default() }).expect("batch applied");
    if std::env::var_os("TMINUS_FANOUT_NO_SETUP_FLUSH").is_none() {
        rt.block_on(store.flush()).expect("flush");
    }
    (dir, store)
}

/// What one fan-out measured.
struct FanOut {
    chats: u64,
    /// From the first drain pass to an empty outbox.
    elapsed: Duration,
    /// Between the first and the last accepted send, as the fake saw them.
    span: Duration,
    delivered: usize,
    retried: usize,
    throttled: usize,
    /// Most accepted sends the fake saw in any one second.
    busiest: usize,
    /// When each drain pass ended (a throttled send waits for the next).
    passes: Vec<Duration>,
}

/// One alert to `chats` chats. `factor` scales Telegram's limits on both
/// sides; `None` = no limits anywhere (capacity of the pipeline). Every
/// answer of the fake comes `latency` after the call.
fn fan_out(rt: &Runtime, fake_rt: &Runtime, chats: u64, factor: Option<f64>, latency: Duration) -> FanOut {
    let window = env_num("TMINUS_FANOUT_WINDOW", DEFAULT_WINDOW as u64) as usize;
    let fake = fake_rt.block_on(FakeTelegram::start());
    fake.set_latency(latency);
    let limits = match factor {
        Some(f) => {
            fake.set_limits(FakeLimits::telegram().scaled(f));
            TelegramLimits::default().scaled(f)
        }
        // Scaled beyond anything the pipeline can reach: never waits.
        None => TelegramLimits { headroom: 0.0, ..TelegramLimits::default() }.scaled(1e6),
    };
    let (_dir, store) = store_with_fan_out(rt, chats);
    let sender = Arc::new(TelegramSender::new(&fake.token(), &fake.api_url(), limits).expect("sender"));
    let senders = Senders::default().with(Platform::Telegram, sender as Arc<dyn Sender>);
    let subs = Subscriptions::load(store.clone()).expect("subscriptions load");
    let deliverer = Arc::new(Deliverer::new(subs, senders, DeliveryConfig { window, ..DeliveryConfig::default() }));

    let (elapsed, stats, passes) = rt.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(600);
        let mut total = DrainStats::default();
        let mut passes = Vec::new();
        loop {
            let s = deliverer.drain_once().await.expect("drain pass");
            passes.push(start.elapsed());
            total.delivered += s.delivered;
            total.retried += s.retried;
            total.dead += s.dead;
            if store.outbox_len() == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "fan-out stuck: {} entries left", store.outbox_len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (start.elapsed(), total, passes)
    });
    assert_eq!(stats.delivered, chats as usize, "every chat once: {stats:?}");
    assert_eq!(stats.dead, 0, "nothing given up on: {stats:?}");

    let sent = fake.sent();
    assert_eq!(sent.len(), chats as usize, "the fake accepted one message per chat");
    let mut arrivals: Vec<Instant> = sent.iter().map(|c| c.at).collect();
    arrivals.sort();
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    if std::env::var_os("TMINUS_FANOUT_DEBUG").is_some() {
        let per_sec: Vec<usize> = (0..=span.as_secs())
            .map(|s| arrivals.iter().filter(|t| (**t - arrivals[0]).as_secs() == s).count())
            .collect();
        let mut gaps: Vec<(Duration, Duration)> =
            arrivals.windows(2).map(|w| (w[1] - w[0], w[0] - arrivals[0])).collect();
        gaps.sort_by(|a, b| b.cmp(a));
        let top: Vec<String> =
            gaps.iter().take(8).map(|(g, at)| format!("{:.1} ms at {:.2} s", ms(*g), at.as_secs_f64())).collect();
        println!("  sends per second: {per_sec:?}\n  largest gaps: {top:?}");
    }
    let (mut busiest, mut lo) = (0, 0);
    for hi in 0..arrivals.len() {
        while arrivals[hi] - arrivals[lo] >= Duration::from_secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    FanOut {
        chats,
        elapsed,
        span,
        delivered: stats.delivered,
        retried: stats.retried,
        throttled: fake.count_status(429),
        busiest,
        passes,
    }
}

/// Latency of `Store::flush` right after one outbox entry was completed,
/// as the deliverer does after every confirmed send: serially (one
/// destination), and from 256 tasks at once (a wide fan-out).
fn flush_cost(rt: &Runtime) {
    const N: u64 = 2000;
    let (_dir, store) = store_with_fan_out(rt, N);
    let pending = store.pending(N as usize).expect("pending");
    let record = |entry: &OutboxEntry| Delivered {
        alert: entry.alert,
        sub: entry.sub,
        destination: entry.destination.clone(),
        message_id: Some("1".into()),
        at: Utc::now(),
    };
    let (serial, rest) = pending.split_at(N as usize / 2);
    let mut times: Vec<Duration> = rt.block_on(async {
        let mut times = Vec::with_capacity(serial.len());
        for (key, entry) in serial {
            store.complete(*key, &record(entry)).expect("complete");
            let t = Instant::now();
            store.flush().await.expect("flush");
            times.push(t.elapsed());
        }
        times
    });
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "store flush after one completion (serial, {} samples): mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms → at most {:.0} sends/s if each waited for its own flush",
        times.len(),
        ms(mean),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100]),
        1.0 / mean.as_secs_f64()
    );

    let rest: Vec<_> = rest.to_vec();
    let concurrent = rt.block_on(async {
        let start = Instant::now();
        let limit = Arc::new(tokio::sync::Semaphore::new(256));
        let mut tasks = tokio::task::JoinSet::new();
        for (key, entry) in rest {
            let store = store.clone();
            let limit = limit.clone();
            let rec = record(&entry);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                store.complete(key, &rec).expect("complete");
                store.flush().await.expect("flush");
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
        start.elapsed()
    });
    let n = N as usize - serial.len();
    println!(
        "complete + flush from 256 tasks at once: {n} in {:.2} s = {:.0} completions/s",
        concurrent.as_secs_f64(),
        n as f64 / concurrent.as_secs_f64()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let chats = env_num("TMINUS_FANOUT_CHATS", 10_000);
    let rate = env_num("TMINUS_FANOUT_RATE", 1000) as f64;
    let runs = env_num("TMINUS_FANOUT_RUNS", 1);
    let factor = rate / TELEGRAM_GLOBAL;
    let latency = Duration::from_millis(env_num("TMINUS_FANOUT_LATENCY_MS", 0));

    let fake_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-telegram")
        .enable_all()
        .build()
        .expect("fake runtime");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "fanout: {chats} Telegram chats, one alert; {} CPUs; fake on its own runtime thread; round trip {} ms; window {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        latency.as_millis(),
        env_num("TMINUS_FANOUT_WINDOW", DEFAULT_WINDOW as u64)
    );

    flush_cost(&rt);

    let cap = fan_out(&rt, &fake_rt, chats, None, latency);
    println!(
        "capacity, no limits anywhere: {} sends in {:.2} s = {:.0} sends/s",
        cap.delivered,
        cap.elapsed.as_secs_f64(),
        cap.delivered as f64 / cap.elapsed.as_secs_f64()
    );

    let ideal = chats as f64 / rate;
    for run in 1..=runs {
        let r = fan_out(&rt, &fake_rt, chats, Some(factor), latency);
        let efficiency = ideal / r.elapsed.as_secs_f64();
        // Sends per second between the first and the last accepted send:
        // the pace alone, without the round trips at the ends.
        let steady = (r.delivered - 1) as f64 / r.span.as_secs_f64();
        println!(
            "fan-out #{run}: {} chats at {rate:.0}/s (Telegram limits × {factor:.2}): ideal {ideal:.2} s, took {:.2} s \
             (first→last send {:.2} s; drain passes ended at {}); efficiency {efficiency:.3}; {} × 429, {} retried; \
             busiest second {} sends; steady rate {:.2}/s = {:.3} of the limit",
            r.chats,
            r.elapsed.as_secs_f64(),
            r.span.as_secs_f64(),
            r.passes.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>().join(", "),
            r.throttled,
            r.retried,
            r.busiest,
            steady,
            steady / rate,
        );
    }
}
