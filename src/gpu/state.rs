//! Checkpoint and resume on the GPU: replacing the fields on the device, the
//! quasi-steady records, and stepping part of a segment ([`crate::solver::Resume`]).
//! Kept apart from `mod.rs`; it uses the solver's buffers and batching as they are.

use super::{slab_values, GpuError, GpuSolver};
use crate::model::Fields;
use crate::solver::{Resume, SteadyState};

impl GpuSolver {
    /// Replaces every field on the device after what is pending: rounded to f32 (exact
    /// for values read back from the device) into the current buffer of each slab, halo
    /// planes included, padding 0.
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
        if fields.species.len() != self.params.species.len() {
            return Err(self.device_error(format!(
                "{} species fields given; the run has {} species",
                fields.species.len(),
                self.params.species.len()
            )));
        }
        for (slab, b) in self.slabs.iter().zip(&self.buffers) {
            for (k, f) in self.params.field_list().into_iter().enumerate() {
                // Every voxel's values are given: the classes are not consulted.
                let values = slab_values(
                    self.params.dims,
                    slab,
                    &[],
                    super::Initial::Fields(fields),
                    k,
                );
                self.queue
                    .write_buffer(b.current(f, &self.cur), 0, bytemuck::cast_slice(&values));
            }
        }
        self.zero = super::zero_chemicals(super::Initial::Fields(fields));
        // The writes take effect before the next submission, in queue order.
        self.queue.submit([]);
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
}
