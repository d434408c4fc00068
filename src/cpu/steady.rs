//! Quasi-steady chemicals on the CPU: the unit responses ([`crate::steady`]), each
//! solved in f64 at the first call whose levels need it, combined with the levels at
//! every call.

use super::CpuSolver;
use crate::model::chem_index;
use crate::scenario::Chemical;

impl CpuSolver {
    /// Sets the chemical to its steady state for the levels; returns the
    /// conjugate-gradient iterations this call took. [`crate::solver::Stepper::solve_steady`]
    /// of the CPU solver.
    pub(super) fn steady_solve(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> u64 {
        let u = chem_index(which);
        let r = &mut self.responses[u];
        let p = &self.params;
        let iterations = r.ensure(p, p.chem(which), &self.class, tolerance, (plasma, bath));
        let r = &self.responses[u];
        let field = match which {
            Chemical::Cxcl12 => &mut self.fields.c,
            Chemical::Amd3100 => &mut self.fields.a,
            Chemical::AntiPd1 => &mut self.fields.p,
        };
        r.combine(plasma, bath, field);
        self.steady[u].record((plasma, bath), iterations);
        iterations
    }
}
