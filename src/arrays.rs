//! Every field at chosen snapshots as Zarr v3 arrays: one group per run,
//! `arrays.zarr/`, which Python reads with `xarray.open_zarr` or `zarr.open_group`
//! (docs/outputs.md, "arrays.zarr").
//!
//! The group holds per field (the built-in ones of [`crate::model::FIELDS`], then each
//! species) one float32 array of shape (time, z, y, x), chunked one time step by a slab
//! of at most [`Z_CHUNK`] z planes by the whole y–x plane; the coordinates `time_h`,
//! `z_um`, `y_um`, `x_um` (voxel centres) and the tissue classes `class` (u8, (z, y, x)).
//! Chunks are stored with the `bytes` codec (little endian) and then `gzip`, under the
//! default chunk key encoding (`c/T/Z/0/0`).
//!
//! A snapshot is written atomically: its chunks go to temporary names and are renamed,
//! and only then is every array's metadata (the length of the time axis) and `time_h`
//! rewritten, each by a rename; a run stopped inside a snapshot leaves the arrays of the
//! earlier snapshots readable. A resumed run ([`Arrays::new`] with the snapshots done)
//! cuts the time axis back to the checkpoint's snapshots and continues from there.
//!
//! Written here rather than with the `zarrs` crate: `zarrs` 0.23 needs Rust 1.91 and, with
//! its default features off (filesystem store, gzip), brings about 60 crates the
//! project does not have (futures, moka, regex, uuid, derive_more, num, …) for what is
//! here a few JSON documents and gzip-compressed chunks.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::model::{Field, Fields, Params};
use crate::output::write_atomic;
use crate::scenario::Output;
use crate::solver::Solver;

/// The group's folder in a run's folder.
pub const DIR: &str = "arrays.zarr";

/// The most z planes a chunk holds.
pub const Z_CHUNK: usize = 16;

/// The tissue classes' codes and names (as in the `.vti` files' class array).
pub const CLASS_NAMES: [&str; 5] = ["outside", "liver", "tumor", "stroma", "vessel"];

/// Removes the arrays an earlier run left in `run_dir` (`arrays.zarr/`), so that a fresh
/// run written into a used folder (`--force`) holds its own snapshots only.
pub fn clear(run_dir: &Path) -> Result<()> {
    let dir = run_dir.join(DIR);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&dir, e)),
    }
}

/// Bytes the arrays of a run write at most (uncompressed): 4 per voxel of each of `fields`
/// at each of `snapshots`, and 1 per voxel for the classes.
pub fn bytes(voxels: f64, fields: usize, snapshots: f64) -> f64 {
    snapshots * 4.0 * fields as f64 * voxels + voxels
}

/// One array of the group: its name, its fields' row (name in words and unit).
struct FieldArray {
    field: Field,
    name: String,
    words: String,
    unit: String,
}

/// The arrays of one run.
pub struct Arrays<'a> {
    root: PathBuf,
    /// Whether snapshot i is written.
    due: Vec<bool>,
    /// The run's snapshot times, min.
    snapshot_times_min: Vec<f64>,
    /// The times in the arrays so far, h.
    written_h: Vec<f64>,
    dims: [usize; 3],
    voxel_um: f64,
    class: &'a [u8],
    fields: Vec<FieldArray>,
}

