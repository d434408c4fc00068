//! Signed Euclidean distance to a mask's boundary in linear time: the separable
//! Felzenszwalb–Huttenlocher squared-distance transform along x, then y, then z,
//! parallel over lines. Along x the input is binary, where the transform reduces to the
//! distance to the nearest site in the row, found by two sweeps.
//!
//! Squared distances are kept in voxel units, where they are integers: an `f32` holds
//! them exactly up to 2²⁴ (a diagonal of about 4096 voxels, so every grid up to 2048³
//! is exact). Each line is transformed by the same sequential code whatever the thread
//! that runs it, so the result is bit-identical for any rayon thread count.

use rayon::prelude::*;

/// Number of neighbouring x-lines gathered together in the strided (y and z) passes, so
/// that each gathered row touches whole cache lines.
const BLOCK: usize = 32;

/// Signed distance (µm) of every voxel to the boundary of `inside` (`true` = inside):
/// for a voxel inside, `−(distance to the nearest outside voxel centre − h/2)`; for a
/// voxel outside, `+(distance to the nearest inside voxel centre − h/2)`. So the voxels
/// either side of a face between inside and outside get `∓h/2`.
///
/// If no voxel is inside the result is `+∞` everywhere; if every voxel is inside,
/// `−∞` everywhere.
///
/// Memory: the `f32` output plus one `f32` working volume. Index `i = x + nx·(y + ny·z)`.
///
/// # Panics
/// If `inside.len() != nx·ny·nz`.
pub fn signed_distance(dims: [usize; 3], voxel_um: f64, inside: &[bool]) -> Vec<f32> {
    let n = dims[0] * dims[1] * dims[2];
    assert_eq!(
        inside.len(),
        n,
        "signed_distance: mask has {} voxels, dims {dims:?} need {n}",
        inside.len()
    );
    if n == 0 {
        return Vec::new();
    }
    if !inside.par_iter().any(|&b| b) {
        return vec![f32::INFINITY; n];
    }
    if inside.par_iter().all(|&b| b) {
        return vec![f32::NEG_INFINITY; n];
    }
    // Squared distance (voxel units) to the nearest inside centre, needed outside.
    let mut out = vec![0.0f32; n];
    squared_edt(dims, inside, true, &mut out);
    // Squared distance to the nearest outside centre, needed inside.
    let mut work = vec![0.0f32; n];
    squared_edt(dims, inside, false, &mut work);
    let h = voxel_um;
    out.par_iter_mut()
        .zip(work.par_iter())
        .zip(inside.par_iter())
        .for_each(|((o, &w), &b)| {
            *o = if b {
                -(f64::from(w).sqrt() * h - 0.5 * h) as f32
            } else {
                (f64::from(*o).sqrt() * h - 0.5 * h) as f32
            };
        });
    out
}

/// Sets `f` to the squared distance (voxel units) of every voxel to the nearest site,
/// the voxels where `mask == site`; `+∞` where there is no site.
fn squared_edt(dims: [usize; 3], mask: &[bool], site: bool, f: &mut [f32]) {
    let [nx, ny, nz] = dims;
    // x: the 1D distance along each row, by two sweeps.
    f.par_chunks_mut(nx)
        .zip(mask.par_chunks(nx))
        .for_each(|(row, m)| row_distance(m, site, row));
    // y: for each z-plane, lines of stride nx.
    strided_pass(f, nx, ny, nx, nz, nx * ny);
    // z: for each y, lines of stride nx·ny.
    strided_pass(f, nx, nz, nx * ny, ny, nx);
}

/// `out[q] = (q − p)²` for the nearest `p` with `mask[p] == site`, `+∞` if none.
fn row_distance(mask: &[bool], site: bool, out: &mut [f32]) {
    let mut last = None;
    for (q, (o, &m)) in out.iter_mut().zip(mask).enumerate() {
        if m == site {
            last = Some(q);
        }
        *o = match last {
            Some(p) => ((q - p) * (q - p)) as f32,
            None => f32::INFINITY,
        };
    }
    let mut next = None;
    for (q, (o, &m)) in out.iter_mut().zip(mask).enumerate().rev() {
        if m == site {
            next = Some(q);
        }
        if let Some(p) = next {
            *o = o.min(((p - q) * (p - q)) as f32);
        }
    }
}

/// A raw pointer shared between the workers of a strided pass, each of which touches
/// its own disjoint set of elements.
struct Shared(*mut f32);
// SAFETY: the pointer is only dereferenced at indices that no other work item touches
// (see `strided_pass`), while the `&mut` borrow it came from is held.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

