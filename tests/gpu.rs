//! The GPU solver against the CPU reference and against exact solutions, on whatever
//! adapter wgpu finds (here: lavapipe, Mesa's software Vulkan; the test fails with what
//! to install when there is none, it never passes silently).
//!
//! f32 tolerances against the CPU (f64). One kernel update `u' = u + Δt R` rounds its
//! result by half an ulp of `u'` (relative, `ε₃₂/2 |u'|`) and each of the about eight
//! terms of `R` by half an ulp of a value that within the step bound is at most about
//! `M/2` after the factor Δt (`M` the field's maximum), and GPU division may err by
//! 2.5 ulp: together at most about `ε₃₂ (|u'| + 4 M)` per step. The explicit steps are
//! stable (non-expansive for the chemicals, positive and conservative for T), so errors
//! of `n` steps add at most linearly, the initial rounding to f32 counting as one more:
//! `|gpu − cpu| ≤ ε₃₂ (n + 1) (|u_cpu| + 4 M)` per voxel ([`f32_bound`]). That is a
//! worst case; the measured errors (printed, as a fraction of the bound) are far below
//! it, as rounding errors of successive steps mostly cancel.
//!
//! Against exact solutions, the f32 term is instead the random-walk estimate
//! `4 ε₃₂ √(n + 1) M` (independent, unbiased round-to-nearest errors), added to the
//! f64 test's own tolerance, which it must stay well below.

mod common;

use common::{
    adapter, arrest_setup, boltzmann_c, boltzmann_params, busy, busy_schedule, centre, coords,
    cosine_setup, mass_setup, max_abs, spread, steady_params, transport_setup, uniform, Rng,
};
use infiltrate::cpu::CpuSolver;
use infiltrate::gpu::GpuSolver;
use infiltrate::model::{
    cell_bound, chem_bound, signal, ChemParams, Fields, Params, Segment, CHEMICALS, N_CLASSES,
    OUTSIDE, TUMOR,
};
use infiltrate::scenario::Chemical;
use infiltrate::solver::{Schedule, Stepper, SubStep};

// ---------------------------------------------------------------------------------
// Helpers

fn gpu(p: Params, class: Vec<u8>, fields: Fields) -> GpuSolver {
    GpuSolver::new(&adapter(), p, class, fields).expect("creating the GPU solver")
}

/// The GPU solver split into `slabs` z-slabs (`None`: as few as fit).
fn gpu_in_slabs(p: &Params, class: &[u8], fields: &Fields, slabs: Option<usize>) -> GpuSolver {
    use infiltrate::gpu::{GpuOptions, Initial};
    let options = GpuOptions {
        slabs,
        ..Default::default()
    };
    GpuSolver::with_options(
        &adapter(),
        p.clone(),
        class,
        Initial::Fields(fields),
        options,
    )
    .expect("creating the GPU solver")
}

/// Both solvers on the same parameters, classes and fields.
fn twins(p: Params, class: Vec<u8>, fields: Fields) -> (CpuSolver, GpuSolver) {
    (
        CpuSolver::new(p.clone(), class.clone(), fields.clone()),
        gpu(p, class, fields),
    )
}

/// Random classes and fields in the model's ranges: C 0–20 nM, A 0–2 µM (about
/// 0–400 K_A), P 0–100 nM, T 0–2e4 per mm³ with one voxel in 20 above T_max = 1e5,
/// N 1 in tumour and 0.5 elsewhere (N is not confined to the tumour in a test), K 0–0.1.
fn random_state(p: &Params, seed: u64) -> (Vec<u8>, Fields) {
    let n = p.voxels();
    let mut rng = Rng(seed);
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let mut f = Fields::zeros(n);
    for (i, &k) in class.iter().enumerate() {
        f.c[i] = 20.0 * rng.next();
        f.a[i] = 2.0 * rng.next();
        f.p[i] = 100.0 * rng.next();
        f.t[i] = if rng.next() < 0.05 {
            1.2e5
        } else {
            2e4 * rng.next()
        };
        f.n[i] = if k == TUMOR { 1.0 } else { 0.5 };
        f.k[i] = 0.1 * rng.next();
    }
    (class, f)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()))
}

const EPS: f64 = f32::EPSILON as f64;

/// The f32 error bound of `steps` explicit steps at a voxel whose CPU value is `u`, in a
/// field of maximum `m` (module docs): `ε₃₂ (steps + 1) (|u| + 4 m)`.
fn f32_bound(steps: usize, u: f64, m: f64) -> f64 {
    EPS * (steps as f64 + 1.0) * (u.abs() + 4.0 * m)
}

/// The random-walk estimate of f32 rounding after `steps` steps of a field of maximum
/// `m` (module docs): `4 ε₃₂ √(steps + 1) m`.
fn f32_walk(steps: usize, m: f64) -> f64 {
    4.0 * EPS * (steps as f64 + 1.0).sqrt() * m
}

/// Compares the fields of the two solvers voxel by voxel within [`f32_bound`] for
/// `steps[f]` steps of field f (C, A, P, T, N, K; `None`: not compared here); prints
/// and returns the largest error as a fraction of its bound.
fn compare(what: &str, cpu: &Fields, gpu: &Fields, steps: [Option<usize>; 6]) -> f64 {
    let mut worst = 0.0_f64;
    let fields = cpu.named().into_iter().zip(gpu.named()).zip(steps);
    for (((name, c), (_, g)), n) in fields {
        let Some(n) = n else { continue };
        let m = max_abs(c);
        let mut share = 0.0_f64;
        let mut err = 0.0_f64;
        for (i, (&x, &y)) in c.iter().zip(g).enumerate() {
            let bound = f32_bound(n, x, m);
            let e = (x - y).abs();
            assert!(
                e <= bound,
                "{what}: {name} at voxel {i}: gpu {y:e}, cpu {x:e}, beyond {bound:e}"
            );
            err = err.max(e);
            if bound > 0.0 {
                share = share.max(e / bound);
            }
        }
        eprintln!("{what}: {name} max error {err:.3e} (max {m:.3e}), {share:.4} of the bound");
        worst = worst.max(share);
    }
    worst
}

// ---------------------------------------------------------------------------------
// Buffers, selection, limits

/// Grid 37 × 23 × 11 (rows padded from 37 to 40): fields and classes uploaded and read
/// back unchanged but for the rounding to f32 (tolerance: exactly the f32 value).
#[test]
fn fields_round_trip_through_padded_f32_buffers() {
    let p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 1);
    let mut g = gpu(p, class, fields.clone());
    let back = g.read_fields().unwrap();
    for ((name, a), (_, b)) in fields.named().into_iter().zip(back.named()) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(*y, f64::from(*x as f32), "{name} at voxel {i}");
        }
    }
    g.reset_killed();
    assert!(g.read_fields().unwrap().k.iter().all(|&k| k == 0.0));
}

/// A grid whose fields exceed one storage binding is split into z-slabs whose buffers
/// (own planes and two halo planes) each fit it, as few as fit, planes shared out
/// evenly; a grid whose single plane (with its halos) exceeds the binding is refused
/// before anything is allocated, naming the limit, the bytes needed and the adapter's
/// value; a forced slab count of 0 or above nz is refused.
#[test]
fn grids_beyond_one_binding_are_split_into_z_slabs() {
    use infiltrate::gpu::{check_grid, plan_slabs, GpuOptions, Slab};
    let a = adapter();
    let limits = a.limits();
    let most = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    // 1024 × 1024 × nz voxels of 4 bytes, twice the binding limit.
    let plane = 1024 * 1024 * 4;
    let nz = (2 * most / plane + 1) as usize;
    let (_, slabs) = check_grid(&a, [1024, 1024, nz], GpuOptions::default())
        .expect("a tall grid is split into slabs");
    assert!(slabs.len() >= 3, "{} slabs for {nz} planes", slabs.len());
    let mut z = 0;
    for s in &slabs {
        assert_eq!(s.z0, z, "{slabs:?}");
        assert!(
            (s.planes as u64 + 2) * plane <= most,
            "{s:?} beyond {most} bytes"
        );
        z += s.planes;
    }
    assert_eq!(z, nz);
    // As few as fit: one slab fewer would not.
    assert!((nz.div_ceil(slabs.len() - 1) as u64 + 2) * plane > most);

    // Pure planning: even shares, the first slabs one plane more.
    let p = plan_slabs(11, 100, 10_000, Some(3)).unwrap();
    assert_eq!(
        p,
        [
            Slab { z0: 0, planes: 4 },
            Slab { z0: 4, planes: 4 },
            Slab { z0: 8, planes: 3 }
        ]
    );
    assert_eq!(
        plan_slabs(11, 100, 700, None).unwrap().len(),
        3,
        "5 planes + 2 halos fit 700"
    );
    assert!(plan_slabs(11, 100, 10_000, Some(0)).is_err());
    assert!(plan_slabs(11, 100, 10_000, Some(12)).is_err());
    assert!(
        plan_slabs(11, 100, 700, Some(2)).is_err(),
        "6 planes + 2 halos exceed 700"
    );

    // One plane (with halos) beyond the binding: refused with the numbers.
    let side = ((most / 12) as f64).sqrt() as usize + 8;
    let err = check_grid(&a, [side, side, 4], GpuOptions::default())
        .expect_err("the plane should not fit")
        .to_string();
    for want in [
        "max_storage_buffer_binding_size",
        &most.to_string(),
        "z-slabs",
        "--backend cpu",
    ] {
        assert!(err.contains(want), "`{want}` missing in: {err}");
    }
    let err = check_grid(
        &a,
        [37, 23, 11],
        GpuOptions {
            slabs: Some(12),
            ..Default::default()
        },
    )
    .expect_err("12 slabs of 11 planes")
    .to_string();
    assert!(
        err.contains("12 z-slabs asked for a grid of 11 z-planes"),
        "{err}"
    );
    assert_eq!(
        check_grid(&a, [37, 23, 11], GpuOptions::default())
            .unwrap()
            .1
            .len(),
        1
    );
}

