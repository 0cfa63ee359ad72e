//! The Discord front-end through its HTTP interactions endpoint: signed
//! requests (a test Ed25519 key) for every slash command, refused
//! signatures, PING, permissions, autocomplete from the directory, command
//! registration against the fake Discord REST server, and end to end: a
//! `/subscribe agency:SpaceX` in channel 424242, a changed SpaceX launch in
//! the fake LL2, one embed in 424242 through the real Discord sender.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use support::binary::free_port;
use support::fake_discord::bot::{
    ADMIN, Bot, BotOptions, CHANNEL, GUILD, MANAGER, MEMBER, OTHER_CHANNEL, TOKEN, command, go, interaction, now_ts,
    on_hold, post, press, public_key_hex, sign, signing_key, strings,
};
use support::fake_discord::{APPLICATION_ID, FakeDiscord, Kind, Target};
use support::fake_ll2::FakeLl2;
use tminus::commands::flood::{FloodLimits, SLOW_DOWN};
use tminus::config::{Config, DiscordConfig};
use tminus::discord::commands::{RegisterError, register};
use tminus::types::{ChannelId, Destination, Feed, Secret};

/// Falcon Heavy | Nancy Grace Roman Space Telescope, by SpaceX.
const SPACEX_LAUNCH: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
/// H3-24 | MMX, by Mitsubishi Heavy Industries.
const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

