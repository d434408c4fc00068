//! The CPU solver behind the driver's traits ([`Solver`], [`Resume`]): what the driver
//! asks of any backend, answered from the host fields.

use super::CpuSolver;
use crate::error::Result;
use crate::model::{Field, Fields, Segment};
use crate::probe::{Labels, Sums};
use crate::slicing::Slicing;
use crate::solver::{Resume, Schedule, Solver, SteadyState, Stepper};

impl Resume for CpuSolver {
    fn steady_records(&self) -> [SteadyState; 3] {
        self.steady
    }

    fn set_steady_records(&mut self, steady: [SteadyState; 3]) {
        self.steady = steady;
    }

    fn write_fields(&mut self, fields: &Fields) -> Result<()> {
        let n = self.params().voxels();
        for (name, f) in fields.named() {
            if f.len() != n {
                return Err(crate::error::Error::Other(format!(
                    "field {name} has {} values; the grid has {n} voxels",
                    f.len()
                )));
            }
        }
        *self.fields_mut() = fields.clone();
        Ok(())
    }
}

impl Solver for CpuSolver {
    fn advance(
        &mut self,
        seg: &Segment,
        first: u64,
        schedule: &Schedule,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let Ok(()) = Stepper::advance(self, seg, first, schedule, on_step);
        Ok(())
    }

    fn read_fields(&mut self) -> Result<Fields> {
        Ok(self.fields().clone())
    }

    fn read_field(&mut self, f: Field) -> Result<Vec<f32>> {
        Ok(self.fields().get(f).iter().map(|&x| x as f32).collect())
    }

    fn sums(&mut self, labels: &Labels, bath: [f64; 2]) -> Result<Sums> {
        Ok(Sums::of(
            self.fields(),
            self.class(),
            labels,
            self.params(),
            bath,
        ))
    }

    fn planes(&mut self, at: &Slicing) -> Result<Vec<Vec<f32>>> {
        Ok(crate::slicing::cut_fields(self.fields(), at))
    }

    fn reset_killed(&mut self) -> Result<()> {
        self.fields_mut().k.iter_mut().for_each(|k| *k = 0.0);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads, f64)", rayon::current_num_threads())
    }
}
