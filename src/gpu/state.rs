//! Checkpoint and resume on the GPU: replacing the fields on the device, the
//! quasi-steady records, and stepping part of a segment ([`crate::solver::Resume`]).
//! Kept apart from `mod.rs`; it uses the solver's buffers and batching as they are.

use super::{padded_nx, GpuError, GpuSolver, T};
use crate::dosing::Dosing;
use crate::model::{Fields, Segment, StepPlan};
use crate::solver::{advance_steps_from, Resume, SteadyState};

impl GpuSolver {
    /// Replaces every field on the device after what is pending: rounded to f32 (exact
    /// for values read back from the device) into the current buffer of each, padding 0.
    ///
    /// # Errors
    /// A field without `nx·ny·nz` values.
    pub fn write_fields(&mut self, fields: &Fields) -> Result<(), GpuError> {
        self.flush();
        let [nx, ny, nz] = self.params.dims;
        let n = nx * ny * nz;
        if let Some((name, f)) = fields.named().into_iter().find(|(_, f)| f.len() != n) {
            return Err(self.device_error(format!(
                "field {name} has {} values; the grid has {n} voxels",
                f.len()
            )));
        }
        let nxp = padded_nx(nx);
        let mut padded = vec![0.0f32; self.padded];
        let b = &self.buffers;
        let targets = [
            &b.chem[0][self.cur[0]],
            &b.chem[1][self.cur[1]],
            &b.chem[2][self.cur[2]],
            &b.t[self.cur[T]],
            &b.n,
            &b.k,
        ];
        for ((_, src), dst) in fields.named().into_iter().zip(targets) {
            for (row, src) in src.chunks(nx).enumerate() {
                for (d, s) in padded[row * nxp..row * nxp + nx].iter_mut().zip(src) {
                    *d = *s as f32;
                }
            }
            self.queue
                .write_buffer(dst, 0, bytemuck::cast_slice(&padded));
        }
        // The writes take effect before the next submission, in queue order.
        self.queue.submit([]);
        Ok(())
    }

    /// As [`GpuSolver::advance`], for cell steps `first + 1 ..= seg.steps` only, at the
    /// times of the whole segment.
    pub fn advance_from(
        &mut self,
        seg: &Segment,
        first: u64,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<(), GpuError> {
        advance_steps_from(
            self, seg, first, plan, dosing, tolerance, [false; 3], on_step,
        )?;
        self.flush();
        Ok(())
    }
}

impl Resume for GpuSolver {
    fn steady_records(&self) -> [SteadyState; 3] {
        self.steady
    }

    fn set_steady_records(&mut self, steady: [SteadyState; 3]) {
        self.steady = steady;
    }

    fn write_fields(&mut self, fields: &Fields) -> crate::Result<()> {
        Ok(GpuSolver::write_fields(self, fields)?)
    }

    fn advance_from(
        &mut self,
        seg: &Segment,
        first: u64,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> crate::Result<()> {
        Ok(GpuSolver::advance_from(
            self, seg, first, plan, dosing, tolerance, on_step,
        )?)
    }
}
