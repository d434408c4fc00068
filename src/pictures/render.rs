//! Pictures from stored planes: one panel per field with its colour bar, the composite
//! "virtual immunofluorescence" image, the T-cell projection, an overview of all of
//! them, numbered frames and animated PNG time-lapses. Every function here depends
//! only on the planes it is given and the colour ranges, so rendering is repeatable.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Field, Palette, STROMA};
use crate::output::write_atomic;
use crate::plot::{apng_bytes, Canvas, ColorMap, Colorbar, ImagePanel, WHITE};

use super::planes::{read_all, Planes};

/// How one stored plane is shown.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Plane name in the plane file (and folder name of its frames).
    pub key: Cow<'static, str>,
    /// Title of its panel.
    pub title: Cow<'static, str>,
    /// Name and unit shown on its colour bar.
    pub bar: Cow<'static, str>,
    pub cmap: ColorMap,
}

/// The panels of a snapshot's planes: [`FIELDS`], then each species the run adds
/// (its stored plane, titled by its name in words, its bar in its unit).
pub fn panels(p: &Planes) -> Vec<FieldSpec> {
    let species = p.header.species.iter().map(|s| FieldSpec {
        key: Cow::Owned(s.key.clone()),
        title: Cow::Owned(s.words.clone()),
        bar: Cow::Owned(format!("{} ({})", s.words, s.unit)),
        cmap: ColorMap::Viridis,
    });
    FIELDS.iter().cloned().chain(species).collect()
}

/// A field's panel, from its row of the field table: its plane, its name in words, its
/// colour-bar label and colour map.
const fn panel(f: Field) -> FieldSpec {
    let row = f.info();
    FieldSpec {
        key: Cow::Borrowed(row.plane),
        title: Cow::Borrowed(row.words),
        bar: Cow::Borrowed(row.bar),
        cmap: match row.palette {
            Palette::Viridis => ColorMap::Viridis,
            Palette::Magma => ColorMap::Magma,
        },
    }
}

/// The fields drawn as colour-mapped panels, in overview order: the field table's rows
/// (`panel`) and the T cells' maximum projection, which is no field.
pub static FIELDS: [FieldSpec; 7] = [
    panel(Field::TCells),
    FieldSpec {
        key: Cow::Borrowed("tcells_mip"),
        title: Cow::Borrowed("T cells, max. projection"),
        bar: Cow::Borrowed("T cells (cells/mm³)"),
        cmap: ColorMap::Magma,
    },
    panel(Field::Tumor),
    panel(Field::Killed),
    panel(Field::Cxcl12),
    panel(Field::Amd3100),
    panel(Field::AntiPd1),
];

/// Colours of the composite: tumour red, T cells green, stroma blue, added on black.
pub const COMPOSITE_TUMOR: [u8; 3] = [255, 0, 0];
pub const COMPOSITE_TCELLS: [u8; 3] = [0, 255, 0];
pub const COMPOSITE_STROMA: [u8; 3] = [0, 0, 255];

/// Colour range of each plane name (lo, hi).
pub type Ranges = BTreeMap<String, (f64, f64)>;

/// The common range of each field over all `sets` of planes (0 to the largest value
/// unless a value is negative), replaced by `fixed` where given. A field that is
/// constant gets a range of width 1 around it.
pub fn common_ranges<'a>(sets: impl IntoIterator<Item = &'a Planes>, fixed: &Ranges) -> Ranges {
    let mut out: Ranges = BTreeMap::new();
    for p in sets {
        for f in &panels(p) {
            if let Some(d) = p.get(&f.key) {
                let e = out
                    .entry(f.key.to_string())
                    .or_insert((0.0, f64::NEG_INFINITY));
                for v in d.iter().filter(|v| v.is_finite()) {
                    e.0 = e.0.min(*v as f64);
                    e.1 = e.1.max(*v as f64);
                }
            }
        }
    }
    for (_, r) in out.iter_mut() {
        // Also catches a field with no finite value (hi = −∞).
        if r.1.partial_cmp(&r.0) != Some(std::cmp::Ordering::Greater) {
            let c = if r.1.is_finite() { r.1 } else { 0.0 };
            *r = (c.min(0.0), c.min(0.0) + 1.0);
        }
    }
    for (k, r) in fixed {
        out.insert(k.clone(), *r);
    }
    out
}

