//! The CPU reference solver against exact solutions: decay, diffusion modes and their
//! convergence, conservation, the source–decay steady state, the Boltzmann and arrest
//! steady states of T cells, positivity at the step bound, AMD3100 saturation, thread
//! independence, the quasi-steady solve against full sub-stepping, and the order of a
//! cell step's work (grouped sub-steps change no bits).
//!
//! Each test builds `Params` directly (see [`uniform`]) and states its grid and its
//! tolerance with the reason for it.

mod common;

use common::{
    arrest_setup, boltzmann_c, boltzmann_params, busy, busy_schedule, centre, coords, cosine_setup,
    mass_setup, max_abs, plan, spread, transport_setup, uniform, Rng,
};
use infiltrate::cpu::CpuSolver;
use infiltrate::dosing::{Bolus, Dosing};
use infiltrate::model::{
    cell_bound, chem_bound, signal, ChemParams, Fields, Params, Segment, CHEMICALS, N_CLASSES,
    OUTSIDE, STROMA, TUMOR, VESSEL,
};
use infiltrate::scenario::{Chemical, ChemotaxisFlux};
use infiltrate::solver::{
    advance_steps_from, levels, Grouping, Schedule, SteadyState, Stepper, SubStep,
};

// ---------------------------------------------------------------------------------
// Helpers

fn solver(p: Params, class: Vec<u8>, f: impl FnOnce(&mut Fields)) -> CpuSolver {
    let n = p.voxels();
    let mut fields = Fields::zeros(n);
    f(&mut fields);
    CpuSolver::new(p, class, fields)
}

/// A Boltzmann run: C from [`boltzmann_c`] (never stepped), T = 1000 cells/mm³
/// everywhere, all tumour, then `minutes` of cell steps at 0.9 × the bound; returns C
/// and the final T.
fn boltzmann_run(p: Params, l: f64, minutes: f64) -> (Vec<f64>, Vec<f64>) {
    let dt = 0.9 * cell_bound(&p);
    let c = boltzmann_c(&p, l);
    let nv = p.voxels();
    let mut s = solver(p, vec![TUMOR; nv], |f| {
        f.c = c.clone();
        f.t = vec![1000.0; nv];
    });
    for _ in 0..(minutes / dt).ceil() as usize {
        s.cell_step(dt);
    }
    (c, s.fields().t.clone())
}

/// Sum in index order (fixed, for conservation checks).
fn total(u: &[f64]) -> f64 {
    u.iter().sum()
}

// ---------------------------------------------------------------------------------
// Chemicals

/// Grid 7 × 5 × 3, random classes with decay rates 0.01–0.05 /min, no diffusion.
/// Forward Euler gives `(1 − λΔt)^n` for `exp(−λt)`: the relative error is
/// `n (λΔt)²/2 (1 + O(λΔt)) = λt · λΔt / 2`, so the tolerance is that value ±5 %
/// (the measured error must also be that large: it shows the scheme is forward Euler).
#[test]
fn pure_decay_matches_forward_euler_error() {
    let dims = [7, 5, 3];
    let mut p = uniform(dims, 10.0);
    p.amd3100.decay = [0.01, 0.02, 0.05, 0.03, 0.04];
    let mut rng = Rng(1);
    let class: Vec<u8> = (0..p.voxels()).map(|_| rng.class()).collect();
    let u0: Vec<f64> = (0..p.voxels()).map(|_| 1.0 + rng.next()).collect();
    let decay = p.amd3100.decay;
    let mut s = solver(p, class.clone(), |f| f.a = u0.clone());
    let dt = 0.1;
    let steps = 400;
    for _ in 0..steps {
        s.chem_step(Chemical::Amd3100, dt, 0.0, 0.0);
    }
    let t = dt * steps as f64;
    for i in 0..class.len() {
        let l = decay[class[i] as usize];
        let exact = u0[i] * (-l * t).exp();
        let err = (exact - s.fields().a[i]) / exact;
        let predicted = l * t * l * dt / 2.0;
        assert!(
            (err - predicted).abs() <= 0.05 * predicted,
            "voxel {i}: error {err:e}, forward Euler predicts {predicted:e}"
        );
    }
}

/// Grid 29 × 4 × 3, h = 7 µm (L = 203 µm), D = 100 µm²/min in every class (random
/// classes, so equal-D faces must give D), zero-flux faces, `u = 2 + cos(πx/L)`, run to
/// `t = L²/(Dπ²)` (one e-fold) at half the step bound. The mode's amplitude must match
/// `exp(−Dπ²t/L²)`; tolerance: the sum of the two leading errors, space
/// `λt (πh/L)²/12` and time `λt · λΔt/2`, times 1.1; and the constant 2 must stay.
#[test]
fn cosine_mode_decays_at_exact_rate() {
    let (p, class) = cosine_setup();
    let (dims, h, d) = (p.dims, p.h, p.cxcl12.diffusion[0]);
    let l = dims[0] as f64 * h;
    let dt = 0.5 * chem_bound(&p, &p.cxcl12);
    let mode = |i: usize| (std::f64::consts::PI * centre(coords(dims, i)[0], h) / l).cos();
    let mut s = solver(p, class, |f| {
        f.c = (0..f.c.len()).map(|i| 2.0 + mode(i)).collect()
    });
    let lambda = d * std::f64::consts::PI.powi(2) / (l * l);
    let steps = (1.0 / lambda / dt).round() as usize;
    for _ in 0..steps {
        s.chem_step(Chemical::Cxcl12, dt, 0.0, 0.0);
    }
    let t = steps as f64 * dt;
    let exact = (-lambda * t).exp();
    let tol = 1.1
        * (lambda * t * (std::f64::consts::PI * h / l).powi(2) / 12.0
            + lambda * t * lambda * dt / 2.0);
    for (i, &u) in s.fields().c.iter().enumerate() {
        let want = 2.0 + exact * mode(i);
        assert!(
            (u - want).abs() <= tol * exact * mode(i).abs() + 1e-12,
            "voxel {i}: {u} against {want} (tolerance {tol:e} relative to the mode)"
        );
    }
}

