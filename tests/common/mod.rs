//! Helpers and setups shared by tests/analytic.rs (CPU solver), tests/gpu.rs (GPU solver)
//! and the tests that run small scenarios (tests/resume.rs).

// Each test file uses only some of these.
#![allow(dead_code)]

use infiltrate::dosing::{Bolus, Dosing};
use infiltrate::model::{
    cell_bound, chem_bound, ChemParams, Params, Segment, SpeciesParams, StepPlan, N_CLASSES,
    STROMA, TUMOR,
};

/// Params for a `dims` grid of edge `h` µm with every rate zero: no diffusion, decay,
/// secretion, exchange, motility, chemotaxis, sources or killing; every class open to
/// T cells (motility factor 1, but μ_0 = 0); half-saturations 1; no crowding limit;
/// no bath faces. Each test fills in what it needs.
pub fn uniform(dims: [usize; 3], h: f64) -> Params {
    let zero = ChemParams {
        diffusion: [0.0; N_CLASSES],
        decay: [0.0; N_CLASSES],
        secretion: [0.0; N_CLASSES],
        exchange: [0.0; N_CLASSES],
    };
    Params {
        dims,
        h,
        bath_faces: [false; 6],
        cxcl12: zero.clone(),
        amd3100: zero.clone(),
        anti_pd1: zero,
        k_c: 1.0,
        k_a: 1.0,
        k_p: 1.0,
        c_bath: 0.0,
        c_uptake: 0.0,
        mu0: 0.0,
        motility: [1.0; N_CLASSES],
        arrest: 0.0,
        chi: 0.0,
        t_max: f64::INFINITY,
        death: 0.0,
        prolif: 0.0,
        k_n: 0.5,
        influx: [0.0; N_CLASSES],
        growth: 0.0,
        kill: 0.0,
        q: 0.0,
        flux: Default::default(),
        species: Vec::new(),
    }
}

/// Every term of the model switched on, with the documented magnitudes (tests/analytic.rs's
/// `busy_run`, tests/gpu.rs's kernel and `advance` tests): h = 10 µm, bath faces on x−
/// and z+, CXCL12 uptake, class decay, vessel exchange, outside closed to T cells,
/// crowding at 1e5 per mm³.
pub fn busy(dims: [usize; 3]) -> Params {
    let mut p = uniform(dims, 10.0);
    p.bath_faces = [true, false, false, false, false, true];
    p.cxcl12 = ChemParams {
        diffusion: [100.0, 100.0, 80.0, 120.0, 100.0],
        decay: [0.17, 0.17, 0.17, 0.017, 0.017],
        secretion: [0.0, 0.01, 0.005, 1.0, 0.2],
        exchange: [0.0; N_CLASSES],
    };
    p.amd3100 = ChemParams {
        diffusion: [1e4, 1e4, 8e3, 5e3, 1e4],
        decay: [1e-3; N_CLASSES],
        secretion: [0.0; N_CLASSES],
        exchange: [0.0, 0.0, 0.0, 0.0, 0.5],
    };
    p.anti_pd1 = ChemParams {
        diffusion: [300.0, 300.0, 200.0, 150.0, 300.0],
        decay: [1e-4; N_CLASSES],
        secretion: [0.0; N_CLASSES],
        exchange: [0.0, 0.0, 0.0, 0.0, 0.05],
    };
    p.k_c = 4.5;
    p.k_a = 5e-3;
    p.k_p = 7.2;
    p.c_bath = 0.3;
    p.c_uptake = 1e-6;
    p.mu0 = 20.0;
    p.motility = [0.0, 1.0, 1.0, 0.5, 0.5];
    p.arrest = 0.9;
    p.chi = 100.0;
    p.t_max = 1e5;
    p.death = 0.2 / 1440.0;
    p.prolif = 0.1 / 1440.0;
    p.influx = [0.0, 0.0, 0.0, 0.0, 10.0];
    p.growth = 0.005 / 1440.0;
    p.kill = 8.0 / 1440.0 / 1e5;
    p.q = 0.8;
    p
}

