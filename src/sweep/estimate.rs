//! What a sweep will cost: memory of each point (from the grid, as `check` counts it)
//! and time (each point's work, counted as `check` counts it: [`crate::run::estimate`],
//! times the unit costs a short timed probe of one point measured).

use crate::dosing::Dosing;
use crate::error::Result;
use crate::model::{Params, StepPlan};
use crate::run::estimate::{UnitCost, Work};
use crate::run::{self, Overrides, Selected, CPU_BYTES_PER_VOXEL};
use crate::scenario::Loaded;

/// The size and work of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub voxels: u64,
    /// Memory a CPU run holds (fields, scratch, classes and distance), bytes.
    pub cpu_bytes: u64,
    /// Host memory while a run starts (any backend), bytes.
    pub host_bytes: u64,
    /// Device memory a GPU run holds, bytes.
    pub gpu_bytes: u64,
    /// Cell steps and chemical sweeps, undosed drugs' skipped sub-steps left out.
    pub work: Work,
    pub cell_steps: u64,
}

impl Cost {
    /// Seconds on a backend with these unit costs.
    pub fn seconds(&self, unit: &UnitCost) -> f64 {
        self.work.seconds(unit)
    }
}

/// The cost of a point's scenario (no tissue is built, so a quasi-steady chemical's
/// iterations are estimated with its slowest tissue class everywhere).
pub fn cost(loaded: &Loaded) -> Result<Cost> {
    let g = &loaded.scenario.grid;
    let voxels = u64::from(g.nx) * u64::from(g.ny) * u64::from(g.nz);
    let params = Params::from_scenario(&loaded.scenario);
    let plan = StepPlan::derive(loaded, &params)?;
    let dosing = Dosing::from_scenario(&loaded.scenario);
    let tolerance = loaded.scenario.numerics.quasi_steady_tolerance;
    // Device memory as the GPU solver allocates it, in as few z-slabs as fit the
    // reference binding (one slab unless a plane is huge).
    let dims = [g.nx as usize, g.ny as usize, g.nz as usize];
    let slabs = crate::gpu::reference_slabs(dims).unwrap_or_else(|_| {
        vec![crate::gpu::Slab {
            z0: 0,
            planes: dims[2],
        }]
    });
    Ok(Cost {
        voxels,
        // One more f64 per voxel and species on the CPU; two f32 buffers on the GPU.
        cpu_bytes: voxels * (CPU_BYTES_PER_VOXEL + 8 * params.species.len()) as u64,
        host_bytes: voxels * run::HOST_BYTES_PER_VOXEL,
        gpu_bytes: crate::gpu::device_bytes_for(dims, &slabs, params.species.len()),
        work: Work::of(&plan, &params, &dosing, tolerance, None),
        cell_steps: plan.total_cell_steps(),
    })
}

/// Times a point on the selected backend ([`crate::run::estimate::probe`]) for about
/// `budget_s`.
pub fn probe(loaded: Loaded, selected: &Selected, budget_s: f64) -> Result<UnitCost> {
    let prep = run::prepare_loaded(loaded, Overrides::default())?;
    crate::run::estimate::probe(&prep, selected, budget_s)
}