/// Grids 9·2^k × 2 × 7·2^k, h = 20/2^k µm, k = 0, 1, 2; D = 100 µm²/min; zero-flux x
/// faces, bath (0) z faces; `u = cos(πx/Lx) sin(πz/Lz)` run for one e-fold at
/// Δt = 0.1 × bound (∝ h², so the O(Δt) time error keeps pace with the O(h²) space
/// error and stays below it). The max error must fall by 4 per halving of h:
/// ratio within [3.6, 4.4] (the next-order terms are O(h²) smaller).
#[test]
fn diffusion_converges_at_second_order() {
    let d = 100.0;
    let mut errors = Vec::new();
    for k in 0..3 {
        let dims = [9 << k, 2, 7 << k];
        let h = 20.0 / f64::from(1u32 << k);
        let mut p = uniform(dims, h);
        p.anti_pd1.diffusion = [d; N_CLASSES];
        p.bath_faces = [false, false, false, false, true, true];
        let (lx, lz) = (dims[0] as f64 * h, dims[2] as f64 * h);
        let pi = std::f64::consts::PI;
        let mode = |i: usize| {
            let [x, _, z] = coords(dims, i);
            (pi * centre(x, h) / lx).cos() * (pi * centre(z, h) / lz).sin()
        };
        let dt = 0.1 * chem_bound(&p, &p.anti_pd1);
        let lambda = d * pi * pi * (1.0 / (lx * lx) + 1.0 / (lz * lz));
        let steps = (1.0 / lambda / dt).round() as usize;
        let n = p.voxels();
        let mut s = solver(p, vec![TUMOR; n], |f| f.p = (0..n).map(mode).collect());
        for _ in 0..steps {
            s.chem_step(Chemical::AntiPd1, dt, 0.0, 0.0);
        }
        let decay = (-lambda * steps as f64 * dt).exp();
        let err = (0..n)
            .map(|i| (s.fields().p[i] - decay * mode(i)).abs())
            .fold(0.0, f64::max);
        errors.push(err);
    }
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (3.6..=4.4).contains(&ratio),
            "errors {errors:?}: ratio {ratio} is not second order"
        );
    }
}

/// Grid 19 × 13 × 11, random classes with D = 50, 100, 300, 30, 0 µm²/min (the last
/// closes its faces), a random field, zero-flux faces, no sources: 2000 steps at
/// 0.9 × bound. Total mass must stay within 1e-12 relative (only round-off changes it:
/// every face flux is antisymmetric to the bit), while the field changes by O(1).
#[test]
fn diffusion_conserves_mass() {
    let (p, class, mut rng) = mass_setup();
    let n = p.voxels();
    let u0: Vec<f64> = (0..n).map(|_| 10.0 * rng.next()).collect();
    let dt = 0.9 * chem_bound(&p, &p.cxcl12);
    let mut s = solver(p, class, |f| f.c = u0.clone());
    for _ in 0..2000 {
        s.chem_step(Chemical::Cxcl12, dt, 0.0, 0.0);
    }
    let (m0, m1) = (total(&u0), total(&s.fields().c));
    assert!(
        ((m1 - m0) / m0).abs() <= 1e-12,
        "mass {m0} → {m1}: relative change {:e}",
        (m1 - m0) / m0
    );
    let moved = u0
        .iter()
        .zip(&s.fields().c)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(moved > 1.0, "the field hardly changed ({moved})");
}

/// Grid 23 × 17 × 13, random classes with motility 0 (outside: closed), 1, 1, 0.5, 0.5,
/// arrest 0.7, χ = 5 μ_0, a random signal, random T, no sources or sinks: 500 cell steps
/// at 0.9 × bound. Total T must stay within 1e-12 relative (antisymmetric face fluxes),
/// and T in the closed class must not change at all.
#[test]
fn t_cell_transport_conserves_cells() {
    let (p, class, mut rng) = transport_setup();
    let n = p.voxels();
    let t0: Vec<f64> = (0..n).map(|_| 1e4 * rng.next()).collect();
    let c0: Vec<f64> = (0..n).map(|_| 20.0 * rng.next()).collect();
    let dt = 0.9 * cell_bound(&p);
    let mut s = solver(p, class.clone(), |f| {
        f.t = t0.clone();
        f.c = c0;
    });
    for _ in 0..500 {
        s.cell_step(dt);
    }
    let t = &s.fields().t;
    let (m0, m1) = (total(&t0), total(t));
    assert!(((m1 - m0) / m0).abs() <= 1e-12, "T total {m0} → {m1}");
    for i in 0..n {
        if class[i] == OUTSIDE {
            assert_eq!(t[i], t0[i], "T moved in the closed class at voxel {i}");
        }
    }
    assert!(t.iter().all(|&x| x >= 0.0));
}

/// Grids 3 × 2 × 25 (h = 10 µm) and 3 × 2 × 50 (h = 5 µm), L = 250 µm along z with
/// bath faces (0) at both ends; D = 100 µm²/min, λ = 0.01 /min (ℓ = 100 µm),
/// S = 0.5 nM/min; solved to steady state (tolerance 1e-11). Against
/// `u = S/λ (1 − cosh((z − L/2)/ℓ)/cosh(L/(2ℓ)))`: the max error relative to S/λ must
/// be within `(h/ℓ)²/4` (the interior truncation error is `(h/ℓ)²/12`, the half-voxel
/// Dirichlet face adds an error of the same order), and fall by 4 ± 0.4 when h halves.
#[test]
fn source_decay_steady_state_matches_cosh() {
    let (d, lambda, src, l): (f64, f64, f64, f64) = (100.0, 0.01, 0.5, 250.0);
    let ell = (d / lambda).sqrt();
    let mut errors = Vec::new();
    for nz in [25, 50] {
        let dims = [3, 2, nz];
        let h = l / nz as f64;
        let mut p = uniform(dims, h);
        p.cxcl12.diffusion = [d; N_CLASSES];
        p.cxcl12.decay = [lambda; N_CLASSES];
        p.cxcl12.secretion = [src; N_CLASSES];
        p.bath_faces = [false, false, false, false, true, true];
        let n = p.voxels();
        let mut s = solver(p, vec![STROMA; n], |_| {});
        s.solve_steady(Chemical::Cxcl12, 0.0, 0.0, 1e-11).unwrap();
        let err = (0..n)
            .map(|i| {
                let z = centre(coords(dims, i)[2], h);
                let exact =
                    src / lambda * (1.0 - ((z - l / 2.0) / ell).cosh() / (l / (2.0 * ell)).cosh());
                (s.fields().c[i] - exact).abs() / (src / lambda)
            })
            .fold(0.0, f64::max);
        let tol = (h / ell).powi(2) / 4.0;
        assert!(err <= tol, "h = {h}: error {err:e} above {tol:e}");
        errors.push(err);
    }
    let ratio = errors[0] / errors[1];
    assert!((3.6..=4.4).contains(&ratio), "errors {errors:?}");
}

// ---------------------------------------------------------------------------------
// T cells

