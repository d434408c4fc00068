//! Pictures without a plotting library: an RGB canvas with text in a bundled typeface
//! ([`font`]), PNG and animated PNG encoding, perceptual colour maps, colour bars, and three
//! charts: [`Heatmap`] (a labelled grid of values), [`LinePlot`] (series over a shared
//! axis, with a legend) and [`ImagePanel`] (a picture of a field slice with a colour bar
//! and scale bar). Used by the snapshot pictures, `infiltrate compare` and the sweeps.

mod charts;
mod colormap;
pub mod font;
mod tables;

pub use charts::{
    format_number, nice_ticks, scaled_position, Colorbar, Heatmap, ImagePanel, LinePlot, Series,
};
pub use colormap::{lightness, ColorMap};

/// Background and ink of the charts.
pub const WHITE: [u8; 3] = [255, 255, 255];
/// Ink of text and axes.
pub const BLACK: [u8; 3] = [0, 0, 0];

/// An 8-bit RGB picture, rows top to bottom, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    /// `width × height × 3` bytes, row-major from the top left.
    pub rgb: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: [u8; 3]) -> Canvas {
        let n = width as usize * height as usize;
        let mut rgb = Vec::with_capacity(n * 3);
        for _ in 0..n {
            rgb.extend_from_slice(&background);
        }
        Canvas { width, height, rgb }
    }

    /// The colour at (x, y); None outside the canvas.
    pub fn get(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (x as usize + self.width as usize * y as usize);
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// Sets (x, y) to `c`; pixels outside the canvas are ignored.
    pub fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = 3 * (x as usize + self.width as usize * y as usize);
        self.rgb[i..i + 3].copy_from_slice(&c);
    }

    /// Fills the rectangle of width `w` and height `h` at (x, y), clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: u32, h: u32, c: [u8; 3]) {
        for yy in y.max(0)..(y + h as i64).min(self.height as i64) {
            for xx in x.max(0)..(x + w as i64).min(self.width as i64) {
                self.set(xx, yy, c);
            }
        }
    }

    /// The outline of a rectangle, one pixel wide.
    pub fn stroke_rect(&mut self, x: i64, y: i64, w: u32, h: u32, c: [u8; 3]) {
        if w == 0 || h == 0 {
            return;
        }
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h as i64 - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w as i64 - 1, y, 1, h, c);
    }

    /// A straight line from (x0, y0) to (x1, y1), `width` pixels thick (Bresenham's
    /// walk with a square pen).
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, width: u32, c: [u8; 3]) {
        self.dashed_line([x0, y0, x1, y1], width, c, &[], &mut 0);
    }

    /// [`Canvas::line`] drawn in dashes: `pattern` gives the lengths (pixels of the
    /// walk) of pen down, pen up, down, … repeated (empty: solid); `phase` is where in
    /// the pattern the line starts, and is left where it ends, so that a polyline's
    /// dashes run on across its corners.
    pub fn dashed_line(
        &mut self,
        [x0, y0, x1, y1]: [i64; 4],
        width: u32,
        c: [u8; 3],
        pattern: &[u32],
        phase: &mut u32,
    ) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let half = width as i64 / 2;
        let period: u32 = pattern.iter().sum();
        loop {
            let down = period == 0 || {
                let mut at = *phase % period;
                let mut on = true;
                for &len in pattern {
                    if at < len {
                        break;
                    }
                    at -= len;
                    on = !on;
                }
                on
            };
            *phase = phase.wrapping_add(1);
            if down {
                self.fill_rect(x - half, y - half, width.max(1), width.max(1), c);
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Mixes `c` into the pixel at (x, y) with weight `a` in [0, 1] (anti-aliased ink);
    /// pixels outside the canvas are ignored.
    pub fn blend(&mut self, x: i64, y: i64, c: [u8; 3], a: f32) {
        let Some(old) = (x >= 0 && y >= 0)
            .then(|| self.get(x as u32, y as u32))
            .flatten()
        else {
            return;
        };
        let mix = |o: u8, n: u8| (f32::from(o) + (f32::from(n) - f32::from(o)) * a).round() as u8;
        self.set(
            x,
            y,
            [mix(old[0], c[0]), mix(old[1], c[1]), mix(old[2], c[2])],
        );
    }

    /// Draws `text` on one line with the line's top left at (x, y), at `scale`
    /// ([`font`]: 23 pixels of line per step).
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: [u8; 3]) {
        font::rasterize(text, scale, |px, py, a| self.blend(x + px, y + py, c, a));
    }

    /// Draws `text` centred on x (top at y).
    pub fn text_centered(&mut self, x: i64, y: i64, text: &str, scale: u32, c: [u8; 3]) {
        let w = text_width(text, scale) as i64;
        self.text(x - w / 2, y, text, scale, c);
    }

    /// Draws `text` ending at x (top at y).
    pub fn text_right(&mut self, x: i64, y: i64, text: &str, scale: u32, c: [u8; 3]) {
        let w = text_width(text, scale) as i64;
        self.text(x - w, y, text, scale, c);
    }

    /// Draws `text` turned a quarter left (read bottom to top): the top of its line at
    /// x, its start at y.
    pub fn text_vertical(&mut self, x: i64, y: i64, text: &str, scale: u32, c: [u8; 3]) {
        font::rasterize(text, scale, |px, py, a| {
            self.blend(x + py, y - 1 - px, c, a)
        });
    }

    /// [`Canvas::text`] with a two-pixel outline of `halo` around every stroke, so that
    /// it reads on any colour beneath.
    pub fn text_outlined(
        &mut self,
        x: i64,
        y: i64,
        text: &str,
        scale: u32,
        c: [u8; 3],
        halo: [u8; 3],
    ) {
        for dy in -2i64..=2 {
            for dx in -2i64..=2 {
                if (dx, dy) != (0, 0) && dx.abs() + dy.abs() < 4 {
                    self.text(x + dx, y + dy, text, scale, halo);
                }
            }
        }
        self.text(x, y, text, scale, c);
    }

    /// Copies `other` onto this canvas with its top left at (x, y), clipped.
    pub fn blit(&mut self, other: &Canvas, x: i64, y: i64) {
        for oy in 0..other.height {
            for ox in 0..other.width {
                let i = 3 * (ox as usize + other.width as usize * oy as usize);
                let c = [other.rgb[i], other.rgb[i + 1], other.rgb[i + 2]];
                self.set(x + ox as i64, y + oy as i64, c);
            }
        }
    }

    /// Canvases side by side (top-aligned), `gap` pixels of `background` between them.
    pub fn hstack(parts: &[Canvas], gap: u32, background: [u8; 3]) -> Canvas {
        let w =
            parts.iter().map(|p| p.width).sum::<u32>() + gap * parts.len().saturating_sub(1) as u32;
        let h = parts.iter().map(|p| p.height).max().unwrap_or(0);
        let mut out = Canvas::new(w.max(1), h.max(1), background);
        let mut x = 0i64;
        for p in parts {
            out.blit(p, x, 0);
            x += (p.width + gap) as i64;
        }
        out
    }

    /// Canvases in rows of `columns`, each column as wide as its widest canvas and each
    /// row as tall as its tallest (top left aligned), `gap` pixels between them.
    pub fn grid(parts: &[Canvas], columns: usize, gap: u32, background: [u8; 3]) -> Canvas {
        let columns = columns.max(1);
        let mut widths = vec![0u32; columns];
        for (i, p) in parts.iter().enumerate() {
            widths[i % columns] = widths[i % columns].max(p.width);
        }
        let rows: Vec<Canvas> = parts
            .chunks(columns)
            .map(|row| {
                let padded: Vec<Canvas> = row
                    .iter()
                    .zip(&widths)
                    .map(|(p, &w)| {
                        let mut c = Canvas::new(w.max(1), p.height.max(1), background);
                        c.blit(p, 0, 0);
                        c
                    })
                    .collect();
                Canvas::hstack(&padded, gap, background)
            })
            .collect();
        Canvas::vstack(&rows, gap, background)
    }

    /// Canvases one above the other (left-aligned), `gap` pixels between them.
    pub fn vstack(parts: &[Canvas], gap: u32, background: [u8; 3]) -> Canvas {
        let h = parts.iter().map(|p| p.height).sum::<u32>()
            + gap * parts.len().saturating_sub(1) as u32;
        let w = parts.iter().map(|p| p.width).max().unwrap_or(0);
        let mut out = Canvas::new(w.max(1), h.max(1), background);
        let mut y = 0i64;
        for p in parts {
            out.blit(p, 0, y);
            y += (p.height + gap) as i64;
        }
        out
    }

    /// The canvas as PNG file bytes (8-bit RGB).
    pub fn png_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            // Writing into a Vec cannot fail, and the sizes match by construction.
            let mut w = enc.write_header().expect("PNG header into memory");
            w.write_image_data(&self.rgb).expect("PNG data into memory");
            w.finish().expect("PNG end into memory");
        }
        out
    }
}

