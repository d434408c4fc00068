//! Quasi-steady chemicals as sums of unit responses, each solved once by conjugate
//! gradients preconditioned with an aggregation multigrid V-cycle.
//!
//! # Why responses
//!
//! A quasi-steady chemical solves `A u = σ + κ u_plasma + b u_bath`, with
//!
//! `(A u)_i = Σ_faces g_f (u_i − u_j) + (λ_i + κ_i + b_i) u_i`,
//!
//! `g_f = D_f / h²` the face conductance (harmonic mean, 0 for a closed face), `b_i` the
//! sum of `2 D_i / h²` over the voxel's bath faces, `σ` the secretion and `κ` the plasma
//! exchange. Nothing in `A` or in the three source patterns depends on time or on the
//! other fields (CXCL12 with uptake by T cells may not be quasi-steady), so the steady
//! field for any levels is
//!
//! `u = R_σ + u_plasma · R_plasma + u_bath · R_bath`,
//!
//! the responses `R` to each source pattern alone (a pattern that is 0 everywhere has
//! response 0 and is not solved). The responses are solved once per run; every later
//! change of the levels costs one pass over the grid, however fast the levels move.
//!
//! # The solve
//!
//! `A` is symmetric positive definite (definite when every connected region has some
//! loss), so conjugate gradients apply. The preconditioner is one V-cycle of multigrid
//! by aggregation: each coarse voxel is a 2 × 2 × 2 block of the finer level (1 wide
//! at an odd end), and the coarse operator is the Galerkin product `Pᵀ A P` with
//! piecewise-constant `P`, which is again a face-conductance operator: a coarse face's
//! conductance is the sum of the fine conductances across it, a coarse voxel's loss the
//! sum of its fine voxels' (closed faces and heterogeneous diffusivities coarsen
//! without special cases). Levels go down to a single voxel, solved exactly. The
//! smoother is red–black Gauss–Seidel, red then black before the coarse correction and
//! black then red after, which keeps the preconditioner symmetric.
//!
//! The convergence test is on the residual: [`Operator::solve`] stops when the
//! preconditioned residual norm `√(rᵀ M⁻¹ r)` has fallen below its `target` times its
//! value for the zero start (for a preconditioner near `A` this is the relative error
//! in the energy norm), or after [`MAX_CG`] iterations. The largest voxel error can
//! exceed that measure (by up to 10× in tests/steady.rs), so a response asked for a
//! relative `tolerance` is solved to the target `tolerance · `[`MARGIN`], which keeps
//! its largest error below the tolerance times its largest value. Every reduction is summed per z-plane and
//! the plane sums added in plane order, so any number of threads gives the same bits.

use rayon::prelude::*;

use crate::model::{ChemParams, Params};

/// The most conjugate-gradient iterations of one solve.
pub const MAX_CG: u32 = 1000;

/// The residual target of a response solve, as a fraction of its tolerance (module
/// docs).
pub const MARGIN: f64 = 0.01;

/// Grids with fewer voxels than this are worked on one thread.
const PARALLEL_MIN: usize = 4096;

/// Which source pattern a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The secretion `σ` (levels do not scale it).
    Secretion,
    /// The plasma exchange `κ` at plasma level 1.
    Plasma,
    /// The bath faces at bath level 1.
    Bath,
}

const SOURCES: [Source; 3] = [Source::Secretion, Source::Plasma, Source::Bath];

/// How one conjugate-gradient solve went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Solve {
    pub iterations: u32,
    /// The preconditioned residual norm at the end, relative to the start's.
    pub residual: f64,
    pub converged: bool,
}

/// One level of the multigrid hierarchy: a face-conductance operator on a box.
#[derive(Debug)]
struct Level {
    dims: [usize; 3],
    /// Conductance to the +x, +y, +z neighbour, 1/min (0 at the far domain face).
    g: [Vec<f64>; 3],
    /// The voxel's own loss (decay, exchange, bath faces), 1/min.
    loss: Vec<f64>,
    /// The diagonal of `A`: loss plus the six faces' conductances, 1/min.
    diag: Vec<f64>,
    /// Right-hand side and solution of this level's correction (coarse levels only: the
    /// finest level's are the solve's own vectors), and a scratch vector.
    b: Vec<f64>,
    x: Vec<f64>,
    tmp: Vec<f64>,
}

