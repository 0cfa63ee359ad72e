//! The request schedule: which LL2 request the poller makes next, and when.
//! Plain functions over plain data (what is known of upcoming launches, the
//! hourly budget, the last request per target, now), so every decision can
//! be tested with a made-up clock.
//!
//! Idle (nothing hot) it spends the budget as it always did: each feed
//! polled every `uniform_interval`, a fifth of the budget kept for re-sweeps,
//! extra pages and retries. When a launch is *hot* (inside T-2h..T+1h, or on
//! hold, in flight or with a live webcast near its NET), each feed slows to
//! the staleness ceiling and the rest of the budget goes to the hot
//! launches: targeted queries, which they share round-robin, spaced evenly
//! with the launches feed's own polls (those return a changed hot launch
//! too, as LL2's upcoming list keeps a launch past its T-0). A bigger budget
//! scales every rate; no interval drops below the 30 s floor.
//!
//! It must not send requests, sleep or read the store; the budget ledger
//! (`crate::budget`) still gates every request, so a plan can only ever be
//! late, never over budget.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::item::{Item, status};
use crate::types::Feed;

/// No class of request goes more often than this.
pub(crate) const FLOOR: Duration = Duration::from_secs(30);
/// A feed is never left unpolled longer than this while launches are hot
/// (unless the budget is too small to poll it even that often).
pub(crate) const STALENESS_CEILING: Duration = Duration::from_secs(30 * 60);
/// LL2's anonymous budget, at which a feed gets exactly the staleness
/// ceiling while launches are hot; a larger budget polls feeds faster in
/// proportion.
const REFERENCE_BUDGET: f64 = 15.0;
/// Share of the budget the idle schedule spends; the rest absorbs re-sweeps,
/// extra pages and retries.
const IDLE_SHARE: f64 = 0.8;
/// The hot window around a launch's NET: T-2h .. T+1h.
const HOT_BEFORE: chrono::Duration = chrono::Duration::hours(2);
const HOT_AFTER: chrono::Duration = chrono::Duration::hours(1);
/// A hold, in-flight or live-webcast flag makes a launch hot only this close
/// to its NET: LL2 sometimes leaves a launch "On Hold" for weeks, and that
/// must not keep the budget hostage.
const FLAG_HORIZON: chrono::Duration = chrono::Duration::hours(24);
/// A NET coarser than this (a day, a month…) is a placeholder, not a time.
const MAX_HOT_UNCERTAINTY_SECS: i64 = 3600;

/// Which schedule to follow. `Uniform` is the historic one (every feed at
/// `uniform_interval`, whatever happens), kept for side-by-side comparison
/// in the freshness simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Poll more often when a launch is near, in flight or on hold, and
    /// spend the budget on the launches that matter now.
    #[default]
    FollowTheNews,
    /// Every feed at `uniform_interval`, whatever happens.
    Uniform,
}

/// What the schedule needs to know about one launch (from its snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchInfo {
    pub(crate) id: String,
    pub(crate) net: Option<DateTime<Utc>>,
    /// The NET is known to the hour or better.
    pub(crate) precise: bool,
    pub(crate) status: Option<i64>,
    pub(crate) webcast_live: bool,
}

impl LaunchInfo {
    pub(crate) fn of(item: &Item) -> LaunchInfo {
        LaunchInfo {
            id: item.id.id.clone(),
            net: item.when,
            precise: item
                .precision
                .as_ref()
                .and_then(|p| p.uncertainty_secs())
                .is_none_or(|u| u <= MAX_HOT_UNCERTAINTY_SECS),
            status: item.status.as_ref().and_then(|s| s.id),
            webcast_live: item.webcast_live,
        }
    }
}

/// What one request fetches: a feed's incremental query (or its sweep when
/// due), or the targeted query of one launch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Target {
    Feed(Feed),
    Launch(String),
}

impl std::fmt::Display for Target {
    /// As logs name it: `launches`, `events`, or `launch/ID` for a
    /// targeted query.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Feed(feed) => write!(f, "{feed}"),
            Target::Launch(id) => write!(f, "launch/{id}"),
        }
    }
}

