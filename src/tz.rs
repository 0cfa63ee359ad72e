//! Timezone names as users write them, in `config.toml` and in chat
//! commands: the one lookup of an IANA name, ignoring case, and the known
//! names close to an unknown one. Pure; each caller words its own error.

use chrono_tz::Tz;

/// A name that is no IANA timezone, with up to five known names that look
/// close (same city), sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownTimezone {
    pub(crate) close: Vec<&'static str>,
}

/// The timezone `name` names, e.g. `Europe/Berlin` or `europe/berlin`.
pub(crate) fn parse_timezone(name: &str) -> Result<Tz, UnknownTimezone> {
    let wanted = name.trim();
    if let Ok(tz) = wanted.parse::<Tz>() {
        return Ok(tz);
    }
    // IANA names are unique ignoring case, so "europe/berlin" is unambiguous.
    if let Some(tz) = chrono_tz::TZ_VARIANTS.iter().find(|t| t.name().eq_ignore_ascii_case(wanted)) {
        return Ok(*tz);
    }
    Err(UnknownTimezone { close: close_names(wanted) })
}

/// Names whose city contains the wanted city or is contained in it: users
/// often write only the city ("Berlin", "new york").
fn close_names(wanted: &str) -> Vec<&'static str> {
    let key = wanted.to_lowercase().replace(' ', "_");
    let city = key.rsplit('/').next().unwrap_or(&key).to_string();
    let mut close: Vec<&'static str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|t| t.name())
        .filter(|n| {
            let l = n.to_lowercase();
            city.len() >= 3 && (l.contains(&city) || l.rsplit('/').next().is_some_and(|c| city.contains(c)))
        })
        .take(5)
        .collect();
    close.sort_unstable();
    close
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ignore_case_and_unknown_ones_get_close_names() {
        assert_eq!(parse_timezone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parse_timezone(" europe/berlin "), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parse_timezone("utc"), Ok(Tz::UTC));
        assert_eq!(parse_timezone("Berlin").unwrap_err().close, ["Europe/Berlin"]);
        assert!(parse_timezone("new york").unwrap_err().close.contains(&"America/New_York"));
        assert!(parse_timezone("Mars/Olympus").unwrap_err().close.is_empty());
        assert!(parse_timezone("").unwrap_err().close.is_empty());
    }
}