impl Level {
    fn plane(&self) -> usize {
        self.dims[0] * self.dims[1]
    }

    fn voxels(&self) -> usize {
        self.plane() * self.dims[2]
    }

    fn parallel(&self) -> bool {
        self.voxels() >= PARALLEL_MIN
    }

    /// A level from its conductances and losses (the diagonal follows); `coarse`: it
    /// holds its own right-hand side and solution.
    fn new(dims: [usize; 3], g: [Vec<f64>; 3], loss: Vec<f64>, coarse: bool) -> Level {
        let n = dims.iter().product();
        let own = if coarse { n } else { 0 };
        let mut level = Level {
            dims,
            g,
            loss,
            diag: vec![0.0; n],
            b: vec![0.0; own],
            x: vec![0.0; own],
            tmp: vec![0.0; n],
        };
        let mut diag = std::mem::take(&mut level.diag);
        let plane = level.plane();
        for_planes(level.parallel(), &mut diag, plane, |z, out| {
            for (l, d) in out.iter_mut().enumerate() {
                let i = z * plane + l;
                let mut sum = level.loss[i];
                level.neighbours(i, |_, g| sum += g);
                *d = sum;
            }
        });
        level.diag = diag;
        level
    }

    /// Calls `f(j, g)` for each neighbour j of voxel i with its face conductance, in the
    /// order x−, x+, y−, y+, z−, z+.
    #[inline(always)]
    fn neighbours(&self, i: usize, mut f: impl FnMut(usize, f64)) {
        let [nx, ny, nz] = self.dims;
        let x = i % nx;
        let y = (i / nx) % ny;
        let z = i / (nx * ny);
        let strides = [1, nx, nx * ny];
        let at = [x, y, z];
        let ends = [nx, ny, nz];
        for a in 0..3 {
            if at[a] > 0 {
                let j = i - strides[a];
                f(j, self.g[a][j]);
            }
            if at[a] + 1 < ends[a] {
                f(i + strides[a], self.g[a][i]);
            }
        }
    }

    /// `out = b − A x` (or `A x` when `b` is None).
    fn residual(&self, b: Option<&[f64]>, x: &[f64], out: &mut [f64]) {
        let plane = self.plane();
        for_planes(self.parallel(), out, plane, |z, out| {
            for (l, o) in out.iter_mut().enumerate() {
                let i = z * plane + l;
                let mut ax = self.diag[i] * x[i];
                self.neighbours(i, |j, g| ax -= g * x[j]);
                *o = b.map_or(ax, |b| b[i] - ax);
            }
        });
    }

    /// One Gauss–Seidel half-sweep over the voxels of one colour ((x + y + z) even or
    /// odd): each takes the value that zeroes its residual, given its neighbours (all of
    /// the other colour). `tmp` is scratch.
    fn smooth(&self, b: &[f64], x: &mut [f64], tmp: &mut [f64], colour: usize) {
        let nx = self.dims[0];
        let plane = self.plane();
        {
            let x: &[f64] = x;
            for_planes(self.parallel(), tmp, plane, |z, out| {
                for (l, o) in out.iter_mut().enumerate() {
                    let i = z * plane + l;
                    *o = if (l % nx + l / nx + z) % 2 == colour && self.diag[i] > 0.0 {
                        let mut sum = b[i];
                        self.neighbours(i, |j, g| sum += g * x[j]);
                        sum / self.diag[i]
                    } else {
                        x[i]
                    };
                }
            });
        }
        x.copy_from_slice(tmp);
    }