/// Grids n × 2 × 2 with n = 12, 24, 48 (h = 10, 5, 2.5 µm, L = 120 µm along x); a fixed
/// signal from `C = K_C (1 + 3x/L)` (s from 0.5 to 0.8) with A = 0 (C is never stepped);
/// μ_0 = 20, χ = 4 μ_0, no arrest, uniform motility, no sources; run 1500 min (the
/// slowest mode decays as e^(−μ_0π²t/L²) ≈ e^(−20)). The steady state must approach
/// the Boltzmann profile `T ∝ exp(χ s/μ_0)`. The upwind scheme's (`chemotaxis_flux =
/// "upwind"`) steady face ratio is
/// `1 + x_f` for `e^{x_f}`, `x_f = χ Δs_f/μ_0 > 0`, so the spread (max − min) of
/// `ln(T/T_Boltzmann)` is `Σ_f (x_f − ln(1 + x_f))`, between `Σ_f (x_f²/2 − x_f³/3)` and
/// `Σ_f x_f²/2 = O(h)`: those are the tolerances. The spread must fall by a first-order
/// factor per halving of h, within [1.7, 2.1] (the x³ term gives 1.73 at h = 10 µm,
/// tending to 2).
#[test]
fn chemotaxis_reaches_boltzmann_at_first_order() {
    let l = 120.0;
    let mut spreads = Vec::new();
    for n in [12, 24, 48] {
        let mut p = boltzmann_params(n, l);
        p.flux = ChemotaxisFlux::Upwind;
        let (k_c, mu0, chi) = (p.k_c, p.mu0, p.chi);
        let (c, t) = boltzmann_run(p, l, 1500.0);
        let sig: Vec<f64> = c.iter().map(|&c| signal(c, 0.0, k_c, 1.0)).collect();
        let logs: Vec<f64> = (0..c.len())
            .map(|i| t[i].ln() - chi * sig[i] / mu0)
            .collect();
        let spread = spread(&logs);
        let predicted: f64 = (1..n)
            .map(|x| (chi * (sig[x] - sig[x - 1]) / mu0).powi(2) / 2.0)
            .sum();
        let below: f64 = (1..n)
            .map(|x| (chi * (sig[x] - sig[x - 1]) / mu0).powi(3) / 3.0)
            .sum();
        assert!(
            spread <= predicted && spread >= predicted - below,
            "n = {n}: spread of ln(T/T_B) {spread:e} outside [{:e}, {predicted:e}]",
            predicted - below
        );
        spreads.push(spread);
    }
    for w in spreads.windows(2) {
        let ratio = w[0] / w[1];
        assert!((1.7..=2.1).contains(&ratio), "spreads {spreads:?}");
    }
}

/// The setup of `chemotaxis_reaches_boltzmann_at_first_order` (n = 12, 24, 48; the
/// slowest mode decayed to e^(−20.6) ≈ 1e-9) with the exponentially fitted flux (the
/// default): its zero-flux face ratio is the Boltzmann factor itself, so the spread of
/// `ln(T/T_Boltzmann)` is the transient and round-off, below 1e-7 on every grid (the
/// upwind scheme's is 1e-2 at n = 12), whatever h.
#[test]
fn fitted_chemotaxis_reaches_boltzmann_exactly() {
    let l = 120.0;
    for n in [12, 24, 48] {
        let p = boltzmann_params(n, l);
        assert_eq!(p.flux, ChemotaxisFlux::Exponential);
        let (k_c, mu0, chi) = (p.k_c, p.mu0, p.chi);
        let (c, t) = boltzmann_run(p, l, 1500.0);
        let logs: Vec<f64> = (0..c.len())
            .map(|i| t[i].ln() - chi * signal(c[i], 0.0, k_c, 1.0) / mu0)
            .collect();
        let spread = spread(&logs);
        assert!(spread <= 1e-7, "n = {n}: spread of ln(T/T_B) {spread:e}");
    }
}

/// The Boltzmann setup (n = 12, 24, 48) with arrest 0.5, so that μ = μ_0 (1 − r s)
/// varies along x: the zero-flux state is `w = μT ∝ exp(∫χ/μ ds) = (1 − r s)^(−χ/(μ_0 r))`.
/// The fitted flux's face motility, the logarithmic mean of μ_i and μ_j, makes that
/// exact for μ linear in s: the spread of `ln w + (χ/(μ_0 r)) ln(1 − r s)` must be below
/// 1e-7 on every grid (transient and round-off; the upwind flux's is above 1e-3).
#[test]
fn fitted_chemotaxis_reaches_the_arrest_boltzmann_state_exactly() {
    let l = 120.0;
    let r = 0.5;
    for (flux, n) in [
        (ChemotaxisFlux::Exponential, 12),
        (ChemotaxisFlux::Exponential, 24),
        (ChemotaxisFlux::Exponential, 48),
        (ChemotaxisFlux::Upwind, 12),
    ] {
        let mut p = boltzmann_params(n, l);
        p.arrest = r;
        p.flux = flux;
        let (k_c, mu0, chi) = (p.k_c, p.mu0, p.chi);
        // The slowest mode at the lowest motility, μ_0 (1 − r·0.8), decays as
        // e^(−0.6 μ_0 π² t/L²): 2500 min give e^(−20).
        let (c, t) = boltzmann_run(p, l, 2500.0);
        let logs: Vec<f64> = (0..c.len())
            .map(|i| {
                let sig = signal(c[i], 0.0, k_c, 1.0);
                let mu = mu0 * (1.0 - r * sig);
                (mu * t[i]).ln() + chi / (mu0 * r) * (1.0 - r * sig).ln()
            })
            .collect();
        let spread = spread(&logs);
        eprintln!("{flux:?} n = {n}: spread {spread:.3e}");
        match flux {
            ChemotaxisFlux::Exponential => {
                assert!(spread <= 1e-7, "n = {n}: spread {spread:e}")
            }
            ChemotaxisFlux::Upwind => assert!(spread >= 1e-3, "upwind spread {spread:e}"),
        }
    }
}

