//! Where a snapshot's picture planes are cut ([`Slicing`]: an axis and a voxel index
//! along it) and what a solver cuts there ([`cut_fields`]): every field at the slice and
//! the maximum of T along the axis. Both solvers cut them (the GPU on the device); the
//! pictures draw them.

use serde::{Deserialize, Serialize};

use crate::model::{Field, Fields};

/// The slicing axis (the plane is perpendicular to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    X,
    Y,
    Z,
}

impl Axis {
    /// 0, 1 or 2.
    pub fn dim(self) -> usize {
        match self {
            Axis::X => 0,
            Axis::Y => 1,
            Axis::Z => 2,
        }
    }

    /// The two in-plane grid axes, (horizontal, vertical) in pictures.
    pub fn in_plane(self) -> (usize, usize) {
        match self {
            Axis::X => (1, 2),
            Axis::Y => (0, 2),
            Axis::Z => (0, 1),
        }
    }

    /// "x", "y" or "z".
    pub fn name(self) -> &'static str {
        ["x", "y", "z"][self.dim()]
    }
}

/// Where planes are cut: the grid, and the plane's axis and voxel index.
#[derive(Debug, Clone, Copy)]
pub struct Slicing {
    pub axis: Axis,
    pub slice: usize,
    pub dims: [usize; 3],
    pub voxel_um: f64,
}

impl Slicing {
    /// The plane's (width, height): voxels along its horizontal and vertical axes.
    pub fn size(&self) -> (usize, usize) {
        let (u, v) = self.axis.in_plane();
        (self.dims[u], self.dims[v])
    }

    /// The grid index of pixel (i, j) of the plane at voxel `k` along the axis.
    pub fn voxel(&self, i: usize, j: usize, k: usize) -> usize {
        let (u, v) = self.axis.in_plane();
        let mut p = [0; 3];
        p[u] = i;
        p[v] = j;
        p[self.axis.dim()] = k;
        p[0] + self.dims[0] * (p[1] + self.dims[1] * p[2])
    }

    /// The plane of the values `f(voxel index)`, row-major, horizontal axis fastest.
    pub fn plane(&self, f: impl Fn(usize) -> f32) -> Vec<f32> {
        let (w, h) = self.size();
        (0..h)
            .flat_map(|j| (0..w).map(move |i| (i, j)))
            .map(|(i, j)| f(self.voxel(i, j, self.slice)))
            .collect()
    }
}

/// Planes a solver cuts from its built-in fields: C, A, P, T, N, K at the slice and the
/// maximum of T along the axis (the first seven of `pictures::planes::PLANES`); each
/// species' plane at the slice follows them.
pub const FIELD_PLANES: usize = 7;

/// The [`FIELD_PLANES`] of f64 fields and each species' plane, rounded to f32.
pub fn cut_fields(fields: &Fields, at: &Slicing) -> Vec<Vec<f32>> {
    let (w, h) = at.size();
    let n = at.dims[at.axis.dim()];
    let mut mip = vec![0f32; w * h];
    for j in 0..h {
        for i in 0..w {
            let best = (0..n)
                .map(|k| fields.t[at.voxel(i, j, k)])
                .fold(f64::NEG_INFINITY, f64::max);
            mip[i + w * j] = best as f32;
        }
    }
    let mut out: Vec<Vec<f32>> = Field::ALL
        .iter()
        .map(|&f| {
            let f = fields.get(f);
            at.plane(|i| f[i] as f32)
        })
        .collect();
    out.push(mip);
    out.extend(
        fields
            .species
            .iter()
            .map(|(_, v)| at.plane(|i| v[i] as f32)),
    );
    out
}