    /// The next coarser level: 2 × 2 × 2 blocks (1 wide at an odd end), Galerkin
    /// coarse operator with piecewise-constant prolongation.
    fn coarsen(&self) -> Level {
        let [nx, ny, _] = self.dims;
        let cd = self.dims.map(|n| n.div_ceil(2));
        let [cx, cy, cz] = cd;
        let n = cx * cy * cz;
        let mut loss = vec![0.0; n];
        let mut g = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        for (ci, l) in loss.iter_mut().enumerate() {
            let at = [ci % cx, (ci / cx) % cy, ci / (cx * cy)];
            let lo = at.map(|a| 2 * a);
            let hi: [usize; 3] = std::array::from_fn(|a| (2 * at[a] + 1).min(self.dims[a] - 1));
            for z in lo[2]..=hi[2] {
                for y in lo[1]..=hi[1] {
                    for x in lo[0]..=hi[0] {
                        let i = x + nx * (y + ny * z);
                        *l += self.loss[i];
                        let fine = [x, y, z];
                        for a in 0..3 {
                            if fine[a] == hi[a] {
                                g[a][ci] += self.g[a][i];
                            }
                        }
                    }
                }
            }
        }
        Level::new(cd, g, loss, true)
    }

    /// `coarse.b = Pᵀ r` (each coarse voxel sums its block's residuals).
    fn restrict(&self, r: &[f64], coarse: &mut [f64], cd: [usize; 3]) {
        let [nx, ny, _] = self.dims;
        let [cx, cy, _] = cd;
        let cplane = cx * cy;
        let par = self.parallel();
        for_planes(par, coarse, cplane, |cz, out| {
            out.fill(0.0);
            for z in 2 * cz..(2 * cz + 2).min(self.dims[2]) {
                for y in 0..ny {
                    for x in 0..nx {
                        out[x / 2 + cx * (y / 2)] += r[x + nx * (y + ny * z)];
                    }
                }
            }
        });
    }

    /// `x += P xc` (each fine voxel takes its block's correction).
    fn prolong_add(&self, xc: &[f64], cd: [usize; 3], x: &mut [f64]) {
        let [nx, ny, _] = self.dims;
        let [cx, cy, _] = cd;
        let plane = self.plane();
        for_planes(self.parallel(), x, plane, |z, out| {
            let base = cx * cy * (z / 2);
            for y in 0..ny {
                for xx in 0..nx {
                    out[xx + nx * y] += xc[base + xx / 2 + cx * (y / 2)];
                }
            }
        });
    }
}

/// One V-cycle from zero: `x ≈ A⁻¹ b` on `levels[0]`, the coarser levels below it.
fn v_cycle(levels: &mut [Level], b: &[f64], x: &mut [f64]) {
    let (level, rest) = levels.split_first_mut().expect("at least one level");
    if rest.is_empty() {
        // A single voxel: exact.
        for i in 0..x.len() {
            x[i] = if level.diag[i] > 0.0 {
                b[i] / level.diag[i]
            } else {
                0.0
            };
        }
        return;
    }
    x.fill(0.0);
    let mut tmp = std::mem::take(&mut level.tmp);
    level.smooth(b, x, &mut tmp, 0);
    level.smooth(b, x, &mut tmp, 1);
    level.residual(Some(b), x, &mut tmp);
    let coarse = &mut rest[0];
    let cd = coarse.dims;
    let mut cb = std::mem::take(&mut coarse.b);
    let mut cx = std::mem::take(&mut coarse.x);
    level.restrict(&tmp, &mut cb, cd);
    v_cycle(rest, &cb, &mut cx);
    level.prolong_add(&cx, cd, x);
    rest[0].b = cb;
    rest[0].x = cx;
    level.smooth(b, x, &mut tmp, 1);
    level.smooth(b, x, &mut tmp, 0);
    level.tmp = tmp;
}

/// The steady operator of one chemical on the run's tissue, with its multigrid
/// hierarchy and the conjugate-gradient work vectors.
#[derive(Debug)]
pub struct Operator {
    levels: Vec<Level>,
    /// The chemical's coefficients (the secretion and plasma patterns come from them).
    chem: ChemParams,
    /// Per voxel, the sum of `2 D_i / h²` over its bath faces, 1/min (the bath pattern).
    bath: Vec<f64>,
}