fn range_of(ranges: &Ranges, key: &str) -> (f64, f64) {
    ranges.get(key).copied().unwrap_or((0.0, 1.0))
}

/// "t = 12.5 h" (or days from 2 d on).
pub fn time_label(t_min: f64) -> String {
    let h = t_min / 60.0;
    if h.abs() >= 48.0 {
        format!("t = {} d", crate::plot::format_number(h / 24.0))
    } else {
        format!("t = {} h", crate::plot::format_number(h))
    }
}

/// Where the plane lies: "z = 12 (125 µm)".
fn where_label(p: &Planes) -> String {
    let h = &p.header;
    format!(
        "{} = {} ({} µm)",
        h.axis.name(),
        h.slice,
        crate::plot::format_number((h.slice as f64 + 0.5) * h.voxel_um)
    )
}

/// Converts a plane (row 0 = lowest in-plane coordinate) into picture rows (row 0 at
/// the top, so that the vertical axis points up).
fn flip_rows(w: usize, h: usize, f: impl Fn(usize) -> [u8; 3]) -> Vec<[u8; 3]> {
    let mut out = Vec::with_capacity(w * h);
    for row in 0..h {
        let j = h - 1 - row;
        for i in 0..w {
            out.push(f(i + w * j));
        }
    }
    out
}

/// The panel of one field, in its range.
pub fn field_panel(p: &Planes, spec: &FieldSpec, range: (f64, f64)) -> Option<Canvas> {
    let d = p.get(&spec.key)?;
    let (w, h) = (p.header.width, p.header.height);
    let (lo, hi) = range;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let pixels = flip_rows(w, h, |i| spec.cmap.rgb((d[i] as f64 - lo) / span));
    let title = if spec.key == "tcells_mip" {
        format!("{} along {}", spec.title, p.header.axis.name())
    } else {
        format!("{}, {}", spec.title, where_label(p))
    };
    Some(
        ImagePanel {
            title,
            subtitle: time_label(p.header.time_min),
            width: w as u32,
            height: h as u32,
            pixels,
            colorbar: Some(Colorbar {
                cmap: spec.cmap,
                lo,
                hi,
                label: spec.bar.to_string(),
            }),
            pixel_um: Some(p.header.voxel_um),
            legend: vec![],
            target_px: 320,
        }
        .render(),
    )
}