/// Grid 13 × 11 × 9 (rows padded to 16) with every term ([`busy`]: a bath face on z+,
/// uptake, plasma and bath levels): 4 cell steps through `advance` (every chemical
/// sub-stepped), then a quasi-steady solve of anti-PD-1 to 1e-2 (its convergence
/// measure is a maximum over all slabs), unsplit and split into 2, 4 and 9 z-slabs (one
/// plane each). Every voxel's update reads the same
/// values (the halos are copies), so the fields and the quasi-steady re-solves must be
/// the same to the bit (tolerance: none).
#[test]
fn slab_split_runs_match_the_unsplit_run_to_the_bit() {
    let p = busy([13, 11, 9]);
    let (class, fields) = random_state(&p, 11);
    let (mut plan, dosing) = busy_schedule(&p);
    plan.quasi_steady = [false; 3];
    let seg = Segment {
        t0: 0.0,
        steps: 4,
        dt: plan.cell_dt,
    };
    let run = |slabs: Option<usize>| {
        let mut g = gpu_in_slabs(&p, &class, &fields, slabs);
        if let Some(n) = slabs {
            assert_eq!(g.slabs().len(), n);
        }
        let started = std::time::Instant::now();
        g.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |_| {})
            .unwrap();
        let iterations = g.solve_steady(Chemical::AntiPd1, 5.0, 0.0, 1e-2).unwrap();
        eprintln!(
            "{slabs:?} slabs: {:.1} s, {iterations} iterations",
            started.elapsed().as_secs_f64()
        );
        (g.read_fields().unwrap(), iterations)
    };
    let (whole, counts) = run(None);
    assert!(whole.k.iter().any(|&k| k > 0.0) && whole.p.iter().any(|&v| v > 0.0));
    for n in [2, 4, 9] {
        let (split, c) = run(Some(n));
        assert_eq!(c, counts, "{n} slabs: quasi-steady iterations");
        for ((name, a), (_, b)) in whole.named().into_iter().zip(split.named()) {
            if let Some(i) = a
                .iter()
                .zip(b)
                .position(|(x, y)| x.to_bits() != y.to_bits())
            {
                panic!(
                    "{n} slabs: {name} at voxel {i}: {} unsplit, {} split",
                    a[i], b[i]
                );
            }
        }
    }
}

