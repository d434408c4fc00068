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
use crate::scenario::TcellScale;

use super::planes::{read_all, Planes};

/// How one stored plane is shown.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Plane name in the plane file (and folder name of its frames).
    pub key: Cow<'static, str>,
    /// Title of its panel.
    pub title: Cow<'static, str>,
    /// Its unit in words, under the title.
    pub unit: Cow<'static, str>,
    pub cmap: ColorMap,
}

/// The panels of a snapshot's planes: [`FIELDS`], then each species the run adds
/// (its stored plane, titled by its name in words, its bar in its unit).
pub fn panels(p: &Planes) -> Vec<FieldSpec> {
    let species = p.header.species.iter().map(|s| FieldSpec {
        key: Cow::Owned(s.key.clone()),
        title: Cow::Owned(s.words.clone()),
        unit: Cow::Owned(s.unit.clone()),
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
        unit: Cow::Borrowed(row.unit),
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
        unit: Cow::Borrowed(Field::TCells.info().unit),
        cmap: ColorMap::Magma,
    },
    panel(Field::Tumor),
    panel(Field::Killed),
    panel(Field::Cxcl12),
    panel(Field::Amd3100),
    panel(Field::AntiPd1),
];

/// Colours of the composite at the top of each channel's range: a magenta/green pair
/// that colour-blind viewers tell apart (as fluorescence images are shown for them).
/// The tissue is viable tumour magenta plus killed tumour orange (Okabe–Ito's, dimmed),
/// added on black, or stroma grey; the T cells are laid over it in green.
pub const COMPOSITE_TUMOR: [u8; 3] = [150, 0, 150];
pub const COMPOSITE_TCELLS: [u8; 3] = [0, 255, 0];
pub const COMPOSITE_KILLED: [u8; 3] = [170, 110, 0];
pub const COMPOSITE_STROMA: [u8; 3] = [90, 90, 90];

/// Colour range of each plane name (lo, hi).
pub type Ranges = BTreeMap<String, (f64, f64)>;

/// The planes whose default range has a robust top ([`robust_top`]): the T cells and
/// their projection, whose largest values sit in a few voxels (the peak at time 0,
/// hot spots where lamellae meet the box faces) and would leave the rest near black.
pub const ROBUST: [&str; 2] = ["tcells", "tcells_mip"];

/// The quantile that tops a robust range.
pub const ROBUST_QUANTILE: f64 = 0.995;

/// Decades a log-scaled T-cell panel spans below its top.
pub const LOG_DECADES: i32 = 3;

/// How the pictures are drawn: fixed ranges by plane name (from `[output]` or
/// `--range`), and the T-cell panels' scale and range (`[output] tcells_scale`,
/// `tcells_per_frame`; `--scale`, `--per-frame`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Look {
    pub fixed: Ranges,
    pub tcells_scale: TcellScale,
    pub tcells_per_frame: bool,
}

impl Look {
    /// Only fixed ranges, linear, one range per run.
    pub fn fixed(fixed: Ranges) -> Look {
        Look {
            fixed,
            ..Look::default()
        }
    }
}

/// How one panel maps its values to positions on its colour map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    pub lo: f64,
    pub hi: f64,
    /// Logarithmic between `lo` > 0 and `hi`.
    pub log: bool,
}

impl Mapping {
    /// The colour-map position of `v`, in [0, 1] (values beyond the range take the end).
    pub fn position(&self, v: f64) -> f64 {
        // An empty range counts from `lo` in steps of 1; below `lo` on a log scale (0
        // and negative values too: −∞ or NaN) is the bottom.
        let t = crate::plot::scaled_position(v, self.lo, self.hi, self.log).unwrap_or(v - self.lo);
        if t.is_nan() {
            0.0
        } else {
            t.clamp(0.0, 1.0)
        }
    }
}

/// The mapping of plane `key` of `p`: its range in `ranges` (for a T-cell plane with
/// `look.tcells_per_frame` and no fixed range, this frame's own robust top), logarithmic
/// over [`LOG_DECADES`] below the top for a T-cell plane with a log scale (from the
/// fixed bottom instead where one above 0 is given).
pub fn mapping(p: &Planes, key: &str, ranges: &Ranges, look: &Look) -> Mapping {
    let (mut lo, mut hi) = range_of(ranges, key);
    let tcells = ROBUST.contains(&key);
    if tcells && look.tcells_per_frame && !look.fixed.contains_key(key) {
        if let Some(top) = robust_top(&[p], key) {
            (lo, hi) = (0.0, top);
        }
    }
    let log = tcells && look.tcells_scale == TcellScale::Log && hi > 0.0;
    if log && lo <= 0.0 {
        lo = hi * 10f64.powi(-LOG_DECADES);
    }
    Mapping { lo, hi, log }
}

