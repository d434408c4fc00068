//! Species a scenario adds (`[[species]]`, docs/species.md): stepped by both backends
//! against exact solutions (decay, a diffusing cosine mode, secretion by cells
//! approaching its balance with decay, the kill rate raised by `1 + I/K_I`), the GPU
//! held to the CPU with every term on, and the scenario's checks. The example scenario
//! `scenarios/slice/ifng.toml` runs through the binary on a small grid, and its species
//! appears in every output (tests/cli.rs and tests/resume.rs hold those outputs to
//! their formats).
//!
//! f32 tolerances follow tests/gpu.rs: per step the GPU rounds an update `u + Δt R` to
//! at most about `ε₃₂ (|u'| + 4 M)` (M the field's maximum), and the explicit steps are
//! non-expansive, so after n steps `|gpu − cpu| ≤ ε₃₂ (n + 1) (|u| + 4 M)` per voxel.

mod common;

use common::{adapter, busy, species, uniform, Rng};
use infiltrate::cpu::CpuSolver;
use infiltrate::gpu::GpuSolver;
use infiltrate::model::{Field, Fields, Params, Rate, Segment, CLASS_NAMES, COUPLINGS, TUMOR};
use infiltrate::scenario::{ClassValues, MAX_SPECIES};
use infiltrate::solver::{Schedule, Stepper};

const EPS: f64 = f32::EPSILON as f64;

fn gpu(p: &Params, class: &[u8], fields: &Fields) -> GpuSolver {
    GpuSolver::new(&adapter(), p.clone(), class.to_vec(), fields.clone())
        .expect("creating the GPU solver")
}

/// The species field of both backends after `f` steps them the same way.
fn both(
    p: &Params,
    class: &[u8],
    fields: &Fields,
    steps: impl Fn(&mut dyn FnMut(f64, f64, f64)),
) -> (Vec<f64>, Vec<f64>) {
    let mut cpu = CpuSolver::new(p.clone(), class.to_vec(), fields.clone());
    steps(&mut |dt, plasma, bath| cpu.species_step(0, dt, plasma, bath));
    let mut g = gpu(p, class, fields);
    steps(&mut |dt, plasma, bath| g.species_step(0, dt, plasma, bath));
    let back = g.read_fields().unwrap();
    (cpu.fields().species[0].1.clone(), back.species[0].1.clone())
}

/// An awkward grid whose species starts at `level` everywhere.
fn with_species(dims: [usize; 3], d: f64) -> (Params, Fields) {
    let mut p = uniform(dims, 10.0);
    p.species = vec![species("ifng", d, &[])];
    let f = Fields::zeros_for(&p);
    (p, f)
}

/// Pure decay, no diffusion: forward Euler multiplies by `1 − λΔt` each step, so the
/// CPU gives `(1 − λΔt)^n` to round-off (1e-12) and the GPU within its f32 bound; both
/// within forward Euler's `λt · λΔt / 2` (+ 5 %) of `exp(−λt)`.
#[test]
fn species_decay_is_exact_on_both_backends() {
    let (mut p, mut f) = with_species([37, 23, 11], 0.0);
    let decay = [0.01, 0.02, 0.05, 0.03, 0.04];
    p.species[0].chem.decay = decay;
    let mut rng = Rng(3);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    let u0: Vec<f64> = (0..p.voxels()).map(|_| 1.0 + rng.next()).collect();
    f.species[0].1 = u0.clone();
    let (dt, n) = (0.1, 200);
    let (cpu, g) = both(&p, &class, &f, |step| {
        for _ in 0..n {
            step(dt, 0.0, 0.0)
        }
    });
    let t = dt * n as f64;
    for i in 0..class.len() {
        let l = decay[class[i] as usize];
        let euler = u0[i] * (1.0 - l * dt).powi(n);
        assert!((cpu[i] - euler).abs() <= 1e-12 * euler, "cpu voxel {i}");
        let bound = EPS * (n as f64 + 1.0) * 5.0 * 2.0;
        assert!(
            (g[i] - euler).abs() <= bound,
            "gpu voxel {i}: {} vs {euler}",
            g[i]
        );
        let exact = u0[i] * (-l * t).exp();
        let predicted = l * t * l * dt / 2.0;
        let err = (exact - cpu[i]) / exact;
        assert!(
            (err - predicted).abs() <= 0.05 * predicted,
            "voxel {i}: {err:e}"
        );
    }
}