/// The initial state uploaded per class (no host copy of the fields) is the state
/// `Fields::initial`'s expansion uploads, to the bit, split or not (13 × 11 × 9,
/// random classes and per-class values).
#[test]
fn initial_state_per_class_uploads_as_the_expanded_fields() {
    use infiltrate::gpu::{GpuOptions, Initial};
    let p = busy([13, 11, 9]);
    let (class, _) = random_state(&p, 3);
    let mut rng = Rng(5);
    let table: [[f64; 5]; 6] = std::array::from_fn(|_| std::array::from_fn(|_| rng.next()));
    let mut expanded = Fields::zeros(class.len());
    for (k, f) in expanded.all_mut().into_iter().enumerate() {
        for (v, &c) in f.iter_mut().zip(&class) {
            *v = table[k][c as usize];
        }
    }
    let mut want = gpu(p.clone(), class.clone(), expanded);
    let want = want.read_fields().unwrap();
    for slabs in [None, Some(3)] {
        let mut g = GpuSolver::with_options(
            &adapter(),
            p.clone(),
            &class,
            Initial::PerClass(&table),
            GpuOptions {
                slabs,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(g.read_fields().unwrap(), want, "{slabs:?} slabs");
    }
}

/// Backend selection: an explicit Vulkan finds the test's adapter; `auto` takes a GPU
/// exactly when wgpu lists a discrete or integrated one and the CPU solver otherwise;
/// an adapter name nobody has is an error listing what was found; `cpu` with an
/// adapter name is an error.
#[test]
fn backend_selection_follows_the_rules() {
    use infiltrate::run::{choose_backend, Backend};
    let all = wgpu::Backends::PRIMARY;
    let adapters = infiltrate::gpu::enumerate(&infiltrate::gpu::instance(all), all);
    let any_gpu = adapters
        .iter()
        .any(|a| infiltrate::gpu::is_gpu(&a.get_info()));
    let auto = choose_backend(Backend::Auto, None).unwrap();
    assert_eq!(auto.adapter.is_some(), any_gpu, "{}", auto.why);
    if !any_gpu {
        assert_eq!(auto.backend, Backend::Cpu);
        assert!(auto.why.starts_with("cpu (auto:"), "{}", auto.why);
    }
    let name = adapter().get_info().name;
    let picked = choose_backend(Backend::Auto, Some(&name.to_uppercase())).unwrap();
    assert_eq!(picked.adapter.unwrap().get_info().name, name);
    let err = choose_backend(Backend::Auto, Some("no such adapter"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("found:") && err.contains(&name), "{err}");
    assert!(choose_backend(Backend::Cpu, Some("x")).is_err());
}

// ---------------------------------------------------------------------------------
// Kernels against the CPU

/// Grid 37 × 23 × 11, random classes and fields ([`busy`] parameters): one sub-step of
/// each chemical (CXCL12 with uptake by T and a 0.3 nM bath; AMD3100 and anti-PD-1
/// exchanging with plasma at vessels and held by the bath), then 200 more, each at
/// 0.9 × its bound, with the bath on x− and z+ and again on the other four faces;
/// every field within [`f32_bound`].
#[test]
fn chem_step_matches_cpu_for_each_chemical() {
    let mut p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 2);
    let faces = [
        [true, false, false, false, false, true],
        [false, true, true, true, true, false],
    ];
    for bath_faces in faces {
        p.bath_faces = bath_faces;
        chem_steps_match_cpu(&p, &class, &fields, 200, &format!("bath {bath_faces:?}"));
    }
}

/// One sub-step of each chemical (CXCL12 with a 0.3 nM bath; AMD3100 at 1.6 µM in
/// plasma and 1 µM in the bath; anti-PD-1 at 410 and 68.5 nM), then `more`, each at
/// 0.9 × its bound, on the GPU and the CPU from the same state: every field within
/// [`f32_bound`] after the first step and after all.
fn chem_steps_match_cpu(p: &Params, class: &[u8], fields: &Fields, more: usize, what: &str) {
    let levels = [(0.0, 0.3), (1.6, 1.0), (410.0, 68.5)];
    for (u, which) in [Chemical::Cxcl12, Chemical::Amd3100, Chemical::AntiPd1]
        .into_iter()
        .enumerate()
    {
        let dt = 0.9 * chem_bound(p, p.chem(which));
        let (plasma, bath) = levels[u];
        let (mut c, mut g) = twins(p.clone(), class.to_vec(), fields.clone());
        let mut done = 0;
        for steps in [1, more] {
            for _ in 0..steps {
                c.chem_step(which, dt, plasma, bath);
                g.chem_step(which, dt, plasma, bath);
            }
            done += steps;
            let mut steps = [Some(0); 6];
            steps[u] = Some(done);
            compare(
                &format!("{which:?}, {what}, after {done} steps"),
                c.fields(),
                &g.read_fields().unwrap(),
                steps,
            );
        }
    }
}

/// Grid 37 × 23 × 11 of class blocks (up to 13 × 12 × 6 voxels, random classes), as
/// tissue is (regions of one class with faces between them), where the random classes
/// of the test above have almost no quad of one class: one sub-step of each chemical
/// and 100 more at 0.9 × its bound, bath on x− and z+; every field within
/// [`f32_bound`].
#[test]
fn chem_step_matches_cpu_inside_regions_of_one_class() {
    let p = busy([37, 23, 11]);
    let (_, fields) = random_state(&p, 4);
    let mut rng = Rng(9);
    let blocks: Vec<u8> = (0..3 * 2 * 2).map(|_| rng.class()).collect();
    let n = p.voxels();
    let class: Vec<u8> = (0..n)
        .map(|i| {
            let [x, y, z] = coords(p.dims, i);
            blocks[x / 13 + 3 * (y / 12 + 2 * (z / 6))]
        })
        .collect();
    // Voxels whose six neighbours share their class (the short path's share).
    let [nx, ny, nz] = p.dims;
    let at = |x: usize, y: usize, z: usize| class[x + nx * (y + ny * z)];
    let interior = (0..n)
        .filter(|&i| {
            let [x, y, z] = coords(p.dims, i);
            let c = at(x, y, z);
            x > 0 && y > 0 && z > 0 && x + 1 < nx && y + 1 < ny && z + 1 < nz && {
                [
                    at(x - 1, y, z),
                    at(x + 1, y, z),
                    at(x, y - 1, z),
                    at(x, y + 1, z),
                    at(x, y, z - 1),
                    at(x, y, z + 1),
                ]
                .iter()
                .all(|&n| n == c)
            }
        })
        .count();
    assert!(interior * 3 > class.len(), "{interior} interior voxels");
    chem_steps_match_cpu(&p, &class, &fields, 100, "class blocks");
}

/// Grid 37 × 23 × 11, random classes (outside closed to T cells), random C, A, P, T
/// (one voxel in 20 above T_max, so the crowding clamp acts), N: one cell step and
/// 300 more at 0.9 × the bound with chemotaxis (χ = 5 μ_0), arrest 0.9, influx at
/// vessels, proliferation, death, growth and killing under PD-1 blockade; T, N, K
/// within [`f32_bound`].
#[test]
fn cell_step_matches_cpu() {
    let p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 3);
    let dt = 0.9 * cell_bound(&p);
    let (mut c, mut g) = twins(p, class, fields);
    let mut done = 0;
    for steps in [1, 300] {
        for _ in 0..steps {
            c.cell_step(dt);
            g.cell_step(dt);
        }
        done += steps;
        let back = g.read_fields().unwrap();
        let d = Some(done);
        let steps = [Some(0), Some(0), Some(0), d, d, d];
        compare(
            &format!("cell after {done} steps"),
            c.fields(),
            &back,
            steps,
        );
    }
}

/// Rows that end inside a vec4 (the chem and cell kernels step four x-voxels per
/// thread): nx = 1, 2, 3, 5, 6, 7 (partial quads, padding in the last vec4 of a row,
/// nx = 1 with no x-neighbour at all) and 4, 8 (whole quads), ny × nz = 5 × 4, random
/// classes and fields ([`busy`] parameters): 40 sub-steps of each chemical with the bath
/// on x−, x+, y− and z+ (so the bath terms of both x faces act at partial quads), then
/// 40 cell steps with every class open to T cells; every field within [`f32_bound`].
#[test]
fn kernels_match_cpu_on_rows_ending_inside_a_vec4() {
    let chemicals = [Chemical::Cxcl12, Chemical::Amd3100, Chemical::AntiPd1];
    let levels = [(0.0, 0.3), (1.6, 1.0), (410.0, 68.5)];
    for nx in [1, 2, 3, 4, 5, 6, 7, 8] {
        let mut p = busy([nx, 5, 4]);
        p.bath_faces = [true, true, true, false, false, true];
        // Class 0 open to T cells, so that a padding voxel (class code 0, T = w = 0)
        // taken for a neighbour would carry a flux.
        p.motility[0] = 0.5;
        let (class, fields) = random_state(&p, 10 + nx as u64);
        let (mut c, mut g) = twins(p.clone(), class, fields);
        let steps = 40;
        for (u, which) in chemicals.into_iter().enumerate() {
            let dt = 0.9 * chem_bound(&p, p.chem(which));
            let (plasma, bath) = levels[u];
            for _ in 0..steps {
                c.chem_step(which, dt, plasma, bath);
                g.chem_step(which, dt, plasma, bath);
            }
        }
        let dt = 0.9 * cell_bound(&p);
        for _ in 0..steps {
            c.cell_step(dt);
            g.cell_step(dt);
        }
        // The cell steps read C and A after their sub-steps: T, N, K carry both errors.
        let n = Some(2 * steps);
        compare(
            &format!("nx = {nx}"),
            c.fields(),
            &g.read_fields().unwrap(),
            [Some(steps), Some(steps), Some(steps), n, n, n],
        );
    }
}

/// A plan with the given cell step, sub-step counts and quasi-steady flags (as in
/// tests/analytic.rs).
/// Grid 13 × 11 × 9 (rows padded to 16) with every term ([`busy`], as
/// tests/analytic.rs's `busy_run` but smaller, so that the CPU's quasi-steady solves
/// take seconds): 12 cell steps through `advance`, with CXCL12 (uptake) and AMD3100 (plasma bolus
/// from 0.5 min, bath from 0) sub-stepped and anti-PD-1 (plasma bolus from 1 min)
/// quasi-steady at tolerance 1e-4, so the order of sub-steps, levels and re-solves is
/// the CPU's (the re-solves are counted). C, A, T, N, K within [`f32_bound`] for their
/// step counts; P is the CPU's to f32 rounding (ε₃₂ of its maximum): both backends
/// combine the same f64 responses for the same levels, and the GPU rounds the result.
#[test]
fn advance_matches_cpu_with_every_term() {
    let p = busy([13, 11, 9]);
    let (class, fields) = random_state(&p, 7);
    let (plan, dosing) = busy_schedule(&p);
    let (cell_dt, substeps) = (plan.cell_dt, plan.substeps);
    let seg = Segment {
        t0: 0.0,
        steps: 12,
        dt: cell_dt,
    };
    let (mut c, mut g) = twins(p, class, fields);
    let tol = 1e-4;
    c.advance(&seg, 0, &Schedule::new(&plan, &dosing, tol), &mut |_| {})
        .unwrap();
    let mut seen = 0;
    g.advance(&seg, 0, &Schedule::new(&plan, &dosing, tol), &mut |k| {
        seen = k
    })
    .unwrap();
    assert_eq!(seen, 12);
    assert_eq!(
        c.steady_counts()[2].0,
        g.steady_counts()[2].0,
        "anti-PD-1 re-solves"
    );
    let back = g.read_fields().unwrap();
    let n = |u: usize| Some(12 * substeps[u] as usize);
    let steps = [n(0), n(1), None, Some(12), Some(12), Some(12)];
    compare("advance, 12 cell steps", c.fields(), &back, steps);
    let (cp, gp) = (&c.fields().p, &back.p);
    let err = max_diff(cp, gp) / max_abs(cp);
    eprintln!(
        "advance: anti-PD-1 {err:.3e} of its max; solves cpu {:?}, gpu {:?}",
        c.steady_counts()[2],
        g.steady_counts()[2]
    );
    assert!(err <= EPS, "anti-PD-1 differs by {err:e} of its max");
    assert!(back.k.iter().any(|&k| k > 0.0) && back.p.iter().any(|&p| p > 0.0));
}

// ---------------------------------------------------------------------------------
// Exact solutions on the GPU

/// Grid 7 × 5 × 3, random classes with decay 0.01–0.05 /min, no diffusion, 400 steps
/// of 0.1 min. The relative error against `exp(−λt)` must be forward Euler's
/// `λt · λΔt/2` within 5 % (as on the CPU) plus f32 rounding: each step multiplies by
/// `1 − λΔt` with three roundings (`λu`, `Δt ·`, the sum), so at most `1.5 ε₃₂` per
/// step, `(1.5 n + 1) ε₃₂` in all (systematic, so no random-walk discount).
#[test]
fn gpu_pure_decay_matches_forward_euler_error() {
    let dims = [7, 5, 3];
    let mut p = uniform(dims, 10.0);
    p.amd3100.decay = [0.01, 0.02, 0.05, 0.03, 0.04];
    let mut rng = Rng(1);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    let mut f = Fields::zeros(p.voxels());
    f.a = (0..p.voxels()).map(|_| 1.0 + rng.next()).collect();
    let u0 = f.a.clone();
    let decay = p.amd3100.decay;
    let mut g = gpu(p, class.clone(), f);
    let (dt, steps) = (0.1, 400);
    for _ in 0..steps {
        g.chem_step(Chemical::Amd3100, dt, 0.0, 0.0);
    }
    let a = g.read_fields().unwrap().a;
    let t = dt * steps as f64;
    let rounding = (1.5 * steps as f64 + 1.0) * EPS;
    let mut worst = 0.0_f64;
    for i in 0..class.len() {
        let l = decay[class[i] as usize];
        let exact = u0[i] * (-l * t).exp();
        let err = (exact - a[i]) / exact;
        let predicted = l * t * l * dt / 2.0;
        let off = (err - predicted).abs();
        assert!(
            off <= 0.05 * predicted + rounding,
            "voxel {i}: error {err:e}, forward Euler predicts {predicted:e}"
        );
        worst = worst.max(off / (0.05 * predicted + rounding));
    }
    eprintln!("pure decay: worst {worst:.3} of the tolerance");
}

/// Grid 29 × 4 × 3, h = 7 µm, D = 100 µm²/min in random classes, zero-flux faces,
/// `u = 2 + cos(πx/L)` for one e-fold at half the step bound (about 1000 steps), as on
/// the CPU: the mode must match `exp(−Dπ²t/L²)` within the f64 test's tolerance
/// (space and time truncation, times 1.1, relative to the mode) plus the f32
/// random-walk estimate [`f32_walk`] (about 5e-5 of max u = 3, a tenth of the former).
#[test]
fn gpu_cosine_mode_decays_at_exact_rate() {
    let (p, class) = cosine_setup();
    let (dims, h, d) = (p.dims, p.h, p.cxcl12.diffusion[0]);
    let l = dims[0] as f64 * h;
    let dt = 0.5 * chem_bound(&p, &p.cxcl12);
    let pi = std::f64::consts::PI;
    let mode = |i: usize| (pi * centre(coords(dims, i)[0], h) / l).cos();
    let mut f = Fields::zeros(p.voxels());
    f.c = (0..p.voxels()).map(|i| 2.0 + mode(i)).collect();
    let mut g = gpu(p, class, f);
    let lambda = d * pi * pi / (l * l);
    let steps = (1.0 / lambda / dt).round() as usize;
    for _ in 0..steps {
        g.chem_step(Chemical::Cxcl12, dt, 0.0, 0.0);
    }
    let t = steps as f64 * dt;
    let exact = (-lambda * t).exp();
    let tol = 1.1 * (lambda * t * (pi * h / l).powi(2) / 12.0 + lambda * t * lambda * dt / 2.0);
    let walk = f32_walk(steps, 3.0);
    let c = g.read_fields().unwrap().c;
    let mut worst = 0.0_f64;
    for (i, &u) in c.iter().enumerate() {
        let want = 2.0 + exact * mode(i);
        let allowed = tol * exact * mode(i).abs() + walk;
        assert!(
            (u - want).abs() <= allowed,
            "voxel {i}: {u} against {want} (allowed {allowed:e})"
        );
        worst = worst.max((u - want).abs() / allowed);
    }
    eprintln!(
        "cosine mode: {steps} steps, worst {worst:.3} of the tolerance (f32 part {walk:.2e})"
    );
}

/// Grid 19 × 13 × 11, random classes with D = 50, 100, 300, 30, 0 µm²/min (the last
/// closed), a random field, zero-flux faces: 2000 steps at 0.9 × bound. Face fluxes are
/// antisymmetric to the bit in f32 too (the harmonic mean is symmetric), so only the
/// rounding of each voxel's update changes the total: at most half an ulp of each
/// value per step, `n ε₃₂/2` of the total after n steps (1.2e-4); the field must
/// change by O(1).
#[test]
fn gpu_diffusion_conserves_mass() {
    let (p, class, mut rng) = mass_setup();
    let n = p.voxels();
    let mut f = Fields::zeros(n);
    f.c = (0..n).map(|_| 10.0 * rng.next() as f32 as f64).collect();
    let u0 = f.c.clone();
    let dt = 0.9 * chem_bound(&p, &p.cxcl12);
    let mut g = gpu(p, class, f);
    let steps = 2000;
    for _ in 0..steps {
        g.chem_step(Chemical::Cxcl12, dt, 0.0, 0.0);
    }
    let c = g.read_fields().unwrap().c;
    let (m0, m1): (f64, f64) = (u0.iter().sum(), c.iter().sum());
    let rel = ((m1 - m0) / m0).abs();
    let bound = steps as f64 * EPS / 2.0;
    eprintln!("mass: relative change {rel:.3e} (bound {bound:.2e})");
    assert!(rel <= bound, "mass {m0} → {m1}: relative change {rel:e}");
    assert!(max_diff(&u0, &c) > 1.0, "the field hardly changed");
}

/// Grid 23 × 17 × 13, random classes with motility 0 (outside: closed), 1, 1, 0.5,
/// 0.5, arrest 0.7, χ = 5 μ_0, a random signal and T, no sources or sinks: 500 cell
/// steps at 0.9 × bound. Total T within `n ε₃₂/2` (antisymmetric fluxes; as for mass
/// above), T in the closed class unchanged to the bit, T ≥ 0.
#[test]
fn gpu_t_cell_transport_conserves_cells() {
    let (p, class, mut rng) = transport_setup();
    let n = p.voxels();
    let mut f = Fields::zeros(n);
    f.t = (0..n).map(|_| (1e4 * rng.next()) as f32 as f64).collect();
    f.c = (0..n).map(|_| 20.0 * rng.next()).collect();
    let t0 = f.t.clone();
    let dt = 0.9 * cell_bound(&p);
    let mut g = gpu(p, class.clone(), f);
    let steps = 500;
    for _ in 0..steps {
        g.cell_step(dt);
    }
    let t = g.read_fields().unwrap().t;
    let (m0, m1): (f64, f64) = (t0.iter().sum(), t.iter().sum());
    let rel = ((m1 - m0) / m0).abs();
    let bound = steps as f64 * EPS / 2.0;
    eprintln!("T cells: relative change {rel:.3e} (bound {bound:.2e})");
    assert!(rel <= bound, "T total {m0} → {m1}");
    for i in 0..n {
        if class[i] == OUTSIDE {
            assert_eq!(t[i], t0[i], "T moved in the closed class at voxel {i}");
        }
    }
    assert!(t.iter().all(|&x| x >= 0.0));
}

/// The CPU's Boltzmann run (tests/analytic.rs) on the GPU: C from [`boltzmann_c`],
/// T = 1000 cells/mm³ everywhere, all tumour, `minutes` of cell steps at 0.9 × the
/// bound; returns C and the final T.
fn gpu_boltzmann_run(p: Params, l: f64, minutes: f64) -> (Vec<f64>, Vec<f64>) {
    let dt = 0.9 * cell_bound(&p);
    let nv = p.voxels();
    let mut f = Fields::zeros(nv);
    f.c = boltzmann_c(&p, l);
    f.t = vec![1000.0; nv];
    let c = f.c.clone();
    let mut g = gpu(p, vec![TUMOR; nv], f);
    for _ in 0..(minutes / dt).ceil() as usize {
        g.cell_step(dt);
    }
    (c, g.read_fields().unwrap().t)
}

/// Grids n × 2 × 2 with n = 12 and 24 (h = 10, 5 µm, L = 120 µm), a fixed signal from
/// `C = K_C (1 + 3x/L)`, χ = 4 μ_0, no arrest, no sources; 1500 min. As on the CPU
/// (tests/analytic.rs), the spread of `ln(T/T_Boltzmann)` must lie in
/// `[Σ(x_f²/2 − x_f³/3), Σ x_f²/2]` (the upwind scheme's first-order error), widened by
/// 1e-5 for f32 (the logarithms of values accurate to about 1e3 ε₃₂), and halve
/// (ratio in [1.7, 2.1]) when h halves. (n = 48 is left to the CPU test: 160 000 steps
/// are minutes on lavapipe.)
#[test]
fn gpu_chemotaxis_reaches_boltzmann_at_first_order() {
    let l = 120.0;
    let mut spreads = Vec::new();
    for n in [12, 24] {
        let mut p = boltzmann_params(n, l);
        p.flux = infiltrate::scenario::ChemotaxisFlux::Upwind;
        let (k_c, mu0, chi) = (p.k_c, p.mu0, p.chi);
        let (c, t) = gpu_boltzmann_run(p, l, 1500.0);
        let sig: Vec<f64> = c.iter().map(|&c| signal(c, 0.0, k_c, 1.0)).collect();
        let logs: Vec<f64> = (0..c.len())
            .map(|i| t[i].ln() - chi * sig[i] / mu0)
            .collect();
        let spread = spread(&logs);
        let x = |i: usize| chi * (sig[i] - sig[i - 1]) / mu0;
        let predicted: f64 = (1..n).map(|i| x(i).powi(2) / 2.0).sum();
        let below: f64 = (1..n).map(|i| x(i).powi(3) / 3.0).sum();
        eprintln!(
            "Boltzmann n = {n}: spread {spread:.6e} in [{:.6e}, {predicted:.6e}]",
            predicted - below
        );
        assert!(
            spread <= predicted + 1e-5 && spread >= predicted - below - 1e-5,
            "n = {n}: spread {spread:e} outside [{:e}, {predicted:e}]",
            predicted - below
        );
        spreads.push(spread);
    }
    let ratio = spreads[0] / spreads[1];
    assert!((1.7..=2.1).contains(&ratio), "spreads {spreads:?}");
}

/// The same with the exponentially fitted flux (the default), n = 12 and 24: the spread
/// of `ln(T/T_Boltzmann)` is where the f32 iteration stalls, within `2 ε₃₂ / (1 − ρ)`
/// with `1 − ρ = Δt μ_0 π²/L²` the slowest mode's decay per step (1.2e-4 at n = 12,
/// 4.8e-4 at n = 24; see `gpu_arrest_piles_t_where_motility_is_low`), against the
/// upwind flux's first-order spread (5.8e-2 and 3.4e-2).
#[test]
fn gpu_fitted_chemotaxis_reaches_boltzmann() {
    let l = 120.0;
    for n in [12, 24] {
        let p = boltzmann_params(n, l);
        let (k_c, mu0, chi) = (p.k_c, p.mu0, p.chi);
        let dt = 0.9 * cell_bound(&p);
        let (c, t) = gpu_boltzmann_run(p, l, 1500.0);
        let logs: Vec<f64> = (0..c.len())
            .map(|i| t[i].ln() - chi * signal(c[i], 0.0, k_c, 1.0) / mu0)
            .collect();
        let spread = spread(&logs);
        let stall =
            2.0 * f64::from(f32::EPSILON) / (dt * mu0 * std::f64::consts::PI.powi(2) / (l * l));
        eprintln!("fitted Boltzmann n = {n}: spread {spread:.3e} (stall bound {stall:.2e})");
        assert!(
            spread <= stall,
            "n = {n}: spread of ln(T/T_B) {spread:e} > {stall:e}"
        );
    }
}

/// Grid 15 × 11 × 7, χ = 0, arrest 0.9, motility 1 (tumour) and 0.5 (stroma), a smooth
/// signal: after 6000 min the discrete steady state `μ T` uniform, as on the CPU, to
/// 1e-4 relative (not the CPU's 1e-6: an f32 explicit iteration stalls when its update
/// is below half an ulp, about `ε₃₂ / (1 − ρ)` ≈ 6e-5 here with the slowest
/// mode's `1 − ρ ≈ 1e-3`), and T highest where μ is lowest.
#[test]
fn gpu_arrest_piles_t_where_motility_is_low() {
    let (p, class, c) = arrest_setup();
    let n = p.voxels();
    let k_c = p.k_c;
    let mu: Vec<f64> = (0..n)
        .map(|i| 20.0 * p.motility[class[i] as usize] * (1.0 - 0.9 * signal(c[i], 0.0, k_c, 1.0)))
        .collect();
    let dt = 0.9 * cell_bound(&p);
    let mut f = Fields::zeros(n);
    f.c = c;
    f.t = vec![1000.0; n];
    let mut g = gpu(p, class, f);
    for _ in 0..(6000.0 / dt) as usize {
        g.cell_step(dt);
    }
    let t = g.read_fields().unwrap().t;
    let w = t.iter().sum::<f64>() / mu.iter().map(|m| 1.0 / m).sum::<f64>();
    let mut worst = 0.0_f64;
    for i in 0..n {
        let want = w / mu[i];
        worst = worst.max(((t[i] - want) / want).abs());
    }
    eprintln!("arrest: μT uniform within {worst:.3e}");
    assert!(worst <= 1e-4, "μT uniform only within {worst:e}");
    let slowest = (0..n).min_by(|&a, &b| mu[a].total_cmp(&mu[b])).unwrap();
    let tmax = t.iter().cloned().fold(0.0, f64::max);
    assert_eq!(t[slowest], tmax, "T should peak where μ is lowest");
}

// ---------------------------------------------------------------------------------
// Quasi-steady solves

/// Grid 5 × 4 × 40, h = 10 µm, bath on both z faces, D = 1e4 µm²/min, λ = 0.5 /min:
/// the GPU's quasi-steady AMD3100, set for a bath of 1 µM and again for 0.95 µM, is
/// the CPU's rounded to f32, to the bit, in one slab and in three (both combine the
/// same f64 responses; the GPU uploads the rounded sum, halos included).
#[test]
fn gpu_steady_field_is_the_cpus_rounded() {
    let p = steady_params();
    let n = p.voxels();
    let mut c = CpuSolver::new(p.clone(), vec![TUMOR; n], Fields::zeros(n));
    let mut whole = gpu(p.clone(), vec![TUMOR; n], Fields::zeros(n));
    let zeros = Fields::zeros(n);
    let mut split = gpu_in_slabs(&p, &vec![TUMOR; n], &zeros, Some(3));
    for bath in [1.0, 0.95] {
        let ic = c.solve_steady(Chemical::Amd3100, 0.0, bath, 1e-10).unwrap();
        for (what, g) in [("one slab", &mut whole), ("three slabs", &mut split)] {
            let ig = g.solve_steady(Chemical::Amd3100, 0.0, bath, 1e-10).unwrap();
            assert_eq!(ic, ig, "{what}: iterations");
            let a = g.read_fields().unwrap().a;
            let want: Vec<f64> = c.fields().a.iter().map(|&v| f64::from(v as f32)).collect();
            assert_eq!(a, want, "{what}, bath {bath}");
        }
        // The responses are solved once: the first level solves, the second costs none.
        assert_eq!(ic > 0, bath == 1.0, "bath {bath}: {ic} iterations");
    }
}

/// Grid 11 × 7 × 9 of random classes, bath on x− and z+, D 30, 10, 3, 30, 0 µm²/min by
/// class, decay 0.05 /min (relaxation within 20 min), vessel exchange 0.5 /min: the
/// GPU's explicit AMD3100 sub-steps at 0.9 × the bound, run for 30 relaxation times
/// (600 min, so the slowest mode is down by e⁻³⁰), must arrive at the steady field of
/// the responses (plasma 0.8 µM, bath 1.3 µM) within twice the f32 floor of the
/// explicit iteration, `ε₃₂ / (Δt λ_min)` of the maximum with λ_min ≥ 0.05 /min (its
/// fixed point stalls where updates fall below an ulp; about 6e-6 here).
#[test]
fn gpu_explicit_long_time_limit_is_the_steady_field() {
    let dims = [11, 7, 9];
    let mut p = uniform(dims, 10.0);
    p.amd3100 = ChemParams {
        diffusion: [30.0, 10.0, 3.0, 30.0, 0.0],
        decay: [0.05; N_CLASSES],
        secretion: [0.0; N_CLASSES],
        exchange: [0.0, 0.0, 0.0, 0.5, 0.0],
    };
    p.bath_faces = [true, false, false, false, false, true];
    let n = p.voxels();
    let mut rng = Rng(23);
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let (plasma, bath) = (0.8, 1.3);
    let r = infiltrate::steady::Responses::solve(&p, &p.amd3100, &class, 1e-10);
    let mut want = vec![0.0; n];
    r.combine(plasma, bath, &mut want);
    let mut g = gpu(p.clone(), class, Fields::zeros(n));
    let dt = 0.9 * chem_bound(&p, &p.amd3100);
    let steps = (600.0 / dt).ceil() as usize;
    for _ in 0..steps {
        g.chem_step(Chemical::Amd3100, dt, plasma, bath);
    }
    let a = g.read_fields().unwrap().a;
    let rel = max_diff(&a, &want) / max_abs(&want);
    let floor = EPS / (dt * 0.05);
    eprintln!(
        "explicit GPU limit ({steps} steps) against the responses: {rel:.3e} of max \
         (floor {floor:.2e})"
    );
    assert!(rel <= 2.0 * floor, "{rel:e} against the floor {floor:e}");
}

// ---------------------------------------------------------------------------------
// A whole scenario through the driver

/// A 170 × 130 × 110 µm slice (17 × 13 × 11 voxels of 10 µm, bath on both z faces),
/// 30 min burn-in then 3 h with AMD3100 (1 µM, quasi-steady) and anti-PD-1 (68.5 nM,
/// sub-stepped) in the bath, snapshots every hour.
fn slice() -> String {
    common::small_slice(
        "gpu test: small slice, AMD3100 quasi-steady and anti-PD-1 in the bath",
        [17, 13, 11],
        "",
    )
}

/// [`slice`] run by the `infiltrate` binary with `--backend vulkan` and with
/// `--backend cpu`: the same snapshots, voxel counts equal, and every metric within
/// 3e-4 relative at every snapshot: twice the quasi-steady tolerance (1e-4; each
/// backend's AMD3100 is within it of the steady state, and the signal follows A) plus
/// the f32 random-walk estimate over about 1700 cell steps (2e-5). A drug's budget
/// flows are held to the same 3e-4 relative to the flow's scale, the gross exchange
/// through the bath faces over the interval (`Σ g · bath level · Δt`): near steady
/// state a net bath flow is the small difference of two such sums, and each backend's
/// field is within the quasi-steady tolerance of its level. The T-cell and tumour flows
/// are held to 3e-4 plus 1 % of their stock. The same run split into 3 z-slabs
/// (`--slabs 3`) writes the same metrics to the byte.
#[test]
fn slice_scenario_metrics_match_the_cpu_through_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("slice.toml");
    std::fs::write(&scenario, slice()).unwrap();
    let run_with = |backend: &str, extra: &[&str]| {
        let out = dir.path().join(format!("{backend}{}", extra.join("")));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_infiltrate"))
            .args(["run", "--quiet", "--backend", backend])
            .args(extra)
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
        assert!(
            summary.contains(&format!("\"backend\": \"{backend}\"")),
            "{summary}"
        );
        std::fs::read_to_string(out.join("metrics.csv")).unwrap()
    };
    let run = |backend: &str| run_with(backend, &[]);
    let (g, c) = (run("vulkan"), run("cpu"));
    assert_eq!(
        run_with("vulkan", &["--slabs", "3"]),
        g,
        "3 z-slabs against one"
    );
    let rows = |csv: &str| -> Vec<Vec<f64>> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
            .collect()
    };
    let header: Vec<&str> = c.lines().next().unwrap().split(',').collect();
    assert_eq!(g.lines().next(), c.lines().next());
    let (gr, cr) = (rows(&g), rows(&c));
    assert_eq!(gr.len(), 4, "snapshots at 0, 1, 2, 3 h");
    assert_eq!(gr.len(), cr.len());
    // Budget columns (from amd3100_total_pmol on) are flows. A drug's scale is its
    // gross bath exchange over an interval: Σ g (the bath conductances, from the
    // budget's own sums) times its bath level times the snapshot interval.
    let budget_from = header
        .iter()
        .position(|h| *h == "amd3100_total_pmol")
        .expect("budget columns");
    let prepared = infiltrate::run::prepare(&scenario, Default::default()).unwrap();
    let pp = &prepared.params;
    let rates = infiltrate::budget::Rates::at(
        &Fields::zeros_for(pp),
        &prepared.geometry.class,
        pp,
        1.0,
        [0.0; 2],
    );
    let levels = infiltrate::budget::bath_levels(&prepared.dosing, 60.0);
    let interval_min = 60.0;
    let gross = [
        ("amd3100_", rates.amd3100.bath_g * levels[0] * interval_min),
        (
            "anti_pd1_",
            rates.anti_pd1.bath_g * levels[1] * interval_min,
        ),
    ];
    assert!(gross.iter().all(|(_, g)| *g > 0.0), "{gross:?}");
    let stock_of = |name: &str| -> usize {
        let stock = [
            ("amd3100_", "amd3100_total_pmol"),
            ("anti_pd1_", "anti_pd1_total_fmol"),
            ("t_", "t_total_cells"),
            ("tumor_", "viable_tumor_cells"),
        ]
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("budget column {name} of no species"));
        header.iter().position(|h| *h == stock).unwrap()
    };
    let mut worst = (0.0_f64, "");
    let mut worst_drug = 0.0_f64;
    for (a, b) in gr.iter().zip(&cr) {
        for (col, ((x, y), name)) in a.iter().zip(b).zip(&header).enumerate() {
            let drug = gross
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix) && !name.contains("_total_"));
            if let (Some((_, g)), true) = (drug, col >= budget_from) {
                worst_drug = worst_drug.max((x - y).abs() / g);
            }
            let floor = match drug {
                _ if col < budget_from => 0.0,
                Some((_, g)) => 3e-4 * g,
                None => {
                    let k = stock_of(name);
                    let big = gr.iter().chain(&cr).fold(0.0_f64, |m, r| m.max(r[k].abs()));
                    1e-2 * big
                }
            };
            let rel = ((x - y).abs() - floor).max(0.0) / x.abs().max(y.abs()).max(1e-300);
            assert!(
                rel <= 3e-4,
                "at {} h: {name} gpu {x} against cpu {y} ({rel:e}, floor {floor:e})",
                b[0]
            );
            if rel > worst.0 {
                worst = (rel, name);
            }
        }
    }
    eprintln!(
        "slice scenario: worst metric {} at {:.3e}; drug flows within {worst_drug:.3e} of \
         their gross bath exchange",
        worst.1, worst.0
    );
}

