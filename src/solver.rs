//! The seam between the driver and a backend: what `run` asks of any solver. The CPU
//! reference and the GPU solver are twins behind it; the driver never sees their
//! buffers.

use crate::dosing::Dosing;
use crate::error::Result;
use crate::model::{Field, Fields, Params, Segment, StepPlan, CHEMICALS};
use crate::probe::{Labels, Sums};
use crate::scenario::Chemical;
use crate::slicing::Slicing;

/// What stepping a segment needs besides the solver: the step plan, the dosing and the
/// quasi-steady tolerance. One bundle, handed whole to [`Stepper::advance`] and
/// [`Solver::advance`].
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    pub plan: &'a StepPlan,
    pub dosing: &'a Dosing,
    /// Relative tolerance of the quasi-steady response solves ([`crate::steady`]).
    pub tolerance: f64,
}

impl<'a> Schedule<'a> {
    pub fn new(plan: &'a StepPlan, dosing: &'a Dosing, tolerance: f64) -> Self {
        Schedule {
            plan,
            dosing,
            tolerance,
        }
    }
}

/// What the driver asks of any solver (the checkpoint half of it is [`Resume`]).
pub trait Solver: Resume {
    /// Cell steps `first + 1 ..= seg.steps` of `seg` ([`Stepper::advance`], in the
    /// crate's error type): step k starts at `seg.t0 + (k − 1)·seg.dt`, so a segment
    /// stepped in parts gives the same bits as one stepped whole; `on_step(k)` after
    /// cell step k (1-based), for progress.
    fn advance(
        &mut self,
        seg: &Segment,
        first: u64,
        schedule: &Schedule,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<()>;

    /// A host copy of every field, in f64 (a read-back on the GPU).
    fn read_fields(&mut self) -> Result<Fields>;

    /// One field rounded to f32 (on the GPU: read back as it is held), without a host
    /// copy of the other fields: for ParaView files of large grids.
    fn read_field(&mut self, f: Field) -> Result<Vec<f32>>;

    /// The sums a snapshot needs of the current fields, by `labels` ([`crate::probe`]),
    /// the bath sums measured from the bath levels `bath` (AMD3100 µM, anti-PD-1 nM;
    /// [`Sums::bath_ref`], `budget::bath_levels`): reduced on the device by the GPU, so
    /// that only the sums are read back.
    fn sums(&mut self, labels: &Labels, bath: [f64; 2]) -> Result<Sums>;

    /// The picture planes of the current fields at `at`
    /// ([`crate::slicing::cut_fields`]: the built-in fields' planes, then each
    /// species'): on the GPU only the planes are read back.
    fn planes(&mut self, at: &Slicing) -> Result<Vec<Vec<f32>>>;

    /// Sets the cumulative kill K to 0 everywhere (at the start of dosing).
    fn reset_killed(&mut self) -> Result<()>;

    /// The backend in words, for logs and summaries (e.g. `cpu (2 threads)`).
    fn describe(&self) -> String;

    /// Everything a checkpoint needs to continue bit for bit: every field (a
    /// read-back on the GPU) and the quasi-steady records.
    fn save_state(&mut self) -> Result<State> {
        Ok(State {
            fields: self.read_fields()?,
            steady: self.steady_records(),
        })
    }

    /// Replaces every field and the quasi-steady records (after what is pending).
    fn restore_state(&mut self, state: &State) -> Result<()> {
        self.write_fields(&state.fields)?;
        self.set_steady_records(state.steady);
        Ok(())
    }
}

/// One field rounded to f32: from `fields` when the caller holds every field (read
/// back for a checkpoint), else read back alone from `solver` (no host copy of the
/// others). The outputs that store whole fields (ParaView files, arrays) take it so.
pub fn field_f32(solver: &mut dyn Solver, fields: Option<&Fields>, f: Field) -> Result<Vec<f32>> {
    match fields {
        Some(all) => Ok(all.get(f).iter().map(|&x| x as f32).collect()),
        None => solver.read_field(f),
    }
}

/// The picture planes at `at`: cut from `fields` when the caller holds them, else by
/// `solver` (on the GPU only the planes are read back).
pub fn planes_of(
    solver: &mut dyn Solver,
    fields: Option<&Fields>,
    at: &Slicing,
) -> Result<Vec<Vec<f32>>> {
    match fields {
        Some(all) => Ok(crate::slicing::cut_fields(all, at)),
        None => solver.planes(at),
    }
}

/// A solver's whole state as a checkpoint holds it. Scratch buffers are not part of it:
/// every step recomputes them before reading them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    pub fields: Fields,
    /// The quasi-steady record of each chemical (C, A, P).
    pub steady: [SteadyState; 3],
}

