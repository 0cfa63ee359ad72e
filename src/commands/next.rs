//! `/next` as pages: which items a `/next` lists, one page of them as
//! text with its buttons (◀ Earlier, 🔄, Later ▶ and one ℹ️ per entry),
//! one item's full card (the alert renderer's `render::Message`, so the
//! card looks like the chat's alerts) with ◀ Back, and what a press does.
//! Front-ends send the page, edit the message in place with what a press
//! returns and show the toast. It must not talk to a platform nor write
//! anything: paging only reads.
//!
//! Callback data is `n:<check>:<action>:<query>`, at most
//! [`MAX_DATA_LEN`] bytes. `<query>` is the `/next` arguments written out
//! again (`5 agency 121 -program 25`: the count always, directory ids for
//! names the directory knows, as they are shorter) and is read back with
//! the same parser as typed text. `<action>` is `p<offset>` (show the page
//! from there), `r<offset>` (the same, as 🔄) or `d<index>.<item>` (the card
//! of the item at that position, `<item>` a 4-digit checksum of its id, so
//! a list that moved meanwhile is noticed). `<check>` is a checksum of the
//! rest: data that was cut or made up is not acted on. None of it is a
//! secret: the data names public items and a filter, and the chat is always
//! the one the press came from (without a filter, the presser's chat's own
//! subscriptions decide). A query too long for the data gets a page without
//! buttons and a line saying how to see more; nothing is stored per message.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::context::{CommandContext, Services, chat_settings, unknown_names};
use super::keyboard::{Key, Keyboard, MAX_DATA_LEN, clip_toast, fnv1a};
use super::parse::{NextQuery, parse_next};
use crate::detect::{Alert, AlertId, Change};
use crate::directory::{Dimension, Directory};
use crate::item::{Item, status};
use crate::render::{self, format_tminus, format_when};
use crate::rules::{Filter, Origin};
use crate::store::StoreError;
use crate::types::Destination;

/// Whether `/next` still lists `item` at `now`: its date is ahead, or it is
/// on hold or in flight, which a launch can be past its NET (a hold at
/// T-30 s, a launch that lifted off): people following it want it listed
/// until its result is in.
fn not_flown(item: &Item, now: DateTime<Utc>) -> bool {
    let held_or_flying =
        item.status.as_ref().and_then(|s| s.id).is_some_and(|id| matches!(id, status::HOLD | status::IN_FLIGHT));
    item.when.is_some_and(|w| w > now || held_or_flying)
}

/// One list line (`/next`, the digest): name, date in `tz`, countdown,
/// status. `discord`: the countdown as a `<t:…:R>` timestamp, which each
/// reader's client keeps current.
pub(crate) fn entry(item: &Item, tz: Tz, now: DateTime<Utc>, discord: bool) -> String {
    let when = item.when.map(|w| format_when(w, item.precision.as_ref(), tz)).unwrap_or_default();
    let exact = item.precision.is_none_or(|p| p.to_the_hour());
    let tminus = match (item.when, exact) {
        (Some(w), true) if discord => format!(" (<t:{}:R>)", w.timestamp()),
        (Some(w), true) => format!(" ({})", format_tminus(w, now)),
        _ => String::new(),
    };
    let status = item.status.as_ref().map(|s| format!(" [{}]", s.short())).unwrap_or_default();
    format!("{} — {when}{tminus}{status}", item.name)
}

/// Which items a `/next` lists.
type Wanted<'a> = Box<dyn Fn(&Item) -> bool + 'a>;

/// Prefix of every `/next` button's data.
const PREFIX: &str = "n:";
/// Highest page offset accepted in data: far more than LL2 lists upcoming.
const MAX_OFFSET: usize = 999;
/// Details buttons per row (a row of Discord components holds five).
const PER_ROW: usize = 5;

/// What a message shows: a page of the list, or one item's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum View {
    /// A page of upcoming items as plain text.
    Page {
        /// The page, plain text.
        text: String,
        /// Navigation and details buttons (empty when nothing can be
        /// paged).
        keyboard: Keyboard,
    },
    /// One item's full card.
    Card {
        /// The item as the alert renderers draw it.
        message: Box<render::Message>,
        /// ◀ Back to the page it came from.
        keyboard: Keyboard,
    },
}

/// What to answer a press with: a toast and what the message shows now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NextPressed {
    /// Short text the platform shows the presser.
    pub(crate) toast: String,
    /// The message's new content.
    pub(crate) view: View,
}

/// Whether callback data is a `/next` button's.
pub(crate) fn is_next_data(data: &str) -> bool {
    data.starts_with(PREFIX)
}

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The page starting at this offset.
    Page(usize),
    /// The same page again, fresh.
    Refresh(usize),
    /// The card of the item at this index, whose id checksums to `stamp`.
    Details(usize, u16),
}

