//! The seam between the driver and a backend: what `run` asks of any solver. The CPU
//! reference and the GPU solver are twins behind it; the driver never sees their
//! buffers.

use crate::cpu::CpuSolver;
use crate::dosing::Dosing;
use crate::error::Result;
use crate::model::{Fields, Params, Segment, StepPlan};
use crate::scenario::Chemical;

pub trait Solver {
    /// `seg.steps` cell steps of `seg.dt` from `seg.t0`, each preceded by the
    /// chemicals' sub-steps (or quasi-steady solves) of `plan`; `on_step(k)` after cell
    /// step k of the segment (1-based), for progress.
    fn advance(
        &mut self,
        seg: &Segment,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<()>;

    /// A host copy of every field, in f64 (a read-back on the GPU).
    fn read_fields(&mut self) -> Result<Fields>;

    /// Sets the cumulative kill K to 0 everywhere (at the start of dosing).
    fn reset_killed(&mut self) -> Result<()>;

    /// The backend in words, for logs and summaries (e.g. `cpu (2 threads)`).
    fn describe(&self) -> String;
}

impl Solver for CpuSolver {
    fn advance(
        &mut self,
        seg: &Segment,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<()> {
        CpuSolver::advance(self, seg, plan, dosing, tolerance, on_step);
        Ok(())
    }

    fn read_fields(&mut self) -> Result<Fields> {
        Ok(self.fields().clone())
    }

    fn reset_killed(&mut self) -> Result<()> {
        self.fields_mut().k.iter_mut().for_each(|k| *k = 0.0);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads, f64)", rayon::current_num_threads())
    }
}

/// The (plasma, bath) levels a chemical sees at time `t` (min): the dosing schedule's
/// for the drugs, (0, `params.c_bath`) for CXCL12. Both backends take levels here.
pub fn levels(params: &Params, dosing: &Dosing, which: Chemical, t: f64) -> (f64, f64) {
    match which {
        Chemical::Cxcl12 => (0.0, params.c_bath),
        _ => dosing.levels(which, t),
    }
}

/// What the quasi-steady machinery of either backend remembers of one chemical.
#[derive(Debug, Clone, Copy, Default)]
pub struct SteadyState {
    /// The (plasma, bath) levels of the last solve.
    pub solved_for: Option<(f64, f64)>,
    /// Convergence factor per iteration seen in earlier solves, with the step it was
    /// seen at.
    pub rate: Option<(f64, f64)>,
    pub solves: u64,
    pub iterations: u64,
}

impl SteadyState {
    /// Whether the chemical must be solved again for the levels `now`: never solved
    /// yet, sources that follow T (`follows_t`), or either level moved by more than
    /// `tolerance` relative to the larger of old and new (never when both are 0).
    pub fn is_stale(&self, now: (f64, f64), follows_t: bool, tolerance: f64) -> bool {
        let changed = |old: f64, new: f64| {
            let m = old.abs().max(new.abs());
            m > 0.0 && (new - old).abs() > tolerance * m
        };
        match self.solved_for {
            None => true,
            Some(old) => follows_t || changed(old.0, now.0) || changed(old.1, now.1),
        }
    }

    /// Records a finished solve at step `dt` for `levels`, with the per-iteration
    /// convergence factor it measured (if any).
    pub fn record(&mut self, dt: f64, rate: Option<f64>, levels: (f64, f64), iterations: u64) {
        if let Some(r) = rate {
            self.rate = Some((dt, r));
        }
        self.solved_for = Some(levels);
        self.solves += 1;
        self.iterations += iterations;
    }
}
