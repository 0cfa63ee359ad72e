//! The shapes serde reads from `config.toml`, before validation. Scalars
//! with an obvious type are typed here so a wrong type is reported with its
//! key path; lists and values that need per-element paths or their own
//! wording stay `toml::Value` and are checked in `validate`. Every struct
//! denies unknown keys, which `diagnostics` turns into "did you mean".

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;
use toml::Value;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) ll2: RawLl2,
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) alerts: RawAlerts,
    #[serde(default)]
    pub(super) telegram: RawTelegram,
    #[serde(default)]
    pub(super) discord: RawDiscord,
    #[serde(default)]
    pub(super) webhook: RawWebhook,
    #[serde(default)]
    pub(super) ntfy: RawNtfy,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) delivery: RawDelivery,
    #[serde(default)]
    pub(super) watch: Vec<RawWatch>,
    #[serde(default)]
    pub(super) news: RawNews,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNews {
    pub(super) base_url: Option<String>,
    pub(super) requests_per_hour: Option<i64>,
    pub(super) enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLl2 {
    pub(super) base_url: Option<String>,
    pub(super) api_key: Option<String>,
    pub(super) requests_per_hour: Option<i64>,
    pub(super) feeds: Option<Vec<Value>>,
    pub(super) resweep_interval: Option<Value>,
    pub(super) timeout: Option<Value>,
    pub(super) max_body_bytes: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<String>,
    pub(super) retention: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub(super) on_first_sync: Option<bool>,
    pub(super) reminders: Option<Value>,
    pub(super) timezone: Option<String>,
    pub(super) reminder_grace: Option<Value>,
    pub(super) schedule_horizon: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelegram {
    pub(super) token: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) paid_broadcast: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscord {
    pub(super) token: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) guild_id: Option<Value>,
    pub(super) public_key: Option<String>,
    pub(super) events_window: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) secret: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNtfy {
    pub(super) token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) format: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDelivery {
    pub(super) max_age: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<String>,
    pub(super) health_max_age: Option<Value>,
    pub(super) public_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    pub(super) name: Option<String>,
    pub(super) to: Option<Vec<Value>>,
    pub(super) kinds: Option<Vec<Value>>,
    pub(super) types: Option<Vec<Value>>,
    pub(super) agencies: Option<Vec<Value>>,
    pub(super) programs: Option<Vec<Value>>,
    pub(super) exclude_types: Option<Vec<Value>>,
    pub(super) exclude_agencies: Option<Vec<Value>>,
    pub(super) exclude_programs: Option<Vec<Value>>,
    pub(super) alerts: Option<Vec<Value>>,
    pub(super) timezone: Option<String>,
    pub(super) reminders: Option<Value>,
    pub(super) schedule_horizon: Option<Value>,
    pub(super) mentions: Option<Vec<Value>>,
    pub(super) quiet_hours: Option<Value>,
    pub(super) silent: Option<Vec<Value>>,
    pub(super) style: Option<Value>,
    pub(super) digest: Option<Value>,
}

/// The keys allowed in the table at `path`, as `deny_unknown_fields` checks
/// them; `None` for a path that is no table of the config.
pub(super) fn keys_of(path: &[Segment]) -> Option<&'static [&'static str]> {
    Some(match path {
        [] => field_names::<RawConfig>(),
        [Segment::Map { key }] => match key.as_str() {
            "ll2" => field_names::<RawLl2>(),
            "store" => field_names::<RawStore>(),
            "alerts" => field_names::<RawAlerts>(),
            "telegram" => field_names::<RawTelegram>(),
            "discord" => field_names::<RawDiscord>(),
            "webhook" => field_names::<RawWebhook>(),
            "ntfy" => field_names::<RawNtfy>(),
            "log" => field_names::<RawLog>(),
            "server" => field_names::<RawServer>(),
            "delivery" => field_names::<RawDelivery>(),
            "news" => field_names::<RawNews>(),
            _ => return None,
        },
        [Segment::Map { key }, Segment::Seq { .. }] if key == "watch" => field_names::<RawWatch>(),
        _ => return None,
    })
}

/// The field names serde's derive generated for `T`, read by asking `T` to
/// deserialize itself from a probe that only records them. The derive keeps
/// the list private; this way the "did you mean" candidates cannot drift
/// from the structs above.
fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always errs: it only records the list.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_structs() {
        assert_eq!(keys_of(&[]).unwrap()[0], "ll2");
        assert!(keys_of(&[Segment::Map { key: "ll2".into() }]).unwrap().contains(&"requests_per_hour"));
        let watch = [Segment::Map { key: "watch".into() }, Segment::Seq { index: 3 }];
        assert!(keys_of(&watch).unwrap().contains(&"exclude_programs"));
        assert_eq!(keys_of(&[Segment::Map { key: "nope".into() }]), None);
    }
}
