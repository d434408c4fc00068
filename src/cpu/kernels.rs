//! The CPU solver's kernels: each writes one z-plane of a new field from old fields only,
//! visiting its voxels and their faces in a fixed order (so any thread count gives the
//! same bits).
//!
//! Faces are visited in the order x−, x+, y−, y+, z−, z+ (the order of
//! `Params::bath_faces`).

use crate::model::terms::{
    blockade, crowding, fed, harmonic_mean, kill_factor, motility, secreted, signal, t_face_inflow,
    t_face_inflow_fitted, uptake,
};
use crate::model::{ChemParams, Coupled, Params, N_CLASSES, TUMOR};
use crate::scenario::ChemotaxisFlux;

/// Grid extents and strides, index `x + nx·(y + ny·z)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub nx: usize,
    pub ny: usize,
    pub nz: usize,
}

impl Grid {
    /// Voxels in one z-plane (the unit of parallel work).
    pub fn plane(&self) -> usize {
        self.nx * self.ny
    }

    pub fn voxels(&self) -> usize {
        self.plane() * self.nz
    }

    /// Calls `f(face, neighbour)` for the six faces of voxel (x, y, z) in the fixed
    /// order x−, x+, y−, y+, z−, z+; `neighbour` is `None` at a domain face.
    #[inline(always)]
    pub fn faces(&self, x: usize, y: usize, z: usize, mut f: impl FnMut(usize, Option<usize>)) {
        let i = x + self.nx * (y + self.ny * z);
        let sy = self.nx;
        let sz = self.plane();
        f(0, (x > 0).then(|| i - 1));
        f(1, (x + 1 < self.nx).then(|| i + 1));
        f(2, (y > 0).then(|| i - sy));
        f(3, (y + 1 < self.ny).then(|| i + sy));
        f(4, (z > 0).then(|| i - sz));
        f(5, (z + 1 < self.nz).then(|| i + sz));
    }
}

/// Per-class face conductances of one chemical (in units of 1/h²), built once.
#[derive(Debug, Clone)]
pub(super) struct ChemTables {
    /// Face diffusivity between classes (harmonic mean), µm²/min.
    pub face_d: [[f64; N_CLASSES]; N_CLASSES],
    /// Diffusivity times 2 toward a bath half a voxel away, µm²/min.
    pub bath_d: [f64; N_CLASSES],
}

impl ChemTables {
    pub fn new(chem: &ChemParams) -> Self {
        let d = chem.diffusion;
        ChemTables {
            face_d: std::array::from_fn(|i| std::array::from_fn(|j| harmonic_mean(d[i], d[j]))),
            bath_d: d.map(|x| 2.0 * x.max(0.0)),
        }
    }
}

/// What one chemical sub-step needs besides the fields.
pub(super) struct ChemStep<'a> {
    pub grid: Grid,
    pub tables: &'a ChemTables,
    pub chem: &'a ChemParams,
    pub bath_faces: [bool; 6],
    pub inv_h2: f64,
    pub dt: f64,
    pub plasma: f64,
    pub bath: f64,
    /// CXCL12 only: the uptake by T cells.
    pub uptake: Option<Uptake<'a>>,
    /// A species only: what T cells and tumour cells secrete.
    pub secretion: Option<Secretion<'a>>,
}

/// A species' secretion by cells, `σ_T T + σ_N N + σ_TN T N`.
pub(super) struct Secretion<'a> {
    pub by_t: f64,
    pub by_n: f64,
    pub by_tn: f64,
    pub t: &'a [f64],
    pub n: &'a [f64],
}

/// CXCL12 uptake by T cells, `− k_int · T · s(C, A)`.
pub(super) struct Uptake<'a> {
    pub k_int: f64,
    pub k_c: f64,
    pub k_a: f64,
    pub t: &'a [f64],
    pub a: &'a [f64],
}

/// Chemical sub-step: updates every voxel of z-plane `z` (its new values go to `out`,
/// that plane's slice of the next buffer).
pub(super) fn chem_step(k: &ChemStep, z: usize, class: &[u8], u: &[f64], out: &mut [f64]) {
    let g = k.grid;
    let base = g.plane() * z;
    let c = k.chem;
    for y in 0..g.ny {
        for x in 0..g.nx {
            let i = base + x + g.nx * y;
            let ci = class[i] as usize;
            let ui = u[i];
            // Σ over faces of D_f (u_j − u_i): the net inflow times h².
            let mut lap = 0.0;
            g.faces(x, y, z, |f, j| match j {
                Some(j) => lap += k.tables.face_d[ci][class[j] as usize] * (u[j] - ui),
                None if k.bath_faces[f] => lap += k.tables.bath_d[ci] * (k.bath - ui),
                None => {}
            });
            let mut r = c.secretion[ci] - c.decay[ci] * ui + c.exchange[ci] * (k.plasma - ui);
            if let Some(up) = &k.uptake {
                r -= uptake(up.k_int, up.t[i], signal(ui, up.a[i], up.k_c, up.k_a));
            }
            if let Some(s) = &k.secretion {
                r += secreted(s.by_t, s.by_n, s.by_tn, s.t[i], s.n[i]);
            }
            out[i - base] = ui + k.dt * (lap * k.inv_h2 + r);
        }
    }
}

