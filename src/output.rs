//! Writing results without ever leaving a half-written file: each file is written to a
//! temporary name in the same folder, flushed to disk, then renamed over the target.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Which of the snapshots at `times_min` an optional output is written at, if it is
/// `on`: the last one, and with an interval `every_h` also the first one and each one
/// that passes a multiple of the interval (the `.vti` files' and the arrays' rule).
pub fn due_snapshots(on: bool, every_h: Option<f64>, times_min: &[f64]) -> Vec<bool> {
    let n = times_min.len();
    (0..n)
        .map(|i| {
            on && (i + 1 == n
                || every_h.is_some_and(|every_h| {
                    let k = |t: f64| (t / (every_h * 60.0) + 1e-9).floor();
                    i == 0 || k(times_min[i]) > k(times_min[i - 1])
                }))
        })
        .collect()
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Writes what `write` produces to `path` atomically (temporary file, fsync, rename),
/// streamed through a buffer: for files too large to hold in memory. If `write` fails,
/// the temporary file is removed and `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let res = (|| {
        let f = fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, f);
        if let Some(e) = injected_failure() {
            // As a full disk would: part of the file written, then the error.
            let _ = buf.write_all(b"partial");
            return Err(Error::io(path, e));
        }
        write(&mut buf)?;
        let io = |e| Error::io(path, e);
        let f = buf.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        // The rename reaches the disk with the folder (best effort: some file systems
        // cannot sync a folder, and the file itself is complete either way).
        let folder = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let _ = fs::File::open(folder).and_then(|d| d.sync_all());
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The environment variable of the write-failure test hook: `INFILTRATE_FAIL_WRITE=N`
/// makes the N-th atomic write of the process (1-based; results and checkpoints alike)
/// fail as a full disk would (`ENOSPC`), after half its bytes reached the temporary
/// file. For tests of crash safety; unset in normal use.
pub const FAIL_WRITE_ENV: &str = "INFILTRATE_FAIL_WRITE";

/// Counts an atomic write and returns the injected failure if [`FAIL_WRITE_ENV`] names
/// this one.
pub fn injected_failure() -> Option<std::io::Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static FAIL_AT: OnceLock<Option<u64>> = OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let at = (*FAIL_AT.get_or_init(|| std::env::var(FAIL_WRITE_ENV).ok()?.trim().parse().ok()))?;
    let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    // ENOSPC: "No space left on device".
    (n == at).then(|| std::io::Error::from_raw_os_error(28))
}

/// Makes `dir` ready for a run and locks it ([`FolderLock`]): created if absent; refused
/// if another process holds it, or if it holds files (its lock file aside) unless
/// `force`.
pub fn prepare_dir(dir: &Path, force: bool) -> Result<FolderLock> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::Other(format!(
                "{}: the output path exists and is not a folder",
                dir.display()
            )));
        }
    } else {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let non_empty = || -> Result<bool> {
        Ok(fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name() != LOCK_FILE))
    };
    let refuse = || {
        Error::Other(format!(
            "{}: the output folder is not empty (use --force to write into it anyway)",
            dir.display()
        ))
    };
    // Refused before anything is written into a folder of the user's.
    if !force && non_empty()? {
        return Err(refuse());
    }
    let lock = FolderLock::acquire(dir, "a run")?;
    // Written into since the first look (another process's start).
    if !force && non_empty()? {
        return Err(refuse());
    }
    Ok(lock)
}

/// Text for one line of a comment in a generated file (a TOML or shell `#` line): line
/// breaks and other control characters written as escapes (`\n`), so that text a user
/// gave (a name, a label, a path) can never start a line of its own.
pub fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The lock file of an output folder.
pub const LOCK_FILE: &str = ".infiltrate.lock";

/// An output folder held by this process: an OS lock on `DIR/.infiltrate.lock` (released
/// when this is dropped, when the process exits, and when it is killed), so that two
/// runs, a run and a resume, or a run and `pictures`, never write one folder at once.
/// The file holds the holder's PID and start time, for the refusal.
#[derive(Debug)]
pub struct FolderLock {
    _file: fs::File,
}

impl FolderLock {
    /// Locks `dir` (which must exist) for `what` (`a run`, `pictures`, …), or refuses,
    /// naming the process that holds it.
    pub fn acquire(dir: &Path, what: &str) -> Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(Error::Other(format!(
                    "{}: the folder is in use by another infiltrate process ({}); {what} \
                     waits for it to end, or use another folder",
                    dir.display(),
                    if holder.is_empty() {
                        "it has not said which".to_string()
                    } else {
                        holder.to_string()
                    }
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let mut f = &file;
        let note = format!(
            "PID {}, {}, started {}\n",
            std::process::id(),
            what,
            crate::units::rfc3339(std::time::SystemTime::now())
        );
        let wrote = f
            .set_len(0)
            .and_then(|()| f.write_all(note.as_bytes()))
            .and_then(|()| f.flush());
        wrote.map_err(|e| Error::io(&path, e))?;
        Ok(FolderLock { _file: file })
    }
}
