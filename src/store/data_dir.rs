//! Start-up check of the configured `data_dir` (where `journal.sqlite3` lives): it must
//! be a directory that exists, or can be created, and that this process can write —
//! checked by `check-config` and before `run` binds any port, so a bad directory is a
//! configuration error (exit 1) naming `data_dir`, not a failure later on.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why `data_dir` is unusable.
#[derive(Debug, thiserror::Error)]
#[error("data_dir {}: {what} {}: {source}", path.display(), at.display())]
pub struct DataDirError {
    /// The configured directory.
    pub path: PathBuf,
    /// What failed (`cannot create`, `cannot write a file in`, `not a directory:`).
    pub what: &'static str,
    /// Where it failed: the directory itself or, for a missing one, its nearest
    /// existing ancestor.
    pub at: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

/// Checks that `dir` is a writable directory. With `create`, a missing `dir` (and its
/// parents) is created; without, a missing `dir` passes when its nearest existing
/// ancestor is a writable directory (so `check-config` changes nothing on disk).
/// Writability is proven by creating and removing a probe file.
///
/// # Errors
/// [`DataDirError`] naming the directory and what failed.
pub fn check_data_dir(dir: &Path, create: bool) -> Result<(), DataDirError> {
    let err = |at: &Path, what, source| DataDirError {
        path: dir.to_owned(),
        what,
        at: at.to_owned(),
        source,
    };
    let target = if dir.exists() || create {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, "cannot create", e))?;
        dir.to_owned()
    } else {
        // Nearest existing ancestor: where create_dir_all would start.
        let mut a = dir;
        loop {
            match a.parent() {
                Some(p) if !p.as_os_str().is_empty() => {
                    a = p;
                    if a.exists() {
                        break a.to_owned();
                    }
                }
                _ => break PathBuf::from("."),
            }
        }
    };
    if !target.is_dir() {
        return Err(err(
            &target,
            "not a directory:",
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        ));
    }
    let probe = target.join(format!(".answerpoint-write-check-{}", std::process::id()));
    let written = std::fs::File::create(&probe).and_then(|mut f| f.write_all(b"ok"));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| err(&target, "cannot write a file in", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_creatable_and_impossible_directories() {
        let base = std::env::temp_dir().join(format!("data-dir-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        // Missing but creatable: passes without creating when create = false.
        let sub = base.join("a/b");
        check_data_dir(&sub, false).unwrap();
        assert!(!base.exists());
        check_data_dir(&sub, true).unwrap();
        assert!(sub.is_dir());
        // No probe file is left behind.
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 0);
        // A file where a directory should be.
        let file = base.join("file");
        std::fs::write(&file, "x").unwrap();
        let e = check_data_dir(&file, false).unwrap_err();
        assert_eq!(e.what, "cannot create"); // create_dir_all on a file
        assert!(check_data_dir(&file.join("below"), true).is_err());
        // /proc cannot hold new directories.
        let e = check_data_dir(Path::new("/proc/nonexistent"), true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("data_dir /proc/nonexistent: cannot create /proc/nonexistent: "),
            "{e}"
        );
        let e = check_data_dir(Path::new("/proc/nonexistent"), false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("data_dir /proc/nonexistent: cannot write a file in /proc: "),
            "{e}"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
