//! The console destination: alerts as readable blocks on stdout, so a
//! fresh install shows something useful without any token. Logs stay on
//! stderr. It must not decide retries: a failure goes back to the
//! deliverer like any sender's.

use std::io::Write;

use crate::deliver::{AlertExtras, BoxFuture, SendError, Sender, Sent};
use crate::render::{self, Message};
use crate::types::Destination;

/// The `console` destination: prints each alert to stdout as plain text.
#[derive(Debug, Default)]
pub(crate) struct ConsoleSender;

impl Sender for ConsoleSender {
    fn send_alert<'a>(
        &'a self,
        _dest: &'a Destination,
        msg: &'a Message,
        _extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let text = render::console(msg);
            let mut out = std::io::stdout().lock();
            // A closed stdout (e.g. a pipe whose reader left) is retried like
            // any platform outage instead of crashing the bot.
            writeln!(out, "{text}")
                .and_then(|_| out.flush())
                .map_err(|e| SendError::Transient { reason: format!("stdout: {e}"), retry_after: None })?;
            Ok(Sent::default())
        })
    }
}