/// The Boltzmann setup (n = 12, 24, 48 over L = 120 µm) with arrest 0.5 and a motility
/// jump: tumour (m = 1) for x < L/2, stroma (m = 0.5) beyond. In each class
/// `g = ln(μT) + (χ/(μ_0 m r)) ln(1 − r s)` is constant at equilibrium, and `w = μT` is
/// continuous at the boundary, so g jumps by `J = (χ/(μ_0 r)) ln(1 − r s_b) (1/m_s −
/// 1/m_t)`, s_b the signal at x = L/2. The fitted flux is exact inside each class
/// (spread of g below 1e-7 per side) and, across the boundary face, takes 1/μ_f as the
/// mean of the two reciprocals (the integral of 1/μ over the face's halves): the error of
/// the jump must fall at second order (observed order 1.8–2.3). Taking the donor's μ
/// instead (the rule of earlier versions) made it first order: 1.0 measured.
#[test]
fn fitted_flux_crosses_a_motility_jump_at_second_order() {
    let l = 120.0;
    let r = 0.5;
    let (m_t, m_s) = (1.0, 0.5);
    let mut errors = Vec::new();
    for n in [12, 24, 48] {
        let mut p = boltzmann_params(n, l);
        p.arrest = r;
        p.motility[TUMOR as usize] = m_t;
        p.motility[STROMA as usize] = m_s;
        let (k_c, mu0, chi, dims) = (p.k_c, p.mu0, p.chi, p.dims);
        let dt = 0.9 * cell_bound(&p);
        let c = boltzmann_c(&p, l);
        let nv = p.voxels();
        let class: Vec<u8> = (0..nv)
            .map(|i| {
                if coords(dims, i)[0] < n / 2 {
                    TUMOR
                } else {
                    STROMA
                }
            })
            .collect();
        let mut s = solver(p, class.clone(), |f| {
            f.c = c.clone();
            f.t = vec![1000.0; nv];
        });
        // The slowest mode at the lowest motility, μ_0 m_s (1 − r·0.8), decays as
        // e^(−0.3 μ_0 π² t/L²): 5000 min give e^(−20).
        for _ in 0..(5000.0 / dt).ceil() as usize {
            s.cell_step(dt);
        }
        let t = &s.fields().t;
        let g = |i: usize| {
            let m = if class[i] == TUMOR { m_t } else { m_s };
            let sig = signal(c[i], 0.0, k_c, 1.0);
            (mu0 * m * (1.0 - r * sig) * t[i]).ln() + chi / (mu0 * m * r) * (1.0 - r * sig).ln()
        };
        let side = |cls: u8| -> Vec<f64> { (0..nv).filter(|&i| class[i] == cls).map(g).collect() };
        let (gt, gs) = (side(TUMOR), side(STROMA));
        assert!(
            spread(&gt) <= 1e-7 && spread(&gs) <= 1e-7,
            "n = {n}: spread of g {:e} (tumour), {:e} (stroma)",
            spread(&gt),
            spread(&gs)
        );
        let s_b = signal(k_c * 2.5, 0.0, k_c, 1.0);
        let jump = chi / (mu0 * r) * (1.0 - r * s_b).ln() * (1.0 / m_s - 1.0 / m_t);
        errors.push((gs[0] - gt[0] - jump).abs());
    }
    let orders: Vec<f64> = errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect();
    eprintln!("jump errors {errors:?}, observed orders {orders:?}");
    for o in &orders {
        assert!(
            (1.8..=2.3).contains(o),
            "jump errors {errors:?}: orders {orders:?}"
        );
    }
}

