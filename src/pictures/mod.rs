//! Pictures of a run: at each snapshot the planes of every field are stored
//! (`pictures/planes/`, the state) and that snapshot's frames drawn; ParaView files
//! (`paraview/*.vti`, `run.pvd`) at the chosen snapshots; at the end every frame, the
//! time-lapses and the overview are drawn again from the stored planes with one colour
//! range per field, so frames are comparable. See README "Pictures and time-lapses".
//!
//! The driver calls [`Pictures::new`] once, [`Pictures::snapshot`] at each snapshot and
//! [`Pictures::finish`] at the end; a snapshot written again (a resumed run) replaces
//! its planes, and [`render::render_run`] depends only on the stored planes.

pub mod planes;
pub mod render;
pub mod vti;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::model::Fields;
use crate::output::write_atomic;
use crate::scenario::{Output, PlaneAxis};
use crate::solver::Solver;

pub use planes::{Axis, PlaneSpecies, Planes, Slicing, ORTHOGONAL};
pub use render::{render_run, Look, Ranges};

impl From<PlaneAxis> for Axis {
    fn from(a: PlaneAxis) -> Axis {
        match a {
            PlaneAxis::X => Axis::X,
            PlaneAxis::Y => Axis::Y,
            PlaneAxis::Z => Axis::Z,
        }
    }
}

/// The fixed colour ranges an `[output]` table sets, by plane name.
pub fn fixed_ranges(o: &Output) -> Ranges {
    let mut r = Ranges::new();
    for (key, _, range) in o.ranges() {
        if let Some([lo, hi]) = range {
            r.insert(key.to_string(), (lo, hi));
            if key == "tcells" {
                r.insert("tcells_mip".to_string(), (lo, hi));
            }
        }
    }
    r
}

/// How an `[output]` table draws the pictures: its fixed ranges, the T-cell scale and
/// whether each T-cell frame gets its own range.
pub fn look_of(o: &Output) -> Look {
    Look {
        fixed: fixed_ranges(o),
        tcells_scale: o.tcells_scale,
        tcells_per_frame: o.tcells_per_frame,
    }
}

/// Command-line changes to the `[output]` table of a run.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub no_pictures: bool,
    pub no_vti: bool,
    /// `AXIS` or `AXIS:INDEX`.
    pub plane: Option<String>,
    /// ParaView interval, min.
    pub vti_every_min: Option<f64>,
    /// `--scale`: the T-cell panels' scale.
    pub tcells_scale: Option<crate::scenario::TcellScale>,
    /// `--per-frame`: each T-cell frame in its own range.
    pub tcells_per_frame: bool,
    /// `--arrays`: the Zarr arrays of every field (`arrays.zarr/`).
    pub arrays: bool,
    /// `--no-arrays`.
    pub no_arrays: bool,
    /// `--arrays-every`: the arrays' interval, min (turns them on).
    pub arrays_every_min: Option<f64>,
}

/// Applies command-line overrides to `output`, checking them against the grid `dims`.
pub fn apply_cli(output: &mut Output, dims: [usize; 3], o: &CliOverrides) -> Result<()> {
    if o.no_pictures {
        output.pictures = false;
    }
    if o.no_vti {
        output.vti = false;
    }
    if let Some(plane) = &o.plane {
        let (axis, index) = plane.split_once(':').unwrap_or((plane, ""));
        let axis = match axis.trim() {
            "x" => PlaneAxis::X,
            "y" => PlaneAxis::Y,
            "z" => PlaneAxis::Z,
            other => {
                return Err(Error::Other(format!(
                    "--plane {plane}: the axis `{other}` is not x, y or z"
                )))
            }
        };
        let n = dims[Axis::from(axis).dim()];
        output.plane_axis = axis;
        output.plane_index = if index.trim().is_empty() {
            None
        } else {
            match index.trim().parse::<u32>() {
                Ok(i) if (i as usize) < n => Some(i),
                _ => {
                    return Err(Error::Other(format!(
                        "--plane {plane}: the index must be a whole number 0 … {} (the grid \
                         has {n} voxels along {})",
                        n.saturating_sub(1),
                        axis_name(axis)
                    )))
                }
            }
        };
    }
    if let Some(m) = o.vti_every_min {
        if !(m.is_finite() && m > 0.0) {
            return Err(Error::Other(format!(
                "--vti-every {m} min: allowed a time > 0"
            )));
        }
        output.vti_every_h = Some(m / 60.0);
    }
    if let Some(m) = o.arrays_every_min {
        if !(m.is_finite() && m > 0.0) {
            return Err(Error::Other(format!(
                "--arrays-every {m} min: allowed a time > 0"
            )));
        }
        output.arrays = true;
        output.arrays_every_h = Some(m / 60.0);
    }
    output.arrays |= o.arrays;
    if o.no_arrays {
        output.arrays = false;
    }
    if let Some(s) = o.tcells_scale {
        output.tcells_scale = s;
    }
    output.tcells_per_frame |= o.tcells_per_frame;
    Ok(())
}

