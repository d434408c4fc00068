//! Budgets (src/budget.rs): each rate is the solvers' own discrete term, so one
//! forward-Euler step changes every stock by exactly Δt × its net rate; the ledger takes
//! the levels just after a dose at the start of an interval and just before it at the
//! end; and a whole run's budgets close, with a residual that shrinks as snapshots get
//! closer. About 8 s on 2 cores (release, shared), most of it the two short in-vivo runs.

mod common;

use common::{busy, Rng};
use infiltrate::budget::{Ledger, Rates, Readouts};
use infiltrate::cpu::CpuSolver;
use infiltrate::dosing::{Bolus, Dosing};
use infiltrate::model::{cell_bound, chem_bound, Fields, N_CLASSES, VESSEL};
use infiltrate::scenario::Chemical;
use infiltrate::solver::Stepper;

const CAPACITY: f64 = 1e5;

fn close(what: &str, got: f64, want: f64, scale: f64) {
    let err = (got - want).abs();
    assert!(
        err <= 1e-10 * scale,
        "{what}: Δstock {got:e} against Δt × rate {want:e} (error {err:e}, scale {scale:e})"
    );
}

/// A random state on a 9 × 7 × 5 grid of random classes with every term of the model
/// on (common::busy: bath faces x− and z+, vessel exchange, decay, influx, crowding).
fn busy_state() -> (infiltrate::model::Params, Vec<u8>, Fields) {
    let dims = [9, 7, 5];
    let p = busy(dims);
    let mut rng = Rng(17);
    let n = p.voxels();
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let mut f = Fields::zeros(n);
    for i in 0..n {
        f.c[i] = 10.0 * rng.next();
        f.a[i] = 2.0 * rng.next();
        f.p[i] = 400.0 * rng.next();
        // Some voxels above T_max (1e5), where the sources are clamped off.
        f.t[i] = 1.2e5 * rng.next();
        f.n[i] = rng.next();
        f.k[i] = 0.1 * rng.next();
    }
    (p, class, f)
}

#[test]
fn one_step_changes_each_stock_by_dt_times_its_rate() {
    let (p, class, f) = busy_state();
    assert!(class.contains(&VESSEL) && N_CLASSES == 5);
    let vol = (p.h * 1e-3).powi(3);
    let total = |u: &[f64]| u.iter().sum::<f64>() * vol;
    // Bath sums measured from other levels than the step's: the flow at the step's level
    // is then `(bath − ref) Σ g + Σ g (ref − u)`.
    let r0 = Rates::at(&f, &class, &p, CAPACITY, [0.3, 40.0]);
    let mut solver = CpuSolver::new(p.clone(), class.clone(), f.clone());
    let (plasma_a, bath_a, plasma_p, bath_p) = (1.3, 0.7, 250.0, 68.5);
    let dt_a = 0.5 * chem_bound(&p, &p.amd3100);
    let dt_p = 0.5 * chem_bound(&p, &p.anti_pd1);
    solver.chem_step(Chemical::Amd3100, dt_a, plasma_a, bath_a);
    solver.chem_step(Chemical::AntiPd1, dt_p, plasma_p, bath_p);
    let f1 = solver.fields().clone();
    let a = &r0.amd3100;
    let gross_a = a.total.abs() + dt_a * (a.kappa * plasma_a + a.bath_g * bath_a);
    close(
        "AMD3100",
        total(&f1.a) - total(&f.a),
        dt_a * (a.from_plasma(plasma_a) + a.from_bath(bath_a) - a.decay),
        gross_a,
    );
    let q = &r0.anti_pd1;
    let gross_p = q.total.abs() + dt_p * (q.kappa * plasma_p + q.bath_g * bath_p);
    close(
        "anti-PD-1",
        total(&f1.p) - total(&f.p),
        dt_p * (q.from_plasma(plasma_p) + q.from_bath(bath_p) - q.decay),
        gross_p,
    );
    // The bath terms are not empty: both drugs' bath faces carry something.
    assert!(a.bath_g > 0.0 && q.bath_g > 0.0 && a.kappa > 0.0 && q.kappa > 0.0);

    // The cell step reads the new P (blockade), so its rates come from f1.
    let r1 = Rates::at(&f1, &class, &p, CAPACITY, [0.0; 2]);
    let dt = 0.5 * cell_bound(&p);
    solver.cell_step(dt);
    let f2 = solver.fields();
    let cells = CAPACITY * vol;
    close(
        "T cells",
        total(&f2.t) - total(&f1.t),
        dt * (r1.t_influx + r1.t_proliferation - r1.t_death),
        r1.t_total,
    );
    close(
        "viable tumour",
        (total(&f2.n) - total(&f1.n)) * CAPACITY,
        dt * (r1.grown - r1.killed),
        r1.viable,
    );
    close(
        "killed tumour",
        (total(&f2.k) - total(&f1.k)) * CAPACITY,
        dt * r1.killed,
        r1.viable,
    );
    assert!((r1.viable - total(&f1.n) * CAPACITY).abs() <= 1e-12 * r1.viable);
    for (name, x) in [
        ("influx", r1.t_influx),
        ("proliferation", r1.t_proliferation),
        ("death", r1.t_death),
        ("growth", r1.grown),
        ("killing", r1.killed),
    ] {
        assert!(x > 0.0, "{name} rate {x} (cells {cells})");
    }
}