/// A transient of drift and motility along x (grids n × 2 × 2, n = 16, 32, 64, 128 over
/// L = 160 µm): `T = 1000 (1 + cos(πx/L))` under a fixed signal s from
/// `C = K_C (1 + 3x/L)`, μ_0 = 20, χ = 4 μ_0, for 60 min at a step of 0.2 × the bound of
/// the finest grid (the same time error on every grid). The largest difference of T
/// between successive grids, on the coarsest grid's voxels (means of the fine voxels
/// each covers), gives the observed order. With uniform motility the fitted flux must
/// converge at second order (≥ 1.8; it tends to central differences as the face Péclet
/// number χΔs/μ → 0) and the upwind flux at first (≤ 1.3), so the test tells them
/// apart. With arrest 0.5 (μ varying with s) the fitted flux's motile exchange carries
/// a first-order term proportional to the flux (zero at equilibrium, see above): its
/// differences must still be below the upwind flux's on every pair of grids.
#[test]
fn fitted_flux_converges_at_second_order_in_a_transient() {
    let l = 160.0;
    let run = |n: usize, flux: ChemotaxisFlux, arrest: f64, dt: f64| -> Vec<f64> {
        let mut p = boltzmann_params(n, l);
        p.arrest = arrest;
        p.flux = flux;
        let (dims, h, k_c) = (p.dims, p.h, p.k_c);
        let nv = p.voxels();
        let x = |i: usize| centre(coords(dims, i)[0], h);
        let mut s = solver(p, vec![TUMOR; nv], |f| {
            f.c = (0..nv).map(|i| k_c * (1.0 + 3.0 * x(i) / l)).collect();
            f.t = (0..nv)
                .map(|i| 1000.0 * (1.0 + (std::f64::consts::PI * x(i) / l).cos()))
                .collect();
        });
        for _ in 0..(60.0 / dt).round() as usize {
            s.cell_step(dt);
        }
        // The profile along x (the 2 × 2 voxels of a column are equal).
        (0..n).map(|ix| s.fields().t[ix]).collect()
    };
    let ns = [16, 32, 64, 128];
    let dt = 0.2 * cell_bound(&boltzmann_params(ns[3], l));
    let coarse = |fine: &[f64]| -> Vec<f64> {
        let r = fine.len() / ns[0];
        (0..ns[0])
            .map(|i| fine[i * r..(i + 1) * r].iter().sum::<f64>() / r as f64)
            .collect()
    };
    let diffs = |flux, arrest| -> Vec<f64> {
        let profiles: Vec<Vec<f64>> = ns.iter().map(|&n| run(n, flux, arrest, dt)).collect();
        (0..3)
            .map(|k| {
                let (a, b) = (coarse(&profiles[k]), coarse(&profiles[k + 1]));
                a.iter()
                    .zip(&b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
            })
            .collect()
    };
    let order = |d: &[f64]| (d[1] / d[2]).log2();
    for (flux, lo, hi) in [
        (ChemotaxisFlux::Exponential, 1.8, 2.5),
        (ChemotaxisFlux::Upwind, 0.7, 1.3),
    ] {
        let d = diffs(flux, 0.0);
        eprintln!(
            "{flux:?}, uniform motility: differences {d:?}, order {:.2}",
            order(&d)
        );
        assert!(
            (lo..=hi).contains(&order(&d)),
            "{flux:?}: observed order {:.2} outside [{lo}, {hi}] ({d:?})",
            order(&d)
        );
    }
    let fitted = diffs(ChemotaxisFlux::Exponential, 0.5);
    let upwind = diffs(ChemotaxisFlux::Upwind, 0.5);
    eprintln!(
        "arrest 0.5: fitted {fitted:?} (order {:.2}), upwind {upwind:?} (order {:.2})",
        order(&fitted),
        order(&upwind)
    );
    for (f, u) in fitted.iter().zip(&upwind) {
        assert!(
            f < u,
            "arrest 0.5: fitted {fitted:?} against upwind {upwind:?}"
        );
    }
}

/// Grid 17 × 13 × 9, h = 10 µm; a checkerboard signal (C = 0 or 19 K_C, s = 0 or 0.95,
/// so every low voxel has six high neighbours), χ = 50 μ_0, arrest 0.5, motility 1 and
/// 0.5, T only on the low voxels (nothing flows back in), with influx, death,
/// proliferation: at Δt = `cell_bound` exactly, 200 steps keep T ≥ 0 (the model's bound,
/// docs/model.md; the coefficient of T_i stays ≥ 1 − 0.95·6χ/(6μ_max + 6χ) > 0). At 1.3 × the bound
/// the same first step makes T negative (so this test can fail).
#[test]
fn strong_chemotaxis_keeps_t_non_negative_at_the_bound() {
    let dims = [17, 13, 9];
    let mut p = uniform(dims, 10.0);
    p.mu0 = 20.0;
    p.chi = 50.0 * p.mu0;
    p.arrest = 0.5;
    p.motility = [1.0, 1.0, 1.0, 0.5, 0.5];
    p.k_c = 4.5;
    p.t_max = 1e5;
    p.influx = [0.0, 0.0, 0.0, 0.0, 10.0];
    p.death = 0.2 / 1440.0;
    p.prolif = 0.1 / 1440.0;
    let n = p.voxels();
    let mut rng = Rng(5);
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let low = |i: usize| coords(dims, i).iter().sum::<usize>() % 2 == 0;
    let k_c = p.k_c;
    let init = |f: &mut Fields| {
        f.c = (0..n)
            .map(|i| if low(i) { 0.0 } else { 19.0 * k_c })
            .collect();
        f.t = (0..n).map(|i| if low(i) { 1e4 } else { 0.0 }).collect();
        f.n = vec![0.5; n];
    };
    let bound = cell_bound(&p);
    let mut over = solver(p.clone(), class.clone(), init);
    over.cell_step(1.3 * bound);
    assert!(
        over.fields().t.iter().any(|&t| t < 0.0),
        "1.3 × the bound should break positivity"
    );
    let mut s = solver(p, class, init);
    for k in 0..200 {
        s.cell_step(bound);
        let min = s.fields().t.iter().cloned().fold(f64::MAX, f64::min);
        assert!(min >= 0.0, "step {k}: T = {min}");
    }
}

/// Grid 13 × 11 × 7, h = 10 µm; weak chemotaxis (χ = 0.1 μ_0, no arrest) across a
/// checkerboard of two classes: tumour (m = 1, C = 1.5 K_C, s = 0.6) holding T, and
/// vessel (m = 0.05, C = K_C, s = 0.5) holding none, so every T-holding voxel receives
/// the drift from six neighbours of far lower motility. There the fitted flux's
/// coefficient of T_i is `β μ_i = 2 B μ_i / (1 + μ_j/μ_i)` per face, about 1.8 μ_i:
/// above the upwind flux's μ_i + χ (1.1 μ_i), which is why the cell bound takes
/// `max(μ + χ, 2μ)` per face with the fitted flux. At that bound 200 steps keep T ≥ 0;
/// at 1.3 × the bound, and at the upwind flux's bound, the first step makes T negative
/// (so this test can fail).
#[test]
fn weak_chemotaxis_across_a_motility_jump_keeps_t_non_negative_at_the_bound() {
    let dims = [13, 11, 7];
    let mut p = uniform(dims, 10.0);
    p.mu0 = 20.0;
    p.chi = 0.1 * p.mu0;
    p.arrest = 0.0;
    p.motility = [0.0, 1.0, 1.0, 0.05, 0.05];
    p.k_c = 4.5;
    assert_eq!(p.flux, ChemotaxisFlux::Exponential);
    let n = p.voxels();
    let even = |i: usize| coords(dims, i).iter().sum::<usize>() % 2 == 0;
    let class: Vec<u8> = (0..n)
        .map(|i| if even(i) { TUMOR } else { VESSEL })
        .collect();
    let k_c = p.k_c;
    let init = |f: &mut Fields| {
        f.c = (0..n)
            .map(|i| if even(i) { 1.5 * k_c } else { k_c })
            .collect();
        f.t = (0..n).map(|i| if even(i) { 1e4 } else { 0.0 }).collect();
        f.n = vec![0.5; n];
    };
    let bound = cell_bound(&p);
    let upwind_bound = {
        let mut q = p.clone();
        q.flux = ChemotaxisFlux::Upwind;
        cell_bound(&q)
    };
    assert!(bound < upwind_bound, "{bound} against {upwind_bound}");
    for (what, dt) in [
        ("1.3 × the bound", 1.3 * bound),
        ("the upwind bound", upwind_bound),
    ] {
        let mut over = solver(p.clone(), class.clone(), init);
        over.cell_step(dt);
        assert!(
            over.fields().t.iter().any(|&t| t < 0.0),
            "{what} should break positivity"
        );
    }
    let mut s = solver(p, class, init);
    for k in 0..200 {
        s.cell_step(bound);
        let min = s.fields().t.iter().cloned().fold(f64::MAX, f64::min);
        assert!(min >= 0.0, "step {k}: T = {min}");
    }
}

/// Grid 15 × 11 × 7, h = 10 µm; χ = 0, arrest 0.9, motility 1 (tumour) and 0.5
/// (stroma) in random classes, a smooth signal (s 0.1–0.75); no sources. The discrete
/// steady state is exactly `μ T` uniform, so with total T conserved
/// `T_i = ΣT / Σ(1/μ) / μ_i`; after 6000 min T must match it within 1e-6 relative (the
/// remaining transient, about 2e-8 then; a scheme with `μ ∇T` instead of `∇(μT)` would
/// miss by O(1)), and T must pile up where μ is lowest (max/min T ≥ 3).
#[test]
fn arrest_piles_t_where_motility_is_low() {
    let (p, class, c) = arrest_setup();
    let n = p.voxels();
    let k_c = p.k_c;
    let mu: Vec<f64> = (0..n)
        .map(|i| {
            let s = signal(c[i], 0.0, k_c, 1.0);
            20.0 * p.motility[class[i] as usize] * (1.0 - 0.9 * s)
        })
        .collect();
    let dt = 0.9 * cell_bound(&p);
    let mut s = solver(p, class, |f| {
        f.c = c.clone();
        f.t = vec![1000.0; n];
    });
    for _ in 0..(6000.0 / dt) as usize {
        s.cell_step(dt);
    }
    let t = &s.fields().t;
    let w = total(t) / mu.iter().map(|m| 1.0 / m).sum::<f64>();
    for i in 0..n {
        let want = w / mu[i];
        assert!(
            ((t[i] - want) / want).abs() <= 1e-6,
            "voxel {i}: T {} against μT uniform {want}",
            t[i]
        );
    }
    let (tmin, tmax) = (
        t.iter().cloned().fold(f64::MAX, f64::min),
        t.iter().cloned().fold(0.0, f64::max),
    );
    assert!(tmax / tmin >= 3.0, "T hardly piles up: {tmin}..{tmax}");
    let slowest = (0..n).min_by(|&a, &b| mu[a].total_cmp(&mu[b])).unwrap();
    assert_eq!(t[slowest], tmax, "T should peak where μ is lowest");
}

/// Grid 21 × 9 × 5, h = 10 µm: stroma bands (C = 9 K_C, s = 0.9) between tumour
/// (C = 0.5 K_C, s = 0.33), vessel columns exchanging AMD3100 (κ = 0.5 /min) with a
/// plasma level of 1000 K_A, D_A = 1e3 µm²/min, no decay. The steady A is the plasma
/// level everywhere (solved to 1e-8), so s ≤ 9/(1 + 9 + 1000) < 0.0090 everywhere. Then
/// 300 min of T cells with χ = 5 μ_0 from uniform T: untreated, stroma/tumour mean T
/// must exceed 2; with AMD3100 it must stay below the Boltzmann bound
/// exp(χ max s/μ_0) < 1.05.
#[test]
fn saturating_amd3100_silences_the_signal() {
    let dims = [21, 9, 5];
    let mut p = uniform(dims, 10.0);
    p.k_c = 4.5;
    p.k_a = 5e-3;
    p.amd3100.diffusion = [1e3; N_CLASSES];
    p.amd3100.exchange = [0.0, 0.0, 0.0, 0.0, 0.5];
    p.mu0 = 20.0;
    p.chi = 5.0 * p.mu0;
    let n = p.voxels();
    let class: Vec<u8> = (0..n)
        .map(|i| {
            let [x, y, _] = coords(dims, i);
            if x % 7 == 4 && y % 3 == 1 {
                VESSEL
            } else if x % 7 < 2 {
                STROMA
            } else {
                TUMOR
            }
        })
        .collect();
    let k_c = p.k_c;
    let c: Vec<f64> = class
        .iter()
        .map(|&k| if k == TUMOR { 0.5 * k_c } else { 9.0 * k_c })
        .collect();
    let plasma = 1000.0 * p.k_a;
    let dt = 0.9 * cell_bound(&p);
    let enrichment = |t: &[f64]| {
        let mean = |want: u8| {
            let v: Vec<f64> = (0..n).filter(|&i| class[i] == want).map(|i| t[i]).collect();
            total(&v) / v.len() as f64
        };
        mean(STROMA) / mean(TUMOR)
    };
    let mut results = Vec::new();
    for treated in [false, true] {
        let mut s = solver(p.clone(), class.clone(), |f| {
            f.c = c.clone();
            f.t = vec![1000.0; n];
        });
        if treated {
            s.solve_steady(Chemical::Amd3100, plasma, 0.0, 1e-8)
                .unwrap();
            let f = s.fields();
            let smax = (0..n)
                .map(|i| signal(f.c[i], f.a[i], k_c, p.k_a))
                .fold(0.0, f64::max);
            assert!(smax < 0.0090, "max s {smax} with saturating AMD3100");
        }
        for _ in 0..(300.0 / dt) as usize {
            s.cell_step(dt);
        }
        results.push(enrichment(&s.fields().t));
    }
    assert!(results[0] > 2.0, "untreated enrichment {}", results[0]);
    assert!(results[1] < 1.05, "treated enrichment {}", results[1]);
}

// ---------------------------------------------------------------------------------
// Whole runs

/// A 37 × 23 × 11 run with every term active: random classes (outside closed to T),
/// CXCL12 secretion, class decay and uptake by T, bath faces on x− and z+, AMD3100 by
/// plasma and bath boluses, anti-PD-1 quasi-steady, chemotaxis, arrest, influx,
/// proliferation, death, growth and killing.
fn busy_run() -> Fields {
    let p = busy([37, 23, 11]);
    let n = p.voxels();
    let mut rng = Rng(7);
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let mut fields = Fields::zeros(n);
    for (i, &k) in class.iter().enumerate() {
        fields.c[i] = 5.0 * rng.next();
        fields.t[i] = 2e4 * rng.next();
        fields.n[i] = if k == TUMOR { 1.0 } else { 0.0 };
    }
    let (plan, dosing) = busy_schedule(&p);
    let cell_dt = plan.cell_dt;
    let mut s = CpuSolver::new(p, class, fields);
    let seg = Segment {
        t0: 0.0,
        steps: 12,
        dt: cell_dt,
    };
    let mut seen = 0;
    s.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |k| {
        seen = k
    })
    .unwrap();
    assert_eq!(seen, 12);
    s.fields().clone()
}

