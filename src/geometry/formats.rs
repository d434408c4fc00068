//! Readers of the volume formats a `[geometry.volume] path` may name, chosen by the
//! file's extension: NIfTI-1 (`.nii`, `.nii.gz`), multi-page TIFF (`.tif`, `.tiff`),
//! NRRD (`.nrrd`, raw or gzip encoding) and anything else as raw `u8` (x fastest).
//!
//! Every reader returns its labels in one order, x fastest, then y, then z, with the
//! file's axes mapped to the grid's as the format's own tools show them
//! (`docs/tissue.md`):
//! - NIfTI: i → x, j → y, k → z, the data as stored (i fastest); the qform and sform
//!   orientations are not applied.
//! - TIFF: column → x, row → y (row 0, the top row a viewer shows, is y = 0), page → z.
//! - NRRD: first (fastest) axis → x, second → y, third → z; `space directions` give the
//!   voxel size only (their directions are not applied).
//! - raw: x fastest, the dimensions from the scenario.
//!
//! A reader first reads the header and hands it to the caller's check (dimensions and
//! voxel size against the scenario's grid) before reading any voxel data, so a header
//! cannot make it allocate more than the grid the scenario already allows. Compressed
//! data is decompressed no further than the header's voxel count (and one byte, to see
//! that the data ends there).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The largest header (with NIfTI extensions, a TIFF's tag values, NRRD's text lines)
/// read before the voxel data.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

pub use crate::scenario::VolumeFormat as Format;

/// What a file's header says of its grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Voxels along x, y, z (the file's axes mapped as the module says).
    pub dims: [usize; 3],
    /// Voxel edge along x, y, z in µm, where the header gives it.
    pub spacing_um: [Option<f64>; 3],
    /// Where the voxel size came from, in words (`pixdim, unit mm`).
    pub spacing_from: String,
}

impl Header {
    /// The voxel count, `None` when it overflows.
    pub fn voxels(&self) -> Option<usize> {
        self.dims[0]
            .checked_mul(self.dims[1])?
            .checked_mul(self.dims[2])
    }
}

/// A format error: what is wrong with the file, in words.
pub type FormatError = String;

/// The result of a reader: the file's labels (x fastest), or the caller's error `E`
/// from its header check, or a format error.
pub enum Failure<E> {
    Check(E),
    Format(FormatError),
}

impl<E> From<&str> for Failure<E> {
    fn from(m: &str) -> Self {
        Failure::Format(m.to_string())
    }
}

impl<E> From<FormatError> for Failure<E> {
    fn from(m: FormatError) -> Self {
        Failure::Format(m)
    }
}

/// Reads a headered file (not raw): its header, checked by `check` before any voxel
/// data is read, and its labels, x fastest.
pub fn read<E>(
    path: &Path,
    format: Format,
    check: impl FnOnce(&Header) -> Result<(), E>,
) -> Result<(Header, Vec<u32>), Failure<E>> {
    let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    match format {
        Format::Nifti { gzip: true } => nifti(
            BufReader::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
            check,
        ),
        Format::Nifti { gzip: false } => nifti(BufReader::new(file), check),
        Format::Nrrd => nrrd(BufReader::new(file), check),
        Format::Tiff => tiff(BufReader::new(file), check),
        Format::Raw => Err(Failure::Format("a raw file has no header".into())),
    }
}

/// The sample types of the formats, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sample {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl Sample {
    fn bytes(self) -> usize {
        match self {
            Sample::U8 | Sample::I8 => 1,
            Sample::U16 | Sample::I16 => 2,
            Sample::U32 | Sample::I32 | Sample::F32 => 4,
            Sample::F64 => 8,
        }
    }
}