impl<'a> Arrays<'a> {
    /// The arrays of a run writing into `run_dir` with snapshots at
    /// `snapshot_times_min`, of which the first `done` are written (a resumed run; 0 for
    /// a fresh one), or `None` when `[output] arrays` is off. Writes the group, the
    /// coordinates and the classes, and the metadata of the `done` snapshots' times
    /// (removing the chunks of any later ones, which a stopped run may have left).
    pub fn new(
        output: &Output,
        geometry: &'a Geometry,
        params: &Params,
        run_dir: &Path,
        snapshot_times_min: &[f64],
        done: usize,
    ) -> Result<Option<Arrays<'a>>> {
        if !output.arrays {
            return Ok(None);
        }
        let due = crate::output::due_snapshots(true, output.arrays_every_h, snapshot_times_min);
        let written_h = snapshot_times_min
            .iter()
            .zip(&due)
            .take(done)
            .filter(|(_, d)| **d)
            .map(|(t, _)| t / 60.0)
            .collect();
        let fields = params
            .field_list()
            .into_iter()
            .map(|f| {
                let row = params.row(f);
                FieldArray {
                    field: f,
                    name: row.name,
                    words: row.words,
                    unit: row.unit,
                }
            })
            .collect();
        let a = Arrays {
            root: run_dir.join(DIR),
            due,
            snapshot_times_min: snapshot_times_min.to_vec(),
            written_h,
            dims: geometry.dims,
            voxel_um: geometry.voxel_um,
            class: &geometry.class,
            fields,
        };
        a.start()?;
        Ok(Some(a))
    }

    /// Writes the group, the coordinates, the classes and every field's metadata for the
    /// times written so far; removes the chunks of later times.
    fn start(&self) -> Result<()> {
        let [nx, ny, nz] = self.dims;
        mkdir(&self.root)?;
        write_json(
            &self.root.join("zarr.json"),
            &json!({
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {
                    "title": "infiltrate: every field at the chosen snapshots",
                    "axis_order": "time, z, y, x (x varies fastest)",
                    "voxel_um": self.voxel_um,
                    "z_chunk": Z_CHUNK,
                },
            }),
        )?;
        let centres = |n: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|i| ((i as f64 + 0.5) * self.voxel_um).to_le_bytes())
                .collect()
        };
        for (name, n, axis) in [("x_um", nx, "x"), ("y_um", ny, "y"), ("z_um", nz, "z")] {
            let dir = self.root.join(name);
            mkdir(&dir)?;
            let meta = array_meta(
                &[n],
                &[n.max(1)],
                "float64",
                json!("NaN"),
                &[axis],
                json!({
                    "long_name": format!("{axis} of the voxel centre"),
                    "units": "µm",
                }),
            );
            self.write_chunk(&dir, &["0"], &centres(n))?;
            write_json(&dir.join("zarr.json"), &meta)?;
        }
        let dir = self.root.join("class");
        mkdir(&dir)?;
        let zc = Z_CHUNK.min(nz.max(1));
        for (zi, slab) in self.slabs(self.class, 0u8).enumerate() {
            self.write_chunk(&dir, &[&zi.to_string(), "0", "0"], &slab)?;
        }
        let meaning: Vec<String> = CLASS_NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i} {n}"))
            .collect();
        write_json(
            &dir.join("zarr.json"),
            &array_meta(
                &[nz, ny, nx],
                &[zc, ny, nx],
                "uint8",
                json!(0),
                &["z", "y", "x"],
                json!({
                    "long_name": "tissue class",
                    "units": "1",
                    "flag_values": [0, 1, 2, 3, 4],
                    "flag_meanings": CLASS_NAMES.join(" "),
                    "classes": meaning.join(", "),
                    "coordinates": "z_um y_um x_um",
                }),
            ),
        )?;
        // The chunks of times past those written (a stopped run's), then the metadata.
        let t = self.written_h.len();
        for f in &self.fields {
            remove_times_from(&self.root.join(&f.name), t)?;
        }
        remove_times_from(&self.root.join("time_h"), t)?;
        self.write_metadata()
    }

    /// Writes snapshot `index` at `t_min` if it is due: every field from `fields` if the
    /// caller has them, else read from `solver` one at a time; then the metadata.
    pub fn snapshot(
        &mut self,
        solver: &mut dyn Solver,
        fields: Option<&Fields>,
        t_min: f64,
        index: usize,
    ) -> Result<()> {
        if !self.due.get(index).copied().unwrap_or(false) {
            return Ok(());
        }
        debug_assert_eq!(self.snapshot_times_min.get(index), Some(&t_min));
        let t = self.written_h.len().to_string();
        for f in &self.fields {
            let values = crate::solver::field_f32(&mut *solver, fields, f.field)?;
            let dir = self.root.join(&f.name);
            for (zi, slab) in self.slabs(&values, f32::NAN).enumerate() {
                self.write_chunk(&dir, &[&t, &zi.to_string(), "0", "0"], &slab)?;
            }
        }
        self.write_chunk(
            &self.root.join("time_h"),
            &[&t],
            &(t_min / 60.0).to_le_bytes(),
        )?;
        self.written_h.push(t_min / 60.0);
        self.write_metadata()
    }

    /// The z-slabs of a (z, y, x) array as little-endian bytes, the last one padded with
    /// `fill` to a whole chunk.
    fn slabs<'b, T: Copy + ToLe + 'b>(
        &self,
        values: &'b [T],
        fill: T,
    ) -> impl Iterator<Item = Vec<u8>> + 'b {
        let [nx, ny, nz] = self.dims;
        let plane = nx * ny;
        let zc = Z_CHUNK.min(nz.max(1));
        (0..nz.div_ceil(zc)).map(move |zi| {
            let z0 = zi * zc;
            let z1 = (z0 + zc).min(nz);
            let mut out = Vec::with_capacity(zc * plane * std::mem::size_of::<T>());
            for &v in &values[z0 * plane..z1 * plane] {
                v.put(&mut out);
            }
            for _ in (z1 - z0) * plane..zc * plane {
                fill.put(&mut out);
            }
            out
        })
    }

    /// Writes one chunk (gzip of `raw`) of the array in `dir` at chunk index `key`,
    /// atomically.
    fn write_chunk(&self, dir: &Path, key: &[&str], raw: &[u8]) -> Result<()> {
        let mut path = dir.join("c");
        for k in &key[..key.len() - 1] {
            path.push(k);
        }
        mkdir(&path)?;
        path.push(key[key.len() - 1]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        gz.write_all(raw)
            .and_then(|_| gz.try_finish())
            .map_err(|e| Error::io(&path, e))?;
        let bytes = gz.finish().map_err(|e| Error::io(&path, e))?;
        write_atomic(&path, &bytes)
    }

    /// Rewrites every field's metadata and then `time_h`'s for the times written.
    fn write_metadata(&self) -> Result<()> {
        let [nx, ny, nz] = self.dims;
        let n = self.written_h.len();
        let zc = Z_CHUNK.min(nz.max(1));
        for f in &self.fields {
            let dir = self.root.join(&f.name);
            mkdir(&dir)?;
            write_json(
                &dir.join("zarr.json"),
                &array_meta(
                    &[n, nz, ny, nx],
                    &[1, zc, ny, nx],
                    "float32",
                    json!("NaN"),
                    &["time", "z", "y", "x"],
                    json!({
                        "long_name": f.words,
                        "units": f.unit,
                        "coordinates": "time_h z_um y_um x_um",
                    }),
                ),
            )?;
        }
        let dir = self.root.join("time_h");
        mkdir(&dir)?;
        write_json(
            &dir.join("zarr.json"),
            &array_meta(
                &[n],
                &[1],
                "float64",
                json!("NaN"),
                &["time"],
                json!({
                    "long_name": "time since the start of dosing",
                    "units": "h",
                }),
            ),
        )
    }
}

/// A value stored little endian.
trait ToLe {
    fn put(self, out: &mut Vec<u8>);
}

impl ToLe for f32 {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl ToLe for u8 {
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

/// A Zarr v3 array's metadata (`zarr.json`): regular chunks, default chunk keys with
/// `/`, the `bytes` (little endian) and `gzip` codecs.
fn array_meta(
    shape: &[usize],
    chunks: &[usize],
    data_type: &str,
    fill_value: Value,
    dimension_names: &[&str],
    attributes: Value,
) -> Value {
    let codecs = json!([
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "gzip", "configuration": {"level": 1}},
    ]);
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value,
        "codecs": codecs,
        "attributes": attributes,
        "dimension_names": dimension_names,
    })
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(path, text.as_bytes())
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Removes the chunks `dir/c/T…` of an array with a time axis for every T ≥ `from`.
fn remove_times_from(dir: &Path, from: usize) -> Result<()> {
    let c = dir.join("c");
    let Ok(entries) = std::fs::read_dir(&c) else {
        return Ok(());
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let t = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<usize>().ok());
        if t.is_some_and(|t| t >= from) {
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            gone.map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}
