//! Tissue geometry of a run, built once on the host: a class code per voxel and the
//! signed distance (µm) of every voxel to the tumour boundary (docs/model.md, "Domain"
//! and "Readouts").
//!
//! Three kinds, from `geometry.kind`:
//!
//! - `flc`: an ellipsoidal tumour mass in liver. Its outer shell of `capsule_um` (mass
//!   voxels whose signed distance is ≥ −capsule_um) is stroma; inside it, lamellar
//!   sheets are stroma and the rest tumour. Vessels are drawn per voxel among capsule,
//!   inner lamella and near-liver (distance ≤ `liver_band_um`) voxels. The distance is
//!   that of the whole mass.
//! - `slice`: the box is tissue; lamellar sheets are stroma, the rest tumour, no vessels
//!   and no liver. The distance is that of the tumour-class voxels.
//! - `volume`: classes read from a label map (NIfTI-1, TIFF, NRRD or raw `u8`, see
//!   `docs/tissue.md`); the distance is that of the tumour class (`boundary = "tumor"`) or of tumour, stroma and vessel (`"mass"`).
//!
//! Lamellar sheets: with unit normal `n̂`, a voxel centre `p` (µm, from the box corner,
//! `((x + ½)h, (y + ½)h, (z + ½)h)`) is in a sheet when
//! `(n̂·p + waviness_um · noise(p / waviness_wavelength_um)) mod spacing_um < thickness_um`,
//! with `noise` seeded smooth value noise in [−1, 1].
//!
//! Everything random is a hash of (seed, stream, voxel index or lattice point), so a
//! geometry is bit-identical for a seed whatever the number of threads.

mod distance;
mod formats;
mod noise;
mod synth;
mod volume;

pub use distance::signed_distance;
pub use volume::SPACING_TOLERANCE;

use crate::model::N_CLASSES;
use crate::scenario::{GeometryKind, Loaded};
use crate::Result;

/// Tissue of a run, fixed during it. Index `i = x + nx*(y + ny*z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub dims: [usize; 3],
    pub voxel_um: f64,
    /// Class code per voxel ([`crate::model::OUTSIDE`] … [`crate::model::VESSEL`]).
    pub class: Vec<u8>,
    /// Signed distance to the tumour boundary, µm, negative inside (see [`signed_distance`]).
    pub distance_um: Vec<f32>,
}

impl Geometry {
    /// Linear index of voxel (x, y, z).
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        x + self.dims[0] * (y + self.dims[1] * z)
    }

    /// Number of voxels of each class code (codes out of range are not counted).
    pub fn class_counts(&self) -> [usize; N_CLASSES] {
        let mut counts = [0; N_CLASSES];
        for &c in &self.class {
            if let Some(k) = counts.get_mut(usize::from(c)) {
                *k += 1;
            }
        }
        counts
    }
}

/// Builds the geometry a scenario describes (see the module docs). Rejects a tissue with
/// no tumour boundary to read out from: an FLC ellipsoid holding no voxel centre or all
/// of them (`geometry.flc.radii_um`), a slice whose lamellae leave no tumour or no
/// stroma voxel (`geometry.lamellae.thickness_um`), and a volume whose boundary mask is
/// empty or full. Volume file problems are [`crate::Error::Volume`].
pub fn build(loaded: &Loaded) -> Result<Geometry> {
    match loaded.scenario.geometry.kind {
        GeometryKind::Flc => synth::flc(loaded),
        GeometryKind::Slice => synth::slice(loaded),
        GeometryKind::Volume => volume::volume(loaded),
    }
}