/// Reads exactly `n` samples from `r` (reading at most one byte past them), refusing
/// less or more data, and converts them to labels: each a non-negative whole number
/// below 2³² (a float label map is accepted when its values are whole).
fn samples(
    r: impl Read,
    n: usize,
    sample: Sample,
    big_endian: bool,
) -> Result<Vec<u32>, FormatError> {
    let size = sample.bytes();
    let expected = n
        .checked_mul(size)
        .ok_or_else(|| format!("{n} voxels of {size} bytes overflow the address space"))?;
    let mut bytes = Vec::with_capacity(expected);
    r.take(expected as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read its voxel data: {e}"))?;
    if bytes.len() < expected {
        return Err(format!(
            "its voxel data is truncated: {expected} bytes expected ({n} voxels of {size} \
             bytes), {} found",
            bytes.len()
        ));
    }
    if bytes.len() > expected {
        return Err(format!(
            "it holds more voxel data than its header's {n} voxels ({expected} bytes): \
             refused, as the header does not describe the file"
        ));
    }
    let word = |c: &[u8]| -> u64 {
        let mut v = 0u64;
        if big_endian {
            for &b in c {
                v = (v << 8) | u64::from(b);
            }
        } else {
            for &b in c.iter().rev() {
                v = (v << 8) | u64::from(b);
            }
        }
        v
    };
    let mut out = Vec::with_capacity(n);
    for (i, c) in bytes.chunks_exact(size).enumerate() {
        let w = word(c);
        let v: f64 = match sample {
            Sample::U8 | Sample::U16 | Sample::U32 => w as f64,
            Sample::I8 => f64::from(w as u8 as i8),
            Sample::I16 => f64::from(w as u16 as i16),
            Sample::I32 => f64::from(w as u32 as i32),
            Sample::F32 => f64::from(f32::from_bits(w as u32)),
            Sample::F64 => f64::from_bits(w),
        };
        if !(v >= 0.0 && v <= f64::from(u32::MAX) && v.fract() == 0.0) {
            return Err(format!(
                "voxel {i} (x fastest) holds {v}: labels must be whole numbers ≥ 0"
            ));
        }
        out.push(v as u32);
    }
    Ok(out)
}

/// Length units to µm.
fn unit_um(unit: &str) -> Option<f64> {
    let u = unit.trim().trim_matches('"').to_ascii_lowercase();
    Some(match u.as_str() {
        "m" | "meter" | "metre" | "meters" | "metres" => 1e6,
        "cm" | "centimeter" | "centimetre" => 1e4,
        "mm" | "millimeter" | "millimetre" | "millimeters" | "millimetres" => 1e3,
        "um" | "µm" | "μm" | "\\u00b5m" | "micron" | "microns" | "micrometer" | "micrometre"
        | "micrometers" | "micrometres" => 1.0,
        "nm" | "nanometer" | "nanometre" => 1e-3,
        _ => return None,
    })
}

// ---- NIfTI-1 ----

/// A NIfTI-1 single file (`n+1`): the 348-byte header (either byte order), the
/// extensions up to `vox_offset` skipped, then the data, i fastest.
fn nifti<E>(
    mut r: impl BufRead,
    check: impl FnOnce(&Header) -> Result<(), E>,
) -> Result<(Header, Vec<u32>), Failure<E>> {
    let mut h = [0u8; 348];
    r.read_exact(&mut h)
        .map_err(|e| format!("cannot read its 348-byte NIfTI-1 header: {e}"))?;
    let le = i32::from_le_bytes(h[0..4].try_into().unwrap());
    let be = i32::from_be_bytes(h[0..4].try_into().unwrap());
    let big = match (le, be) {
        (348, _) => false,
        (_, 348) => true,
        (540, _) | (_, 540) => {
            return Err(Failure::Format(
                "a NIfTI-2 file: only NIfTI-1 is read (save it as NIfTI-1, e.g. nibabel's \
                 Nifti1Image)"
                    .into(),
            ))
        }
        _ => {
            return Err(Failure::Format(format!(
                "not a NIfTI-1 file: sizeof_hdr is {le}, not 348"
            )))
        }
    };
    let i16_at = |o: usize| {
        let b = [h[o], h[o + 1]];
        if big {
            i16::from_be_bytes(b)
        } else {
            i16::from_le_bytes(b)
        }
    };
    let f32_at = |o: usize| {
        let b = h[o..o + 4].try_into().unwrap();
        if big {
            f32::from_be_bytes(b)
        } else {
            f32::from_le_bytes(b)
        }
    };
    let magic = &h[344..348];
    if magic == b"ni1\0" {
        return Err(Failure::Format(
            "a NIfTI-1 header/image pair (.hdr + .img): save it as one .nii or .nii.gz file".into(),
        ));
    }
    if magic != b"n+1\0" {
        return Err(Failure::Format(format!(
            "not a NIfTI-1 file: magic {:?}, not \"n+1\"",
            String::from_utf8_lossy(magic)
        )));
    }
    let dim: Vec<i16> = (0..8).map(|k| i16_at(40 + 2 * k)).collect();
    let ndim = dim[0];
    if !(1..=7).contains(&ndim) {
        return Err(Failure::Format(format!("dim[0] = {ndim}, not 1 … 7")));
    }
    let ndim = ndim as usize;
    let mut dims = [1usize; 3];
    for k in 1..=ndim {
        let d = dim[k];
        if d < 1 {
            return Err(Failure::Format(format!("dim[{k}] = {d}, not ≥ 1")));
        }
        if k <= 3 {
            dims[k - 1] = d as usize;
        } else if d != 1 {
            return Err(Failure::Format(format!(
                "a {ndim}-dimensional image (dim[{k}] = {d}): a label volume has 3 \
                 dimensions"
            )));
        }
    }
    let datatype = i16_at(70);
    let sample = match datatype {
        2 => Sample::U8,
        4 => Sample::I16,
        8 => Sample::I32,
        16 => Sample::F32,
        64 => Sample::F64,
        256 => Sample::I8,
        512 => Sample::U16,
        768 => Sample::U32,
        other => {
            return Err(Failure::Format(format!(
                "datatype {other}: a label volume is read from uint8, int8, uint16, int16, \
                 uint32, int32, float32 or float64 (codes 2, 256, 512, 4, 768, 8, 16, 64)"
            )))
        }
    };
    let slope = f32_at(112);
    let inter = f32_at(116);
    let scaled =
        slope.is_finite() && slope != 0.0 && (slope != 1.0 || inter.is_finite() && inter != 0.0);
    if scaled {
        return Err(Failure::Format(format!(
            "its values are scaled (scl_slope {slope}, scl_inter {inter}): a label map is \
             stored unscaled"
        )));
    }
    let units = h[123] & 0x07;
    let (to_um, unit) = match units {
        0 => (1e3, "unknown, read as mm"),
        1 => (1e6, "m"),
        2 => (1e3, "mm"),
        3 => (1.0, "µm"),
        other => {
            return Err(Failure::Format(format!(
                "xyzt_units spatial code {other} is not a length unit"
            )))
        }
    };
    let spacing_um = [1, 2, 3].map(|k| {
        let p = f64::from(f32_at(76 + 4 * k).abs());
        (p.is_finite() && p > 0.0).then_some(p * to_um)
    });
    let header = Header {
        dims,
        spacing_um,
        spacing_from: format!("NIfTI pixdim[1..3], unit {unit}"),
    };
    check(&header).map_err(Failure::Check)?;
    let vox_offset = f32_at(108);
    if !(vox_offset.is_finite()
        && vox_offset >= 348.0
        && f64::from(vox_offset) <= MAX_HEADER_BYTES as f64)
    {
        return Err(Failure::Format(format!(
            "vox_offset {vox_offset} is not in [348, {MAX_HEADER_BYTES}]"
        )));
    }
    let skip = vox_offset as u64 - 348;
    let skipped = std::io::copy(&mut (&mut r).take(skip), &mut std::io::sink())
        .map_err(|e| format!("cannot read its header extensions: {e}"))?;
    if skipped < skip {
        return Err(Failure::Format(format!(
            "it ends inside its header (vox_offset {vox_offset})"
        )));
    }
    let n = header.voxels().ok_or("its dimensions overflow")?;
    let labels = samples(r, n, sample, big)?;
    Ok((header, labels))
}

// ---- NRRD ----

/// An NRRD file with its data attached: the `NRRD000n` magic, `field: value` lines up to
/// a blank line, then the data (raw or gzip), first axis fastest.
fn nrrd<E>(
    mut r: impl BufRead,
    check: impl FnOnce(&Header) -> Result<(), E>,
) -> Result<(Header, Vec<u32>), Failure<E>> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut read = 0u64;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        let got = (&mut r)
            .take(MAX_HEADER_BYTES - read)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read its NRRD header: {e}"))?;
        read += got as u64;
        if got == 0 || !line.ends_with(b"\n") {
            return Err(Failure::Format(if read >= MAX_HEADER_BYTES {
                format!("its NRRD header is longer than {MAX_HEADER_BYTES} bytes")
            } else {
                "its NRRD header does not end with a blank line before the data".into()
            }));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if first {
            if !text.starts_with("NRRD000") {
                return Err(Failure::Format(format!(
                    "not an NRRD file: its first line is {:?}, not NRRD000n",
                    text.chars().take(40).collect::<String>()
                )));
            }
            first = false;
            continue;
        }
        if text.is_empty() {
            break;
        }
        if text.starts_with('#') || text.contains(":=") {
            continue; // a comment or a key/value pair
        }
        let Some((k, v)) = text.split_once(": ") else {
            return Err(Failure::Format(format!(
                "NRRD header line {text:?} is not `field: value`"
            )));
        };
        fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    if let Some(f) = get("data file").or(get("datafile")) {
        return Err(Failure::Format(format!(
            "a detached NRRD header (data file: {f}): save the data in the .nrrd file itself"
        )));
    }
    for skip in ["line skip", "lineskip", "byte skip", "byteskip"] {
        if let Some(v) = get(skip) {
            if v != "0" {
                return Err(Failure::Format(format!(
                    "`{skip}: {v}` is not supported (only 0)"
                )));
            }
        }
    }
    let need = |k: &str| -> Result<&str, FormatError> {
        get(k).ok_or_else(|| format!("its NRRD header has no `{k}` field"))
    };
    let ty = need("type")?;
    let sample = match ty {
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => Sample::U8,
        "signed char" | "int8" | "int8_t" => Sample::I8,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => Sample::U16,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            Sample::I16
        }
        "uint" | "unsigned int" | "uint32" | "uint32_t" => Sample::U32,
        "int" | "signed int" | "int32" | "int32_t" => Sample::I32,
        "float" => Sample::F32,
        "double" => Sample::F64,
        other => {
            return Err(Failure::Format(format!(
                "type {other:?}: a label volume is read from 8-, 16- or 32-bit integers, \
                 float or double"
            )))
        }
    };
    let dimension: usize = need("dimension")?
        .parse()
        .map_err(|_| "its `dimension` is not a whole number".to_string())?;
    if !(2..=3).contains(&dimension) {
        return Err(Failure::Format(format!(
            "dimension {dimension}: a label volume has 3 dimensions (or 2, one plane)"
        )));
    }
    let sizes: Vec<usize> = need("sizes")?
        .split_whitespace()
        .map(|s| s.parse::<usize>().ok().filter(|&n| n >= 1))
        .collect::<Option<_>>()
        .ok_or("its `sizes` are not whole numbers ≥ 1")?;
    if sizes.len() != dimension {
        return Err(Failure::Format(format!(
            "{} sizes for dimension {dimension}",
            sizes.len()
        )));
    }
    let mut dims = [1usize; 3];
    dims[..dimension].copy_from_slice(&sizes);
    let gzip = match need("encoding")? {
        "raw" => false,
        "gzip" | "gz" => true,
        other => {
            return Err(Failure::Format(format!(
                "encoding {other:?}: raw and gzip are read"
            )))
        }
    };
    let big = match get("endian") {
        Some("big") => true,
        Some("little") | None => false,
        Some(other) => {
            return Err(Failure::Format(format!("endian {other:?}: little or big")));
        }
    };
    if sample.bytes() > 1 && get("endian").is_none() {
        return Err(Failure::Format(
            "its NRRD header has no `endian` field, needed for samples of more than a byte".into(),
        ));
    }
    // Units: `space units` (or `units`) per axis; none given: mm, as 3D Slicer writes.
    let units: Vec<String> = get("space units")
        .or(get("units"))
        .map(|u| {
            u.split('"')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s.to_string())
                .collect()
        })
        .unwrap_or_default();
    let unit_of = |k: usize| units.get(k).map(String::as_str).unwrap_or("mm");
    let mut spacing_um = [None; 3];
    let mut from = "none".to_string();
    if let Some(dirs) = get("space directions") {
        // `(a,b,c) (d,e,f) none …`: the length of each axis's vector.
        let mut k = 0;
        let mut axes = Vec::new();
        for word in dirs.split_whitespace() {
            if word == "none" {
                axes.push(None);
            } else if word.starts_with('(') {
                let inner = word.trim_start_matches('(').trim_end_matches(')');
                let v: Vec<f64> = inner
                    .split(',')
                    .map(|x| x.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("space directions vector {word:?} is not numbers"))?;
                axes.push(Some(v.iter().map(|x| x * x).sum::<f64>().sqrt()));
            } else {
                return Err(Failure::Format(format!(
                    "space directions entry {word:?} is not (a,b,c) or none"
                )));
            }
        }
        for a in axes.into_iter().filter(Option::is_some).take(3) {
            spacing_um[k] = a;
            k += 1;
        }
        from = "NRRD space directions".into();
    } else if let Some(sp) = get("spacings") {
        for (k, w) in sp.split_whitespace().take(3).enumerate() {
            spacing_um[k] = w.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
        }
        from = "NRRD spacings".into();
    }
    for (k, s) in spacing_um.iter_mut().enumerate() {
        if let Some(v) = s {
            let to = unit_um(unit_of(k)).ok_or_else(|| {
                format!(
                    "space unit {:?} of axis {k} is not a length unit",
                    unit_of(k)
                )
            })?;
            *v *= to;
        }
    }
    if spacing_um.iter().any(Option::is_some) {
        let u: Vec<&str> = (0..3).map(unit_of).collect();
        from = format!("{from}, units {}", u.join(" "));
    }
    let header = Header {
        dims,
        spacing_um,
        spacing_from: from,
    };
    check(&header).map_err(Failure::Check)?;
    let n = header.voxels().ok_or("its dimensions overflow")?;
    let labels = if gzip {
        samples(flate2::read::MultiGzDecoder::new(r), n, sample, big)?
    } else {
        samples(r, n, sample, big)?
    };
    Ok((header, labels))
}

