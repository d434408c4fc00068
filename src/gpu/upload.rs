//! What goes up to the device: the initial state (every voxel's values, or one value
//! per class and field), laid out slab by slab as the buffers hold it (halo planes,
//! padded rows), and the tissue classes packed four to a word.

use super::layout::Slab;
use super::padded_nx;
use crate::model::{Field, Fields, CHEMICALS, N_CLASSES};

/// The state a solver starts from.
#[derive(Debug, Clone, Copy)]
pub enum Initial<'a> {
    /// Every voxel's values.
    Fields(&'a Fields),
    /// One value per tissue class and field (C, A, P, T, N, K), as
    /// [`crate::model::initial_per_class`] gives: nothing of grid size on the host but
    /// the classes.
    PerClass(&'a [[f64; N_CLASSES]]),
}

/// The global index of the first voxel of row y in buffer plane zb of a slab (plane 0
/// and planes + 1 are the halos), or None outside the domain.
pub(super) fn row_start(dims: [usize; 3], slab: &Slab, zb: usize, y: usize) -> Option<usize> {
    let [nx, ny, nz] = dims;
    let z = (slab.z0 + zb).checked_sub(1)?;
    (z < nz).then_some(nx * (y + ny * z))
}

/// Field k (C, A, P, T, N, K, the species) of a slab's buffer as the device holds it: own and halo
/// planes, padded rows, f32; 0 outside the domain and in the padding.
pub(super) fn slab_values(
    dims: [usize; 3],
    slab: &Slab,
    class: &[u8],
    initial: Initial<'_>,
    k: usize,
) -> Vec<f32> {
    match initial {
        Initial::Fields(f) => slab_values_of(dims, slab, f.get(Field::at(k))),
        Initial::PerClass(table) => laid_out(dims, slab, |g| table[k][class[g] as usize] as f32),
    }
}

/// One field's values (every voxel's, f64) as a slab's buffer holds them: own and halo
/// planes, padded rows, f32; 0 outside the domain and in the padding.
pub(super) fn slab_values_of(dims: [usize; 3], slab: &Slab, values: &[f64]) -> Vec<f32> {
    laid_out(dims, slab, |g| values[g] as f32)
}

/// A slab's buffer of `value(g)` for each voxel g (global index) of its own and halo
/// planes, rows padded; 0 outside the domain and in the padding.
fn laid_out(dims: [usize; 3], slab: &Slab, value: impl Fn(usize) -> f32) -> Vec<f32> {
    let [nx, ny, _] = dims;
    let nxp = padded_nx(nx);
    let mut out = vec![0.0f32; (slab.planes + 2) * nxp * ny];
    for zb in 0..slab.planes + 2 {
        for y in 0..ny {
            if let Some(g) = row_start(dims, slab, zb, y) {
                let dst = &mut out[(zb * ny + y) * nxp..][..nx];
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = value(g + x);
                }
            }
        }
    }
    out
}

/// Which of C, A, P an initial state holds 0 in every voxel.
pub(super) fn zero_chemicals(initial: Initial<'_>) -> [bool; 3] {
    std::array::from_fn(|u| match initial {
        Initial::Fields(f) => f.get(Field::of(CHEMICALS[u])).iter().all(|&x| x == 0.0),
        Initial::PerClass(table) => table[u].iter().all(|&x| x == 0.0),
    })
}

/// A slab's tissue classes as the device holds them: four u8 codes per u32 (voxel i in
/// byte i & 3 of word i >> 2), halo planes included (0 outside the domain), padded rows.
pub(super) fn packed_classes(dims: [usize; 3], slab: &Slab, class: &[u8]) -> Vec<u32> {
    let [nx, ny, _] = dims;
    let nxp = padded_nx(nx);
    let mut packed = vec![0u32; (slab.planes + 2) * nxp * ny / 4];
    for zb in 0..slab.planes + 2 {
        for y in 0..ny {
            let Some(g) = row_start(dims, slab, zb, y) else {
                continue;
            };
            for (x, &c) in class[g..g + nx].iter().enumerate() {
                let i = (zb * ny + y) * nxp + x;
                packed[i / 4] |= u32::from(c) << (8 * (i % 4));
            }
        }
    }
    packed
}
