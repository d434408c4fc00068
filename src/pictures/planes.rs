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
use crate::model::{Field, Fields};
use crate::output::write_atomic;
pub use crate::slicing::{cut_fields, Axis, Slicing, FIELD_PLANES};

/// The planes stored for each snapshot, in file order: each built-in field's (its
/// `plane` in the field table, in table order), the T cells' maximum projection and the
/// tissue classes; each species' follows ([`PlaneHeader::species`]).
pub const PLANES: [&str; 8] = [
    Field::Cxcl12.info().plane,
    Field::Amd3100.info().plane,
    Field::AntiPd1.info().plane,
    Field::TCells.info().plane,
    Field::Tumor.info().plane,
    Field::Killed.info().plane,
    "tcells_mip",
    "class",
];

/// The folder beside the snapshots' planes that holds the last snapshot's planes
/// across each axis through one point (`x.plane`, `y.plane`, `z.plane`): the
/// orthogonal views of `final.png`.
pub const ORTHOGONAL: &str = "orthogonal";

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
    /// Names of the planes that follow, in order: [`PLANES`], then each species' (its
    /// name in outputs, `ifng_pM`).
    pub planes: Vec<String>,
    /// The species the run adds, whose planes follow [`PLANES`] (absent without).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub species: Vec<PlaneSpecies>,
    /// The run's name and scenario file, for the pictures' titles (absent in planes
    /// stored before titles were).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run: String,
    /// The planes of drugs the run never doses, drawn as "not dosed".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undosed: Vec<String>,
}

/// How a species' plane is named and labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneSpecies {
    /// Its plane's name (its name in outputs).
    pub key: String,
    /// Its name in words and its unit, for its panel.
    pub words: String,
    pub unit: String,
}

impl PlaneSpecies {
    /// The species of a run.
    pub fn of(params: &crate::model::Params) -> Vec<PlaneSpecies> {
        params
            .species
            .iter()
            .map(|s| PlaneSpecies {
                key: s.name.clone(),
                words: s.words.clone(),
                unit: s.unit.clone(),
            })
            .collect()
    }
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

    /// Cuts the planes of snapshot `index` at `time_min` from the fields (their species
    /// named by `species`).
    pub fn cut(
        fields: &Fields,
        class: &[u8],
        at: &Slicing,
        species: &[PlaneSpecies],
        index: usize,
        time_min: f64,
    ) -> Planes {
        Planes::assemble(cut_fields(fields, at), class, at, species, index, time_min)
    }

    /// The planes of snapshot `index` at `time_min` from the field planes a solver cut
    /// ([`cut_fields`] or the GPU's) and the tissue classes.
    pub fn assemble(
        mut field_planes: Vec<Vec<f32>>,
        class: &[u8],
        at: &Slicing,
        species: &[PlaneSpecies],
        index: usize,
        time_min: f64,
    ) -> Planes {
        let (w, h) = at.size();
        debug_assert_eq!(field_planes.len(), FIELD_PLANES + species.len());
        let species_planes = field_planes.split_off(FIELD_PLANES.min(field_planes.len()));
        field_planes.push(at.plane(|i| f32::from(class[i])));
        field_planes.extend(species_planes);
        let names = PLANES.iter().map(|s| s.to_string());
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
                planes: names.chain(species.iter().map(|s| s.key.clone())).collect(),
                species: species.to_vec(),
                run: String::new(),
                undosed: Vec::new(),
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

/// The last snapshot's orthogonal planes (`DIR/orthogonal/{x,y,z}.plane`, in that
/// order) if all three are there and of snapshot `index`; else none (a run written
/// before they were, or one whose last snapshot has not come).
pub fn read_orthogonal(dir: &Path, index: usize) -> Result<Vec<Planes>> {
    let mut out = Vec::with_capacity(3);
    for axis in ["x", "y", "z"] {
        let p = dir.join(ORTHOGONAL).join(format!("{axis}.plane"));
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io(&p, e)),
        };
        let planes = Planes::from_bytes(&bytes, &p)?;
        if planes.header.index != index {
            return Ok(vec![]);
        }
        out.push(planes);
    }
    Ok(out)
}
