//! What a sweep will cost: memory of each point (from the grid, as `check` counts it)
//! and time (each point's step counts times a cost per voxel update measured by a
//! short timed probe of one point).

use std::time::Instant;

use crate::error::Result;
use crate::model::{Params, StepPlan};
use crate::run::{self, Overrides, Selected, CPU_BYTES_PER_VOXEL};
use crate::scenario::Loaded;

/// The size and work of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub voxels: u64,
    /// Memory a CPU run holds (fields, scratch, classes and distance), bytes.
    pub cpu_bytes: u64,
    /// Host memory while a run starts (any backend), bytes.
    pub host_bytes: u64,
    /// Device memory a GPU run holds, bytes.
    pub gpu_bytes: u64,
    /// Voxel updates: voxels × cell steps × (1 + explicit chemical sub-steps per step).
    pub updates: f64,
    pub cell_steps: u64,
}

/// The cost of a point's scenario (no tissue is built).
pub fn cost(loaded: &Loaded) -> Result<Cost> {
    let g = &loaded.scenario.grid;
    let voxels = u64::from(g.nx) * u64::from(g.ny) * u64::from(g.nz);
    let params = Params::from_scenario(&loaded.scenario);
    let plan = StepPlan::derive(loaded, &params)?;
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
        cpu_bytes: voxels * CPU_BYTES_PER_VOXEL as u64,
        host_bytes: voxels * run::HOST_BYTES_PER_VOXEL,
        gpu_bytes: crate::gpu::device_bytes(dims, &slabs),
        updates: voxels as f64 * plan.total_cell_steps() as f64 * per_step(&plan),
        cell_steps: plan.total_cell_steps(),
    })
}

/// Grid sweeps per cell step: the cell step and each explicit chemical sub-step.
fn per_step(plan: &StepPlan) -> f64 {
    1.0 + (0..3)
        .filter(|&i| !plan.quasi_steady[i])
        .map(|i| f64::from(plan.substeps[i]))
        .sum::<f64>()
}

/// Times a few cell steps of a point on the selected backend; returns seconds per
/// voxel update (see [`Cost::updates`]). Runs for about `budget_s` at most.
pub fn probe(loaded: Loaded, selected: &Selected, budget_s: f64) -> Result<f64> {
    let prep = run::prepare_loaded(loaded, Overrides::default())?;
    let table = crate::model::initial_per_class(&prep.loaded.scenario, &prep.params);
    let voxels = prep.geometry.class.len() as f64;
    let per = per_step(&prep.plan);
    let tol = prep.loaded.scenario.numerics.quasi_steady_tolerance;
    let mut solver = run::make_solver(
        selected,
        &prep.params,
        &prep.geometry.class,
        crate::gpu::Initial::PerClass(&table),
        Default::default(),
    )?;
    let first = prep
        .plan
        .segments
        .first()
        .copied()
        .unwrap_or(prep.plan.burn_in);
    let mut seg = first;
    seg.steps = first.steps.clamp(1, 4);
    let start = Instant::now();
    let mut steps = 0u64;
    while steps < 4 || start.elapsed().as_secs_f64() < budget_s {
        solver.advance(&seg, &prep.plan, &prep.dosing, tol, &mut |_| {})?;
        // Read back so that a GPU's queued work is included.
        let _ = solver.read_fields()?;
        steps += seg.steps;
        if steps >= first.steps.max(4) * 4 {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(secs / (voxels * steps as f64 * per))
}

/// Seconds as `1 h 05 min`, `3 min 20 s` or `12 s`.
pub fn human_secs(s: f64) -> String {
    if s < 9.95 {
        return format!("{:.1} s", s.max(0.0));
    }
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}
