//! The request schedule: which LL2 request the poller makes next, and when.
//! Plain functions over plain data (what is known of upcoming launches, the
//! hourly budget, the last request per target, now), so every decision can
//! be tested with a made-up clock.
//!
//! Idle (nothing hot) it spends the budget as it always did: each feed
//! polled every `uniform_interval`. When a launch is *hot* (inside
//! T-2h..T+1h, or on hold, in flight or with a live webcast near its NET),
//! the other feeds slow to the staleness ceiling and the rest goes to the
//! launches feed. Either way the plan spends only `SHARE` of the budget:
//! the rest is the reserve for re-sweeps, extra pages and retries, so one of
//! those never pushes the next look at a hot launch late (the budget
//! ledger would otherwise hold it back).
//!
//! Hot launches are refreshed by the launches feed's incremental query
//! (`last_updated__gte=W&ordering=last_updated`), not by targeted
//! `/launches/?id=` queries: one request returns every hot launch that
//! changed and every other changed launch, and moves the feed's watermark;
//! a targeted query costs the same request for one launch. Two hot launches
//! at once therefore cost nothing extra. A targeted query is used only for
//! a hot launch the upcoming list may no longer hold: LL2 keeps a launch
//! there past its T-0, so inside the hot window the feed serves it, but a
//! launch still flagged (in flight, webcast live, on hold) after T+1h gets
//! targeted queries, taking turns with the feed's polls. Lift-off is the
//! one moment known in advance: a refresh is brought forward to a minute
//! after a hot launch's NET and to ten minutes after (`AFTER_NET`); these
//! two early polls per launch are the only requests the reserve pays for
//! by design. A bigger budget scales every rate; no interval drops below
//! the 30 s floor.
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
pub(crate) const STALENESS_CEILING: Duration = Duration::from_secs(20 * 60);
/// LL2's anonymous budget, at which a feed gets exactly the staleness
/// ceiling while launches are hot; a larger budget polls feeds faster in
/// proportion.
const REFERENCE_BUDGET: f64 = 15.0;
/// Share of the budget any plan spends; the rest absorbs re-sweeps, extra
/// pages and retries.
const SHARE: f64 = 0.8;
/// The hot window around a launch's NET: T-2h .. T+1h.
const HOT_BEFORE: chrono::Duration = chrono::Duration::hours(2);
const HOT_AFTER: chrono::Duration = chrono::Duration::hours(1);
/// A hold, in-flight or live-webcast flag makes a launch hot only this close
/// to its NET: LL2 sometimes leaves a launch "On Hold" for weeks, and that
/// must not keep the budget hostage.
const FLAG_HORIZON: chrono::Duration = chrono::Duration::hours(24);
/// A NET coarser than this (a day, a month…) is a placeholder, not a time.
const MAX_HOT_UNCERTAINTY_SECS: i64 = 3600;
/// The moments after a hot launch's NET worth a look of their own: a
/// minute after lift-off (LL2 marks the launch in flight), and ten minutes
/// after, when a typical ascent reaches orbit and the result is posted.
const AFTER_NET: [chrono::Duration; 2] = [chrono::Duration::seconds(60), chrono::Duration::minutes(10)];

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
pub(crate) struct Plan {
    /// Hot launch ids, sorted.
    pub(crate) hot: Vec<String>,
    /// Time between two requests that refresh the hot launches (a poll of
    /// the launches feed, or a targeted query); `None` when nothing is hot.
    pub(crate) hot_interval: Option<Duration>,
    /// Time between two polls of one feed (of every feed but the launches
    /// feed while launches are hot).
    pub(crate) feed_interval: Duration,
    /// The hot launches the launches feed may no longer list: they get
    /// targeted queries, taking turns with the feed's polls. Sorted.
    pub(crate) targeted: Vec<String>,
    /// Moments just after the NETs of hot launches (`AFTER_NET`), soonest
    /// first: a poll of the launches feed is brought forward to each.
    pub(crate) lift_offs: Vec<DateTime<Utc>>,
    /// The next moment a known launch enters or leaves its hot window: the
    /// plan must be made again then, even if nothing was fetched.
    pub(crate) valid_until: Option<DateTime<Utc>>,
}

