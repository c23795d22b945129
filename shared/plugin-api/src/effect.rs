//! Durable side effects a job stages instead of performing them: the queue applies them
//! only for the run whose completion commits — a run whose lease was taken over (its
//! process was paused past the lease, say) never touches the files another run owns — and
//! applies them again at the next start if the process stopped between the commit and
//! the apply. Every effect is idempotent, so applying one twice changes nothing.
//!
//! Plugins stage effects with [`crate::JobContext::stage`]; the queue stores them with the
//! completion (a transactional outbox) and calls [`SideEffect::apply`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One durable change to the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideEffect {
    /// Writes `bytes` to `path` atomically — a temporary file beside it, synced, then
    /// renamed over it — creating its folder.
    WriteFile { path: PathBuf, bytes: Vec<u8> },
    /// Removes the file at `path` (gone already is fine).
    RemoveFile { path: PathBuf },
    /// Removes the folder at `path` if it is empty (a folder that still holds anything, or
    /// none at all, is fine).
    RemoveEmptyDir { path: PathBuf },
    /// Puts the folder `from` at `to` in one step — exchanged with what is there, so `to`
    /// holds the old folder or the new one at every instant — then removes the old one.
    /// `from` gone already means it was applied.
    ReplaceDir { from: PathBuf, to: PathBuf },
}

