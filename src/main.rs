//! The `tminus` binary: parses arguments, runs the library, maps errors to
//! exit codes (2 for bad usage or config, 1 for runtime failures).

use std::process::ExitCode;

use tminus::cli::{Args, UsageError};

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
    match tminus::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tminus: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
