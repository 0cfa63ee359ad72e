//! The subscription model: who gets which alerts, and the filter that
//! selects them, checked against one item at a time. The index (`index`)
//! answers the same question for all subscriptions at once and must agree
//! with `Subscription::matches`.

use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{DigestSchedule, QuietHours};
use crate::detect::Alert;
use crate::item::{Item, Named};
use crate::types::{AlertKind, Destination, ItemKind, Mention, Style};

/// Stable id of a subscription in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubId(pub u64);

/// Who made a subscription. Config watches are reconciled by name at start-up
/// and never touch subscriptions made in chats, and the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum Origin {
    /// A `[[watch]]` of config.toml, by its name.
    Config {
        /// The watch's `name`, unique in the config.
        watch: String,
    },
    /// A chat command in the destination's chat or channel.
    Chat,
}

/// What a subscription selects. Values are kept as the user wrote them.
///
/// An empty include list selects everything in its dimension; a value
/// matches an LL2 id, name or abbreviation, trimmed and case-insensitive.
/// An item passes when every non-empty include list has a match and no
/// exclude list does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    /// Launches, events, or both (empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<ItemKind>,
    /// Event types or launch mission types; "launch" and "event" select a
    /// whole kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Agencies (launch provider, mission agencies, event agencies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<String>,
    /// LL2 programs (Artemis, Starlink…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    /// Types that reject an item even when the rest selects it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_types: Vec<String>,
    /// Agencies that reject an item even when the rest selects it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_agencies: Vec<String>,
    /// Programs that reject an item even when the rest selects it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_programs: Vec<String>,
}

/// A subscription: where alerts go, which ones, and how to present them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its key in the store.
    pub id: SubId,
    /// The chat, channel or console its alerts go to.
    pub destination: Destination,
    /// Which items it selects.
    pub filter: Filter,
    /// The alert kinds it wants; reminders also need `reminders`.
    pub alerts: Vec<AlertKind>,
    /// T-minus reminder offsets, largest first. Empty: no reminders.
    #[serde(with = "crate::types::duration_secs")]
    pub reminders: Vec<Duration>,
    /// The zone dates are shown in.
    pub timezone: Tz,
    /// Schedule changes alert only while the old or the new date is this
    /// close; `None`: always (records written before the setting existed).
    #[serde(default, with = "crate::types::opt_duration_secs", skip_serializing_if = "Option::is_none")]
    pub schedule_horizon: Option<Duration>,
    /// Discord roles and users its alerts ping; empty elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Mention>,
    /// Local span (in `timezone`) in which every message goes out without
    /// a sound; nothing is dropped or held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Alert kinds always sent without a sound (see `loudness::is_silent`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silent: Vec<AlertKind>,
    /// Card or messages on launch day (a config watch's `style`; a chat's
    /// own style is in its chat settings, see `deliver::card`).
    #[serde(default, skip_serializing_if = "Style::is_messages")]
    pub style: Style,
    /// When a digest of what it selects is sent (`crate::digest`); `None`:
    /// no digest. Independent of `alerts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSchedule>,
    /// False while the destination refuses delivery (bot blocked or
    /// removed, channel gone): kept, so it resumes when the bot is let back
    /// in, but routes nothing meanwhile.
    pub enabled: bool,
    /// Config watch or chat command: decides who may change or remove it.
    pub origin: Origin,
}

impl Subscription {
    /// An enabled subscription to every alert kind, without reminders, with
    /// times in UTC; the `with_*` methods set the rest.
    pub fn new(id: SubId, destination: Destination, filter: Filter, origin: Origin) -> Subscription {
        Subscription {
            id,
            destination,
            filter,
            alerts: AlertKind::ALL.to_vec(),
            reminders: Vec::new(),
            timezone: chrono_tz::UTC,
            schedule_horizon: None,
            mentions: Vec::new(),
            quiet_hours: None,
            silent: Vec::new(),
            style: Style::Messages,
            digest: None,
            enabled: true,
            origin,
        }
    }