impl Action {
    fn encode(self) -> String {
        match self {
            Action::Page(o) => format!("p{o}"),
            Action::Refresh(o) => format!("r{o}"),
            Action::Details(i, stamp) => format!("d{i}.{stamp:04x}"),
        }
    }

    fn decode(s: &str) -> Option<Action> {
        let (tag, rest) = s.split_at_checked(1)?;
        let offset = |t: &str| t.parse::<usize>().ok().filter(|o| *o <= MAX_OFFSET && !t.starts_with('+'));
        match tag {
            "p" => offset(rest).map(Action::Page),
            "r" => offset(rest).map(Action::Refresh),
            "d" => {
                let (index, stamp) = rest.split_once('.')?;
                let stamp = (stamp.len() == 4).then(|| u16::from_str_radix(stamp, 16).ok()).flatten()?;
                Some(Action::Details(offset(index)?, stamp))
            }
            _ => None,
        }
    }
}

/// FNV-1a folded to 16 bits: enough to notice a cut, changed or made-up
/// string (not a secret).
fn check(text: &str) -> u16 {
    let h = fnv1a(text);
    ((h >> 16) ^ (h & 0xffff)) as u16
}

/// The data of a button: `n:<check>:<action>:<query>`.
fn data(action: Action, query: &str) -> String {
    let rest = format!("{}:{query}", action.encode());
    format!("{PREFIX}{:04x}:{rest}", check(&rest))
}

/// Reads data back: the action and the query text, or `None` for anything
/// this bot did not make.
fn decode(data: &str) -> Option<(Action, &str)> {
    if data.len() > MAX_DATA_LEN {
        return None;
    }
    let (sum, rest) = data.strip_prefix(PREFIX)?.split_once(':')?;
    if sum.len() != 4 || u16::from_str_radix(sum, 16).ok()? != check(rest) {
        return None;
    }
    let (action, query) = rest.split_once(':')?;
    Some((Action::decode(action)?, query))
}

/// The query as `/next` arguments, shortest form: names the directory
/// knows as their LL2 ids (filters match ids as well as names).
fn query_text(query: &NextQuery, directory: &Directory) -> String {
    let mut out = query.count.to_string();
    if let Some(name) = &query.name {
        out.push(' ');
        out.push_str(name);
        return out;
    }
    let f = &query.filter;
    for k in &f.kinds {
        out.push_str(&format!(" kind {k}"));
    }
    let dims: [(&str, Dimension, &Vec<String>); 6] = [
        ("agency", Dimension::Agency, &f.agencies),
        ("type", Dimension::Type, &f.types),
        ("program", Dimension::Program, &f.programs),
        ("-agency", Dimension::Agency, &f.exclude_agencies),
        ("-type", Dimension::Type, &f.exclude_types),
        ("-program", Dimension::Program, &f.exclude_programs),
    ];
    for (word, dim, values) in dims {
        for v in values {
            let short = directory.resolve(dim, v).and_then(|n| n.id).map(|id| id.to_string());
            out.push_str(&format!(" {word} {}", short.as_deref().unwrap_or(v)));
        }
    }
    out
}

/// Which items a `/next` lists and what to say when none is upcoming;
/// `Err`: a name the directory does not know, with suggestions.
fn selection<'a>(
    query: &NextQuery,
    ctx: &CommandContext,
    svc: &'a Services<'a>,
) -> Result<Result<(Wanted<'a>, &'static str), String>, StoreError> {
    let dir = svc.directory;
    if let Some(name) = &query.name {
        let by: Vec<Filter> = vec![
            Filter { agencies: vec![name.clone()], ..Filter::default() },
            Filter { programs: vec![name.clone()], ..Filter::default() },
            Filter { types: vec![name.clone()], ..Filter::default() },
        ];
        if !dir.is_empty() && by.iter().all(|f| !dir.unresolved(f).is_empty()) && name.parse::<i64>().is_err() {
            let mut hint: Vec<String> = Vec::new();
            for f in &by {
                for (dim, value) in dir.unresolved(f) {
                    hint.extend(dir.suggest(dim, &value, 3));
                }
            }
            hint.dedup();
            let mut problem = format!("I know no agency, program or type named {name:?}.");
            if !hint.is_empty() {
                problem.push_str(&format!(" Did you mean {}?", hint.join(", ")));
            }
            return Ok(Err(problem));
        }
        return Ok(Ok((
            Box::new(move |i| by.iter().any(|f| f.matches(i))),
            "Nothing upcoming by that name right now.",
        )));
    }
    if !query.filter.is_everything() {
        if let Some(problem) = unknown_names(&query.filter, dir) {
            return Ok(Err(problem));
        }
        let f = query.filter.clone();
        return Ok(Ok((Box::new(move |i| f.matches(i)), "Nothing upcoming matches that right now.")));
    }
    let subs: Vec<_> =
        svc.store.subscriptions_of(&ctx.destination)?.into_iter().filter(|s| s.origin == Origin::Chat).collect();
    Ok(Ok(if subs.is_empty() {
        (Box::new(|_| true), "Nothing upcoming right now.")
    } else {
        (
            Box::new(move |i| subs.iter().any(|s| s.enabled && s.filter.matches(i))),
            "Nothing upcoming matches this chat's subscriptions right now.",
        )
    }))
}

