//! What a run will cost before it runs (for `infiltrate check`, sweep estimates and
//! the warnings a run starts with): the grid sweeps it takes, counted from the step
//! plan and the dosing schedule, and the time one grid sweep takes on this machine,
//! from a short timed probe.
//!
//! # Counting the work
//!
//! - Cell steps: the plan's, exactly.
//! - Explicit chemical sub-steps: `substeps[u]` per cell step, less those a drug skips
//!   while it is zero everywhere and undosed ([`crate::solver::advance_steps_from`] skips
//!   them on both backends): every sub-step that starts before the drug's first dose.
//!   So an untreated arm costs less than a treated one, as it runs.
//! - Quasi-steady chemicals: the settings (one grid sweep each) are counted exactly,
//!   by walking the cell steps and applying the solver's own staleness test
//!   ([`SteadyState::is_stale`]) to the dosing levels. The response solves are
//!   estimated: one per source pattern the run uses ([`crate::steady::patterns`]), each
//!   [`crate::steady::expected_iterations`] conjugate-gradient iterations of
//!   [`crate::steady::SWEEPS_PER_ITERATION`] sweeps. `λ_min`, the slowest rate of the
//!   chemical's operator (its relaxation time is `1/λ_min`: `check` holds it against the
//!   levels' decay time), is estimated as `D_h k² + ⟨λ + κ⟩`: `D_h` the harmonic mean of
//!   the diffusivity over the voxels, `k² = Σ (π / L)²` over axes with bath faces at
//!   both ends (`(π / 2L)²` with one), and `⟨λ + κ⟩` the mean decay and exchange over
//!   the voxels (the settings and iterations are tested against the solver's own counts
//!   in `tests/check.rs`).

use std::time::Instant;

use crate::dosing::{Bolus, Dosing};
use crate::error::{Error, Result};
use crate::model::{ChemParams, Params, Segment, StepPlan, CHEMICALS, N_CLASSES};
use crate::run::{make_solver, Prepared, Selected};
use crate::scenario::Chemical;
use crate::solver::{dormant, levels, SteadyState};

/// Cell steps walked one by one to count quasi-steady solves; beyond, the count is
/// extrapolated in proportion.
const WALKED: u64 = 2_000_000;

/// The work of one run, in grid sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    pub voxels: u64,
    pub cell_steps: u64,
    /// Per chemical (C, A, P).
    pub chem: [ChemWork; 3],
    /// Sub-steps of each species the scenario adds (all explicit, none skipped).
    pub species: Vec<u64>,
}

/// The sweeps of one chemical over a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChemWork {
    /// Explicit sub-steps taken (0 for a quasi-steady chemical).
    pub substeps: u64,
    /// Explicit sub-steps it would take, were it stepped explicitly (dormancy counted).
    pub explicit: u64,
    /// For a quasi-steady chemical, what its solves cost.
    pub steady: Option<SteadyCost>,
}

/// The estimated cost of a quasi-steady chemical's solves over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadyCost {
    /// Times the field is set for new levels (counted exactly, or extrapolated beyond
    /// `WALKED` cell steps): one grid sweep each.
    pub solves: u64,
    /// Grid sweeps in all: the response solves (estimated) and the settings.
    pub sweeps: f64,
    /// λ_min, the slowest rate of the chemical's operator, 1/min (estimated; 0: no
    /// sink, so no steady state).
    pub slowest_rate: f64,
    /// The solves counted over part of the run and scaled to the whole.
    pub extrapolated: bool,
}

impl ChemWork {
    /// Grid sweeps of this chemical: its sub-steps, or its solves' iterations.
    pub fn sweeps(&self) -> f64 {
        self.steady.map_or(self.substeps as f64, |s| s.sweeps)
    }

    /// Quasi-steady cost over the cost of stepping explicitly (> 1: slower).
    pub fn steady_ratio(&self) -> Option<f64> {
        self.steady
            .map(|s| s.sweeps / (self.explicit.max(1) as f64))
    }
}