    /// The alert kinds to send, in place of all of them.
    pub fn with_alerts(self, alerts: Vec<AlertKind>) -> Subscription {
        Subscription { alerts, ..self }
    }

    /// T-minus reminder offsets, largest first.
    pub fn with_reminders(self, reminders: Vec<Duration>) -> Subscription {
        Subscription { reminders, ..self }
    }

    /// The zone dates are shown in, in place of UTC.
    pub fn with_timezone(self, timezone: Tz) -> Subscription {
        Subscription { timezone, ..self }
    }

    /// `None`: schedule changes alert whatever the date.
    pub(crate) fn with_schedule_horizon(self, schedule_horizon: Option<Duration>) -> Subscription {
        Subscription { schedule_horizon, ..self }
    }

    /// Who its Discord alerts ping.
    pub(crate) fn with_mentions(self, mentions: Vec<Mention>) -> Subscription {
        Subscription { mentions, ..self }
    }

    /// Quiet hours and the kinds sent without a sound.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_loudness(self, quiet_hours: Option<QuietHours>, silent: Vec<AlertKind>) -> Subscription {
        Subscription { quiet_hours, silent, ..self }
    }

    /// Its launch-day style ([`Style`]).
    pub(crate) fn with_style(self, style: Style) -> Subscription {
        Subscription { style, ..self }
    }

    /// The digest schedule; `None`: no digest.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_digest(self, digest: Option<DigestSchedule>) -> Subscription {
        Subscription { digest, ..self }
    }

    /// Whether it is enabled and takes alerts of `kind`, whatever the item.
    pub(crate) fn wants(&self, kind: AlertKind) -> bool {
        self.enabled && self.alerts.contains(&kind)
    }

    /// Full check of one subscription against one item and alert kind; the
    /// index uses it to confirm candidates, tests use it as the reference.
    pub fn matches(&self, item: &Item, kind: AlertKind) -> bool {
        self.wants(kind) && self.filter.matches(item)
    }
}

impl Subscription {
    /// What this subscription hears of `alert`: the changes of the kinds
    /// it wants within its schedule horizon (`Alert::seen_by`); `None` when
    /// none, or when it is disabled. The filter is the router's business:
    /// an alert routed here stays routed when the filter changes later.
    pub(crate) fn sees(&self, alert: &Alert) -> Option<Alert> {
        if !self.enabled {
            return None;
        }
        alert.seen_by(&self.alerts, self.schedule_horizon)
    }

    /// Full check against one alert: the reference `Index::route_alert`
    /// must agree with.
    #[cfg(test)]
    pub(crate) fn routes(&self, alert: &Alert) -> bool {
        self.filter.matches(&alert.item) && self.sees(alert).is_some()
    }
}

impl Filter {
    /// Whether `item` passes the filter (see [`Filter`]).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn matches(&self, item: &Item) -> bool {
        let dims = Dims::of(item);
        let any = |wanted: &[String], have: &[String]| wanted.iter().any(|w| have.iter().any(|h| *h == normalize(w)));
        (self.kinds.is_empty() || self.kinds.contains(&item.kind()))
            && (self.types.is_empty() || any(&self.types, &dims.types))
            && (self.agencies.is_empty() || any(&self.agencies, &dims.agencies))
            && (self.programs.is_empty() || any(&self.programs, &dims.programs))
            && !any(&self.exclude_types, &dims.types)
            && !any(&self.exclude_agencies, &dims.agencies)
            && !any(&self.exclude_programs, &dims.programs)
    }

    /// The same filter with values normalized and sorted, so two filters
    /// that select the same items compare equal.
    pub(crate) fn normalized(&self) -> Filter {
        let norm = |v: &[String]| {
            let mut out: Vec<String> = v.iter().map(|s| normalize(s)).collect();
            out.sort();
            out.dedup();
            out
        };
        let mut kinds = self.kinds.clone();
        kinds.sort();
        kinds.dedup();
        Filter {
            kinds,
            types: norm(&self.types),
            agencies: norm(&self.agencies),
            programs: norm(&self.programs),
            exclude_types: norm(&self.exclude_types),
            exclude_agencies: norm(&self.exclude_agencies),
            exclude_programs: norm(&self.exclude_programs),
        }
    }

    /// Whether the filter selects every item (no list set).
    pub(crate) fn is_everything(&self) -> bool {
        *self == Filter::default()
    }
}

