//! `infiltrate check` as a researcher plans with it: the dosing timeline, the work
//! counted as the solvers do it (skipped sub-steps of undosed drugs, quasi-steady solves
//! counted by the solver's own test, their iterations estimated within a factor of two
//! of what the CPU solver takes), the wall-time estimate, and the warnings (quasi-steady
//! slower than explicit, work far beyond the shipped scenarios', parameters outside the
//! ranges `docs/parameters.md` gives, which this file holds to the code's table).

mod common;

use common::{root, small_slice, text};

use std::path::Path;
use std::process::Command;

use infiltrate::dosing::Dosing;
use infiltrate::model::{Params, StepPlan, CHEMICALS};
use infiltrate::run::check::{SHIPPED_MOST_CELL_STEPS, SHIPPED_MOST_UPDATES};
use infiltrate::run::{self, Backend, Overrides, Prepared};
use infiltrate::scenario::Chemical;
use infiltrate::solver::{advance_steps_from, dormant, Schedule, SteadyState, Stepper, SubStep};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infiltrate"))
}

fn prepare(dir: &Path, name: &str, toml: &str) -> Prepared {
    let path = dir.join(name);
    std::fs::write(&path, toml).unwrap();
    run::prepare(&path, Overrides::default()).unwrap()
}

/// A small slice (20 × 16 × 12 voxels of 10 µm) with AMD3100 solved quasi-steadily
/// from a bath bolus of 1 µM at 0 h, decaying with `half_life` (h; None: a constant
/// level), and anti-PD-1 dosed at 1 h.
fn bolus_slice(duration_h: f64, half_life: Option<f64>) -> String {
    let base = small_slice("AMD3100 bath bolus, quasi-steady", [20, 16, 12], "");
    let cut = base.find("[[treatment]]").unwrap();
    let form = match half_life {
        Some(h) => format!("half_life_h = {h}\ndoses = [{{ at_h = 0.0, peak_uM = 1.0 }}]"),
        None => "level_uM = 1.0\nstart_h = 0.0".to_string(),
    };
    format!(
        "{}[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\n{form}\n\n[[treatment]]\n\
         drug = \"anti_pd1\"\nroute = \"bath\"\nlevel_nM = 68.5\nstart_h = 1.0\n",
        base[..cut].replace("duration_h = 3.0", &format!("duration_h = {duration_h}"))
    )
}

/// Steps every segment of a prepared run on the CPU solver; returns its quasi-steady
/// records and the wall time, s.
fn run_cpu(prep: &Prepared) -> ([SteadyState; 3], f64) {
    let selected = run::choose_backend(Backend::Cpu, None).unwrap();
    let table = infiltrate::model::initial_per_class(&prep.loaded.scenario, &prep.params);
    let mut solver = run::make_solver(
        &selected,
        &prep.params,
        &prep.geometry.class,
        infiltrate::gpu::Initial::PerClass(&table),
        Default::default(),
    )
    .unwrap();
    let tol = prep.loaded.scenario.numerics.quasi_steady_tolerance;
    let start = std::time::Instant::now();
    for seg in std::iter::once(&prep.plan.burn_in).chain(&prep.plan.segments) {
        solver
            .advance(
                seg,
                0,
                &Schedule::new(&prep.plan, &prep.dosing, tol),
                &mut |_| {},
            )
            .unwrap();
    }
    (solver.steady_records(), start.elapsed().as_secs_f64())
}