impl Operator {
    /// The operator of `chem` on the classes of `params.dims` (one code per voxel),
    /// with `params.h` and `params.bath_faces`.
    pub fn new(params: &Params, chem: &ChemParams, class: &[u8]) -> Operator {
        let [nx, ny, nz] = params.dims;
        let n = nx * ny * nz;
        assert_eq!(class.len(), n, "class codes for {:?}", params.dims);
        let inv_h2 = 1.0 / (params.h * params.h);
        let d = chem.diffusion;
        let face = |a: u8, b: u8| crate::model::terms::harmonic_mean(d[a as usize], d[b as usize]);
        let bath = &params.bath_faces;
        let mut g = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        let mut loss = vec![0.0; n];
        let mut bath_sum = vec![0.0; n];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * (y + ny * z);
                    let c = class[i];
                    if x + 1 < nx {
                        g[0][i] = face(c, class[i + 1]) * inv_h2;
                    }
                    if y + 1 < ny {
                        g[1][i] = face(c, class[i + nx]) * inv_h2;
                    }
                    if z + 1 < nz {
                        g[2][i] = face(c, class[i + nx * ny]) * inv_h2;
                    }
                    let faces = crate::probe::bath_count(params.dims, *bath, x, y, z);
                    let b = faces as f64 * 2.0 * d[c as usize].max(0.0) * inv_h2;
                    let c = c as usize;
                    bath_sum[i] = b;
                    loss[i] = chem.decay[c] + chem.exchange[c] + b;
                }
            }
        }
        let mut levels = vec![Level::new(params.dims, g, loss, false)];
        while levels.last().expect("a level").voxels() > 1 {
            let next = levels.last().expect("a level").coarsen();
            levels.push(next);
        }
        Operator {
            levels,
            chem: chem.clone(),
            bath: bath_sum,
        }
    }

    pub fn voxels(&self) -> usize {
        self.levels[0].voxels()
    }

    /// The right-hand side of a source pattern: σ, κ or the bath faces' `Σ 2 D_i/h²`
    /// per voxel.
    pub fn source(&self, which: Source, class: &[u8]) -> Vec<f64> {
        match which {
            Source::Secretion => class
                .iter()
                .map(|&c| self.chem.secretion[c as usize])
                .collect(),
            Source::Plasma => class
                .iter()
                .map(|&c| self.chem.exchange[c as usize])
                .collect(),
            Source::Bath => self.bath.clone(),
        }
    }

    /// `out = A x`.
    pub fn apply(&self, x: &[f64], out: &mut [f64]) {
        self.levels[0].residual(None, x, out);
    }

    /// Solves `A x = b` from `x = 0` by preconditioned conjugate gradients, until the
    /// preconditioned residual is `target` of its start (module docs).
    pub fn solve(&mut self, b: &[f64], x: &mut [f64], target: f64) -> Solve {
        let n = self.voxels();
        assert!(b.len() == n && x.len() == n, "vectors of the grid's length");
        let plane = self.levels[0].plane();
        let par = self.levels[0].parallel();
        x.fill(0.0);
        let mut r = b.to_vec();
        let mut z = vec![0.0; n];
        v_cycle(&mut self.levels, &r, &mut z);
        let mut p = z.clone();
        let mut q = vec![0.0; n];
        let mut rz = dot(par, plane, &r, &z);
        let start = rz;
        let mut solve = Solve {
            iterations: 0,
            residual: if start > 0.0 { 1.0 } else { 0.0 },
            converged: start <= 0.0,
        };
        while !solve.converged && solve.iterations < MAX_CG {
            self.apply(&p, &mut q);
            let pq = dot(par, plane, &p, &q);
            if pq.is_nan() || pq <= 0.0 {
                break;
            }
            let alpha = rz / pq;
            axpy(par, plane, alpha, &p, x);
            axpy(par, plane, -alpha, &q, &mut r);
            v_cycle(&mut self.levels, &r, &mut z);
            let next = dot(par, plane, &r, &z);
            solve.iterations += 1;
            solve.residual = (next.max(0.0) / start).sqrt();
            if solve.residual <= target {
                solve.converged = true;
                break;
            }
            let beta = next / rz;
            rz = next;
            for_planes(par, &mut p, plane, |k, out| {
                let zs = &z[k * plane..][..out.len()];
                for (p, z) in out.iter_mut().zip(zs) {
                    *p = z + beta * *p;
                }
            });
        }
        solve
    }
}