// ---------------------------------------------------------------------------------
// Snapshots reduced on the device (shaders/probe.wgsl)

/// Labels of random regions, 50 depth bins of 10 µm (two of the kernel's 32-bin
/// chunks) and bath faces on four sides, for random classes.
fn random_labels(p: &Params, class: &[u8], seed: u64) -> infiltrate::probe::Labels {
    use infiltrate::geometry::Geometry;
    use infiltrate::readout::Regions;
    let mut rng = Rng(seed);
    let geometry = Geometry {
        dims: p.dims,
        voxel_um: p.h,
        class: class.to_vec(),
        distance_um: (0..class.len())
            .map(|_| (600.0 * rng.next() - 300.0) as f32)
            .collect(),
    };
    let regions = Regions {
        d_core: 50.0,
        d_margin: 75.0,
        bin: 10.0,
        profile_min: -250.0,
        profile_max: 250.0,
    };
    infiltrate::probe::Labels::new(&geometry, &regions, p)
}

/// The snapshot sums the device reduces against `Sums::of` on the same (f32) fields,
/// on 37 × 23 × 11 with random classes, fields, regions and bins, unsplit and in 3
/// z-slabs. Every summed term is ≥ 0 here, so each device sum is within a relative
/// (k + 6) ε₃₂ / 2 of the f64 one for a thread's share of k ≤ 16 voxels (a band of 16
/// rows of 37 voxels, 64 threads) and a tree of 6 levels, that is 11 ε₃₂, plus a few
/// ulps for evaluating each term in f32 (the receptor terms divide): 32 ε₃₂ is asked.
/// The maxima are exact. The split run gives the same bits (rows are added in grid
/// order). The bath rows are measured from bath levels of 0 here (`−Σ nb u`: one sign);
/// `bath_sums_near_the_bath_level_have_no_cancellation` takes them near their level.
#[test]
fn snapshot_sums_on_the_device_match_the_cpu() {
    use infiltrate::probe::Sums;
    let mut p = busy([37, 23, 11]);
    p.bath_faces = [true, false, true, true, false, true];
    let (class, fields) = random_state(&p, 21);
    let labels = random_labels(&p, &class, 22);
    assert_eq!(labels.bins, 50);
    assert!(labels.core > 0 && labels.margin > 0 && labels.outside > 0);
    let mut unsplit = None;
    for slabs in [None, Some(3)] {
        let mut g = gpu_in_slabs(&p, &class, &fields, slabs);
        let f32_fields = g.read_fields().unwrap();
        let want = Sums::of(&f32_fields, &class, &labels, &p, [0.0; 2]);
        let got = g.sums(&labels, [0.0; 2]).unwrap();
        let close = |what: String, a: f64, b: f64| {
            let tol = 32.0 * EPS * b.abs() + 1e-30;
            assert!(
                (a - b).abs() <= tol,
                "{slabs:?} slabs: {what}: device {a}, cpu {b} (tolerance {tol:e})"
            );
        };
        for (c, (a, b)) in got.per_class.iter().zip(&want.per_class).enumerate() {
            for (j, (x, y)) in a.iter().zip(b).enumerate() {
                close(format!("class {c} sum {j}"), *x, *y);
            }
        }
        for (j, (x, y)) in got.other.iter().zip(&want.other).enumerate() {
            close(format!("other sum {j}"), *x, *y);
        }
        for (b, (x, y)) in got.profile.iter().zip(&want.profile).enumerate() {
            close(format!("bin {b}"), *x, *y);
        }
        assert!(
            want.profile.iter().all(|&t| t > 0.0),
            "every bin holds voxels"
        );
        assert_eq!(got.max_abs, want.max_abs);
        assert_eq!(got.max_negative, want.max_negative);
        assert_eq!(got.invalid_field(), None);
        match &unsplit {
            None => unsplit = Some(got),
            Some(u) => assert_eq!(&got, u, "3 z-slabs against one"),
        }
    }
}