fn axis_name(a: PlaneAxis) -> &'static str {
    Axis::from(a).name()
}

/// Reads `FIELD=LOW:HIGH` (a fixed colour range, `FIELD` a plane name such as
/// `tcells`).
pub fn parse_range(s: &str) -> Result<(String, (f64, f64))> {
    let names: Vec<&str> = render::FIELDS
        .iter()
        .map(|f| f.key.as_ref())
        .filter(|k| *k != "tcells_mip")
        .collect();
    let bad = |why: &str| {
        Error::Other(format!(
            "`{s}`: {why}; write FIELD=LOW:HIGH with FIELD one of {}",
            names.join(", ")
        ))
    };
    let (field, range) = s.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let field = field.trim();
    if !names.contains(&field) {
        return Err(bad(&format!("unknown field `{field}`")));
    }
    let (lo, hi) = range
        .split_once(':')
        .ok_or_else(|| bad("no `:` between LOW and HIGH"))?;
    let num = |v: &str| v.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    match (num(lo), num(hi)) {
        (Some(lo), Some(hi)) if lo < hi => Ok((field.to_string(), (lo, hi))),
        _ => Err(bad("LOW and HIGH must be finite numbers with LOW < HIGH")),
    }
}

/// Removes the picture state and ParaView files an earlier run left in `run_dir`
/// (`pictures/planes/*.plane` and `orthogonal/*.plane` there, `paraview/*.vti`,
/// `paraview/run.pvd`), so that a fresh
/// run written into a used folder (`--force`) draws its time-lapses from its own
/// snapshots only. Frames follow the planes ([`render_run`]); other files are left.
pub fn clear(run_dir: &Path) -> Result<()> {
    for (dir, ext) in [
        (run_dir.join("pictures").join("planes"), "plane"),
        (
            run_dir.join("pictures").join("planes").join(ORTHOGONAL),
            "plane",
        ),
        (run_dir.join("paraview"), "vti"),
        (run_dir.join("paraview"), "pvd"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_file() && path.extension().is_some_and(|e| e == ext) {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
    }
    Ok(())
}

/// The pictures and ParaView files of one run.
pub struct Pictures<'a> {
    run_dir: PathBuf,
    pictures: bool,
    axis: Axis,
    slice: usize,
    class: &'a [u8],
    dims: [usize; 3],
    voxel_um: f64,
    /// Whether snapshot i gets a `.vti` file.
    vti_at: Vec<bool>,
    look: Look,
    frame_ms: u16,
    /// Ranges of the snapshots seen so far (for the frames drawn during the run).
    seen: Ranges,
    /// The species the run adds: their planes and `.vti` arrays follow the built-in
    /// fields'.
    species: Vec<PlaneSpecies>,
    captions: Captions,
    /// The point the final snapshot's orthogonal planes go through (voxel indices).
    ortho_at: [usize; 3],
    /// How many snapshots the run has.
    snapshots: usize,
}

/// What the stored planes say of the run, for the pictures' titles and notes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captions {
    /// The run's name and scenario file.
    pub run: String,
    /// The planes of drugs the run never doses.
    pub undosed: Vec<String>,
}

