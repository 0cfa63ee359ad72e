//! The real LL2 client against the fake LL2 server: paging, filtering, the
//! API key, throttling and every failure class the client distinguishes.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use support::fake_ll2::{FakeLl2, Fault};
use tminus::config::Ll2Config;
use tminus::ll2::{Client, Ll2Error, Page};
use tminus::types::{Feed, ItemKind, Secret, Watermark};

const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

fn client(cfg: &Ll2Config) -> Client {
    Client::new(cfg).expect("client")
}

async fn first_page(fake: &FakeLl2, feed: Feed) -> Result<Page, Ll2Error> {
    let c = client(&fake.ll2_config());
    c.get_page(feed, &c.sweep_url(feed)).await
}

#[tokio::test]
async fn pages_are_followed_via_next_and_every_item_is_seen_once() {
    let fake = FakeLl2::start().await;
    fake.add_many(Feed::Launches, 245);
    let c = client(&fake.ll2_config());

    let mut url = Some(c.sweep_url(Feed::Launches));
    let (mut pages, mut seen, mut total) = (0, HashSet::new(), 0);
    while let Some(u) = url {
        let page = c.get_page(Feed::Launches, &u).await.unwrap();
        assert_eq!(page.count, Some(250));
        assert_eq!(page.skipped, 0);
        assert!(page.bytes > 0);
        total += page.items.len();
        seen.extend(page.items.into_iter().map(|i| i.id.id));
        pages += 1;
        url = page.next;
    }
    assert_eq!((pages, total, seen.len()), (3, 250, 250));
    assert_eq!(fake.request_count("/2.3.0/launches/upcoming/"), 3);
    for r in fake.requests() {
        assert_eq!(r.param("limit").as_deref(), Some("100"));
        assert_eq!(r.param("mode").as_deref(), Some("detailed"));
    }
}

#[tokio::test]
async fn incremental_query_filters_and_orders_by_last_updated() {
    let fake = FakeLl2::start().await;
    let c = client(&fake.ll2_config());

    // Without a watermark: everything, oldest edit first.
    let all = c.get_page(Feed::Events, &c.incremental_url(Feed::Events, None)).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(all.items.windows(2).all(|w| w[0].last_updated < w[1].last_updated));

    let stamp = fake.set_field(Feed::Launches, MMX, "/status/abbrev", "TBC");
    let later = fake.touch(ItemKind::Launch, "7766f3bb-674c-4c71-b986-963bd633fcfe");
    assert!(later > stamp);

    let url = c.incremental_url(Feed::Launches, Some(Watermark(stamp)));
    assert_eq!(
        url.query_pairs().find(|(k, _)| k == "last_updated__gte").unwrap().1,
        stamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let page = c.get_page(Feed::Launches, &url).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|i| i.id.id.as_str()).collect();
    assert_eq!(ids, [MMX, "7766f3bb-674c-4c71-b986-963bd633fcfe"]);
    assert_eq!(page.items[0].status.as_ref().unwrap().short(), "TBC");
    assert_eq!(page.items[0].last_updated, stamp);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn fake_data_is_upcoming_and_distinctly_stamped() {
    let fake = FakeLl2::start().await;
    let page = first_page(&fake, Feed::Launches).await.unwrap();
    let soon = Utc::now() + chrono::Duration::days(1);
    assert!(page.items.iter().all(|i| i.when.unwrap() > soon));
    let stamps: HashSet<_> = page.items.iter().map(|i| i.last_updated).collect();
    assert_eq!(stamps.len(), page.items.len());
    // Default ordering is by net.
    assert!(page.items.windows(2).all(|w| w[0].when <= w[1].when));
}

#[tokio::test]
async fn api_key_is_sent_as_token_header_and_never_leaks() {
    let fake = FakeLl2::builder().expected_api_key("s3cr3t-key").start().await;
    let cfg = Ll2Config { api_key: Secret::new("s3cr3t-key"), ..fake.ll2_config() };
    let c = client(&cfg);
    c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.authorization.as_deref(), Some("Token s3cr3t-key"));
    assert_eq!(r.key_matched, Some(true));
    assert!(!r.query.as_deref().unwrap_or("").contains("s3cr3t"));

    for fault in [Fault::Status(500), Fault::Html, Fault::ErrorObject, Fault::Throttle { secs: 5, header: true }] {
        fake.push_fault(fault);
        let e = c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await.unwrap_err();
        assert!(!e.to_string().contains("s3cr3t") && !format!("{e:?}").contains("s3cr3t"), "{e:?}");
    }

    // Anonymous clients send no Authorization at all.
    first_page(&fake, Feed::Events).await.unwrap();
    let last = fake.requests().pop().unwrap();
    assert_eq!((last.authorization, last.key_matched), (None, Some(false)));
}