/// A robust top of plane `key` over `sets`: each snapshot's [`ROBUST_QUANTILE`]
/// ([`frame_top`], which leaves out the plane's edge pixels), and of those the median
/// over time, each snapshot weighing the time since the one before it
/// ([`time_weights`]). A frame's quantile ignores hot spots; the median over time
/// ignores transients, such as the T-cell peak in the first hours, however densely they
/// were snapshotted. None when that is not above 0.
pub fn robust_top(sets: &[&Planes], key: &str) -> Option<f64> {
    let weights = time_weights(sets);
    let mut tops: Vec<(f64, f64)> = sets
        .iter()
        .zip(&weights)
        .filter_map(|(p, &w)| Some((frame_top(p, key)?, w)))
        .collect();
    let total: f64 = tops.iter().map(|(_, w)| w).sum();
    if tops.is_empty() || total <= 0.0 {
        return None;
    }
    tops.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sum = 0.0;
    let mut top = tops[tops.len() - 1].0;
    for (v, w) in &tops {
        sum += w;
        // Past half the time: between two equal halves, the upper.
        if sum > 0.5 * total {
            top = *v;
            break;
        }
    }
    (top > 0.0).then_some(top)
}

/// The [`ROBUST_QUANTILE`] of one snapshot's plane `key`, leaving out the pixels on the
/// plane's edges (voxels on domain faces, where lamellae meet the box and pile cells)
/// unless the plane is too thin to have an inside; None without finite values.
pub fn frame_top(p: &Planes, key: &str) -> Option<f64> {
    let d = p.get(key)?;
    let (w, h) = (p.header.width, p.header.height);
    let inside = w > 2 && h > 2;
    let mut values: Vec<f32> = d
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let (x, y) = (i % w, i / w);
            let edge = x == 0 || y == 0 || x + 1 == w || y + 1 == h;
            v.is_finite() && !(inside && edge)
        })
        .map(|(_, v)| *v)
        .collect();
    if values.is_empty() {
        return None;
    }
    let k = ((values.len() - 1) as f64 * ROBUST_QUANTILE).round() as usize;
    let (_, v, _) = values.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    Some(f64::from(*v))
}

/// The weight of each of `sets` in a median over time: the time since the snapshot
/// before it (from time 0 for the first, or 1 when it is at 0), when the sets are the
/// snapshots of one run in order (times rising); else 1 each (one snapshot of each of
/// several runs, as `compare` has).
pub fn time_weights(sets: &[&Planes]) -> Vec<f64> {
    let times: Vec<f64> = sets.iter().map(|p| p.header.time_min).collect();
    let rising = times.windows(2).all(|w| w[1] > w[0]);
    if !rising || times.len() < 2 {
        return vec![1.0; sets.len()];
    }
    let mut prev = 0.0f64.min(times[0]);
    times
        .iter()
        .map(|&t| {
            let w = t - prev;
            prev = t;
            if w > 0.0 {
                w
            } else {
                // A snapshot at time 0 (only when every set is at or after 0): the
                // interval after it.
                times[1] - times[0]
            }
        })
        .collect()
}

