//! When a quasi-steady solve on the GPU stops: the CPU's block-extrapolation criterion
//! (see `cpu::steady`), applied to the maxima the `block_change` kernel reads back once
//! per block, with round-off thresholds for f32.
//!
//! f32 changes the floor, not the criterion. An explicit iteration stalls once a voxel's
//! update `Δt R(u)` is below half an ulp of `u`, so a block of [`BLOCK`] iterations
//! resolves changes down to about `BLOCK · ε₃₂ · max|u|` ([`ROUND_OFF`], one ulp per
//! iteration) and no further; the solve stops there as the CPU's stops at its 10⁻¹⁴.
//! Ratios of block changes are trusted only above [`TRUSTED`] (8× the floor), where
//! round-off does not dominate them. The error this leaves is about
//! `ε₃₂ · max|u| / (1 − ρ)` (ρ the slowest mode's factor per iteration): when that is
//! above the requested tolerance, f32 cannot meet the tolerance at this step.

pub use crate::solver::{BLOCK, MAX_ITERATIONS};

/// Relative change per block at which the f32 field is steady to round-off.
pub const ROUND_OFF: f64 = BLOCK as f64 * f32::EPSILON as f64;
/// Relative change per block above which a ratio of changes is trusted.
pub const TRUSTED: f64 = 8.0 * ROUND_OFF;

/// The state of one solve's convergence test, block by block.
#[derive(Debug, Clone)]
pub struct Convergence {
    tolerance: f64,
    /// The largest block factor seen in earlier solves at the same step.
    earlier: Option<f64>,
    ratios: [Option<f64>; 2],
    last_d: Option<f64>,
    pub iterations: u64,
}

impl Convergence {
    /// `rate`: the per-iteration factor `ρ` remembered from earlier solves at this step.
    pub fn new(tolerance: f64, rate: Option<f64>) -> Self {
        Convergence {
            tolerance,
            earlier: rate.map(|rho| rho.powi(BLOCK as i32)),
            ratios: [None, None],
            last_d: None,
            iterations: 0,
        }
    }

    /// After a block with change `d` = max |u − u_mark| and `m` = max |u|: whether to
    /// stop.
    pub fn done(&mut self, d: f64, m: f64) -> bool {
        self.iterations += BLOCK;
        if !(d.is_finite() && m.is_finite()) || d <= ROUND_OFF * m {
            return true;
        }
        if let Some(prev) = self.last_d {
            if prev > TRUSTED * m {
                self.ratios = [Some(d / prev), self.ratios[0]];
            }
        }
        self.last_d = Some(d);
        let r = match (self.ratios, self.earlier) {
            ([Some(a), Some(b)], e) => Some(a.max(b).max(e.unwrap_or(0.0))),
            ([a, None], Some(e)) => Some(a.unwrap_or(0.0).max(e)),
            _ => None,
        };
        if let Some(r) = r {
            if r < 1.0 && d * r / (1.0 - r) <= self.tolerance * m {
                return true;
            }
        }
        self.iterations >= MAX_ITERATIONS
    }

    /// The per-iteration factor to remember for later solves at this step (the largest
    /// block factor seen, as the CPU keeps it).
    pub fn rate(&self) -> Option<f64> {
        self.ratios
            .iter()
            .flatten()
            .chain(self.earlier.iter())
            .cloned()
            .filter(|r| *r > 0.0 && *r < 1.0)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            })
            .map(|r| r.powf(1.0 / BLOCK as f64))
    }
}