#[tokio::test]
async fn throttle_wait_comes_from_retry_after_or_from_the_detail() {
    let fake = FakeLl2::start().await;
    fake.push_faults([Fault::Throttle { secs: 905, header: true }, Fault::Throttle { secs: 42, header: false }]);
    for expected in [905, 42] {
        match first_page(&fake, Feed::Launches).await {
            Err(Ll2Error::Throttled { retry_after, url }) => {
                assert_eq!(retry_after, Duration::from_secs(expected));
                assert!(url.contains("/launches/upcoming/"));
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
    }
    assert!(first_page(&fake, Feed::Launches).await.is_ok());
}

#[tokio::test]
async fn enforced_rate_limit_and_the_free_throttle_endpoint() {
    let fake = FakeLl2::builder().with_rate_limit(2, Duration::from_secs(3600)).start().await;
    let c = client(&fake.ll2_config());
    let info = c.throttle().await.unwrap();
    assert_eq!(
        (info.limit, info.frequency, info.current_use, info.next_use),
        (2, Duration::from_secs(3600), 0, Duration::ZERO)
    );

    for feed in [Feed::Events, Feed::Launches] {
        c.get_page(feed, &c.sweep_url(feed)).await.unwrap();
    }
    match c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await {
        Err(Ll2Error::Throttled { retry_after, .. }) => {
            assert!(
                retry_after > Duration::from_secs(3590) && retry_after <= Duration::from_secs(3600),
                "{retry_after:?}"
            );
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    let info = c.throttle().await.unwrap();
    assert_eq!((info.limit, info.current_use), (2, 2));
    assert!(info.next_use > Duration::from_secs(3590));
    assert_eq!(fake.counted_requests(), 3, "api-throttle is free");
    assert_eq!(fake.request_count("/2.3.0/api-throttle/"), 2);
}

#[tokio::test]
async fn throttle_endpoint_without_a_limit_reports_ll2_defaults() {
    let fake = FakeLl2::start().await;
    fake.push_fault(Fault::Status(500)); // faults never hit /api-throttle/
    first_page(&fake, Feed::Events).await.unwrap_err();
    let info = client(&fake.ll2_config()).throttle().await.unwrap();
    assert_eq!(
        info,
        tminus::ll2::ThrottleInfo {
            limit: 15,
            frequency: Duration::from_secs(3600),
            current_use: 1,
            next_use: Duration::ZERO
        }
    );
}

#[tokio::test]
async fn failures_are_classified() {
    let fake = FakeLl2::start().await;

    fake.push_fault(Fault::Status(500));
    assert!(matches!(first_page(&fake, Feed::Events).await, Err(Ll2Error::Status { status: 500, .. })));

    fake.push_fault(Fault::Html);
    match first_page(&fake, Feed::Events).await {
        Err(Ll2Error::NotJson { snippet, .. }) => {
            assert!(snippet.starts_with("<!DOCTYPE html>") && !snippet.contains('\n'), "{snippet}");
            assert!(snippet.chars().count() <= 81, "{snippet}");
        }
        other => panic!("expected NotJson, got {other:?}"),
    }

    fake.push_fault(Fault::Truncated);
    assert!(matches!(first_page(&fake, Feed::Launches).await, Err(Ll2Error::NotJson { .. } | Ll2Error::Shape { .. })));

    fake.push_fault(Fault::ErrorObject);
    match first_page(&fake, Feed::Events).await {
        Err(Ll2Error::Shape { message, .. }) => {
            assert!(message.contains("Not found."), "{message}")
        }
        other => panic!("expected Shape, got {other:?}"),
    }

    // Unknown endpoint: DRF 404.
    let c = client(&fake.ll2_config());
    let url = url::Url::parse(&format!("{}/nope/", fake.base_url())).unwrap();
    assert!(matches!(c.get_page(Feed::Events, &url).await, Err(Ll2Error::Status { status: 404, .. })));
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn slow_answers_time_out() {
    let fake = FakeLl2::start().await;
    let cfg = Ll2Config { timeout: Duration::from_millis(300), ..fake.ll2_config() };
    let c = client(&cfg);
    fake.push_fault(Fault::Slow(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let result = c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await;
    assert!(matches!(result, Err(Ll2Error::Timeout { .. })), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let fake = FakeLl2::start().await;
    let cfg = Ll2Config { max_body_bytes: 1000, ..fake.ll2_config() };
    let c = client(&cfg);
    match c.get_page(Feed::Launches, &c.sweep_url(Feed::Launches)).await {
        Err(Ll2Error::TooLarge { limit, .. }) => assert_eq!(limit, 1000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(fake.bytes_served() > 1000);
}

#[tokio::test]
async fn next_links_to_other_hosts_are_refused() {
    let fake = FakeLl2::start().await;
    fake.push_fault(Fault::ForeignNext);
    match first_page(&fake, Feed::Launches).await {
        Err(Ll2Error::ForeignNext { url }) => {
            assert!(url.starts_with("http://foreign.invalid/"), "{url}")
        }
        other => panic!("expected ForeignNext, got {other:?}"),
    }
    // Nor does the client send its key anywhere but base_url.
    let c = client(&fake.ll2_config());
    let foreign = url::Url::parse("http://127.0.0.2:9/2.3.0/launches/upcoming/").unwrap();
    assert!(matches!(c.get_page(Feed::Launches, &foreign).await, Err(Ll2Error::ForeignNext { .. })));
    assert_eq!(fake.request_count("/"), 1);
}

#[tokio::test]
async fn unreachable_server_is_a_network_error() {
    let fake = FakeLl2::start().await;
    let cfg = fake.ll2_config();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = client(&cfg);
    let result = c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await;
    assert!(matches!(result, Err(Ll2Error::Network { .. })), "{result:?}");
}

#[tokio::test]
async fn bodies_without_a_length_are_capped_while_streaming() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // A chunked answer announces no Content-Length, so only the streaming
    // check can catch it. axum always sets a length; talk raw HTTP instead.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        let _ = sock.write_all(head.as_bytes()).await;
        let chunk = format!("200\r\n{}\r\n", " ".repeat(0x200));
        for _ in 0..100 {
            if sock.write_all(chunk.as_bytes()).await.is_err() {
                return; // the client hung up, as it should
            }
        }
        let _ = sock.write_all(b"0\r\n\r\n").await;
    });
    let cfg = Ll2Config {
        base_url: format!("http://{addr}/2.3.0"),
        api_key: Secret::default(),
        requests_per_hour: 15,
        feeds: Feed::ALL.to_vec(),
        resweep_interval: Duration::from_secs(6 * 3600),
        timeout: Duration::from_secs(5),
        max_body_bytes: 2000,
    };
    let c = client(&cfg);
    let result = c.get_page(Feed::Events, &c.sweep_url(Feed::Events)).await;
    assert!(matches!(result, Err(Ll2Error::TooLarge { limit: 2000, .. })), "{result:?}");
}
