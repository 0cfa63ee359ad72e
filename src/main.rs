//! The `tminus` binary: parses arguments, loads the config and runs the
//! [`App`] (or `check-config`, `export`, `import`), mapping errors to exit
//! codes (2 for bad usage or config, 3 when `once` polled no feed, 1 for
//! runtime failures). Everything else lives in the library.

use std::process::ExitCode;

use tminus::app::{self, App, AppError};
use tminus::cli::{Args, Command, UsageError};
use tminus::config::{Config, IfMissing};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(UsageError::Help(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(UsageError::Bad(msg)) => {
            eprintln!("tminus: {msg}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tminus: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

async fn run(args: Args) -> Result<(), AppError> {
    let if_missing = if args.config_given { IfMissing::Error } else { IfMissing::Defaults };
    let config = Config::load(&args.config, if_missing)?;
    match args.command {
        Command::CheckConfig => {
            let (effective, warnings) = app::check_config(&config);
            print!("{effective}");
            for w in warnings {
                eprintln!("tminus: {w}");
            }
            Ok(())
        }
        Command::Export { file } => app::export_state(&config, file.as_deref()),
        Command::Import { file } => {
            let done = app::import_state(&config, &file).await?;
            eprintln!(
                "tminus: imported {}: {} subscriptions added, {} already there, {} chat settings written, \
                 {} mutes and {} calendar tokens restored",
                file.display(),
                done.subscriptions_added,
                done.subscriptions_present,
                done.chat_settings,
                done.mutes,
                done.calendar_tokens
            );
            Ok(())
        }
        Command::Once => {
            app::init_logging(config.log.format);
            App::new(config)?.once().await
        }
        Command::Run => {
            app::init_logging(config.log.format);
            App::new(config)?.run(app::shutdown_signal()).await
        }
    }
}
