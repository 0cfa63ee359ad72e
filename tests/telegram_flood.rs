//! Command flooding against the real command bot (teloxide, long polling
//! the fake Bot API) with the real Telegram limits (one message a second
//! per chat, shared with the alert sender): forty commands pasted at once
//! get a short burst of answers and one "slow down", and a command a few
//! seconds later is answered at once rather than after forty seconds of
//! queued replies.

mod support;

use std::time::{Duration, Instant};

use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram, message_update};
use teloxide::Bot;
use tminus::commands::Defaults;
use tminus::commands::SharedServices;
use tminus::commands::flood::SLOW_DOWN;
use tminus::telegram::bot::CommandBot;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const ALICE: i64 = 555;
const BOB: i64 = 666;

fn replies(tg: &FakeTelegram, chat: i64) -> Vec<Call> {
    tg.sent_to(chat).into_iter().filter(|c| c.is("sendMessage")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_commands_at_once_get_a_few_answers_and_the_next_one_is_answered_promptly() {
    support::logs::logs();
    let ll2 = FakeLl2::start().await;
    let mut app = App::start(AppOptions { watches: vec![], ..AppOptions::new(ll2.ll2_config()) }).await;
    app.cycle().await;
    let tg = FakeTelegram::start().await;
    let sender = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default()).unwrap();
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(tg.api_url().parse().unwrap());
    let defaults =
        Defaults { timezone: chrono_tz::UTC, reminders: vec![], calendar_base: None, schedule_horizon: None };
    let services = SharedServices {
        subs: app.subs.clone(),
        store: app.store.clone(),
        directory: app.poller.directory(),
        defaults,
    };
    let stop = CancellationToken::new();
    tokio::spawn(CommandBot::new(bot, services).with_limiter(sender.limiter()).run(stop.clone()));
    assert!(tg.wait_until(WAIT, |calls| calls.iter().filter(|c| c.is("getMe")).count() >= 2).await);

    for i in 0..40 {
        tg.push_update(message_update(ALICE, ALICE, if i % 2 == 0 { "/help" } else { "/list" }));
    }
    // Someone else is not held back by Alice's flood.
    tg.push_update(message_update(BOB, BOB, "/list"));
    assert!(tg.wait_until(WAIT, |calls| calls.iter().any(|c| c.is_delivery() && c.chat_id == Some(BOB))).await);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let burst = replies(&tg, ALICE);
    assert!(burst.len() <= 5, "at most a handful of replies: {}", burst.len());
    let notes = burst.iter().filter(|c| c.text.as_deref() == Some(SLOW_DOWN)).count();
    assert_eq!(notes, 1, "one calm note: {:?}", burst.iter().map(|c| c.text.clone()).collect::<Vec<_>>());
    // Replies go out from their own tasks, so the note may overtake an
    // answer still waiting for its rate-limit slot: only the count is fixed.
    assert!(burst.len() >= 2, "some answers before the note: {}", burst.len());
    assert_eq!(tg.pending_updates(), 0, "every command was read");

    // A few seconds later, the next command is answered at once.
    let asked = Instant::now();
    tg.push_update(message_update(ALICE, ALICE, "/list"));
    let answered = tg
        .wait_until(WAIT, |calls| {
            calls.iter().filter(|c| c.is_delivery() && c.chat_id == Some(ALICE)).count() > burst.len()
        })
        .await;
    assert!(answered);
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(1500), "answered after {took:?}");
    assert_eq!(replies(&tg, ALICE).len(), burst.len() + 1, "nothing left over from the flood");
    stop.cancel();
}