/// The common range of each field over all `sets` of planes (0 to the largest value
/// unless a value is negative), replaced by `fixed` where given. A field that is
/// constant gets a range of width 1 around it. The T-cell planes ([`ROBUST`]) are
/// topped by [`robust_top`] over the snapshots after time 0 (all of them if there are
/// none), where that is above 0.
pub fn common_ranges<'a>(sets: impl IntoIterator<Item = &'a Planes>, fixed: &Ranges) -> Ranges {
    let sets: Vec<&Planes> = sets.into_iter().collect();
    let mut out: Ranges = BTreeMap::new();
    for p in &sets {
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
    let later: Vec<&Planes> = sets
        .iter()
        .copied()
        .filter(|p| p.header.time_min > 0.0)
        .collect();
    let pool = if later.is_empty() { &sets } else { &later };
    for key in ROBUST {
        if let (Some(top), Some(r)) = (robust_top(pool, key), out.get_mut(key)) {
            r.1 = top;
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

/// The orientation of the pictures, as image viewers show an image file: the plane's
/// first in-plane axis runs to the right, its second down (picture row 0 holds the
/// plane's row 0, the voxels at index 0 of the second axis). A volume file's row 0 is
/// therefore at the top, where its own viewers put it. `flip_rows` draws by it and
/// [`axes_label`] says it ("→ x, ↓ y").
pub const VERTICAL_UP: bool = false;

/// Which way the plane's axes run in its picture: "→ x, ↑ y".
pub fn axes_label(p: &Planes) -> String {
    let (u, v) = p.header.axis.in_plane();
    let names = ["x", "y", "z"];
    let up = if VERTICAL_UP { '↑' } else { '↓' };
    format!("→ {}, {up} {}", names[u], names[v])
}

/// The footer of a panel: the time, where the plane lies (or what it projects) and
/// which way its axes run.
fn footer(p: &Planes, projected: bool) -> Vec<String> {
    let place = if projected {
        format!("along {}", p.header.axis.name())
    } else {
        where_label(p)
    };
    vec![format!(
        "{}, {place}, {}",
        time_label(p.header.time_min),
        axes_label(p)
    )]
}

/// The picture row of the plane's row `j` (of `h`), by [`VERTICAL_UP`].
fn picture_row(j: usize, h: usize) -> usize {
    if VERTICAL_UP {
        h - 1 - j
    } else {
        j
    }
}

/// Converts a plane (row-major, row 0 = lowest second in-plane coordinate) into picture
/// rows (row 0 at the top), by [`VERTICAL_UP`].
fn flip_rows(w: usize, h: usize, f: impl Fn(usize) -> [u8; 3]) -> Vec<[u8; 3]> {
    let mut out = Vec::with_capacity(w * h);
    for row in 0..h {
        let j = picture_row(row, h);
        for i in 0..w {
            out.push(f(i + w * j));
        }
    }
    out
}

/// Side length in pixels a panel's image is enlarged to (whole factors per voxel).
pub const PANEL_PX: u32 = 480;

/// Light grey of a panel with nothing to show (a drug the run never doses).
const EMPTY: [u8; 3] = [235, 235, 235];

/// The colours of one field's plane by its mapping (picture rows, top first); None
/// when the plane is not stored.
pub fn field_pixels(p: &Planes, spec: &FieldSpec, m: Mapping) -> Option<Vec<[u8; 3]>> {
    let d = p.get(&spec.key)?;
    let (w, h) = (p.header.width, p.header.height);
    Some(flip_rows(w, h, |i| spec.cmap.rgb(m.position(d[i] as f64))))
}

/// The panel of one field, by its mapping; its colour bar says the scale and whether
/// values above the top were clipped. A drug the run never doses is drawn empty, with
/// "not dosed" in place of the colour bar.
pub fn field_panel(p: &Planes, spec: &FieldSpec, m: Mapping) -> Option<Canvas> {
    let d = p.get(&spec.key)?;
    let (w, h) = (p.header.width, p.header.height);
    let Mapping { lo, hi, log } = m;
    let projected = spec.key == "tcells_mip";
    let title = if projected {
        format!("{} along {}", spec.title, p.header.axis.name())
    } else {
        spec.title.to_string()
    };
    let undosed = p.header.undosed.iter().any(|k| *k == spec.key);
    let (pixels, colorbar, note, subtitle) = if undosed {
        let pixels = vec![EMPTY; w * h];
        (pixels, None, "not dosed".to_string(), spec.unit.to_string())
    } else {
        let pixels = field_pixels(p, spec, m)?;
        let clipped = hi > lo && d.iter().any(|v| v.is_finite() && f64::from(*v) > hi);
        let bar = Colorbar {
            cmap: spec.cmap,
            lo,
            hi,
            label: String::new(),
            log,
            clipped,
        };
        let scale = if log { ", log scale" } else { "" };
        (
            pixels,
            Some(bar),
            String::new(),
            format!("{}{scale}", spec.unit),
        )
    };
    Some(
        ImagePanel {
            title,
            subtitle,
            width: w as u32,
            height: h as u32,
            pixels,
            colorbar,
            note,
            pixel_um: Some(p.header.voxel_um),
            footer: footer(p, projected),
            legend: vec![],
            target_px: PANEL_PX,
            crosshair: None,
        }
        .render(),
    )
}

/// The composite's pixels (picture rows, top first), each channel in proportion to its
/// own range's top ([`COMPOSITE_TUMOR`] and the others give the colours). The tissue:
/// viable plus killed tumour added on black, or grey for the stroma class. Over it the
/// T cells, green with an opacity of the square root of their share of their robust
/// range (fluorescence is often shown with a gamma of 0.5, so that sparse cells show):
/// where T cells are dense the pixel is green whatever lies beneath, so where they are
/// reads without the other panels.
pub fn composite_pixels(p: &Planes, ranges: &Ranges) -> Vec<[u8; 3]> {
    let (w, h) = (p.header.width, p.header.height);
    let zeros = vec![0f32; w * h];
    let tumor = p.get("tumor").unwrap_or(&zeros);
    let killed = p.get("killed").unwrap_or(&zeros);
    let t = p.get("tcells").unwrap_or(&zeros);
    let class = p.get("class").unwrap_or(&zeros);
    let (_, n_hi) = range_of(ranges, "tumor");
    let (_, k_hi) = range_of(ranges, "killed");
    let (_, t_hi) = range_of(ranges, "tcells");
    let unit = |v: f64, hi: f64| {
        if hi > 0.0 {
            (v / hi).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    flip_rows(w, h, |i| {
        let n = unit(tumor[i] as f64, n_hi);
        let k = unit(killed[i] as f64, k_hi);
        let g = unit(t[i] as f64, t_hi).sqrt();
        let stroma = class[i] as u8 == STROMA;
        let mix = |c: usize| {
            let tissue = if stroma {
                COMPOSITE_STROMA[c] as f64
            } else {
                (n * COMPOSITE_TUMOR[c] as f64 + k * COMPOSITE_KILLED[c] as f64).min(255.0)
            };
            let v = (1.0 - g) * tissue + g * COMPOSITE_TCELLS[c] as f64;
            v.round().min(255.0) as u8
        };
        [mix(0), mix(1), mix(2)]
    })
}

/// The composite panel ([`composite_pixels`]) with its legend and scale bar; with
/// `crosshair`, the picture pixel (column, row) where the other orthogonal planes cut it.
pub fn composite_panel(p: &Planes, ranges: &Ranges) -> Canvas {
    composite_with(p, ranges, None, false, PANEL_PX)
}

/// The composite of `p`; `placed`: titled by where the plane lies, without the legend
/// (an orthogonal view); its longer side enlarged to about `target_px`.
fn composite_with(
    p: &Planes,
    ranges: &Ranges,
    crosshair: Option<(u32, u32)>,
    placed: bool,
    target_px: u32,
) -> Canvas {
    let (w, h) = (p.header.width, p.header.height);
    let pixels = composite_pixels(p, ranges);
    let top = |key: &str| crate::plot::format_number(range_of(ranges, key).1);
    // An orthogonal view is placed by its title; the snapshot's composite above it
    // carries the legend.
    let title = if placed {
        format!("composite, {}", where_label(p))
    } else {
        "composite".to_string()
    };
    let legend = if placed {
        vec![]
    } else {
        vec![
            (
                format!("T cells 0–{} cells/mm³, opacity √", top("tcells")),
                COMPOSITE_TCELLS,
            ),
            (format!("viable tumour 0–{}", top("tumor")), COMPOSITE_TUMOR),
            (
                format!("killed tumour 0–{}", top("killed")),
                COMPOSITE_KILLED,
            ),
            ("stroma".into(), COMPOSITE_STROMA),
        ]
    };
    ImagePanel {
        title,
        subtitle: "T cells over the tissue".into(),
        width: w as u32,
        height: h as u32,
        pixels,
        colorbar: None,
        note: String::new(),
        pixel_um: Some(p.header.voxel_um),
        footer: footer(p, false),
        legend,
        target_px,
        crosshair,
    }
    .render()
}

/// A figure's title lines above `body`: the run (name and scenario file, wrapped to the
/// body's width) and `what`; the body alone when both are empty.
pub fn titled(run: &str, what: &str, body: Canvas) -> Canvas {
    let lines: Vec<String> = crate::plot::wrap(run, body.width.saturating_sub(20))
        .into_iter()
        .chain((!what.is_empty()).then(|| what.to_string()))
        .collect();
    if lines.is_empty() {
        return body;
    }
    let lh = crate::plot::line_height(2);
    let mut head = Canvas::new(body.width, 8 + lines.len() as u32 * lh, WHITE);
    for (i, l) in lines.iter().enumerate() {
        head.text(10, 8 + (i as u32 * lh) as i64, l, 2, crate::plot::BLACK);
    }
    Canvas::vstack(&[head, body], 0, WHITE)
}

/// The orthogonal views of the last snapshot: the composite of each plane of
/// `orthogonal` (across x, y and z through one point), drawn xy, xz, yz, each marked
/// where the other two cut it, all at one scale (pixels per voxel), so that the views'
/// lengths compare.
fn orthogonal_row(orthogonal: &[Planes], ranges: &Ranges) -> Canvas {
    // The point: each plane's own slice index along its axis.
    let mut point = [0usize; 3];
    for o in orthogonal {
        point[o.header.axis.dim()] = o.header.slice;
    }
    let longest = orthogonal
        .iter()
        .map(|o| o.header.width.max(o.header.height) as u32)
        .max()
        .unwrap_or(1)
        .max(1);
    let per_voxel = (PANEL_PX / longest).max(1);
    let panels: Vec<Canvas> = orthogonal
        .iter()
        .rev()
        .map(|o| {
            let target = per_voxel * o.header.width.max(o.header.height) as u32;
            let (u, v) = o.header.axis.in_plane();
            let row = picture_row(
                point[v].min(o.header.height.saturating_sub(1)),
                o.header.height,
            );
            composite_with(o, ranges, Some((point[u] as u32, row as u32)), true, target)
        })
        .collect();
    Canvas::hstack(&panels, 8, WHITE)
}

/// Every panel of one snapshot in a grid of four columns, composite first, then the
/// fields of [`FIELDS`]; under them the orthogonal views when given; over them the
/// run's title and the time.
pub fn overview(p: &Planes, ranges: &Ranges, look: &Look, orthogonal: &[Planes]) -> Canvas {
    let mut shown = vec![composite_panel(p, ranges)];
    for f in &panels(p) {
        if let Some(c) = field_panel(p, f, mapping(p, &f.key, ranges, look)) {
            shown.push(c);
        }
    }
    let mut rows = vec![Canvas::grid(&shown, 4, 16, WHITE)];
    if orthogonal.len() == 3 {
        rows.push(orthogonal_row(orthogonal, ranges));
    }
    let what = format!(
        "{}, the plane {}",
        time_label(p.header.time_min),
        where_label(p)
    );
    titled(&p.header.run, &what, Canvas::vstack(&rows, 16, WHITE))
}

/// What [`render_run`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub snapshots: usize,
    pub files: Vec<PathBuf>,
    pub ranges: Ranges,
}

/// Renders a run's pictures from its stored planes (`DIR/pictures/planes`) with one
/// colour range per field over all snapshots (or `look`'s fixed ranges; the T cells
/// by `look`'s scale, per frame if it says so): numbered frames of every
/// panel (`frames/NAME/NNNNNN.png`), the time-lapses `timelapse-composite.png` and
/// `timelapse-tcells.png` (animated PNG, `frame_ms` per frame) and `final.png` (all
/// panels of the last snapshot). Frames of snapshots without planes are removed, so
/// the result depends only on the stored planes.
pub fn render_run(run_dir: &Path, look: &Look, frame_ms: u16) -> Result<Rendered> {
    let pic = run_dir.join("pictures");
    let all = read_all(&pic.join("planes"))?;
    if all.is_empty() {
        return Ok(Rendered::default());
    }
    let ranges = common_ranges(&all, &look.fixed);
    let mut files = Vec::new();
    let mut composite = Vec::with_capacity(all.len());
    let mut tcells = Vec::with_capacity(all.len());
    for p in &all {
        files.extend(write_frames(&pic, p, &ranges, look)?);
        composite.push(titled(&p.header.run, "", composite_panel(p, &ranges)));
        let t = field_panel(p, &FIELDS[0], mapping(p, "tcells", &ranges, look));
        tcells.extend(t.map(|t| titled(&p.header.run, "", t)));
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
    let orthogonal = super::planes::read_orthogonal(&pic.join("planes"), last.header.index)?;
    let path = pic.join("final.png");
    write_atomic(
        &path,
        &overview(last, &ranges, look, &orthogonal).png_bytes(),
    )?;
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

/// Writes the frames of one snapshot (`frames/NAME/NNNNNN.png`) in `ranges`, drawn by
/// `look`.
pub fn write_frames(pic: &Path, p: &Planes, ranges: &Ranges, look: &Look) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut put = |name: &str, c: Canvas| -> Result<()> {
        let dir = pic.join("frames").join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(frame_name(p.header.index));
        write_atomic(&path, &c.png_bytes())?;
        out.push(path);
        Ok(())
    };
    put(
        "composite",
        titled(&p.header.run, "", composite_panel(p, ranges)),
    )?;
    for f in &panels(p) {
        if let Some(c) = field_panel(p, f, mapping(p, &f.key, ranges, look)) {
            put(&f.key, titled(&p.header.run, "", c))?;
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
