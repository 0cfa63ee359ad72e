//! `webhook:URL`: tminus's own JSON, POSTed to any HTTP receiver (Home
//! Assistant, n8n, a script). The body is versioned ([`VERSION`], the
//! README documents every field) and built here from the alert as the
//! destination sees it; links come from `links.rs` through the rendered
//! message. With `[webhook] secret` set, the raw body is signed
//! (`X-Tminus-Signature-256: sha256=<hex HMAC-SHA256>`); every request
//! carries `X-Tminus-Delivery`, the same for every attempt at one outbox
//! entry (its alert and destination), so receivers can drop duplicates.
//! Silent alerts (quiet hours, silent kinds) say so in `"silent"`; what to
//! do with it is the receiver's choice.

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{HookClient, HookPost, HookSettings, SetupError, header_value, wrong_destination};
use crate::deliver::{AlertExtras, BoxFuture, SendError, Sender, Sent};
use crate::detect::{Alert, AlertId, Change};
use crate::item::Item;
use crate::render::{self, Message};
use crate::types::{Destination, Secret, format_duration};

/// The version of the JSON body; raised when a field changes meaning or
/// goes away (new fields keep it).
pub(crate) const VERSION: u32 = 1;

/// Header with the body's signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-tminus-signature-256";
/// Header with the delivery's stable id.
pub(crate) const DELIVERY_HEADER: &str = "x-tminus-delivery";

/// Posts the JSON body to `Destination::Webhook`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct WebhookSender {
    client: HookClient,
    secret: Secret,
}

impl WebhookSender {
    /// A sender signing with `secret` (empty: unsigned).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(secret: Secret, settings: HookSettings) -> Result<WebhookSender, SetupError> {
        Ok(WebhookSender { client: HookClient::new("webhook", &settings)?, secret })
    }
}