/// When each target was last fetched (the moment its request finished).
pub(crate) type LastFetch = HashMap<Target, DateTime<Utc>>;

/// How often each class of request goes, right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Hot launch ids, sorted; they share `hot_interval` round-robin.
    pub hot: Vec<String>,
    /// Time between two requests that refresh the hot launches (a targeted
    /// query, or a poll of the launches feed); `None` when nothing is hot.
    pub hot_interval: Option<Duration>,
    /// Time between two polls of one feed.
    pub feed_interval: Duration,
    /// The next moment a known launch enters or leaves its hot window: the
    /// plan must be made again then, even if nothing was fetched.
    pub valid_until: Option<DateTime<Utc>>,
}

/// The idle interval between two polls of one feed: `IDLE_SHARE` of the
/// budget spread over the feeds, never under the floor.
pub(crate) fn uniform_interval(requests_per_hour: u32, feeds: usize) -> Duration {
    let per_feed_per_hour = (requests_per_hour as f64 * IDLE_SHARE) / feeds.max(1) as f64;
    Duration::from_secs_f64((3600.0 / per_feed_per_hour.max(0.01)).max(FLOOR.as_secs_f64()))
}

/// Whether `launch` deserves targeted queries at `now`.
pub(crate) fn is_hot(launch: &LaunchInfo, now: DateTime<Utc>) -> bool {
    let Some(net) = launch.net else { return false };
    if launch.status.is_some_and(|s| status::FINAL.contains(&s)) {
        return false;
    }
    let to_go = net - now;
    let in_window = launch.precise && to_go <= HOT_BEFORE && to_go >= -HOT_AFTER;
    let flagged = launch.webcast_live || matches!(launch.status, Some(status::HOLD | status::IN_FLIGHT));
    in_window || (flagged && to_go.abs() <= FLAG_HORIZON)
}

/// The plan at `now` for a budget of `requests_per_hour` over `feeds`.
pub(crate) fn plan(
    strategy: Strategy,
    requests_per_hour: u32,
    feeds: &[Feed],
    launches: &[LaunchInfo],
    now: DateTime<Utc>,
) -> Plan {
    let idle = uniform_interval(requests_per_hour, feeds.len());
    let idle_plan = |valid_until| Plan { hot: Vec::new(), hot_interval: None, feed_interval: idle, valid_until };
    if strategy == Strategy::Uniform || !feeds.contains(&Feed::Launches) {
        return idle_plan(None);
    }
    let valid_until = next_boundary(launches, now);
    let mut hot: Vec<String> = launches.iter().filter(|l| is_hot(l, now)).map(|l| l.id.clone()).collect();
    hot.sort();
    hot.dedup();
    let rate = requests_per_hour as f64;
    let per_hour = |d: Duration| 3600.0 / d.as_secs_f64();
    let feed_min = per_hour(STALENESS_CEILING) * (rate / REFERENCE_BUDGET).max(1.0);
    // Every request but the other feeds' refreshes the hot launches.
    let others_min = feeds.len().saturating_sub(1) as f64 * feed_min;
    let hot_rate = (rate - others_min).min(per_hour(FLOOR));
    if hot.is_empty() || hot_rate < feed_min + 1.0 {
        // Nothing hot, or a budget too small to spare a request for it.
        return idle_plan(valid_until);
    }
    // What the hot launches cannot use (past the floor) goes back to feeds.
    let feed_rate = feed_min + (rate - others_min - hot_rate) / feeds.len() as f64;
    Plan {
        hot,
        hot_interval: Some(Duration::from_secs_f64(3600.0 / hot_rate).max(FLOOR)),
        feed_interval: Duration::from_secs_f64(3600.0 / feed_rate).max(idle),
        valid_until,
    }
}

/// The next instant after `now` at which some launch crosses a hot-window
/// or flag-horizon edge.
fn next_boundary(launches: &[LaunchInfo], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    launches
        .iter()
        .filter(|l| !l.status.is_some_and(|s| status::FINAL.contains(&s)))
        .filter_map(|l| l.net)
        .flat_map(|net| [net - HOT_BEFORE, net + HOT_AFTER, net - FLAG_HORIZON, net + FLAG_HORIZON])
        .filter(|t| *t > now)
        .min()
}