impl Work {
    /// The work of a prepared run; `fractions`: the share of voxels of each tissue
    /// class (for the slowest rate of a quasi-steady chemical; without it the slowest
    /// class is assumed everywhere, which overestimates the iterations).
    pub fn of(
        plan: &StepPlan,
        params: &Params,
        dosing: &Dosing,
        tolerance: f64,
        fractions: Option<[f64; N_CLASSES]>,
    ) -> Work {
        let voxels = params.voxels() as u64;
        let sleeping = dormant(params, [false, true, true]);
        let chem = std::array::from_fn(|u| {
            let which = CHEMICALS[u];
            let first = if sleeping[u] {
                first_dose(dosing, which)
            } else {
                Some(f64::NEG_INFINITY)
            };
            let explicit = active_substeps(plan, plan.substeps_of(u), first);
            if plan.quasi_steady[u] {
                let rate = slowest_rate(params, params.chem(which), fractions);
                ChemWork {
                    substeps: 0,
                    explicit,
                    steady: Some(steady_cost(plan, params, dosing, which, tolerance, rate)),
                }
            } else {
                ChemWork {
                    substeps: explicit,
                    explicit,
                    steady: None,
                }
            }
        });
        Work {
            voxels,
            cell_steps: plan.total_cell_steps(),
            chem,
            species: (0..params.species.len())
                .map(|k| plan.total_species_substeps(k))
                .collect(),
        }
    }

    /// The work as judged before the tissue is built: a quasi-steady chemical counted as
    /// the sub-steps of stepping it explicitly (its iterations need the tissue's class
    /// shares to be estimated).
    pub fn before_tissue(
        plan: &StepPlan,
        params: &Params,
        dosing: &Dosing,
        tolerance: f64,
    ) -> Work {
        let mut work = Work::of(plan, params, dosing, tolerance, None);
        for w in &mut work.chem {
            if let Some(st) = w.steady.as_mut() {
                st.sweeps = w.explicit as f64;
            }
        }
        work
    }

    /// Chemical grid sweeps in all (explicit sub-steps and quasi-steady iterations, the
    /// species' sub-steps).
    pub fn chem_sweeps(&self) -> f64 {
        self.chem.iter().map(ChemWork::sweeps).sum::<f64>()
            + self.species.iter().map(|&n| n as f64).sum::<f64>()
    }

    /// Grid sweeps: cell steps and chemical sweeps.
    pub fn sweeps(&self) -> f64 {
        self.cell_steps as f64 + self.chem_sweeps()
    }

    /// Voxel updates: voxels × (cell steps + chemical sweeps).
    pub fn updates(&self) -> f64 {
        self.voxels as f64 * (self.cell_steps as f64 + self.chem_sweeps())
    }

    /// Seconds on a backend whose unit costs are `unit`.
    pub fn seconds(&self, unit: &UnitCost) -> f64 {
        self.voxels as f64
            * (self.cell_steps as f64 * unit.cell_s + self.chem_sweeps() * unit.chem_s)
    }
}

/// The time of the first dose of a drug with a level that is not 0 (either route).
fn first_dose(dosing: &Dosing, which: Chemical) -> Option<f64> {
    let drug = match which {
        Chemical::Cxcl12 => return None,
        Chemical::Amd3100 => 0,
        Chemical::AntiPd1 => 1,
    };
    dosing.boluses[drug]
        .iter()
        .flatten()
        .filter(|b| b.peak != 0.0)
        .map(|b| b.t0)
        .reduce(f64::min)
}

/// Sub-steps of `n` per cell step over the run that start at or after `from` (min;
/// `None`: never): the earlier ones are skipped by a dormant drug.
fn active_substeps(plan: &StepPlan, n: u32, from: Option<f64>) -> u64 {
    let Some(from) = from else { return 0 };
    let n = u64::from(n);
    std::iter::once(&plan.burn_in)
        .chain(&plan.segments)
        .map(|seg| {
            let all = seg.steps.saturating_mul(n);
            if seg.steps == 0 || from <= seg.t0 {
                return all;
            }
            let sub = seg.dt / n as f64;
            let before = ((from - seg.t0) / sub).ceil();
            all - (before.min(all as f64) as u64)
        })
        .fold(0u64, u64::saturating_add)
}