/// A decaying AMD3100 bath bolus (half-life 4 h) solved quasi-steadily over 1.5 h on the
/// 20 × 16 × 12 slice, against the same run with a constant bath level:
/// - the times the field is set (a pass each) are counted exactly by the estimate: one
///   per cell step for the bolus, one for the constant level;
/// - both solve one response (the bath pattern; the slice is not perfused), whose
///   conjugate-gradient iterations the estimate gives within a factor of two;
/// - the bolus costs at most 1.5× the constant level in grid sweeps (cell steps,
///   explicit sub-steps, response iterations × `SWEEPS_PER_ITERATION`, settings), as
///   the solver counted them (the wall times are printed);
/// - `check` calls the approximation valid (relaxation time against the bolus's decay
///   time constant, 346 min) and warns of nothing for it.
#[test]
fn a_decaying_bolus_costs_what_a_constant_level_costs() {
    let dir = tempfile::tempdir().unwrap();
    let mut sweeps = Vec::new();
    for half_life in [Some(4.0), None] {
        let prep = prepare(dir.path(), "bolus.toml", &bolus_slice(1.5, half_life));
        let work = prep.work();
        let estimate = work.chem[1].steady.expect("AMD3100 is quasi-steady");
        let (records, wall) = run_cpu(&prep);
        let a = &records[1];
        assert_eq!(
            estimate.solves, a.solves,
            "{half_life:?}: settings {estimate:?} against {a:?}"
        );
        let expected = infiltrate::steady::expected_iterations(
            prep.params.dims,
            prep.loaded.scenario.numerics.quasi_steady_tolerance,
        );
        let ratio = expected / a.iterations as f64;
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{half_life:?}: estimated {expected} iterations, the solver took {} ({ratio:.2}×)",
            a.iterations
        );
        let explicit: f64 = work
            .chem
            .iter()
            .filter(|w| w.steady.is_none())
            .map(|w| w.substeps as f64)
            .sum();
        let total = work.cell_steps as f64
            + explicit
            + a.iterations as f64 * infiltrate::steady::SWEEPS_PER_ITERATION
            + a.solves as f64;
        eprintln!(
            "half-life {half_life:?}: {} settings, {} iterations, {total:.0} sweeps, {wall:.2} s",
            a.solves, a.iterations
        );
        sweeps.push(total);
        let warnings = prep.warnings().join("\n");
        assert!(!warnings.contains("amd3100"), "{warnings}");
        if half_life.is_some() {
            let dosed = work.cell_steps - prep.plan.burn_in.steps;
            assert!(a.solves >= dosed, "{a:?} over {dosed} dosed cell steps");
            let text = prep.describe();
            assert!(text.contains("quasi-steady is valid"), "{text}");
        }
    }
    assert!(
        sweeps[0] <= 1.5 * sweeps[1],
        "the bolus takes {:.0} sweeps, the constant level {:.0}",
        sweeps[0],
        sweeps[1]
    );
}

/// A stepper that only counts the sub-steps and cell steps it is asked for.
struct Counting {
    params: Params,
    steady: [SteadyState; 3],
    substeps: [u64; 3],
    species: Vec<u64>,
    cells: u64,
}

impl Stepper for Counting {
    type Error = ();
    fn params(&self) -> &Params {
        &self.params
    }
    fn steady(&self, u: usize) -> &SteadyState {
        &self.steady[u]
    }
    fn chem_steps(&mut self, subs: &[SubStep]) {
        for s in subs {
            let u = CHEMICALS.iter().position(|&c| c == s.which).unwrap();
            self.substeps[u] += 1;
        }
    }
    fn species_step(&mut self, k: usize, _dt: f64, _plasma: f64, _bath: f64) {
        self.species[k] += 1;
    }
    fn cell_step(&mut self, _dt: f64) {
        self.cells += 1;
    }
    fn solve_steady(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        _tolerance: f64,
    ) -> Result<u64, ()> {
        let u = CHEMICALS.iter().position(|&c| c == which).unwrap();
        self.steady[u].record((plasma, bath), 0);
        Ok(0)
    }
    fn zero_chemicals(&self) -> [bool; 3] {
        [false; 3]
    }
    fn stepped(&mut self, _dormant: [bool; 3]) -> Result<(), ()> {
        Ok(())
    }
}

