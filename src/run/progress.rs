//! Progress of a run: on a terminal a bar (simulated time, steps/s, ETA), shown once the
//! run has taken a second; off a terminal (batch jobs, `nohup`, sweep points) a plain
//! line every [`EVERY`] of wall time; and in `run.log` the plain lines either way, plus
//! one per snapshot.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::log::RunLog;
use crate::units::format_min;

/// Wall time between plain progress lines.
pub const EVERY: Duration = Duration::from_secs(10);

/// A run's progress over `total` cell steps, `first` of which were done before this
/// process started (a resume).
pub struct Progress {
    bar: Option<ProgressBar>,
    log: RunLog,
    start: Instant,
    first: u64,
    total: u64,
    end_min: f64,
    /// When the last plain line was written, and the cell step then.
    last_line: Cell<(Instant, u64)>,
    pos: Cell<(u64, f64)>,
}

impl Progress {
    /// `end_min`: the simulated time the run ends at.
    pub fn new(log: &RunLog, first: u64, total: u64, end_min: f64) -> Self {
        let bar = (log.echoes() && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} cell steps  t = {msg}  {per_sec}  ETA {eta}",
                )
                .expect("progress template is valid"),
            );
            bar.set_position(first);
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            log: log.clone(),
            start: now,
            first,
            total,
            end_min,
            last_line: Cell::new((now, first)),
            pos: Cell::new((first, 0.0)),
        }
    }

    /// Cell step `pos` (of the whole run) is done; the simulated time is `t_min`.
    pub fn tick(&self, pos: u64, t_min: f64) {
        self.pos.set((pos, t_min));
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.start.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(pos);
            bar.set_message(format!("{:.2} h", t_min / 60.0));
        }
        if self.last_line.get().0.elapsed() >= EVERY {
            self.plain(&self.status());
        }
    }

    /// A line at a snapshot: its number, time and readouts, then where the run stands.
    pub fn snapshot(&self, text: &str) {
        self.plain(&format!("{text}  [{}]", self.status()));
    }

    /// A line that must not be garbled by the bar (a warning during the run).
    pub fn say(&self, text: &str) {
        match &self.bar {
            Some(bar) => {
                bar.suspend(|| eprintln!("{text}"));
                self.log.record(text);
            }
            None => self.log.line(text),
        }
    }

    /// A plain progress line: in the log always, on stderr when no bar shows.
    fn plain(&self, text: &str) {
        self.last_line.set((Instant::now(), self.pos.get().0));
        match &self.bar {
            Some(_) => self.log.record(text),
            None => self.log.line(text),
        }
    }

    /// Where the run stands: simulated time, cell steps, rate, elapsed time and ETA. The
    /// rate is that since the last plain line (a cell step's cost changes as drugs are
    /// dosed), or since the start when that was under a second ago.
    fn status(&self) -> String {
        let (pos, t) = self.pos.get();
        let secs = self.start.elapsed().as_secs_f64();
        let (since, at) = self.last_line.get();
        let recent = since.elapsed().as_secs_f64();
        let rate = if recent >= 1.0 && pos > at {
            (pos - at) as f64 / recent
        } else if secs > 0.0 {
            pos.saturating_sub(self.first) as f64 / secs
        } else {
            0.0
        };
        let left = self.total.saturating_sub(pos);
        let eta = if rate > 0.0 {
            crate::units::human_secs(left as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "t = {} of {}, cell step {pos}/{} ({:.1} %), {} steps/s, elapsed {}, ETA {eta}",
            format_min(t),
            format_min(self.end_min),
            self.total,
            100.0 * pos as f64 / self.total.max(1) as f64,
            crate::units::significant(rate, 3),
            crate::units::human_secs(secs)
        )
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
