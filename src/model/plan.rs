//! Time steps derived from the stability bounds of the model (docs/model.md), and the
//! schedule of cell steps between snapshots.
//!
//! Chemical `u` (explicit, positivity-preserving): per voxel the coefficient of `u_i`
//! after a step is `1 − Δt (Σ_faces g_f D_f / h² + λ + κ)`, with `g_f = 1` between
//! voxels and `g_f = 2` at a bath face (conductance `2D/h`, half a voxel away). The
//! bound takes the largest D, λ and κ over the tissue classes and the largest face sum
//! any voxel of the grid has; with uniform D and no reactions it is the model's
//! `h²/(6D)` (`h²/(7D)` beside one bath face).
//!
//! Cells: `Δt ≤ h² / (6 μ_max + χ G) ` with the worst case `G = 6`, plus the T-cell
//! death rate (the coefficient of `T_i` stays ≥ 0).

use super::{ChemParams, Params, CHEMICALS};
use crate::error::{Error, Invalid, Result};
use crate::scenario::{Chemical, ChemotaxisFlux, Loaded, Time};
use crate::units::format_min;

/// What a run may cost before `check` and `run` refuse it; each is raised by an option
/// of the command line (`--max-cell-steps`, `--max-substeps`, `--max-voxel-updates`,
/// `--max-output-gib`). The defaults accept every shipped scenario and sweep many times
/// over (the largest takes about 10⁵ cell steps, 98 sub-steps of a chemical per cell
/// step and 2 × 10¹¹ voxel updates; the 1024³ run of `benches/device.sh` 2 × 10¹¹).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Cell steps of the whole run, burn-in included.
    pub cell_steps: f64,
    /// Explicit sub-steps of one chemical per cell step.
    pub substeps: f64,
    /// Voxel updates: voxels × (cell steps + chemical sub-steps and quasi-steady
    /// iterations).
    pub voxel_updates: f64,
    /// Bytes of output files (ParaView files and picture planes and frames).
    pub output_bytes: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cell_steps: 1e7,
            substeps: 1e4,
            voxel_updates: 1e14,
            output_bytes: 100.0 * (1u64 << 30) as f64,
        }
    }
}

/// Sub-steps of one chemical per cell step beyond which a scenario is refused whatever
/// the limits (the count is held in 32 bits).
pub const MAX_SUBSTEPS: f64 = 1e9;

/// One stretch of equal cell steps: from `t0` (min) `steps` steps of `dt` (min).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub t0: f64,
    pub steps: u64,
    pub dt: f64,
}

impl Segment {
    pub fn t1(&self) -> f64 {
        self.t0 + self.steps as f64 * self.dt
    }
}

/// Every step of a run: the bounds, the chosen steps, the sub-step counts, and the
/// segments between snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// Stability bound of the cell step (without the safety factor), min.
    pub cell_bound: f64,
    /// Stability bound of each chemical (C, A, P), min; infinite for a chemical that
    /// neither diffuses nor decays.
    pub chem_bound: [f64; 3],
    /// The largest cell step used, min.
    pub cell_dt: f64,
    /// The largest sub-step of each chemical, min.
    pub chem_dt: [f64; 3],
    /// Chemical sub-steps per cell step (C, A, P).
    pub substeps: [u32; 3],
    /// Which chemicals are solved quasi-steadily.
    pub quasi_steady: [bool; 3],
    /// The stability bound of each species the scenario adds, min.
    pub species_bound: Vec<f64>,
    /// Sub-steps of each species per cell step (each explicit: species are never
    /// quasi-steady).
    pub species_substeps: Vec<u32>,
    /// The untreated burn-in, from `−burn_in` to 0 (may be empty).
    pub burn_in: Segment,
    /// One segment per snapshot interval, from 0 to the duration.
    pub segments: Vec<Segment>,
}

/// The largest number of face conductances (in units of `D/h²`) of any voxel: 2 per
/// axis inside, with a bath face counting 2 instead of 1.
fn face_sum(params: &Params) -> f64 {
    let mut g = 0.0;
    for axis in 0..3 {
        let n = params.dims[axis];
        let lo = params.bath_faces[2 * axis];
        let hi = params.bath_faces[2 * axis + 1];
        let w = |bath: bool| if bath { 2.0_f64 } else { 1.0 };
        let end = |bath: bool| if bath { 2.0 } else { 0.0 };
        g += if n == 1 {
            end(lo) + end(hi)
        } else {
            1.0 + w(lo).max(w(hi))
        };
    }
    g
}

