//! `tminus check-config` output: the effective configuration as TOML that
//! loads back to the same `Config`. It must never print a secret: tokens and
//! the LL2 key print as `"***"`, webhook URLs as `discord-webhook:***` or
//! `webhook:*** (host)` (also `ntfy:`, `slack:`).

use std::time::Duration;

use toml::Value;

use super::{Config, Watch};
use crate::types::format_duration;

impl Config {
    /// The effective configuration as TOML, for `tminus check-config`.
    /// Secrets print as `"***"` when set and `""` when empty; webhook URLs as
    /// `discord-webhook:***`. Without secrets the output loads back to the
    /// same `Config`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn render_effective(&self) -> String {
        let mut out = String::from("# tminus effective configuration (defaults filled in, secrets masked)\n");

        self.render_sources(&mut out);
        self.render_platforms(&mut out);
        self.render_service(&mut out);

        if self.watches.is_empty() {
            out.push_str("\n# no [[watch]] configured\n");
        }
        for w in &self.watches {
            render_watch(&mut out, w);
        }
        out
    }

    /// `[ll2]`, `[store]` and `[alerts]`: what is polled, kept and alerted.
    fn render_sources(&self, out: &mut String) {
        out.push_str("\n[ll2]\n");
        kv(out, "base_url", &quote(&self.ll2.base_url));
        kv(out, "api_key", &quote(&self.ll2.api_key.to_string()));
        kv(out, "requests_per_hour", &self.ll2.requests_per_hour.to_string());
        kv(out, "feeds", &list(self.ll2.feeds.iter().map(|f| f.as_str())));
        kv(out, "resweep_interval", &quote(&format_duration(self.ll2.resweep_interval)));
        kv(out, "timeout", &quote(&format_duration(self.ll2.timeout)));
        kv(out, "max_body_bytes", &self.ll2.max_body_bytes.to_string());

        out.push_str("\n[store]\n");
        kv(out, "path", &quote(&self.store.path.to_string_lossy()));
        kv(out, "retention", &quote(&format_duration(self.store.retention)));

        out.push_str("\n[alerts]\n");
        kv(out, "on_first_sync", &self.alerts.on_first_sync.to_string());
        kv(out, "reminders", &render_reminders(&self.alerts.reminders));
        kv(out, "timezone", &quote(self.alerts.timezone.name()));
        kv(out, "reminder_grace", &quote(&format_duration(self.alerts.reminder_grace)));
        kv(out, "schedule_horizon", &render_horizon(self.alerts.schedule_horizon));
    }

    /// `[telegram]`, `[discord]`, `[webhook]` and `[ntfy]`: the platforms,
    /// their secrets masked.
    fn render_platforms(&self, out: &mut String) {
        out.push_str("\n[telegram]\n");
        kv(out, "token", &quote(&self.telegram.token.to_string()));
        kv(out, "api_url", &quote(&self.telegram.api_url));
        kv(out, "paid_broadcast", &self.telegram.paid_broadcast.to_string());

        out.push_str("\n[discord]\n");
        kv(out, "token", &quote(&self.discord.token.to_string()));
        kv(out, "api_url", &quote(&self.discord.api_url));
        match self.discord.guild_id {
            Some(id) => kv(out, "guild_id", &id.to_string()),
            None => out.push_str("# guild_id: not set\n"),
        }
        match &self.discord.public_key {
            Some(key) => kv(out, "public_key", &quote(key)),
            None => out.push_str("# public_key: not set\n"),
        }
        kv(out, "events_window", &quote(&format_duration(self.discord.events_window)));

        out.push_str("\n[webhook]\n");
        kv(out, "secret", &quote(&self.webhook.secret.to_string()));

        out.push_str("\n[ntfy]\n");
        kv(out, "token", &quote(&self.ntfy.token.to_string()));
    }

    /// `[log]`, `[server]`, `[delivery]` and `[news]`: how the bot runs.
    fn render_service(&self, out: &mut String) {
        out.push_str("\n[log]\n");
        kv(out, "format", &quote(self.log.format.as_str()));

        out.push_str("\n[server]\n");
        match self.server.listen {
            Some(addr) => kv(out, "listen", &quote(&addr.to_string())),
            None => out.push_str("# listen: not set (no HTTP server)\n"),
        }
        kv(out, "health_max_age", &quote(&format_duration(self.server.health_max_age)));
        match &self.server.public_url {
            Some(url) => kv(out, "public_url", &quote(url)),
            None => out.push_str("# public_url: not set (no /calendar links)\n"),
        }

        out.push_str("\n[delivery]\n");
        kv(out, "max_age", &quote(&format_duration(self.delivery.max_age)));

        out.push_str("\n[news]\n");
        kv(out, "base_url", &quote(&self.news.base_url));
        kv(out, "requests_per_hour", &self.news.requests_per_hour.to_string());
        match self.news.enabled {
            Some(on) => kv(out, "enabled", &on.to_string()),
            None => out.push_str("# enabled: not set (on while a watch or chat chose \"news\")\n"),
        }
    }
}

fn render_watch(out: &mut String, w: &Watch) {
    out.push_str("\n[[watch]]\n");
    kv(out, "name", &quote(&w.name));
    // Display masks webhook URLs.
    let to: Vec<String> = w.to.iter().map(ToString::to_string).collect();
    kv(out, "to", &list(to.iter().map(String::as_str)));
    kv(out, "kinds", &list(w.kinds.iter().map(|k| k.as_str())));
    for (key, values) in [
        ("types", &w.types),
        ("agencies", &w.agencies),
        ("programs", &w.programs),
        ("exclude_types", &w.exclude_types),
        ("exclude_agencies", &w.exclude_agencies),
        ("exclude_programs", &w.exclude_programs),
    ] {
        kv(out, key, &list(values.iter().map(String::as_str)));
    }
    kv(out, "alerts", &list(w.alerts.iter().map(|a| a.as_str())));
    kv(out, "timezone", &quote(w.timezone.name()));
    kv(out, "reminders", &render_reminders(&w.reminders));
    if !w.mentions.is_empty() {
        let mentions: Vec<String> = w.mentions.iter().map(ToString::to_string).collect();
        kv(out, "mentions", &list(mentions.iter().map(String::as_str)));
    }
    kv(out, "schedule_horizon", &render_horizon(w.schedule_horizon));
    if let Some(q) = w.quiet_hours {
        kv(out, "quiet_hours", &quote(&q.to_string()));
    }
    if !w.silent.is_empty() {
        kv(out, "silent", &list(w.silent.iter().map(|a| a.as_str())));
    }
    if !w.style.is_messages() {
        kv(out, "style", &quote(w.style.as_str()));
    }
    if let Some(d) = w.digest {
        kv(out, "digest", &quote(&d.to_string()));
    }
}

fn render_horizon(h: Option<Duration>) -> String {
    quote(&h.map_or_else(|| "off".to_string(), format_duration))
}

fn kv(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(quote).collect();
    format!("[{}]", quoted.join(", "))
}

fn render_reminders(reminders: &[Duration]) -> String {
    if reminders.is_empty() {
        return quote("off");
    }
    let texts: Vec<String> = reminders.iter().map(|d| format_duration(*d)).collect();
    list(texts.iter().map(String::as_str))
}
