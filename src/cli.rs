//! Command-line arguments: `tminus [--config PATH] [run|once|check-config]`.
//! Pure parsing of the words after argv[0]; it does not read the config, print
//! or exit. The binary prints `UsageError::Help` to stdout (exit 0) and
//! `UsageError::Bad` to stderr (exit 2).

use std::path::PathBuf;

use crate::config::{ENV_DISCORD_TOKEN, ENV_LL2_API_KEY, ENV_TELEGRAM_TOKEN};

/// Config file used when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Poll and deliver until stopped (the default).
    Run,
    /// One poll cycle of every feed, deliver what is due, exit.
    Once,
    /// Validate the config and print the effective settings.
    CheckConfig,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Once => "once",
            Command::CheckConfig => "check-config",
        }
    }

    fn from_word(word: &str) -> Option<Command> {
        match word {
            "run" => Some(Command::Run),
            "once" => Some(Command::Once),
            "check-config" => Some(Command::CheckConfig),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    pub command: Command,
}

/// What the user asked for instead of running: help or version text
/// (`Help`), or a mistake (`Bad`, one line ending in a hint to `--help`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Bad(String),
    #[error("{0}")]
    Help(String),
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, UsageError> {
        let mut config: Option<PathBuf> = None;
        let mut command: Option<Command> = None;
        let mut options_done = false;
        let mut args = args.into_iter();

        while let Some(arg) = args.next() {
            if !options_done && arg.starts_with('-') && arg != "-" {
                match arg.as_str() {
                    "-h" | "--help" => return Err(UsageError::Help(usage())),
                    "-V" | "--version" => return Err(UsageError::Help(version())),
                    "--" => options_done = true,
                    "-c" | "--config" => {
                        // A following option is a forgotten value, not a file
                        // name: taking it would silently fall back to defaults
                        // because a missing file is allowed.
                        let value = args.next().filter(|v| !v.is_empty() && !v.starts_with('-'));
                        let Some(value) = value else {
                            return Err(bad(format!("missing value for {arg} (expected a file path)")));
                        };
                        set_config(&mut config, value)?;
                    }
                    _ => match arg.strip_prefix("--config=") {
                        Some("") => {
                            return Err(bad("missing value for --config= (expected a file path)"));
                        }
                        Some(value) => set_config(&mut config, value.to_owned())?,
                        None => return Err(bad(format!("unknown option {arg:?}"))),
                    },
                }
                continue;
            }
            if arg == "help" {
                return Err(UsageError::Help(usage()));
            }
            match (command, Command::from_word(&arg)) {
                (None, Some(c)) => command = Some(c),
                (Some(first), _) => {
                    return Err(bad(format!(
                        "unexpected argument {arg:?} (command {:?} already given)",
                        first.as_str()
                    )));
                }
                (None, None) => {
                    return Err(bad(format!("unknown command {arg:?} (expected run, once or check-config)")));
                }
            }
        }

        Ok(Args {
            config: config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH)),
            command: command.unwrap_or(Command::Run),
        })
    }
}

fn set_config(slot: &mut Option<PathBuf>, value: String) -> Result<(), UsageError> {
    if slot.is_some() {
        return Err(bad("--config given more than once"));
    }
    *slot = Some(PathBuf::from(value));
    Ok(())
}

fn bad(message: impl Into<String>) -> UsageError {
    UsageError::Bad(format!("{}; run `tminus --help` for usage", message.into()))
}

/// `tminus <version>`, the answer to `--version`.
pub fn version() -> String {
    format!("tminus {}", env!("CARGO_PKG_VERSION"))
}