/// The stability bound of one chemical's explicit step, min.
pub fn chem_bound(params: &Params, chem: &ChemParams) -> f64 {
    let max = |a: &[f64; 5]| a.iter().cloned().fold(0.0, f64::max);
    let rate = chem.max_diffusion() * face_sum(params) / (params.h * params.h)
        + max(&chem.decay)
        + max(&chem.exchange);
    if rate > 0.0 {
        1.0 / rate
    } else {
        f64::INFINITY
    }
}

/// The stability bound of the cell step, min.
pub fn cell_bound(params: &Params) -> f64 {
    let m_max = params.motility.iter().cloned().fold(0.0, f64::max);
    // Per face, the coefficient of T_i is at most μ + χ|Δs| (|Δs| ≤ 1) where i gives
    // the drift and, with the fitted flux, at most 2μ where it receives it (across
    // classes, `terms::t_face_inflow_fitted`).
    let mu = params.mu0 * m_max;
    let face = match params.flux {
        ChemotaxisFlux::Upwind => mu + params.chi,
        ChemotaxisFlux::Exponential => (mu + params.chi).max(2.0 * mu),
    };
    let rate = 6.0 * face / (params.h * params.h) + params.death;
    if rate > 0.0 {
        1.0 / rate
    } else {
        f64::INFINITY
    }
}

/// The snapshot times after `from` up to and including `to` (min, ascending, each once):
/// every `time.snapshot_every_h` from time 0, the listed `time.snapshot_times_h`,
/// `time.snapshots_after_dose` times after each dose in `doses` (min), and `to` itself.
/// Times closer than a millionth of a minute are one snapshot.
pub fn snapshot_schedule(time: &Time, doses: &[f64], from: f64, to: f64) -> Vec<f64> {
    let every = time.snapshot_every_h * 60.0;
    let mut t = Vec::new();
    if every > 0.0 && every.is_finite() {
        let mut k = (from / every).floor().max(0.0) as u64;
        loop {
            k += 1;
            let tk = k as f64 * every;
            if tk >= to {
                break;
            }
            t.push(tk);
        }
        for &d in doses {
            for j in 1..=time.snapshots_after_dose.min(60) {
                t.push(d + every * 0.5f64.powi(j as i32));
            }
        }
    }
    t.extend(time.snapshot_times_h.iter().map(|h| h * 60.0));
    t.push(to);
    t.retain(|&x| x > from && x <= to);
    t.sort_by(f64::total_cmp);
    t.dedup_by(|b, a| *b - *a < 1e-6);
    // The last time is `to` itself, not one a hair below it.
    if let Some(last) = t.last_mut() {
        *last = to;
    }
    t
}

/// The segments from `t0` to each of `times` in turn (ascending, after `t0`), in cell
/// steps of at most `cell_dt`.
pub fn segments_between(mut t0: f64, times: &[f64], cell_dt: f64) -> Vec<Segment> {
    let mut segments = Vec::with_capacity(times.len());
    for &t1 in times {
        let len = t1 - t0;
        let steps = steps_for(len, cell_dt);
        segments.push(Segment {
            t0,
            steps,
            dt: len / steps as f64,
        });
        t0 = t1;
    }
    segments
}

fn steps_for(len: f64, dt_max: f64) -> u64 {
    if len <= 0.0 {
        0
    } else {
        ((len / dt_max) * (1.0 - 1e-12)).ceil().max(1.0) as u64
    }
}

impl StepPlan {
    /// Derives every step from the bounds; explicit steps in `[numerics]` are checked
    /// against their bounds (error naming the key, the value and the bound), and the
    /// counts against the default [`Limits`].
    pub fn derive(loaded: &Loaded, params: &Params) -> Result<StepPlan> {
        Self::derive_within(loaded, params, &Limits::default())
    }