fn readouts(t_h: f64) -> Readouts {
    Readouts {
        t_core_per_mm3: 100.0 * t_h,
        t_margin_per_mm3: 1000.0,
        infiltration_ratio: 0.1 * t_h,
    }
}

/// A plasma bolus of AMD3100 given exactly at a snapshot (60 min) on a 3 × 2 × 2 grid
/// of vessels with exchange only and A = 0 throughout: the interval before the dose sees
/// no inflow, the interval after it starts at the full peak. The readouts' integrals
/// are the trapezoid rule's (linear readouts: exact).
#[test]
fn a_dose_at_a_snapshot_counts_in_the_interval_after_it() {
    let mut p = common::uniform([3, 2, 2], 10.0);
    p.amd3100.exchange = [0.5; N_CLASSES];
    let class = vec![VESSEL; p.voxels()];
    let f = Fields::zeros(p.voxels());
    let mut dosing = Dosing::default();
    let (peak, rate) = (1.6, std::f64::consts::LN_2 / 240.0);
    dosing.boluses[0][0] = vec![Bolus {
        t0: 60.0,
        peak,
        rate,
    }];
    let mut ledger = Ledger::new(&p, &dosing, CAPACITY);
    let first = ledger.record(&f, &class, readouts(0.0), 0.0);
    assert_eq!(first.flows.amd3100_from_plasma_pmol, 0.0);
    let before = ledger.record(&f, &class, readouts(1.0), 60.0);
    assert_eq!(
        before.flows.amd3100_from_plasma_pmol, 0.0,
        "the dose at 60 min leaked into the interval before it"
    );
    let after = ledger.record(&f, &class, readouts(2.0), 120.0);
    let kv = 0.5 * p.voxels() as f64 * (p.h * 1e-3).powi(3);
    let want = 0.5 * 60.0 * kv * (peak + peak * (-rate * 60.0).exp());
    let got = after.flows.amd3100_from_plasma_pmol;
    assert!((got - want).abs() <= 1e-12 * want, "{got} against {want}");
    // The stock did not change (A was held at 0): the whole inflow is residual.
    assert!((after.flows.amd3100_residual_pmol + want).abs() <= 1e-12 * want);
    let ti = ledger.time_integrated();
    assert_eq!((ti.from_h, ti.to_h), (0.0, 2.0));
    // ∫ 100 t dt over 2 h = 200; ∫ 0.1 t dt = 0.2; mean 0.1.
    assert!((ti.t_core_per_mm3_h - 200.0).abs() < 1e-9, "{ti:?}");
    assert!((ti.t_margin_per_mm3_h - 2000.0).abs() < 1e-9, "{ti:?}");
    assert!((ti.infiltration_ratio_h - 0.2).abs() < 1e-12, "{ti:?}");
    assert!((ti.infiltration_ratio_mean - 0.1).abs() < 1e-12, "{ti:?}");
    assert_eq!(ti.budget.amd3100_from_plasma_pmol, got);
}

/// The in-vivo tumour edge (flc/base.toml) on a coarse 20 × 16 × 6 grid of 50 µm, 6 h
/// burn-in then 12 h of AMD3100 (plasma boluses at 0 and 6 h) and anti-PD-1 (one bolus
/// at 0), with snapshots every `every_h`: its metrics.csv rows (by column name) and its
/// summary.json.
fn flc_run(
    every_h: f64,
) -> (
    Vec<std::collections::HashMap<String, f64>>,
    serde_json::Value,
) {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = dir.path().join("flc.toml");
    std::fs::write(
        &file,
        format!(
            "extends = {:?}\n[grid]\nnx = 20\nny = 16\nnz = 6\nvoxel_um = 50.0\n\
             [time]\nburn_in_h = 6.0\nduration_h = 12.0\nsnapshot_every_h = {every_h}\nsnapshots_after_dose = 0\n\
             [numerics]\nquasi_steady = []\n[readout]\nprofile_bin_um = 50.0\n\
             [[treatment]]\ndrug = \"amd3100\"\nroute = \"plasma\"\nhalf_life_h = 4.0\n\
             doses = [{{ at_h = 0.0, peak_uM = 1.6 }}, {{ at_h = 6.0, peak_uM = 1.6 }}]\n\
             [[treatment]]\ndrug = \"anti_pd1\"\nroute = \"plasma\"\nhalf_life_h = 600.0\n\
             doses = [{{ at_h = 0.0, peak_nM = 410.0 }}]\n",
            root.join("scenarios/flc/base.toml").display().to_string()
        ),
    )
    .unwrap();
    let prep = infiltrate::run::prepare(&file, Default::default()).unwrap();
    let out = dir.path().join("out");
    let opts = infiltrate::run::RunOptions {
        out: out.clone(),
        backend: infiltrate::run::Backend::Cpu,
        adapter: None,
        force: false,
        log: infiltrate::run::RunLog::new(false),
        gpu: Default::default(),
    };
    let selected = infiltrate::run::choose_backend(infiltrate::run::Backend::Cpu, None).unwrap();
    infiltrate::run::run_on(prep, &opts, selected).unwrap();
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows = lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.parse().unwrap()))
                .collect()
        })
        .collect();
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    (rows, serde_json::from_str(&json).unwrap())
}

