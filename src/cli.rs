//! Command-line arguments: `tminus [--config PATH] [run|once|check-config|export [FILE]|import FILE]`,
//! declared with clap's derive. Pure parsing of the words after argv[0]; it
//! does not read the config, print or exit. The binary prints
//! `UsageError::Help` to stdout (exit 0) and `UsageError::Bad` to stderr
//! (exit 2); clap's multi-line errors are reduced to one line here.

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};

use crate::config::{ENV_DISCORD_TOKEN, ENV_LL2_API_KEY, ENV_TELEGRAM_TOKEN};

/// Config file used when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_PATH: &str = "config.toml";

/// What the binary is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Poll LL2 and deliver alerts until stopped (the default)
    Run,
    /// Poll every feed once, deliver what is due (waiting out rate-limit
    /// pauses of up to a minute), then exit; for cron
    Once,
    /// Validate the config and print the effective settings (secrets masked)
    CheckConfig,
    /// Write chat-made subscriptions and chat settings as JSON (stop the bot first)
    Export {
        /// Where to write; standard output when left out
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Load a file written by `export` into the configured store (idempotent)
    Import {
        /// The file written by `export`
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

impl Command {
    /// The subcommand's name as typed (`check-config`).
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Once => "once",
            Command::CheckConfig => "check-config",
            Command::Export { .. } => "export",
            Command::Import { .. } => "import",
        }
    }
}

/// Parsed arguments, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The config file (`--config`, else `config.toml`).
    pub config: PathBuf,
    /// Whether `--config` was given: then the file must exist.
    pub config_given: bool,
    /// The subcommand; `run` when none was given.
    pub command: Command,
}

/// What the user asked for instead of running: help or version text
/// (`Help`), or a mistake (`Bad`, one line ending in a hint to `--help`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// One line saying what is wrong, ending in a hint to `--help`.
    #[error("{0}")]
    Bad(String),
    /// The help or version text, to print as is.
    #[error("{0}")]
    Help(String),
}

/// The clap declaration; [`Args`] is its plain result with the defaults
/// filled in.
#[derive(Debug, Parser)]
#[command(
    name = "tminus",
    version,
    about = "Spaceflight alerts from Launch Library 2 to Telegram, Discord and the console",
    after_help = after_help(),
    disable_colored_help = true,
    color = clap::ColorChoice::Never
)]
struct Cli {
    /// Config file [default: config.toml]; a missing default file means all
    /// defaults, a missing file given here is an error
    #[arg(short, long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, UsageError> {
        let argv = std::iter::once("tminus".to_owned()).chain(args);
        let cli = Cli::try_parse_from(argv).map_err(usage_error)?;
        Ok(Args {
            config_given: cli.config.is_some(),
            config: cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH)),
            command: cli.command.unwrap_or(Command::Run),
        })
    }
}

/// Help and version text pass through; a mistake becomes one line naming the
/// offending argument.
fn usage_error(err: clap::Error) -> UsageError {
    let context = |kind: ContextKind| match err.get(kind) {
        // `--config <PATH>`: the option's name is enough.
        Some(ContextValue::String(s)) => s.split_whitespace().next().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    let message = match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return UsageError::Help(err.to_string().trim_end().to_owned());
        }
        ErrorKind::InvalidSubcommand => {
            format!(
                "unknown command {:?} (expected run, once, check-config, export or import)",
                context(ContextKind::InvalidSubcommand)
            )
        }
        ErrorKind::UnknownArgument => match (context(ContextKind::InvalidArg), context(ContextKind::SuggestedArg)) {
            (arg, _) if !arg.starts_with('-') => format!("unexpected argument {arg:?} (only one command may be given)"),
            (arg, suggested) if suggested.is_empty() => format!("unknown option {arg:?}"),
            (arg, suggested) => format!("unknown option {arg:?} (did you mean {suggested}?)"),
        },
        // An empty value, or an option where the value should be, is a
        // forgotten value, not a file name: taking it would silently fall
        // back to defaults because a missing file is allowed.
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).is_empty() => {
            format!("missing value for {} (expected a file path)", context(ContextKind::InvalidArg))
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match err.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.join(", "),
                _ => String::new(),
            };
            format!("missing argument {missing}")
        }
        ErrorKind::ArgumentConflict if context(ContextKind::InvalidArg) == context(ContextKind::PriorArg) => {
            format!("{} given more than once", context(ContextKind::InvalidArg))
        }
        _ => first_line(&err),
    };
    UsageError::Bad(format!("{message}; run `tminus --help` for usage"))
}