/// A cosine mode along x between closed faces, uniform in y and z: the finite-volume
/// operator's eigenvector `cos(π (i + ½) / nx)` with eigenvalue
/// `λ_h = 4 D/h² · sin²(π / (2 nx))`, so each step multiplies it by `1 − Δt λ_h`
/// exactly (CPU to 1e-12, GPU within its f32 bound), and the result is within
/// 1 % of the continuum's `exp(−D (π/L)² t)` (the grid's O(h²) and Euler's O(Δt)).
#[test]
fn species_cosine_mode_diffuses_as_the_discrete_operator_says() {
    let dims = [37, 23, 11];
    let d = 600.0;
    let (p, mut f) = with_species(dims, d);
    let h = p.h;
    let nx = dims[0];
    let mode = |x: usize| (std::f64::consts::PI * (x as f64 + 0.5) / nx as f64).cos();
    f.species[0].1 = (0..p.voxels()).map(|i| 1.0 + mode(i % nx)).collect();
    let class = vec![TUMOR; p.voxels()];
    let dt = 0.9 * h * h / (6.0 * d);
    let n = 300;
    let (cpu, g) = both(&p, &class, &f, |step| {
        for _ in 0..n {
            step(dt, 0.0, 0.0)
        }
    });
    let lh = 4.0 * d / (h * h) * (std::f64::consts::PI / (2.0 * nx as f64)).sin().powi(2);
    let factor = (1.0 - dt * lh).powi(n);
    let l = nx as f64 * h;
    let continuum = (-d * (std::f64::consts::PI / l).powi(2) * dt * n as f64).exp();
    for i in 0..p.voxels() {
        let want = 1.0 + factor * mode(i % nx);
        assert!(
            (cpu[i] - want).abs() <= 1e-12,
            "cpu voxel {i}: {} vs {want}",
            cpu[i]
        );
        let bound = EPS * (n as f64 + 1.0) * (want.abs() + 8.0);
        assert!(
            (g[i] - want).abs() <= bound,
            "gpu voxel {i}: {} vs {want}",
            g[i]
        );
    }
    assert!(
        (factor - continuum).abs() <= 0.01 * continuum,
        "{factor} vs {continuum}"
    );
}

/// Secretion by T cells meeting tumour with decay, T and N held fixed (no cell step):
/// each voxel heads for `σ_TN T N / λ` as `1 − (1 − λΔt)^n` exactly, on both backends.
#[test]
fn contact_secretion_approaches_its_balance_with_decay() {
    let (mut p, mut f) = with_species([13, 7, 5], 0.0);
    let (sigma, lambda) = (2.5e-3, 0.5);
    p.species[0].by_tn = sigma;
    p.species[0].chem.decay = [lambda; 5];
    let mut rng = Rng(9);
    f.t = (0..p.voxels()).map(|_| 2e4 * rng.next()).collect();
    f.n = (0..p.voxels()).map(|_| rng.next()).collect();
    let class = vec![TUMOR; p.voxels()];
    let (dt, n) = (0.05, 120);
    let (cpu, g) = both(&p, &class, &f, |step| {
        for _ in 0..n {
            step(dt, 0.0, 0.0)
        }
    });
    let m = sigma * 2e4 / lambda;
    for i in 0..p.voxels() {
        let balance = sigma * f.t[i] * f.n[i] / lambda;
        let want = balance * (1.0 - (1.0 - lambda * dt).powi(n));
        assert!((cpu[i] - want).abs() <= 1e-12 * m, "cpu voxel {i}");
        let bound = EPS * (n as f64 + 1.0) * (want + 4.0 * m);
        assert!(
            (g[i] - want).abs() <= bound,
            "gpu voxel {i}: {} vs {want}",
            g[i]
        );
    }
}

