//! Tissue classes read from a raw volume file: one `u8` class code per voxel, x fastest.

use std::path::PathBuf;

use rayon::prelude::*;

use super::distance::signed_distance;
use super::Geometry;
use crate::error::{Error, Invalid, Result};
use crate::model::{CLASS_NAMES, N_CLASSES, STROMA, TUMOR, VESSEL};
use crate::scenario::Loaded;

/// The volume geometry: see [`super::build`].
pub(crate) fn volume(loaded: &Loaded) -> Result<Geometry> {
    let s = &loaded.scenario;
    let Some(v) = s.geometry.volume.as_ref() else {
        return Err(Error::Invalid(vec![Invalid {
            at: loaded.locate("geometry.volume"),
            value: "absent".into(),
            allowed:
                "a [geometry.volume] table with path, dims and voxel_um when kind = \"volume\""
                    .into(),
        }]));
    };
    let path = PathBuf::from(&v.path);
    let fail = |message: String| Error::Volume {
        path: path.clone(),
        message,
    };
    let grid = [s.grid.nx, s.grid.ny, s.grid.nz];
    if v.dims != grid {
        return Err(Error::Invalid(vec![Invalid {
            at: loaded.locate("geometry.volume.dims"),
            value: format!("{:?}", v.dims),
            allowed: format!("the grid's [nx, ny, nz] = {grid:?}"),
        }]));
    }
    let dims = grid.map(|d| d as usize);
    let [nx, ny, nz] = dims;
    let h = s.grid.voxel_um;

    let expected = nx
        .checked_mul(ny)
        .and_then(|p| p.checked_mul(nz))
        .ok_or_else(|| fail(format!("dims {nx}×{ny}×{nz} overflow the address space")))?;
    // A regular file of the expected size, looked at before it is read: a folder, a
    // device (`/dev/zero`) or a larger file is refused, and no more than the expected
    // bytes (and one) are ever read.
    if let Some(why) = crate::scenario::not_a_file(&path, expected as u64) {
        let what = if why.contains("No such file") {
            "no such volume file".to_string()
        } else {
            format!("cannot read it as the volume file: {why}")
        };
        return Err(fail(format!(
            "{what} (named by {}; {expected} bytes expected)",
            loaded.locate("geometry.volume.path")
        )));
    }
    let mut bytes = Vec::with_capacity(expected);
    {
        use std::io::Read;
        std::fs::File::open(&path)
            .and_then(|f| f.take(expected as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| {
                fail(format!(
                    "cannot read the volume file: {e} (named by {})",
                    loaded.locate("geometry.volume.path")
                ))
            })?;
    }
    if bytes.len() != expected {
        return Err(fail(format!(
            "expected {expected} bytes (dims {nx}×{ny}×{nz}, one u8 class code per voxel, \
             x fastest), found {} bytes",
            bytes.len()
        )));
    }
    if let Some(i) = bytes
        .par_iter()
        .position_first(|&c| usize::from(c) >= N_CLASSES)
    {
        let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
        let codes: Vec<String> = CLASS_NAMES
            .iter()
            .enumerate()
            .map(|(k, name)| format!("{k} {name}"))
            .collect();
        return Err(fail(format!(
            "class code {} at voxel (x, y, z) = ({x}, {y}, {z}) (byte {i}), the first bad one; \
             allowed codes: {}",
            bytes[i],
            codes.join(", ")
        )));
    }

    let (inside, what): (Vec<bool>, &str) = match v.boundary.as_str() {
        "tumor" => (
            bytes.par_iter().map(|&c| c == TUMOR).collect(),
            "tumour (code 2)",
        ),
        "mass" => (
            bytes
                .par_iter()
                .map(|&c| c == TUMOR || c == STROMA || c == VESSEL)
                .collect(),
            "tumour, stroma or vessel (codes 2, 3, 4)",
        ),
        other => {
            return Err(Error::Invalid(vec![Invalid {
                at: loaded.locate("geometry.volume.boundary"),
                value: format!("{other:?}"),
                allowed: "\"tumor\" or \"mass\"".into(),
            }]))
        }
    };
    let n_in = inside.par_iter().filter(|&&b| b).count();
    if n_in == 0 || n_in == expected {
        return Err(fail(format!(
            "{} voxels are {what} (boundary = {:?}): the distance to the tumour boundary \
             needs voxels on both sides of it",
            if n_in == 0 { "no" } else { "all" },
            v.boundary
        )));
    }
    let distance = signed_distance(dims, h, &inside);
    Ok(Geometry {
        dims,
        voxel_um: h,
        class: bytes,
        distance_um: distance,
    })
}
