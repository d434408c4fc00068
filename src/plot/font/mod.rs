//! Text in a real typeface: DejaVu Sans, bundled in the binary (`DejaVuSans.ttf` beside
//! this file, under the Bitstream Vera licence in `LICENSE-DejaVu.txt`), laid out with
//! its advances and kerning and rasterised anti-aliased by `ab_glyph`.
//!
//! Sizes are in whole steps: at `scale` 1 a line is [`LINE_PX`] pixels from the top of
//! its ascenders to the bottom of its descenders, so capitals stand about 0.63 of it.
//! The charts draw at scale 2: 46-pixel lines, 29-pixel capitals (the bitmap font drawn
//! before had 14-pixel capitals).

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, Glyph, PxScale, ScaleFont};

static DEJAVU_SANS: &[u8] = include_bytes!("DejaVuSans.ttf");

/// Line height in pixels at scale 1 (ascent to descent of the typeface).
pub const LINE_PX: u32 = 23;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // Bundled at build time: it parses, or no text could ever be drawn.
        FontRef::try_from_slice(DEJAVU_SANS).expect("the bundled DejaVu Sans parses")
    })
}

fn px(scale: u32) -> PxScale {
    PxScale::from((LINE_PX * scale.max(1)) as f32)
}

/// The glyphs of `text` on one line, the line's top at y = 0 and its first pen
/// position at x = 0, and the pen position after the last glyph.
fn layout(text: &str, scale: u32) -> (Vec<Glyph>, f32) {
    let f = font().as_scaled(px(scale));
    let mut pen = 0.0f32;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(px(scale), point(pen, f.ascent())));
        pen += f.h_advance(id);
        prev = Some(id);
    }
    (glyphs, pen)
}

/// Width of `text` in pixels at `scale` (its advance, rounded up).
pub fn text_width(text: &str, scale: u32) -> u32 {
    layout(text, scale).1.ceil() as u32
}

/// Height of one line in pixels at `scale`.
pub fn line_height(scale: u32) -> u32 {
    LINE_PX * scale.max(1)
}

/// Calls `ink(x, y, coverage)` for every pixel the text covers, coverage in (0, 1], in
/// pixels from the top left of the line (top of the ascenders at y = 0).
pub fn rasterize(text: &str, scale: u32, mut ink: impl FnMut(i64, i64, f32)) {
    let (glyphs, _) = layout(text, scale);
    for g in glyphs {
        if let Some(outline) = font().outline_glyph(g) {
            let b = outline.px_bounds();
            let (x0, y0) = (b.min.x as i64, b.min.y as i64);
            outline.draw(|x, y, c| {
                if c > 0.0 {
                    ink(x0 + i64::from(x), y0 + i64::from(y), c.min(1.0));
                }
            });
        }
    }
}

/// Whether the typeface has a glyph for `c` (a character without one draws as a box).
pub fn has_glyph(c: char) -> bool {
    font().glyph_id(c).0 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows (top, bottom) of the ink of `text` at `scale`.
    fn ink_rows(text: &str, scale: u32) -> (i64, i64) {
        let (mut top, mut bottom) = (i64::MAX, i64::MIN);
        rasterize(text, scale, |_, y, c| {
            if c > 0.5 {
                top = top.min(y);
                bottom = bottom.max(y);
            }
        });
        (top, bottom)
    }

    /// The charts' capitals (scale 2) are at least twice the old bitmap font's 14 pixels
    /// and sit inside their line.
    #[test]
    fn capitals_are_twice_the_old_height() {
        let (top, bottom) = ink_rows("HTEZ", 2);
        let h = bottom - top + 1;
        assert!(h >= 28, "capitals {h} px");
        assert!(
            top >= 0 && bottom < i64::from(line_height(2)),
            "{top}..{bottom}"
        );
        let (_, below) = ink_rows("gjpqy", 2);
        assert!(
            below < i64::from(line_height(2)),
            "descenders end at {below}"
        );
    }

    /// Every character the pictures write has a glyph.
    #[test]
    fn the_pictures_characters_are_in_the_typeface() {
        for c in "0123456789 AZaz.,-+×µ³²()[]/%:=_<>'·≥≤→↑←↓−–—∞αβχλμτ½⁻¹⁰".chars()
        {
            assert!(has_glyph(c), "no glyph for {c:?}");
        }
    }

    /// Kerning and advances: a longer text is wider, and widths add up to within the
    /// kerning of the joint.
    #[test]
    fn widths_follow_the_advances() {
        let (a, b) = (text_width("T cells", 2), text_width(" (cells/mm³)", 2));
        let ab = text_width("T cells (cells/mm³)", 2);
        assert!(ab + 2 >= a + b - 2 && ab <= a + b + 2, "{a} + {b} vs {ab}");
        assert!(text_width("W", 2) > text_width("i", 2));
        assert_eq!(text_width("", 2), 0);
    }
}