/// The plan and dosing of a [`busy`] run: cell steps at 0.9 × the cell bound; CXCL12
/// and AMD3100 sub-stepped at 0.9 × their bounds, anti-PD-1 quasi-steady; AMD3100 by a
/// plasma bolus (peak 1.6, from 0.5 min) and a constant bath (1.0, from 0); anti-PD-1
/// by a plasma bolus (peak 410, from 1 min); both boluses decaying with a 240 min
/// half-life. The plan's `cell_dt` and `substeps` are the step and sub-step counts.
pub fn busy_schedule(p: &Params) -> (StepPlan, Dosing) {
    let cell_dt = 0.9 * cell_bound(p);
    let sub = |c: &ChemParams| ((cell_dt / (0.9 * chem_bound(p, c))).ceil() as u32).max(1);
    let substeps = [sub(&p.cxcl12), sub(&p.amd3100), sub(&p.anti_pd1)];
    let plan = plan(p, cell_dt, substeps, [false, false, true]);
    let mut dosing = Dosing::default();
    let decay = std::f64::consts::LN_2 / 240.0;
    dosing.boluses[0][0] = vec![Bolus {
        t0: 0.5,
        peak: 1.6,
        rate: decay,
    }];
    dosing.boluses[0][1] = vec![Bolus {
        t0: 0.0,
        peak: 1.0,
        rate: 0.0,
    }];
    dosing.boluses[1][0] = vec![Bolus {
        t0: 1.0,
        peak: 410.0,
        rate: decay,
    }];
    (plan, dosing)
}

/// The adapter the GPU tests run on: a GPU if wgpu finds one (Vulkan, Metal, DX12),
/// else any adapter (lavapipe); panics saying what to install when there is none.
pub fn adapter() -> wgpu::Adapter {
    let backends = wgpu::Backends::PRIMARY;
    let adapters = infiltrate::gpu::enumerate(&infiltrate::gpu::instance(backends), backends);
    let first = adapters.first().cloned();
    infiltrate::gpu::best_gpu(adapters)
        .or(first)
        .unwrap_or_else(|| {
            panic!(
                "no wgpu adapter: the GPU tests need one; {}",
                infiltrate::gpu::INSTALL_HINT
            )
        })
}

/// A species `name` (unit pM) with diffusivity `d` in every class, nothing else (no
/// decay, sources or levels), with `couplings` (keys of `model::COUPLINGS` and their
/// levels K, pM).
pub fn species(name: &str, d: f64, couplings: &[(&str, f64)]) -> SpeciesParams {
    SpeciesParams {
        key: name.into(),
        name: format!("{name}_pM"),
        words: name.into(),
        unit: "pM".into(),
        chem: ChemParams {
            diffusion: [d; N_CLASSES],
            decay: [0.0; N_CLASSES],
            secretion: [0.0; N_CLASSES],
            exchange: [0.0; N_CLASSES],
        },
        by_t: 0.0,
        by_n: 0.0,
        by_tn: 0.0,
        plasma: 0.0,
        bath: 0.0,
        initial: 0.0,
        couplings: couplings
            .iter()
            .map(|&(key, k)| (infiltrate::model::couplings::by_key(key).unwrap(), k))
            .collect(),
    }
}

