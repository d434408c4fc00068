//! The driver of a run, fresh or resumed ([`drive`]): a start ([`Start`]: the scenario's
//! initial state, or a checkpoint's), then every segment of the plan from where the
//! start left off, stepped in parts at the checkpoints inside it, a snapshot at each
//! segment's end, and report.html and summary.json at the end. The starts, the splitting of segments
//! and the note a failure gets after a checkpoint are functions of their own here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{
    backend_name, check_fields, fnv1a, make_solver, probe, solver_description, start_log, Final,
    Prepared, Progress, Provenance, RunInfo, RunOptions, RunSummary, Selected,
};
use crate::budget;
use crate::dosing::Dosing;
use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::model::{Fields, Params};
use crate::output::{prepare_dir, write_atomic};
use crate::probe::Sums;
use crate::readout::{self, Metrics, Regions, Snapshot};
use crate::scenario::Loaded;
use crate::solver::Solver;
use crate::units::format_min;

/// Where [`drive`] starts a run.
pub enum Start {
    /// From the scenario's initial state: a new output folder, burn-in, K reset, the
    /// snapshot at time 0.
    Fresh,
    /// From a checkpoint, into its run folder (`crate::resume`).
    Resume(Box<Resumed>),
}

/// A checkpoint read back, with the outputs written up to it: what
/// [`drive`] starts from.
pub struct Resumed {
    pub checkpoint: crate::checkpoint::Checkpoint,
    /// The checkpoint file.
    pub path: PathBuf,
    /// metrics.csv and profile.csv up to and including the checkpoint's time.
    pub metrics_csv: String,
    pub profile_csv: String,
}

/// Checkpoints of a run (see `crate::checkpoint`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpointing {
    /// Simulated time between checkpoints, min; `None`: no checkpoints at all.
    pub every_min: Option<f64>,
    /// The end of the run when `infiltrate resume --until` moved it, min (recorded in
    /// each checkpoint, so that a later resume keeps it).
    pub until_min: Option<f64>,
}