/// Grid 37 × 23 × 11 ([`busy_run`]): 12 cell steps with every term active, sub-steps
/// and a quasi-steady chemical, in a 1-thread and a 7-thread pool. Tolerance: none,
/// every field must be identical to the bit.
#[test]
fn threads_do_not_change_the_bits() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(busy_run)
    };
    let (one, seven) = (run(1), run(7));
    for ((name, a), (_, b)) in one.named().into_iter().zip(seven.named()) {
        assert!(a.iter().all(|x| x.is_finite()), "{name} not finite");
        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{name} differs between 1 and 7 threads");
    }
    assert!(one.a.iter().any(|&a| a > 0.0) && one.p.iter().any(|&p| p > 0.0));
    assert!(one.k.iter().any(|&k| k > 0.0));
}

/// Grid 13 × 11 × 25, h = 10 µm: a 250 µm slice with bath faces on z, tumour with
/// stroma bands; CXCL12 secreted by stroma and sub-stepped in both runs; AMD3100 with
/// D = 1e4 µm²/min, λ = 0.01 /min, a bath at 1 µM from t = 0 and 1.5 µM from t = 30 min;
/// T cells with χ = 5 μ_0 and arrest 0.9. 60 min with AMD3100 fully sub-stepped against
/// quasi-steady (tolerance 1e-6).
///
/// Tolerances: A must agree within 3e-6 × max A at the end (the solve's 1e-6, the
/// sub-stepped field's transient e^(−λ_min·30 min) ≈ e^(−47), round-off); the
/// quasi-steady run solves exactly twice (at the start and at the step). T, N and K
/// must agree within 2e-2 relative: the sub-stepped A takes about 1/λ_min ≈ 0.6 min to
/// follow each change, and during that time the signal, and so the T-cell flux, differ
/// at O(1); a 1.2-min lag in 60 min moves up to a few per cent of the cells (measured:
/// A 1.0e-6, T 4.0e-3, N 2.4e-5, K 5.5e-3).
#[test]
fn quasi_steady_amd3100_matches_full_substepping() {
    let dims = [13, 11, 25];
    let mut p = uniform(dims, 10.0);
    p.bath_faces = [false, false, false, false, true, true];
    p.cxcl12.diffusion = [100.0; N_CLASSES];
    p.cxcl12.decay = [0.17, 0.17, 0.17, 0.017, 0.017];
    p.cxcl12.secretion = [0.0, 0.01, 0.005, 1.0, 0.0];
    p.amd3100.diffusion = [1e4, 1e4, 1e4, 5e3, 1e4];
    p.amd3100.decay = [0.01; N_CLASSES];
    p.k_c = 4.5;
    p.k_a = 5e-3;
    p.mu0 = 20.0;
    p.chi = 5.0 * p.mu0;
    p.arrest = 0.9;
    p.motility = [0.0, 1.0, 1.0, 0.5, 0.5];
    p.kill = 8.0 / 1440.0 / 1e5;
    p.q = 0.8;
    let n = p.voxels();
    let class: Vec<u8> = (0..n)
        .map(|i| {
            let [x, y, z] = coords(dims, i);
            if (x + y / 3 + z / 5) % 6 < 2 {
                STROMA
            } else {
                TUMOR
            }
        })
        .collect();
    let init = |f: &mut Fields| {
        for (i, &k) in class.iter().enumerate() {
            let stroma = k == STROMA;
            f.c[i] = if stroma { 1.0 / 0.017 } else { 0.005 / 0.17 };
            f.t[i] = if stroma { 2e4 } else { 1e3 };
            f.n[i] = if stroma { 0.0 } else { 1.0 };
        }
    };
    let cell_dt = 0.9 * cell_bound(&p);
    let sub = |c: &ChemParams| ((cell_dt / (0.9 * chem_bound(&p, c))).ceil() as u32).max(1);
    let substeps = [sub(&p.cxcl12), sub(&p.amd3100), sub(&p.anti_pd1)];
    let mut dosing = Dosing::default();
    dosing.boluses[0][1] = vec![
        Bolus {
            t0: 0.0,
            peak: 1.0,
            rate: 0.0,
        },
        Bolus {
            t0: 30.0,
            peak: 0.5,
            rate: 0.0,
        },
    ];
    let steps = (60.0 / cell_dt).ceil() as u64;
    let seg = Segment {
        t0: 0.0,
        steps,
        dt: 60.0 / steps as f64,
    };
    let mut out = Vec::new();
    for quasi in [false, true] {
        let plan = plan(&p, cell_dt, substeps, [false, quasi, false]);
        let mut s = solver(p.clone(), class.clone(), init);
        s.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-6), &mut |_| {})
            .unwrap();
        if quasi {
            assert_eq!(s.steady_counts()[1].0, 2, "AMD3100 solves");
        }
        out.push(s.fields().clone());
    }
    let (full, quasi) = (&out[0], &out[1]);
    let rel = |a: &[f64], b: &[f64]| {
        let d = a
            .iter()
            .zip(b)
            .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
        d / max_abs(a)
    };
    let da = rel(&full.a, &quasi.a);
    assert!(da <= 3e-6, "AMD3100 differs by {da:e} of its max");
    let dt_rel = full
        .t
        .iter()
        .zip(&quasi.t)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs() / x.abs().max(1.0)));
    let dn = rel(&full.n, &quasi.n);
    let dk = rel(&full.k, &quasi.k);
    eprintln!("quasi-steady vs full: A {da:e}, T {dt_rel:e}, N {dn:e}, K {dk:e}");
    assert!(dt_rel <= 2e-2, "T differs by {dt_rel:e}");
    assert!(dn <= 2e-2 && dk <= 2e-2, "N {dn:e}, K {dk:e}");
}