impl Plan {
    /// The time between two requests of `target`'s class under this plan.
    pub(crate) fn interval(&self, target: &Target) -> Duration {
        match (target, self.hot_interval) {
            (Target::Feed(Feed::Launches) | Target::Launch(_), Some(hot)) => hot,
            _ => self.feed_interval,
        }
    }
}

/// The idle interval between two polls of one feed: `SHARE` of the budget
/// spread over the feeds, never under the floor.
pub(crate) fn uniform_interval(requests_per_hour: u32, feeds: usize) -> Duration {
    let per_feed_per_hour = (requests_per_hour as f64 * SHARE) / feeds.max(1) as f64;
    Duration::from_secs_f64((3600.0 / per_feed_per_hour.max(0.01)).max(FLOOR.as_secs_f64()))
}

/// Whether `launch` deserves the hot schedule at `now`.
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
    let idle_plan = |valid_until| Plan {
        hot: Vec::new(),
        hot_interval: None,
        feed_interval: idle,
        targeted: Vec::new(),
        lift_offs: Vec::new(),
        valid_until,
    };
    if strategy == Strategy::Uniform || !feeds.contains(&Feed::Launches) {
        return idle_plan(None);
    }
    let valid_until = next_boundary(launches, now);
    let mut hot: Vec<&LaunchInfo> = launches.iter().filter(|l| is_hot(l, now)).collect();
    hot.sort_by(|a, b| a.id.cmp(&b.id));
    hot.dedup_by(|a, b| a.id == b.id);
    let planned = requests_per_hour as f64 * SHARE;
    let per_hour = |d: Duration| 3600.0 / d.as_secs_f64();
    let feed_min = per_hour(STALENESS_CEILING) * (requests_per_hour as f64 / REFERENCE_BUDGET).max(1.0);
    let others = feeds.len().saturating_sub(1) as f64;
    let hot_rate = (planned - others * feed_min).min(per_hour(FLOOR));
    if hot.is_empty() || hot_rate < feed_min {
        // Nothing hot, or a budget too small to favour the launches feed.
        return idle_plan(valid_until);
    }
    // What the launches feed cannot use (past the floor) goes to the others.
    let feed_rate = feed_min + (planned - others * feed_min - hot_rate) / others.max(1.0);
    let mut lift_offs: Vec<_> = hot
        .iter()
        .filter_map(|l| l.net)
        .flat_map(|net| AFTER_NET.map(|lag| net + lag))
        .filter(|at| *at > now)
        .collect();
    lift_offs.sort();
    Plan {
        hot: hot.iter().map(|l| l.id.clone()).collect(),
        hot_interval: Some(Duration::from_secs_f64(3600.0 / hot_rate).max(FLOOR)),
        feed_interval: Duration::from_secs_f64(3600.0 / feed_rate).max(idle),
        targeted: hot.iter().filter(|l| l.net.is_some_and(|n| n < now - HOT_AFTER)).map(|l| l.id.clone()).collect(),
        lift_offs,
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
/// (other feeds before the hot refreshes), then last fetch (never fetched
/// first).
type Order = (DateTime<Utc>, u8, Option<DateTime<Utc>>);

/// Targets held back until an instant (retry backoff after a failure).
pub(crate) type Held = HashMap<Target, DateTime<Utc>>;

/// The next request under `plan` and when it is due (possibly already
/// past). A target never fetched is due at once; a held one not before its
/// hold ends. On a tie another feed goes first (it is the one held at its
/// staleness ceiling), then whichever hot refresh was made longest ago.
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
    let launches = Target::Feed(Feed::Launches);
    let hot_slot = plan.hot_interval.filter(|_| feeds.contains(&Feed::Launches)).map(|every| {
        // The launches feed and the targeted launches take turns at one
        // rate: the next is due one interval after the latest of them.
        let fetched = |id: &String| last.get(&Target::Launch(id.clone())).copied();
        let latest = plan.targeted.iter().filter_map(fetched).chain(last.get(&launches).copied()).max();
        let slot = after(latest, every);
        // A moment after lift-off not yet looked at brings the feed's poll
        // forward to it (never under the floor).
        let feed_last = last.get(&launches).copied();
        let moment = plan.lift_offs.iter().copied().find(|at| feed_last.is_none_or(|l| l < *at));
        (slot, moment.filter(|at| *at < slot).map(|at| at.max(after(latest, FLOOR))))
    });
    for feed in feeds {
        let target = Target::Feed(*feed);
        let due = match hot_slot {
            Some((slot, lift_off)) if *feed == Feed::Launches => lift_off.unwrap_or(slot),
            _ => after(last.get(&target).copied(), plan.feed_interval),
        };
        // While launches are hot the launches feed takes turns with the
        // targeted launches: same rank, the one fetched longest ago first.
        let turns = *feed == Feed::Launches && hot_slot.is_some();
        let (rank, stamp) = if turns { (1, last.get(&target).copied()) } else { (0, None) };
        offer((hold(&target, due), rank, stamp), target);
    }
    if let Some((slot, _)) = hot_slot {
        for id in &plan.targeted {
            let target = Target::Launch(id.clone());
            let fetched = last.get(&target).copied();
            let base = if fetched.is_none() { now } else { slot };
            offer((hold(&target, base), 1, fetched), target);
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
        assert_eq!(p.feed_interval, STALENESS_CEILING, "events slow to the ceiling");
        // 80 % of 15 is 12 an hour; 3 event polls leave 9 for the launches feed.
        assert_eq!(p.hot_interval, Some(Duration::from_secs(400)));
        assert!(p.targeted.is_empty(), "the launches feed lists a launch in its window");
        assert_eq!(p.lift_offs, [t(31), t(40)]);
        assert_eq!(p.valid_until, Some(t(90)), "replan when `a` leaves its window");
        let uniform = plan(Strategy::Uniform, 15, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!((uniform.hot_interval, uniform.feed_interval), (None, Duration::from_secs(600)));
    }

    #[test]
    fn a_larger_budget_scales_every_rate() {
        // 4x the anonymous budget: events every 5 min, the launches feed 36
        // times an hour.
        let p = plan(Strategy::FollowTheNews, 60, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.feed_interval, Duration::from_secs(300));
        assert_eq!(p.hot_interval, Some(Duration::from_secs(100)));
        let p = plan(Strategy::FollowTheNews, 300, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, Some(FLOOR), "the floor caps the hot rate");
        assert_eq!(p.feed_interval, FLOOR, "what the floor leaves goes to events");
    }

    #[test]
    fn a_tiny_budget_keeps_the_uniform_plan() {
        let p = plan(Strategy::FollowTheNews, 4, &FEEDS, &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, None);
        assert_eq!(p.feed_interval, uniform_interval(4, 2));
        let p = plan(Strategy::FollowTheNews, 15, &[Feed::Events], &[launch("a", 30)], t(0));
        assert_eq!(p.hot_interval, None, "launches not polled: nothing to favour");
    }

    /// Walks the schedule from `t(0)` for `hours`, sending as soon as due
    /// and the ledger allows, plus one extra request (a retry, a sweep
    /// page) at 20 past each hour. Returns the times each target was
    /// fetched and how often the ledger held a planned request back.
    fn walk(p: &Plan, hours: i64) -> (HashMap<Target, Vec<DateTime<Utc>>>, usize) {
        let mut budget = crate::budget::Budget::new(15, []);
        let (mut last, mut held_back) = (LastFetch::new(), 0);
        let mut sent: HashMap<Target, Vec<DateTime<Utc>>> = HashMap::new();
        let mut now = t(0);
        let mut extra = t(20);
        loop {
            let (target, due) = next(p, &FEEDS, &last, &Held::new(), now).unwrap();
            if extra <= due.max(now) {
                now = budget.next_slot(extra.max(now));
                budget.record(now);
                extra += chrono::Duration::hours(1);
                continue;
            }
            let slot = budget.next_slot(due.max(now));
            held_back += usize::from(slot > due.max(now));
            now = slot;
            if now >= t(hours * 60) {
                return (sent, held_back);
            }
            budget.record(now);
            sent.entry(target.clone()).or_default().push(now);
            last.insert(target, now);
        }
    }

    #[test]
    fn hot_launches_ride_the_feed() {
        // Two launches lifting off within the hour, 3 hours of hot plan.
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 30), launch("b", 75)], t(0));
        assert_eq!(p.hot, ["a", "b"]);
        let (sent, _) = walk(&p, 3);
        assert!(
            sent.keys().all(|t| matches!(t, Target::Feed(_))),
            "one incremental poll serves both: no targeted query {:?}",
            sent.keys().collect::<Vec<_>>()
        );
        let events = &sent[&Target::Feed(Feed::Events)];
        assert!(events.windows(2).all(|w| w[1] - w[0] <= chrono::Duration::minutes(20)), "{events:?}");
        let feed = &sent[&Target::Feed(Feed::Launches)];
        let every = chrono::Duration::from_std(p.hot_interval.unwrap()).unwrap();
        assert!(feed.windows(2).all(|w| w[1] - w[0] <= every), "{feed:?}");
    }

    #[test]
    fn hot_windows_keep_the_reserve() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 30)], t(0));
        let (sent, held_back) = walk(&p, 3);
        let feed = &sent[&Target::Feed(Feed::Launches)];
        for moment in [t(31), t(40)] {
            assert!(feed.contains(&moment), "a look just after lift-off at {moment}: {feed:?}");
        }
        // A retry or a sweep page each hour never pushes a planned request
        // late: the plan leaves the ledger room for it.
        assert_eq!(held_back, 0);
    }

    #[test]
    fn a_launch_the_feed_may_no_longer_list_gets_targeted_queries() {
        let flying = LaunchInfo { status: Some(status::IN_FLIGHT), ..launch("a", -90) };
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[flying, launch("b", 30)], t(0));
        assert_eq!(p.hot, ["a", "b"]);
        assert_eq!(p.targeted, ["a"], "in flight past T+1h: it may have left the upcoming list");
        let mut last = LastFetch::new();
        last.insert(Target::Feed(Feed::Events), t(0));
        last.insert(Target::Feed(Feed::Launches), t(0));
        assert_eq!(next(&p, &FEEDS, &last, &Held::new(), t(0)), Some((Target::Launch("a".into()), t(0))));
        last.insert(Target::Launch("a".into()), t(1));
        let every = chrono::Duration::from_std(p.hot_interval.unwrap()).unwrap();
        // They take turns at one rate: now the feed, fetched longest ago.
        assert_eq!(next(&p, &FEEDS, &last, &Held::new(), t(1)), Some((Target::Feed(Feed::Launches), t(1) + every)));
    }

    #[test]
    fn a_held_target_waits_and_others_go_first() {
        let p = plan(Strategy::FollowTheNews, 15, &FEEDS, &[launch("a", 300)], t(180));
        let mut last = LastFetch::new();
        last.insert(Target::Feed(Feed::Events), t(180));
        last.insert(Target::Feed(Feed::Launches), t(180));
        let mut held = Held::new();
        held.insert(Target::Feed(Feed::Launches), t(210));
        let (target, due) = next(&p, &FEEDS, &last, &held, t(180)).unwrap();
        assert_eq!((target, due), (Target::Feed(Feed::Events), t(200)), "events do not wait for a failing feed");
        last.insert(Target::Feed(Feed::Events), t(200));
        assert_eq!(next(&p, &FEEDS, &last, &held, t(200)), Some((Target::Feed(Feed::Launches), t(210))));
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
