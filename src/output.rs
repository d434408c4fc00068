//! Writing results without ever leaving a half-written file: each file is written to a
//! temporary name in the same folder, flushed to disk, then renamed over the target.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

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

/// Makes `dir` ready for a run: created if absent; refused if it holds files, unless
/// `force`.
pub fn prepare_dir(dir: &Path, force: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::Other(format!(
                "{}: the output path exists and is not a folder",
                dir.display()
            )));
        }
        let non_empty = fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(Error::Other(format!(
                "{}: the output folder is not empty (use --force to write into it anyway)",
                dir.display()
            )));
        }
    } else {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}
