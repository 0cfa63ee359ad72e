//! Configuration: reads `config.toml` (or all defaults when the file is
//! missing), merges secrets from the environment, validates every value and
//! produces the typed, effective [`Config`]. It owns the config contract of
//! the README ("Configuration") and the wording of config errors.
//!
//! It must not start anything, log, or touch the network, and it must never
//! put a secret (tokens, the LL2 API key, the webhook signing secret, the
//! URLs of `discord-webhook:`, `webhook:`, `ntfy:` and `slack:`) into an error
//! message or into `render_effective`.
//!
//! The rooms: `model` is the effective configuration and its defaults; `raw`
//! the shapes serde reads (unknown keys denied); `validate` turns raw into
//! effective, one exact key path per problem; `diagnostics` words every error
//! as one line; `render` prints the effective config for `check-config`.

mod diagnostics;
mod model;
mod raw;
mod render;
mod validate;

use std::path::Path;

pub use diagnostics::ConfigError;
pub use model::*;

/// Looks up an environment variable; injectable so tests need not touch the
/// process environment (tests run in parallel).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What a missing config file means: the default path may be absent (all
/// defaults), a path the user named must exist (the README, "Usage").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Use the built-in defaults.
    Defaults,
    /// Fail with `ConfigError::Io`.
    Error,
}

impl Config {
    /// Loads `path` and the environment; a missing file as `if_missing` says.
    pub fn load(path: &Path, if_missing: IfMissing) -> Result<Config, ConfigError> {
        Config::load_with_env(path, if_missing, &process_env)
    }

    /// Like [`Config::load`], reading environment variables through `env`.
    pub(crate) fn load_with_env(path: &Path, if_missing: IfMissing, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && if_missing == IfMissing::Defaults => String::new(),
            Err(e) => {
                return Err(ConfigError::Io { path: path.to_path_buf(), message: e.to_string() });
            }
        };
        Config::from_toml_str(&text, env)
    }

    /// Parses and validates config text, reading environment variables
    /// through `env`. An empty text gives the defaults.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn from_toml_str(text: &str, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = diagnostics::deserialize(text)?;
        validate::build(raw, env)
    }
}

fn process_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        // Not silently ignored: the lossy value fails secret validation
        // with an error naming the variable.
        Err(std::env::VarError::NotUnicode(raw)) => Some(raw.to_string_lossy().into_owned()),
    }
}

#[cfg(test)]
mod tests;