#[tokio::test]
async fn ping_is_answered_and_bad_or_missing_signatures_get_401() {
    let bot = Bot::start().await;
    let ping = json!({"type": 1, "id": "1", "application_id": APPLICATION_ID.to_string(), "token": "t", "version": 1});
    assert_eq!(bot.signed(&ping).await, (200, json!({"type": 1})));

    let body = command("subscribe", strings(&[("agency", "SpaceX")])).to_string();
    let ts = now_ts();
    let good = sign(&signing_key(), &ts, &body);
    let other_key = SigningKey::from_bytes(&[7u8; 32]);
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let cases: Vec<(&str, Option<String>, Option<String>, String)> = vec![
        ("no headers", None, None, body.clone()),
        ("no timestamp", Some(good.clone()), None, body.clone()),
        ("no signature", None, Some(ts.clone()), body.clone()),
        ("another key", Some(sign(&other_key, &ts, &body)), Some(ts.clone()), body.clone()),
        ("other timestamp", Some(good.clone()), Some((ts.parse::<i64>().unwrap() + 1).to_string()), body.clone()),
        ("tampered body", Some(good.clone()), Some(ts.clone()), body.replace("SpaceX", "NASA")),
        ("not hex", Some("zz".repeat(64)), Some(ts.clone()), body.clone()),
        ("short", Some(good[..64].to_string()), Some(ts.clone()), body.clone()),
        ("replayed an hour later", Some(sign(&signing_key(), &old, &body)), Some(old.clone()), body.clone()),
    ];
    for (what, sig, t, b) in cases {
        let (status, _) = bot.post(&b, sig.as_deref(), t.as_deref()).await;
        assert_eq!(status, 401, "{what}");
    }
    let (status, _) = bot.post(&ping.to_string(), None, None).await;
    assert_eq!(status, 401, "an unsigned PING too");
    assert!(bot.subscriptions(CHANNEL).is_empty(), "nothing changed");
    assert!(bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().is_none());

    // The same request, properly signed, works; a signed non-JSON body is a 400.
    let (status, answer) = bot.post(&body, Some(&good), Some(&ts)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(bot.subscriptions(CHANNEL).len(), 1);
    let junk = "not json";
    let (status, _) = bot.post(junk, Some(&sign(&signing_key(), &ts, junk)), Some(&ts)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn every_command_works_through_the_endpoint() {
    let bot = Bot::start().await;

    // /help and /list before anything: public answers.
    let (help, private) = bot.run(command("help", json!([]))).await;
    assert!(!private);
    assert!(help.contains("/subscribe agency:SpaceX exclude_program:Starlink"), "{help}");
    let (list, private) = bot.run(command("list", json!([]))).await;
    assert!(!private && list.contains("No subscriptions"), "{list}");
    let (next, _) = bot.run(command("next", json!([]))).await;
    assert!(next.starts_with("Coming up:\n1. "), "without subscriptions, everything: {next}");
    assert!(next.contains("(<t:") && next.contains(":R>)"), "Discord countdowns: {next}");

    // /subscribe: ephemeral, stored for this channel only.
    let (text, private) = bot.run(command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    assert!(private, "changing commands answer ephemerally");
    assert!(text.contains("Subscribed #1: agency SpaceX"), "{text}");
    let (text, _) = bot.run(command("subscribe", strings(&[("agency", "spacex")]))).await;
    assert!(text.contains("Already subscribed"), "{text}");
    let (text, private) = bot
        .run(command(
            "subscribe",
            strings(&[("type", "Communications"), ("exclude_program", "Amazon Leo"), ("kind", "launch")]),
        ))
        .await;
    assert!(private && text.contains("Subscribed #2"), "{text}");
    let (text, _) = bot.run(command("subscribe", strings(&[("agency", "SpaceY")]))).await;
    assert!(text.contains("Did you mean SpaceX?"), "{text}");
    let (text, _) = bot.run(command("subscribe", strings(&[("program", "Artemis"), ("exclude_agency", "NASA")]))).await;
    assert!(text.contains("I don't know the program \"Artemis\""), "unknown names are refused: {text}");
    let (text, _) = bot.run(command("subscribe", strings(&[("exclude_type", "Astrophysics")]))).await;
    assert!(text.contains("Subscribed #3: except type Astrophysics"), "{text}");
    let (text, private) = bot.run(command("subscribe", strings(&[("rocket", "Falcon")]))).await;
    assert!(private && text.contains("no option"), "{text}");
    let subs = bot.subscriptions(CHANNEL);
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[0].filter.agencies, ["SpaceX"]);
    assert_eq!(subs[1].filter.exclude_programs, ["Amazon Leo"]);
    assert_eq!(subs[1].filter.kinds, [tminus::types::ItemKind::Launch]);
    assert_eq!(subs[0].reminders, [Duration::from_secs(3600)], "the defaults apply");
    assert!(bot.subscriptions(OTHER_CHANNEL).is_empty(), "a command applies to its own channel");

    // /list and /next: public.
    let (list, private) = bot.run(command("list", json!([]))).await;
    assert!(!private);
    assert!(list.contains("1. agency SpaceX\n2. "), "{list}");
    assert!(list.contains("type Communications, except program Amazon Leo\n"), "{list}");
    let (next, private) = bot.run(command("next", json!([{"name": "count", "type": 4, "value": 1}]))).await;
    assert!(!private && next.starts_with("Coming up:\n1. "), "{next}");
    assert_eq!(next.lines().count(), 2, "count:1 shows one item: {next}");
    let (next, _) = bot.run(command("next", json!([]))).await;
    assert!(next.contains("Nancy Grace Roman"), "{next}");

    // /timezone: showing is public, changing is ephemeral and applies to the subscriptions.
    let (text, private) = bot.run(command("timezone", json!([]))).await;
    assert!(!private && text.contains("UTC"), "{text}");
    let (text, private) = bot.run(command("timezone", strings(&[("zone", "europe/berlin")]))).await;
    assert!(private && text.contains("now shown in Europe/Berlin"), "{text}");
    assert!(bot.subscriptions(CHANNEL).iter().all(|s| s.timezone == chrono_tz::Europe::Berlin));
    let (text, _) = bot.run(command("timezone", strings(&[("zone", "Berlin")]))).await;
    assert!(text.contains("Did you mean") && text.contains("Europe/Berlin"), "{text}");
    let (next, _) = bot.run(command("next", json!([]))).await;
    assert!(next.contains("CET") || next.contains("CEST"), "{next}");

    // /reminders.
    let (text, private) = bot.run(command("reminders", strings(&[("times", "24h 10m")]))).await;
    assert!(private && text.contains("Reminders: 1d 10m"), "{text}");
    let secs: Vec<u64> = bot.subscriptions(CHANNEL)[0].reminders.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [86_400, 600]);
    let (text, private) = bot.run(command("reminders", json!([]))).await;
    assert!(!private && text.contains("Reminders here: 1d 10m"), "{text}");
    let (text, _) = bot.run(command("reminders", strings(&[("times", "soon")]))).await;
    assert!(text.contains("not a duration"), "{text}");
    let (text, _) = bot.run(command("reminders", strings(&[("times", "off")]))).await;
    assert!(text.contains("off"), "{text}");
    assert!(bot.subscriptions(CHANNEL).iter().all(|s| s.reminders.is_empty()));

    // /unsubscribe.
    let (text, private) = bot.run(command("unsubscribe", strings(&[("which", "2")]))).await;
    assert!(private && text.contains("Removed #2"), "{text}");
    let (text, _) = bot.run(command("unsubscribe", strings(&[("which", "7")]))).await;
    assert!(text.contains("There is no #7"), "{text}");
    let (text, _) = bot.run(command("unsubscribe", strings(&[("which", "all")]))).await;
    assert!(text.contains("Removed all 2"), "{text}");
    assert!(bot.subscriptions(CHANNEL).is_empty());

    // Unknown commands and unsupported interaction types get an ephemeral note.
    let (text, private) = bot.run(command("launch", json!([]))).await;
    assert!(private && text.contains("Unknown command"), "{text}");
    let (text, private) = bot.run(interaction(5, "x", json!([]), CHANNEL, MANAGER)).await;
    assert!(private && text.contains("not supported"), "{text}");
    let (text, private) = bot.run(interaction(3, "x", json!([]), CHANNEL, MANAGER)).await;
    assert!(private && text.contains("not one I understand"), "a button without data: {text}");
}

#[tokio::test]
async fn members_without_manage_channels_cannot_change_anything() {
    let bot = Bot::start().await;
    let as_member = |name: &str, options: Value| interaction(2, name, options, CHANNEL, MEMBER);
    for (name, options) in [
        ("subscribe", strings(&[("agency", "SpaceX")])),
        ("subscribe", json!([])),
        ("unsubscribe", strings(&[("which", "all")])),
        ("timezone", strings(&[("zone", "Europe/Berlin")])),
        ("reminders", strings(&[("times", "1h")])),
    ] {
        let (text, private) = bot.run(as_member(name, options)).await;
        assert!(private && text.contains("Manage Channels"), "/{name}: {text}");
    }
    assert!(bot.subscriptions(CHANNEL).is_empty(), "nothing stored");
    assert!(bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().is_none());

    // Reading is for everyone; an administrator may change things.
    let (text, private) = bot.run(as_member("list", json!([]))).await;
    assert!(!private && text.contains("No subscriptions"), "{text}");
    let (text, _) = bot.run(as_member("timezone", json!([]))).await;
    assert!(text.contains("Times here are shown in UTC"), "{text}");
    let (text, _) = bot.run(interaction(2, "subscribe", strings(&[("agency", "SpaceX")]), CHANNEL, ADMIN)).await;
    assert!(text.contains("Subscribed #1"), "{text}");
    let (text, _) = bot.run(as_member("unsubscribe", strings(&[("which", "1")]))).await;
    assert!(text.contains("Manage Channels"), "{text}");
    assert_eq!(bot.subscriptions(CHANNEL).len(), 1, "still there");

    // A guild interaction without member permissions is refused too.
    let mut body = command("subscribe", json!([]));
    body["member"].as_object_mut().unwrap().remove("permissions");
    let (text, _) = bot.run(body).await;
    assert!(text.contains("Manage Channels"), "{text}");
    assert_eq!(bot.subscriptions(CHANNEL).len(), 1);
}

#[tokio::test]
async fn autocomplete_offers_directory_names() {
    let bot = Bot::start().await;
    let values = |choices: Vec<(String, String)>| choices.into_iter().map(|(_, v)| v).collect::<Vec<_>>();

    let agencies = bot.complete("subscribe", vec![], ("agency", "spa")).await;
    assert_eq!(agencies[0].1, "SpaceX", "{agencies:?}");
    assert!(agencies[0].0.starts_with("SpaceX"), "{agencies:?}");
    let all = values(bot.complete("subscribe", vec![], ("agency", "")).await);
    for name in ["SpaceX", "Rocket Lab", "Arianespace", "Mitsubishi Heavy Industries"] {
        assert!(all.iter().any(|v| v == name), "{name} missing from {all:?}");
    }
    let typo = values(bot.complete("subscribe", vec![], ("exclude_agency", "Rokcet Lab")).await);
    assert!(typo.iter().any(|v| v == "Rocket Lab"), "close spellings when nothing contains the text: {typo:?}");
    let programs = values(
        bot.complete(
            "subscribe",
            vec![json!({"name": "agency", "type": 3, "value": "SpaceX"})],
            ("exclude_program", "leo"),
        )
        .await,
    );
    assert_eq!(programs, ["Amazon Leo"]);
    let types = values(bot.complete("subscribe", vec![], ("type", "ASTRO")).await);
    assert_eq!(types, ["Astrophysics"]);
    assert!(bot.complete("subscribe", vec![], ("agency", "qqqqqqqq")).await.is_empty());

    // /unsubscribe offers this channel's subscriptions; /timezone, zone names.
    assert!(bot.complete("unsubscribe", vec![], ("which", "")).await.is_empty());
    bot.run(command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    bot.run(command("subscribe", strings(&[("program", "Amazon Leo")]))).await;
    let which = bot.complete("unsubscribe", vec![], ("which", "")).await;
    assert_eq!(
        which,
        [
            ("1. agency SpaceX".to_string(), "1".to_string()),
            ("2. program Amazon Leo".to_string(), "2".to_string()),
            ("all (2 subscriptions)".to_string(), "all".to_string())
        ]
    );
    assert_eq!(values(bot.complete("unsubscribe", vec![], ("which", "amazon")).await), ["2"]);
    let zones = values(bot.complete("timezone", vec![], ("zone", "berl")).await);
    assert_eq!(zones[0], "Europe/Berlin");
    assert_eq!(bot.complete("timezone", vec![], ("zone", "")).await.len(), 25);
}

#[tokio::test]
async fn subscribe_in_a_channel_then_a_changed_spacex_launch_posts_one_embed_there() {
    let mut bot = Bot::start().await;
    let (text, _) = bot.run(command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    assert!(text.contains("Subscribed #1"), "{text}");

    // A change to a launch by someone else: nothing.
    bot.status_change(MMX, on_hold()).await;
    assert_eq!(bot.discord.delivered(), 0, "{:?}", bot.discord.requests());

    // A change to the SpaceX launch: one embed, in 424242.
    bot.status_change(SPACEX_LAUNCH, on_hold()).await;
    let posts = bot.discord.messages(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1, "{:?}", bot.discord.requests());
    assert_eq!(bot.discord.delivered(), 1, "nothing anywhere else");
    let embed = &posts[0]["embeds"][0];
    assert!(embed["title"].as_str().unwrap().contains("Nancy Grace Roman"), "{embed}");
    let request = &bot.discord.requests_to(Target::Channel(CHANNEL))[0];
    assert_eq!(request.authorization.as_deref(), Some(format!("Bot {TOKEN}").as_str()));

    // Unsubscribed: the next change posts nothing.
    bot.run(command("unsubscribe", strings(&[("which", "all")]))).await;
    bot.status_change(SPACEX_LAUNCH, go()).await;
    assert_eq!(bot.discord.delivered(), 1);
}

#[tokio::test]
async fn the_mute_button_on_bot_alerts_mutes_the_launch_for_the_channel() {
    let mut bot = Bot::start().await;
    for channel in [CHANNEL, OTHER_CHANNEL] {
        let (text, _) = bot.run(interaction(2, "subscribe", strings(&[("agency", "SpaceX")]), channel, MANAGER)).await;
        assert!(text.contains("Subscribed #1"), "{text}");
    }
    let live = "https://www.youtube.com/watch?v=roman";
    bot.ll2.set_field(
        Feed::Launches,
        SPACEX_LAUNCH,
        "/vid_urls",
        json!([{"url": live, "title": "Launch", "live": true}]),
    );
    bot.status_change(SPACEX_LAUNCH, on_hold()).await;
    let posts = bot.discord.messages(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1, "{:?}", bot.discord.requests());
    let button = &posts[0]["components"][0]["components"][0];
    let mute = format!("mute:launch/{SPACEX_LAUNCH}");
    assert_eq!((button["label"].as_str(), button["custom_id"].as_str()), (Some("🔕 Mute"), Some(mute.as_str())));
    // The webcast is a link button in the same row.
    let link = &posts[0]["components"][0]["components"][1];
    assert_eq!(
        (link["style"].as_u64(), link["label"].as_str(), link["url"].as_str()),
        (Some(5), Some("Watch live"), Some(live))
    );
    let fields = posts[0]["embeds"][0]["fields"].as_array().unwrap();
    assert!(fields.iter().all(|f| f["name"] != "Webcast"), "said once, as the button: {fields:?}");

    // A member without Manage Channels is refused, privately.
    let (status, answer) = bot.signed(&press(&mute, CHANNEL, MEMBER)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    assert!(answer["data"]["content"].as_str().unwrap().contains("Only administrators"), "{answer}");
    // Forged or stale data: a polite private note.
    for data in ["mute:launch/../../x", &"x".repeat(300), "mute:launch/00000000-0000-0000-0000-000000000000"] {
        let (status, answer) = bot.signed(&press(data, CHANNEL, MANAGER)).await;
        assert_eq!((status, answer["type"].as_u64()), (200, Some(4)), "{answer}");
        assert_eq!(answer["data"]["flags"], 64, "{answer}");
    }

    // A manager mutes: the message's button becomes Unmute (type 7), and
    // the Watch live link stays beside it.
    let mut pressed = press(&mute, CHANNEL, MANAGER);
    pressed["message"]["components"] = posts[0]["components"].clone();
    let (status, answer) = bot.signed(&pressed).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 7, "{answer}");
    let swapped = &answer["data"]["components"][0]["components"][0];
    assert_eq!(swapped["label"], "🔔 Unmute", "{answer}");
    assert_eq!(swapped["custom_id"], format!("unmute:launch/{SPACEX_LAUNCH}"));
    assert_eq!(answer["data"]["components"][0]["components"][1]["url"], live, "{answer}");

    // The next change reaches the other channel only.
    bot.status_change(SPACEX_LAUNCH, go()).await;
    assert_eq!(bot.discord.messages(Target::Channel(CHANNEL)).len(), 1);
    assert_eq!(bot.discord.messages(Target::Channel(OTHER_CHANNEL)).len(), 2);

    // Unmute from the same message: heard again.
    let (_, answer) = bot.signed(&press(swapped["custom_id"].as_str().unwrap(), CHANNEL, MANAGER)).await;
    assert_eq!(answer["data"]["components"][0]["components"][0]["label"], "🔕 Mute", "{answer}");
    bot.status_change(SPACEX_LAUNCH, on_hold()).await;
    assert_eq!(bot.discord.messages(Target::Channel(CHANNEL)).len(), 2);
}

fn discord_config(fake: &FakeDiscord, token: &str, guild_id: Option<u64>) -> DiscordConfig {
    let mut cfg = Config::default_config().discord;
    cfg.token = Secret::new(token);
    cfg.api_url = fake.api_url();
    cfg.guild_id = guild_id;
    cfg
}

/// The checks Discord applies to a bulk overwrite of commands.
fn assert_valid_commands(commands: &Value) {
    let commands = commands.as_array().expect("an array");
    assert!(commands.len() <= 100);
    let name_ok = |n: &str| {
        (1..=32).contains(&n.chars().count())
            && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    for c in commands {
        let name = c["name"].as_str().unwrap();
        assert!(name_ok(name), "{name}");
        assert!((1..=100).contains(&c["description"].as_str().unwrap().chars().count()), "{name}");
        let options = c["options"].as_array().cloned().unwrap_or_default();
        assert!(options.len() <= 25, "{name}");
        let mut optional_seen = false;
        for o in &options {
            let on = o["name"].as_str().unwrap();
            assert!(name_ok(on), "{name}.{on}");
            assert!((1..=100).contains(&o["description"].as_str().unwrap().chars().count()), "{name}.{on}");
            let required = o["required"].as_bool().unwrap_or(false);
            assert!(!(required && optional_seen), "{name}: required options come first");
            optional_seen |= !required;
            let has_choices = o["choices"].as_array().is_some_and(|c| !c.is_empty());
            assert!(
                !(has_choices && o["autocomplete"] == true),
                "{name}.{on}: autocomplete and choices exclude each other"
            );
        }
    }
}

#[tokio::test]
async fn commands_are_registered_globally_or_in_one_guild() {
    let fake = FakeDiscord::builder().token(TOKEN).start().await;

    let r = register(&discord_config(&fake, TOKEN, None)).await.unwrap();
    assert_eq!((r.application_id, r.guild_id, r.commands), (APPLICATION_ID, None, 21));
    let puts: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].kind, Kind::GlobalCommands { app: APPLICATION_ID });
    assert_eq!(puts[0].path, format!("/api/v10/applications/{APPLICATION_ID}/commands"));
    assert_eq!(puts[0].authorization.as_deref(), Some(format!("Bot {TOKEN}").as_str()));
    assert_valid_commands(&puts[0].body);
    let by_name = |n: &str| puts[0].body.as_array().unwrap().iter().find(|c| c["name"] == n).unwrap().clone();
    let subscribe = by_name("subscribe");
    let names: Vec<&str> =
        subscribe["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["agency", "type", "program", "exclude_agency", "exclude_type", "exclude_program", "kind", "mention"]
    );
    for name in ["subscribe", "unsubscribe", "timezone", "reminders"] {
        assert_eq!(by_name(name)["default_member_permissions"], "16", "{name} needs Manage Channels");
    }
    for name in ["list", "next", "help"] {
        assert!(by_name(name)["default_member_permissions"].is_null(), "{name} is for everyone");
    }

    fake.clear_requests();
    let r = register(&discord_config(&fake, TOKEN, Some(GUILD))).await.unwrap();
    assert_eq!(r.guild_id, Some(GUILD));
    let put = fake.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.kind, Kind::GuildCommands { app: APPLICATION_ID, guild: GUILD });

    // A wrong token: a permanent error that does not show the token.
    let err = register(&discord_config(&fake, "wrong-token-SECRET", None)).await.unwrap_err();
    assert!(matches!(err, RegisterError::Status { status: 401, .. }), "{err}");
    assert!(!err.is_transient());
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

// ---- the binary ----------------------------------------------------------

/// Lines the child wrote to stderr so far.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    fn follow(stderr: std::process::ChildStderr) -> Log {
        use std::io::BufRead;
        let log = Log::default();
        let lines = log.0.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        log
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }

    async fn wait_for(&self, needle: &str, limit: Duration) {
        self.wait_for_n(needle, 1, limit).await;
    }

    /// Waits until `needle` appears `n` times in the log.
    async fn wait_for_n(&self, needle: &str, n: usize, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.text().matches(needle).count() < n {
            assert!(std::time::Instant::now() < deadline, "no {needle:?} in the log:\n{}", self.text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_registers_commands_answers_interactions_and_posts_to_the_channel() {
    let ll2 = FakeLl2::start().await;
    let discord = FakeDiscord::builder().token(TOKEN).start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 1000\n\n[store]\npath = \"{}\"\n\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [discord]\ntoken = \"{TOKEN}\"\napi_url = \"{}\"\nguild_id = {GUILD}\npublic_key = \"{}\"\n",
            ll2.base_url(),
            dir.path().join("data").display(),
            discord.api_url(),
            public_key_hex()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tminus"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("RUST_LOG", "info")
        .env_remove("TMINUS_LL2_API_KEY")
        .env_remove("TMINUS_TELEGRAM_TOKEN")
        .env_remove("TMINUS_DISCORD_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Log::follow(child.stderr.take().unwrap());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // Start-up: commands registered in the guild through the fake's REST
    // API, the endpoint mounted, the first sync done (the directory knows
    // the names).
    log.wait_for("Discord slash commands registered in the guild", Duration::from_secs(20)).await;
    log.wait_for("Discord interactions endpoint enabled", Duration::from_secs(5)).await;
    // Both feeds (events, launches): the directory knows SpaceX from the
    // launches.
    log.wait_for_n("poll cycle done", 2, Duration::from_secs(20)).await;
    let put = discord.requests().into_iter().find(|r| r.method == "PUT").expect("commands registered");
    assert_eq!(put.kind, Kind::GuildCommands { app: APPLICATION_ID, guild: GUILD });
    assert_valid_commands(&put.body);

    let http = reqwest::Client::new();
    let signed = |body: Value| {
        let http = http.clone();
        async move {
            let body = body.to_string();
            let ts = now_ts();
            post(&http, addr, &body, Some(&sign(&signing_key(), &ts, &body)), Some(&ts)).await
        }
    };
    let (status, _) = post(&http, addr, &command("subscribe", json!([])).to_string(), None, None).await;
    assert_eq!(status, 401, "unsigned");
    assert_eq!(signed(json!({"type": 1})).await, (200, json!({"type": 1})));
    let (status, answer) = signed(interaction(
        4,
        "subscribe",
        json!([{"name": "agency", "type": 3, "value": "spa", "focused": true}]),
        CHANNEL,
        MANAGER,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["choices"][0]["value"], "SpaceX", "{answer}");
    let (status, answer) = signed(command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    assert_eq!(status, 200);
    assert!(answer["data"]["content"].as_str().unwrap().contains("Subscribed #1: agency SpaceX"), "{answer}");
    assert_eq!(answer["data"]["flags"], 64);

    // A change to someone else's launch and one to the SpaceX launch: one
    // embed, in 424242, at the next poll of the launches feed.
    ll2.set_field(Feed::Launches, MMX, "/status", on_hold());
    ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", on_hold());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while discord.messages(Target::Channel(CHANNEL)).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no post in {CHANNEL}:\n{}", log.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts = discord.messages(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0]["embeds"][0]["title"].as_str().unwrap().contains("Nancy Grace Roman"), "{}", posts[0]);
    assert_eq!(discord.delivered(), 1, "nothing else posted");

    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let text = log.text();
    assert!(status.success(), "{status}\n{text}");
    assert!(!text.contains(TOKEN) && !text.contains("SECRET"), "the token leaked into the log:\n{text}");
    // The fake has no gateway: the bot asked it for one and never fell
    // back to Discord's own.
    assert!(text.contains("cannot get the gateway URL"), "{text}");
    assert!(!text.contains("gateway.discord.gg"), "no gateway towards discord.com in tests:\n{text}");
    assert!(discord.requests().iter().any(|r| r.kind == Kind::GatewayBot));
}

/// `/subscribe agency:SpaceX mention:@role` as Discord posts it: the
/// mentionable option's value is a snowflake, `resolved.roles` says it is a role.
fn subscribe_mentioning(role: u64) -> Value {
    let mut c = command(
        "subscribe",
        json!([{"name": "agency", "type": 3, "value": "SpaceX"}, {"name": "mention", "type": 9, "value": role.to_string()}]),
    );
    c["data"]["resolved"] = json!({"roles": {role.to_string(): {
        "id": role.to_string(), "name": "launch-alerts", "color": 0, "hoist": false, "position": 1,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null}, "icon": null,
        "permissions": "0", "managed": false, "mentionable": true, "flags": 0
    }}});
    c
}

#[tokio::test]
async fn subscribe_with_a_role_mention_pings_exactly_that_role() {
    let mut bot = Bot::start().await;
    // The guild's @everyone role (its id is the guild's) is refused.
    let (text, private) = bot.run(subscribe_mentioning(GUILD)).await;
    assert!(private && text.contains("takes a role or a member"), "{text}");
    assert!(bot.subscriptions(CHANNEL).is_empty());

    let (text, _) = bot.run(subscribe_mentioning(4321)).await;
    assert!(text.contains("Subscribed #1"), "{text}");
    assert_eq!(bot.subscriptions(CHANNEL)[0].mentions, ["<@&4321>".parse().unwrap()]);
    bot.status_change(SPACEX_LAUNCH, on_hold()).await;
    let posts = bot.discord.messages(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1, "{:?}", bot.discord.requests());
    assert_eq!(posts[0]["content"], "<@&4321>");
    assert_eq!(posts[0]["allowed_mentions"], json!({"parse": [], "roles": ["4321"], "users": []}));
}

/// The custom id of the first button whose label ends with `label`.
fn button(answer: &Value, label: &str) -> String {
    answer["data"]["components"]
        .as_array()
        .expect("components")
        .iter()
        .flat_map(|r| r["components"].as_array().unwrap().iter())
        .find(|b| b["label"].as_str().is_some_and(|l| l.ends_with(label)))
        .and_then(|b| b["custom_id"].as_str())
        .unwrap_or_else(|| panic!("no button {label:?} in {answer}"))
        .to_string()
}

#[tokio::test]
async fn settings_buttons_through_the_endpoint() {
    let bot = Bot::start().await;
    let (status, shown) = bot.signed(&command("settings", json!([]))).await;
    assert_eq!((status, shown["type"].as_u64()), (200, Some(4)), "{shown}");
    assert!(shown["data"].get("flags").is_none(), "{shown}");
    let rows = shown["data"]["components"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "kinds, reminders, horizons, timezones, then news, live card and digest: {shown}");
    for row in rows {
        assert_eq!(row["type"], 1);
        for b in row["components"].as_array().unwrap() {
            assert_eq!(b["type"], 2);
            assert!(
                b["custom_id"].as_str().unwrap().len() <= 100 && b["label"].as_str().unwrap().chars().count() <= 80
            );
        }
    }
    let berlin = button(&shown, "Europe/Berlin");

    // A member without Manage Channels: an ephemeral refusal, no edit.
    let (_, refused) = bot.signed(&press(&berlin, CHANNEL, MEMBER)).await;
    assert_eq!((refused["type"].as_u64(), refused["data"]["flags"].as_u64()), (Some(4), Some(64)), "{refused}");
    assert!(bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().is_none());

    // A manager: type 7 with the refreshed buttons; the timezone is stored.
    let (_, edited) = bot.signed(&press(&berlin, CHANNEL, MANAGER)).await;
    assert_eq!(edited["type"], 7, "{edited}");
    assert!(edited["data"]["content"].as_str().unwrap().contains("» "), "{edited}");
    let zones = &edited["data"]["components"][3]["components"];
    assert!(zones.as_array().unwrap().iter().any(|b| b["label"] == "✅ Europe/Berlin"), "{edited}");
    let settings = bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().unwrap();
    assert_eq!(settings.timezone, chrono_tz::Europe::Berlin);

    // A subscription adds a remove button beside the news, live card and
    // digest toggles (five rows at most, Discord's limit); removing works.
    bot.run(command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    let (_, shown) = bot.signed(&command("settings", json!([]))).await;
    let last = |v: &serde_json::Value| v["data"]["components"][4]["components"].as_array().unwrap().len();
    assert_eq!((shown["data"]["components"].as_array().unwrap().len(), last(&shown)), (5, 4), "{shown}");
    let (_, edited) = bot.signed(&press(&button(&shown, "#1"), CHANNEL, MANAGER)).await;
    assert_eq!(edited["type"], 7, "{edited}");
    assert!(bot.subscriptions(CHANNEL).is_empty());
    assert_eq!((edited["data"]["components"].as_array().unwrap().len(), last(&edited)), (5, 3));

    // Stale (the earlier message) and forged data: refreshed, not applied.
    for data in [berlin.clone(), "s:zzzz:z0".into(), format!("s:{}", "9".repeat(90))] {
        let (_, stale) = bot.signed(&press(&data, CHANNEL, MANAGER)).await;
        assert_eq!(stale["type"], 7, "{data}: {stale}");
        assert!(stale["data"]["content"].as_str().unwrap().contains("» "), "{stale}");
    }
    let settings = bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().unwrap();
    assert_eq!(settings.timezone, chrono_tz::Europe::Berlin, "unchanged");
    assert!(bot.discord.requests().iter().all(|r| r.kind != Kind::ChannelMessage { channel: CHANNEL }));
}

#[tokio::test]
async fn a_command_flood_gets_a_burst_one_note_then_quiet_answers() {
    let limits = FloodLimits { burst: 3, refill: Duration::from_millis(1500), max_keys: 100 };
    let bot = Bot::start_with(BotOptions { flood: limits, ..BotOptions::default() }).await;
    let mut answers = Vec::new();
    for _ in 0..12 {
        let (status, answer) = bot.signed(&command("list", json!([]))).await;
        assert_eq!(status, 200, "every interaction is answered in time");
        answers.push(answer);
    }
    let text = |a: &Value| a["data"]["content"].as_str().unwrap_or_default().to_string();
    let private = |a: &Value| a["data"]["flags"] == 64;
    for a in &answers[..3] {
        assert!(text(a).contains("No subscriptions") && !private(a), "{a}");
    }
    assert_eq!(text(&answers[3]), SLOW_DOWN);
    assert!(private(&answers[3]));
    for a in &answers[4..] {
        assert!(private(a) && !text(a).contains("No subscriptions") && text(a) != SLOW_DOWN, "{a}");
    }
    // Presses in the flooded channel: acknowledged, nothing changes.
    let (_, pressed) = bot.signed(&press(&format!("mute:launch/{SPACEX_LAUNCH}"), CHANNEL, MANAGER)).await;
    assert_eq!(pressed, json!({"type": 6}));
    // Another channel is not held back; the flooded one is answered again
    // once the burst passed.
    let (text_other, _) = bot.run(interaction(2, "list", json!([]), OTHER_CHANNEL, MANAGER)).await;
    assert!(text_other.contains("No subscriptions"), "{text_other}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (again, private_again) = bot.run(command("list", json!([]))).await;
    assert!(again.contains("No subscriptions") && !private_again, "{again}");
    // Nothing of it went through the REST API (the answers are the HTTP
    // responses themselves), so the alert rate limiter saw none of it.
    assert!(bot.discord.requests().is_empty(), "{:?}", bot.discord.requests());
}

/// A signed interaction replayed within its five-minute window runs once:
/// the copy is answered without a second effect. One signed before the
/// endpoint started (the previous process may have run it) is refused.
#[tokio::test]
async fn a_replayed_interaction_runs_once() {
    let bot = Bot::start().await;
    let body = command("subscribe", strings(&[("agency", "SpaceX")])).to_string();
    let ts = now_ts();
    let sig = sign(&signing_key(), &ts, &body);
    let (status, first) = bot.post(&body, Some(&sig), Some(&ts)).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = bot.post(&body, Some(&sig), Some(&ts)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["type"], 4, "{again}");
    assert_eq!(again["data"]["content"], "This command was already handled.", "{again}");
    assert_eq!(again["data"]["flags"].as_u64().unwrap_or(0) & 64, 64, "ephemeral: {again}");
    assert_eq!(bot.subscriptions(CHANNEL).len(), 1, "ran once");

    let old = (ts.parse::<i64>().unwrap() - 5).to_string();
    let other = command("subscribe", strings(&[("agency", "NASA")])).to_string();
    let (status, _) = bot.post(&other, Some(&sign(&signing_key(), &old, &other)), Some(&old)).await;
    assert_eq!(status, 401, "signed before the endpoint started");
    assert_eq!(bot.subscriptions(CHANNEL).len(), 1);
}
