//! Store ownership: one tminus per store directory. The owner holds an
//! exclusive lock on `tminus.pid` in the store directory for as long as any
//! clone of its [`Store`](super::Store) lives, and writes its pid there so
//! a second instance can name it. The lock is the OS's (released when the
//! process dies, even by SIGKILL), so a stale pid file never blocks a start.
//!
//! It must not remove or rewrite anything but the pid file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{Result, StoreError};

/// The pid file's name inside the store directory.
pub(crate) const PID_FILE: &str = "tminus.pid";

/// Held by the owning process; dropping the last handle releases the lock.
#[derive(Debug)]
pub(super) struct Owner {
    _file: File,
}

/// Claims `dir` for this process, or says which process holds it.
pub(super) fn claim(dir: &Path) -> Result<Owner> {
    let io = |e: std::io::Error| StoreError::Sled(sled::Error::Io(e));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(PID_FILE)).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<u32>().ok());
            return Err(StoreError::InUse { path: dir.display().to_string(), pid });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(Owner { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_names_the_owner_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path()).unwrap();
        let pid = std::fs::read_to_string(dir.path().join(PID_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        match claim(dir.path()) {
            Err(StoreError::InUse { pid, path }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(path, dir.path().display().to_string());
            }
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(first);
        claim(dir.path()).expect("released on drop");
    }
}