pub use font::{line_height, text_width};

/// `text` broken at spaces into lines at most `width` pixels wide at the charts' scale
/// (a word wider than that stands alone on its line); none for empty text.
pub fn wrap(text: &str, width: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if text_width(&format!("{l} {word}"), 2) <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// An animated PNG (APNG) of `frames`, each shown `delay_ms` milliseconds, looping
/// forever; browsers play it, and viewers without APNG show the first frame.
/// Frames of other sizes than the first are padded or cropped to it (white).
pub fn apng_bytes(frames: &[Canvas], delay_ms: u16) -> Vec<u8> {
    let Some(first) = frames.first() else {
        return Canvas::new(1, 1, WHITE).png_bytes();
    };
    let (w, h) = (first.width, first.height);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_animated(frames.len() as u32, 0)
            .expect("frame count is at least 1");
        enc.set_frame_delay(delay_ms, 1000)
            .expect("animated encoder takes a delay");
        let mut wr = enc.write_header().expect("APNG header into memory");
        for f in frames {
            if f.width == w && f.height == h {
                wr.write_image_data(&f.rgb).expect("APNG frame into memory");
            } else {
                let mut fitted = Canvas::new(w, h, WHITE);
                fitted.blit(f, 0, 0);
                wr.write_image_data(&fitted.rgb)
                    .expect("APNG frame into memory");
            }
        }
        wr.finish().expect("APNG end into memory");
    }
    out
}