/// A query resolved for one chat at one moment: the upcoming items it
/// lists, soonest first, and how to show them.
struct Listing {
    items: Vec<Item>,
    empty: &'static str,
    /// The query as data, `None` when it does not fit a button.
    query: Option<String>,
    count: usize,
    tz: Tz,
    now: DateTime<Utc>,
    discord: bool,
}

/// Longest query text that leaves room for every action.
fn query_budget() -> usize {
    let longest = data(Action::Details(MAX_OFFSET, u16::MAX), "");
    MAX_DATA_LEN - longest.len()
}

impl Listing {
    fn load(
        query: &NextQuery,
        ctx: &CommandContext,
        svc: &Services<'_>,
    ) -> Result<Result<Listing, String>, StoreError> {
        let (wanted, empty) = match selection(query, ctx, svc)? {
            Ok(s) => s,
            Err(problem) => return Ok(Err(problem)),
        };
        let now = ctx.now;
        let mut items: Vec<Item> = svc.store.items()?.into_iter().filter(|i| not_flown(i, now) && wanted(i)).collect();
        items.sort_by_key(|i| i.when);
        let text = query_text(query, svc.directory);
        Ok(Ok(Listing {
            items,
            empty,
            query: (text.len() <= query_budget()).then_some(text),
            count: query.count.max(1),
            tz: chat_settings(&ctx.destination, svc)?.timezone,
            now,
            discord: matches!(ctx.destination, Destination::Discord(_)),
        }))
    }

    /// The offset of the last page (0 when everything fits one).
    fn last_page(&self) -> usize {
        self.items.len().saturating_sub(1) / self.count * self.count
    }

    /// The page from `offset` (clamped to the last page).
    fn page(&self, offset: usize) -> View {
        if self.items.is_empty() {
            let keyboard = match &self.query {
                Some(q) => vec![vec![key("🔄", Action::Refresh(0), q)]],
                None => Vec::new(),
            };
            return View::Page { text: self.empty.to_string(), keyboard };
        }
        let offset = offset.min(self.last_page());
        let shown = &self.items[offset..self.items.len().min(offset + self.count)];
        let mut text = String::from("Coming up:\n");
        for (n, item) in (offset + 1..).zip(shown) {
            text.push_str(&format!("{n}. {}\n", self.entry(item)));
        }
        let Some(q) = &self.query else {
            if self.items.len() > self.count {
                text.push_str(&format!(
                    "{} in all. This filter is too long for buttons: send /next with a larger count to see more.",
                    self.items.len()
                ));
            }
            return View::Page { text: text.trim_end().to_string(), keyboard: Vec::new() };
        };
        let mut nav = Vec::new();
        if offset > 0 {
            nav.push(key("◀ Earlier", Action::Page(offset.saturating_sub(self.count)), q));
        }
        nav.push(key("🔄", Action::Refresh(offset), q));
        if offset + self.count < self.items.len() {
            nav.push(key("Later ▶", Action::Page(offset + self.count), q));
        }
        let details: Vec<Key> = (offset..)
            .zip(shown)
            .map(|(i, item)| key(&format!("ℹ️ {}", i + 1), Action::Details(i, item_stamp(item)), q))
            .collect();
        let mut keyboard = vec![nav];
        keyboard.extend(details.chunks(PER_ROW).map(<[Key]>::to_vec));
        View::Page { text: text.trim_end().to_string(), keyboard }
    }

    fn entry(&self, item: &Item) -> String {
        entry(item, self.tz, self.now, self.discord)
    }

    /// The card of the item at `index`, with ◀ Back to its page.
    fn card(&self, index: usize) -> View {
        let item = &self.items[index];
        let alert = Alert::new(AlertId(0), item.clone(), vec![Change::New], self.now);
        let mut message = render::message(&alert, self.tz, self.now);
        message.emoji = "ℹ️";
        message.headline = format!("Coming up #{}", index + 1);
        let back = index / self.count * self.count;
        let keyboard = match &self.query {
            Some(q) => vec![vec![key("◀ Back", Action::Page(back), q)]],
            None => Vec::new(),
        };
        View::Card { message: Box::new(message), keyboard }
    }
}