/// The budget's bath flows near equilibrium (issue: the GPU's AMD3100 bath inflow came
/// out half the CPU's): 37 × 23 × 11 with bath faces on four sides, A = L (1 − 10⁻⁴ r)
/// and P = L_P (1 − 10⁻⁴ r) (r uniform in [0, 1)) against bath levels L = 1 µM,
/// L_P = 68.5 nM, so that each net flow is 10⁻⁴ of the gross `Σ nb u`. Measured from the
/// levels, each voxel's `L − u` is exact in f32 (the operands are within a factor 2) and
/// of one sign, so the device's bath rows are within 32 ε₃₂ of the CPU's f64 sums of the
/// same f32 fields (as in `snapshot_sums_on_the_device_match_the_cpu`), relative to the
/// net flow itself. Measured from 0, `L Σ nb − Σ nb u` loses the net flow to the f32
/// rounding of the gross sum: printed, for comparison.
#[test]
fn bath_sums_near_the_bath_level_have_no_cancellation() {
    use infiltrate::probe::{per_class, Sums};
    let mut p = busy([37, 23, 11]);
    p.bath_faces = [true, true, true, true, false, false];
    let (class, mut fields) = random_state(&p, 31);
    let labels = random_labels(&p, &class, 32);
    let levels = [1.0, 68.5];
    let mut rng = Rng(33);
    for i in 0..p.voxels() {
        fields.a[i] = levels[0] * (1.0 - 1e-4 * rng.next());
        fields.p[i] = levels[1] * (1.0 - 1e-4 * rng.next());
    }
    let mut g = gpu_in_slabs(&p, &class, &fields, None);
    let f32_fields = g.read_fields().unwrap();
    let want = Sums::of(&f32_fields, &class, &labels, &p, levels);
    let got = g.sums(&labels, levels).unwrap();
    assert_eq!(got.bath_ref, levels, "both levels are f32 numbers");
    let from_zero = g.sums(&labels, [0.0; 2]).unwrap();
    for (row, level) in [
        (per_class::BATH_A, levels[0]),
        (per_class::BATH_P, levels[1]),
    ] {
        let net = |s: &Sums| s.per_class.iter().map(|r| r[row]).sum::<f64>();
        let faces: f64 = labels.class_bath_faces.iter().map(|&n| n as f64).sum();
        let (want_net, got_net) = (net(&want), net(&got));
        assert!(want_net > 0.0, "the fields lie below their bath levels");
        let err = (got_net - want_net).abs() / want_net;
        let old = ((level * faces + net(&from_zero)) - want_net).abs() / want_net;
        eprintln!(
            "bath row {row}: net {want_net:.6e}, device from the level {err:.2e} relative, from 0 {old:.2e}"
        );
        assert!(
            err <= 32.0 * EPS,
            "bath row {row}: {got_net} against {want_net}"
        );
    }
}

