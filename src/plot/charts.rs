//! Charts drawn on a [`Canvas`]: colour bars, heatmaps, line plots and image panels.

use super::{line_height, text_width, Canvas, ColorMap, BLACK, WHITE};

/// Text scale of every label: 46-pixel lines, 29-pixel capitals ([`super::font`]).
const S: u32 = 2;
/// Light grey of grid lines.
const GRID: [u8; 3] = [225, 225, 225];
/// Grey of missing values.
const MISSING: [u8; 3] = [150, 150, 150];

/// Series colours: the colour-blind-safe qualitative palette of Okabe & Ito (2008,
/// "Color Universal Design"), black last.
const SERIES: [[u8; 3]; 8] = [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [230, 159, 0],
    [86, 180, 233],
    [240, 228, 66],
    [0, 0, 0],
];

/// Round, evenly spaced values (steps of 1, 2 or 5 × 10ⁿ) covering [lo, hi], about
/// `target` of them; only values inside [lo, hi] are returned.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return if lo.is_finite() { vec![lo] } else { vec![] };
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let m = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * mag >= raw)
        .unwrap_or(10.0);
    let step = m * mag;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Below 1, divide by a whole power of ten (0.6, not 0.6000000000000001).
    let inv = (1.0 / mag).round();
    (first..=last)
        .map(|k| {
            let v = if mag < 1.0 {
                k as f64 * m / inv
            } else {
                k as f64 * step
            };
            // Snap values within rounding of zero to zero (no "-0" or "1e-17").
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// A number in at most 3 significant digits, in scientific notation (`1.5e-3`) below
/// 0.01 and from 10000 on, trailing zeros dropped.
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-2..1e4).contains(&a) {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = trim_zeros(m);
        return format!("{m}e{e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Where `v` lies between `lo` (0) and `hi` (1), linearly or (with `log`, where
/// `lo > 0`) logarithmically; not clamped. None when `hi ≤ lo`. Colour bars and the
/// pictures' colour maps place values by it.
pub fn scaled_position(v: f64, lo: f64, hi: f64, log: bool) -> Option<f64> {
    if hi <= lo {
        None
    } else if log && lo > 0.0 {
        Some((v / lo).ln() / (hi / lo).ln())
    } else {
        Some((v - lo) / (hi - lo))
    }
}

/// A vertical colour bar: the map from `lo` (bottom) to `hi` (top), linear or
/// logarithmic, the two ends labelled with their values (the top as "≥ hi" when the
/// picture has values above it, drawn in the top colour), round values between (powers
/// of ten on a log bar), and `label` (with its unit) written along the bar, followed by
/// ", log" on a log bar.
#[derive(Debug, Clone)]
pub struct Colorbar {
    pub cmap: ColorMap,
    pub lo: f64,
    pub hi: f64,
    pub label: String,
    /// Logarithmic between `lo` > 0 and `hi`.
    pub log: bool,
    /// The picture has values above `hi`, drawn in the top colour.
    pub clipped: bool,
}

impl Colorbar {
    const BAR_W: u32 = 24;

    /// The round values marked between the ends.
    fn ticks(&self) -> Vec<f64> {
        if self.log && self.lo > 0.0 && self.hi > self.lo {
            let (a, b) = (
                self.lo.log10().ceil() as i32,
                self.hi.log10().floor() as i32,
            );
            (a..=b).map(|k| 10f64.powi(k)).collect()
        } else {
            nice_ticks(self.lo, self.hi, 4)
        }
    }

    /// Where `v` lies on the bar, 0 at `lo` and 1 at `hi` (the middle of an empty range).
    fn position(&self, v: f64) -> f64 {
        scaled_position(v, self.lo, self.hi, self.log).unwrap_or(0.5)
    }

    /// The label written along the bar, with the scale said.
    pub fn full_label(&self) -> String {
        if self.log {
            format!("{}, log", self.label)
        } else {
            self.label.clone()
        }
    }

    /// The top end's label: "≥" before it when values above it were clipped.
    pub fn top_label(&self) -> String {
        if self.clipped {
            format!("≥{}", format_number(self.hi))
        } else {
            format_number(self.hi)
        }
    }

    /// Pixels the bar and its labels take across (no column for an empty label).
    pub fn width(&self) -> u32 {
        let labels = [self.lo]
            .iter()
            .chain(self.ticks().iter())
            .map(|v| text_width(&format_number(*v), S))
            .chain([text_width(&self.top_label(), S)])
            .max()
            .unwrap_or(0);
        let along = if self.label.is_empty() {
            0
        } else {
            8 + line_height(S)
        };
        Self::BAR_W + 6 + labels + along
    }

    /// Draws the bar with its top left at (x, y), `h` pixels tall.
    pub fn draw(&self, c: &mut Canvas, x: i64, y: i64, h: u32) {
        let h = h.max(2);
        for r in 0..h {
            let t = 1.0 - r as f64 / (h - 1) as f64;
            c.fill_rect(x, y + r as i64, Self::BAR_W, 1, self.cmap.rgb(t));
        }
        c.stroke_rect(x, y, Self::BAR_W, h, BLACK);
        let ypos = |v: f64| y + ((1.0 - self.position(v)) * (h - 1) as f64).round() as i64;
        let lh = line_height(S) as i64;
        let tick = |c: &mut Canvas, v: f64, text: &str| {
            let yy = ypos(v);
            c.fill_rect(x + Self::BAR_W as i64, yy, 4, 1, BLACK);
            let top = (yy - lh / 2).clamp(y - lh / 2, y + h as i64 - lh / 2);
            c.text(x + Self::BAR_W as i64 + 6, top, text, S, BLACK);
        };
        tick(c, self.lo, &format_number(self.lo));
        if self.hi > self.lo {
            tick(c, self.hi, &self.top_label());
            for v in self.ticks() {
                // Leave out round values that would overprint an end label.
                let clear = lh + 4;
                if (ypos(v) - ypos(self.lo)).abs() > clear
                    && (ypos(v) - ypos(self.hi)).abs() > clear
                {
                    tick(c, v, &format_number(v));
                }
            }
        }
        if self.label.is_empty() {
            return;
        }
        let label = self.full_label();
        let label_x = x + self.width() as i64 - line_height(S) as i64;
        let lw = text_width(&label, S) as i64;
        let bottom = y + h as i64 / 2 + lw / 2;
        c.text_vertical(label_x, bottom.max(y + lw), &label, S, BLACK);
    }
}

/// A grid of values coloured by a map, with a label for each column and row.
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// One label per column / row; nx = x_ticks.len(), ny = y_ticks.len().
    pub x_ticks: Vec<String>,
    pub y_ticks: Vec<String>,
    /// ny rows of nx values, row 0 drawn at the bottom; NaN = missing (drawn grey).
    pub values: Vec<f64>,
    pub colorbar_label: String,
    /// Colour range; None = min..max of the finite values.
    pub range: Option<(f64, f64)>,
    pub cmap: ColorMap,
}

/// The (min, max) of the finite values, or (0, 1) when there are none.
/// The x label centred under a plot area (`[left, top, width, height]`, below its tick
/// labels) and the y label written upright along its left edge.
fn axis_labels(c: &mut Canvas, [left, top, pw, ph]: [u32; 4], x_label: &str, y_label: &str) {
    let lh = line_height(S);
    c.text_centered(
        (left + pw / 2) as i64,
        (top + ph + 8 + lh + 6) as i64,
        x_label,
        S,
        BLACK,
    );
    let yl = text_width(y_label, S) as i64;
    c.text_vertical(10, (top + ph / 2) as i64 + yl / 2, y_label, S, BLACK);
}

fn finite_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

impl Heatmap {
    /// The chart: title on top, the grid with its labels, the colour bar on the right.
    /// Values beyond the range take the end colours; a missing value is grey.
    pub fn render(&self) -> Canvas {
        let nx = self.x_ticks.len().max(1);
        let ny = self.y_ticks.len().max(1);
        let (lo, hi) = self
            .range
            .unwrap_or_else(|| finite_range(self.values.iter().copied()));
        let cw = (960 / nx as u32).clamp(6, 120);
        let ch = (660 / ny as u32).clamp(6, 90);
        // Tall enough for the y label and the colour bar's label, both written upright.
        let along = text_width(&self.y_label, S).max(text_width(&self.colorbar_label, S));
        let ch = ch.max((along + 10).div_ceil(ny as u32));
        let lh = line_height(S);
        let ytw = self
            .y_ticks
            .iter()
            .map(|t| text_width(t, S))
            .max()
            .unwrap_or(0);
        let xtw = self
            .x_ticks
            .iter()
            .map(|t| text_width(t, S))
            .max()
            .unwrap_or(0);
        // Label every k-th column / row so that labels do not overprint.
        let kx = (xtw + 8).div_ceil(cw).max(1) as usize;
        let ky = (lh + 2).div_ceil(ch).max(1) as usize;
        let bar = Colorbar {
            cmap: self.cmap,
            lo,
            hi,
            label: self.colorbar_label.clone(),
            log: false,
            clipped: false,
        };
        let left = 10 + lh + 6 + ytw + 8;
        let top = 10 + lh + 12;
        let pw = cw * nx as u32;
        let ph = ch * ny as u32;
        let width = (left + pw + 24 + bar.width() + 10)
            .max(text_width(&self.title, S) + 20)
            .max(left + text_width(&self.x_label, S) + 20);
        let height = top + ph + 8 + lh + 8 + lh + 10;
        let mut c = Canvas::new(width, height, WHITE);
        c.text_centered(width as i64 / 2, 10, &self.title, S, BLACK);
        for j in 0..ny {
            for i in 0..nx {
                let v = self.values.get(i + nx * j).copied().unwrap_or(f64::NAN);
                let col = if v.is_finite() {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    self.cmap.rgb(t)
                } else {
                    MISSING
                };
                let x = (left + i as u32 * cw) as i64;
                let y = (top + (ny - 1 - j) as u32 * ch) as i64;
                c.fill_rect(x, y, cw, ch, col);
            }
        }
        c.stroke_rect(left as i64 - 1, top as i64 - 1, pw + 2, ph + 2, BLACK);
        for (i, t) in self.x_ticks.iter().enumerate() {
            if i % kx == 0 {
                let x = (left + i as u32 * cw + cw / 2) as i64;
                c.fill_rect(x, (top + ph + 1) as i64, 1, 4, BLACK);
                c.text_centered(x, (top + ph + 8) as i64, t, S, BLACK);
            }
        }
        for (j, t) in self.y_ticks.iter().enumerate() {
            if j % ky == 0 {
                let y = (top + (ny - 1 - j) as u32 * ch + ch / 2) as i64;
                c.fill_rect(left as i64 - 5, y, 4, 1, BLACK);
                c.text_right(left as i64 - 8, y - lh as i64 / 2, t, S, BLACK);
            }
        }
        axis_labels(&mut c, [left, top, pw, ph], &self.x_label, &self.y_label);
        bar.draw(&mut c, (left + pw + 24) as i64, top as i64, ph);
        c
    }
}

/// The dash pattern of each series in turn (pixels down, up, …; empty: solid), so that
/// series that overlap stay apart: a later one's gaps show the earlier one beneath.
const DASHES: [&[u32]; 4] = [&[], &[16, 9], &[4, 6], &[18, 6, 4, 6]];

/// The marker of each series in turn, drawn at its points when there are few.
const MARKERS: [Marker; 4] = [Marker::Square, Marker::Diamond, Marker::Cross, Marker::Ring];

#[derive(Debug, Clone, Copy)]
enum Marker {
    Square,
    Diamond,
    Cross,
    Ring,
}

impl Marker {
    /// Draws the marker centred on `p`, 11 pixels across.
    fn draw(self, c: &mut Canvas, (x, y): (i64, i64), col: [u8; 3]) {
        const R: i64 = 5;
        match self {
            Marker::Square => c.fill_rect(x - R, y - R, 2 * R as u32 + 1, 2 * R as u32 + 1, col),
            Marker::Diamond => {
                for d in 0..=R {
                    let w = (2 * (R - d) + 1) as u32;
                    c.fill_rect(x - R + d, y - d, w, 1, col);
                    c.fill_rect(x - R + d, y + d, w, 1, col);
                }
            }
            Marker::Cross => {
                c.line(x - R, y - R, x + R, y + R, 3, col);
                c.line(x - R, y + R, x + R, y - R, 3, col);
            }
            Marker::Ring => {
                let side = 2 * R as u32 + 1;
                c.stroke_rect(x - R, y - R, side, side, col);
                c.stroke_rect(x - R + 1, y - R + 1, side - 2, side - 2, col);
            }
        }
    }
}

/// One named line of a [`LinePlot`].
pub struct Series {
    pub name: String,
    /// (x, y) points in drawing order; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
}

/// Lines over shared axes, with round ticks, grid lines and a legend of series names.
pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

impl LinePlot {
    /// The chart, 880 × 500 pixels of axes plus labels and a legend on the right.
    pub fn render(&self) -> Canvas {
        let (pw, ph) = (880u32, 500u32);
        let lh = line_height(S);
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1) = finite_range(pts().map(|p| p.0));
        let (mut y0, mut y1) = finite_range(pts().map(|p| p.1));
        if y0 >= 0.0 && y0 <= 0.5 * y1 {
            y0 = 0.0;
        }
        if x1 <= x0 {
            x0 -= 0.5;
            x1 += 0.5;
        }
        if y1 <= y0 {
            let d = if y0 == 0.0 { 1.0 } else { 0.1 * y0.abs() };
            y0 -= d;
            y1 += d;
        } else {
            let pad = 0.05 * (y1 - y0);
            y1 += pad;
            if y0 != 0.0 {
                y0 -= pad;
            }
        }
        let xt = nice_ticks(x0, x1, 6);
        let yt = nice_ticks(y0, y1, 5);
        let ytw = yt
            .iter()
            .map(|v| text_width(&format_number(*v), S))
            .max()
            .unwrap_or(0);
        let legend_w = self
            .series
            .iter()
            .map(|s| text_width(&s.name, S))
            .max()
            .unwrap_or(0)
            + 64;
        let left = 10 + lh + 6 + ytw + 8;
        let top = 10 + lh + 12;
        let width = (left + pw + 16 + legend_w + 10).max(text_width(&self.title, S) + 20);
        let height = top + ph + 8 + lh + 8 + lh + 10;
        let mut c = Canvas::new(width, height, WHITE);
        c.text_centered(width as i64 / 2, 10, &self.title, S, BLACK);
        let px = |x: f64| left as i64 + ((x - x0) / (x1 - x0) * (pw - 1) as f64).round() as i64;
        let py = |y: f64| top as i64 + ((y1 - y) / (y1 - y0) * (ph - 1) as f64).round() as i64;
        for v in &xt {
            let x = px(*v);
            c.fill_rect(x, top as i64, 1, ph, GRID);
            c.fill_rect(x, (top + ph) as i64, 1, 5, BLACK);
            c.text_centered(x, (top + ph + 8) as i64, &format_number(*v), S, BLACK);
        }
        for v in &yt {
            let y = py(*v);
            c.fill_rect(left as i64, y, pw, 1, GRID);
            c.fill_rect(left as i64 - 5, y, 5, 1, BLACK);
            c.text_right(
                left as i64 - 8,
                y - lh as i64 / 2,
                &format_number(*v),
                S,
                BLACK,
            );
        }
        c.stroke_rect(left as i64 - 1, top as i64 - 1, pw + 2, ph + 2, BLACK);
        for (k, s) in self.series.iter().enumerate() {
            let col = SERIES[k % SERIES.len()];
            let dash = DASHES[k % DASHES.len()];
            let marker = MARKERS[k % MARKERS.len()];
            let mut prev: Option<(i64, i64)> = None;
            let mut phase = 0;
            let few = s.points.len() <= 40;
            for &(x, y) in &s.points {
                if !(x.is_finite() && y.is_finite()) {
                    prev = None;
                    continue;
                }
                let p = (px(x), py(y));
                if let Some(q) = prev {
                    c.dashed_line([q.0, q.1, p.0, p.1], 3, col, dash, &mut phase);
                }
                if few {
                    marker.draw(&mut c, p, col);
                }
                prev = Some(p);
            }
            let ly = (top + 6 + k as u32 * (lh + 4)) as i64;
            let lx = (left + pw + 16) as i64;
            let mid = ly + lh as i64 / 2 - 2;
            c.dashed_line([lx, mid, lx + 44, mid], 3, col, dash, &mut 0);
            marker.draw(&mut c, (lx + 22, mid), col);
            c.text(lx + 54, ly, &s.name, S, BLACK);
        }
        axis_labels(&mut c, [left, top, pw, ph], &self.x_label, &self.y_label);
        c
    }
}

/// A picture of a 2-D slice (pixels already coloured), enlarged by a whole factor,
/// with a title, a subtitle (e.g. the unit), an optional colour bar (or a note in its
/// place), an optional scale bar, a footer (e.g. where the plane lies, which way its
/// axes run, the simulated time) and an optional legend of colours.
pub struct ImagePanel {
    pub title: String,
    pub subtitle: String,
    /// Image size in pixels (voxels).
    pub width: u32,
    pub height: u32,
    /// `width × height` colours, row-major, row 0 at the top.
    pub pixels: Vec<[u8; 3]>,
    pub colorbar: Option<Colorbar>,
    /// Written beside the image where there is no colour bar ("not dosed").
    pub note: String,
    /// Edge of one pixel in µm; draws a scale bar in the lower left corner.
    pub pixel_um: Option<f64>,
    /// Lines under the image.
    pub footer: Vec<String>,
    /// Named colours listed under the footer (for composite stains).
    pub legend: Vec<(String, [u8; 3])>,
    /// Enlarge the image to about this many pixels on its longer side (whole factors).
    pub target_px: u32,
    /// Lines (pixel columns, rows of the image) marked by thin dashed lines across it:
    /// where other planes cut this one.
    pub crosshair: Option<(u32, u32)>,
}

impl ImagePanel {
    /// The panel on white.
    pub fn render(&self) -> Canvas {
        let lh = line_height(S);
        let longer = self.width.max(self.height).max(1);
        let f = (self.target_px / longer).clamp(1, 32);
        let (iw, ih) = (self.width * f, self.height * f);
        let side = match &self.colorbar {
            Some(b) => b.width() + 16,
            None if !self.note.is_empty() => text_width(&self.note, S) + 16,
            None => 0,
        };
        let heads = [&self.title, &self.subtitle]
            .into_iter()
            .filter(|t| !t.is_empty())
            .count() as u32;
        // Room for the colour bar's top label, centred on the image's top edge.
        let top = 8 + heads * lh + lh / 2 + 4;
        let swatch = lh * 3 / 5;
        let item_w = |name: &str| swatch + 8 + text_width(name, S) + lh / 2;
        let widest = self
            .legend
            .iter()
            .map(|(n, _)| item_w(n))
            .chain(self.footer.iter().map(|t| text_width(t, S)))
            .max()
            .unwrap_or(0);
        let width = (10 + iw + side + 10)
            .max(text_width(&self.title, S) + 20)
            .max(text_width(&self.subtitle, S) + 20)
            .max(10 + widest + 10);
        // The legend wraps into rows as wide as the panel.
        let mut rows: Vec<Vec<usize>> = Vec::new();
        let mut used = u32::MAX;
        for (k, (name, _)) in self.legend.iter().enumerate() {
            if used.saturating_add(item_w(name)) > width - 20 {
                rows.push(Vec::new());
                used = 0;
            }
            used += item_w(name);
            rows.last_mut().expect("a row").push(k);
        }
        let below = (self.footer.len() + rows.len()) as u32 * lh;
        let bar_label = self
            .colorbar
            .as_ref()
            .filter(|b| !b.label.is_empty())
            .map_or(0, |b| text_width(&b.full_label(), S));
        let height = (top + ih + 8 + below + 8).max(top + bar_label + 8);
        let mut c = Canvas::new(width, height, WHITE);
        let mut y = 8i64;
        for t in [&self.title, &self.subtitle] {
            if !t.is_empty() {
                c.text(10, y, t, S, BLACK);
                y += lh as i64;
            }
        }
        let (ox, oy) = (10i64, top as i64);
        for y in 0..self.height {
            for x in 0..self.width {
                let col = self.pixels[(x + self.width * y) as usize];
                c.fill_rect(ox + (x * f) as i64, oy + (y * f) as i64, f, f, col);
            }
        }
        if let Some((cx, cy)) = self.crosshair {
            let x = ox + (cx * f + f / 2) as i64;
            let y = oy + (cy * f + f / 2) as i64;
            let (r, b) = (ox + iw as i64 - 1, oy + ih as i64 - 1);
            for (l, col) in [(3, BLACK), (1, WHITE)] {
                c.dashed_line([x, oy, x, b], l, col, &[8, 6], &mut 0);
                c.dashed_line([ox, y, r, y], l, col, &[8, 6], &mut 0);
            }
        }
        if let Some(um) = self.pixel_um.filter(|u| *u > 0.0) {
            scale_bar(&mut c, ox, oy, iw, ih, um / f as f64);
        }
        if let Some(b) = &self.colorbar {
            b.draw(&mut c, ox + iw as i64 + 16, oy, ih);
        } else if !self.note.is_empty() {
            let y = oy + (ih / 2) as i64 - lh as i64 / 2;
            c.text(ox + iw as i64 + 16, y, &self.note, S, BLACK);
        }
        let mut ly = oy + ih as i64 + 8;
        for t in &self.footer {
            c.text(ox, ly, t, S, BLACK);
            ly += lh as i64;
        }
        for row in &rows {
            let mut lx = ox;
            for &k in row {
                let (name, col) = &self.legend[k];
                let sy = ly + ((lh - swatch) / 2) as i64;
                c.fill_rect(lx, sy, swatch, swatch, *col);
                c.stroke_rect(lx, sy, swatch, swatch, BLACK);
                c.text(lx + (swatch + 8) as i64, ly, name, S, BLACK);
                lx += item_w(name) as i64;
            }
            ly += lh as i64;
        }
        c
    }
}

/// A white bar of a round length (1, 2 or 5 × 10ⁿ µm, about a fifth of the image)
/// with its length above it in white outlined in black, so that both read on any
/// colour, in the lower left corner of the image at (ox, oy).
fn scale_bar(c: &mut Canvas, ox: i64, oy: i64, iw: u32, ih: u32, um_per_px: f64) {
    let want = iw as f64 * um_per_px / 5.0;
    let mag = 10f64.powf(want.log10().floor());
    let len_um = [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * mag)
        .find(|l| *l <= want)
        .unwrap_or(mag);
    let len_px = (len_um / um_per_px).round() as u32;
    let label = if len_um >= 1000.0 {
        format!("{} mm", format_number(len_um / 1000.0))
    } else {
        format!("{} µm", format_number(len_um))
    };
    let lh = line_height(S) as i64;
    if len_px < 4 || (ih as i64) < 2 * lh + 12 || text_width(&label, S) + 12 > iw {
        return;
    }
    let y = oy + ih as i64 - 12;
    let x = ox + 10;
    c.fill_rect(x - 2, y - 2, len_px + 4, 10, BLACK);
    c.fill_rect(x, y, len_px, 6, WHITE);
    c.text_outlined(x, y - lh, &label, S, WHITE, BLACK);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let t = nice_ticks(-3.7, 12.2, 4);
        assert_eq!(t, vec![0.0, 5.0, 10.0]);
        assert!(nice_ticks(1.0, 1.0, 4) == vec![1.0]);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(1234.6), "1235");
        assert_eq!(format_number(12.345), "12.3");
        assert_eq!(format_number(1.5e-3), "1.5e-3");
        assert_eq!(format_number(25000.0), "2.5e4");
        assert_eq!(format_number(-0.5), "-0.5");
    }
}