fn count_steps(plan: &StepPlan, params: &Params, dosing: &Dosing, tol: f64) -> Counting {
    let mut c = Counting {
        params: params.clone(),
        steady: Default::default(),
        substeps: [0; 3],
        species: vec![0; params.species.len()],
        cells: 0,
    };
    let mut asleep = dormant(params, [false, true, true]);
    for seg in std::iter::once(&plan.burn_in).chain(&plan.segments) {
        let schedule = Schedule::new(plan, dosing, tol);
        advance_steps_from(&mut c, seg, 0, &schedule, &mut asleep, &mut |_| {}).unwrap();
    }
    c
}

/// The work `check` and the sweep estimate count is the stepping schedule's own: the
/// explicit sub-steps of each chemical (undosed drugs skipped) and the quasi-steady
/// solves, in four arms of a small slice with sub-stepped drugs (untreated, AMD3100 by
/// a bath bolus at 1 h, anti-PD-1 from 2 h, both). Untreated takes less work than the
/// combination, as it runs.
#[test]
fn work_counts_what_the_schedule_steps() {
    let dir = tempfile::tempdir().unwrap();
    let base = small_slice("arm", [13, 11, 7], "")
        .replace("quasi_steady = [\"amd3100\"]", "quasi_steady = []")
        .replace("burn_in_h = 0.5", "burn_in_h = 0.25")
        .replace(
            "duration_h = 3.0",
            "duration_h = 3.0\nsnapshot_every_h = 0.75",
        );
    let cut = base.find("[[treatment]]").unwrap();
    let amd = "[[treatment]]\ndrug = \"AMD3100\"\nroute = \"bath\"\nhalf_life_h = 2.0\n\
               doses = [{ at_h = 1.0, peak_uM = 1.0 }]\n";
    let pd1 = "[[treatment]]\ndrug = \"Anti-PD1\"\nroute = \"bath\"\nlevel_nM = 68.5\n\
               start_h = 2.0\n";
    let arms = [
        ("untreated", String::new()),
        ("amd3100", amd.to_string()),
        ("anti_pd1", pd1.to_string()),
        ("combination", format!("{amd}\n{pd1}")),
    ];
    let mut updates = Vec::new();
    for (name, treatments) in &arms {
        let toml =
            format!("{}{treatments}", &base[..cut]).replacen("snapshot_every_h = 1.0\n", "", 1);
        let prep = prepare(dir.path(), &format!("{name}.toml"), &toml);
        let tol = prep.loaded.scenario.numerics.quasi_steady_tolerance;
        let counted = count_steps(&prep.plan, &prep.params, &prep.dosing, tol);
        let work = prep.work();
        assert_eq!(work.cell_steps, counted.cells, "{name}");
        for u in 0..3 {
            assert_eq!(
                work.chem[u].substeps, counted.substeps[u],
                "{name}, chemical {u}"
            );
        }
        updates.push(work.updates());
    }
    // Untreated skips both drugs' sub-steps; AMD3100 dominates the rest.
    assert!(
        updates[0] < updates[1] && updates[1] < updates[3],
        "{updates:?}"
    );
    assert!(updates[3] > 5.0 * updates[0], "{updates:?}");
}

/// The quasi-steady solves of a CXCL12 with constant sources, and of undosed drugs,
/// are counted as the schedule makes them (one solve each, then none).
#[test]
fn quasi_steady_solves_are_counted_as_the_schedule_makes_them() {
    let dir = tempfile::tempdir().unwrap();
    let toml = bolus_slice(2.0, Some(4.0)).replace(
        "quasi_steady = [\"amd3100\"]",
        "quasi_steady = [\"cxcl12\", \"amd3100\", \"anti_pd1\"]",
    );
    let prep = prepare(dir.path(), "all.toml", &toml);
    let tol = prep.loaded.scenario.numerics.quasi_steady_tolerance;
    let counted = count_steps(&prep.plan, &prep.params, &prep.dosing, tol);
    let work = prep.work();
    for u in 0..3 {
        let st = work.chem[u].steady.unwrap();
        assert_eq!(st.solves, counted.steady[u].solves, "chemical {u}");
        assert!(!st.extrapolated);
    }
    assert_eq!(work.chem[0].steady.unwrap().solves, 1);
    // anti-PD-1: once at zero in the burn-in, once when the constant level starts.
    assert_eq!(work.chem[2].steady.unwrap().solves, 2);
}