/// The responses of a quasi-steady chemical to its source patterns (module docs),
/// each solved when a level first needs it.
#[derive(Debug, Clone, Default)]
pub struct Responses {
    /// Per [`Source`] (secretion, plasma, bath): not needed yet (None), 0 everywhere
    /// (an empty vector: the pattern is 0), or the response.
    parts: [Option<Vec<f64>>; 3],
    /// The conjugate-gradient solves, per source.
    pub solves: [Option<Solve>; 3],
}

impl Responses {
    /// Solves the responses the levels need (weight not 0) and not yet known, of `chem`
    /// on the tissue `class`, each to a relative `tolerance` (its largest error below
    /// `tolerance` times its largest value); returns the iterations taken.
    pub fn ensure(
        &mut self,
        params: &Params,
        chem: &ChemParams,
        class: &[u8],
        tolerance: f64,
        levels: (f64, f64),
    ) -> u64 {
        let weights = [1.0, levels.0, levels.1];
        let mut op: Option<Operator> = None;
        let mut iterations = 0;
        for (k, &source) in SOURCES.iter().enumerate() {
            if self.parts[k].is_some() || weights[k] == 0.0 {
                continue;
            }
            let op = op.get_or_insert_with(|| Operator::new(params, chem, class));
            let b = op.source(source, class);
            if b.iter().all(|&v| v == 0.0) {
                self.parts[k] = Some(Vec::new());
                continue;
            }
            let mut x = vec![0.0; b.len()];
            let solve = op.solve(&b, &mut x, tolerance * MARGIN);
            iterations += u64::from(solve.iterations);
            self.solves[k] = Some(solve);
            self.parts[k] = Some(x);
        }
        iterations
    }

    /// Every response solved, for all three patterns (a test's or a measurement's).
    pub fn solve(params: &Params, chem: &ChemParams, class: &[u8], tolerance: f64) -> Self {
        let mut r = Responses::default();
        r.ensure(params, chem, class, tolerance, (1.0, 1.0));
        r
    }

    /// Whether every solve met its tolerance.
    pub fn converged(&self) -> bool {
        self.solves.iter().flatten().all(|s| s.converged)
    }

    /// The response to one source pattern (None: not solved, or 0 everywhere).
    pub fn part(&self, source: Source) -> Option<&[f64]> {
        let k = SOURCES.iter().position(|&s| s == source).expect("a source");
        self.parts[k].as_deref().filter(|r| !r.is_empty())
    }

    /// The steady field for the levels: `R_σ + plasma · R_plasma + bath · R_bath`, added
    /// in that order per voxel ([`Responses::ensure`] first, for these levels).
    ///
    /// # Panics
    /// If a response the levels need was not solved.
    pub fn combine(&self, plasma: f64, bath: f64, out: &mut [f64]) {
        let weights = [1.0, plasma, bath];
        for (part, w) in self.parts.iter().zip(weights) {
            assert!(w == 0.0 || part.is_some(), "a response not solved");
        }
        let chunk = 1 << 12;
        let par = out.len() >= PARALLEL_MIN;
        for_planes(par, out, chunk, |k, out| {
            out.fill(0.0);
            for (part, w) in self.parts.iter().zip(weights) {
                if let Some(r) = part.as_ref().filter(|r| !r.is_empty() && w != 0.0) {
                    let r = &r[k * chunk..][..out.len()];
                    for (o, v) in out.iter_mut().zip(r) {
                        *o += w * v;
                    }
                }
            }
        });
    }
}