/// The couplings of the kill rate (every row of `model::COUPLINGS` that scales it): a
/// species at a level I scales the kill rate by the coupling's factor. With T fixed (no
/// motility, sources or death), one cell step takes
/// `Δt · kill · (1 − q(1 − b)) · factor(I, K) · T · N` from N into K: the CPU to
/// round-off, the GPU within f32. `kill_boost`'s factor is `1 + I/K`, `kill_inhibit`'s
/// `1/(1 + I/K)`; without a coupling, the kill of a run without species to the bit.
#[test]
fn a_species_scales_the_kill_rate_on_both_backends() {
    let dims = [11, 9, 5];
    let mut p = uniform(dims, 10.0);
    p.kill = 8.0 / 1440.0 / 1e5;
    p.q = 0.8;
    p.k_p = 1.0;
    let k = 50.0;
    let mut f = Fields::zeros_for(&{
        let mut q = p.clone();
        q.species = vec![species("ifng", 0.0, &[])];
        q
    });
    let mut rng = Rng(5);
    let level: Vec<f64> = (0..p.voxels()).map(|_| 200.0 * rng.next()).collect();
    f.species[0].1 = level.clone();
    f.t = (0..p.voxels()).map(|_| 2e4 * rng.next()).collect();
    f.n = vec![1.0; p.voxels()];
    f.p = vec![1.0; p.voxels()];
    let class = vec![TUMOR; p.voxels()];
    let dt = 1.0;
    let kf = 1.0 - p.q * (1.0 - 0.5);
    let kills = COUPLINGS.iter().filter(|c| c.rate == Rate::Kill);
    for c in kills {
        let mut p = p.clone();
        p.species = vec![species("ifng", 0.0, &[(c.key, k)])];
        let mut cpu = CpuSolver::new(p.clone(), class.clone(), f.clone());
        cpu.cell_step(dt);
        let mut g = gpu(&p, &class, &f);
        g.cell_step(dt);
        let back = g.read_fields().unwrap();
        for (i, l) in level.iter().enumerate() {
            let factor = (c.factor)(*l, k);
            let analytic = match c.key {
                "kill_boost" => 1.0 + l / k,
                "kill_inhibit" => 1.0 / (1.0 + l / k),
                other => panic!("no analytic factor for the coupling {other}"),
            };
            assert!((factor - analytic).abs() <= 1e-15 * analytic, "{}", c.key);
            let killed = dt * p.kill * kf * factor * f.t[i];
            assert!(
                (cpu.fields().k[i] - killed).abs() <= 1e-14,
                "{} cpu voxel {i}",
                c.key
            );
            assert!((cpu.fields().n[i] - (1.0 - killed)).abs() <= 1e-14);
            assert!(
                (back.k[i] - killed).abs() <= 4.0 * EPS * (1.0 + killed),
                "{} gpu voxel {i}: {} vs {killed}",
                c.key,
                back.k[i]
            );
        }
    }
    // No coupling: the kill of a run without species, to the bit.
    let mut off = p.clone();
    off.species = vec![species("ifng", 0.0, &[])];
    let mut a = CpuSolver::new(off, class.clone(), f.clone());
    let mut plain_fields = f.clone();
    plain_fields.species.clear();
    let mut b = CpuSolver::new(p, class, plain_fields);
    a.cell_step(dt);
    b.cell_step(dt);
    assert_eq!(a.fields().k, b.fields().k);
    assert_eq!(a.fields().n, b.fields().n);
}