/// The cell step's parameters and what it derives from them once per step.
pub(super) struct CellStep<'a> {
    pub p: &'a Params,
    pub grid: Grid,
    pub inv_h2: f64,
    pub dt: f64,
    /// Whether a class admits T cells (motility factor ≠ 0).
    pub open: [bool; N_CLASSES],
}

impl<'a> CellStep<'a> {
    pub fn new(p: &'a Params, grid: Grid, dt: f64) -> Self {
        CellStep {
            p,
            grid,
            inv_h2: 1.0 / (p.h * p.h),
            dt,
            open: p.motility.map(|m| m != 0.0),
        }
    }
}

/// Receptor pass: writes the signal `s` and the motile flux potential `μ T` of every
/// voxel of z-plane `z` (into that plane's slices `s_out`, `w_out`).
#[allow(clippy::too_many_arguments)]
pub(super) fn signal_step(
    p: &Params,
    grid: Grid,
    z: usize,
    class: &[u8],
    c: &[f64],
    a: &[f64],
    t: &[f64],
    s_out: &mut [f64],
    w_out: &mut [f64],
) {
    let base = grid.plane() * z;
    for l in 0..grid.plane() {
        let i = base + l;
        let s = signal(c[i], a[i], p.k_c, p.k_a);
        s_out[l] = s;
        w_out[l] = motility(p.mu0, p.motility[class[i] as usize], p.arrest, s) * t[i];
    }
}

/// The old state the cell step reads.
pub(super) struct CellInputs<'a> {
    pub class: &'a [u8],
    pub s: &'a [f64],
    pub w: &'a [f64],
    pub t: &'a [f64],
    pub n: &'a [f64],
    pub k: &'a [f64],
    pub p: &'a [f64],
    /// The coupling that scales the kill rate, with its species' field.
    pub kill_by: Option<(Coupled, &'a [f64])>,
}

/// Cell step: updates T, N and K of every voxel of z-plane `z` (into that plane's
/// slices of the next buffers).
pub(super) fn cell_step(
    k: &CellStep,
    z: usize,
    v: &CellInputs,
    t_out: &mut [f64],
    n_out: &mut [f64],
    k_out: &mut [f64],
) {
    let g = k.grid;
    let base = g.plane() * z;
    let (s, w, t) = (v.s, v.w, v.t);
    for y in 0..g.ny {
        for x in 0..g.nx {
            let i = base + x + g.nx * y;
            let ci = v.class[i] as usize;
            let ti = t[i];
            // Σ over open faces of −F_ij·h: motile exchange of μT plus chemotaxis.
            let mut div = 0.0;
            if k.open[ci] {
                let p = k.p;
                let open = |j: usize| k.open[v.class[j] as usize];
                match p.flux {
                    ChemotaxisFlux::Exponential => {
                        let mu = |i: usize| {
                            motility(p.mu0, p.motility[v.class[i] as usize], p.arrest, s[i])
                        };
                        let mu_i = mu(i);
                        g.faces(x, y, z, |_, j| match j {
                            Some(j) if open(j) => {
                                let same = v.class[j] == v.class[i];
                                div += t_face_inflow_fitted(
                                    w[i],
                                    w[j],
                                    s[i],
                                    s[j],
                                    ti,
                                    t[j],
                                    mu_i,
                                    mu(j),
                                    same,
                                    p.chi,
                                );
                            }
                            _ => {}
                        });
                    }
                    ChemotaxisFlux::Upwind => g.faces(x, y, z, |_, j| match j {
                        Some(j) if open(j) => {
                            div += t_face_inflow(w[i], w[j], s[i], s[j], ti, t[j], p.chi);
                        }
                        _ => {}
                    }),
                }
            }
            let ni = v.n[i];
            // Sources are limited by crowding, clamped at 0 above T_max (see module docs).
            let crowd = crowding(ti, k.p.t_max);
            let fed = fed(ni, k.p.k_n);
            let dt_t = div * k.inv_h2 + k.p.influx[ci] * crowd + k.p.prolif * ti * fed * crowd
                - k.p.death * ti;
            t_out[i - base] = ti + k.dt * dt_t;

            let b = blockade(v.p[i], k.p.k_p);
            let coupled = v.kill_by.map_or(1.0, |(c, level)| c.factor(level[i]));
            let killed = k.p.kill * kill_factor(k.p.q, b) * coupled * ti * ni;
            let grown = if ci == TUMOR as usize {
                k.p.growth * ni * (1.0 - ni)
            } else {
                0.0
            };
            n_out[i - base] = ni + k.dt * (grown - killed);
            k_out[i - base] = v.k[i] + k.dt * killed;
        }
    }
}