/// A NaN, an infinity or a negative value shows in the device's extremes: the field
/// that holds it is reported (37 × 23 × 11, 3 z-slabs, the bad voxels in different
/// slabs).
#[test]
fn snapshot_sums_on_the_device_find_bad_values() {
    let p = busy([37, 23, 11]);
    let (class, mut fields) = random_state(&p, 23);
    let labels = random_labels(&p, &class, 24);
    let n = p.voxels();
    fields.p[n - 5] = -0.5;
    fields.t[7] = f64::NAN;
    fields.k[n / 2] = f64::INFINITY;
    let mut g = gpu_in_slabs(&p, &class, &fields, Some(3));
    let s = g.sums(&labels, [0.0; 2]).unwrap();
    assert_eq!(s.max_negative[2], 0.5, "P's negative value");
    assert!(s.max_abs[3].is_nan(), "T's NaN: {}", s.max_abs[3]);
    assert_eq!(s.max_abs[5], f64::INFINITY, "K's infinity");
    assert_eq!(
        s.invalid_field(),
        Some(infiltrate::model::Field::AntiPd1),
        "the first bad field is P"
    );
    assert_eq!(s.max_negative[0], 0.0);
}

/// The picture planes cut on the device are the planes cut on the host from the
/// fields read back, to the bit: every axis, slices at both ends and inside, unsplit
/// and in 3 z-slabs (a z-plane in the middle slab, projections across slabs), on
/// 37 × 23 × 11.
#[test]
fn picture_planes_cut_on_the_device_match_the_host() {
    use infiltrate::pictures::planes::cut_fields;
    use infiltrate::pictures::{Axis, Slicing};
    let p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 25);
    for slabs in [None, Some(3)] {
        let mut g = gpu_in_slabs(&p, &class, &fields, slabs);
        let host = g.read_fields().unwrap();
        for (axis, slices) in [
            (Axis::X, [0, 17, 36]),
            (Axis::Y, [0, 11, 22]),
            (Axis::Z, [0, 5, 10]),
        ] {
            for slice in slices {
                let at = Slicing {
                    axis,
                    slice,
                    dims: p.dims,
                    voxel_um: p.h,
                };
                let want = cut_fields(&host, &at);
                let got = g.planes(&at).unwrap();
                assert_eq!(got.len(), want.len());
                for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(a),
                        bits(b),
                        "{slabs:?} slabs, axis {}, slice {slice}: plane {k}",
                        axis.name()
                    );
                }
            }
        }
    }
}