/// clap's own first line, without its `error: ` prefix, for the kinds that
/// need no wording of their own.
fn first_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// The environment and the exit codes, below clap's list of commands and
/// options.
fn after_help() -> String {
    format!(
        "\
Environment (overrides the config file when set and non-empty):
  {ll2:<23}LL2 API key ([ll2] api_key)
  {tg:<23}Telegram bot token ([telegram] token)
  {dc:<23}Discord bot token ([discord] token)

Exit status:
  0  success (`once`: at least one LL2 feed was polled)
  1  runtime error (the store is in use by another tminus, network setup)
  2  bad config or bad usage
  3  `once`: no LL2 feed could be polled (LL2 unreachable or failing)",
        ll2 = ENV_LL2_API_KEY,
        tg = ENV_TELEGRAM_TOKEN,
        dc = ENV_DISCORD_TOKEN,
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

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
    fn declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        assert_eq!(ok(&[]), Args { config: PathBuf::from("config.toml"), config_given: false, command: Command::Run });
    }

    #[test]
    fn commands_and_config_forms() {
        assert_eq!(ok(&["once"]).command, Command::Once);
        assert_eq!(ok(&["run"]).command, Command::Run);
        let a = ok(&["--config", "/etc/tminus.toml", "check-config"]);
        assert_eq!(
            a,
            Args { config: PathBuf::from("/etc/tminus.toml"), config_given: true, command: Command::CheckConfig }
        );
        assert_eq!(ok(&["--config=a b.toml"]).config, PathBuf::from("a b.toml"));
        assert_eq!(ok(&["-c", "x.toml", "once"]).config, PathBuf::from("x.toml"));
        // Options may follow the command.
        assert_eq!(
            ok(&["check-config", "-c", "y.toml"]),
            Args { config: PathBuf::from("y.toml"), config_given: true, command: Command::CheckConfig }
        );
        for c in [Command::Run, Command::Once, Command::CheckConfig, Command::Export { file: None }] {
            assert_eq!(ok(&[c.as_str()]).command, c);
        }
        assert_eq!(ok(&["export", "backup.json"]).command, Command::Export { file: Some("backup.json".into()) });
        assert_eq!(ok(&["import", "b.json", "-c", "x.toml"]).command, Command::Import { file: "b.json".into() });
        assert!(bad_message(&["import"]).contains("FILE"));
    }

    #[test]
    fn help_and_version() {
        for args in [&["-h"][..], &["--help"], &["help"], &["-c", "x.toml", "--help"]] {
            match parse(args) {
                Err(UsageError::Help(text)) => {
                    for part in [
                        "--config",
                        "run",
                        "once",
                        "check-config",
                        "TMINUS_TELEGRAM_TOKEN",
                        "TMINUS_LL2_API_KEY",
                        "2  bad config or bad usage",
                        "3  `once`: no LL2 feed could be polled",
                    ] {
                        assert!(text.contains(part), "help should mention {part}:\n{text}");
                    }
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        // A command's own help is help too, not a mistake.
        assert!(matches!(parse(&["once", "--help"]), Err(UsageError::Help(_))));
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
        assert!(bad_message(&["-c"]).contains("missing value for --config"));
        assert!(bad_message(&["check-config", "--config"]).contains("missing value for --config"));
        assert!(bad_message(&["--config", "--help"]).contains("missing value for --config"));
        assert!(bad_message(&["--config="]).contains("missing value for --config"));
        assert!(bad_message(&["--config", ""]).contains("missing value"));
        assert!(bad_message(&["run", "once"]).contains("\"once\""));
        assert!(bad_message(&["-c", "a", "--config=b"]).contains("more than once"));
        assert!(bad_message(&["--", "-c"]).contains("\"-c\""));
    }
}
