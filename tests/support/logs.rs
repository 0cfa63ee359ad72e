//! Log capture for tests that check what tminus logs (never a secret):
//! every log line of the test binary goes to one in-memory buffer.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

/// Installs the capture (once per test binary) and returns the buffer.
pub fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,sled=warn,hyper=warn,hyper_util=warn,h2=warn,reqwest=warn")
            .with_writer(buf.clone())
            .with_ansi(false)
            .try_init();
        buf
    })
}

/// Everything logged so far.
pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}