/// How user values and LL2 names are compared: trimmed, lower case.
pub(crate) fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The tokens an item offers per dimension: each id, name and abbreviation.
pub(super) struct Dims {
    pub(super) kind: String,
    pub(super) types: Vec<String>,
    pub(super) agencies: Vec<String>,
    pub(super) programs: Vec<String>,
}

impl Dims {
    pub(super) fn of(item: &Item) -> Dims {
        let mut types = tokens(item.item_type.iter());
        // "launch" selects every launch and "event" every event, so
        // `/subscribe type launch` means what people expect.
        types.push(item.kind().as_str().to_string());
        Dims {
            kind: item.kind().as_str().to_string(),
            types,
            agencies: tokens(item.agencies.iter()),
            programs: tokens(item.programs.iter()),
        }
    }
}

fn tokens<'a>(named: impl Iterator<Item = &'a Named>) -> Vec<String> {
    let mut out = Vec::new();
    for n in named {
        if let Some(id) = n.id {
            out.push(id.to_string());
        }
        out.push(normalize(&n.name));
        if let Some(a) = n.abbrev.as_deref().filter(|a| !a.trim().is_empty()) {
            out.push(normalize(a));
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::rules::Index;

    /// Everything to the console.
    pub(in crate::rules) fn sub(id: u64, filter: Filter) -> Subscription {
        Subscription::new(SubId(id), Destination::Console, filter, Origin::Chat)
    }

    /// The sample launch in the Starlink program (id 25).
    pub(in crate::rules) fn starlink() -> Item {
        let mut item = sample_launch();
        item.programs = vec![Named::new(Some(25), "Starlink", None)];
        item
    }

    #[test]
    fn dimensions_ids_names_and_exclusions() {
        let item = starlink();
        let cases: Vec<(Filter, bool)> = vec![
            (Filter::default(), true),
            (Filter { agencies: vec!["SpaceX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["spacex".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["121".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["SpX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["NASA".into()], ..Default::default() }, false),
            (Filter { agencies: vec!["NASA".into(), "SpaceX".into()], ..Default::default() }, true),
            (Filter { types: vec!["launch".into()], ..Default::default() }, true),
            (Filter { types: vec!["Communications".into()], ..Default::default() }, true),
            (Filter { types: vec!["Flyby".into()], ..Default::default() }, false),
            (Filter { kinds: vec![ItemKind::Event], ..Default::default() }, false),
            (Filter { kinds: vec![ItemKind::Launch], agencies: vec!["SpaceX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["SpaceX".into()], programs: vec!["Artemis".into()], ..Default::default() }, false),
            (
                Filter {
                    agencies: vec!["SpaceX".into()],
                    exclude_programs: vec!["Starlink".into()],
                    ..Default::default()
                },
                false,
            ),
            (Filter { exclude_programs: vec!["25".into()], ..Default::default() }, false),
            (Filter { exclude_agencies: vec!["NASA".into()], ..Default::default() }, true),
        ];
        let index = Index::from_subscriptions(
            cases.iter().enumerate().map(|(i, (f, _))| sub(i as u64, f.clone())).collect::<Vec<_>>().iter(),
        );
        let routed = index.route(&item, AlertKind::Status);
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(f.matches(&item), *want, "filter {f:?}");
            assert_eq!(routed.contains(&SubId(i as u64)), *want, "index for {f:?}");
        }
    }
}
