//! ParaView files: VTK XML ImageData (`.vti`) of every field and the tissue classes,
//! one value per voxel (cell data), spacing the voxel edge in µm, origin 0; and a `.pvd`
//! collection listing them with their times (h), which ParaView opens as a time series.
//!
//! Written after VTK's "VTK XML file formats" (ImageData, appended raw data with UInt64
//! block headers, little endian): the XML header names each array and its byte offset
//! into the appended block; each array there is an 8-byte length and the raw values.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Field;
use crate::output::write_atomic;

/// How an array is stored in a `.vti` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VtiType {
    Float32,
    UInt8,
}

impl VtiType {
    fn name(self) -> &'static str {
        match self {
            VtiType::Float32 => "Float32",
            VtiType::UInt8 => "UInt8",
        }
    }

    fn bytes(self) -> usize {
        match self {
            VtiType::Float32 => 4,
            VtiType::UInt8 => 1,
        }
    }
}

/// What follows the appended arrays.
const VTI_TAIL: &[u8] = b"\n  </AppendedData>\n</VTKFile>\n";

/// A `.vti` file's text up to its appended data, for arrays of the given names and
/// types on a grid of `dims` voxels: each array then follows as an 8-byte length and
/// its raw little-endian values, in order, and then [`VTI_TAIL`].
fn vti_header(dims: [usize; 3], voxel_um: f64, time_h: f64, arrays: &[(&str, VtiType)]) -> String {
    let n = dims[0] * dims[1] * dims[2];
    let mut xml = String::new();
    xml.push_str(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"ImageData\" version=\"1.0\" \
         byte_order=\"LittleEndian\" header_type=\"UInt64\">\n",
    );
    let extent = format!("0 {} 0 {} 0 {}", dims[0], dims[1], dims[2]);
    xml.push_str(&format!(
        "  <ImageData WholeExtent=\"{extent}\" Origin=\"0 0 0\" Spacing=\"{voxel_um} {voxel_um} {voxel_um}\">\n"
    ));
    xml.push_str(&format!(
        "    <FieldData>\n      <DataArray type=\"Float64\" Name=\"TimeValue\" NumberOfTuples=\"1\" format=\"ascii\">{time_h}</DataArray>\n    </FieldData>\n"
    ));
    xml.push_str(&format!("    <Piece Extent=\"{extent}\">\n"));
    let first = arrays.first().map_or("", |a| a.0);
    xml.push_str(&format!("      <CellData Scalars=\"{first}\">\n"));
    let mut offset = 0usize;
    for (name, ty) in arrays {
        xml.push_str(&format!(
            "        <DataArray type=\"{}\" Name=\"{name}\" NumberOfComponents=\"1\" format=\"appended\" offset=\"{offset}\"/>\n",
            ty.name()
        ));
        offset += 8 + n * ty.bytes();
    }
    xml.push_str("      </CellData>\n    </Piece>\n  </ImageData>\n");
    xml.push_str("  <AppendedData encoding=\"raw\">\n   _");
    xml
}

/// The names of a snapshot's arrays in file order (the first is the default scalar)
/// and, for each field, its index in C, A, P, T, N, K order; `None` for the classes.
pub const SNAPSHOT_ARRAYS: [(&str, Option<Field>); 7] = [
    array(Field::TCells),
    array(Field::Cxcl12),
    array(Field::Amd3100),
    array(Field::AntiPd1),
    array(Field::Tumor),
    array(Field::Killed),
    ("class_0out_1liver_2tumor_3stroma_4vessel", None),
];

/// A field's array: its ParaView name ([`crate::model::FIELDS`]) and the field.
const fn array(f: Field) -> (&'static str, Option<Field>) {
    (f.info().vti_name, Some(f))
}

/// Streams a snapshot's `.vti` file of [`SNAPSHOT_ARRAYS`] and then one array per
/// species (named by `species`, their names in outputs) into `w`, each field fetched by
/// `field(f)` (f32) only when it is written, so that one field at a time is held.
pub fn write_snapshot(
    w: &mut dyn Write,
    dims: [usize; 3],
    voxel_um: f64,
    time_h: f64,
    class: &[u8],
    species: &[&str],
    field: &mut dyn FnMut(Field) -> Result<Vec<f32>>,
) -> Result<()> {
    let n = dims[0] * dims[1] * dims[2];
    let io = |e| Error::Other(format!("writing a .vti file: {e}"));
    let arrays: Vec<(&str, Option<Field>)> = SNAPSHOT_ARRAYS
        .iter()
        .copied()
        .chain(
            species
                .iter()
                .enumerate()
                .map(|(k, name)| (*name, Some(Field::Species(k as u8)))),
        )
        .collect();
    let types: Vec<(&str, VtiType)> = arrays
        .iter()
        .map(|(name, k)| {
            (
                *name,
                if k.is_some() {
                    VtiType::Float32
                } else {
                    VtiType::UInt8
                },
            )
        })
        .collect();
    w.write_all(vti_header(dims, voxel_um, time_h, &types).as_bytes())
        .map_err(io)?;
    for (name, k) in arrays {
        match k {
            Some(k) => {
                let v = field(k)?;
                assert_eq!(v.len(), n, "array {name} has the grid's size");
                w.write_all(&((4 * n) as u64).to_le_bytes()).map_err(io)?;
                for chunk in v.chunks(1 << 18) {
                    let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
                    w.write_all(&bytes).map_err(io)?;
                }
            }
            None => {
                assert_eq!(class.len(), n, "array {name} has the grid's size");
                w.write_all(&(n as u64).to_le_bytes()).map_err(io)?;
                w.write_all(class).map_err(io)?;
            }
        }
    }
    w.write_all(VTI_TAIL).map_err(io)
}

/// The time (h) stored in a `.vti` file's `TimeValue`, if it has one.
fn time_of(path: &Path) -> Option<f64> {
    let bytes = std::fs::read(path).ok()?;
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).into_owned();
    let start = head.find("Name=\"TimeValue\"")?;
    let rest = &head[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')? + open;
    rest[open..close].trim().parse().ok()
}

/// Rewrites `run.pvd` in `dir` listing every `.vti` file there, in name order, with its
/// time. Idempotent: it depends only on the files present.
pub fn write_collection(dir: &Path) -> Result<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "vti"))
        .collect();
    files.sort();
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"1.0\" byte_order=\"LittleEndian\">\n  <Collection>\n",
    );
    for f in &files {
        let t = time_of(f).unwrap_or(0.0);
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        xml.push_str(&format!(
            "    <DataSet timestep=\"{t}\" part=\"0\" file=\"{}\"/>\n",
            name.unwrap_or_default()
        ));
    }
    xml.push_str("  </Collection>\n</VTKFile>\n");
    let path = dir.join("run.pvd");
    write_atomic(&path, xml.as_bytes())?;
    Ok(path)
}