/// λ_min of a chemical's operator, 1/min (module docs).
pub fn slowest_rate(
    params: &Params,
    chem: &ChemParams,
    fractions: Option<[f64; N_CLASSES]>,
) -> f64 {
    let k2: f64 = (0..3)
        .map(|axis| {
            let l = params.dims[axis] as f64 * params.h;
            let ends = usize::from(params.bath_faces[2 * axis])
                + usize::from(params.bath_faces[2 * axis + 1]);
            match ends {
                2 => (std::f64::consts::PI / l).powi(2),
                1 => (std::f64::consts::PI / (2.0 * l)).powi(2),
                _ => 0.0,
            }
        })
        .sum();
    let sink = |k: usize| chem.decay[k] + chem.exchange[k];
    match fractions {
        Some(f) => {
            let open: f64 = (0..N_CLASSES)
                .filter(|&k| chem.diffusion[k] > 0.0)
                .map(|k| f[k])
                .sum();
            let resistance: f64 = (0..N_CLASSES)
                .filter(|&k| chem.diffusion[k] > 0.0)
                .map(|k| f[k] / chem.diffusion[k])
                .sum();
            let d_h = if resistance > 0.0 {
                open / resistance
            } else {
                0.0
            };
            d_h * k2 + (0..N_CLASSES).map(|k| f[k] * sink(k)).sum::<f64>()
        }
        None => {
            let d_min = chem
                .diffusion
                .iter()
                .cloned()
                .filter(|&d| d > 0.0)
                .fold(f64::INFINITY, f64::min);
            let d_min = if d_min.is_finite() { d_min } else { 0.0 };
            d_min * k2 + (0..N_CLASSES).map(sink).fold(f64::INFINITY, f64::min)
        }
    }
}

/// Counts the times a quasi-steady chemical is set, by the solver's own staleness test,
/// and adds the sweeps of its response solves (module docs).
fn steady_cost(
    plan: &StepPlan,
    params: &Params,
    dosing: &Dosing,
    which: Chemical,
    tolerance: f64,
    rate: f64,
) -> SteadyCost {
    let mut state = SteadyState::default();
    let mut solves = 0u64;
    let mut walked = 0u64;
    let total = plan.total_cell_steps();
    'walk: for seg in std::iter::once(&plan.burn_in).chain(&plan.segments) {
        for k in 1..=seg.steps {
            if walked == WALKED {
                break 'walk;
            }
            walked += 1;
            let t = seg.t0 + (k - 1) as f64 * seg.dt;
            let now = levels(params, dosing, which, t);
            if state.is_stale(now) {
                state.record(now, 0);
                solves += 1;
            }
        }
    }
    let extrapolated = walked < total;
    let scale = if extrapolated {
        total as f64 / walked.max(1) as f64
    } else {
        1.0
    };
    let solves = (solves as f64 * scale).round() as u64;
    let routes = match dosing.routes(which) {
        None => (false, params.c_bath != 0.0),
        Some([plasma, bath]) => {
            let dosed = |b: &[Bolus]| b.iter().any(|b| b.peak != 0.0);
            (dosed(plasma), dosed(bath))
        }
    };
    let patterns = crate::steady::patterns(params, params.chem(which), routes);
    let responses = patterns as f64
        * crate::steady::expected_iterations(params.dims, tolerance)
        * crate::steady::SWEEPS_PER_ITERATION;
    SteadyCost {
        solves,
        sweeps: responses + solves as f64,
        slowest_rate: rate,
        extrapolated,
    }
}

/// Seconds per voxel of a cell step and of one chemical sub-step on a backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitCost {
    pub cell_s: f64,
    pub chem_s: f64,
}