/// What checkpoint and resume need of a backend, beyond [`Solver`]: the quasi-steady
/// records (they decide when a quasi-steady chemical is solved again, and warm-start
/// the GPU's convergence test) and replacing the fields. The GPU's implementation is in
/// `gpu/state.rs`.
pub trait Resume {
    /// The quasi-steady records (C, A, P).
    fn steady_records(&self) -> [SteadyState; 3];

    /// Replaces the quasi-steady records.
    fn set_steady_records(&mut self, steady: [SteadyState; 3]);

    /// Replaces every field (after what is pending). On the GPU the values are rounded
    /// to f32, which is exact for values read back from it.
    fn write_fields(&mut self, fields: &Fields) -> Result<()>;
}

/// The one stepping trait: the single steps a backend provides, and
/// [`Stepper::advance`], which orders them ([`advance_steps_from`]) so that both
/// backends step a segment the same way. Each backend implements the single steps here
/// and nowhere else.
pub trait Stepper {
    type Error;
    fn params(&self) -> &Params;
    /// The quasi-steady record of chemical `u` (C, A, P order).
    fn steady(&self, u: usize) -> &SteadyState;
    /// One explicit sub-step of each chemical of `subs` (distinct chemicals), with the
    /// fields as if they were taken one after another in the order given (recorded or
    /// run at once). [`advance_steps_from`] groups only sub-steps that commute: none
    /// reads another's field, but for CXCL12's uptake reading AMD3100, and then CXCL12
    /// comes first. The GPU runs a group as one pass; the CPU one after another.
    fn chem_steps(&mut self, subs: &[SubStep]);
    /// One explicit sub-step of chemical `which` by `dt` min; `plasma` is the plasma
    /// level (exchange at classes with exchange > 0), `bath` the Dirichlet value on bath
    /// faces (`params.bath_faces`), both in the field's unit.
    fn chem_step(&mut self, which: Chemical, dt: f64, plasma: f64, bath: f64) {
        self.chem_steps(&[SubStep {
            which,
            dt,
            plasma,
            bath,
        }]);
    }
    /// One explicit sub-step of species `k` (of `params().species`) by `dt` with its
    /// (plasma, bath) levels, its cell-borne secretion from the current T and N.
    fn species_step(&mut self, k: usize, dt: f64, plasma: f64, bath: f64);
    /// One cell step (T, N, K) by `dt` using the current C, A, P (and the species that
    /// raises the kill rate, if any).
    fn cell_step(&mut self, dt: f64);
    /// Sets the chemical to its steady state for the given levels: the sum of its unit
    /// responses ([`crate::steady::Responses`]), each solved to `tolerance` at the first
    /// call whose levels need it and kept; returns the conjugate-gradient iterations this
    /// call took (0 once the responses it needs are known).
    fn solve_steady(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, Self::Error>;
    /// Which of C, A, P are known to be 0 in every voxel (the CPU looks; the GPU knows
    /// from what it uploaded and dosed since): [`dormant`] drugs skip their sub-steps.
    fn zero_chemicals(&self) -> [bool; 3];
    /// After a segment (or part of one): `dormant` says which chemicals are still 0
    /// everywhere; the GPU records it and runs what is pending.
    fn stepped(&mut self, dormant: [bool; 3]) -> Result<(), Self::Error>;

    /// Cell steps `first + 1 ..= seg.steps` of `seg`, ordered by [`advance_steps_from`]
    /// (sub-steps of C, A, P, quasi-steady settings, the species, then the cell step),
    /// at the times of the whole segment. A drug that is zero everywhere, with no
    /// secretion, stays exactly zero through a sub-step while nothing doses it: such
    /// sub-steps are skipped (the same bits, far less work in burn-ins and in arms
    /// without that drug). `on_step(k)` after cell step k (1-based).
    fn advance(
        &mut self,
        seg: &Segment,
        first: u64,
        schedule: &Schedule,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<(), Self::Error> {
        let mut dormant = dormant(self.params(), self.zero_chemicals());
        let done = advance_steps_from(self, seg, first, schedule, &mut dormant, on_step);
        let finished = self.stepped(dormant);
        done?;
        finished
    }
}

/// How [`advance_steps_from`] groups a cell step's explicit sub-steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// CXCL12's sub-steps go first, one by one: its uptake reads AMD3100, which is
    /// stepped too, and it takes more than one sub-step.
    pub alone: bool,
    /// The chemicals (C, A, P order) whose j-th sub-steps are grouped.
    pub grouped: Vec<usize>,
    /// Groups per cell step: the most sub-steps among `grouped`.
    pub passes: u32,
}

impl Grouping {
    /// The grouping of `plan`'s explicit sub-steps; `uptake`: CXCL12 is taken up by T
    /// cells.
    pub fn of(plan: &StepPlan, uptake: bool) -> Self {
        let count = |u: usize| plan.substeps_of(u);
        let explicit: Vec<usize> = (0..3).filter(|&u| !plan.quasi_steady[u]).collect();
        let alone = uptake && explicit.contains(&0) && explicit.contains(&1) && count(0) > 1;
        let grouped: Vec<usize> = explicit
            .into_iter()
            .filter(|&u| !(alone && u == 0))
            .collect();
        let passes = grouped.iter().map(|&u| count(u)).max().unwrap_or(0);
        Grouping {
            alone,
            grouped,
            passes,
        }
    }