/// The composite's pixels (picture rows, top first): viable tumour in red (in
/// proportion to its range), T cells in green (the square root of their share of the
/// range, as fluorescence is often shown with a gamma of 0.5, so that sparse cells
/// show), stroma in blue, added on black.
pub fn composite_pixels(p: &Planes, ranges: &Ranges) -> Vec<[u8; 3]> {
    let (w, h) = (p.header.width, p.header.height);
    let zeros = vec![0f32; w * h];
    let tumor = p.get("tumor").unwrap_or(&zeros);
    let t = p.get("tcells").unwrap_or(&zeros);
    let class = p.get("class").unwrap_or(&zeros);
    let (_, n_hi) = range_of(ranges, "tumor");
    let (_, t_hi) = range_of(ranges, "tcells");
    let unit = |v: f64, hi: f64| {
        if hi > 0.0 {
            (v / hi).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    flip_rows(w, h, |i| {
        let r = unit(tumor[i] as f64, n_hi);
        let g = unit(t[i] as f64, t_hi).sqrt();
        let b = if class[i] as u8 == STROMA { 1.0 } else { 0.0 };
        let mix = |k: usize| {
            let v = r * COMPOSITE_TUMOR[k] as f64
                + g * COMPOSITE_TCELLS[k] as f64
                + b * COMPOSITE_STROMA[k] as f64;
            v.round().min(255.0) as u8
        };
        [mix(0), mix(1), mix(2)]
    })
}

/// The composite panel ([`composite_pixels`]) with its legend and scale bar.
pub fn composite_panel(p: &Planes, ranges: &Ranges) -> Canvas {
    let (w, h) = (p.header.width, p.header.height);
    let pixels = composite_pixels(p, ranges);
    ImagePanel {
        title: format!("composite, {}", where_label(p)),
        subtitle: time_label(p.header.time_min),
        width: w as u32,
        height: h as u32,
        pixels,
        colorbar: None,
        pixel_um: Some(p.header.voxel_um),
        legend: vec![
            ("tumour".into(), COMPOSITE_TUMOR),
            ("T cells (sqrt)".into(), COMPOSITE_TCELLS),
            ("stroma".into(), COMPOSITE_STROMA),
        ],
        target_px: 320,
    }
    .render()
}

/// Every panel of one snapshot in a grid of four columns: composite first, then the
/// fields of [`FIELDS`].
pub fn overview(p: &Planes, ranges: &Ranges) -> Canvas {
    let mut shown = vec![composite_panel(p, ranges)];
    for f in &panels(p) {
        if let Some(c) = field_panel(p, f, range_of(ranges, &f.key)) {
            shown.push(c);
        }
    }
    let rows: Vec<Canvas> = shown
        .chunks(4)
        .map(|row| Canvas::hstack(row, 8, WHITE))
        .collect();
    Canvas::vstack(&rows, 8, WHITE)
}

/// What [`render_run`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub snapshots: usize,
    pub files: Vec<PathBuf>,
    pub ranges: Ranges,
}

/// Renders a run's pictures from its stored planes (`DIR/pictures/planes`) with one
/// colour range per field over all snapshots (or `fixed`): numbered frames of every
/// panel (`frames/NAME/NNNNNN.png`), the time-lapses `timelapse-composite.png` and
/// `timelapse-tcells.png` (animated PNG, `frame_ms` per frame) and `final.png` (all
/// panels of the last snapshot). Frames of snapshots without planes are removed, so
/// the result depends only on the stored planes.
pub fn render_run(run_dir: &Path, fixed: &Ranges, frame_ms: u16) -> Result<Rendered> {
    let pic = run_dir.join("pictures");
    let all = read_all(&pic.join("planes"))?;
    if all.is_empty() {
        return Ok(Rendered::default());
    }
    let ranges = common_ranges(&all, fixed);
    let mut files = Vec::new();
    let mut composite = Vec::with_capacity(all.len());
    let mut tcells = Vec::with_capacity(all.len());
    for p in &all {
        files.extend(write_frames(&pic, p, &ranges)?);
        composite.push(composite_panel(p, &ranges));
        let t = field_panel(p, &FIELDS[0], range_of(&ranges, "tcells"));
        tcells.extend(t);
    }
    let keep: Vec<String> = all.iter().map(|p| frame_name(p.header.index)).collect();
    remove_stale_frames(&pic.join("frames"), &keep)?;
    for (name, frames) in [
        ("timelapse-composite.png", &composite),
        ("timelapse-tcells.png", &tcells),
    ] {
        let path = pic.join(name);
        write_atomic(&path, &apng_bytes(frames, frame_ms))?;
        files.push(path);
    }
    let last = all.last().expect("not empty");
    let path = pic.join("final.png");
    write_atomic(&path, &overview(last, &ranges).png_bytes())?;
    files.push(path);
    Ok(Rendered {
        snapshots: all.len(),
        files,
        ranges,
    })
}

fn frame_name(index: usize) -> String {
    format!("{index:06}.png")
}

/// Writes the frames of one snapshot (`frames/NAME/NNNNNN.png`) in `ranges`.
pub fn write_frames(pic: &Path, p: &Planes, ranges: &Ranges) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut put = |name: &str, c: Canvas| -> Result<()> {
        let dir = pic.join("frames").join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(frame_name(p.header.index));
        write_atomic(&path, &c.png_bytes())?;
        out.push(path);
        Ok(())
    };
    put("composite", composite_panel(p, ranges))?;
    for f in &panels(p) {
        if let Some(c) = field_panel(p, f, range_of(ranges, &f.key)) {
            put(&f.key, c)?;
        }
    }
    Ok(out)
}

/// Removes frame files whose name is not in `keep` (from an earlier, longer render).
fn remove_stale_frames(frames: &Path, keep: &[String]) -> Result<()> {
    let Ok(dirs) = std::fs::read_dir(frames) else {
        return Ok(());
    };
    for d in dirs
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
    {
        for f in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let f = f.map_err(|e| Error::io(&d, e))?.path();
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            if f.extension().is_some_and(|e| e == "png")
                && !keep.contains(&name.unwrap_or_default())
            {
                std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
            }
        }
    }
    Ok(())
}