/// Voxels of the probe's grid at most (a corner of the run's grid): the cost per voxel
/// hardly depends on the size beyond it, and a large grid is not allocated to time it.
pub const PROBE_VOXELS_CPU: usize = 64 * 64 * 64;
/// The GPU's probe grid is larger: small grids are bound by dispatches, not voxels.
pub const PROBE_VOXELS_GPU: usize = 128 * 128 * 128;

/// Times cell steps with one and with four sub-steps of each chemical on a corner of the
/// run's grid, on the selected backend, for about `budget_s` seconds, and splits the
/// time into the cost of a cell step and of a chemical sub-step per voxel.
pub fn probe(prep: &Prepared, selected: &Selected, budget_s: f64) -> Result<UnitCost> {
    let most = if selected.adapter.is_some() {
        PROBE_VOXELS_GPU
    } else {
        PROBE_VOXELS_CPU
    };
    let (params, class) = corner(&prep.params, &prep.geometry.class, most);
    let table = crate::model::initial_per_class(&prep.loaded.scenario, &params);
    let mut solver = make_solver(
        selected,
        &params,
        &class,
        crate::gpu::Initial::PerClass(&table),
        Default::default(),
    )?;
    // Every drug dosed throughout, so that no sub-step is skipped; a step short enough
    // for every chemical and the cells.
    let mut dosing = Dosing::default();
    for drug in &mut dosing.boluses {
        for route in drug {
            route.push(Bolus {
                t0: f64::MIN,
                peak: 1.0,
                rate: 0.0,
            });
        }
    }
    let p = &prep.plan;
    let dt = p.chem_dt.iter().cloned().fold(p.cell_dt, f64::min);
    let mut time = |subs: u32, steps: u64| -> Result<f64> {
        let mut plan = p.clone();
        plan.substeps = [subs; 3];
        plan.quasi_steady = [false; 3];
        let seg = Segment { t0: 0.0, steps, dt };
        let start = Instant::now();
        let schedule = crate::solver::Schedule::new(&plan, &dosing, 1e-4);
        solver.advance(&seg, 0, &schedule, &mut |_| {})?;
        // A read-back, so that a GPU's queued work is included.
        solver.read_field(crate::model::Field::TCells)?;
        Ok(start.elapsed().as_secs_f64())
    };
    time(1, 1)?; // warm-up: pipelines, caches
    let once = time(1, 1)?.max(1e-6);
    let steps = ((budget_s / 2.0 / (once * 2.0)).floor() as u64).clamp(2, 400);
    let one = time(1, steps)? / steps as f64;
    let four = time(4, steps)? / steps as f64;
    let voxels = class.len() as f64;
    // one = cell + 3 chem, four = cell + 12 chem (per cell step).
    let chem = ((four - one) / 9.0).max(0.02 * one);
    let cell = (one - 3.0 * chem).max(0.1 * one);
    if !(cell.is_finite() && chem.is_finite()) {
        return Err(Error::Other("the timed probe measured no time".into()));
    }
    Ok(UnitCost {
        cell_s: cell / voxels,
        chem_s: chem / voxels,
    })
}

/// A corner of the grid with at most `most` voxels (whole x-rows where they fit), and
/// the parameters for it.
fn corner(params: &Params, class: &[u8], most: usize) -> (Params, Vec<u8>) {
    let [nx, ny, nz] = params.dims;
    let mut d = [nx, ny, nz];
    // Halve the longest axis until it fits.
    let too_big = |d: &[usize; 3]| {
        d.iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .is_none_or(|n| n > most)
    };
    while too_big(&d) {
        let i = (0..3).max_by_key(|&i| d[i]).unwrap_or(0);
        d[i] = d[i].div_ceil(2);
    }
    let mut out = Vec::with_capacity(d.iter().product());
    for z in 0..d[2] {
        for y in 0..d[1] {
            let row = nx * (y + ny * z);
            out.extend_from_slice(&class[row..row + d[0]]);
        }
    }
    let mut p = params.clone();
    p.dims = d;
    (p, out)
}
