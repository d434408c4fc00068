//! Synthetic tissue from the scenario: the in-vivo FLC tumour (ellipsoidal mass with a
//! stromal capsule, wavy lamellae and vessels, in liver) and the ex-vivo slice (tumour
//! nests between wavy lamellae filling the box).

use rayon::prelude::*;

use super::distance::signed_distance;
use super::noise::{stream_key, uniform, value_noise};
use super::Geometry;
use crate::error::{Error, Invalid, Result};
use crate::model::{LIVER, STROMA, TUMOR, VESSEL};
use crate::scenario::{Lamellae, Loaded};

/// Stream of the lamella waviness noise lattice.
const STREAM_WAVINESS: u64 = 1;
/// Stream of the per-voxel vessel draws.
const STREAM_VESSELS: u64 = 2;

/// The lamellar sheets: a point `p` (µm) is in a sheet when
/// `(n̂·p + waviness_um · noise(p / waviness_wavelength_um)) mod spacing_um < thickness_um`.
pub(crate) struct Sheets {
    normal: [f64; 3],
    spacing: f64,
    thickness: f64,
    amplitude: f64,
    inv_wavelength: f64,
    key: u64,
}

impl Sheets {
    pub(crate) fn new(l: &Lamellae, seed: u64) -> Self {
        let norm = l.normal.iter().map(|x| x * x).sum::<f64>().sqrt();
        Sheets {
            normal: l.normal.map(|x| x / norm),
            spacing: l.spacing_um,
            thickness: l.thickness_um,
            amplitude: l.waviness_um,
            inv_wavelength: 1.0 / l.waviness_wavelength_um,
            key: stream_key(seed, STREAM_WAVINESS),
        }
    }

    pub(crate) fn contains(&self, p: [f64; 3]) -> bool {
        let n = self.normal;
        let mut phase = n[0] * p[0] + n[1] * p[1] + n[2] * p[2];
        if self.amplitude != 0.0 {
            phase += self.amplitude * value_noise(self.key, p.map(|x| x * self.inv_wavelength));
        }
        phase.rem_euclid(self.spacing) < self.thickness
    }
}

/// Voxel-centre position (µm) of voxel (x, y, z).
fn centre(x: usize, y: usize, z: usize, h: f64) -> [f64; 3] {
    [
        (x as f64 + 0.5) * h,
        (y as f64 + 0.5) * h,
        (z as f64 + 0.5) * h,
    ]
}

fn grid_of(loaded: &Loaded) -> ([usize; 3], f64) {
    let g = &loaded.scenario.grid;
    ([g.nx as usize, g.ny as usize, g.nz as usize], g.voxel_um)
}

/// The in-vivo FLC tumour: see [`super::build`].
pub(crate) fn flc(loaded: &Loaded) -> Result<Geometry> {
    let g = &loaded.scenario.geometry;
    let (dims, h) = grid_of(loaded);
    let [nx, ny, nz] = dims;
    let n = nx * ny * nz;
    let c = g.flc.center_um.unwrap_or([
        0.5 * nx as f64 * h,
        0.5 * ny as f64 * h,
        0.5 * nz as f64 * h,
    ]);
    let inv_r = g.flc.radii_um.map(|r| 1.0 / r);

    let mut mass = vec![false; n];
    mass.par_chunks_mut(nx).enumerate().for_each(|(row, m)| {
        let (y, z) = (row % ny, row / ny);
        for (x, m) in m.iter_mut().enumerate() {
            let p = centre(x, y, z, h);
            let e: f64 = (0..3).map(|k| ((p[k] - c[k]) * inv_r[k]).powi(2)).sum();
            *m = e <= 1.0;
        }
    });
    let n_mass = mass.par_iter().filter(|&&b| b).count();
    if n_mass == 0 || n_mass == n {
        return Err(Error::Invalid(vec![Invalid {
            at: loaded.locate("geometry.flc.radii_um"),
            value: format!("{:?} µm around centre {c:?} µm", g.flc.radii_um),
            allowed: format!(
                "an ellipsoid holding some but not all voxel centres of the {nx}×{ny}×{nz} box \
                 of {h} µm voxels, to leave liver around the tumour (it holds {})",
                if n_mass == 0 { "none" } else { "all" }
            ),
        }]));
    }

    let distance = signed_distance(dims, h, &mass);
    // 1 marks the mass; the loop below sets the final classes.
    let mut class: Vec<u8> = mass.into_iter().map(u8::from).collect();

    let sheets = Sheets::new(&g.lamellae, g.seed);
    let vkey = stream_key(g.seed, STREAM_VESSELS);
    let v = &g.vessels;
    let capsule = g.flc.capsule_um;
    class
        .par_chunks_mut(nx)
        .zip(distance.par_chunks(nx))
        .enumerate()
        .for_each(|(row, (cl, d))| {
            let (y, z) = (row % ny, row / ny);
            for x in 0..nx {
                let i = (row * nx + x) as u64;
                let d = f64::from(d[x]);
                let vessel = |fraction: f64| uniform(vkey, i) < fraction;
                cl[x] = if cl[x] == 0 {
                    if d <= v.liver_band_um && vessel(v.fraction_liver) {
                        VESSEL
                    } else {
                        LIVER
                    }
                } else if d >= -capsule {
                    if vessel(v.fraction_margin) {
                        VESSEL
                    } else {
                        STROMA
                    }
                } else if sheets.contains(centre(x, y, z, h)) {
                    if vessel(v.fraction_stroma) {
                        VESSEL
                    } else {
                        STROMA
                    }
                } else {
                    TUMOR
                };
            }
        });
    Ok(Geometry {
        dims,
        voxel_um: h,
        class,
        distance_um: distance,
    })
}

/// The ex-vivo slice: see [`super::build`].
pub(crate) fn slice(loaded: &Loaded) -> Result<Geometry> {
    let g = &loaded.scenario.geometry;
    let (dims, h) = grid_of(loaded);
    let [nx, ny, nz] = dims;
    let n = nx * ny * nz;
    let sheets = Sheets::new(&g.lamellae, g.seed);

    let mut tumour = vec![false; n];
    tumour.par_chunks_mut(nx).enumerate().for_each(|(row, t)| {
        let (y, z) = (row % ny, row / ny);
        for (x, t) in t.iter_mut().enumerate() {
            *t = !sheets.contains(centre(x, y, z, h));
        }
    });
    let n_tumour = tumour.par_iter().filter(|&&b| b).count();
    if n_tumour == 0 || n_tumour == n {
        return Err(Error::Invalid(vec![Invalid {
            at: loaded.locate("geometry.lamellae.thickness_um"),
            value: format!("{}", g.lamellae.thickness_um),
            allowed: format!(
                "lamellae leaving both tumour and stroma voxels in the {nx}×{ny}×{nz} slice \
                 (spacing_um = {}; {} of {n} voxels are tumour)",
                g.lamellae.spacing_um, n_tumour
            ),
        }]));
    }
    let distance = signed_distance(dims, h, &tumour);
    let class: Vec<u8> = tumour
        .into_iter()
        .map(|t| if t { TUMOR } else { STROMA })
        .collect();
    Ok(Geometry {
        dims,
        voxel_um: h,
        class,
        distance_um: distance,
    })
}
