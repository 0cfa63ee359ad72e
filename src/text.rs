//! The one text clipper: shortens text for a field with a length limit,
//! marking the cut with `…`. Every length-limited text (Discord fields and
//! replies, button labels, toasts, log snippets of server text) is cut
//! here, so a cut never splits a character the reader sees in two. It must
//! not know any platform's limits or markup: callers pass the limit, and a
//! caller whose markup needs care at the cut says so through
//! [`clip_with`].
//!
//! Grapheme-safe without a Unicode segmentation table (the
//! `unicode-segmentation` crate is not a dependency, and the cut only has
//! to avoid the few ways a visible character spans several `char`s): the
//! cut backs off so it never falls before a combining mark, a variation
//! selector, an emoji modifier or tag, or after a zero-width joiner, nor
//! between the two halves of a flag. Lengths are in `char`s, the unit the
//! platforms' limits count.

use std::borrow::Cow;

/// The mark a cut ends with; it counts within the limit.
pub(crate) const ELLIPSIS: char = '…';

/// `text` cut to at most `max_chars` characters, the last being `…` when
/// anything was cut; borrowed when it fits. The cut never splits a
/// grapheme cluster (see the module doc), so it may keep fewer.
pub(crate) fn clip(text: &str, max_chars: usize) -> Cow<'_, str> {
    clip_with(text, max_chars, |head| head)
}

/// [`clip`], with `tidy` given the kept head before `…` is added: it may
/// shorten it further (end at a word, drop a dangling escape), never
/// lengthen it.
pub(crate) fn clip_with<'a>(text: &'a str, max_chars: usize, tidy: impl FnOnce(&'a str) -> &'a str) -> Cow<'a, str> {
    clip_by(text, max_chars, |_| 1, tidy)
}

/// [`clip_with`] for a limit in other units than characters: `weight`
/// says what each character costs (Telegram counts UTF-16 units of the
/// escaped text), `max` is the most the result may cost, `…` included.
pub(crate) fn clip_by<'a>(
    text: &'a str,
    max: usize,
    weight: impl Fn(char) -> usize,
    tidy: impl FnOnce(&'a str) -> &'a str,
) -> Cow<'a, str> {
    // Stops at the first character past `max`: a long text is not walked whole.
    let fits = text.chars().try_fold(0usize, |used, c| Some(used + weight(c)).filter(|u| *u <= max)).is_some();
    if fits {
        return Cow::Borrowed(text);
    }
    let Some(room) = max.checked_sub(weight(ELLIPSIS)) else {
        return Cow::Borrowed("");
    };
    let mut used = 0;
    let cut = text
        .char_indices()
        .find(|(_, c)| {
            used += weight(*c);
            used > room
        })
        .map_or(text.len(), |(i, _)| i);
    let head = tidy(&text[..cluster_boundary(text, cut)]);
    let mut out = String::with_capacity(head.len() + ELLIPSIS.len_utf8());
    out.push_str(head);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// The largest index `<= at` where `text` can be cut without splitting a
/// visible character.
fn cluster_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 {
        let before = text[..at].chars().next_back();
        let after = text[at..].chars().next();
        let splits = after.is_some_and(extends) || before == Some(ZWJ) || splits_flag(text, at);
        if !splits {
            break;
        }
        at = text[..at].char_indices().next_back().map_or(0, |(i, _)| i);
    }
    at
}

/// Zero-width joiner: glues emoji into one (👨‍👩‍👧).
const ZWJ: char = '\u{200D}';

/// Whether `c` belongs to the character before it: combining marks,
/// variation selectors, emoji skin-tone modifiers, tags, and the joiner.
fn extends(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}'
        | ZWJ)
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Whether `at` falls inside a flag: regional indicators pair up from the
/// start of their run, so an odd count before `at` splits a pair.
fn splits_flag(text: &str, at: usize) -> bool {
    let after = text[at..].chars().next().is_some_and(is_regional_indicator);
    let run = text[..at].chars().rev().take_while(|c| is_regional_indicator(*c)).count();
    after && run % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_borrowed_whole() {
        assert!(matches!(clip("hello", 5), Cow::Borrowed("hello")), "exact fit");
        assert!(matches!(clip("hello", 9), Cow::Borrowed("hello")));
        assert!(matches!(clip("", 0), Cow::Borrowed("")));
    }

    #[test]
    fn the_ellipsis_counts_within_the_limit() {
        assert_eq!(clip("hello world", 6), "hello…");
        assert_eq!(clip("hello", 4), "hel…");
        assert_eq!(clip("éééééé", 3), "éé…", "characters, not bytes");
        assert_eq!(clip("hello", 1), "…");
        assert_eq!(clip("hello", 0), "");
    }

    #[test]
    fn emoji_are_never_split() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(clip(&format!("ab{family}cd"), 5), "ab…", "a ZWJ sequence goes whole");
        assert_eq!(clip("a👍🏽b", 3), "a…", "a skin tone stays with its emoji");
        assert_eq!(clip("a👍🏽bc", 4), "a👍🏽…");
        assert_eq!(clip("🇩🇪🇫🇷x", 3), "🇩🇪…", "flags pair up");
        assert_eq!(clip("🇩🇪🇫🇷x", 4), "🇩🇪…");
        assert_eq!(clip("❤\u{FE0F}x", 2), "…", "a variation selector stays with its base");
    }

    #[test]
    fn combining_marks_stay_with_their_letter() {
        let text = "cafe\u{301} au lait"; // é as e + combining acute
        assert_eq!(clip(text, 5), "caf…");
        assert_eq!(clip(text, 6), "cafe\u{301}…");
    }

    #[test]
    fn a_limit_in_other_units_weighs_each_character() {
        let weight = |c: char| if c == '<' { 4 } else { 1 };
        assert!(matches!(clip_by("a<b", 6, weight, |h| h), Cow::Borrowed("a<b")), "exact fit");
        assert_eq!(clip_by("a<b<c", 6, weight, |h| h), "a<…");
        assert_eq!(clip_by("a<b<c", 5, weight, |h| h), "a…", "a heavy character goes whole or not at all");
        assert_eq!(clip_by("a<b", 0, weight, |h| h), "");
    }

    #[test]
    fn tidy_may_shorten_the_head() {
        assert_eq!(clip_with("hello world", 9, str::trim_end), "hello wo…");
        assert_eq!(clip_with("hello world", 7, str::trim_end), "hello…");
        assert_eq!(clip_with("hello", 9, |_| "never called"), "hello");
    }
}