/// A plan with the given cell step, sub-step counts and quasi-steady flags (the bounds
/// are taken from `p`; each species of `p` sub-stepped within its bound).
pub fn plan(p: &Params, cell_dt: f64, substeps: [u32; 3], quasi_steady: [bool; 3]) -> StepPlan {
    let chem = [&p.cxcl12, &p.amd3100, &p.anti_pd1];
    let species_bound: Vec<f64> = p.species.iter().map(|s| chem_bound(p, &s.chem)).collect();
    let species_substeps = species_bound
        .iter()
        .map(|b| (cell_dt / b).ceil().max(1.0) as u32)
        .collect();
    StepPlan {
        species_bound,
        species_substeps,
        cell_bound: cell_bound(p),
        chem_bound: chem.map(|c| chem_bound(p, c)),
        cell_dt,
        chem_dt: substeps.map(|n| cell_dt / f64::from(n)),
        substeps,
        quasi_steady,
        burn_in: Segment {
            t0: 0.0,
            steps: 0,
            dt: 0.0,
        },
        segments: Vec::new(),
    }
}

/// A small deterministic generator (splitmix64), uniform in [0, 1).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn class(&mut self) -> u8 {
        (self.next() * N_CLASSES as f64) as u8
    }
}

/// (x, y, z) of linear index `i`.
pub fn coords(dims: [usize; 3], i: usize) -> [usize; 3] {
    [
        i % dims[0],
        (i / dims[0]) % dims[1],
        i / (dims[0] * dims[1]),
    ]
}

/// Centre of voxel coordinate `k` along an axis, µm from the domain face.
pub fn centre(k: usize, h: f64) -> f64 {
    (k as f64 + 0.5) * h
}

/// The Boltzmann tests' CXCL12, fixed along x on the grid of `boltzmann_params`:
/// `C = K_C (1 + 3x/L)` (s from 0.5 to 0.8 with A = 0).
pub fn boltzmann_c(p: &Params, l: f64) -> Vec<f64> {
    (0..p.voxels())
        .map(|i| p.k_c * (1.0 + 3.0 * centre(coords(p.dims, i)[0], p.h) / l))
        .collect()
}

/// The spread of `v`: its largest value minus its smallest.
pub fn spread(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
}

pub fn max_abs(u: &[f64]) -> f64 {
    u.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
}

/// The cosine-mode tests' setup: grid 29 × 4 × 3, h = 7 µm, CXCL12 D = 100 µm²/min in
/// every class, random classes (returned as `(p, class)`).
pub fn cosine_setup() -> (Params, Vec<u8>) {
    let dims = [29, 4, 3];
    let (h, d) = (7.0, 100.0);
    let mut p = uniform(dims, h);
    p.cxcl12.diffusion = [d; N_CLASSES];
    let mut rng = Rng(2);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    (p, class)
}

/// The mass conservation tests' setup: grid 19 × 13 × 11, h = 10 µm, random classes with
/// CXCL12 D = 50, 100, 300, 30, 0 µm²/min; returns the generator to draw the field on
/// from.
pub fn mass_setup() -> (Params, Vec<u8>, Rng) {
    let dims = [19, 13, 11];
    let mut p = uniform(dims, 10.0);
    p.cxcl12.diffusion = [50.0, 100.0, 300.0, 30.0, 0.0];
    let mut rng = Rng(3);
    let n = p.voxels();
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    (p, class, rng)
}

/// The steady-solve tests' parameters: grid 5 × 4 × 40, h = 10 µm, AMD3100 with
/// D = 1e4 µm²/min and λ = 0.5 /min in every class, bath faces at both ends of z.
pub fn steady_params() -> Params {
    let dims = [5, 4, 40];
    let mut p = uniform(dims, 10.0);
    p.amd3100.diffusion = [1e4; N_CLASSES];
    p.amd3100.decay = [0.5; N_CLASSES];
    p.bath_faces = [false, false, false, false, true, true];
    p
}

/// The Boltzmann tests' parameters: grid n × 2 × 2 over a length `l` µm along x
/// (h = l/n), μ_0 = 20, χ = 4 μ_0, K_C = 4.5.
pub fn boltzmann_params(n: usize, l: f64) -> Params {
    let dims = [n, 2, 2];
    let h = l / n as f64;
    let mut p = uniform(dims, h);
    p.mu0 = 20.0;
    p.chi = 4.0 * p.mu0;
    p.k_c = 4.5;
    p
}