// ---- TIFF ----

/// The voxel size an ImageJ or OME-XML ImageDescription, or the X/YResolution tags, give.
fn tiff_spacing(
    description: Option<&str>,
    resolution: [Option<f64>; 2],
    resolution_unit: Option<u16>,
) -> ([Option<f64>; 3], String) {
    if let Some(d) = description {
        if d.contains("<OME") {
            let attr = |name: &str| -> Option<String> {
                let at = d.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = d[at..].find('"')?;
                Some(d[at..at + end].to_string())
            };
            let mut s = [None; 3];
            let mut units = Vec::new();
            for (k, axis) in ["X", "Y", "Z"].iter().enumerate() {
                let unit = attr(&format!("PhysicalSize{axis}Unit")).unwrap_or("µm".into());
                let to = unit_um(&unit.replace("&#181;", "µ"));
                s[k] = attr(&format!("PhysicalSize{axis}"))
                    .and_then(|v| v.parse::<f64>().ok())
                    .zip(to)
                    .map(|(v, t)| v * t)
                    .filter(|v| v.is_finite() && *v > 0.0);
                units.push(unit);
            }
            return (
                s,
                format!("OME-XML PhysicalSizeX/Y/Z, units {}", units.join(" ")),
            );
        }
        if d.starts_with("ImageJ=") {
            let value = |k: &str| {
                d.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .map(str::trim)
            };
            let unit = value("unit").unwrap_or("pixel");
            if let Some(to) = unit_um(unit) {
                let xy =
                    resolution.map(|r| r.filter(|r| r.is_finite() && *r > 0.0).map(|r| to / r));
                let z = value("spacing")
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .map(|v| v * to);
                return (
                    [xy[0], xy[1], z],
                    format!("ImageJ X/YResolution and spacing=, unit={unit}"),
                );
            }
            return ([None; 3], format!("ImageJ unit={unit}, not a length"));
        }
    }
    // Plain TIFF: pixels per inch (2) or per centimetre (3); no z.
    let per = match resolution_unit {
        Some(2) => Some(25_400.0),
        Some(3) => Some(10_000.0),
        _ => None,
    };
    match per {
        Some(per) => {
            let xy = resolution.map(|r| r.filter(|r| r.is_finite() && *r > 0.0).map(|r| per / r));
            ([xy[0], xy[1], None], "TIFF X/YResolution".into())
        }
        None => ([None; 3], "none".into()),
    }
}