/// How many source patterns of `chem` a run solves: the secretion where any class
/// secretes, the plasma pattern where any class exchanges and `routes.0` (a plasma
/// level is ever given), the bath pattern where the box has bath faces and `routes.1`.
pub fn patterns(params: &Params, chem: &ChemParams, routes: (bool, bool)) -> usize {
    let secretes = chem.secretion.iter().any(|&s| s != 0.0);
    let exchanges = chem.exchange.iter().any(|&k| k != 0.0);
    let bath = params.bath_faces.iter().any(|&b| b);
    usize::from(secretes) + usize::from(exchanges && routes.0) + usize::from(bath && routes.1)
}

/// Host bytes per voxel while a response is solved: the finest level's six f64 arrays
/// (three conductances, loss, diagonal, scratch), the coarser levels' eight (1/8 of
/// the voxels per level, 1/7 in all), the bath pattern, and the solve's six vectors
/// (right-hand side, solution, residual, preconditioned residual, direction, `A p`).
pub const SOLVE_BYTES_PER_VOXEL: usize = 6 * 8 + 8 * 8 / 7 + 8 + 6 * 8;

/// Grid sweeps of one conjugate-gradient iteration, about: the operator, two dot
/// products and three vector updates, and the V-cycle (four Gauss–Seidel half-sweeps,
/// each a pass and a copy, a residual, restriction and prolongation on the finest level,
/// and 1/7 more for the coarser ones).
pub const SWEEPS_PER_ITERATION: f64 = 20.0;

/// Iterations one response solve takes to `tolerance` on a `dims` grid, about: fitted to
/// solves on random five-class tissue with fast diffusion (D up to 3 × 10⁴ µm²/min at
/// 25 µm: 16, 24, 30 and 38 iterations to a residual of 10⁻⁸ at 8³, 16³, 32³ and 64³,
/// about 7.5 more per doubling of the grid's edge as the V-cycle gains a level), in
/// proportion to the digits of the residual target (`tolerance · MARGIN`).
pub fn expected_iterations(dims: [usize; 3], tolerance: f64) -> f64 {
    let edge = dims.iter().copied().max().unwrap_or(1).max(1) as f64;
    let at_1e8 = 16.0 + 7.5 * (edge / 8.0).log2().max(0.0);
    let digits = -(tolerance * MARGIN).clamp(1e-16, 1.0).log10();
    (at_1e8 * digits / 8.0).ceil().max(1.0)
}

/// Calls `f(k, chunk)` for each chunk of `plane` entries of `out`, in parallel or not.
fn for_planes(
    parallel: bool,
    out: &mut [f64],
    plane: usize,
    f: impl Fn(usize, &mut [f64]) + Sync + Send,
) {
    if parallel {
        out.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(k, o)| f(k, o));
    } else {
        out.chunks_mut(plane).enumerate().for_each(|(k, o)| f(k, o));
    }
}

/// `a · b`, summed per plane and the plane sums added in plane order.
fn dot(parallel: bool, plane: usize, a: &[f64], b: &[f64]) -> f64 {
    let part = |(x, y): (&[f64], &[f64])| x.iter().zip(y).map(|(x, y)| x * y).sum::<f64>();
    let sums: Vec<f64> = if parallel {
        a.par_chunks(plane)
            .zip(b.par_chunks(plane))
            .map(part)
            .collect()
    } else {
        a.chunks(plane).zip(b.chunks(plane)).map(part).collect()
    };
    sums.iter().sum()
}

/// `y += a x`.
fn axpy(parallel: bool, plane: usize, a: f64, x: &[f64], y: &mut [f64]) {
    for_planes(parallel, y, plane, |k, out| {
        let xs = &x[k * plane..][..out.len()];
        for (y, x) in out.iter_mut().zip(xs) {
            *y += a * x;
        }
    });
}
