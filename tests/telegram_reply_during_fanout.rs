//! A command reply does not wait behind an alert fan-out: the real
//! `Deliverer` and `TelegramSender` fan an alert out to a few hundred chats
//! against the fake Bot API enforcing Telegram's limits (scaled, as in
//! tests/paid_broadcast.rs), while the real command bot, sharing the
//! sender's rate limiter, answers `/next` from another chat. Alert sends
//! take a window slot (W, `DeliveryConfig::window`) before they book a
//! limiter slot, so at most W alert grants are ahead of the reply: it goes
//! out within W / global rate (plus the reply's own turn and a margin),
//! long before the fan-out ends.

mod support;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use support::data::telegram_fan_out;
use support::fake_telegram::{FakeLimits, FakeTelegram, message_update};
use tminus::commands::Defaults;
use tminus::commands::SharedServices;
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::directory::Directory;
use tminus::telegram::bot::CommandBot;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tokio_util::sync::CancellationToken;

/// Telegram's numbers times this on both sides: 60 messages/s overall.
const FACTOR: f64 = 2.0;
const CHATS: i64 = 300;
/// Who asks `/next` meanwhile: a chat without alerts.
const ASKER: i64 = 9_999;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_reply_overtakes_an_alert_fan_out() {
    support::logs::logs();
    let fake = FakeTelegram::start().await;
    fake.set_limits(FakeLimits::telegram().scaled(FACTOR));
    let limits = TelegramLimits { headroom: 0.2, ..TelegramLimits::default().scaled(FACTOR) };
    let global = 30.0 * FACTOR / 1.2;
    let sender = Arc::new(TelegramSender::new(&fake.token(), &fake.api_url(), limits).unwrap());

    let (_dir, store, subs) = telegram_fan_out(CHATS);

    let stop = CancellationToken::new();
    let services = SharedServices {
        subs: subs.clone(),
        store: store.clone(),
        directory: Arc::new(RwLock::new(Directory::default())),
        defaults: Defaults { timezone: chrono_tz::UTC, reminders: vec![], calendar_base: None, schedule_horizon: None },
    };
    let bot = CommandBot::new(sender.bot().clone(), services).with_limiter(sender.limiter());
    tokio::spawn(bot.run(stop.clone()));
    let started = fake.wait_until(Duration::from_secs(10), |c| c.iter().filter(|c| c.is("getMe")).count() >= 2);
    assert!(started.await, "bot started");

    let config = DeliveryConfig::default();
    let window = config.window;
    let senders = Senders::default().with(Platform::Telegram, sender.clone() as Arc<dyn Sender>);
    let deliverer = Arc::new(Deliverer::new(subs, senders, config));
    let fan_out = {
        let store = store.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while store.outbox_len() > 0 && Instant::now() < deadline {
                deliverer.drain_once().await.unwrap();
            }
        })
    };
    // Well into the fan-out, with its window full of booked sends.
    let alerts = |c: &[support::fake_telegram::Call]| c.iter().filter(|c| c.is_delivery()).count();
    assert!(fake.wait_until(Duration::from_secs(20), |c| alerts(c) >= 60).await, "fan-out under way");

    let asked = Instant::now();
    fake.push_update(message_update(ASKER, ASKER, "/next"));
    let answered =
        fake.wait_until(Duration::from_secs(20), |c| c.iter().any(|c| c.is_delivery() && c.chat_id == Some(ASKER)));
    assert!(answered.await, "the reply was sent");
    let reply = fake.sent_to(ASKER)[0].clone();
    let waited = reply.at.duration_since(asked);
    let alerts_left =
        CHATS as usize - fake.sent().iter().filter(|c| c.at <= reply.at && c.chat_id != Some(ASKER)).count();

    fan_out.await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), CHATS as usize + 1, "every chat got the alert, and the asker the reply");
    assert_eq!(fake.count_status(429), 0, "the reply did not push anything over Telegram's limits");
    let fan_out_end = sent.iter().map(|c| c.at).max().unwrap().duration_since(asked);
    // W alert grants ahead at the global spacing, the reply's own grant,
    // and a margin for a loaded machine (getUpdates, the handler, HTTP).
    let bound = Duration::from_secs_f64((window + 1) as f64 / global) + Duration::from_millis(500);
    println!(
        "reply after {} ms (bound {} ms) with {alerts_left} alerts still to go; fan-out ended {} ms after the command",
        waited.as_millis(),
        bound.as_millis(),
        fan_out_end.as_millis()
    );
    assert!(waited <= bound, "the reply waited {waited:?}, more than {bound:?}");
    assert!(alerts_left >= 100, "the reply went out mid-fan-out, {alerts_left} alerts before its end");
    assert!(fan_out_end > waited * 4, "far sooner than the fan-out's end ({fan_out_end:?})");
    stop.cancel();
}