    /// Chem passes per cell step on the GPU when no sub-step is skipped: CXCL12's own,
    /// then the groups.
    pub fn chem_passes(&self, plan: &StepPlan) -> u32 {
        self.own(plan) + self.passes
    }

    /// Chem passes per cell step without fusing: one per explicit sub-step.
    pub fn unfused_passes(&self, plan: &StepPlan) -> u32 {
        self.own(plan)
            + self
                .grouped
                .iter()
                .map(|&u| plan.substeps_of(u))
                .sum::<u32>()
    }

    /// CXCL12's sub-steps taken alone, per cell step.
    fn own(&self, plan: &StepPlan) -> u32 {
        if self.alone {
            plan.substeps_of(0)
        } else {
            0
        }
    }
}

/// One explicit sub-step of one chemical: `dt` min, with the (plasma, bath) levels at
/// its start, nM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubStep {
    pub which: Chemical,
    pub dt: f64,
    pub plasma: f64,
    pub bath: f64,
}

/// Cell steps `first + 1 ..= seg.steps` of `seg.dt` (step k at `seg.t0 + (k − 1)·seg.dt`,
/// so stepping a segment in parts gives the same bits); before each, `plan.substeps[u]`
/// sub-steps of each chemical u, each of `seg.dt / substeps[u]`, with its levels
/// ([`levels`]) at the start of each sub-step. A chemical with `plan.quasi_steady[u]` is
/// instead set to its steady state whenever its levels change (its sources never follow
/// T: `run` refuses a quasi-steady CXCL12 with uptake).
///
/// The fields come out as if the chemicals were stepped in the order C, A, P (all of a
/// chemical's sub-steps, then the next chemical's), then the cell step. The chemicals'
/// updates commute but for one (CXCL12's uptake reads AMD3100), so each cell step runs:
/// a quasi-steady CXCL12 solve; then the explicit sub-steps, the j-th sub-step of every
/// chemical that has one as one group ([`Stepper::chem_steps`]: one pass on the GPU);
/// then the quasi-steady AMD3100 and anti-PD-1 solves; then each species the scenario
/// adds, all its sub-steps (`plan.species_substeps[k]`, its levels at the start of
/// each), in the scenario's order. CXCL12 with uptake is grouped
/// with AMD3100 only when it takes one sub-step (so that it reads AMD3100 as the cell
/// step starts); otherwise its sub-steps go first, alone.
///
/// A chemical with `dormant[u]` (zero everywhere, no secretion: the caller knows) skips
/// its sub-steps while its levels are 0, which leaves it exactly as stepping would;
/// `dormant[u]` is cleared once it is stepped or solved with levels that are not 0 (so
/// on return it says which chemicals are still zero everywhere). Calls `on_step(k)` after
/// cell step k (1-based).
pub fn advance_steps_from<S: Stepper + ?Sized>(
    solver: &mut S,
    seg: &Segment,
    first: u64,
    schedule: &Schedule,
    dormant: &mut [bool; 3],
    on_step: &mut dyn FnMut(u64),
) -> Result<(), S::Error> {
    let Schedule {
        plan,
        dosing,
        tolerance,
    } = *schedule;
    let follows_t = solver.params().c_uptake != 0.0;
    let count = |u: usize| plan.substeps_of(u);
    let Grouping {
        alone,
        grouped,
        passes,
    } = Grouping::of(plan, follows_t);
    let mut group = Vec::with_capacity(3);
    for k in first + 1..=seg.steps {
        let t = seg.t0 + (k - 1) as f64 * seg.dt;
        // Sub-step j of chemical u, unless it is dormant and undosed then.
        let sub = |u: usize, j: u32, dormant: &mut [bool; 3], params: &Params| {
            let which = CHEMICALS[u];
            let dt = seg.dt / f64::from(count(u));
            let (plasma, bath) = levels(params, dosing, which, t + f64::from(j) * dt);
            if dormant[u] && plasma == 0.0 && bath == 0.0 {
                return None;
            }
            dormant[u] = false;
            Some(SubStep {
                which,
                dt,
                plasma,
                bath,
            })
        };
        let steady = |solver: &mut S, u: usize, dormant: &mut [bool; 3]| -> Result<(), S::Error> {
            let which = CHEMICALS[u];
            let now = levels(solver.params(), dosing, which, t);
            if solver.steady(u).is_stale(now) {
                solver.solve_steady(which, now.0, now.1, tolerance)?;
                if now != (0.0, 0.0) {
                    dormant[u] = false;
                }
            }
            Ok(())
        };
        if plan.quasi_steady[0] {
            steady(solver, 0, dormant)?;
        }
        if alone {
            for j in 0..count(0) {
                if let Some(s) = sub(0, j, dormant, solver.params()) {
                    solver.chem_steps(&[s]);
                }
            }
        }
        for j in 0..passes {
            group.clear();
            for &u in grouped.iter().filter(|&&u| j < count(u)) {
                group.extend(sub(u, j, dormant, solver.params()));
            }
            if !group.is_empty() {
                solver.chem_steps(&group);
            }
        }
        for u in 1..3 {
            if plan.quasi_steady[u] {
                steady(solver, u, dormant)?;
            }
        }
        // The species, each all its sub-steps, in the scenario's order.
        for (k, &n) in plan.species_substeps.iter().enumerate() {
            let dt = seg.dt / f64::from(n);
            for j in 0..n {
                let (plasma, bath) =
                    species_levels(solver.params(), dosing, k, t + f64::from(j) * dt);
                solver.species_step(k, dt, plasma, bath);
            }
        }
        solver.cell_step(seg.dt);
        on_step(k);
    }
    Ok(())
}