/// Sub-steps of a drug that is 0 everywhere are skipped until it is dosed (anti-PD-1
/// here, dosed from 1 min), and skipping leaves the same bits as stepping: the run is
/// compared with one that cannot skip (anti-PD-1 secreted by a class absent from the
/// grid; the antibody enters from plasma through tumour voxels instead of vessels),
/// 13 × 11 × 9, explicit sub-steps for every chemical.
#[test]
fn undosed_drug_sub_steps_are_skipped_with_the_same_bits() {
    use infiltrate::model::VESSEL;
    let mut p = busy([13, 11, 9]);
    p.anti_pd1.exchange[TUMOR as usize] = 0.05;
    let (mut class, mut fields) = random_state(&p, 31);
    for c in class.iter_mut().filter(|c| **c == VESSEL) {
        *c = TUMOR;
    }
    fields.p.iter_mut().for_each(|v| *v = 0.0);
    let (mut plan, dosing) = busy_schedule(&p);
    plan.quasi_steady = [false; 3];
    let seg = Segment {
        t0: 0.0,
        steps: 12,
        dt: plan.cell_dt,
    };
    assert!(
        seg.dt < 1.0 && seg.t1() > 1.0,
        "steps before and after the dose"
    );
    let run = |p: Params| {
        let mut g = gpu(p, class.clone(), fields.clone());
        g.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |_| {})
            .unwrap();
        (g.read_fields().unwrap(), g.substeps())
    };
    let (skipped, counts) = run(p.clone());
    let mut stepping = p.clone();
    stepping.anti_pd1.secretion[VESSEL as usize] = 1.0;
    let (stepped, all) = run(stepping);
    let per_step = u64::from(plan.substeps[2]);
    assert_eq!(
        all[2],
        seg.steps * per_step,
        "no skipping when P is secreted"
    );
    assert!(
        counts[2] < all[2] && counts[2] > 0,
        "anti-PD-1 sub-steps: {} skipping, {} stepping",
        counts[2],
        all[2]
    );
    assert_eq!(counts[..2], all[..2]);
    assert!(skipped.p.iter().any(|&v| v > 0.0), "P was dosed");
    for ((name, a), (_, b)) in skipped.named().into_iter().zip(stepped.named()) {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} differs"
        );
    }
}

/// Grid 37 × 23 × 11, random classes and fields, [`busy`] parameters (CXCL12 uptake, bath
/// on x− and z+), in 1 and in 3 z-slabs: 30 fused passes of C, A and P (each chemical
/// at 0.9 × its own bound, with its own levels), then 30 each of A with P, C with P and
/// C with A (every pipeline a fused pass may use), must give the same bits as a pass per
/// chemical in the order C, A, P. A fused pass
/// runs each chemical's arithmetic unchanged from its own input buffer (CXCL12's uptake
/// reads AMD3100 as the pass starts, as it does before AMD3100's own pass), so nothing
/// but an indexing or binding error can make them differ. A fused pass counts once.
#[test]
fn fused_chem_passes_equal_a_pass_per_chemical_to_the_bit() {
    let p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 41);
    let levels = [(0.0, 0.3), (1.6, 1.0), (410.0, 68.5)];
    let sub = |u: usize| {
        let which = CHEMICALS[u];
        SubStep {
            which,
            dt: 0.9 * chem_bound(&p, p.chem(which)),
            plasma: levels[u].0,
            bath: levels[u].1,
        }
    };
    let groups = [
        vec![sub(0), sub(1), sub(2)],
        vec![sub(1), sub(2)],
        vec![sub(0), sub(2)],
        vec![sub(0), sub(1)],
    ];
    for slabs in [Some(1), Some(3)] {
        let mut fused = gpu_in_slabs(&p, &class, &fields, slabs);
        let mut apart = gpu_in_slabs(&p, &class, &fields, slabs);
        for group in &groups {
            for _ in 0..30 {
                fused.chem_steps(group);
                for s in group {
                    apart.chem_steps(std::slice::from_ref(s));
                }
            }
        }
        assert_eq!(fused.chem_passes(), 30 * 4, "{slabs:?} slabs");
        assert_eq!(apart.chem_passes(), 30 * 9, "{slabs:?} slabs");
        assert_eq!(fused.substeps(), [90, 90, 90]);
        assert_eq!(fused.substeps(), apart.substeps());
        let (f, a) = (fused.read_fields().unwrap(), apart.read_fields().unwrap());
        let named = f.named().into_iter().zip(a.named()).zip(fields.named());
        for (k, (((name, x), (_, y)), (_, x0))) in named.enumerate() {
            let differ = x
                .iter()
                .zip(y)
                .filter(|(u, v)| u.to_bits() != v.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "{slabs:?} slabs: {name} differs in {differ} voxels"
            );
            // The chemicals (the first three) were stepped.
            assert!(k >= 3 || max_diff(x, x0) > 0.0, "{name} was not stepped");
        }
    }
}

/// A grid that needs more device memory than there is (here: `GpuOptions::memory`, as
/// `--gpu-memory` sets it) is refused before anything is allocated, naming the memory
/// needed, the memory there is and the largest grids that fit; the largest grids
/// reported do fit, and one voxel more on every side of the cube does not.
#[test]
fn a_grid_beyond_device_memory_is_refused_naming_the_largest_that_fits() {
    use infiltrate::gpu::{device_bytes, largest_fitting, plan_slabs, plane_bytes, GpuOptions};
    use infiltrate::gpu::{Initial, REFERENCE_BINDING};
    let p = busy([37, 23, 11]);
    let (class, fields) = random_state(&p, 41);
    let a = adapter();
    let binding = a
        .limits()
        .max_storage_buffer_binding_size
        .min(a.limits().max_buffer_size);
    let one = plan_slabs(11, plane_bytes(p.dims), binding, None).unwrap();
    let needed = device_bytes(p.dims, &one);
    let with = |memory: u64| {
        GpuSolver::with_options(
            &a,
            p.clone(),
            &class,
            Initial::Fields(&fields),
            GpuOptions {
                slabs: None,
                memory: Some(memory),
            },
        )
    };
    assert!(with(needed).is_ok(), "exactly the memory needed");
    let err = match with(needed - 1) {
        Ok(_) => panic!("a grid beyond the device memory was accepted"),
        Err(e) => e.to_string(),
    };
    eprintln!("{err}");
    let ([x, y, z], n) = largest_fitting(p.dims, needed - 1, binding).unwrap();
    for want in [
        "device memory".to_string(),
        format!("{needed} bytes"),
        format!("{} bytes", needed - 1),
        format!("{x} × {y} × {z}"),
        format!("{n}³"),
    ] {
        assert!(err.contains(&want), "`{want}` missing from: {err}");
    }
    // The largest grids fit and are near the limit.
    let bytes =
        |d: [usize; 3]| device_bytes(d, &plan_slabs(d[2], plane_bytes(d), binding, None).unwrap());
    assert!(bytes([x, y, z]) < needed && bytes([n, n, n]) < needed);
    assert!(bytes([n + 1, n + 1, n + 1]) >= needed);
    assert!([x, y, z] != p.dims && x >= 30 && z >= 8, "{x} × {y} × {z}");
    // 1024³ on an 80 GB card (the reference binding of 2 GiB): it fits.
    let big = [1024; 3];
    let slabs = plan_slabs(1024, plane_bytes(big), REFERENCE_BINDING, None).unwrap();
    assert!(device_bytes(big, &slabs) < 80_000_000_000);
}

