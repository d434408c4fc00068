//! Tissue classes read from a volume file: raw `u8` class codes (x fastest), or a
//! NIfTI-1, TIFF or NRRD label map (see [`super::formats`]), its labels mapped to
//! classes by `[geometry.volume] labels`.

use std::path::PathBuf;

use rayon::prelude::*;

use super::distance::signed_distance;
use super::formats::{self, Failure, Format, Header};
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
    let format = Format::of(&path);
    let dims = grid.map(|d| d as usize);
    let [nx, ny, nz] = dims;
    let h = s.grid.voxel_um;

    let expected = nx
        .checked_mul(ny)
        .and_then(|p| p.checked_mul(nz))
        .ok_or_else(|| fail(format!("dims {nx}×{ny}×{nz} overflow the address space")))?;
    // A regular file, looked at before it is read: a folder, a device (`/dev/zero`) or a
    // larger file is refused. A raw file holds exactly the voxel count; a headered one at
    // most its header and 8 bytes a voxel (the widest sample, or its compressed form).
    let max = match format {
        Format::Raw => expected as u64,
        _ => formats::MAX_HEADER_BYTES.saturating_add((expected as u64).saturating_mul(8)),
    };
    if let Some(why) = crate::scenario::not_a_file(&path, max) {
        let what = if why.contains("No such file") {
            "no such volume file".to_string()
        } else {
            format!("cannot read it as the volume file: {why}")
        };
        let size = match format {
            Format::Raw => format!("{expected} bytes expected"),
            f => format!("a {} file, at most {max} bytes for this grid", f.words()),
        };
        return Err(fail(format!(
            "{what} (named by {}; {size})",
            loaded.locate("geometry.volume.path")
        )));
    }
    let labels: Vec<u32> = match format {
        Format::Raw => {
            if let Some(d) = v.dims {
                if d != grid {
                    return Err(Error::Invalid(vec![Invalid {
                        at: loaded.locate("geometry.volume.dims"),
                        value: format!("{d:?}"),
                        allowed: format!("the grid's [nx, ny, nz] = {grid:?}"),
                    }]));
                }
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
                    "expected {expected} bytes (dims {nx}×{ny}×{nz}, one u8 class code per \
                     voxel, x fastest), found {} bytes",
                    bytes.len()
                )));
            }
            bytes.into_par_iter().map(u32::from).collect()
        }
        f => match formats::read(&path, f, |header| check_header(loaded, &path, f, header)) {
            Ok((_, labels)) => labels,
            Err(Failure::Check(e)) => return Err(e),
            Err(Failure::Format(m)) => {
                return Err(fail(format!(
                    "cannot read it as a {} volume: {m} (named by {})",
                    f.words(),
                    loaded.locate("geometry.volume.path")
                )))
            }
        },
    };
    let bytes = classes(loaded, &labels, dims).map_err(fail)?;

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

/// Voxel sizes along x, y and z must agree within this fraction (of the smallest), and
/// the file's voxel size must agree with `grid.voxel_um` within it.
pub const SPACING_TOLERANCE: f64 = 0.01;