/// A multi-page TIFF of 8- or 16-bit grey labels: one page per z, x along a row, row 0
/// at y = 0.
fn tiff<E>(
    r: BufReader<File>,
    check: impl FnOnce(&Header) -> Result<(), E>,
) -> Result<(Header, Vec<u32>), Failure<E>> {
    use tiff::decoder::{ifd::Value, Decoder, DecodingResult, Limits};
    use tiff::tags::Tag;
    use tiff::ColorType;
    let terr = |e: tiff::TiffError| format!("cannot read it as a TIFF: {e}");
    let mut limits = Limits::default();
    limits.ifd_value_size = MAX_HEADER_BYTES as usize;
    let mut d = Decoder::new(r).map_err(terr)?.with_limits(limits.clone());
    let (w, h) = d.dimensions().map_err(terr)?;
    let description = d
        .find_tag(Tag::ImageDescription)
        .map_err(terr)?
        .and_then(|v| v.into_string().ok());
    let rational = |v: Option<Value>| match v {
        Some(Value::Rational(n, den)) if den != 0 => Some(f64::from(n) / f64::from(den)),
        Some(Value::Float(f)) => Some(f64::from(f)),
        Some(Value::Double(f)) => Some(f),
        _ => None,
    };
    let xres = rational(d.find_tag(Tag::XResolution).map_err(terr)?);
    let yres = rational(d.find_tag(Tag::YResolution).map_err(terr)?);
    let runit = d
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .map_err(terr)?;
    let (spacing_um, spacing_from) = tiff_spacing(description.as_deref(), [xres, yres], runit);
    // Count the pages (IFDs) without decoding them, up to the largest grid.
    let mut pages = 1usize;
    while d.more_images() {
        if pages > 65_536 {
            return Err(Failure::Format("more than 65536 pages".into()));
        }
        d.next_image().map_err(terr)?;
        pages += 1;
    }
    let header = Header {
        dims: [w as usize, h as usize, pages],
        spacing_um,
        spacing_from,
    };
    check(&header).map_err(Failure::Check)?;
    let per_page = (w as usize) * (h as usize);
    let n = header.voxels().ok_or("its dimensions overflow")?;
    let mut labels = Vec::with_capacity(n);
    // One page's decoded buffer at most (2 bytes a voxel).
    limits.decoding_buffer_size = per_page.saturating_mul(2).max(1);
    limits.intermediate_buffer_size = per_page.saturating_mul(2).max(1 << 16);
    let mut d = d.with_limits(limits);
    for z in 0..pages {
        d.seek_to_image(z).map_err(terr)?;
        if d.dimensions().map_err(terr)? != (w, h) {
            return Err(Failure::Format(format!(
                "page {z} is {:?} pixels, page 0 {w}×{h}: every page must have the same size",
                d.dimensions().map_err(terr)?
            )));
        }
        match d.colortype().map_err(terr)? {
            ColorType::Gray(8) | ColorType::Gray(16) => {}
            other => {
                return Err(Failure::Format(format!(
                    "page {z} is {other:?}: labels are read from 8- or 16-bit grey pages"
                )))
            }
        }
        match d.read_image().map_err(terr)? {
            DecodingResult::U8(v) if v.len() == per_page => {
                labels.extend(v.into_iter().map(u32::from))
            }
            DecodingResult::U16(v) if v.len() == per_page => {
                labels.extend(v.into_iter().map(u32::from))
            }
            _ => {
                return Err(Failure::Format(format!(
                    "page {z} did not decode to {w}×{h} 8- or 16-bit samples"
                )))
            }
        }
    }
    Ok((header, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_bytes(name: &str, bytes: &[u8]) -> Result<(Header, Vec<u32>), String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        match read(&p, Format::of(&p), |_| Ok::<(), String>(())) {
            Ok(x) => Ok(x),
            Err(Failure::Check(m)) | Err(Failure::Format(m)) => Err(m),
        }
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            Format::of(Path::new("a/T.NII.GZ")),
            Format::Nifti { gzip: true }
        );
        assert_eq!(
            Format::of(Path::new("t.nii")),
            Format::Nifti { gzip: false }
        );
        assert_eq!(Format::of(Path::new("t.tif")), Format::Tiff);
        assert_eq!(Format::of(Path::new("t.TIFF")), Format::Tiff);
        assert_eq!(Format::of(Path::new("t.nrrd")), Format::Nrrd);
        assert_eq!(Format::of(Path::new("t.raw")), Format::Raw);
        assert_eq!(Format::of(Path::new("t")), Format::Raw);
    }

    /// A 3×2×2 volume of u16 labels 0 … 11, x fastest.
    fn nrrd_file(encoding: &str, endian: &str, extra: &str) -> Vec<u8> {
        let mut data = Vec::new();
        for v in 0u16..12 {
            if endian == "big" {
                data.extend(v.to_be_bytes());
            } else {
                data.extend(v.to_le_bytes());
            }
        }
        let mut f = format!(
            "NRRD0004\n# a comment\ntype: unsigned short\ndimension: 3\nsizes: 3 2 2\n\
             space: left-posterior-superior\n\
             space directions: (0.005,0,0) (0,0.005,0) (0,0,0.005)\n\
             space units: \"mm\" \"mm\" \"mm\"\nendian: {endian}\nencoding: {encoding}\n\
             note:=anything\n{extra}\n"
        )
        .into_bytes();
        f.extend(if encoding == "gzip" { gz(&data) } else { data });
        f
    }

    #[test]
    fn nrrd_raw_and_gzip() {
        for (enc, endian) in [("raw", "little"), ("raw", "big"), ("gzip", "little")] {
            let (h, v) = read_bytes("t.nrrd", &nrrd_file(enc, endian, "")).unwrap();
            assert_eq!(h.dims, [3, 2, 2], "{enc} {endian}");
            for s in h.spacing_um {
                assert!((s.unwrap() - 5.0).abs() < 1e-9, "{:?}", h.spacing_um);
            }
            assert_eq!(v, (0..12).collect::<Vec<u32>>(), "{enc} {endian}");
        }
        // spacings in µm, uchar, 2-D.
        let mut f = b"NRRD0004\ntype: uchar\ndimension: 2\nsizes: 2 3\nspacings: 4 4\n\
                      units: \"um\" \"um\"\nencoding: raw\n\n"
            .to_vec();
        f.extend([1, 2, 3, 4, 5, 6]);
        let (h, v) = read_bytes("t.nrrd", &f).unwrap();
        assert_eq!(h.dims, [2, 3, 1]);
        assert_eq!(h.spacing_um, [Some(4.0), Some(4.0), None]);
        assert_eq!(v, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn nrrd_refusals() {
        let mut short = nrrd_file("raw", "little", "");
        short.pop();
        let m = read_bytes("t.nrrd", &short).unwrap_err();
        assert!(
            m.contains("truncated") && m.contains("24 bytes expected"),
            "{m}"
        );
        let mut long = nrrd_file("raw", "little", "");
        long.push(0);
        let m = read_bytes("t.nrrd", &long).unwrap_err();
        assert!(m.contains("more voxel data"), "{m}");
        let m = read_bytes("t.nrrd", &nrrd_file("bzip2", "little", "")).unwrap_err();
        assert!(m.contains("encoding \"bzip2\""), "{m}");
        let m =
            read_bytes("t.nrrd", &nrrd_file("raw", "little", "data file: x.raw\n")).unwrap_err();
        assert!(m.contains("detached"), "{m}");
        let m = read_bytes("t.nrrd", b"P5\n3 2\n255\n").unwrap_err();
        assert!(m.contains("not an NRRD file"), "{m}");
        // More data behind gzip than the header says: read no further than needed.
        let mut bomb =
            b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: gzip\n\n".to_vec();
        bomb.extend(gz(&vec![1u8; 1 << 20]));
        let m = read_bytes("t.nrrd", &bomb).unwrap_err();
        assert!(
            m.contains("more voxel data than its header's 8 voxels"),
            "{m}"
        );
    }

    /// A NIfTI-1 header for `dims` of `datatype`, little- or big-endian.
    pub(crate) fn nifti_header(dims: [i16; 3], datatype: i16, bitpix: i16, big: bool) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        let put16 = |h: &mut Vec<u8>, o: usize, v: i16| {
            let b = if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            h[o..o + 2].copy_from_slice(&b);
        };
        let put32 = |h: &mut Vec<u8>, o: usize, b: [u8; 4]| h[o..o + 4].copy_from_slice(&b);
        let f = |v: f32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        put32(
            &mut h,
            0,
            if big {
                348i32.to_be_bytes()
            } else {
                348i32.to_le_bytes()
            },
        );
        put16(&mut h, 40, 3);
        for (k, &d) in dims.iter().enumerate() {
            put16(&mut h, 42 + 2 * k, d);
        }
        for k in 3..7 {
            put16(&mut h, 42 + 2 * k, 1);
        }
        put16(&mut h, 70, datatype);
        put16(&mut h, 72, bitpix);
        for k in 1..4 {
            put32(&mut h, 76 + 4 * k, f(0.005));
        }
        put32(&mut h, 108, f(352.0));
        h[123] = 2; // mm
        h[344..348].copy_from_slice(b"n+1\0");
        h
    }

    #[test]
    fn nifti_both_byte_orders() {
        for big in [false, true] {
            let mut f = nifti_header([2, 3, 2], 512, 16, big);
            for v in 0u16..12 {
                f.extend(if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            let (h, v) = read_bytes("t.nii", &f).unwrap();
            assert_eq!(h.dims, [2, 3, 2]);
            assert!(h.spacing_um.iter().all(|s| (s.unwrap() - 5.0).abs() < 1e-4));
            assert_eq!(v, (0..12).collect::<Vec<u32>>());
            let (_, v) = read_bytes("t.nii.gz", &gz(&f)).unwrap();
            assert_eq!(v, (0..12).collect::<Vec<u32>>());
        }
    }

    #[test]
    fn nifti_truncated_and_overlong_gzip_refused() {
        let mut f = nifti_header([2, 2, 2], 2, 8, false);
        f.extend([1u8; 8]);
        let cut = gz(&f[..f.len() - 3]);
        let m = read_bytes("t.nii.gz", &cut).unwrap_err();
        assert!(
            m.contains("truncated") && m.contains("8 bytes expected") && m.contains("5 found"),
            "{m}"
        );
        // The compressed stream itself cut short.
        let whole = gz(&f);
        let m = read_bytes("t.nii.gz", &whole[..whole.len() / 2]).unwrap_err();
        assert!(!m.is_empty());
        // Header says 2×2×2, the stream holds a mebibyte more.
        let mut bomb = f.clone();
        bomb.extend(vec![0u8; 1 << 20]);
        let m = read_bytes("t.nii.gz", &gz(&bomb)).unwrap_err();
        assert!(
            m.contains("more voxel data than its header's 8 voxels"),
            "{m}"
        );
        // Floats with fractions are not labels.
        let mut fl = nifti_header([1, 1, 2], 16, 32, false);
        fl.extend(1.0f32.to_le_bytes());
        fl.extend(1.5f32.to_le_bytes());
        let m = read_bytes("t.nii", &fl).unwrap_err();
        assert!(m.contains("voxel 1") && m.contains("1.5"), "{m}");
    }

    #[test]
    fn tiff_spacing_from_metadata() {
        let (s, _) = tiff_spacing(
            Some("ImageJ=1.54f\nimages=5\nslices=5\nunit=micron\nspacing=5.0\n"),
            [Some(0.2), Some(0.2)],
            None,
        );
        assert_eq!(s, [Some(5.0), Some(5.0), Some(5.0)]);
        let (s, _) = tiff_spacing(
            Some("ImageJ=1.11a\nunit=\\u00B5m\nspacing=0.01\n"),
            [Some(100.0), Some(50.0)],
            None,
        );
        assert_eq!(s, [Some(0.01), Some(0.02), Some(0.01)]);
        let ome = "<?xml version=\"1.0\"?><OME><Image><Pixels DimensionOrder=\"XYZCT\" \
                   PhysicalSizeX=\"5.0\" PhysicalSizeY=\"5.0\" PhysicalSizeZ=\"0.005\" \
                   PhysicalSizeZUnit=\"mm\" SizeX=\"3\"/></Image></OME>";
        let (s, _) = tiff_spacing(Some(ome), [None, None], None);
        assert_eq!(s, [Some(5.0), Some(5.0), Some(5.0)]);
        let (s, _) = tiff_spacing(None, [Some(2000.0), Some(2000.0)], Some(3));
        assert_eq!(s, [Some(5.0), Some(5.0), None]);
        let (s, _) = tiff_spacing(None, [Some(72.0), Some(72.0)], Some(1));
        assert_eq!(s, [None; 3]);
    }
}