/// `check` on a decaying AMD3100 bolus solved quasi-steadily prints the dosing
/// timeline, the estimate, the quasi-steady cost (below stepping it explicitly) and
/// whether the approximation is valid; and never speaks of a GPU this machine lacks.
/// A bolus decaying faster than the tissue relaxes (half-life 1.08 s) is warned about,
/// with file, key and what to do.
#[test]
fn check_prints_the_timeline_the_estimate_and_the_quasi_steady_cost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bolus.toml");
    std::fs::write(&path, bolus_slice(4.0, Some(4.0))).unwrap();
    let o = bin()
        .args(["check", "--backend", "cpu"])
        .arg(&path)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for want in [
        "dosing     AMD3100 (bath): bolus at 0 min, peak 1 µM; half-life 4 h; 500 nM at the end (4 h)",
        "           anti-PD-1 (bath): constant 68.5 nM from 60 min",
        "AMD3100    quasi-steady: unit responses by multigrid-preconditioned conjugate gradients",
        "× the cost of",
        "sub-steps of stepping it explicitly",
        "quasi-steady is valid",
        "anti-PD-1  sub-step",
        "skipped while undosed",
        "estimate   about ",
        "on this machine's cpu backend",
        "ok: the scenario is valid",
    ] {
        assert!(t.contains(want), "missing `{want}` in:\n{t}");
    }
    assert!(!t.contains("H200") && !t.contains("AMD3100 relaxes"), "{t}");
    let fast = bolus_slice(4.0, Some(0.0003));
    let prep = prepare(dir.path(), "fast.toml", &fast);
    let w = prep.warnings().join("\n");
    for want in [
        "fast.toml:",
        "numerics.quasi_steady",
        "would lag them",
        "Step it explicitly (remove \"amd3100\"",
    ] {
        assert!(w.contains(want), "missing `{want}` in:\n{w}");
    }
}

/// A parameter outside its published range is allowed, and warned about with file,
/// line, key, value and range; values inside are not.
#[test]
fn parameters_outside_their_range_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let inside = small_slice("inside", [13, 11, 25], "");
    let prep = prepare(dir.path(), "inside.toml", &inside);
    assert!(prep.warnings().is_empty(), "{:?}", prep.warnings());
    let outside = small_slice("outside", [13, 11, 7], "[tcells]\ndeath_per_day = 2.0\n");
    let prep = prepare(dir.path(), "outside.toml", &outside);
    let w = prep.warnings().join("\n");
    let line = outside
        .lines()
        .position(|l| l.starts_with("death_per_day"))
        .unwrap()
        + 1;
    assert!(
        w.contains(&format!("outside.toml:{line}: key `tcells.death_per_day`"))
            && w.contains("2 /day is outside 0.1–0.3 /day"),
        "{w}"
    );
}