/// Checks a file's header against the scenario's grid before its data is read: the
/// dimensions against `grid.nx`, `ny`, `nz`; the voxel sizes the header gives against
/// each other (cubic voxels only) and against `grid.voxel_um`.
fn check_header(
    loaded: &Loaded,
    path: &std::path::Path,
    format: Format,
    header: &Header,
) -> Result<()> {
    let g = &loaded.scenario.grid;
    let [fx, fy, fz] = header.dims;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut bad = Vec::new();
    for (k, (key, ours)) in [("grid.nx", g.nx), ("grid.ny", g.ny), ("grid.nz", g.nz)]
        .into_iter()
        .enumerate()
    {
        if ours as usize != header.dims[k] {
            bad.push(Invalid {
                at: loaded.locate(key),
                value: ours.to_string(),
                allowed: format!(
                    "{}, the value in {file}'s {} header ({fx} × {fy} × {fz} voxels): write \
                     [grid] nx = {fx}, ny = {fy}, nz = {fz}",
                    header.dims[k],
                    format.words()
                ),
            });
        }
    }
    if let Some(d) = loaded
        .scenario
        .geometry
        .volume
        .as_ref()
        .and_then(|v| v.dims)
    {
        if d.map(|x| x as usize) != header.dims {
            bad.push(Invalid {
                at: loaded.locate("geometry.volume.dims"),
                value: format!("{d:?}"),
                allowed: format!(
                    "[{fx}, {fy}, {fz}], the dimensions in {file}'s header (or leave dims out)"
                ),
            });
        }
    }
    if !bad.is_empty() {
        return Err(Error::Invalid(bad));
    }
    let known: Vec<f64> = header.spacing_um.iter().flatten().copied().collect();
    let sizes = || {
        header
            .spacing_um
            .iter()
            .zip(["x", "y", "z"])
            .map(|(s, a)| match s {
                Some(s) => format!("{a} {} µm", round6(*s)),
                None => format!("{a} not given"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let (Some(lo), Some(hi)) = (
        known.iter().copied().reduce(f64::min),
        known.iter().copied().reduce(f64::max),
    ) {
        let lo_words = round6(lo);
        if hi > lo * (1.0 + SPACING_TOLERANCE) {
            return Err(Error::Volume {
                path: path.to_path_buf(),
                message: format!(
                    "its voxels are not cubic ({}, from {}): the grid's voxels are cubes, so \
                     voxel sizes must agree within {} %; resample the label map to cubic \
                     voxels first (nearest-neighbour, e.g. to {lo_words} µm), then name the \
                     resampled file",
                    sizes(),
                    header.spacing_from,
                    SPACING_TOLERANCE * 100.0
                ),
            });
        }
        let h = g.voxel_um;
        if (lo - h).abs() > SPACING_TOLERANCE * lo {
            return Err(Error::Invalid(vec![Invalid {
                at: loaded.locate("grid.voxel_um"),
                value: h.to_string(),
                allowed: format!(
                    "{lo_words}, the voxel size in {file}'s {} header ({}, from {}; within {} %): \
                     write [grid] voxel_um = {lo_words}",
                    format.words(),
                    sizes(),
                    header.spacing_from,
                    SPACING_TOLERANCE * 100.0
                ),
            }]));
        }
    }
    Ok(())
}

/// The class code of each voxel: its label mapped through `[geometry.volume] labels`,
/// or, without that table, the label itself, which must then be a class code 0 … 4.
fn classes(
    loaded: &Loaded,
    labels: &[u32],
    dims: [usize; 3],
) -> std::result::Result<Vec<u8>, String> {
    let v = loaded
        .scenario
        .geometry
        .volume
        .as_ref()
        .expect("a volume geometry");
    let [nx, ny, _] = dims;
    let found = || {
        let mut counts = std::collections::BTreeMap::<u32, usize>::new();
        for &l in labels {
            *counts.entry(l).or_default() += 1;
        }
        let n = counts.len();
        let mut list: Vec<String> = counts
            .iter()
            .take(24)
            .map(|(l, c)| format!("{l} ({c} voxels)"))
            .collect();
        if n > 24 {
            list.push(format!("and {} more", n - 24));
        }
        list.join(", ")
    };
    if v.labels.is_empty() {
        if let Some(i) = labels
            .par_iter()
            .position_first(|&c| c as usize >= N_CLASSES)
        {
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
            let codes: Vec<String> = CLASS_NAMES
                .iter()
                .enumerate()
                .map(|(k, name)| format!("{k} {name}"))
                .collect();
            return Err(format!(
                "class code {} at voxel (x, y, z) = ({x}, {y}, {z}) (byte {i}), the first bad \
                 one; allowed codes: {} (or map the file's labels to classes with \
                 [geometry.volume] labels = {{ {} = \"tumor\", ... }}); values found: {}",
                labels[i],
                codes.join(", "),
                labels[i],
                found()
            ));
        }
        return Ok(labels.par_iter().map(|&c| c as u8).collect());
    }
    let map: std::collections::HashMap<u32, u8> = v
        .labels
        .iter()
        .filter_map(|(k, name)| {
            let code = CLASS_NAMES.iter().position(|c| c == name)?;
            Some((k.trim().parse::<u32>().ok()?, code as u8))
        })
        .collect();
    if let Some(i) = labels.par_iter().position_first(|c| !map.contains_key(c)) {
        let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
        let listed: Vec<String> = {
            let mut k: Vec<u32> = map.keys().copied().collect();
            k.sort_unstable();
            k.iter().map(u32::to_string).collect()
        };
        return Err(format!(
            "label {} (first at voxel (x, y, z) = ({x}, {y}, {z})) is not in [geometry.volume] \
             labels (which lists {}): every label the file holds must be mapped to a class \
             (outside, liver, tumor, stroma or vessel), the background too; values found: {}",
            labels[i],
            listed.join(", "),
            found()
        ));
    }
    Ok(labels.par_iter().map(|l| map[l]).collect())
}

/// A header's voxel size for messages: six decimals at most (a NIfTI's f32 `0.01` mm
/// reads `10`, not `9.999999776482582`).
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