/// How candidates for the next request compare: due time, then rank
/// (feeds before hot launches), then last fetch (never fetched first).
type Order = (DateTime<Utc>, u8, Option<DateTime<Utc>>);

/// Targets held back until an instant (retry backoff after a failure).
pub(crate) type Held = HashMap<Target, DateTime<Utc>>;

/// The next request under `plan` and when it is due (possibly already
/// past). A target never fetched is due at once; a held one not before its
/// hold ends. On a tie a feed goes first (it is the one held at its
/// staleness ceiling), then the hot launch fetched longest ago.
pub(crate) fn next(
    plan: &Plan,
    feeds: &[Feed],
    last: &LastFetch,
    held: &Held,
    now: DateTime<Utc>,
) -> Option<(Target, DateTime<Utc>)> {
    let after = |t: Option<DateTime<Utc>>, every: Duration| {
        t.map_or(now, |t| t + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX))
    };
    let hold = |target: &Target, due: DateTime<Utc>| held.get(target).map_or(due, |h| due.max(*h));
    let mut best: Option<(Order, Target)> = None;
    let mut offer = |key: Order, target: Target| {
        if best.as_ref().is_none_or(|(b, bt)| (key, &target) < (*b, bt)) {
            best = Some((key, target));
        }
    };
    // The hot launches share one rate: the next targeted request is due one
    // interval after the latest request that refreshed them (a targeted one
    // or a launches feed poll), and goes to the stalest.
    let fetched = |id: &String| last.get(&Target::Launch(id.clone())).copied();
    let feed_poll = last.get(&Target::Feed(Feed::Launches)).copied();
    let latest = plan.hot.iter().filter_map(fetched).chain(feed_poll).max();
    let hot_due = plan.hot_interval.filter(|_| !plan.hot.is_empty()).map(|every| (after(latest, every), every));
    for feed in feeds {
        let target = Target::Feed(*feed);
        let mut due = after(last.get(&target).copied(), plan.feed_interval);
        // The launches feed, due before the next-but-one hot slot, goes
        // early at the next one and stands in for that targeted query: the
        // hot launches' refreshes stay evenly spaced. Never later, so the
        // ceiling holds. (Other feeds cannot stand in: they take a slot.)
        if let Some((slot, every)) = hot_due
            && *feed == Feed::Launches
            && due > slot
            && due < slot + chrono::Duration::from_std(every).unwrap_or_default()
        {
            due = slot;
        }
        offer((hold(&target, due), 0, None), target);
    }
    if let Some((slot, _)) = hot_due {
        for id in &plan.hot {
            let target = Target::Launch(id.clone());
            let base = if fetched(id).is_none() { now } else { slot };
            offer((hold(&target, base), 1, fetched(id)), target);
        }
    }
    best.map(|((due, _, _), target)| (target, due))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mins: i64) -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(mins)
    }

    fn launch(id: &str, net_mins: i64) -> LaunchInfo {
        LaunchInfo {
            id: id.into(),
            net: Some(t(net_mins)),
            precise: true,
            status: Some(status::GO),
            webcast_live: false,
        }
    }

    const FEEDS: [Feed; 2] = [Feed::Events, Feed::Launches];

    #[test]
    fn hot_window_and_flags() {
        let now = t(0);
        assert!(!is_hot(&launch("a", 121), now), "T-2h01 is not hot yet");
        assert!(is_hot(&launch("a", 120), now), "T-2h is hot");
        assert!(is_hot(&launch("a", -60), now), "T+1h is still hot");
        assert!(!is_hot(&launch("a", -61), now));
        let done = LaunchInfo { status: Some(status::SUCCESS), ..launch("a", -5) };
        assert!(!is_hot(&done, now), "a result ends it");
        let vague = LaunchInfo { precise: false, ..launch("a", 30) };
        assert!(!is_hot(&vague, now), "a NET known to the day is a placeholder");
        let hold = LaunchInfo { status: Some(status::HOLD), ..launch("a", 600) };
        assert!(is_hot(&hold, now), "on hold 10 h out");
        let stale_hold = LaunchInfo { status: Some(status::HOLD), ..launch("a", 25 * 60) };
        assert!(!is_hot(&stale_hold, now), "a hold days out is not news");
        let live = LaunchInfo { webcast_live: true, ..launch("a", 300) };
        assert!(is_hot(&live, now));
        let flying = LaunchInfo { status: Some(status::IN_FLIGHT), ..launch("a", -90) };
        assert!(is_hot(&flying, now), "in flight past T+1h");
        assert!(!is_hot(&LaunchInfo { net: None, ..launch("a", 0) }, now));
    }

    #[test]
    fn idle_plan_is_the_uniform_one() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 600)], t(0));
        assert_eq!(p.hot_interval, None);
        assert_eq!(p.feed_interval, Duration::from_secs(600));
        assert_eq!(p.valid_until, Some(t(480)), "replan when the launch reaches T-2h");
        assert_eq!(uniform_interval(15, 2), Duration::from_secs(600));
        assert_eq!(uniform_interval(10_000, 2), FLOOR, "the floor holds");
    }

    #[test]
    fn idle_cost_is_one_request_per_feed_per_cycle() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 24 * 60)], t(0));
        let mut last = LastFetch::new();
        let mut sent = Vec::new();
        let mut now = t(0);
        while now < t(60) {
            let (target, due) = next(&p, &FEEDS, &last, &Held::new(), now).unwrap();
            now = due.max(now);
            if now >= t(60) {
                break;
            }
            sent.push(target.clone());
            last.insert(target, now);
        }
        // 0' both feeds, then each every 10 min: 6 per feed in the hour.
        assert_eq!(sent.iter().filter(|t| **t == Target::Feed(Feed::Events)).count(), 6);
        assert_eq!(sent.iter().filter(|t| **t == Target::Feed(Feed::Launches)).count(), 6);
        assert_eq!(sent.len(), 12, "nothing else: {sent:?}");
    }

    #[test]
    fn hot_budget_split_at_15_per_hour() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 30), launch("b", 600)], t(0));
        assert_eq!(p.hot, ["a"]);
        assert_eq!(p.feed_interval, STALENESS_CEILING, "feeds slow to the ceiling");
        // 15 - 2 event polls = 13 requests an hour refresh the hot launch:
        // 2 launches feed polls and 11 targeted queries.
        assert_eq!(p.hot_interval, Some(Duration::from_secs_f64(3600.0 / 13.0)));
        assert_eq!(p.valid_until, Some(t(90)), "replan when `a` leaves its window");
        let uniform = plan(Strategy::Uniform, 15, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!((uniform.hot_interval, uniform.feed_interval), (None, Duration::from_secs(600)));
    }

    #[test]
    fn a_larger_budget_scales_every_rate() {
        // 4x the anonymous budget: feeds every 7.5 min, the hot launch
        // refreshed 52 times an hour.
        let p = plan(Strategy::FollowTheNews, 60, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.feed_interval, Duration::from_secs(450));
        assert_eq!(p.hot_interval, Some(Duration::from_secs_f64(3600.0 / 52.0)));
        let p = plan(Strategy::FollowTheNews, 300, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, Some(FLOOR), "the floor caps the hot rate");
        // Feeds 40 an hour each, plus the 140 requests the floor leaves.
        assert_eq!(p.feed_interval, Duration::from_secs_f64(3600.0 / 110.0));
    }

    #[test]
    fn a_tiny_budget_keeps_the_uniform_plan() {
        let p = plan(Strategy::FollowTheNews, 4, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, None);
        assert_eq!(p.feed_interval, uniform_interval(4, 2));
        let p = plan(Strategy::FollowTheNews, 15, &[Feed::Events], &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, None, "launches not polled: no targeted queries");
    }

    /// Walks the schedule for `hours` sending as soon as due, and returns
    /// the times each target was fetched.
    fn walk(p: &Plan, hours: i64) -> HashMap<Target, Vec<DateTime<Utc>>> {
        let mut last = LastFetch::new();
        let mut sent: HashMap<Target, Vec<DateTime<Utc>>> = HashMap::new();
        let mut now = t(0);
        loop {
            let (target, due) = next(p, &FEEDS, &last, &Held::new(), now).unwrap();
            now = due.max(now);
            if now >= t(hours * 60) {
                return sent;
            }
            sent.entry(target.clone()).or_default().push(now);
            last.insert(target, now);
        }
    }

    #[test]
    fn feeds_are_never_starved_and_hot_launches_share() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 30), launch("b", 45)], t(0));
        assert_eq!(p.hot, ["a", "b"]);
        let sent = walk(&p, 3);
        for feed in FEEDS {
            let times = &sent[&Target::Feed(feed)];
            assert!(times.windows(2).all(|w| w[1] - w[0] <= chrono::Duration::minutes(30)), "{feed}: {times:?}");
            assert!((6..=7).contains(&times.len()), "{feed} about every 30 min for 3 h: {times:?}");
        }
        let a = sent[&Target::Launch("a".into())].len();
        let b = sent[&Target::Launch("b".into())].len();
        assert!(a.abs_diff(b) <= 1, "round-robin: a {a}, b {b}");
        let total: usize = sent.values().map(Vec::len).sum();
        // 15 an hour, plus the first fetch of every target at once and the
        // feeds going early by less than a slot; the budget ledger, not the
        // plan, holds the hard line.
        assert!(total <= 3 * 15 + 4, "{total} requests planned in 3 h");
        // The launches feed polls stand in for targeted queries: the hot
        // launches are refreshed at an even pace.
        let mut refreshes: Vec<_> = sent
            .iter()
            .filter(|(t, _)| !matches!(t, Target::Feed(Feed::Events)))
            .flat_map(|(_, times)| times.iter().copied())
            .collect();
        refreshes.sort();
        let every = chrono::Duration::from_std(p.hot_interval.unwrap()).unwrap();
        assert!(refreshes[2..].windows(2).all(|w| w[1] - w[0] <= every), "{refreshes:?}");
    }

    #[test]
    fn a_launch_turning_hot_is_fetched_at_once() {
        let mut last = LastFetch::new();
        last.insert(Target::Feed(Feed::Events), t(-1));
        last.insert(Target::Feed(Feed::Launches), t(-1));
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 119)], t(0));
        assert_eq!(next(&p, &FEEDS, &last, &Held::new(), t(0)), Some((Target::Launch("a".into()), t(0))));
        last.insert(Target::Launch("a".into()), t(0));
        let (target, due) = next(&p, &FEEDS, &last, &Held::new(), t(0)).unwrap();
        assert_eq!(target, Target::Launch("a".into()));
        let every = chrono::Duration::from_std(p.hot_interval.unwrap()).unwrap();
        assert_eq!(due, t(0) + every);
        // A launches feed poll returns a changed hot launch too.
        last.insert(Target::Feed(Feed::Launches), t(3));
        assert_eq!(next(&p, &FEEDS, &last, &Held::new(), t(3)), Some((Target::Launch("a".into()), t(3) + every)));
    }

    #[test]
    fn a_held_target_waits_and_others_go_first() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 30)], t(0));
        let mut last = LastFetch::new();
        last.insert(Target::Feed(Feed::Events), t(0));
        last.insert(Target::Feed(Feed::Launches), t(0));
        let mut held = Held::new();
        held.insert(Target::Launch("a".into()), t(2));
        assert_eq!(next(&p, &FEEDS, &last, &held, t(0)), Some((Target::Launch("a".into()), t(2))));
        held.insert(Target::Launch("a".into()), t(45));
        let (target, due) = next(&p, &FEEDS, &last, &held, t(0)).unwrap();
        assert_eq!((target, due), (Target::Feed(Feed::Events), t(30)), "the feeds do not wait for a failing launch");
    }

    #[test]
    fn a_scrub_while_hot_ends_the_hot_plan() {
        let hot = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 5)], t(0));
        assert_eq!(hot.hot, ["a"]);
        // The targeted query saw the NET jump a day: back to the idle plan,
        // with a replan due at the launch's next edge.
        let scrubbed = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 5 + 24 * 60)], t(1));
        assert_eq!((scrubbed.hot_interval, scrubbed.feed_interval), (None, Duration::from_secs(600)));
        // (The first edge is the flag horizon, T-24h; the window follows.)
        assert_eq!(scrubbed.valid_until, Some(t(5)));
    }
}
