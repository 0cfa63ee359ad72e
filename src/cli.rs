//! Command-line arguments: `tminus [--config PATH] [run|once|check-config]`.
//! Pure parsing; the binary turns a `UsageError` into exit code 2.
//!
//! HELPER-OWNED: implementation pending.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Once,
    CheckConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    pub command: Command,
}

/// What the user asked for instead of running: help or version text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Bad(String),
    #[error("{0}")]
    Help(String),
}

impl Args {
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, UsageError> {
        let _ = args.into_iter();
        Ok(Args { config: PathBuf::from("config.toml"), command: Command::Run })
    }
}