/// Which chemicals (C, A, P) may skip sub-steps while undosed ([`advance_steps_from`]):
/// the drugs that nothing secretes and that are 0 in every voxel (`zero`, which the
/// caller knows: the CPU by looking, the GPU by what it uploaded and dosed since).
pub fn dormant(params: &Params, zero: [bool; 3]) -> [bool; 3] {
    std::array::from_fn(|u| {
        let which = CHEMICALS[u];
        which != Chemical::Cxcl12
            && params.chem(which).secretion.iter().all(|&x| x == 0.0)
            && zero[u]
    })
}

/// The (plasma, bath) levels a chemical sees at time `t` (min): the dosing schedule's
/// for the drugs, (0, `params.c_bath`) for CXCL12. Both backends take levels here.
pub fn levels(params: &Params, dosing: &Dosing, which: Chemical, t: f64) -> (f64, f64) {
    match which {
        Chemical::Cxcl12 => (0.0, params.c_bath),
        _ => dosing.levels(which, t),
    }
}

/// The (plasma, bath) levels species `k` sees at time `t` (min): its constant levels
/// (`plasma_level`, `bath_level`, from time 0) plus what treatments dose of it. Both
/// backends take a species' levels here.
pub fn species_levels(params: &Params, dosing: &Dosing, k: usize, t: f64) -> (f64, f64) {
    let (plasma, bath) = params.species[k].levels(t);
    let (dosed_plasma, dosed_bath) = dosing.species_levels(k, t);
    (plasma + dosed_plasma, bath + dosed_bath)
}

/// What the quasi-steady machinery of either backend remembers of one chemical.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SteadyState {
    /// The (plasma, bath) levels the field was last set for.
    pub solved_for: Option<(f64, f64)>,
    /// Times the field was set (responses combined).
    pub solves: u64,
    /// Conjugate-gradient iterations of the response solves.
    pub iterations: u64,
}

impl SteadyState {
    /// Whether the field must be set again for the levels `now`: never set yet, or
    /// either level changed at all (setting it costs one pass over the grid once the
    /// responses are known).
    pub fn is_stale(&self, now: (f64, f64)) -> bool {
        self.solved_for != Some(now)
    }

    /// Records the field set for `levels`, after `iterations` of response solves.
    pub fn record(&mut self, levels: (f64, f64), iterations: u64) {
        self.solved_for = Some(levels);
        self.solves += 1;
        self.iterations += iterations;
    }
}
