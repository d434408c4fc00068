//! The state of a run's pictures: at each snapshot, a 2-D plane of every field (and a
//! maximum-intensity projection of the T cells, and the tissue classes) cut from the
//! 3-D fields and stored in one small file. Pictures and time-lapses are rendered from
//! these files alone, so re-rendering is repeatable and a snapshot written again (a
//! resumed run) simply replaces its file.
//!
//! File format (`pictures/planes/NNNNNN.plane`): one line of JSON ([`PlaneHeader`]),
//! a newline, then `planes.len() × width × height` little-endian f32, plane after
//! plane, each row-major with the first in-plane axis fastest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Fields;
use crate::output::write_atomic;

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

/// The planes stored for each snapshot, in file order.
pub const PLANES: [&str; 8] = [
    "cxcl12",
    "amd3100",
    "anti_pd1",
    "tcells",
    "tumor",
    "killed",
    "tcells_mip",
    "class",
];

/// The header line of a plane file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneHeader {
    /// Format version (1).
    pub version: u32,
    /// Snapshot number (0 at time 0).
    pub index: usize,
    /// Simulated time after the start of dosing, min.
    pub time_min: f64,
    pub axis: Axis,
    /// Voxel index of the plane along `axis`.
    pub slice: usize,
    /// Grid size (x, y, z) and voxel edge (µm).
    pub dims: [usize; 3],
    pub voxel_um: f64,
    /// Plane size: voxels along the horizontal and vertical in-plane axes.
    pub width: usize,
    pub height: usize,
    /// Names of the planes that follow, in order (see [`PLANES`]).
    pub planes: Vec<String>,
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

/// Planes a solver cuts from its fields: C, A, P, T, N, K at the slice and the maximum
/// of T along the axis (the first seven of [`PLANES`]).
pub const FIELD_PLANES: usize = 7;

/// The [`FIELD_PLANES`] of f64 fields, rounded to f32.
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
    let named = fields.named();
    let mut out: Vec<Vec<f32>> = named[..6]
        .iter()
        .map(|(_, f)| at.plane(|i| f[i] as f32))
        .collect();
    out.push(mip);
    out
}

/// One snapshot's planes, read back.
#[derive(Debug, Clone)]
pub struct Planes {
    pub header: PlaneHeader,
    /// One `width × height` plane per name in `header.planes`.
    pub data: Vec<Vec<f32>>,
}

impl Planes {
    /// The plane called `name`, if stored.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.header
            .planes
            .iter()
            .position(|p| p == name)
            .map(|i| &self.data[i][..])
    }

    /// Cuts the planes of snapshot `index` at `time_min` from the fields.
    pub fn cut(fields: &Fields, class: &[u8], at: &Slicing, index: usize, time_min: f64) -> Planes {
        Planes::assemble(cut_fields(fields, at), class, at, index, time_min)
    }

    /// The planes of snapshot `index` at `time_min` from the field planes a solver cut
    /// ([`cut_fields`] or the GPU's) and the tissue classes.
    pub fn assemble(
        mut field_planes: Vec<Vec<f32>>,
        class: &[u8],
        at: &Slicing,
        index: usize,
        time_min: f64,
    ) -> Planes {
        let (w, h) = at.size();
        debug_assert_eq!(field_planes.len(), FIELD_PLANES);
        field_planes.push(at.plane(|i| f32::from(class[i])));
        Planes {
            header: PlaneHeader {
                version: 1,
                index,
                time_min,
                axis: at.axis,
                slice: at.slice,
                dims: at.dims,
                voxel_um: at.voxel_um,
                width: w,
                height: h,
                planes: PLANES.iter().map(|s| s.to_string()).collect(),
            },
            data: field_planes,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).expect("a header always serialises");
        out.push(b'\n');
        for p in &self.data {
            for v in p {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Parses a plane file's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Planes> {
        let bad = |why: &str| Error::Other(format!("{}: not a plane file ({why})", path.display()));
        let nl = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad("no header line"))?;
        let header: PlaneHeader =
            serde_json::from_slice(&bytes[..nl]).map_err(|e| bad(&e.to_string()))?;
        if header.version != 1 {
            return Err(bad(&format!(
                "version {}, this program reads 1",
                header.version
            )));
        }
        let n = header.width * header.height;
        let body = &bytes[nl + 1..];
        if body.len() != 4 * n * header.planes.len() {
            return Err(bad(&format!(
                "{} bytes of data, the header asks for {}",
                body.len(),
                4 * n * header.planes.len()
            )));
        }
        let data = body
            .chunks_exact(4 * n.max(1))
            .take(header.planes.len())
            .map(|c| {
                c.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect();
        Ok(Planes { header, data })
    }

    /// Writes the file for this snapshot into `dir` (atomically, replacing it).
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("{:06}.plane", self.header.index));
        write_atomic(&path, &self.to_bytes())?;
        Ok(path)
    }
}

/// Every plane file in `dir`, ordered by snapshot index (none if `dir` is absent).
pub fn read_all(dir: &Path) -> Result<Vec<Planes>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "plane"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(dir, e)),
    };
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        out.push(Planes::from_bytes(&bytes, &p)?);
    }
    out.sort_by_key(|p| p.header.index);
    Ok(out)
}
