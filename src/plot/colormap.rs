//! Perceptually uniform colour maps (lightness rises monotonically from one end to
//! the other, so a brighter colour always means a larger value, also in grey print and
//! for the common colour-vision deficiencies).

use super::tables::{MAGMA, VIRIDIS};

/// A colour map from [0, 1] to sRGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMap {
    /// Dark blue through green to yellow (van der Walt & Smith).
    Viridis,
    /// Black through purple and orange to pale yellow (van der Walt & Smith).
    Magma,
}

impl ColorMap {
    /// The colour at `t` in [0, 1] (clamped; NaN gives the low end), linear between
    /// the 256 entries of the table.
    pub fn rgb(self, t: f64) -> [u8; 3] {
        let table = match self {
            ColorMap::Viridis => &VIRIDIS,
            ColorMap::Magma => &MAGMA,
        };
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let x = t * 255.0;
        let i = (x.floor() as usize).min(254);
        let f = x - i as f64;
        let (a, b) = (table[i], table[i + 1]);
        let mix = |k: usize| (a[k] as f64 + f * (b[k] as f64 - a[k] as f64)).round() as u8;
        [mix(0), mix(1), mix(2)]
    }

    /// The map's name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ColorMap::Viridis => "viridis",
            ColorMap::Magma => "magma",
        }
    }
}

/// CIE L* (0 black … 100 white) of an sRGB colour, for checking that a map's lightness
/// is monotone.
pub fn lightness(c: [u8; 3]) -> f64 {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    // Relative luminance with the sRGB (Rec. 709) primaries, then L* (CIE 1976).
    let y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
    if y > 216.0 / 24389.0 {
        116.0 * y.cbrt() - 16.0
    } else {
        y * 24389.0 / 27.0
    }
}