// ---------------------------------------------------------------------------------
// The model's terms: each WGSL twin (shaders/terms.wgsl) against its host term
// (model::terms) on sampled inputs.

/// Each WGSL term, evaluated by a small kernel on 512 sampled inputs (concentrations
/// across K_C, K_A and K_P, T on both sides of T_max, N on both sides of 0, signals and
/// donors of both orders), agrees with its host twin within 1e-5 relative to the
/// magnitudes involved (a handful of f32 operations; GPU division may err by 2.5 ulp,
/// ε₃₂ = 1.2e-7). Each host term is the f64 code the CPU solver and the readouts run.
/// The couplings' factors are read from their table (`model::COUPLINGS`): each row's
/// host factor against `coupling_factor` of its id, at K = 7.5, relative to the factor.
#[test]
fn wgsl_terms_match_their_host_twins() {
    use infiltrate::model::{terms, COUPLINGS};
    use wgpu::util::DeviceExt;
    const PLAIN: usize = 14;
    const K: f64 = 7.5;
    let terms_n = PLAIN + COUPLINGS.len();
    let p = busy([4, 3, 2]);
    let gp = infiltrate::gpu::GpuParams::new(&p);
    let mut rng = Rng(17);
    let n = 512;
    // Two vec4 per sample: (c, a, p_ab, s) and (t, n, class, unused).
    let mut input = Vec::with_capacity(8 * n);
    for _ in 0..n {
        let c = (30.0 * rng.next()) as f32;
        let a = (0.05 * rng.next()) as f32;
        let pab = (100.0 * rng.next()) as f32;
        let s = rng.next() as f32;
        let t = (2.0 * p.t_max * rng.next()) as f32;
        let nn = (1.2 * rng.next() - 0.1) as f32;
        let class = f32::from(rng.class());
        // A motility, 0 one time in eight (a donor that cannot move).
        let mu = if rng.next() < 0.125 {
            0.0
        } else {
            (40.0 * rng.next()) as f32
        };
        input.extend([c, a, pab, s, t, nn, class, mu]);
    }
    let adapter = adapter();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let couplings: String = COUPLINGS
        .iter()
        .map(|c| {
            let id = c.id();
            format!(
                "    twin_out[o + {}u] = coupling_factor({id}u, a.z, {K:?});\n",
                PLAIN as u32 + id - 1
            )
        })
        .collect();
    let kernel = r#"
@group(1) @binding(0) var<storage, read> twin_in: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read_write> twin_out: array<f32>;
@compute @workgroup_size(64)
fn twins(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= arrayLength(&twin_in) / 2u {
        return;
    }
    let a = twin_in[2u * i];
    let b = twin_in[2u * i + 1u];
    let o = TERMS_N * i;
    twin_out[o] = signal(a.x, a.y);
    twin_out[o + 1u] = occupancy(a.x, a.y);
    twin_out[o + 2u] = blockade(a.z);
    twin_out[o + 3u] = motility(u32(b.z), a.w);
    twin_out[o + 4u] = crowding(b.x);
    twin_out[o + 5u] = fed(b.y);
    twin_out[o + 6u] = kill_factor(a.w);
    twin_out[o + 7u] = t_face_inflow(a.x, a.y, a.w, b.y, b.x, a.z);
    twin_out[o + 8u] = uptake(vec4<f32>(b.x), vec4<f32>(a.w)).x;
    twin_out[o + 9u] = secreted(a.x, a.y, a.z, b.x, b.y);
    twin_out[o + 10u] = bernoulli(3.0 * a.w);
    twin_out[o + 11u] = t_face_inflow_fitted(a.x, a.y, a.w, b.y, b.x, a.z, b.w, a.x, u32(b.z) % 2u == 0u);
    twin_out[o + 12u] = inv_log_mean(b.w, a.x);
    twin_out[o + 13u] = inv_face_across(b.w, a.x);
COUPLINGS}
"#
    .replace("TERMS_N", &format!("{terms_n}u"))
    .replace("COUPLINGS", &couplings);
    let source = format!("{}\n{kernel}", infiltrate::gpu::shaders::TERMS);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("terms"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("twins"),
        layout: None,
        module: &module,
        entry_point: Some("twins"),
        compilation_options: Default::default(),
        cache: None,
    });
    let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("P"),
        contents: bytemuck::bytes_of(&gp),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let inputs = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("in"),
        contents: bytemuck::cast_slice(&input),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let out_bytes = (terms_n * n * 4) as u64;
    let outputs = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("out"),
        size: out_bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("staging"),
        size: out_bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let g0 = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }],
    });
    let g1 = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(1),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: inputs.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: outputs.as_entire_binding(),
            },
        ],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &g0, &[]);
        pass.set_bind_group(1, &g1, &[]);
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&outputs, 0, &staging, 0, out_bytes);
    queue.submit([enc.finish()]);
    let slice = staging.slice(..);
    slice.map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let got: Vec<f32> = bytemuck::cast_slice(&slice.get_mapped_range().unwrap()).to_vec();
    let mut names = vec![
        "signal",
        "occupancy",
        "blockade",
        "motility",
        "crowding",
        "fed",
        "kill_factor",
        "t_face_inflow",
        "uptake",
        "secreted",
        "bernoulli",
        "t_face_inflow_fitted",
        "inv_log_mean",
        "inv_face_across",
    ];
    names.extend(COUPLINGS.iter().map(|c| c.key));
    let mut worst = vec![0.0f64; terms_n];
    for i in 0..n {
        let v: Vec<f64> = input[8 * i..8 * i + 8]
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        let (c, a, pab, s, t, nn, class, mu) =
            (v[0], v[1], v[2], v[3], v[4], v[5], v[6] as usize, v[7]);
        let mut host = vec![
            terms::signal(c, a, p.k_c, p.k_a),
            terms::occupancy(c, a, p.k_c, p.k_a),
            terms::blockade(pab, p.k_p),
            terms::motility(p.mu0, p.motility[class], p.arrest, s),
            terms::crowding(t, p.t_max),
            terms::fed(nn, p.k_n),
            terms::kill_factor(p.q, s),
            terms::t_face_inflow(c, a, s, nn, t, pab, p.chi),
            terms::uptake(p.c_uptake, t, s),
            terms::secreted(c, a, pab, t, nn),
            terms::bernoulli(3.0 * s),
            terms::t_face_inflow_fitted(c, a, s, nn, t, pab, mu, c, class % 2 == 0, p.chi),
            terms::inv_log_mean(mu, c),
            terms::inv_face_across(mu, c),
        ];
        host.extend(COUPLINGS.iter().map(|c| (c.factor)(pab, K)));
        // The magnitude each result is made of (a cancellation's error is relative to
        // its parts, not to its difference).
        let mut scale = vec![
            1.0,
            1.0,
            1.0,
            p.mu0 * p.motility[class],
            1.0 + t / p.t_max,
            1.0,
            1.0,
            c.abs() + a.abs() + p.chi * (s - nn).abs() * t.max(pab),
            p.c_uptake.abs() * t * s + f64::MIN_POSITIVE,
            (c * t).abs() + (a * nn).abs() + (pab * t * nn).abs() + f64::MIN_POSITIVE,
            terms::bernoulli(3.0 * s),
            c.abs() + a.abs() + p.chi * (s - nn).abs() * t.max(pab),
            terms::inv_log_mean(mu, c) + f64::MIN_POSITIVE,
            terms::inv_face_across(mu, c) + f64::MIN_POSITIVE,
        ];
        scale.extend(host[PLAIN..].iter().map(|h| h.abs()));
        for k in 0..terms_n {
            let gpu = f64::from(got[terms_n * i + k]);
            let err = (gpu - host[k]).abs() / scale[k].max(1e-30);
            worst[k] = worst[k].max(err);
            assert!(
                err <= 1e-5,
                "{}: sample {i} ({v:?}): gpu {gpu}, host {} (relative error {err:e})",
                names[k],
                host[k]
            );
        }
    }
    for (name, w) in names.iter().zip(worst) {
        eprintln!("{name}: worst relative error {w:.2e}");
    }
}
