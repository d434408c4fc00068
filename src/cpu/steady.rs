//! Quasi-steady chemicals: iterating the explicit sub-step to its fixed point, and
//! knowing when to stop.
//!
//! # Convergence criterion
//!
//! The iteration `u ← u + Δt R(u)` is linear for the drugs (and nearly so for CXCL12),
//! and its operator is symmetric (equal voxel volumes, symmetric face conductances), so
//! the error `e = u − u*` decays mode by mode, the slowest by a factor `ρ < 1` per
//! iteration. With a tiny `Δt`, `1 − ρ` is tiny too, and a small change per iteration
//! says little: the remaining error is about the change divided by `1 − ρ`.
//!
//! So the solver iterates in blocks of [`BLOCK`] (even, so that oscillating modes do
//! not alternate in sign between blocks) iterations, and after each block measures
//! `d_k = max |u_k − u_{k−1}|` (the change over the block) and `M = max |u|`. The
//! ratio `r_k = d_k / d_{k−1}` estimates `ρ^BLOCK`; the changes of all later blocks
//! then sum to about `d_k r/(1 − r)`, which is the remaining error. It stops when
//!
//! `d_k · r/(1 − r) ≤ tolerance · M`, with `r = max(r_k, r_{k−1}, r_earlier)`,
//!
//! where `r_earlier` is the largest block factor seen in earlier solves of the same
//! chemical at the same step (the operator does not depend on the levels). Taking the
//! largest guards against the early ratios, which the fast modes make smaller than
//! `ρ^BLOCK`. A solve with no earlier factor needs two measured ratios (three blocks)
//! before it may stop; with one, a single block suffices (a warm re-solve after a small
//! change of levels). It also stops when `d_k ≤ 10⁻¹⁴ M` (round-off: no further
//! progress is possible) or after [`MAX_ITERATIONS`] (no steady state: a source with
//! no sink). Ratios are trusted only when `d_{k−1} > 10⁻¹² M`.

use super::CpuSolver;
use crate::model::chem_index;
use crate::model::Fields;
use crate::scenario::Chemical;
use crate::solver::Stepper;
use rayon::prelude::*;

pub use crate::solver::{BLOCK, MAX_ITERATIONS};
/// Relative change per block below which the field is steady to round-off.
const ROUND_OFF: f64 = 1e-14;
/// Relative change per block above which a ratio of changes is trusted.
const TRUSTED: f64 = 1e-12;

impl CpuSolver {
    /// Iterates `chem_step` at `dt` until steady for the given levels (criterion in the
    /// module docs); returns the number of iterations. [`Stepper::solve_steady`] of the
    /// CPU solver.
    pub(super) fn steady_solve(
        &mut self,
        which: Chemical,
        dt: f64,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> u64 {
        let u = chem_index(which);
        let earlier = self.steady[u].rate_at(dt).map(|rho| rho.powi(BLOCK as i32));
        let mut ratios: [Option<f64>; 2] = [None, None];
        let mut last_d: Option<f64> = None;
        let mut iterations = 0;
        loop {
            self.mark(which);
            for _ in 0..BLOCK {
                self.chem_step(which, dt, plasma, bath);
            }
            iterations += BLOCK;
            let (d, m) = self.block_change(which);
            if !(d.is_finite() && m.is_finite()) || d <= ROUND_OFF * m {
                break;
            }
            if let Some(prev) = last_d {
                if prev > TRUSTED * m {
                    ratios = [Some(d / prev), ratios[0]];
                }
            }
            last_d = Some(d);
            let r = match (ratios, earlier) {
                ([Some(a), Some(b)], e) => Some(a.max(b).max(e.unwrap_or(0.0))),
                ([a, None], Some(e)) => Some(a.unwrap_or(0.0).max(e)),
                _ => None,
            };
            if let Some(r) = r {
                if r < 1.0 && d * r / (1.0 - r) <= tolerance * m {
                    break;
                }
            }
            if iterations >= MAX_ITERATIONS {
                break;
            }
        }
        let seen = ratios
            .iter()
            .flatten()
            .chain(earlier.iter())
            .cloned()
            .filter(|r| *r > 0.0 && *r < 1.0)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        let per_iteration = seen.map(|r| r.powf(1.0 / BLOCK as f64));
        self.steady[u].record(dt, per_iteration, (plasma, bath), iterations);
        iterations
    }

    /// Copies the chemical into the mark buffer (`s`, free outside the cell step).
    fn mark(&mut self, which: Chemical) {
        let plane = self.grid.plane();
        let u = field_of(&self.fields, which);
        if self.parallel {
            let planes = self.s.par_chunks_mut(plane).zip(u.par_chunks(plane));
            planes.for_each(|(m, u)| m.copy_from_slice(u));
        } else {
            self.s.copy_from_slice(u);
        }
    }

    /// `(max |u − mark|, max |u|)`: maxima per z-plane, folded in plane order.
    fn block_change(&mut self, which: Chemical) -> (f64, f64) {
        let plane = self.grid.plane();
        let u = field_of(&self.fields, which);
        if self.parallel {
            let planes = u.par_chunks(plane).zip(self.s.par_chunks(plane));
            let out = self.plane_max.par_iter_mut().zip(planes);
            out.for_each(|(out, (u, m))| *out = plane_change(u, m));
        } else {
            let planes = u.chunks(plane).zip(self.s.chunks(plane));
            let out = self.plane_max.iter_mut().zip(planes);
            out.for_each(|(out, (u, m))| *out = plane_change(u, m));
        }
        self.plane_max
            .iter()
            .fold((0.0_f64, 0.0_f64), |(d, m), &(pd, pm)| {
                (if pd.is_nan() { pd } else { d.max(pd) }, m.max(pm))
            })
    }
}

/// The field of a chemical.
fn field_of(f: &Fields, which: Chemical) -> &[f64] {
    match which {
        Chemical::Cxcl12 => &f.c,
        Chemical::Amd3100 => &f.a,
        Chemical::AntiPd1 => &f.p,
    }
}

/// `(max |u − m|, max |u|)` over one z-plane: every voxel of the plane (NaN if u has one).
fn plane_change(u: &[f64], m: &[f64]) -> (f64, f64) {
    let mut d = 0.0_f64;
    let mut big = 0.0_f64;
    let mut nan = false;
    for (a, b) in u.iter().zip(m) {
        d = d.max((a - b).abs());
        big = big.max(a.abs());
        nan |= a.is_nan();
    }
    (if nan { f64::NAN } else { d }, big)
}