/// Grid 19 × 13 × 7: AMD3100 (plasma, at vessels) and anti-PD-1 start at zero and are
/// dosed only from the fifth cell step on. `advance` skips a zero drug's sub-steps
/// while nothing doses it; the result must equal, to the bit, stepping every sub-step
/// by hand (a skipped step that was not a no-op would show).
#[test]
fn skipping_undosed_drugs_changes_no_bits() {
    let dims = [19, 13, 7];
    let mut p = uniform(dims, 10.0);
    p.amd3100.diffusion = [1e4; N_CLASSES];
    p.amd3100.exchange = [0.0, 0.0, 0.0, 0.0, 0.5];
    p.amd3100.decay = [1e-3; N_CLASSES];
    p.anti_pd1.diffusion = [300.0; N_CLASSES];
    p.anti_pd1.exchange = [0.0, 0.0, 0.0, 0.0, 0.05];
    p.cxcl12.diffusion = [100.0; N_CLASSES];
    p.cxcl12.secretion = [0.0, 0.0, 0.0, 1.0, 0.0];
    p.cxcl12.decay = [0.017; N_CLASSES];
    p.mu0 = 20.0;
    p.chi = 100.0;
    p.k_c = 4.5;
    p.k_a = 5e-3;
    p.k_p = 7.2;
    p.kill = 8.0 / 1440.0 / 1e5;
    p.q = 0.8;
    let n = p.voxels();
    let mut rng = Rng(3);
    let class: Vec<u8> = (0..n)
        .map(|_| [TUMOR, STROMA, VESSEL][(rng.next() * 3.0) as usize])
        .collect();
    let cell_dt = 0.9 * cell_bound(&p);
    let sub = |c: &ChemParams| ((cell_dt / (0.9 * chem_bound(&p, c))).ceil() as u32).max(1);
    let substeps = [sub(&p.cxcl12), sub(&p.amd3100), sub(&p.anti_pd1)];
    let plan = plan(&p, cell_dt, substeps, [false; 3]);
    let mut dosing = Dosing::default();
    let start = 4.5 * cell_dt;
    dosing.boluses[0][0] = vec![Bolus {
        t0: start,
        peak: 1.6,
        rate: 1e-3,
    }];
    dosing.boluses[1][0] = vec![Bolus {
        t0: start,
        peak: 410.0,
        rate: 0.0,
    }];
    let init = |f: &mut Fields| {
        for (i, &k) in class.iter().enumerate() {
            f.t[i] = 1e4 * rng_at(i);
            f.n[i] = if k == TUMOR { 1.0 } else { 0.0 };
        }
    };
    let steps = 9;
    let mut a = solver(p.clone(), class.clone(), init);
    let seg = Segment {
        t0: 0.0,
        steps,
        dt: cell_dt,
    };
    a.advance(&seg, 0, &Schedule::new(&plan, &dosing, 1e-4), &mut |_| {})
        .unwrap();
    let mut b = solver(p.clone(), class.clone(), init);
    for k in 0..steps {
        let t = k as f64 * cell_dt;
        for (u, which) in [Chemical::Cxcl12, Chemical::Amd3100, Chemical::AntiPd1]
            .into_iter()
            .enumerate()
        {
            let dt = cell_dt / f64::from(substeps[u]);
            for j in 0..substeps[u] {
                let (plasma, bath) = match which {
                    Chemical::Cxcl12 => (0.0, p.c_bath),
                    _ => dosing.levels(which, t + f64::from(j) * dt),
                };
                b.chem_step(which, dt, plasma, bath);
            }
        }
        b.cell_step(cell_dt);
    }
    assert!(max_abs(&a.fields().a) > 0.0, "AMD3100 was never dosed");
    assert!(max_abs(&a.fields().p) > 0.0, "anti-PD-1 was never dosed");
    assert_eq!(a.fields(), b.fields());
}

/// A fixed pseudo-random value in [0, 1) per index.
fn rng_at(i: usize) -> f64 {
    Rng(i as u64 * 7919 + 1).next()
}

// ---------------------------------------------------------------------------------
// The order of a cell step's work

/// A CPU solver that logs what `advance_steps` asks of it: each group of sub-steps
/// (`"C A P"`), each steady solve (`"solve A"`) and each cell step (`"cell"`).
struct Logged {
    cpu: CpuSolver,
    log: Vec<String>,
}