/// Every species term at once (per-class diffusion, decay, secretion and exchange,
/// secretion by T, N and T·N, a bath level on bath faces, the kill boost) on a busy
/// 37 × 23 × 11 grid through `advance`: the GPU within the f32 bound of its steps
/// (the species' sub-steps; T, N, K one per cell step, which the species feeds back
/// into through the kill).
#[test]
fn species_with_every_term_match_on_both_backends() {
    let mut p = busy([37, 23, 11]);
    let mut sp = species("ifng", 0.0, &[("kill_boost", 40.0)]);
    sp.chem.diffusion = [0.0, 500.0, 400.0, 600.0, 500.0];
    sp.chem.decay = [0.1, 0.2, 0.5, 0.3, 0.1];
    sp.chem.secretion = [0.0, 0.1, 0.2, 0.05, 0.0];
    sp.chem.exchange = [0.0, 0.0, 0.0, 0.0, 0.3];
    sp.by_t = 1e-4;
    sp.by_n = 0.2;
    sp.by_tn = 2e-3;
    sp.plasma = 3.0;
    sp.bath = 7.0;
    p.species = vec![sp];
    let mut rng = Rng(11);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    let mut f = Fields::zeros_for(&p);
    for (i, &cl) in class.iter().enumerate() {
        f.c[i] = 10.0 * rng.next();
        f.t[i] = 2e4 * rng.next();
        f.n[i] = if cl == TUMOR { 1.0 } else { 0.3 };
        f.species[0].1[i] = 50.0 * rng.next();
    }
    let (plan, dosing) = common::busy_schedule(&p);
    let seg = Segment {
        t0: 0.0,
        steps: 6,
        dt: plan.cell_dt,
    };
    let mut cpu = CpuSolver::new(p.clone(), class.clone(), f.clone());
    cpu.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |_| {})
        .unwrap();
    let mut g = gpu(&p, &class, &f);
    g.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |_| {})
        .unwrap();
    let back = g.read_fields().unwrap();
    let steps = 6 * plan.species_substeps[0] as usize;
    let mut worst = 0.0_f64;
    for (f, n) in [
        (Field::Species(0), steps),
        (Field::Tumor, 6),
        (Field::Killed, 6),
    ] {
        let (c, gv) = (cpu.fields().get(f), back.get(f));
        let m = c.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        for i in 0..c.len() {
            let bound = EPS * (n as f64 + 1.0) * (c[i].abs() + 4.0 * m);
            let e = (c[i] - gv[i]).abs();
            assert!(e <= bound, "{f:?} voxel {i}: cpu {} gpu {}", c[i], gv[i]);
            worst = worst.max(e / bound);
        }
    }
    eprintln!("every species term: worst {worst:.3} of the f32 bound");
    assert!(cpu.fields().species[0].1.iter().all(|&x| x >= 0.0));

    // The snapshot: the GPU sums and cuts the species on the device, the CPU on the
    // host; sums of f32 values within 1e-5 of the CPU's (f32 partial sums of rows of
    // 37 voxels, added in f64), the plane within the field's bound, extremes alike.
    use infiltrate::probe::Labels;
    use infiltrate::slicing::{Axis, Slicing};
    let labels = Labels::bath_only(p.dims, &class, p.bath_faces);
    let (cs, gs) = (
        snapshot(&mut cpu).sums(&labels, [0.0; 2]).unwrap().species[0],
        snapshot(&mut g).sums(&labels, [0.0; 2]).unwrap().species[0],
    );
    for (what, c, g) in [
        ("tumour", cs.tumor, gs.tumor),
        ("all", cs.all, gs.all),
        ("max |I|", cs.max_abs, gs.max_abs),
    ] {
        assert!((c - g).abs() <= 1e-5 * c.abs(), "{what}: cpu {c}, gpu {g}");
    }
    assert_eq!((cs.margin, gs.margin), (0.0, 0.0));
    for axis in [Axis::X, Axis::Y, Axis::Z] {
        let at = Slicing {
            axis,
            slice: 3,
            dims: p.dims,
            voxel_um: p.h,
        };
        let (cp, gp) = (
            snapshot(&mut cpu).planes(&at).unwrap(),
            snapshot(&mut g).planes(&at).unwrap(),
        );
        assert_eq!(cp.len(), 8);
        assert_eq!(gp.len(), 8);
        let m = cp[7].iter().fold(0.0_f32, |a, v| a.max(v.abs()));
        for (x, y) in cp[7].iter().zip(&gp[7]) {
            assert!(
                (x - y).abs() <= 1e-4 * m,
                "{axis:?} plane: cpu {x}, gpu {y}"
            );
        }
    }
}