fn key(label: &str, action: Action, query: &str) -> Key {
    Key { label: label.to_string(), data: data(action, query) }
}

/// The `/next` buttons under a digest listing `shown` (of `total` items,
/// `page` per `/next` page, soonest first): ℹ️ per listed item and, when
/// the list was cut, Later ▶ to the `/next` page after it. Their query is
/// the count alone, so a press pages this chat's own subscriptions (every
/// item in a chat without any), like a typed `/next`; a details press
/// follows its item by id wherever it sits in that list.
pub(crate) fn digest_keyboard(shown: &[&Item], total: usize, page: usize) -> Keyboard {
    let q = page.to_string();
    let mut keyboard = Vec::new();
    if total > shown.len() {
        keyboard.push(vec![key("Later ▶", Action::Page(shown.len()), &q)]);
    }
    let details: Vec<Key> = (0..)
        .zip(shown)
        .map(|(i, item)| key(&format!("ℹ️ {}", i + 1), Action::Details(i, item_stamp(item)), &q))
        .collect();
    keyboard.extend(details.chunks(PER_ROW).map(<[Key]>::to_vec));
    keyboard
}

/// A short checksum of an item's id, so a details button notices that
/// its position now holds another item.
fn item_stamp(item: &Item) -> u16 {
    check(&item.id.key())
}

/// The first page of a typed `/next`; `Err`: the reply to give instead
/// (a name the directory does not know). Like every command it ends a
/// pause of the chat (see `exec::execute`).
pub(crate) fn open(
    query: &NextQuery,
    ctx: &CommandContext,
    svc: &Services<'_>,
) -> Result<Result<View, String>, StoreError> {
    svc.subs.resume_from_chat(&ctx.destination)?;
    Ok(Listing::load(query, ctx, svc)?.map(|l| l.page(0)))
}

/// The text of the first page, for front-ends without buttons.
pub(super) fn text(
    query: &NextQuery,
    ctx: &CommandContext,
    svc: &Services<'_>,
) -> Result<Result<String, String>, StoreError> {
    Ok(open(query, ctx, svc)?.map(|view| match view {
        View::Page { text, .. } => text,
        View::Card { message, .. } => render::console(&message),
    }))
}

/// Runs a press of a `/next` button with `data` in the chat of `ctx`.
/// Never an error for stale or strange data: a toast and a fresh page.
pub(crate) fn press(data: &str, ctx: &CommandContext, svc: &Services<'_>) -> Result<NextPressed, StoreError> {
    let answer = |toast: &str, view: View| Ok(NextPressed { toast: clip_toast(toast), view });
    let fallback = |toast: &str| -> Result<NextPressed, StoreError> {
        let listing = Listing::load(&NextQuery::count(super::NEXT_DEFAULT), ctx, svc)?;
        let view = match listing {
            Ok(l) => l.page(0),
            Err(problem) => View::Page { text: problem, keyboard: Vec::new() },
        };
        answer(toast, view)
    };
    let Some((action, query)) = decode(data) else {
        return fallback("This button is not one I understand any more; here is what's coming up now.");
    };
    let listing = match parse_next(query).map(|q| Listing::load(&q, ctx, svc)) {
        Ok(Ok(Ok(listing))) => listing,
        Ok(Err(e)) => return Err(e),
        Ok(Ok(Err(problem))) => return fallback(&problem),
        Err(_) => return fallback("This button is not one I understand any more; here is what's coming up now."),
    };
    let past_end = |o: usize| o > 0 && o > listing.last_page();
    match action {
        Action::Page(o) | Action::Refresh(o) if past_end(o) => {
            answer("That page is gone; here is the last one.", listing.page(o))
        }
        Action::Page(o) => answer(&page_toast(&listing, o), listing.page(o)),
        Action::Refresh(o) => answer("🔄 Updated.", listing.page(o)),
        Action::Details(index, stamp) => {
            let same = listing.items.get(index).filter(|i| item_stamp(i) == stamp).map(|_| index);
            // The list moved (an item launched or slipped): follow the item.
            let found = same.or_else(|| listing.items.iter().position(|i| item_stamp(i) == stamp));
            match found {
                Some(i) => answer(&listing.items[i].name, listing.card(i)),
                None => answer(
                    "That one is no longer upcoming; here is the list now.",
                    listing.page(index / listing.count * listing.count),
                ),
            }
        }
    }
}

/// "Items 6–10 of 14".
fn page_toast(listing: &Listing, offset: usize) -> String {
    let total = listing.items.len();
    if total == 0 {
        return listing.empty.to_string();
    }
    let offset = offset.min(listing.last_page());
    format!("Items {}–{} of {total}", offset + 1, total.min(offset + listing.count))
}

#[cfg(test)]
#[path = "next_tests.rs"]
mod tests;
