//! `/next` pages on Discord through the HTTP interactions endpoint (signed
//! with the harness's test Ed25519 key; items from the fake LL2): the reply
//! carries the page and its buttons as components; presses are answered with type 7 UpdateMessage: Later ▶ shows other
//! items, ℹ️ the item's embed card with ◀ Back, Back the page again
//! without the embed; forged data gets a fresh page, never an error.

mod support;

use serde_json::{Value, json};
use support::fake_discord::bot::{Bot, CHANNEL, MEMBER, command, press};

/// Presses `custom_id` as a usual member (paging needs no permission);
/// asserts an UpdateMessage and returns its data.
async fn pressed(bot: &Bot, custom_id: &str) -> Value {
    let (status, answer) = bot.signed(&press(custom_id, CHANNEL, MEMBER)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], 7, "UpdateMessage: {answer}");
    assert_eq!(answer["data"]["allowed_mentions"]["parse"], json!([]), "{answer}");
    answer["data"].clone()
}

/// (label, custom_id) of every button, row by row.
fn buttons(data: &Value) -> Vec<(String, String)> {
    let rows = data["components"].as_array().cloned().unwrap_or_default();
    assert!(rows.len() <= 5, "at most five rows");
    rows.iter()
        .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
        .map(|b| (b["label"].as_str().unwrap().to_string(), b["custom_id"].as_str().unwrap().to_string()))
        .collect()
}

fn find(keys: &[(String, String)], label: &str) -> String {
    keys.iter().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no {label:?} in {keys:?}")).1.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_pages_update_the_message_in_place() {
    let bot = Bot::start().await;
    let (status, reply) = bot.signed(&command("next", json!([]))).await;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 4, "{reply}");
    let data = &reply["data"];
    let first = data["content"].as_str().unwrap().to_string();
    assert!(first.starts_with("Coming up:\n1. ") && first.contains(":R>)"), "{first}");
    let keys = buttons(data);
    let labels: Vec<&str> = keys.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["🔄", "Later ▶", "ℹ️ 1", "ℹ️ 2", "ℹ️ 3", "ℹ️ 4", "ℹ️ 5"]);

    let later = pressed(&bot, &find(&keys, "Later ▶")).await;
    let second = later["content"].as_str().unwrap();
    assert!(second.starts_with("Coming up:\n6. "), "other items: {second}");
    assert_eq!(later["embeds"], json!([]), "{later}");
    let keys = buttons(&later);
    find(&keys, "◀ Earlier");

    let card = pressed(&bot, &find(&keys, "ℹ️ 6")).await;
    let embed = &card["embeds"][0];
    let name = second.lines().nth(1).unwrap().trim_start_matches("6. ").split(" — ").next().unwrap();
    assert_eq!(embed["title"].as_str(), Some(name), "{card}");
    assert_eq!(card["content"], "", "the page text is replaced by the card");
    let back = find(&buttons(&card), "◀ Back");
    let page = pressed(&bot, &back).await;
    assert_eq!(page["content"].as_str(), Some(second), "Back returns to the page");
    assert_eq!(page["embeds"], json!([]), "and takes the card away");

    // Forged data: a fresh first page, not an error.
    let fresh = pressed(&bot, "n:0000:p5:5").await;
    assert!(fresh["content"].as_str().unwrap().starts_with("Coming up:\n1. "), "{fresh}");
}
