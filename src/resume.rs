//! `infiltrate resume RUN_DIR`: continues a run from its newest usable checkpoint
//! (`crate::checkpoint`) through the same driver as a fresh run ([`crate::run::drive`]).
//!
//! Before anything is written it checks that `RUN_DIR/scenario.resolved.toml` is the
//! scenario the checkpoint was written from (hash; the differing lines are named), that
//! it loads back to the same values, and that the checkpoint lies on this program's
//! step plan (same time, to the bit). It then drops the rows of metrics.csv and
//! profile.csv after the checkpoint (a killed run may have written snapshots past it),
//! removes leftover temporary files, and continues.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::model::{Segment, StepPlan};
use crate::run::{self, Backend, Checkpointing, RunOptions, RunSummary, Start};
use crate::scenario::Time;
use crate::units::format_min;

pub use crate::run::Resumed;

/// How to resume.
#[derive(Debug, Clone)]
pub struct ResumeOptions {
    pub run_dir: PathBuf,
    /// A new end of the run, min (past the scenario's duration or before it).
    pub until_min: Option<f64>,
    /// The backend; `None`: the one that wrote the checkpoint.
    pub backend: Option<Backend>,
    pub adapter: Option<String>,
    /// A new checkpoint interval, min; `None`: the run's.
    pub every_min: Option<f64>,
    /// Where the run's lines go (appended to the folder's `run.log`).
    pub log: run::RunLog,
}

/// What resuming found, for the log line before the run continues.
pub struct Plan {
    pub prepared: run::Prepared,
    pub resumed: Resumed,
    pub checkpointing: Checkpointing,
    pub backend: Backend,
}

/// The comment line(s) `run` writes above the resolved scenario.
fn strip_comment(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with("# resolved by") {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    rest
}

/// The first lines where two resolved scenarios differ, for the refusal.
fn differences(file: &str, checkpoint: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (file.lines().collect(), checkpoint.lines().collect());
    let mut out = Vec::new();
    let mut section = "";
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if let Some(l) = x.filter(|l| l.starts_with('[')) {
            section = l;
        }
        if x != y {
            out.push(format!(
                "  {section} now `{}`, at the checkpoint `{}`",
                x.unwrap_or("(nothing)"),
                y.unwrap_or("(nothing)")
            ));
            if out.len() == 5 {
                out.push("  …".into());
                break;
            }
        }
    }
    out.join("\n")
}

/// Rows of a CSV (with a header) whose first column, a time in hours, is at most
/// `t_h`; the header kept.
fn keep_rows(text: &str, t_h: f64) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let keep = i == 0
            || line
                .split(',')
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|t| t <= t_h);
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The plan's segments ending at `until` instead of the scenario's duration: cut at
/// the cell step nearest `until`, or continued past it to the snapshots the scenario's
/// rules place there (`model::snapshot_schedule`, as `StepPlan::derive` does).
pub fn plan_until(plan: &mut StepPlan, time: &Time, doses: &[f64], until: f64) {
    let duration = time.duration_h * 60.0;
    let eps = 1e-12 * until.abs().max(1.0);
    if until < duration - eps {
        let mut kept = Vec::new();
        for s in &plan.segments {
            if s.t1() <= until + eps {
                kept.push(*s);
            } else {
                let m = ((until - s.t0) / s.dt).round().max(0.0) as u64;
                if m > 0 {
                    kept.push(Segment { steps: m, ..*s });
                }
                break;
            }
        }
        plan.segments = kept;
    } else if until > duration + eps {
        let t0 = plan.segments.last().map_or(0.0, |s| s.t1());
        let times = crate::model::snapshot_schedule(time, doses, t0, until);
        let more = crate::model::segments_between(t0, &times, plan.cell_dt);
        plan.segments.extend(more);
    }
}

