//! The CPU reference solver: the model's explicit finite-volume scheme (docs/model.md)
//! in f64, plain and parallel over z-planes, with the same bits for any number of
//! threads.
//!
//! # Scheme
//!
//! Every step computes each voxel's new value from the old fields only, visiting its
//! faces in the fixed order x−, x+, y−, y+, z−, z+, into a scratch buffer that is then
//! swapped with the field (ping-pong; every stepping buffer is allocated once, in
//! [`CpuSolver::new`]; a quasi-steady chemical's responses when first needed). The only reductions (in [`Stepper::solve_steady`]) are sums
//! taken per z-plane and added in plane order.
//!
//! - Chemical `u` (one forward-Euler sub-step, [`Stepper::chem_step`]):
//!   `u_i += Δt [Σ_f D_f (u_j − u_i)/h² + σ(c) − λ(c) u_i + κ(c)(u_plasma − u_i)]`, with
//!   `D_f` the harmonic mean of the two classes' diffusivities (0 if either is 0). A
//!   bath face adds `2 D_i (u_bath − u_i)/h²` (the bath held half a voxel outside);
//!   every other domain face carries nothing. CXCL12 also loses `k_int · T · s(C, A)`,
//!   with `s` from the current C and A at each sub-step.
//! - T cells ([`Stepper::cell_step`]): the face flux from `i` to `j` is
//!   `[(μ_i T_i − μ_j T_j) + χ (s_j − s_i) T_d]/h`, `T_d = T_i` if `s_j > s_i` else
//!   `T_j`; `s` and `μ T` are computed once per cell step into scratch buffers. The flux
//!   is antisymmetric to the bit, so T is conserved by transport.
//! - Tumour: `N += Δt [r N (1 − N) [tumour only] − kill (1 − q (1 − b)) T N]`, `K` gains
//!   the killed part.
//!
//! # Decisions where the model leaves a choice
//!
//! - **Closed classes.** A face where either voxel's class has motility factor 0
//!   carries no T-cell flux at all, chemotaxis included: such a class is closed to T
//!   cells. (Otherwise chemotaxis could push cells into a class where `μ = 0`, from
//!   which only chemotaxis could take them out again.)
//! - **Crowding clamp.** The source factor `1 − T/T_max` is clamped at 0. `T_max`
//!   limits the sources only, and chemotaxis may pile T above it; unclamped, influx and
//!   proliferation would turn into sinks there (removing cells at vessels, which the
//!   model does not have), and the extra `ι/T_max` in the coefficient of `T_i` is not
//!   in the cell step bound, so `T ≥ 0` would no longer be guaranteed.
//! - **Proliferation at N = 0.** `N/(N + K_N)` is taken as 0 where `N ≤ 0`, so
//!   `K_N = 0` is allowed.
//! - **N is not clamped.** Forward Euler gives
//!   `N' = N (1 + Δt [r (1 − N) − kill_eff T])`, which stays in `[0, 1]` as long as
//!   `Δt r ≤ 1` and `Δt kill_eff T ≤ 1`; with the documented rates both products are
//!   below 10⁻², many orders from the limit.
//! - **Quasi-steady chemicals** ([`Stepper::advance`]): at the start of each cell
//!   step the chemical's (plasma, bath) levels are compared with those it was last set
//!   for; on the first step, or when either changed, it is set by
//!   [`Stepper::solve_steady`] to the sum of its unit responses (`crate::steady`), each
//!   solved once, at the first call that needs it, by multigrid-preconditioned
//!   conjugate gradients.
//!   The reductions of those solves are summed per z-plane and added in plane order.

mod kernels;
pub mod steady;
mod traits;

use rayon::prelude::*;

use crate::model::{chem_index, Fields, Params, Rate, CHEMICALS};
use crate::scenario::Chemical;
use crate::solver::{SteadyState, Stepper, SubStep};
use kernels::{CellInputs, CellStep, ChemStep, ChemTables, Grid, Secretion, Uptake};

/// Grids smaller than this are stepped on the calling thread: a step of 4096 voxels
/// takes tens of µs, comparable to handing planes to a thread pool.
pub const PARALLEL_MIN_VOXELS: usize = 4096;