impl SideEffect {
    /// A short name for the kind, as the queue stores it.
    pub fn kind(&self) -> &'static str {
        match self {
            SideEffect::WriteFile { .. } => "write",
            SideEffect::RemoveFile { .. } => "remove",
            SideEffect::RemoveEmptyDir { .. } => "remove-empty-dir",
            SideEffect::ReplaceDir { .. } => "replace-dir",
        }
    }

    /// The path it changes.
    pub fn path(&self) -> &Path {
        match self {
            SideEffect::WriteFile { path, .. }
            | SideEffect::RemoveFile { path }
            | SideEffect::RemoveEmptyDir { path } => path,
            SideEffect::ReplaceDir { to, .. } => to,
        }
    }

    /// Applies it; applying it again afterwards changes nothing.
    pub fn apply(&self) -> io::Result<()> {
        match self {
            SideEffect::WriteFile { path, bytes } => write_atomic(path, bytes),
            SideEffect::RemoveFile { path } => match std::fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            SideEffect::RemoveEmptyDir { path } => {
                // Refused when not empty, or gone: both leave what must stay.
                let _ = std::fs::remove_dir(path);
                Ok(())
            }
            SideEffect::ReplaceDir { from, to } => replace_dir(from, to),
        }
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`: readers see
/// the old file or the new one, never a mix, and a crash leaves at worst a stray `.tmp-`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a file path has a parent"))?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        // Durable before it becomes visible: a rename of an unsynced file can survive a
        // power cut as an empty file.
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// A suffix no other writer in this or another process picks at the same moment.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A tag naming this process, for folders it leaves while it works (a build folder waiting
/// for its swap): `p<pid>n<pid namespace>b<boot id>`, letters and digits only. See
/// [`tagged_process_gone`].
pub fn process_tag() -> String {
    process_tag_for(std::process::id())
}

/// The tag [`process_tag`] gives process `pid` of this namespace and boot.
pub fn process_tag_for(pid: u32) -> String {
    format!("p{pid}n{}b{}", pid_namespace(), boot_id())
}

/// Whether the process a tag names is gone: `Some(true)` when it ran in this pid namespace
/// and boot and no such process exists, `Some(false)` when it runs, `None` when it cannot be
/// told (another namespace or boot — a container sharing the folder — or no tag).
pub fn tagged_process_gone(tag: &str) -> Option<bool> {
    let rest = tag.strip_prefix('p')?;
    let (pid, rest) = rest.split_once('n')?;
    let (namespace, boot) = rest.split_once('b')?;
    let pid: u32 = pid.parse().ok()?;
    if namespace != pid_namespace() || boot != boot_id() {
        return None;
    }
    Some(!Path::new("/proc").join(pid.to_string()).exists())
}

/// The pid namespace's inode number ("0" where there is no /proc).
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|link| {
            link.to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_else(|| "0".to_owned())
}

/// The first 8 hex digits of the boot id ("0" where there is none).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.chars().filter(char::is_ascii_hexdigit).take(8).collect())
        .unwrap_or_else(|| "0".to_owned())
}

/// [`SideEffect::ReplaceDir`]: an atomic exchange where the system has one (Linux
/// `renameat2(RENAME_EXCHANGE)`), else the old folder renamed away and the new one in.
fn replace_dir(from: &Path, to: &Path) -> io::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if !to.exists() {
        return std::fs::rename(from, to);
    }
    if exchange(from, to)? {
        // `from` now holds the old folder.
        return remove_dir_quietly(from);
    }
    let old = to.with_file_name(format!(
        ".{}.old-{}",
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        unique_suffix()
    ));
    std::fs::rename(to, &old)?;
    if let Err(error) = std::fs::rename(from, to) {
        let _ = std::fs::rename(&old, to);
        return Err(error);
    }
    remove_dir_quietly(&old)
}

fn remove_dir_quietly(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Exchanges two paths atomically; `Ok(false)` where the system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // Not supported by the kernel or this file system.
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_tells_a_live_process_from_a_gone_one() {
        assert_eq!(tagged_process_gone(&process_tag()), Some(false));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(tagged_process_gone(&process_tag_for(pid)), Some(true));
        let foreign = process_tag().replacen('n', "n9", 1);
        assert_eq!(tagged_process_gone(&foreign), None, "another namespace");
        assert_eq!(tagged_process_gone("build"), None);
        assert!(process_tag().chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn effects_apply_and_apply_again_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("content/landing/hero.md");
        let write = SideEffect::WriteFile {
            path: file.clone(),
            bytes: b"hello".to_vec(),
        };
        write.apply().unwrap();
        write.apply().unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"hello");
        let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");

        let remove = SideEffect::RemoveFile { path: file.clone() };
        remove.apply().unwrap();
        remove.apply().unwrap();
        assert!(!file.exists());

        // An empty folder goes; one that holds anything stays.
        let route = file.parent().unwrap().to_owned();
        let sibling = route.parent().unwrap().join("about/text.md");
        write.apply().unwrap();
        SideEffect::WriteFile {
            path: sibling.clone(),
            bytes: b"x".to_vec(),
        }
        .apply()
        .unwrap();
        let prune = SideEffect::RemoveEmptyDir {
            path: route.clone(),
        };
        prune.apply().unwrap();
        assert!(route.is_dir(), "it still holds hero.md");
        remove.apply().unwrap();
        prune.apply().unwrap();
        prune.apply().unwrap();
        assert!(!route.exists());
        assert!(sibling.exists());
    }

    #[test]
    fn a_folder_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("dist/preview");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("index.html"), "old").unwrap();
        let build = dir.path().join("dist/.build-1");
        std::fs::create_dir_all(&build).unwrap();
        std::fs::write(build.join("index.html"), "new").unwrap();
        let replace = SideEffect::ReplaceDir {
            from: build.clone(),
            to: site.clone(),
        };
        replace.apply().unwrap();
        assert_eq!(
            std::fs::read_to_string(site.join("index.html")).unwrap(),
            "new"
        );
        assert!(!build.exists(), "the old site is removed");
        replace.apply().unwrap();
        assert_eq!(
            std::fs::read_to_string(site.join("index.html")).unwrap(),
            "new"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path().join("dist"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["preview"], "nothing left beside it");

        // Nothing there yet: a plain rename.
        let fresh = dir.path().join("dist/.build-2");
        std::fs::create_dir_all(&fresh).unwrap();
        let production = dir.path().join("dist/production");
        SideEffect::ReplaceDir {
            from: fresh,
            to: production.clone(),
        }
        .apply()
        .unwrap();
        assert!(production.is_dir());
    }
}