/// Reads and checks everything a resume needs; writes nothing but the renaming of a
/// damaged checkpoint.
pub fn plan(opts: &ResumeOptions) -> Result<Plan> {
    let dir = &opts.run_dir;
    if !dir.is_dir() {
        return Err(Error::Other(format!(
            "{}: not a run folder (no such folder)",
            dir.display()
        )));
    }
    let (ck, path) = checkpoint::read_latest(dir)?;
    let h = &ck.header;
    let resolved_path = dir.join("scenario.resolved.toml");
    let text = fs::read_to_string(&resolved_path).map_err(|e| Error::io(&resolved_path, e))?;
    let body = strip_comment(&text);
    if run::fnv1a(body.as_bytes()) != h.scenario_hash {
        return Err(Error::Other(format!(
            "{}: the scenario has changed since the checkpoint {} was written \
             (hash {:016x}, checkpoint {:016x}); resume continues the same scenario only \
             (start a new run for a changed one). Differences:\n{}",
            resolved_path.display(),
            path.display(),
            run::fnv1a(body.as_bytes()),
            h.scenario_hash,
            differences(body, &h.resolved)
        )));
    }
    let version = env!("CARGO_PKG_VERSION");
    if h.program_version != version {
        eprintln!(
            "warning: the checkpoint was written by infiltrate {}, this is {version}",
            h.program_version
        );
    }
    let mut prepared = run::prepare(&resolved_path, run::Overrides::default())?;
    let again =
        toml::to_string(&prepared.loaded.scenario).map_err(|e| Error::Other(e.to_string()))?;
    if run::fnv1a(again.as_bytes()) != h.scenario_hash {
        return Err(Error::Other(format!(
            "{}: loads back to a different scenario in this program (infiltrate {version}; \
             the checkpoint is from {}):\n{}",
            resolved_path.display(),
            h.program_version,
            differences(&again, &h.resolved)
        )));
    }
    if prepared.geometry.dims != h.dims {
        return Err(Error::Other(format!(
            "{}: a {:?} grid; the scenario builds {:?}",
            path.display(),
            h.dims,
            prepared.geometry.dims
        )));
    }
    let t = &prepared.loaded.scenario.time;
    let until = opts.until_min.or(h.until_min);
    if let Some(u) = until {
        if u < h.time_min {
            return Err(Error::Other(format!(
                "--until {}: the checkpoint {} is already at t = {}",
                format_min(u),
                path.display(),
                format_min(h.time_min)
            )));
        }
        let doses = prepared.dosing.dose_times();
        plan_until(&mut prepared.plan, t, &doses, u);
    }
    // The checkpoint must lie on this plan, to the bit.
    let on_plan = prepared
        .plan
        .segments
        .get(h.segment as usize)
        .filter(|s| h.step <= s.steps && s.t0 + h.step as f64 * s.dt == h.time_min)
        .is_some()
        || (h.segment == 0 && h.step == 0 && h.time_min == 0.0);
    if !on_plan {
        return Err(Error::Other(format!(
            "{}: t = {} (cell step {} of snapshot interval {}) is not a step of this \
             program's step plan for the scenario (checkpoint from infiltrate {}, this \
             is {version})",
            path.display(),
            format_min(h.time_min),
            h.step,
            h.segment,
            h.program_version
        )));
    }
    let backend = match opts.backend {
        Some(b) => b,
        None => <Backend as clap::ValueEnum>::from_str(&h.backend, true).map_err(|_| {
            Error::Other(format!(
                "{}: written by backend `{}`, unknown here (give --backend)",
                path.display(),
                h.backend
            ))
        })?,
    };
    // Rows up to the checkpoint's time (half a cell step above it, as written in h).
    let half_step = prepared.plan.cell_dt / 2.0;
    let t_h = (h.time_min + half_step) / 60.0;
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        fs::read_to_string(&p).map_err(|e| Error::io(&p, e))
    };
    let metrics_csv = keep_rows(&read("metrics.csv")?, t_h);
    let profile_csv = keep_rows(&read("profile.csv")?, t_h);
    let kept = metrics_csv.lines().count().saturating_sub(1) as u64;
    if kept != h.snapshots {
        return Err(Error::Other(format!(
            "{}: {kept} snapshot rows up to t = {}; the checkpoint {} counts {}",
            dir.join("metrics.csv").display(),
            format_min(h.time_min),
            path.display(),
            h.snapshots
        )));
    }
    let checkpointing = Checkpointing {
        every_min: Some(opts.every_min.unwrap_or(h.every_min)),
        until_min: until,
    };
    Ok(Plan {
        prepared,
        resumed: Resumed {
            checkpoint: ck,
            path,
            metrics_csv,
            profile_csv,
        },
        checkpointing,
        backend,
    })
}

/// Continues a run on `selected` from what [`plan`] found: leftover temporary files
/// removed, then the driver from the checkpoint.
pub fn resume(plan: Plan, opts: &ResumeOptions, selected: run::Selected) -> Result<RunSummary> {
    // Held until the run ends: no other run, resume or `pictures` writes the folder.
    let _lock = crate::output::FolderLock::acquire(&opts.run_dir, "a resume")?;
    checkpoint::remove_temporaries(&opts.run_dir);
    let run_opts = RunOptions {
        out: opts.run_dir.clone(),
        backend: plan.backend,
        adapter: opts.adapter.clone(),
        force: true,
        log: opts.log.clone(),
        gpu: crate::gpu::GpuOptions::default(),
    };
    run::drive(
        plan.prepared,
        &run_opts,
        selected,
        Start::Resume(Box::new(plan.resumed)),
        &plan.checkpointing,
    )
}

/// The run folder's checkpoint state in one line (for logs).
pub fn describe(plan: &Plan) -> String {
    let h = &plan.resumed.checkpoint.header;
    let end = plan.prepared.plan.segments.last().map_or(0.0, |s| s.t1());
    format!(
        "resuming from {} (t = {}, cell step {}, written by the {} backend: {}) to t = {}",
        plan.resumed.path.display(),
        format_min(h.time_min),
        h.cell_steps,
        h.backend,
        h.solver,
        format_min(end)
    )
}

/// Whether a folder holds a resumable run (its checkpoint folder exists).
pub fn resumable(run_dir: &Path) -> bool {
    checkpoint::dir(run_dir).is_dir()
}