/// Every shipped scenario is valid, has no warning, and within the work the far-beyond
/// warning is measured against, which is itself within 1.5× of the largest shipped one
/// (so that the warning stays meaningful). The convergence study's sections
/// (`scenarios/section/`, down to 1.25 µm voxels) are checked for validity and warnings
/// but do not set the yardstick: they are a study, not a run a researcher starts from.
#[test]
fn shipped_scenarios_set_the_far_beyond_yardstick() {
    let mut most_updates = 0.0_f64;
    let mut most_steps = 0u64;
    let mut seen = 0;
    for (dir, yardstick) in [
        ("scenarios", true),
        ("scenarios/slice", true),
        ("scenarios/flc", true),
        ("scenarios/slice/h5", true),
        ("scenarios/section", false),
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let prep = run::prepare(&path, Overrides::default()).unwrap();
            let work = prep.work();
            if yardstick {
                most_updates = most_updates.max(work.updates());
                most_steps = most_steps.max(work.cell_steps);
            }
            assert!(
                prep.warnings().is_empty(),
                "{}: {:?}",
                path.display(),
                prep.warnings()
            );
            seen += 1;
        }
    }
    assert!(seen >= 13, "only {seen} shipped scenarios found");
    assert!(
        (most_updates..=1.5 * most_updates).contains(&SHIPPED_MOST_UPDATES),
        "SHIPPED_MOST_UPDATES {SHIPPED_MOST_UPDATES:e}, the shipped scenarios' most {most_updates:e}"
    );
    assert!(
        (most_steps..=most_steps * 3 / 2).contains(&SHIPPED_MOST_CELL_STEPS),
        "SHIPPED_MOST_CELL_STEPS {SHIPPED_MOST_CELL_STEPS}, the shipped scenarios' most {most_steps}"
    );
}

/// Work far beyond the shipped scenarios' is warned about (a 30-day slice with an
/// explicit cell step of a tenth of its bound).
#[test]
fn work_far_beyond_the_shipped_scenarios_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let long = small_slice("long", [13, 11, 7], "")
        .replace("duration_h = 3.0", "duration_h = 720.0")
        .replace("snapshot_every_h = 1.0", "snapshot_every_h = 24.0")
        .replace(
            "quasi_steady = [\"amd3100\"]",
            "quasi_steady = [\"amd3100\"]\ncell_dt_min = 0.01",
        );
    let prep = prepare(dir.path(), "long.toml", &long);
    let w = prep.warnings().join("\n");
    assert!(
        w.contains("the work of the largest shipped scenario"),
        "{w}"
    );
}

/// The ranges table of `docs/parameters.md` ("Ranges `check` warns outside") is the
/// code's, row by row: key, low, high and unit.
#[test]
fn the_documented_ranges_are_the_checked_ones() {
    let doc = std::fs::read_to_string(root().join("docs/parameters.md")).unwrap();
    let start = doc
        .find("## Ranges `check` warns outside")
        .expect("docs/parameters.md has the section");
    let rows: Vec<Vec<String>> = doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let table = infiltrate::scenario::typical::TYPICAL;
    assert_eq!(rows.len(), table.len(), "{rows:?}");
    for (row, t) in rows.iter().zip(table) {
        let num = |s: &str| -> f64 {
            s.replace(',', "")
                .replace('−', "-")
                .parse()
                .unwrap_or_else(|_| panic!("`{s}` in {row:?}"))
        };
        assert_eq!(row[0], format!("`{}`", t.key), "{row:?}");
        assert_eq!(num(&row[1]), t.low, "{row:?}");
        assert_eq!(num(&row[2]), t.high, "{row:?}");
        assert_eq!(row[3], t.unit, "{row:?}");
    }
}

/// Quasi-steady AMD3100 in vivo (daily boluses of half-life 4 h, exchange at vessels
/// only): the tissue relaxes in hours (no bath; decay and vessel exchange only), so the
/// quasi-steady field would lag the levels, which is warned about, but it is within
/// the limits and not refused; it costs far less than stepping it explicitly.
#[test]
fn a_lagging_quasi_steady_chemical_is_warned_about_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "extends = {:?}\n[numerics]\nquasi_steady = [\"amd3100\"]\n",
        root()
            .join("scenarios/flc/combination.toml")
            .display()
            .to_string()
    );
    let prep = prepare(dir.path(), "flc_qs.toml", &toml);
    let w = prep.warnings().join("\n");
    for want in [
        "AMD3100 relaxes in about",
        "would lag them",
        "Step it explicitly",
    ] {
        assert!(w.contains(want), "missing `{want}` in {w}");
    }
    assert!(prep.work().chem[1].steady_ratio().unwrap() < 0.1);
}