/// Transforms every line `base + t·stride`, `t < len`, where `base = o·outer_stride + x`
/// for `o < n_outer`, `x < nx`. Work items are (o, block of `BLOCK` x): the block's rows
/// are copied whole into scratch (`t` major), each line transformed there with stride
/// `width`, and the rows copied back.
fn strided_pass(
    f: &mut [f32],
    nx: usize,
    len: usize,
    stride: usize,
    n_outer: usize,
    outer_stride: usize,
) {
    if len <= 1 {
        return;
    }
    let total = f.len();
    let n_blocks = nx.div_ceil(BLOCK);
    // Every index touched: o·outer_stride + x + t·stride < total, and for the two
    // passes used the triples (o, x, t) map one-to-one onto voxels, so two work items
    // (distinct (o, block)) never share an element.
    assert!((n_outer - 1) * outer_stride + (nx - 1) + (len - 1) * stride < total);
    let shared = Shared(f.as_mut_ptr());
    (0..n_outer * n_blocks).into_par_iter().for_each_init(
        || (Envelope::with_capacity(len), vec![0.0f32; BLOCK * len]),
        |(env, block), item| {
            let (o, b) = (item / n_blocks, item % n_blocks);
            let x0 = b * BLOCK;
            let width = BLOCK.min(nx - x0);
            let base = o * outer_stride + x0;
            let p = shared.ptr();
            let block = &mut block[..width * len];
            for (t, dst) in block.chunks_exact_mut(width).enumerate() {
                // SAFETY: `base + t·stride .. + width` is in bounds (asserted above) and
                // owned by this work item; `dst` is scratch of this worker.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.add(base + t * stride), dst.as_mut_ptr(), width)
                };
            }
            for j in 0..width {
                env.transform(&mut block[j..], width, len);
            }
            for (t, src) in block.chunks_exact(width).enumerate() {
                // SAFETY: as above.
                unsafe {
                    std::ptr::copy_nonoverlapping(src.as_ptr(), p.add(base + t * stride), width)
                };
            }
        },
    );
}

/// One parabola `(q − v)² + f` of the lower envelope, lowest from `zn / zd` on.
#[derive(Clone, Copy)]
struct Parabola {
    v: i64,
    f: i64,
    /// Start of its interval as the fraction `zn / zd`, `zd > 0`; unused for the first.
    zn: i64,
    zd: i64,
}

/// Scratch of the 1D transform: the lower envelope of the parabolas `(q − v)² + f(v)`.
///
/// Squared distances in voxel units are integers, so the whole transform runs in exact
/// integer arithmetic: intersections stay fractions and are compared by
/// cross-multiplication (no rounding, no division). `i64` holds every product for lines
/// of up to about 10⁶ voxels.
struct Envelope {
    parabolas: Vec<Parabola>,
}

impl Envelope {
    fn with_capacity(n: usize) -> Self {
        Envelope {
            parabolas: Vec::with_capacity(n),
        }
    }

    /// In place on the line `data[q·stride]`, `q < len`:
    /// `line[q] = min_p ((q − p)² + line[p])` over the finite `line[p]` (which must be
    /// non-negative integers); a line with no finite value stays as it is.
    fn transform(&mut self, data: &mut [f32], stride: usize, len: usize) {
        let env = &mut self.parabolas;
        env.clear();
        for (q, &fq) in data.iter().step_by(stride).take(len).enumerate() {
            if !fq.is_finite() {
                continue;
            }
            let (q, fq) = (q as i64, fq as i64);
            loop {
                let Some(last) = env.last() else {
                    env.push(Parabola {
                        v: q,
                        f: fq,
                        zn: 0,
                        zd: 1,
                    });
                    break;
                };
                let p = last.v;
                // Where the new parabola drops below the last: s = zn / zd.
                let zn = (fq + q * q) - (last.f + p * p);
                let zd = 2 * (q - p);
                // The first parabola starts at −∞ and is never removed.
                if env.len() > 1 && zn * last.zd <= last.zn * zd {
                    env.pop();
                } else {
                    env.push(Parabola {
                        v: q,
                        f: fq,
                        zn,
                        zd,
                    });
                    break;
                }
            }
        }
        if env.is_empty() {
            return;
        }
        let mut k = 0;
        for (q, out) in data.iter_mut().step_by(stride).take(len).enumerate() {
            let q = q as i64;
            while k + 1 < env.len() && env[k + 1].zn < q * env[k + 1].zd {
                k += 1;
            }
            let d = q - env[k].v;
            *out = (d * d + env[k].f) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sweeps() {
        let inf = f32::INFINITY;
        let mask = [false, true, false, false, false, true, false, false];
        let mut out = [0.0; 8];
        row_distance(&mask, true, &mut out);
        assert_eq!(out, [1.0, 0.0, 1.0, 4.0, 1.0, 0.0, 1.0, 4.0]);
        row_distance(&mask, false, &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        row_distance(&[false; 3], true, &mut out[..3]);
        assert_eq!(out[..3], [inf; 3]);
    }

    #[test]
    fn one_dimensional_envelope() {
        let inf = f32::INFINITY;
        let mut env = Envelope::with_capacity(8);
        let mut line = [inf, 0.0, inf, inf, inf, 0.0, inf, inf];
        env.transform(&mut line, 1, 8);
        assert_eq!(line, [1.0, 0.0, 1.0, 4.0, 1.0, 0.0, 1.0, 4.0]);
        let mut line = [inf; 5];
        env.transform(&mut line, 1, 5);
        assert_eq!(line, [inf; 5]);
        let mut line = [3.0, inf, 0.0, inf, 9.0];
        env.transform(&mut line, 1, 5);
        assert_eq!(line, [3.0, 1.0, 0.0, 1.0, 4.0]);
        // Strided: every other value is another line, left alone.
        let mut two = [3.0, -1.0, inf, -1.0, 0.0, -1.0, inf, -1.0, 9.0];
        env.transform(&mut two, 2, 5);
        assert_eq!(two, [3.0, -1.0, 1.0, -1.0, 0.0, -1.0, 1.0, -1.0, 4.0]);
    }
}