/// A solver as the driver sees it (its `advance` would be ambiguous with
/// [`Stepper::advance`] were both traits in scope).
fn snapshot(s: &mut dyn infiltrate::solver::Solver) -> &mut dyn infiltrate::solver::Solver {
    s
}

/// The scenario's checks: names, units, reserved and repeated names, two species
/// raising the kill rate, more than [`MAX_SPECIES`] (refused naming the first extra), a
/// metrics.csv column that another column already has.
#[test]
fn species_keys_are_checked() {
    assert_eq!(ClassValues::KEYS, CLASS_NAMES);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = "[grid]\nnx = 4\nny = 4\nnz = 3\nvoxel_um = 10.0\n[time]\nduration_h = 1.0\n\
                snapshot_every_h = 1.0\n[geometry]\nkind = \"slice\"\n\
                [geometry.slice]\nthickness_um = 30.0\n";
    let one = |name: &str, unit: &str, extra: &str| {
        format!(
            "[[species]]\nname = \"{name}\"\nunit = \"{unit}\"\ndiffusion_um2_per_min = 1.0\n{extra}"
        )
    };
    let check = |body: &str| -> Result<(), String> {
        let path = dir.join("s.toml");
        std::fs::write(&path, format!("{base}{body}")).unwrap();
        infiltrate::run::prepare(&path, Default::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    check(&one("ifng", "pM", "")).unwrap();
    for (body, says) in [
        (one("IFNg", "pM", ""), "species[0].name"),
        (one("tcells", "pM", ""), "a name other than"),
        (one("ifng", "p M", ""), "species[0].unit"),
        (
            one("ifng", "pM", "decay_per_min = -1.0\n"),
            "species[0].decay_per_min",
        ),
        (
            one("ifng", "pM", "secretion_per_min = { tumor = -2.0 }\n"),
            "species[0].secretion_per_min.tumor",
        ),
        (
            format!("{}{}", one("a", "pM", ""), one("a", "nM", "")),
            "a name no other species has",
        ),
        (
            format!(
                "{}{}",
                one("a", "pM", "couplings = { kill_boost = 1.0 }\n"),
                one("b", "pM", "couplings = { kill_inhibit = 2.0 }\n")
            ),
            "no second coupling of the kill rate (species[0].couplings.kill_boost has one",
        ),
        (
            one(
                "a",
                "pM",
                "couplings = { kill_boost = 1.0, kill_inhibit = 2.0 }\n",
            ),
            "species[0].couplings.kill_inhibit",
        ),
        (
            one("a", "pM", "couplings = { growth_boost = 1.0 }\n"),
            "a coupling of kill_boost, kill_inhibit",
        ),
        (
            one("a", "pM", "couplings = { kill_boost = 0.0 }\n"),
            "species[0].couplings.kill_boost",
        ),
        (
            (0..=MAX_SPECIES)
                .map(|k| one(&format!("s{k}"), "pM", ""))
                .collect(),
            "at most 8 species",
        ),
        (
            one("cxcr4", "signal", ""),
            "column `cxcr4_signal_tumor` no other column has",
        ),
    ] {
        let err = check(&body).expect_err(&body);
        assert!(err.contains(says), "{body}\n--> {err}");
    }
}

/// The example scenario, on a small grid for a few hours, through the binary on the
/// CPU: its species has columns in metrics.csv, a plane in every stored snapshot, a
/// panel in final.png's planes, an array in the `.vti` file, and its checkpoint
/// resumes to the same bytes.
#[test]
fn the_example_runs_and_its_species_is_in_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenario = dir.join("small.toml");
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/slice/ifng.toml");
    std::fs::write(
        &scenario,
        format!(
            "extends = {:?}\n[grid]\nnx = 12\nny = 10\nnz = 9\n[time]\nburn_in_h = 0.5\n\
             duration_h = 2.0\nsnapshot_every_h = 1.0\nsnapshot_times_h = []\n[geometry.slice]\nthickness_um = 90.0\n",
            example.display().to_string()
        ),
    )
    .unwrap();
    // Runs a command of the binary, which must succeed; its standard output.
    let exe = || std::process::Command::new(env!("CARGO_BIN_EXE_infiltrate"));
    let ok = |cmd: &mut std::process::Command| -> String {
        let st = cmd.output().unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        String::from_utf8_lossy(&st.stdout).into_owned()
    };
    let run = |out: &std::path::Path, extra: &[&str]| {
        ok(exe()
            .arg("run")
            .arg(&scenario)
            .args(["--backend", "cpu", "--out"])
            .arg(out)
            .args(extra));
    };
    // `check` names the species' coupling, its factor and level.
    let said = ok(exe().arg("check").arg(&scenario).args(["--backend", "cpu"]));
    assert!(
        said.contains("the kill rate × (1 + ifng/K), K = 50 pM (coupling `kill_boost`)"),
        "{said}"
    );
    let whole = dir.join("whole");
    run(&whole, &["--checkpoint-every", "1h"]);
    let metrics = std::fs::read_to_string(whole.join("metrics.csv")).unwrap();
    let header = metrics.lines().next().unwrap();
    assert!(
        header.ends_with(",ifng_pM_tumor,ifng_pM_margin,ifng_pM_total_mm3"),
        "{header}"
    );
    let last: Vec<f64> = metrics
        .lines()
        .last()
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(last[last.len() - 3] > 0.0, "IFN-γ in the tumour: {metrics}");
    let plane = std::fs::read(whole.join("pictures/planes/000002.plane")).unwrap();
    let head = String::from_utf8_lossy(&plane[..plane.iter().position(|&b| b == b'\n').unwrap()])
        .into_owned();
    assert!(
        head.contains("\"class\",\"ifng_pM\"") && head.contains("IFN-γ"),
        "{head}"
    );
    assert!(whole.join("pictures/frames/ifng_pM/000002.png").is_file());
    let vti = std::fs::read(whole.join("paraview/snapshot_000002.vti")).unwrap();
    assert!(String::from_utf8_lossy(&vti[..4096.min(vti.len())]).contains("Name=\"ifng_pM\""));
    // Resumed from the checkpoint at 1 h: the same metrics and species planes.
    let part = dir.join("part");
    run(&part, &["--checkpoint-every", "1h", "--duration", "1h"]);
    ok(exe().arg("resume").arg(&part).args(["--until", "2h"]));
    assert_eq!(
        std::fs::read_to_string(part.join("metrics.csv")).unwrap(),
        metrics
    );
    assert_eq!(
        std::fs::read(part.join("pictures/planes/000002.plane")).unwrap(),
        plane
    );
}

/// A species dosed by `[[treatment]]`, in the forms drugs have: a constant bath level
/// given as a treatment steps the same bits as the same `bath_level`; a bath bolus's
/// level decays with its half-life; `check`'s timeline names the species and its unit.
#[test]
fn treatments_dose_a_species_in_its_own_unit() {
    use infiltrate::dosing::{Bolus, Dosing};
    use infiltrate::solver::species_levels;
    let mut p = busy([9, 7, 5]);
    let mut sp = species("ifng", 500.0, &[]);
    sp.chem.decay = [0.2; 5];
    p.species = vec![sp];
    let mut rng = Rng(2);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    let f = Fields::zeros_for(&p);
    let (plan, dosing) = common::busy_schedule(&p);
    let seg = Segment {
        t0: 0.0,
        steps: 4,
        dt: plan.cell_dt,
    };
    let run = |p: &Params, dosing: &Dosing| {
        let mut c = CpuSolver::new(p.clone(), class.clone(), f.clone());
        c.advance(&seg, 0, &Schedule::new(&plan, dosing, 1e-4), &mut |_| {})
            .unwrap();
        c.fields().species[0].1.clone()
    };
    let mut by_key = p.clone();
    by_key.species[0].bath = 5.0;
    let mut by_treatment = dosing.clone();
    by_treatment.species = vec![[
        Vec::new(),
        vec![Bolus {
            t0: 0.0,
            peak: 5.0,
            rate: 0.0,
        }],
    ]];
    let a = run(&by_key, &dosing);
    let b = run(&p, &by_treatment);
    assert_eq!(a, b);
    assert!(a.iter().any(|&x| x > 0.0));
    // A bolus of peak 8 at 1 h with a 2 h half-life.
    let rate = std::f64::consts::LN_2 / 120.0;
    by_treatment.species[0][1] = vec![Bolus {
        t0: 60.0,
        peak: 8.0,
        rate,
    }];
    assert_eq!(species_levels(&p, &by_treatment, 0, 30.0), (0.0, 0.0));
    let (_, bath) = species_levels(&p, &by_treatment, 0, 180.0);
    assert!((bath - 4.0).abs() < 1e-12, "{bath}");

    // Through a scenario: the treatment's keys and the timeline.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dosed.toml");
    let base = "[grid]\nnx = 4\nny = 4\nnz = 3\nvoxel_um = 10.0\n[time]\nduration_h = 4.0\n\
                snapshot_every_h = 1.0\n[geometry]\nkind = \"slice\"\n[geometry.slice]\n\
                thickness_um = 30.0\n[[species]]\nname = \"ifng\"\nwords = \"IFN-γ\"\n\
                unit = \"pM\"\ndiffusion_um2_per_min = 100.0\n";
    let prepared = |treatment: &str| {
        std::fs::write(&path, format!("{base}[[treatment]]\n{treatment}")).unwrap();
        infiltrate::run::prepare(&path, Default::default())
    };
    let ok = prepared("drug = \"ifng\"\nroute = \"bath\"\nhalf_life_h = 2.0\ndoses = [{ at_h = 1.0, peak = 8.0 }]\n")
        .unwrap();
    let line = ok.dosing_timeline().join("\n");
    assert!(
        line.contains("IFN-γ (bath): bolus at 60 min, peak 8 pM")
            && line.contains("2.83 pM at the end"),
        "{line}"
    );
    for (treatment, says) in [
        (
            "drug = \"ifng\"\nroute = \"bath\"\nlevel_uM = 1.0\n",
            "in the species' own unit",
        ),
        (
            "drug = \"amd3100\"\nroute = \"bath\"\nlevel = 1.0\n",
            "a drug's amount names its unit",
        ),
        (
            "drug = \"ifn\"\nroute = \"bath\"\nlevel = 1.0\n",
            "or the name of a [[species]] (`ifng`)",
        ),
        (
            "drug = \"ifng\"\nroute = \"bath\"\nlevel = -1.0\n",
            "treatment[0].level",
        ),
    ] {
        let err = match prepared(treatment) {
            Ok(_) => panic!("accepted: {treatment}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{treatment}\n--> {err}");
    }
}