/// The driver, for a fresh run and a resumed one alike: after the start (burn-in and
/// the snapshot at 0, or a checkpoint's state), every segment of `prep.plan` from
/// where the start left off, a snapshot at each segment's end (the same closure for
/// both), a checkpoint at each point of [`crate::checkpoint::schedule`], and
/// summary.json at the end. A segment with a checkpoint inside it is stepped in parts
/// with the times of the whole segment, so checkpointing never changes the results.
pub fn drive(
    prep: Prepared,
    opts: &RunOptions,
    selected: Selected,
    start: Start,
    checkpointing: &Checkpointing,
) -> Result<RunSummary> {
    let started = Instant::now();
    let provenance = Provenance::now();
    let warnings = prep.warnings();
    let Prepared {
        loaded,
        geometry,
        params,
        plan,
        dosing,
    } = prep;
    let s = &loaded.scenario;
    let resumed = match start {
        Start::Fresh => None,
        Start::Resume(r) => Some(*r),
    };
    // Checked before anything is made or written.
    let schedule = match checkpointing.every_min {
        Some(every) => crate::checkpoint::schedule(&plan, every)?,
        None => Default::default(),
    };
    // The solver first (a grid too large for the adapter fails here), then the output
    // folder: a run refused at the start writes nothing. A fresh run locks its folder
    // here, for as long as it runs (a resume has locked it before reading it).
    let Begun {
        mut solver,
        resolved,
        mut metrics_csv,
        mut profile_csv,
        at,
        lock,
    } = match resumed {
        None => begin_fresh(&loaded, &params, &geometry, &selected, opts, &provenance)?,
        Some(r) => begin_resumed(r, &params, &geometry, &selected, opts, &provenance)?,
    };
    let scenario_hash = fnv1a(resolved.as_bytes());

    let regions = Regions::new(&s.readout);
    let tol = s.numerics.quasi_steady_tolerance;
    let stepping = crate::solver::Schedule::new(&plan, &dosing, tol);
    let capacity = s.tumor.carrying_capacity_per_mm3;

    for w in &warnings {
        opts.log.line(&format!("warning: {w}"));
    }
    let total_steps = plan.total_cell_steps();
    let first_step = at.as_ref().map_or(0, |(h, _)| {
        plan.burn_in.steps
            + plan.segments[..h.segment as usize]
                .iter()
                .map(|s| s.steps)
                .sum::<u64>()
            + h.step
    });
    let end_min = plan.segments.last().map_or(0.0, |s| s.t1());
    let bar = Progress::new(&opts.log, first_step, total_steps, end_min);
    let snapshot_count = plan.segments.len() + 1;

    let mut pictures = crate::pictures::Pictures::new(
        &s.output,
        &geometry,
        &opts.out,
        &plan.snapshot_times(),
        crate::pictures::PlaneSpecies::of(&params),
        crate::pictures::Captions {
            run: run_title(&opts.out, &s.name),
            undosed: undosed_planes(&dosing),
        },
    );
    // The Zarr arrays, continued from the checkpoint's snapshots on resume.
    let mut arrays = crate::arrays::Arrays::new(
        &s.output,
        &geometry,
        &params,
        &opts.out,
        &plan.snapshot_times(),
        at.as_ref().map_or(0, |(h, _)| h.snapshots as usize),
    )?;
    // The budgets, continued from the checkpoint's state on resume (shared by the
    // snapshot and checkpoint closures).
    let ledger = std::cell::RefCell::new(budget::Ledger::new(&params, &dosing, capacity));
    if let Some((h, _)) = &at {
        ledger
            .borrow_mut()
            .restore(&h.ledger)
            .map_err(Error::Other)?;
    }
    let edges = regions.bin_edges();
    let labels = crate::probe::Labels::new(&geometry, &regions, &params);
    // Snapshot `index` (0 at the start of dosing) at `t_min`.
    let mut snap = |sums: &Sums,
                    index: usize,
                    t_min: f64,
                    n0: Option<f64>|
     -> Result<(Snapshot, budget::Row)> {
        let sn = readout::reduce(sums, &labels, &params, capacity, t_min / 60.0, n0);
        let rates = budget::Rates::from_sums(sums, &labels, &params, capacity);
        let row = ledger
            .borrow_mut()
            .record_rates(rates, (&sn.metrics).into(), t_min);
        metrics_csv.push_str(&sn.metrics.csv_row());
        metrics_csv.push(',');
        metrics_csv.push_str(&row.csv_row());
        metrics_csv.push_str(&readout::species_row(&sn));
        metrics_csv.push('\n');
        for (b, v) in sn.profile.iter().enumerate() {
            profile_csv.push_str(&format!(
                "{:.6},{},{},{v:.9e}\n",
                t_min / 60.0,
                edges[b],
                edges[b + 1]
            ));
        }
        write_atomic(&opts.out.join("metrics.csv"), metrics_csv.as_bytes())?;
        write_atomic(&opts.out.join("profile.csv"), profile_csv.as_bytes())?;
        let m = &sn.metrics;
        bar.snapshot(&format!(
            "snapshot {}/{snapshot_count} at t = {}: infiltration ratio {:.3}, killed fraction {:.4}",
            index + 1,
            format_min(t_min),
            m.infiltration_ratio,
            m.killed_fraction
        ));
        Ok((sn, row))
    };

    let mut last_checkpoint: Option<(PathBuf, f64)> =
        at.as_ref().map(|(h, path)| (path.clone(), h.time_min));
    // Writes a checkpoint of the state after cell step `m` of segment `i`.
    let mut checkpoint = |fields: &Fields,
                          steady: [crate::solver::SteadyState; 3],
                          (i, m): (usize, u64),
                          t_min: f64,
                          cell_steps: u64,
                          snapshots: usize,
                          n0: f64|
     -> Result<()> {
        let header = crate::checkpoint::Header {
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            backend: backend_name(selected.backend),
            solver: solver_description(&selected),
            resolved: resolved.clone(),
            ledger: ledger.borrow().save(),
            scenario_hash,
            every_min: checkpointing.every_min.unwrap_or(0.0),
            until_min: checkpointing.until_min,
            time_min: t_min,
            segment: i as u64,
            step: m,
            cell_steps,
            snapshots: snapshots as u64,
            n0,
            steady,
            dims: geometry.dims,
        };
        let path = crate::checkpoint::write(&opts.out, &header, fields)?;
        last_checkpoint = Some((path, t_min));
        Ok(())
    };

    let mut done = 0u64;
    let mut step_count = 0u64;
    let n0: f64;
    let mut last: Option<(Snapshot, budget::Row)> = None;
    let mut snapshots;
    let from: (usize, u64);
    match at {
        None => {
            // Untreated burn-in (negative time), then killed cells count from the start
            // of dosing.
            if plan.burn_in.steps > 0 {
                let seg = plan.burn_in;
                solver.advance(&seg, 0, &stepping, &mut |k| {
                    bar.tick(done + k, seg.t0 + k as f64 * seg.dt)
                })?;
                done += seg.steps;
                step_count += seg.steps;
            }
            // The burn-in's check, then the snapshot at time 0 with K reset.
            let mut start = probe(&mut *solver, &labels, &dosing, step_count, 0.0)?;
            solver.reset_killed()?;
            start.reset_killed();
            let first = snap(&start, 0, 0.0, None)?;
            from = (0, 0);
            // Every field is read back only for a checkpoint (and then serves the
            // ParaView file too).
            let fields = schedule
                .contains(&from)
                .then(|| solver.read_fields())
                .transpose()?;
            pictures.snapshot(&mut *solver, fields.as_ref(), 0.0, 0)?;
            if let Some(a) = &mut arrays {
                a.snapshot(&mut *solver, fields.as_ref(), 0.0, 0)?;
            }
            n0 = first.0.sum_n;
            last = Some(first);
            snapshots = 1;
            if let Some(fields) = fields {
                let steady = solver.steady_records();
                checkpoint(&fields, steady, from, 0.0, step_count, snapshots, n0)?;
            }
        }
        Some((h, _)) => {
            from = (h.segment as usize, h.step);
            step_count = h.cell_steps;
            snapshots = h.snapshots as usize;
            n0 = h.n0;
            done = plan.burn_in.steps
                + plan.segments[..from.0].iter().map(|s| s.steps).sum::<u64>()
                + from.1;
        }
    }
    let stepped = (|| -> Result<()> {
        for (i, seg) in plan.segments.iter().enumerate().skip(from.0) {
            let seg = *seg;
            let mut m = if i == from.0 { from.1 } else { 0 };
            if m >= seg.steps {
                // Resumed at the segment's end: its snapshot is written.
                continue;
            }
            let base = done - m;
            for stop in parts(&schedule, i, m, seg.steps) {
                let part = crate::model::Segment { steps: stop, ..seg };
                solver.advance(&part, m, &stepping, &mut |k| {
                    bar.tick(base + k, seg.t0 + k as f64 * seg.dt)
                })?;
                step_count += stop - m;
                done += stop - m;
                m = stop;
                let t = seg.t0 + m as f64 * seg.dt;
                let sums = probe(&mut *solver, &labels, &dosing, step_count, t)?;
                let fields = schedule
                    .contains(&(i, m))
                    .then(|| solver.read_fields())
                    .transpose()?;
                if m == seg.steps {
                    last = Some(snap(&sums, snapshots, t, Some(n0))?);
                    pictures.snapshot(&mut *solver, fields.as_ref(), t, snapshots)?;
                    if let Some(a) = &mut arrays {
                        a.snapshot(&mut *solver, fields.as_ref(), t, snapshots)?;
                    }
                    snapshots += 1;
                }
                if let Some(fields) = fields {
                    let steady = solver.steady_records();
                    checkpoint(&fields, steady, (i, m), t, step_count, snapshots, n0)?;
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = stepped {
        return Err(with_checkpoint_note(e, last_checkpoint.as_ref(), &opts.out));
    }
    bar.finish();
    pictures.finish()?;
    // A run resumed at its end has no new snapshot: the last one is its state.
    let last = match last {
        Some(l) => l,
        None => {
            let t = plan.segments.last().map_or(0.0, |s| s.t1());
            let sums = solver.sums(&labels, budget::bath_levels(&dosing, t))?;
            let sn = readout::reduce(&sums, &labels, &params, capacity, t / 60.0, Some(n0));
            (sn, ledger.borrow().last_row())
        }
    };

    let info = selected.adapter.as_ref().map(|a| a.get_info());
    let summary = RunSummary {
        at_end: Final {
            metrics: last.0.metrics,
            budget: last.1,
        },
        time_integrated: ledger.borrow().time_integrated(),
        run: RunInfo {
            scenario: loaded.path().display().to_string(),
            name: s.name.clone(),
            provenance,
            scenario_hash: format!("{scenario_hash:016x}"),
            backend: selected.backend,
            solver: solver.describe(),
            adapter: info.as_ref().map(|i| i.name.clone()),
            driver: info
                .as_ref()
                .map(|i| format!("{} {}", i.driver, i.driver_info).trim().to_string()),
            threads: rayon::current_num_threads(),
            wall_time_s: started.elapsed().as_secs_f64(),
            cell_steps: step_count,
            snapshots,
        },
    };
    let value = serde_json::to_value(&summary).map_err(|e| Error::Other(e.to_string()))?;
    // The page of the finished run, then summary.json, written last (a finished run).
    super::report::write_with(&opts.out, &value)?;
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(&opts.out.join("summary.json"), json.as_bytes())?;
    drop(lock);
    Ok(summary)
}

/// What a start leaves the driver: the solver (with the start's state), the resolved
/// scenario as written, metrics.csv and profile.csv so far, the checkpoint resumed from
/// (its header and file), and a fresh run's folder lock.
struct Begun {
    solver: Box<dyn Solver>,
    resolved: String,
    metrics_csv: String,
    profile_csv: String,
    at: Option<(crate::checkpoint::Header, PathBuf)>,
    lock: Option<crate::output::FolderLock>,
}

/// A fresh start: the solver from the initial state, then the output folder (locked,
/// emptied of checkpoints and pictures), the log's header, scenario.resolved.toml and
/// the CSV headers.
fn begin_fresh(
    loaded: &Loaded,
    params: &Params,
    geometry: &Geometry,
    selected: &Selected,
    opts: &RunOptions,
    provenance: &Provenance,
) -> Result<Begun> {
    let s = &loaded.scenario;
    let table = crate::model::initial_per_class(s, params);
    let initial = crate::gpu::Initial::PerClass(&table);
    let solver = make_solver(selected, params, &geometry.class, initial, opts.gpu)?;
    let lock = prepare_dir(&opts.out, opts.force)?;
    crate::checkpoint::clear(&opts.out)?;
    crate::pictures::clear(&opts.out)?;
    crate::arrays::clear(&opts.out)?;
    start_log(&opts.log, &opts.out, false, provenance)?;
    let resolved = toml::to_string(s).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(
        &opts.out.join("scenario.resolved.toml"),
        format!(
            "# resolved by infiltrate {} from {}\n{resolved}",
            env!("CARGO_PKG_VERSION"),
            crate::output::one_line(&loaded.path().display().to_string())
        )
        .as_bytes(),
    )?;
    let metrics_csv = format!(
        "{},{}{}\n",
        Metrics::CSV_HEADER,
        budget::Row::CSV_HEADER,
        readout::species_header(params)
    );
    let profile_csv = String::from("time_h,distance_lo_um,distance_hi_um,t_mean_per_mm3\n");
    Ok(Begun {
        solver,
        resolved,
        metrics_csv,
        profile_csv,
        at: None,
        lock: Some(lock),
    })
}

/// A resumed start: the checkpoint's fields (their species named, checked for bad
/// values) and quasi-steady records into a new solver, the log continued, the CSV text
/// up to the checkpoint.
fn begin_resumed(
    r: Resumed,
    params: &Params,
    geometry: &Geometry,
    selected: &Selected,
    opts: &RunOptions,
    provenance: &Provenance,
) -> Result<Begun> {
    let mut checkpoint = r.checkpoint;
    checkpoint.name_species(params)?;
    let crate::checkpoint::Checkpoint { header, fields } = checkpoint;
    check_fields(&fields, header.cell_steps, header.time_min)?;
    let initial = crate::gpu::Initial::Fields(&fields);
    let mut solver = make_solver(selected, params, &geometry.class, initial, opts.gpu)?;
    solver.set_steady_records(header.steady);
    start_log(&opts.log, &opts.out, true, provenance)?;
    Ok(Begun {
        solver,
        resolved: header.resolved.clone(),
        metrics_csv: r.metrics_csv,
        profile_csv: r.profile_csv,
        at: Some((header, r.path)),
        lock: None,
    })
}

/// Where segment `i` is stepped in parts from cell step `m`: the steps of the
/// checkpoints inside it (after `m`), then its end, `steps`.
fn parts(schedule: &BTreeSet<(usize, u64)>, i: usize, m: u64, steps: u64) -> Vec<u64> {
    schedule
        .range((i, m + 1)..(i, steps))
        .map(|&(_, k)| k)
        .chain(std::iter::once(steps))
        .collect()
}

/// A failure after a checkpoint was written, with a note naming that checkpoint and the
/// command that continues from it.
fn with_checkpoint_note(e: Error, last: Option<&(PathBuf, f64)>, out: &Path) -> Error {
    let Some((path, t)) = last else { return e };
    let note = format!(
        "the last good checkpoint (t = {}, {}) is intact: `infiltrate resume {}` continues \
         from it",
        format_min(*t),
        path.display(),
        out.display()
    );
    match e {
        Error::Numerical(m) => Error::Numerical(format!("{m}; {note}")),
        e => Error::Other(format!("{e}; {note}")),
    }
}

/// The run's name and the scenario file it was resolved from (the first line of the
/// run folder's `scenario.resolved.toml`, so that a resumed run says the same), for the
/// pictures' titles: `slice, AMD3100 (scenarios/slice/amd3100.toml)`.
fn run_title(out: &Path, name: &str) -> String {
    let resolved = std::fs::read_to_string(out.join("scenario.resolved.toml")).unwrap_or_default();
    let from = resolved
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# resolved by infiltrate "))
        .and_then(|l| l.split_once(" from "))
        .map(|(_, p)| p.trim().to_string());
    match (name.trim(), from) {
        ("", Some(p)) => p,
        (n, Some(p)) => format!("{n} ({p})"),
        (n, None) => n.to_string(),
    }
}

/// The stored planes of the drugs no treatment of the run doses.
fn undosed_planes(dosing: &Dosing) -> Vec<String> {
    use crate::model::Field;
    [(0, Field::Amd3100), (1, Field::AntiPd1)]
        .into_iter()
        .filter(|(d, _)| !dosing.boluses[*d].iter().flatten().any(|b| b.peak != 0.0))
        .map(|(_, f)| f.info().plane.to_string())
        .collect()
}
