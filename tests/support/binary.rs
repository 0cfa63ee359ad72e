//! The `tminus` binary in tests: a config file pointing at a fake LL2 with
//! its store beside it, the command with a clean environment (no secrets
//! or colour settings inherited from the developer's shell), and a free
//! local port for `[server] listen`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::fake_ll2::FakeLl2;

/// Writes `dir/config.toml`: the fake LL2 at 1000 requests an hour, the
/// store in `dir/data`, then `extra` TOML.
pub fn write_config(dir: &Path, fake: &FakeLl2, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let body = format!(
        "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 1000\n\n[store]\npath = \"{}\"\n{extra}",
        fake.base_url(),
        dir.join("data").display()
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// `[server] listen` on `port` of 127.0.0.1, as `extra` for [`write_config`].
pub fn listen_on(port: u16) -> String {
    format!("\n[server]\nlisten = \"127.0.0.1:{port}\"\n")
}

/// `tminus --config CONFIG CMD` at log level info, with the tminus secrets
/// and `NO_COLOR` removed from its environment.
pub fn tminus(config: &Path, cmd: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tminus"));
    c.arg("--config").arg(config).arg(cmd).env("RUST_LOG", "info").env_remove("NO_COLOR");
    for var in [
        "TMINUS_LL2_API_KEY",
        "TMINUS_TELEGRAM_TOKEN",
        "TMINUS_DISCORD_TOKEN",
        "TMINUS_WEBHOOK_SECRET",
        "TMINUS_NTFY_TOKEN",
    ] {
        c.env_remove(var);
    }
    c
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