impl Sender for WebhookSender {
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::Webhook(url) = dest else { return Err(wrong_destination("webhook", dest)) };
            let body = serde_json::to_vec(&payload(msg, extras.alert, extras.silent))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let delivery = match extras.alert {
                Some(a) => delivery_id(a.id, dest),
                None => hex::encode(&Sha256::digest(&body)[..16]),
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.extend(header_value(&delivery).map(|v| (header::HeaderName::from_static(DELIVERY_HEADER), v)));
            if !self.secret.is_empty() {
                let signature = header_value(&signature(self.secret.expose().as_bytes(), &body));
                headers.extend(signature.map(|v| (header::HeaderName::from_static(SIGNATURE_HEADER), v)));
            }
            let secrets = vec![self.secret.expose()];
            self.client.post(HookPost { dest, url: url.expose(), headers, body, secrets }).await
        })
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The delivery id of the outbox entry for `alert` at `dest`: the same for
/// every attempt and across restarts, different per destination; 32 hex
/// characters that reveal nothing of the URL.
pub(crate) fn delivery_id(alert: AlertId, dest: &Destination) -> String {
    let mut h = Sha256::new();
    h.update(alert.0.to_be_bytes());
    h.update(dest.storage_key().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The JSON body (version [`VERSION`]) for `msg`, rendered from `alert`.
/// Without the alert (a plain send), the item fields the message does not
/// carry are `null` and `changes` is empty.
pub(crate) fn payload(msg: &Message, alert: Option<&Alert>, silent: bool) -> Value {
    let mut kinds: Vec<&str> = Vec::new();
    for k in alert.map_or_else(|| vec![msg.kind], |a| a.changes.iter().map(Change::kind).collect()) {
        if !kinds.contains(&k.as_str()) {
            kinds.push(k.as_str());
        }
    }
    let changes: Vec<Value> = alert.map(|a| a.changes.iter().map(change).collect()).unwrap_or_default();
    json!({
        "version": VERSION,
        "kinds": kinds,
        "headline": msg.headline,
        "silent": silent,
        "item": item(msg, alert.map(|a| &a.item)),
        "changes": changes,
        "text": render::console(msg).trim_end(),
    })
}

fn item(msg: &Message, item: Option<&Item>) -> Value {
    json!({
        "id": item.map(|i| i.id.id.as_str()),
        "kind": item.map(|i| i.kind().as_str()),
        "name": msg.title,
        "link": msg.link,
        "date": item.and_then(|i| i.when).map(rfc3339),
        "precision": item.and_then(|i| i.precision.as_ref()).map(|p| p.name()).filter(|p| !p.is_empty()),
        "status": item.and_then(|i| i.status.as_ref()).map(|s| s.name.as_str()).or(msg.status.as_deref()),
        "agency": msg.agencies,
        "rocket": item.and_then(|i| i.details.rocket.as_deref()),
        "pad": item.and_then(|i| i.pad.as_deref()),
        "webcast": msg.webcast,
    })
}

/// One change as `{"kind", "from", "to"}`: dates in RFC 3339, statuses by
/// name, a webcast's URL, a reminder's offset ("1h"), landings as
/// "success" or "failure", an article by its URL.
fn change(c: &Change) -> Value {
    let (kind, from, to): (&str, Option<String>, Option<String>) = match c {
        Change::New => ("new", None, None),
        Change::Schedule { old_when, new_when, .. } => ("schedule", old_when.map(rfc3339), new_when.map(rfc3339)),
        Change::Status { old, new } => {
            ("status", old.as_ref().map(|s| s.name.clone()), new.as_ref().map(|s| s.name.clone()))
        }
        Change::Landing { results } => {
            let ok = results.iter().all(|l| l.success == Some(true));
            ("landing", None, Some(if ok { "success" } else { "failure" }.into()))
        }
        Change::Webcast { url, .. } => ("webcast", None, url.clone()),
        Change::Reminder { offset, .. } => ("reminder", None, Some(format_duration(*offset))),
        Change::News { article } => ("news", None, Some(article.url.clone())),
    };
    json!({ "kind": kind, "from": from, "to": to })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::item::Named;
    use crate::types::AlertKind;

    fn status_alert() -> Alert {
        let item = sample_launch();
        let change = Change::Status { old: Some(Named::new(Some(1), "Go for Launch", None)), new: item.status.clone() };
        Alert::new(AlertId(42), item, vec![change, Change::New], Utc::now())
    }

    #[test]
    fn the_body_names_the_item_its_changes_and_its_version() {
        let alert = status_alert();
        let msg = render::message(&alert, chrono_tz::UTC, Utc::now());
        let body = payload(&msg, Some(&alert), true);
        assert_eq!(body["version"], 1);
        assert_eq!(body["kinds"], json!(["status", "new"]));
        assert_eq!(body["headline"], msg.headline);
        assert_eq!(body["silent"], true);
        let item = &body["item"];
        assert_eq!(item["id"], alert.item.id.id);
        assert_eq!(item["kind"], "launch");
        assert_eq!(item["name"], alert.item.name);
        assert_eq!(item["link"], crate::links::main_page(&alert.item).unwrap());
        assert!(!crate::links::is_ll2_api(item["link"].as_str().unwrap()));
        assert_eq!(item["date"], rfc3339(alert.item.when.unwrap()));
        assert!(item["date"].as_str().unwrap().ends_with('Z'));
        for key in ["precision", "status", "agency", "rocket", "pad", "webcast"] {
            assert!(item.get(key).is_some(), "{key} is always present (maybe null)");
        }
        assert_eq!(body["changes"][0], json!({"kind": "status", "from": "Go for Launch", "to": item["status"]}));
        assert_eq!(body["changes"][1], json!({"kind": "new", "from": null, "to": null}));
        assert!(body["text"].as_str().unwrap().contains(&alert.item.name));
    }

    #[test]
    fn a_plain_send_still_has_every_field() {
        let alert = status_alert();
        let msg = render::message(&alert, chrono_tz::UTC, Utc::now());
        let body = payload(&msg, None, false);
        assert_eq!(body["kinds"], json!([AlertKind::Status.as_str()]));
        assert_eq!(body["item"]["id"], Value::Null);
        assert_eq!(body["changes"], json!([]));
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn delivery_ids_are_stable_per_entry() {
        let a: Destination = "webhook:https://a.example/x".parse().unwrap();
        let b: Destination = "webhook:https://b.example/x".parse().unwrap();
        assert_eq!(delivery_id(AlertId(1), &a), delivery_id(AlertId(1), &a));
        assert_ne!(delivery_id(AlertId(1), &a), delivery_id(AlertId(2), &a));
        assert_ne!(delivery_id(AlertId(1), &a), delivery_id(AlertId(1), &b));
        assert_eq!(delivery_id(AlertId(1), &a).len(), 32);
    }
}