    /// As [`StepPlan::derive`], with the cell-step count held to `limits`; counts are
    /// computed in f64 and checked before any is cast to an integer.
    pub fn derive_within(loaded: &Loaded, params: &Params, limits: &Limits) -> Result<StepPlan> {
        let s = &loaded.scenario;
        let n = &s.numerics;
        let mut bad = Vec::new();
        let cell_bound = cell_bound(params);
        let chem_bound = CHEMICALS.map(|c| chem_bound(params, params.chem(c)));

        let explicit = [n.cxcl12_dt_min, n.amd3100_dt_min, n.anti_pd1_dt_min];
        let keys = [
            "numerics.cxcl12_dt_min",
            "numerics.amd3100_dt_min",
            "numerics.anti_pd1_dt_min",
        ];
        let mut check = |key: &str, dt: Option<f64>, bound: f64| {
            if let Some(dt) = dt {
                if dt > bound {
                    bad.push(Invalid {
                        at: loaded.locate(key),
                        value: format!("{dt} min"),
                        allowed: format!("≤ {} (the stability bound)", format_min(bound)),
                    });
                }
            }
        };
        check("numerics.cell_dt_min", n.cell_dt_min, cell_bound);
        for i in 0..3 {
            check(keys[i], explicit[i], chem_bound[i]);
        }
        if !bad.is_empty() {
            return Err(Error::Invalid(bad));
        }

        let total = s.time.duration_h * 60.0;
        // The cell step: explicit, or safety × bound; never longer than a snapshot interval.
        let interval = s.time.snapshot_every_h * 60.0;
        let cell_dt = n.cell_dt_min.unwrap_or(n.safety * cell_bound).min(interval);
        let chem_dt_max: [f64; 3] =
            std::array::from_fn(|i| explicit[i].unwrap_or(n.safety * chem_bound[i]));
        if !(cell_dt.is_finite() && cell_dt > 0.0) {
            return Err(Error::Invalid(vec![Invalid {
                at: loaded.locate("numerics.cell_dt_min"),
                value: format!("a cell step of {} min", cell_dt),
                allowed: "a finite step > 0 (from the stability bound of tcells.motility_um2_per_min, \
                          tcells.chemotaxis_over_motility and grid.voxel_um, or numerics.cell_dt_min)"
                    .into(),
            }]));
        }
        let burn = s.time.burn_in_h * 60.0;
        let cell_steps = ((burn + total) / cell_dt).ceil();
        if !crate::units::within(cell_steps, limits.cell_steps) {
            // An explicit cell step is the likelier cause; else the duration.
            let key = if n.cell_dt_min.is_some() {
                "numerics.cell_dt_min"
            } else if burn > total {
                "time.burn_in_h"
            } else {
                "time.duration_h"
            };
            return Err(Error::Invalid(vec![Invalid {
                at: loaded.locate(key),
                value: format!(
                    "{} h after a burn-in of {} h at a cell step of {}: {} cell steps",
                    s.time.duration_h,
                    s.time.burn_in_h,
                    format_min(cell_dt),
                    crate::units::significant(cell_steps, 3)
                ),
                allowed: format!(
                    "at most {} cell steps (--max-cell-steps raises the limit); the cell \
                     step comes from numerics.cell_dt_min or the stability bound of \
                     tcells.motility_um2_per_min, tcells.chemotaxis_over_motility and \
                     grid.voxel_um",
                    crate::units::significant(limits.cell_steps, 3)
                ),
            }]));
        }
        for (i, d) in chem_dt_max.iter().enumerate() {
            let n = cell_dt / d;
            // A quasi-steady chemical is not sub-stepped (its iterations count as work).
            let quasi = s.numerics.quasi_steady.contains(&CHEMICALS[i]);
            {
                if !quasi && n <= MAX_SUBSTEPS && n > limits.substeps {
                    let name = ["cxcl12", "amd3100", "anti_pd1"][i];
                    return Err(Error::Invalid(vec![Invalid {
                        at: loaded.locate(&format!("{name}.diffusion_um2_per_min")),
                        value: format!(
                            "{} sub-steps of {name} per cell step (its sub-step {} against \
                             the cell step {})",
                            crate::units::significant(n.ceil(), 3),
                            format_min(*d),
                            format_min(cell_dt)
                        ),
                        allowed: format!(
                            "at most {} (--max-substeps raises the limit): a smaller \
                             diffusivity, decay or exchange of {name}, which set its \
                             stability bound, or {name} in numerics.quasi_steady",
                            crate::units::significant(limits.substeps, 3)
                        ),
                    }]));
                }
            }
            if !crate::units::within(n, MAX_SUBSTEPS) {
                let name = ["cxcl12", "amd3100", "anti_pd1"][i];
                return Err(Error::Invalid(vec![Invalid {
                    at: loaded.locate(&format!("{name}.diffusion_um2_per_min")),
                    value: format!(
                        "{} sub-steps of {name} per cell step (its sub-step {} against the \
                         cell step {})",
                        crate::units::significant(n, 3),
                        format_min(*d),
                        format_min(cell_dt)
                    ),
                    allowed: format!(
                        "at most {} sub-steps per cell step: a smaller diffusivity, decay or \
                         exchange of {name} (they set its stability bound), or a larger \
                         numerics.{name}_dt_min",
                        crate::units::significant(MAX_SUBSTEPS, 3)
                    ),
                }]));
            }
        }
        let species_bound: Vec<f64> = params
            .species
            .iter()
            .map(|sp| self::chem_bound(params, &sp.chem))
            .collect();
        for (k, b) in species_bound.iter().enumerate() {
            let n = cell_dt / (s.numerics.safety * b);
            if !crate::units::within(n, limits.substeps.min(MAX_SUBSTEPS)) {
                let name = &params.species[k].key;
                return Err(Error::Invalid(vec![Invalid {
                    at: loaded.locate(&format!("species[{k}].diffusion_um2_per_min")),
                    value: format!(
                        "{} sub-steps of species {name} per cell step (its sub-step {} \
                         against the cell step {})",
                        crate::units::significant(n.ceil(), 3),
                        format_min(s.numerics.safety * b),
                        format_min(cell_dt)
                    ),
                    allowed: format!(
                        "at most {} (--max-substeps raises the limit): a smaller \
                         diffusivity, decay or exchange of {name}, which set its stability \
                         bound",
                        crate::units::significant(limits.substeps.min(MAX_SUBSTEPS), 3)
                    ),
                }]));
            }
        }
        let species_substeps = species_bound
            .iter()
            .map(|b| steps_for(cell_dt, s.numerics.safety * b).max(1) as u32)
            .collect();
        let substeps = chem_dt_max.map(|d| steps_for(cell_dt, d).max(1) as u32);
        let chem_dt = std::array::from_fn(|i| cell_dt / f64::from(substeps[i]));
        let quasi_steady = CHEMICALS.map(|c| n.quasi_steady.contains(&c));

        let b_steps = steps_for(burn, cell_dt);
        let burn_in = Segment {
            t0: -burn,
            steps: b_steps,
            dt: if b_steps > 0 {
                burn / b_steps as f64
            } else {
                0.0
            },
        };
        let doses = crate::dosing::Dosing::from_scenario(s).dose_times();
        let times = snapshot_schedule(&s.time, &doses, 0.0, total);
        if times.len() as f64 > crate::scenario::MAX_SNAPSHOTS {
            return Err(Error::Invalid(vec![Invalid {
                at: loaded.locate("time.snapshots_after_dose"),
                value: format!(
                    "{} snapshots ({} after each of {} doses, {} listed, one every {})",
                    times.len(),
                    s.time.snapshots_after_dose,
                    doses.len(),
                    s.time.snapshot_times_h.len(),
                    format_min(interval)
                ),
                allowed: format!(
                    "at most {} snapshots in a run: fewer snapshots after each dose, \
                     fewer listed times or a longer time.snapshot_every_h",
                    crate::scenario::MAX_SNAPSHOTS
                ),
            }]));
        }
        let segments = segments_between(0.0, &times, cell_dt);
        Ok(StepPlan {
            cell_bound,
            chem_bound,
            cell_dt,
            chem_dt,
            substeps,
            quasi_steady,
            species_bound,
            species_substeps,
            burn_in,
            segments,
        })
    }

    /// Snapshot times, min: 0 and the end of every segment.
    pub fn snapshot_times(&self) -> Vec<f64> {
        std::iter::once(0.0)
            .chain(self.segments.iter().map(|s| s.t1()))
            .collect()
    }

    /// Cell steps in the whole run, burn-in included.
    pub fn total_cell_steps(&self) -> u64 {
        self.burn_in.steps + self.segments.iter().map(|s| s.steps).sum::<u64>()
    }

    /// Sub-steps of chemical u (C, A, P order) per cell step when it is stepped
    /// explicitly: at least 1.
    pub fn substeps_of(&self, u: usize) -> u32 {
        self.substeps[u].max(1)
    }

    /// Sub-steps of species k in the whole run.
    pub fn total_species_substeps(&self, k: usize) -> u64 {
        self.total_cell_steps() * u64::from(self.species_substeps[k])
    }

    /// Explicit chemical sub-steps in the whole run (quasi-steady chemicals excluded).
    pub fn total_chem_substeps(&self, which: Chemical) -> u64 {
        let i = super::chem_index(which);
        if self.quasi_steady[i] {
            0
        } else {
            self.total_cell_steps() * u64::from(self.substeps[i])
        }
    }
}
