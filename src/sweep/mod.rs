//! Parameter sweeps: many runs of one base scenario over axes of scenario keys, run on
//! this machine ([`local`]) or as a Slurm job array ([`slurm`]), gathered into a table
//! and pictures ([`collect`]).
//!
//! A sweep folder holds:
//!
//! ```text
//! DIR/sweep.json                  the expanded sweep: axes, levels, points
//! DIR/points/NNNN-HASH/scenario.toml   a point's fully resolved scenario (no `extends`)
//! DIR/points/NNNN-HASH/run/       the run's outputs (summary.json last: finished)
//! DIR/points/NNNN-HASH/run.log    the run's stdout and stderr
//! DIR/points/NNNN-HASH/failed.json     written when the run failed (exit code, error)
//! DIR/slurm/                      job.sh, points.txt, logs/ (for `sweep slurm`)
//! DIR/sweep.csv, DIR/plots/       written by `sweep collect`
//! ```
//!
//! Points are run by spawning the `infiltrate` binary, so a failing point cannot take
//! the sweep down and CPU runs can go side by side.

pub mod cli;
pub mod collect;
pub mod estimate;
pub mod local;
pub mod slurm;
pub mod spec;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use spec::{Axis, Combine, Contrast, Edit, Level, Point, Sweep};

use crate::error::{Error, Result};
use crate::output::write_atomic;

/// The state of one point in a sweep folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `run/summary.json` exists (written last by a run).
    Finished,
    /// `failed.json` exists and the run has not finished since.
    Failed,
    /// Neither: not run yet, running, or stopped midway.
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::Failed => "failed",
            Status::Missing => "missing",
        }
    }
}

/// A point's folder.
pub fn point_dir(out: &Path, p: &Point) -> PathBuf {
    out.join("points").join(&p.dir)
}

/// A point's run output folder.
pub fn run_dir(out: &Path, p: &Point) -> PathBuf {
    point_dir(out, p).join("run")
}

/// Whether a point has finished, failed or neither.
pub fn status(out: &Path, p: &Point) -> Status {
    let d = point_dir(out, p);
    if d.join("run").join("summary.json").is_file() {
        Status::Finished
    } else if d.join("failed.json").is_file() {
        Status::Failed
    } else {
        Status::Missing
    }
}

/// What a failed point left: its exit code and the error line of its log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub exit_code: Option<i32>,
    pub error: String,
}

/// Reads a point's `failed.json` (the Slurm script writes only the exit code; the
/// error is then the log's last `error:` line).
pub fn failure(out: &Path, p: &Point) -> Option<Failure> {
    let d = point_dir(out, p);
    let text = std::fs::read_to_string(d.join("failed.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let exit_code = v
        .get("exit_code")
        .and_then(|c| c.as_i64())
        .map(|c| c as i32);
    let error = v
        .get("error")
        .and_then(|e| e.as_str())
        .map(str::to_string)
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| last_error_line(&d.join("run.log")));
    Some(Failure { exit_code, error })
}

/// The last line starting `error:` in a log, or its last non-empty line.
pub fn last_error_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no log)")
        .to_string()
}

/// The expanded sweep as written to `sweep.json`: enough to collect without the
/// sweep file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub sweep_file: String,
    pub base: String,
    pub axes: Vec<ManifestAxis>,
    pub seeds: Vec<u64>,
    pub points: Vec<Point>,
    #[serde(default)]
    pub contrast: Option<Contrast>,
    /// A hash of the base scenario's path and the sweep's `set`, which every point
    /// shares (point folder names hash only the axis values and seed).
    #[serde(default)]
    pub fingerprint: String,
}

/// One axis in `sweep.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestAxis {
    pub name: String,
    pub key: Option<String>,
    pub unit: String,
    pub labels: Vec<String>,
    pub numbers: Vec<Option<f64>>,
}

impl ManifestAxis {
    /// `name (unit)`, for plot axes.
    pub fn title(&self) -> String {
        if self.unit.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }
}

impl Manifest {
    pub fn of(s: &Sweep) -> Manifest {
        Manifest {
            name: s.name.clone(),
            sweep_file: s.file.display().to_string(),
            base: s.base.display().to_string(),
            axes: s
                .axes
                .iter()
                .map(|a| ManifestAxis {
                    name: a.name.clone(),
                    key: a.key.clone(),
                    unit: a.unit.clone(),
                    labels: a.levels.iter().map(|l| l.label.clone()).collect(),
                    numbers: a.levels.iter().map(|l| l.number).collect(),
                })
                .collect(),
            seeds: s.seeds.clone(),
            points: s.points.clone(),
            contrast: s.contrast.clone(),
            fingerprint: format!(
                "{:016x}",
                crate::run::fnv1a(
                    format!(
                        "{}\n{}",
                        s.base.display(),
                        toml::Value::Table(s.set.clone())
                    )
                    .as_bytes()
                )
            ),
        }
    }

    /// Reads `DIR/sweep.json`.
    pub fn read(out: &Path) -> Result<Manifest> {
        let path = out.join("sweep.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Other(format!(
                "{}: {e} (is this a sweep folder? `infiltrate sweep run` or `sweep slurm` writes it)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }
}

/// Writes the sweep folder: `sweep.json` and every point's resolved scenario. Refuses a
/// folder that holds a different sweep (other points), so results never mix. Points
/// that have finished are left as they are.
pub fn write_points(s: &Sweep, scenarios: &[crate::scenario::Loaded], out: &Path) -> Result<()> {
    let manifest = Manifest::of(s);
    if out.join("sweep.json").is_file() {
        let old = Manifest::read(out)?;
        let dirs = |m: &Manifest| m.points.iter().map(|p| p.dir.clone()).collect::<Vec<_>>();
        if dirs(&old) != dirs(&manifest) || old.fingerprint != manifest.fingerprint {
            return Err(Error::Other(format!(
                "{}: the folder holds a different sweep ({} points, from {}: other points, base or `set`); use a new folder",
                out.display(),
                old.points.len(),
                old.sweep_file
            )));
        }
    }
    std::fs::create_dir_all(out.join("points")).map_err(|e| Error::io(out, e))?;
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(&out.join("sweep.json"), json.as_bytes())?;
    for (p, loaded) in s.points.iter().zip(scenarios) {
        if status(out, p) == Status::Finished {
            continue;
        }
        let d = point_dir(out, p);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        let body = toml::to_string(&loaded.scenario).map_err(|e| Error::Other(e.to_string()))?;
        // The comment lines carry text the user gave (name, labels, paths) on one line
        // each; the scenario itself is written by the TOML serializer.
        let line = |t: String| crate::output::one_line(&t);
        let text = format!(
            "# point {} of the sweep {} ({}): {}\n# fully resolved from {}\n{body}",
            p.index,
            line(s.name.clone()),
            line(s.file.display().to_string()),
            line(s.describe_point(p)),
            line(s.base.display().to_string())
        );
        write_atomic(&d.join("scenario.toml"), text.as_bytes())?;
    }
    Ok(())
}
