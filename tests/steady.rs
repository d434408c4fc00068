//! The quasi-steady solve (`infiltrate::steady`): unit responses by multigrid-
//! preconditioned conjugate gradients, against the explicit long-time limit, their
//! linearity, the operator's symmetry, the tolerance, thread independence, and how the
//! iteration count grows with the grid. (The GPU's twin tests are in tests/gpu.rs; the
//! analytic cosh profile in tests/analytic.rs.)

mod common;

use common::{max_abs, uniform, Rng};
use infiltrate::cpu::CpuSolver;
use infiltrate::model::{chem_bound, ChemParams, Fields, Params, N_CLASSES};
use infiltrate::scenario::Chemical;
use infiltrate::solver::Stepper;
use infiltrate::steady::{Operator, Responses, Source};

/// Coefficients with contrast (units µm²/min and 1/min): D 300, 100, 30, 300, 0 by
/// class (the last class closed to diffusion), decay 0.05 everywhere, plasma exchange 0.5
/// in class 3 (vessels) only, secretion 0.1 in class 1 only (so that all three source
/// patterns are exercised). Relaxation within 1/0.05 = 20 min.
fn chem() -> ChemParams {
    ChemParams {
        diffusion: [300.0, 100.0, 30.0, 300.0, 0.0],
        decay: [0.05; N_CLASSES],
        secretion: [0.0, 0.1, 0.0, 0.0, 0.0],
        exchange: [0.0, 0.0, 0.0, 0.5, 0.0],
    }
}

/// A `dims` box of edge `h` µm with bath faces on x− and z+ and random classes; the
/// coefficients are AMD3100's.
fn tissue(dims: [usize; 3], h: f64, seed: u64) -> (Params, Vec<u8>) {
    let mut p = uniform(dims, h);
    p.amd3100 = chem();
    p.bath_faces = [true, false, false, false, false, true];
    let mut rng = Rng(seed);
    let class = (0..p.voxels()).map(|_| rng.class()).collect();
    (p, class)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Grid 37 × 23 × 11 (h = 25 µm): the CPU's explicit sub-steps at 0.9 × the bound, for
/// 600 min (30 relaxation times: the slowest mode is down by e⁻³⁰ ≈ 1e-13), arrive at
/// the responses' steady field for plasma 0.8 and bath 1.3 (with the secretion), each
/// solved to 1e-11, within 1e-9 of its maximum (f64: both sides are converged far below
/// that). The quasi-steady solve through the stepper gives the same field to the bit.
#[test]
fn responses_are_the_explicit_long_time_limit() {
    let (p, class) = tissue([37, 23, 11], 25.0, 5);
    let n = p.voxels();
    let (plasma, bath) = (0.8, 1.3);
    let r = Responses::solve(&p, &p.amd3100, &class, 1e-11);
    assert!(r.converged(), "{:?}", r.solves);
    let mut want = vec![0.0; n];
    r.combine(plasma, bath, &mut want);
    let mut s = CpuSolver::new(p.clone(), class.clone(), Fields::zeros(n));
    let dt = 0.9 * chem_bound(&p, &p.amd3100);
    let steps = (600.0 / dt).ceil() as usize;
    for _ in 0..steps {
        s.chem_step(Chemical::Amd3100, dt, plasma, bath);
    }
    let rel = max_diff(&s.fields().a, &want) / max_abs(&want);
    eprintln!(
        "explicit limit ({steps} steps) against the responses: {rel:.3e} of max; {:?}",
        r.solves
    );
    assert!(rel <= 1e-9, "{rel:e}");
    let mut q = CpuSolver::new(p, class, Fields::zeros(n));
    q.solve_steady(Chemical::Amd3100, plasma, bath, 1e-11)
        .unwrap();
    assert_eq!(q.fields().a, want);
}

/// On 19 × 13 × 7: the operator is symmetric (`xᵀAy = yᵀAx` within 1e-13 relative, for
/// random x, y); each response solves its own pattern (`A R = b` within 1e-9 of `|b|`
/// at tolerance 1e-11); the combination is `R_σ + plasma R_p + bath R_b`.
#[test]
fn the_operator_is_symmetric_and_the_responses_linear() {
    let (p, class) = tissue([19, 13, 7], 10.0, 9);
    let n = p.voxels();
    let op = Operator::new(&p, &p.amd3100, &class);
    let mut rng = Rng(4);
    let x: Vec<f64> = (0..n).map(|_| rng.next() - 0.5).collect();
    let y: Vec<f64> = (0..n).map(|_| rng.next() - 0.5).collect();
    let (mut ax, mut ay) = (vec![0.0; n], vec![0.0; n]);
    op.apply(&x, &mut ax);
    op.apply(&y, &mut ay);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let (yax, xay) = (dot(&y, &ax), dot(&x, &ay));
    assert!(
        (yax - xay).abs() <= 1e-13 * yax.abs().max(xay.abs()),
        "{yax} {xay}"
    );
    let r = Responses::solve(&p, &p.amd3100, &class, 1e-11);
    for source in [Source::Secretion, Source::Plasma, Source::Bath] {
        let b = op.source(source, &class);
        let x = r.part(source).expect("every pattern is present");
        let mut ax = vec![0.0; n];
        op.apply(x, &mut ax);
        let rel = max_diff(&ax, &b) / max_abs(&b);
        assert!(rel <= 1e-9, "{source:?}: residual {rel:e}");
    }
    let mut got = vec![0.0; n];
    r.combine(0.3, 2.0, &mut got);
    let parts = [Source::Secretion, Source::Plasma, Source::Bath].map(|s| r.part(s).unwrap());
    for i in 0..n {
        let want = parts[0][i] + 0.3 * parts[1][i] + 2.0 * parts[2][i];
        assert_eq!(got[i], want, "voxel {i}");
    }
}

/// On 37 × 23 × 11: a response solved to tolerance 1e-6 is within 1e-6 of its maximum
/// of the response solved to 1e-12 (the residual target is 1 % of the tolerance, since
/// the largest error may exceed the residual measure: module docs of `steady`).
#[test]
fn a_solve_meets_its_tolerance() {
    let (p, class) = tissue([37, 23, 11], 25.0, 6);
    let loose = Responses::solve(&p, &p.amd3100, &class, 1e-6);
    let tight = Responses::solve(&p, &p.amd3100, &class, 1e-12);
    for source in [Source::Secretion, Source::Plasma, Source::Bath] {
        let (a, b) = (loose.part(source).unwrap(), tight.part(source).unwrap());
        let rel = max_diff(a, b) / max_abs(b);
        eprintln!("{source:?}: {rel:.3e} of max at tolerance 1e-6");
        assert!(rel <= 1e-6, "{source:?}: {rel:e}");
    }
    assert!(tight.converged(), "{:?}", tight.solves);
}

/// Cubes of edge 8, 16 and 32 voxels of random classes: the iterations to 1e-6 grow at
/// most linearly with the edge (what the issue asks), and here far less: at most 2.5×
/// from 8 to 32 (multigrid's levels add a few iterations per doubling; unpreconditioned
/// conjugate gradients would take about 4× as √cond grows with the edge).
#[test]
fn iterations_grow_slowly_with_the_grid() {
    let mut counts = Vec::new();
    for edge in [8usize, 16, 32] {
        let (p, class) = tissue([edge, edge, edge], 25.0, 7);
        let r = Responses::solve(&p, &p.amd3100, &class, 1e-6);
        assert!(r.converged(), "{edge}: {:?}", r.solves);
        let most = r
            .solves
            .iter()
            .flatten()
            .map(|s| s.iterations)
            .max()
            .unwrap();
        counts.push(most);
    }
    eprintln!("iterations at edge 8, 16, 32: {counts:?}");
    assert!(counts[2] <= 4 * counts[0], "{counts:?}");
    assert!(
        f64::from(counts[2]) <= 2.5 * f64::from(counts[0]),
        "{counts:?}"
    );
}

/// 41 × 29 × 13 (above the size worked on one thread): the responses have the same
/// bits on one thread and on three.
#[test]
fn responses_do_not_depend_on_the_thread_count() {
    let (p, class) = tissue([41, 29, 13], 10.0, 8);
    let solve = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let r = Responses::solve(&p, &p.amd3100, &class, 1e-10);
            let mut u = vec![0.0; p.voxels()];
            r.combine(0.7, 1.1, &mut u);
            u
        })
    };
    let (one, three) = (solve(1), solve(3));
    let differ = one
        .iter()
        .zip(&three)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differ, 0);
}