/// The T-cell transport conservation tests' setup: grid 23 × 17 × 13, h = 10 µm,
/// motility 0 (outside: closed), 1, 1, 0.5, 0.5, arrest 0.7, μ_0 = 20, χ = 100,
/// K_C = 4.5, random classes; returns the generator to draw the fields on from.
pub fn transport_setup() -> (Params, Vec<u8>, Rng) {
    let dims = [23, 17, 13];
    let mut p = uniform(dims, 10.0);
    p.mu0 = 20.0;
    p.chi = 100.0;
    p.arrest = 0.7;
    p.motility = [0.0, 1.0, 1.0, 0.5, 0.5];
    p.k_c = 4.5;
    let mut rng = Rng(4);
    let n = p.voxels();
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    (p, class, rng)
}

/// The arrest tests' setup: grid 15 × 11 × 7, h = 10 µm, μ_0 = 20, arrest 0.9,
/// motility 1 except 0.5 in the last two classes, K_C = 4.5; random tumour and stroma
/// voxels and a fixed, smoothly varying CXCL12 field of at least 0.2 K_C (returned as
/// `(p, class, c)`).
pub fn arrest_setup() -> (Params, Vec<u8>, Vec<f64>) {
    let dims = [15, 11, 7];
    let h = 10.0;
    let mut p = uniform(dims, h);
    p.mu0 = 20.0;
    p.arrest = 0.9;
    p.motility = [1.0, 1.0, 1.0, 0.5, 0.5];
    p.k_c = 4.5;
    let n = p.voxels();
    let mut rng = Rng(6);
    let class: Vec<u8> = (0..n)
        .map(|_| if rng.next() < 0.5 { TUMOR } else { STROMA })
        .collect();
    let k_c = p.k_c;
    let c: Vec<f64> = (0..n)
        .map(|i| {
            let [x, y, z] = coords(dims, i);
            let r = (x as f64 / 3.0).sin() * (y as f64 / 2.0).cos() + z as f64 / 7.0;
            k_c * (0.2 + 1.4 * (1.0 + r))
        })
        .collect();
    (p, class, c)
}

/// A small tumour slice scenario (TOML) of `dims` voxels of 10 µm, as thick as the grid
/// (bath on both z faces, seed 5, lamellae 20 µm thick every 60 µm): a 30 min burn-in,
/// then 3 h with AMD3100 (1 µM, quasi-steady) and anti-PD-1 (68.5 nM, sub-stepped) in
/// the bath, snapshots every hour, readout bands scaled for 10 µm voxels. `extra` is
/// appended (further tables, such as `[output]`).
pub fn small_slice(name: &str, dims: [usize; 3], extra: &str) -> String {
    let [nx, ny, nz] = dims;
    format!(
        r#"name = "{name}"

[grid]
nx = {nx}
ny = {ny}
nz = {nz}
voxel_um = 10.0

[time]
burn_in_h = 0.5
duration_h = 3.0
snapshot_every_h = 1.0

[geometry]
kind = "slice"
seed = 5

[geometry.slice]
thickness_um = {thickness:.1}

[geometry.lamellae]
spacing_um = 60.0
thickness_um = 20.0
normal = [1.0, 0.6, 0.35]
waviness_um = 8.0
waviness_wavelength_um = 100.0

[readout]
d_core_um = 15.0
d_margin_um = 10.0
profile_bin_um = 10.0
profile_min_um = -40.0
profile_max_um = 40.0

[numerics]
quasi_steady = ["amd3100"]

[[treatment]]
drug = "amd3100"
route = "bath"
level_uM = 1.0

[[treatment]]
drug = "anti_pd1"
route = "bath"
level_nM = 68.5

{extra}"#,
        thickness = 10.0 * nz as f64
    )
}

/// The repository's root (where `scenarios/` lies).
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished command's standard output and error, together, for messages and checks.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
