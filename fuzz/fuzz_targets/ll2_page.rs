//! LL2 page parsing on arbitrary bytes: never panics, and what it accepts
//! is consistent (items carry the feed's kind, ids and names are usable).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tminus::ll2::parse_page;
use tminus::types::Feed;

fuzz_target!(|data: &[u8]| {
    for feed in Feed::ALL {
        if let Ok(page) = parse_page(feed, data) {
            for item in &page.items {
                assert_eq!(item.kind(), feed.kind());
                assert!(!item.id.id.trim().is_empty());
                // Detection and rendering must cope with whatever parsed.
                assert!(tminus::detect::detect(Some(item), item).is_empty());
                let alert = tminus::detect::Alert::new(
                    tminus::detect::AlertId(1),
                    item.clone(),
                    vec![tminus::detect::Change::New],
                    item.last_updated,
                );
                let msg = tminus::render::message(&alert, chrono_tz::UTC, item.last_updated);
                let html = tminus::telegram::render::html(&msg);
                assert!(tminus::telegram::render::utf16_len(&html) <= tminus::telegram::render::TEXT_LIMIT);
            }
        }
    }
});