/// The text of `--help`.
pub fn usage() -> String {
    format!(
        "\
tminus {version}: spaceflight alerts from Launch Library 2 to Telegram, Discord and the console

Usage: tminus [--config PATH] [COMMAND]

Commands:
  run            poll LL2 and deliver alerts until stopped (default)
  once           run one poll cycle of every feed, deliver what is due, then exit
  check-config   validate the config and print the effective settings (secrets masked)

Options:
  -c, --config PATH   config file (default: {config}); a missing file means all defaults
  -h, --help          print this help
  -V, --version       print the version

Environment (overrides the config file when set and non-empty):
  {ll2:<22}LL2 API key ([ll2] api_key)
  {tg:<22}Telegram bot token ([telegram] token)
  {dc:<22}Discord bot token ([discord] token)

Exit status: 0 on success, 2 for a bad config or bad usage.",
        version = env!("CARGO_PKG_VERSION"),
        config = DEFAULT_CONFIG_PATH,
        ll2 = ENV_LL2_API_KEY,
        tg = ENV_TELEGRAM_TOKEN,
        dc = ENV_DISCORD_TOKEN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    fn ok(args: &[&str]) -> Args {
        parse(args).unwrap_or_else(|e| panic!("{args:?} should parse: {e}"))
    }

    fn bad_message(args: &[&str]) -> String {
        match parse(args) {
            Err(UsageError::Bad(m)) => {
                assert!(m.contains("run `tminus --help`"), "{m}");
                assert!(!m.contains('\n'), "{m:?}");
                m
            }
            other => panic!("{args:?} should be a usage error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(ok(&[]), Args { config: PathBuf::from("config.toml"), command: Command::Run });
    }

    #[test]
    fn commands_and_config_forms() {
        assert_eq!(ok(&["once"]).command, Command::Once);
        assert_eq!(ok(&["run"]).command, Command::Run);
        let a = ok(&["--config", "/etc/tminus.toml", "check-config"]);
        assert_eq!(a, Args { config: PathBuf::from("/etc/tminus.toml"), command: Command::CheckConfig });
        assert_eq!(ok(&["--config=a b.toml"]).config, PathBuf::from("a b.toml"));
        assert_eq!(ok(&["-c", "x.toml", "once"]).config, PathBuf::from("x.toml"));
        // Options may follow the command.
        assert_eq!(
            ok(&["check-config", "-c", "y.toml"]),
            Args { config: PathBuf::from("y.toml"), command: Command::CheckConfig }
        );
        assert_eq!(ok(&["--", "once"]).command, Command::Once);
    }

    #[test]
    fn help_and_version() {
        for flag in ["-h", "--help", "help"] {
            match parse(&["once", flag]) {
                Err(UsageError::Help(text)) => {
                    for part in
                        ["--config", "run", "once", "check-config", "TMINUS_TELEGRAM_TOKEN", "TMINUS_LL2_API_KEY"]
                    {
                        assert!(text.contains(part), "help should mention {part}:\n{text}");
                    }
                }
                other => panic!("{flag}: {other:?}"),
            }
        }
        for flag in ["-V", "--version"] {
            assert_eq!(parse(&[flag]), Err(UsageError::Help(format!("tminus {}", env!("CARGO_PKG_VERSION")))));
        }
    }

    #[test]
    fn mistakes_name_the_argument() {
        assert!(bad_message(&["bogus"]).contains("unknown command \"bogus\""));
        assert!(bad_message(&["--verbose"]).contains("unknown option \"--verbose\""));
        assert!(bad_message(&["-x"]).contains("\"-x\""));
        assert!(bad_message(&["--config"]).contains("missing value for --config"));
        assert!(bad_message(&["-c"]).contains("missing value for -c"));
        assert!(bad_message(&["--config", "--help"]).contains("missing value for --config"));
        assert!(bad_message(&["--config="]).contains("missing value for --config"));
        assert!(bad_message(&["--config", ""]).contains("missing value"));
        assert!(bad_message(&["run", "once"]).contains("unexpected argument \"once\""));
        assert!(bad_message(&["-c", "a", "--config=b"]).contains("more than once"));
        assert!(bad_message(&["--", "-c"]).contains("unknown command \"-c\""));
    }
}