/// Budgets of a whole run: the summary's sections and fields; "final" is the last
/// metrics.csv row; the run's budget closes (Δstock = in − out + residual, to round-off);
/// the killed cells are exact (the change in killed_tumor_cells); and the residuals
/// shrink as the snapshots get closer (4 h against 30 min; the T-cell budget closes to
/// 1 % of its flows at 30 min).
#[test]
fn run_budgets_close_and_their_residual_shrinks_with_the_snapshot_interval() {
    let (coarse, _) = flc_run(4.0);
    let (fine, summary) = flc_run(0.5);
    assert_eq!(fine.len(), 25);
    for key in ["final", "time_integrated", "run"] {
        assert!(summary[key].is_object(), "no `{key}` in {summary}");
    }
    let run = &summary["run"];
    for key in [
        "scenario",
        "name",
        "program_version",
        "scenario_hash",
        "backend",
        "solver",
        "adapter",
        "driver",
        "threads",
        "wall_time_s",
        "cell_steps",
        "snapshots",
    ] {
        assert!(run.get(key).is_some(), "run.{key} missing: {run}");
    }
    assert_eq!(run["backend"], "cpu");
    assert!(run["adapter"].is_null() && run["driver"].is_null());
    assert_eq!(run["snapshots"], 25);
    let last = fine.last().unwrap();
    let fin = summary["final"].as_object().unwrap();
    assert_eq!(fin.len(), last.len(), "final has other fields than the row");
    for (k, v) in last {
        let j = fin[k].as_f64().unwrap();
        assert!(
            (j - v).abs() <= 1e-8 * v.abs().max(1e-300),
            "final.{k} {j} vs {v}"
        );
    }
    let ti = &summary["time_integrated"];
    let f = |k: &str| {
        ti[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} missing: {ti}"))
    };
    let first = &fine[0];
    let balance = [
        (
            "amd3100",
            last["amd3100_total_pmol"] - f("amd3100_total_start_pmol"),
            f("amd3100_from_plasma_pmol") + f("amd3100_from_bath_pmol") - f("amd3100_decayed_pmol"),
            f("amd3100_residual_pmol"),
        ),
        (
            "anti_pd1",
            last["anti_pd1_total_fmol"] - f("anti_pd1_total_start_fmol"),
            f("anti_pd1_from_plasma_fmol") + f("anti_pd1_from_bath_fmol")
                - f("anti_pd1_decayed_fmol"),
            f("anti_pd1_residual_fmol"),
        ),
        (
            "tcells",
            last["t_total_cells"] - first["t_total_cells"],
            f("t_influx_cells") + f("t_proliferated_cells") - f("t_died_cells"),
            f("t_residual_cells"),
        ),
        (
            "tumor",
            last["viable_tumor_cells"] - f("viable_tumor_start_cells"),
            f("tumor_grown_cells") - f("tumor_killed_cells"),
            f("tumor_residual_cells"),
        ),
    ];
    for (what, delta, net, residual) in balance {
        let scale = delta.abs() + net.abs();
        assert!(scale > 0.0, "{what}: nothing moved");
        assert!(
            (delta - net - residual).abs() <= 1e-9 * scale,
            "{what}: Δ {delta} ≠ in − out {net} + residual {residual}"
        );
    }
    assert!(
        (f("tumor_killed_cells") - last["killed_tumor_cells"]).abs()
            <= 1e-9 * last["killed_tumor_cells"]
    );
    assert!(
        (f("t_total_start_cells") - first["t_total_cells"]).abs()
            <= 1e-9 * f("t_total_start_cells")
    );
    let t_gross = f("t_influx_cells") + f("t_proliferated_cells") + f("t_died_cells");
    assert!(
        f("t_residual_cells").abs() <= 0.01 * t_gross,
        "T-cell residual {} of flows {t_gross}",
        f("t_residual_cells")
    );
    let sum = |rows: &[std::collections::HashMap<String, f64>], k: &str| -> f64 {
        rows.iter().map(|r| r[k].abs()).sum()
    };
    for k in [
        "amd3100_residual_pmol",
        "anti_pd1_residual_fmol",
        "t_residual_cells",
        "tumor_residual_cells",
    ] {
        let (c, fi) = (sum(&coarse, k), sum(&fine, k));
        eprintln!("Σ|{k}|: {c:.3e} at 4 h, {fi:.3e} at 30 min");
        assert!(
            fi < 0.5 * c,
            "{k}: Σ|residual| {fi:e} at 30 min, {c:e} at 4 h"
        );
    }
}
