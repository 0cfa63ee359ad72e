//! Chat command parsing on arbitrary UTF-8: `split_command` + `parse` never
//! panic, and every refusal is a short, non-empty reply.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tminus::commands::{parse, split_command};

fuzz_target!(|text: &str| {
    for bot in [None, Some("tminus_bot")] {
        if let Some((name, args)) = split_command(text, bot) {
            assert!(!name.is_empty());
            match parse(&name, args) {
                Ok(_) => {}
                Err(e) => {
                    let reply = e.to_string();
                    assert!(!reply.trim().is_empty());
                    // Sendable anywhere: Discord allows 2000 characters.
                    assert!(reply.chars().count() < 600, "reply of {} chars", reply.chars().count());
                }
            }
        }
    }
    // Front-ends may hand the argument text on its own.
    let _ = tminus::commands::parse_filter(text);
    let _ = tminus::commands::parse_reminders(text);
});