/// The CPU solver: parameters, tissue classes, fields and scratch buffers.
pub struct CpuSolver {
    params: Params,
    class: Vec<u8>,
    fields: Fields,
    grid: Grid,
    tables: [ChemTables; 3],
    /// The face tables of each species.
    species_tables: Vec<ChemTables>,
    /// Next values of a chemical, or of T in the cell step.
    next: Vec<f64>,
    next_n: Vec<f64>,
    next_k: Vec<f64>,
    /// The signal s of the cell step.
    s: Vec<f64>,
    /// μ T of the cell step.
    w: Vec<f64>,
    /// Whether the grid is large enough to split over threads (the bits are the same
    /// either way; small grids are faster on one).
    parallel: bool,
    /// The unit responses of each quasi-steady chemical, solved as levels need them.
    responses: [crate::steady::Responses; 3],
    steady: [SteadyState; 3],
}

impl CpuSolver {
    /// Takes the parameters, one class code per voxel and the initial fields.
    ///
    /// # Panics
    /// If a grid extent is 0, or `class` or a field does not have `nx·ny·nz` entries,
    /// or a class code is not below `N_CLASSES`.
    pub fn new(params: Params, class: Vec<u8>, fields: Fields) -> Self {
        let [nx, ny, nz] = params.dims;
        assert!(nx > 0 && ny > 0 && nz > 0, "empty grid {:?}", params.dims);
        let grid = Grid { nx, ny, nz };
        let n = grid.voxels();
        assert_eq!(class.len(), n, "class codes for {:?}", params.dims);
        assert!(
            class
                .iter()
                .all(|&c| (c as usize) < crate::model::N_CLASSES),
            "class code out of range"
        );
        let solver = CpuSolver {
            tables: CHEMICALS.map(|c| ChemTables::new(params.chem(c))),
            species_tables: params
                .species
                .iter()
                .map(|sp| ChemTables::new(&sp.chem))
                .collect(),
            params,
            class,
            fields,
            grid,
            next: vec![0.0; n],
            next_n: vec![0.0; n],
            next_k: vec![0.0; n],
            s: vec![0.0; n],
            w: vec![0.0; n],
            parallel: n >= PARALLEL_MIN_VOXELS,
            responses: Default::default(),
            steady: Default::default(),
        };
        solver.check_lengths();
        solver
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn class(&self) -> &[u8] {
        &self.class
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    pub fn fields_mut(&mut self) -> &mut Fields {
        &mut self.fields
    }

    /// Steady solves and their total iterations so far, per chemical (C, A, P).
    pub fn steady_counts(&self) -> [(u64, u64); 3] {
        self.steady.map(|s| (s.solves, s.iterations))
    }

    fn check_lengths(&self) {
        let n = self.grid.voxels();
        assert_eq!(
            self.fields.species.len(),
            self.params.species.len(),
            "one field per species"
        );
        for (name, f) in self.fields.named() {
            assert_eq!(f.len(), n, "field {name} has the wrong length");
        }
    }

    fn chem_field(&self, which: Chemical) -> &[f64] {
        match which {
            Chemical::Cxcl12 => &self.fields.c,
            Chemical::Amd3100 => &self.fields.a,
            Chemical::AntiPd1 => &self.fields.p,
        }
    }
}

impl Stepper for CpuSolver {
    type Error = std::convert::Infallible;

    fn params(&self) -> &Params {
        &self.params
    }

    fn steady(&self, u: usize) -> &SteadyState {
        &self.steady[u]
    }

    /// One after another, each a sweep of the grid into the next buffer.
    fn chem_steps(&mut self, subs: &[SubStep]) {
        for &SubStep {
            which,
            dt,
            plasma,
            bath,
        } in subs
        {
            self.check_lengths();
            let p = &self.params;
            let f = &mut self.fields;
            let uptake = (which == Chemical::Cxcl12 && p.c_uptake != 0.0).then(|| Uptake {
                k_int: p.c_uptake,
                k_c: p.k_c,
                k_a: p.k_a,
                t: &f.t,
                a: &f.a,
            });
            let step = ChemStep {
                grid: self.grid,
                tables: &self.tables[chem_index(which)],
                chem: p.chem(which),
                bath_faces: p.bath_faces,
                inv_h2: 1.0 / (p.h * p.h),
                dt,
                plasma,
                bath,
                uptake,
                secretion: None,
            };
            let u = match which {
                Chemical::Cxcl12 => &f.c,
                Chemical::Amd3100 => &f.a,
                Chemical::AntiPd1 => &f.p,
            };
            let class = &self.class[..];
            let plane = self.grid.plane();
            let kernel =
                |(z, out): (usize, &mut [f64])| kernels::chem_step(&step, z, class, u, out);
            if self.parallel {
                self.next.par_chunks_mut(plane).enumerate().for_each(kernel);
            } else {
                self.next.chunks_mut(plane).enumerate().for_each(kernel);
            }
            let u = match which {
                Chemical::Cxcl12 => &mut f.c,
                Chemical::Amd3100 => &mut f.a,
                Chemical::AntiPd1 => &mut f.p,
            };
            std::mem::swap(u, &mut self.next);
        }
    }

    fn species_step(&mut self, k: usize, dt: f64, plasma: f64, bath: f64) {
        self.check_lengths();
        let p = &self.params;
        let sp = &p.species[k];
        let f = &mut self.fields;
        let step = ChemStep {
            grid: self.grid,
            tables: &self.species_tables[k],
            chem: &sp.chem,
            bath_faces: p.bath_faces,
            inv_h2: 1.0 / (p.h * p.h),
            dt,
            plasma,
            bath,
            uptake: None,
            secretion: sp.cell_borne().then_some(Secretion {
                by_t: sp.by_t,
                by_n: sp.by_n,
                by_tn: sp.by_tn,
                t: &f.t,
                n: &f.n,
            }),
        };
        let u = &f.species[k].1;
        let class = &self.class[..];
        let plane = self.grid.plane();
        let kernel = |(z, out): (usize, &mut [f64])| kernels::chem_step(&step, z, class, u, out);
        if self.parallel {
            self.next.par_chunks_mut(plane).enumerate().for_each(kernel);
        } else {
            self.next.chunks_mut(plane).enumerate().for_each(kernel);
        }
        std::mem::swap(&mut f.species[k].1, &mut self.next);
    }

    fn cell_step(&mut self, dt: f64) {
        self.check_lengths();
        let plane = self.grid.plane();
        let (p, grid, f, class) = (&self.params, self.grid, &self.fields, &self.class[..]);
        let receptor = |(z, (s, w)): (usize, (&mut [f64], &mut [f64]))| {
            kernels::signal_step(p, grid, z, class, &f.c, &f.a, &f.t, s, w)
        };
        if self.parallel {
            let planes = self
                .s
                .par_chunks_mut(plane)
                .zip(self.w.par_chunks_mut(plane));
            planes.enumerate().for_each(receptor);
        } else {
            let planes = self.s.chunks_mut(plane).zip(self.w.chunks_mut(plane));
            planes.enumerate().for_each(receptor);
        }
        let step = CellStep::new(p, grid, dt);
        let inputs = CellInputs {
            class,
            s: &self.s,
            w: &self.w,
            t: &f.t,
            n: &f.n,
            k: &f.k,
            p: &f.p,
            kill_by: p
                .coupled(Rate::Kill)
                .map(|c| (c, &f.species[c.species].1[..])),
        };
        type Out<'a> = ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]);
        let kernel =
            |(z, ((t, n), k)): (usize, Out)| kernels::cell_step(&step, z, &inputs, t, n, k);
        if self.parallel {
            let planes = self.next.par_chunks_mut(plane);
            let planes = planes.zip(self.next_n.par_chunks_mut(plane));
            let planes = planes.zip(self.next_k.par_chunks_mut(plane));
            planes.enumerate().for_each(kernel);
        } else {
            let planes = self.next.chunks_mut(plane);
            let planes = planes.zip(self.next_n.chunks_mut(plane));
            let planes = planes.zip(self.next_k.chunks_mut(plane));
            planes.enumerate().for_each(kernel);
        }
        let f = &mut self.fields;
        std::mem::swap(&mut f.t, &mut self.next);
        std::mem::swap(&mut f.n, &mut self.next_n);
        std::mem::swap(&mut f.k, &mut self.next_k);
    }

    fn solve_steady(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, Self::Error> {
        Ok(self.steady_solve(which, plasma, bath, tolerance))
    }

    /// By looking at the fields.
    fn zero_chemicals(&self) -> [bool; 3] {
        CHEMICALS.map(|which| self.chem_field(which).iter().all(|&x| x == 0.0))
    }

    fn stepped(&mut self, _dormant: [bool; 3]) -> Result<(), Self::Error> {
        Ok(())
    }
}