fn letter(which: Chemical) -> &'static str {
    match which {
        Chemical::Cxcl12 => "C",
        Chemical::Amd3100 => "A",
        Chemical::AntiPd1 => "P",
    }
}

impl Stepper for Logged {
    type Error = std::convert::Infallible;

    fn params(&self) -> &Params {
        Stepper::params(&self.cpu)
    }

    fn steady(&self, u: usize) -> &SteadyState {
        Stepper::steady(&self.cpu, u)
    }

    fn chem_steps(&mut self, subs: &[SubStep]) {
        let names: Vec<&str> = subs.iter().map(|s| letter(s.which)).collect();
        self.log.push(names.join(" "));
        Stepper::chem_steps(&mut self.cpu, subs);
    }

    fn species_step(&mut self, k: usize, dt: f64, plasma: f64, bath: f64) {
        self.log.push(format!("species {k}"));
        Stepper::species_step(&mut self.cpu, k, dt, plasma, bath);
    }

    fn cell_step(&mut self, dt: f64) {
        self.log.push("cell".into());
        Stepper::cell_step(&mut self.cpu, dt);
    }

    fn solve_steady(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, Self::Error> {
        self.log.push(format!("solve {}", letter(which)));
        Stepper::solve_steady(&mut self.cpu, which, plasma, bath, tolerance)
    }

    fn zero_chemicals(&self) -> [bool; 3] {
        Stepper::zero_chemicals(&self.cpu)
    }

    fn stepped(&mut self, dormant: [bool; 3]) -> Result<(), Self::Error> {
        Stepper::stepped(&mut self.cpu, dormant)
    }
}

/// Grid 19 × 13 × 7, [`busy`] parameters and schedule (both drugs dosed), cell steps at
/// 0.9 × the smallest bound so that any sub-step count is stable. `advance_steps` groups
/// the j-th sub-step of every explicit chemical into one `chem_steps` call (one GPU pass);
/// CXCL12 with uptake joins AMD3100's group only with one sub-step; quasi-steady CXCL12
/// is solved first, AMD3100 and anti-PD-1 after the sub-steps. The groups asked for are
/// checked call by call, and the fields must equal, to the bit, the reference order
/// (every sub-step of C, then of A, then of P, with each quasi-steady solve in its place,
/// then the cell step), since the grouped updates commute.
#[test]
fn coinciding_sub_steps_are_grouped_without_changing_bits() {
    let dims = [19, 13, 7];
    let base = busy(dims);
    let n = base.voxels();
    let mut rng = Rng(11);
    let class: Vec<u8> = (0..n).map(|_| rng.class()).collect();
    let init = |f: &mut Fields| {
        for i in 0..n {
            f.c[i] = rng_at(i);
            f.a[i] = 1e-2 * rng_at(i + n);
            f.p[i] = 10.0 * rng_at(i + 2 * n);
            f.t[i] = 1e4 * rng_at(i + 3 * n);
            f.n[i] = rng_at(i + 4 * n);
        }
    };
    let (_, dosing) = busy_schedule(&base);
    // Uptake, sub-steps, quasi-steady, the calls of one cell step.
    type Case = (bool, [u32; 3], [bool; 3], &'static [&'static str]);
    let cases: [Case; 5] = [
        (
            true,
            [1, 4, 3],
            [false; 3],
            &["C A P", "A P", "A P", "A", "cell"],
        ),
        (
            true,
            [2, 4, 3],
            [false; 3],
            &["C", "C", "A P", "A P", "A P", "A", "cell"],
        ),
        (
            false,
            [2, 4, 3],
            [false; 3],
            &["C A P", "C A P", "A P", "A", "cell"],
        ),
        (
            true,
            [1, 1, 3],
            [false, true, false],
            &["C P", "P", "P", "solve A", "cell"],
        ),
        (
            false,
            [1, 2, 1],
            [true, false, false],
            &["solve C", "A P", "A", "cell"],
        ),
    ];
    for (uptake, substeps, quasi, calls) in cases {
        let what = format!("uptake {uptake}, sub-steps {substeps:?}, quasi-steady {quasi:?}");
        let mut p = base.clone();
        if !uptake {
            p.c_uptake = 0.0;
        }
        let smallest = [&p.cxcl12, &p.amd3100, &p.anti_pd1]
            .iter()
            .map(|c| chem_bound(&p, c))
            .fold(cell_bound(&p), f64::min);
        let cell_dt = 0.9 * smallest;
        let plan = plan(&p, cell_dt, substeps, quasi);
        let seg = Segment {
            t0: 0.0,
            steps: 2,
            dt: cell_dt,
        };
        let tolerance = 1e-4;
        let mut logged = Logged {
            cpu: solver(p.clone(), class.clone(), init),
            log: Vec::new(),
        };
        let mut dormant = [false; 3];
        advance_steps_from(
            &mut logged,
            &seg,
            0,
            &Schedule::new(&plan, &dosing, tolerance),
            &mut dormant,
            &mut |_| {},
        )
        .unwrap();
        // The first cell step; the second asks the same but for solves of levels that
        // have not moved.
        let first = logged.log.iter().position(|c| c == "cell").unwrap();
        assert_eq!(logged.log[..=first], calls[..], "{what}");
        let groups = calls
            .iter()
            .filter(|c| **c != "cell" && !c.starts_with("solve"));
        let grouping = Grouping::of(&plan, uptake);
        assert_eq!(
            grouping.chem_passes(&plan) as usize,
            groups.count(),
            "{what}"
        );

        // The reference order.
        let mut b = solver(p.clone(), class.clone(), init);
        for k in 0..seg.steps {
            let t = k as f64 * cell_dt;
            for (u, which) in CHEMICALS.into_iter().enumerate() {
                let at = |t: f64| levels(&p, &dosing, which, t);
                if quasi[u] {
                    if Stepper::steady(&b, u).is_stale(at(t)) {
                        let (plasma, bath) = at(t);
                        b.solve_steady(which, plasma, bath, tolerance).unwrap();
                    }
                } else {
                    let dt = cell_dt / f64::from(substeps[u]);
                    for j in 0..substeps[u] {
                        let (plasma, bath) = at(t + f64::from(j) * dt);
                        b.chem_step(which, dt, plasma, bath);
                    }
                }
            }
            b.cell_step(cell_dt);
        }
        assert!(max_abs(&b.fields().a) > 0.0, "{what}: AMD3100 never dosed");
        let (got, want) = (logged.cpu.fields().named(), b.fields().named());
        for ((name, g), (_, w)) in got.iter().zip(&want) {
            let differ = g.iter().zip(w.iter()).filter(|(x, y)| x != y).count();
            assert_eq!(differ, 0, "{what}: {name} differs in {differ} voxels");
        }
    }
}