impl<'a> Pictures<'a> {
    /// Prepares the pictures of a run writing into `run_dir`, with snapshots at
    /// `snapshot_times_min`, of the fields of a run with `species`.
    pub fn new(
        output: &Output,
        geometry: &'a Geometry,
        run_dir: &Path,
        snapshot_times_min: &[f64],
        species: Vec<PlaneSpecies>,
        captions: Captions,
    ) -> Pictures<'a> {
        let axis = Axis::from(output.plane_axis);
        let dims = geometry.dims;
        let slice = output
            .plane_index
            .map_or(dims[axis.dim()] / 2, |i| i as usize)
            .min(dims[axis.dim()].saturating_sub(1));
        let n = snapshot_times_min.len();
        let vti_at =
            crate::output::due_snapshots(output.vti, output.vti_every_h, snapshot_times_min);
        let mut ortho_at: [usize; 3] = std::array::from_fn(|d| {
            let n = dims[d];
            output
                .ortho_at_um
                .map_or(n / 2, |p| {
                    (p[d] / geometry.voxel_um).floor().max(0.0) as usize
                })
                .min(n.saturating_sub(1))
        });
        if output.ortho_at_um.is_none() {
            ortho_at[axis.dim()] = slice;
        }
        Pictures {
            captions,
            ortho_at,
            snapshots: n,
            run_dir: run_dir.to_path_buf(),
            pictures: output.pictures,
            axis,
            slice,
            class: &geometry.class,
            dims,
            voxel_um: geometry.voxel_um,
            vti_at,
            look: look_of(output),
            frame_ms: output.frame_ms.clamp(1, u16::MAX as u32) as u16,
            seen: Ranges::new(),
            species,
        }
    }

    /// Stores the planes of snapshot `index` at `t_min`, cut by `solver` (on the GPU
    /// only the planes are read back), and draws its frames (in the ranges seen so far);
    /// writes its `.vti` file if one is due, from `fields` if the caller has them, else
    /// streamed from the solver one field at a time.
    pub fn snapshot(
        &mut self,
        solver: &mut dyn Solver,
        fields: Option<&Fields>,
        t_min: f64,
        index: usize,
    ) -> Result<()> {
        if self.pictures {
            let at = Slicing {
                axis: self.axis,
                slice: self.slice,
                dims: self.dims,
                voxel_um: self.voxel_um,
            };
            let p = self.cut(solver, fields, &at, index, t_min)?;
            let pic = self.run_dir.join("pictures");
            let dir = pic.join("planes");
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            p.write(&dir)?;
            if index + 1 == self.snapshots {
                self.write_orthogonal(solver, fields, t_min, index)?;
            }
            let now = render::common_ranges([&p], &Ranges::new());
            for (k, (lo, hi)) in now {
                let e = self.seen.entry(k).or_insert((lo, hi));
                *e = (e.0.min(lo), e.1.max(hi));
            }
            let mut ranges = self.seen.clone();
            ranges.extend(self.look.fixed.clone());
            render::write_frames(&pic, &p, &ranges, &self.look)?;
        }
        if self.vti_at.get(index).copied().unwrap_or(false) {
            self.write_vti(solver, fields, t_min, index)?;
        }
        Ok(())
    }

    /// The planes of snapshot `index` at `t_min` at `at` (cut from `fields` or by the
    /// solver), with the run's captions.
    fn cut(
        &self,
        solver: &mut dyn Solver,
        fields: Option<&Fields>,
        at: &Slicing,
        index: usize,
        t_min: f64,
    ) -> Result<Planes> {
        let cut = crate::solver::planes_of(solver, fields, at)?;
        let mut p = Planes::assemble(cut, self.class, at, &self.species, index, t_min);
        p.header.run = self.captions.run.clone();
        p.header.undosed = self.captions.undosed.clone();
        Ok(p)
    }

    /// Stores the planes of the last snapshot across each axis through the point
    /// `ortho_at` (`planes/orthogonal/{x,y,z}.plane`), for the orthogonal views of
    /// `final.png`.
    fn write_orthogonal(
        &self,
        solver: &mut dyn Solver,
        fields: Option<&Fields>,
        t_min: f64,
        index: usize,
    ) -> Result<()> {
        let dir = self
            .run_dir
            .join("pictures")
            .join("planes")
            .join(ORTHOGONAL);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        for axis in [Axis::X, Axis::Y, Axis::Z] {
            let at = Slicing {
                axis,
                slice: self.ortho_at[axis.dim()],
                dims: self.dims,
                voxel_um: self.voxel_um,
            };
            let p = self.cut(solver, fields, &at, index, t_min)?;
            let path = dir.join(format!("{}.plane", axis.name()));
            write_atomic(&path, &p.to_bytes())?;
        }
        Ok(())
    }

    /// Writes snapshot `index`'s `.vti` file, streamed: from `fields` if the caller has
    /// them, else one field at a time from the solver (no host copy of every field).
    fn write_vti(
        &self,
        solver: &mut dyn Solver,
        fields: Option<&Fields>,
        t_min: f64,
        index: usize,
    ) -> Result<PathBuf> {
        let dir = self.run_dir.join("paraview");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("snapshot_{index:06}.vti"));
        let mut field = |k: crate::model::Field| crate::solver::field_f32(&mut *solver, fields, k);
        let species: Vec<&str> = self.species.iter().map(|s| s.key.as_str()).collect();
        crate::output::write_atomic_with(&path, |w| {
            vti::write_snapshot(
                w,
                self.dims,
                self.voxel_um,
                t_min / 60.0,
                self.class,
                &species,
                &mut field,
            )
        })?;
        vti::write_collection(&dir)?;
        Ok(path)
    }

    /// Draws every frame again with one range per field over all stored snapshots,
    /// and the time-lapses and overview.
    pub fn finish(&self) -> Result<()> {
        if self.pictures {
            render_run(&self.run_dir, &self.look, self.frame_ms)?;
        }
        Ok(())
    }
}
