//! One bot per brain: the bot holds an advisory lock (`flock`, through std's `File::try_lock`)
//! on `.brain/matrix/bot.lock` for as long as it runs. Two processes on one session and crypto
//! store would upload and claim one-time keys behind each other's backs and break encrypted
//! sessions, so a second bot refuses to start, naming the process that holds the lock. The
//! operating system releases the lock when its holder exits, however it exits (SIGKILL, a
//! crash), so a stale file never blocks the next start.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the bot's state directory.
pub const LOCK_FILE: &str = "bot.lock";

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the Matrix bot of this brain already runs in {holder}: one bot per brain (two would \
         share one session and crypto store). Stop that process first; `brain start` runs the \
         bot itself whenever brain.toml has [matrix]. (Lock: {})",
        path.display()
    )]
    Held { holder: String, path: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct BotLock {
    // Never read: holding the open file is what holds the lock.
    _file: File,
}

impl BotLock {
    /// Takes the lock in `dir` (created if missing) without waiting, and writes this
    /// process's pid and command line into it for the next one to name.
    pub fn acquire(dir: &Path) -> Result<BotLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // Not truncated on open: until the lock is ours, the file names the holder.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written itself in yet: then it is named vaguely.
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    holder: describe_holder(&text),
                    path,
                });
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        let me = format!("{}\n{}\n", std::process::id(), command_line());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(BotLock { _file: file })
    }
}

/// "pid 1234 (`brain --dir demo start`)" from the lock file's text (pid line, command line).
fn describe_holder(text: &str) -> String {
    let mut lines = text.lines();
    let pid = lines.next().map(str::trim).filter(|p| !p.is_empty());
    let command = lines.next().map(str::trim).filter(|c| !c.is_empty());
    match (pid, command) {
        (Some(pid), Some(command)) => format!("pid {pid} (`{command}`)"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "another process (starting: it has not written its pid yet)".to_owned(),
    }
}

/// This process's command line, for the lock file.
fn command_line() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = std::env::temp_dir().join(format!("brain-matrix-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = BotLock::acquire(&dir).unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts
        // like another process's would.
        let error = BotLock::acquire(&dir).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("one bot per brain"), "{text}");
        drop(first);
        let again = BotLock::acquire(&dir).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn holders_are_described_from_what_they_wrote() {
        assert_eq!(
            describe_holder("42\nbrain start\n"),
            "pid 42 (`brain start`)"
        );
        assert_eq!(describe_holder("42\n"), "pid 42");
        assert!(describe_holder("").starts_with("another process"));
    }
}
