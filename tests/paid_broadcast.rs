//! `[telegram] paid_broadcast`: the real `TelegramSender` and `Deliverer`
//! against the fake Bot API enforcing Telegram's limits with paid
//! broadcasting, scaled as in benches/fanout.rs (both sides by the same
//! factor): sends carry `allow_paid_broadcast=true`, the fan-out goes out
//! well above the free global limit and within the paid one, without a
//! single 429. And the fake refuses a send above the free limit that does
//! not allow paid broadcasting, so the first test cannot pass by accident.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::data::telegram_fan_out;
use support::fake_telegram::{FakeLimits, FakeTelegram};
use teloxide::payloads::SendMessageSetters;
use teloxide::requests::Requester;
use teloxide::types::ChatId as TgChatId;
use tminus::config::TelegramConfig;
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;

/// Telegram's numbers times this on both sides: free 6/s, paid 200/s.
const FACTOR: f64 = 0.2;
const CHATS: i64 = 400;

/// Most accepted sends in any one-second window.
fn busiest(times: &[Instant]) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_broadcast_sends_the_parameter_and_outpaces_the_free_limit_without_429() {
    let fake = FakeTelegram::start().await;
    fake.set_limits(FakeLimits::telegram_paid().scaled(FACTOR));
    let config = TelegramConfig { token: fake.token(), api_url: fake.api_url(), paid_broadcast: true };
    let limits = TelegramLimits::for_config(&config);
    assert!(limits.paid_broadcast);
    // More headroom than the default 5%: on a loaded test machine a stall
    // of a few tens of ms in the HTTP path can bunch paced sends into one of
    // the fake's strict one-second windows; this test is about the parameter
    // and the pace, not about that jitter.
    let limits = TelegramLimits { headroom: 0.2, ..limits.scaled(FACTOR) };
    let sender = Arc::new(TelegramSender::new(&config.token, &config.api_url, limits).unwrap());

    let (_dir, store, subs) = telegram_fan_out(CHATS);

    let senders = Senders::default().with(Platform::Telegram, sender as Arc<dyn Sender>);
    let deliverer = Arc::new(Deliverer::new(subs, senders, DeliveryConfig::default()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.outbox_len() > 0 && Instant::now() < deadline {
        deliverer.drain_once().await.unwrap();
    }
    assert_eq!(store.outbox_len(), 0, "fan-out not delivered in time");

    let sent = fake.sent();
    assert_eq!(sent.len(), CHATS as usize, "one message per chat");
    assert!(
        sent.iter().all(|c| c.params["allow_paid_broadcast"] == serde_json::json!(true)),
        "every send allows paid broadcasting"
    );
    assert_eq!(fake.count_status(429), 0, "no send was refused");
    let times: Vec<Instant> = sent.iter().map(|c| c.at).collect();
    let span = times.last().unwrap().duration_since(times[0]).as_secs_f64();
    let pace = (times.len() - 1) as f64 / span;
    let free = 30.0 * FACTOR;
    let paid = 1000.0 * FACTOR;
    println!("paid broadcast: {} sends in {span:.2} s, {pace:.0} msg/s (free {free}/s, paid {paid}/s)", times.len());
    assert!(pace > 5.0 * free, "{pace:.0} msg/s is not well above the free {free}/s");
    assert!(busiest(&times) <= paid as usize, "over the paid limit: {} in one second", busiest(&times));
}

#[tokio::test]
async fn the_fake_refuses_sends_above_the_free_limit_without_the_parameter() {
    let fake = FakeTelegram::start().await;
    fake.set_limits(FakeLimits::telegram_paid().scaled(FACTOR));
    let sender = TelegramSender::new(&fake.token(), &fake.api_url(), TelegramLimits::default()).unwrap();
    let over_free = (30.0 * FACTOR) as i64 + 5;
    for chat in 1..=over_free {
        let _ = sender.bot().send_message(TgChatId(chat), "free").await;
    }
    assert!(fake.count_status(429) > 0, "free sends above the free limit are refused");
    fake.clear_calls();
    for chat in 100..100 + over_free {
        sender.bot().send_message(TgChatId(chat), "paid").allow_paid_broadcast(true).await.unwrap();
    }
    assert_eq!(fake.count_status(429), 0, "paid sends are not");
}
