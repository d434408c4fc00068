//! ParaView files: VTK XML ImageData (`.vti`) of every field and the tissue classes,
//! one value per voxel (cell data), spacing the voxel edge in µm, origin 0; and a `.pvd`
//! collection listing them with their times (h), which ParaView opens as a time series.
//!
//! Written after VTK's "VTK XML file formats" (ImageData, appended raw data with UInt64
//! block headers, little endian): the XML header names each array and its byte offset
//! into the appended block; each array there is an 8-byte length and the raw values.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Fields;
use crate::output::write_atomic;

/// One array of a `.vti` file.
pub enum VtiArray<'a> {
    /// Stored as Float32.
    F64(&'a [f64]),
    /// Stored as UInt8.
    U8(&'a [u8]),
}

/// The bytes of a `.vti` file of `arrays` (name, values) on a grid of `dims` voxels of
/// edge `voxel_um`, with the simulated time `time_h` as its `TimeValue`.
pub fn vti_bytes(
    dims: [usize; 3],
    voxel_um: f64,
    time_h: f64,
    arrays: &[(&str, VtiArray)],
) -> Vec<u8> {
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
    let mut appended: Vec<u8> = Vec::new();
    for (name, values) in arrays {
        let (ty, bytes): (&str, Vec<u8>) = match values {
            VtiArray::F64(v) => {
                assert_eq!(v.len(), n, "array {name} has the grid's size");
                (
                    "Float32",
                    v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect(),
                )
            }
            VtiArray::U8(v) => {
                assert_eq!(v.len(), n, "array {name} has the grid's size");
                ("UInt8", v.to_vec())
            }
        };
        xml.push_str(&format!(
            "        <DataArray type=\"{ty}\" Name=\"{name}\" NumberOfComponents=\"1\" format=\"appended\" offset=\"{}\"/>\n",
            appended.len()
        ));
        appended.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        appended.extend_from_slice(&bytes);
    }
    xml.push_str("      </CellData>\n    </Piece>\n  </ImageData>\n");
    xml.push_str("  <AppendedData encoding=\"raw\">\n   _");
    let mut out = xml.into_bytes();
    out.extend_from_slice(&appended);
    out.extend_from_slice(b"\n  </AppendedData>\n</VTKFile>\n");
    out
}

/// The arrays of a snapshot: the six fields with their units in their names, and the
/// tissue class codes.
pub fn snapshot_arrays<'a>(
    fields: &'a Fields,
    class: &'a [u8],
) -> Vec<(&'static str, VtiArray<'a>)> {
    vec![
        ("T_cells_per_mm3", VtiArray::F64(&fields.t)),
        ("CXCL12_nM", VtiArray::F64(&fields.c)),
        ("AMD3100_uM", VtiArray::F64(&fields.a)),
        ("anti_PD1_nM", VtiArray::F64(&fields.p)),
        ("tumor_fraction", VtiArray::F64(&fields.n)),
        ("killed_fraction", VtiArray::F64(&fields.k)),
        (
            "class_0out_1liver_2tumor_3stroma_4vessel",
            VtiArray::U8(class),
        ),
    ]
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
