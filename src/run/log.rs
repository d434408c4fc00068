//! What a run tells its user, said once: every line goes to the terminal (stderr, unless
//! quiet) and into the run folder's `run.log`. Lines said before the folder is ready
//! (the backend, warnings) are held and written first when it is; a run refused before
//! it starts writes no log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// A handle on a run's log; clones share it.
#[derive(Clone, Default)]
pub struct RunLog(Arc<Mutex<Inner>>);

#[derive(Default)]
struct Inner {
    /// Also print each line on stderr.
    echo: bool,
    /// Lines said before [`RunLog::attach`].
    pending: Vec<String>,
    /// `run.log`, once attached; dropped after a failed write (a log never stops a run).
    file: Option<File>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLog")
    }
}

/// The log file's name in a run folder.
pub const FILE: &str = "run.log";

impl RunLog {
    /// A log that prints on stderr too (`echo`) or only records (`--quiet`, tests).
    pub fn new(echo: bool) -> Self {
        RunLog(Arc::new(Mutex::new(Inner {
            echo,
            ..Inner::default()
        })))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while logging leaves the lines usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether lines are printed on stderr.
    pub fn echoes(&self) -> bool {
        self.inner().echo
    }

    /// Says a line: on stderr (if echoing) and in the log.
    pub fn line(&self, text: &str) {
        let echo = self.inner().echo;
        if echo {
            eprintln!("{text}");
        }
        self.record(text);
    }

    /// Puts a line into the log only (the terminal showed it another way, e.g. as a
    /// progress bar, or the caller prints it itself).
    pub fn record(&self, text: &str) {
        let mut inner = self.inner();
        match inner.file.as_mut() {
            Some(f) => {
                let ok = writeln!(f, "{text}").and_then(|()| f.flush());
                if ok.is_err() {
                    inner.file = None;
                }
            }
            None => inner.pending.push(text.to_string()),
        }
    }

    /// Opens `dir/run.log` (appended to when `append`, else started afresh) and writes
    /// `head`, then the lines held so far.
    pub fn attach(&self, dir: &Path, append: bool, head: &[String]) -> std::io::Result<()> {
        let path = dir.join(FILE);
        let mut f = if append {
            OpenOptions::new().create(true).append(true).open(&path)?
        } else {
            File::create(&path)?
        };
        let mut inner = self.inner();
        for l in head.iter().chain(&inner.pending) {
            writeln!(f, "{l}")?;
        }
        inner.pending.clear();
        f.flush()?;
        inner.file = Some(f);
        Ok(())
    }

    /// Whether the log has a file (the run has started).
    pub fn attached(&self) -> bool {
        self.inner().file.is_some()
    }

    /// Records an error that ends the run, if the run had started (the caller prints it).
    pub fn error(&self, text: &str) {
        if self.attached() {
            self.record(text);
        }
    }
}
