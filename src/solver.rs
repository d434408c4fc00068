//! The seam between the driver and a backend: what `run` asks of any solver. The CPU
//! reference and the GPU solver are twins behind it; the driver never sees their
//! buffers.

use crate::cpu::CpuSolver;
use crate::dosing::Dosing;
use crate::error::Result;
use crate::model::{Fields, Segment, StepPlan};

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