/// The measurement docs/model.md reports (run by hand: `cargo test --release --test
/// steady -- --ignored --nocapture`): the in-vivo combination arm's tissue on a 10 mm box
/// at 25 µm (400³ voxels), AMD3100's plasma response solved to the scenario's tolerance.
/// It must converge, in under 1,000 iterations.
#[test]
#[ignore]
fn in_vivo_10_mm_at_25_um_converges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = format!(
        "extends = {:?}\n[grid]\nnx = 400\nny = 400\nnz = 400\nvoxel_um = 25.0\n\
         [numerics]\nquasi_steady = [\"amd3100\"]\n",
        root.join("scenarios/flc/combination.toml")
            .display()
            .to_string()
    );
    std::fs::write(&path, toml).unwrap();
    let started = std::time::Instant::now();
    let prep = infiltrate::run::prepare(&path, Default::default()).unwrap();
    eprintln!("tissue built in {:.1} s", started.elapsed().as_secs_f64());
    let tol = prep.loaded.scenario.numerics.quasi_steady_tolerance;
    let started = std::time::Instant::now();
    let mut r = Responses::default();
    let iterations = r.ensure(
        &prep.params,
        &prep.params.amd3100,
        &prep.geometry.class,
        tol,
        (1.0, 0.0),
    );
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "400³ AMD3100 plasma response to {tol:e}: {iterations} iterations, {secs:.1} s, {:?}",
        r.solves
    );
    assert!(r.converged() && iterations < 1000, "{:?}", r.solves);
}
