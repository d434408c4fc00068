//! The host mirrors of the WGSL structs in shaders/common.wgsl: the run's parameters
//! ([`GpuParams`], one uniform buffer) and one dispatch's values ([`GpuStep`], entries of
//! the step buffer bound with a dynamic offset). tests/shaders.rs checks that sizes and
//! field offsets match the WGSL layout as naga computes it.

use bytemuck::{Pod, Zeroable};

use crate::model::{chem_index, ChemParams, Params, SpeciesParams, N_CLASSES};
use crate::solver::SubStep;

/// Per-class values in WGSL's `array<vec4<f32>, 2>`: class c in `[c / 4][c % 4]`, 8
/// slots of which [`N_CLASSES`] are used.
pub type PerClass = [[f32; 4]; 2];

/// Per-class values as f32, unused slots 0.
pub fn per_class(v: &[f64; N_CLASSES]) -> PerClass {
    let mut out = [[0.0; 4]; 2];
    for (c, x) in v.iter().enumerate() {
        out[c / 4][c % 4] = *x as f32;
    }
    out
}

/// One chemical's per-class coefficients, and its face conductances per class pair.
// Keep in sync with `struct Chem` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuChem {
    /// The diffusivity of the face between classes i and j (µm²/min): the harmonic mean
    /// of theirs, 0 where either is 0 (a closed face), as f32 arithmetic gives it; the
    /// twin of `cpu::kernels::ChemTables::face_d`. Row i is entries `2i` (classes 0–3)
    /// and `2i + 1` (classes 4–7).
    pub face: [[f32; 4]; 16],
    /// `2 max(D, 0)` per class: a bath face's conductance (the bath is half a voxel
    /// away), the twin of `ChemTables::bath_d`.
    pub bath_d: PerClass,
    pub decay: PerClass,
    pub secretion: PerClass,
    pub exchange: PerClass,
}

impl GpuChem {
    pub fn new(c: &ChemParams) -> Self {
        let d = c.diffusion.map(|x| x as f32);
        let mut face = [[0.0; 4]; 16];
        for (i, &di) in d.iter().enumerate() {
            for (j, &dj) in d.iter().enumerate() {
                face[2 * i + j / 4][j % 4] = harmonic_mean_f32(di, dj);
            }
        }
        GpuChem {
            face,
            bath_d: per_class(&c.diffusion.map(|x| 2.0 * x.max(0.0))),
            decay: per_class(&c.decay),
            secretion: per_class(&c.secretion),
            exchange: per_class(&c.exchange),
        }
    }

    /// The face diffusivity between classes i and j, as the kernels read it.
    pub fn face_d(&self, i: usize, j: usize) -> f32 {
        self.face[2 * i + j / 4][j % 4]
    }
}

/// The harmonic mean of two diffusivities in f32, `2ab/(a + b)` (`a` when they are
/// equal, 0 when either is ≤ 0), in the operation order the kernels once evaluated it per
/// face; symmetric to the bit (`2a` is exact, so `(2a)b` and `(2b)a` round alike).
pub fn harmonic_mean_f32(a: f32, b: f32) -> f32 {
    if a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    if a == b {
        return a;
    }
    2.0 * a * b / (a + b)
}

/// The run's parameters as the kernels see them (f32, reciprocals taken in f64).
// Keep in sync with `struct Params` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuParams {
    /// CXCL12, AMD3100, anti-PD-1.
    pub chem: [GpuChem; 3],
    pub motility: PerClass,
    pub influx: PerClass,
    pub nx: u32,
    pub ny: u32,
    pub nz: u32,
    /// The row stride: nx rounded up to a multiple of 4.
    pub nxp: u32,
    /// Bit f set: face f (x−, x+, y−, y+, z−, z+) is a bath face.
    pub bath_faces: u32,
    pub inv_h2: f32,
    pub inv_k_c: f32,
    pub inv_k_a: f32,
    pub k_p: f32,
    pub c_uptake: f32,
    pub mu0: f32,
    pub arrest: f32,
    pub chi: f32,
    /// 1/T_max, 0 for an unlimited T_max.
    pub inv_t_max: f32,
    pub death: f32,
    pub prolif: f32,
    pub k_n: f32,
    pub growth: f32,
    pub kill: f32,
    pub q: f32,
    /// K of the coupling that scales the kill rate (`model::couplings`), 0 when none
    /// does.
    pub kill_level: f32,
    pub pad0: u32,
    pub pad1: u32,
    pub pad2: u32,
}

/// `nx` rounded up to a multiple of 4: the row stride of every GPU field.
pub fn padded_nx(nx: usize) -> usize {
    nx.div_ceil(4) * 4
}

/// `1/x` in f64, then f32; 0 for an infinite `x`.
fn recip(x: f64) -> f32 {
    (1.0 / x) as f32
}

impl GpuParams {
    pub fn new(p: &Params) -> Self {
        let [nx, ny, nz] = p.dims;
        let bath_faces = p
            .bath_faces
            .iter()
            .enumerate()
            .fold(0u32, |bits, (f, &on)| bits | (u32::from(on) << f));
        GpuParams {
            chem: [
                GpuChem::new(&p.cxcl12),
                GpuChem::new(&p.amd3100),
                GpuChem::new(&p.anti_pd1),
            ],
            motility: per_class(&p.motility),
            influx: per_class(&p.influx),
            nx: nx as u32,
            ny: ny as u32,
            nz: nz as u32,
            nxp: padded_nx(nx) as u32,
            bath_faces,
            inv_h2: recip(p.h * p.h),
            inv_k_c: recip(p.k_c),
            inv_k_a: recip(p.k_a),
            k_p: p.k_p as f32,
            c_uptake: p.c_uptake as f32,
            mu0: p.mu0 as f32,
            arrest: p.arrest as f32,
            chi: p.chi as f32,
            inv_t_max: recip(p.t_max),
            death: p.death as f32,
            prolif: p.prolif as f32,
            k_n: p.k_n as f32,
            growth: p.growth as f32,
            kill: p.kill as f32,
            q: p.q as f32,
            kill_level: p
                .coupled(crate::model::Rate::Kill)
                .map_or(0.0, |c| c.level as f32),
            pad0: 0,
            pad1: 0,
            pad2: 0,
        }
    }

    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 27] = {
        use std::mem::offset_of;
        [
            ("chem", offset_of!(GpuParams, chem)),
            ("motility", offset_of!(GpuParams, motility)),
            ("influx", offset_of!(GpuParams, influx)),
            ("nx", offset_of!(GpuParams, nx)),
            ("ny", offset_of!(GpuParams, ny)),
            ("nz", offset_of!(GpuParams, nz)),
            ("nxp", offset_of!(GpuParams, nxp)),
            ("bath_faces", offset_of!(GpuParams, bath_faces)),
            ("inv_h2", offset_of!(GpuParams, inv_h2)),
            ("inv_k_c", offset_of!(GpuParams, inv_k_c)),
            ("inv_k_a", offset_of!(GpuParams, inv_k_a)),
            ("k_p", offset_of!(GpuParams, k_p)),
            ("c_uptake", offset_of!(GpuParams, c_uptake)),
            ("mu0", offset_of!(GpuParams, mu0)),
            ("arrest", offset_of!(GpuParams, arrest)),
            ("chi", offset_of!(GpuParams, chi)),
            ("inv_t_max", offset_of!(GpuParams, inv_t_max)),
            ("death", offset_of!(GpuParams, death)),
            ("prolif", offset_of!(GpuParams, prolif)),
            ("k_n", offset_of!(GpuParams, k_n)),
            ("growth", offset_of!(GpuParams, growth)),
            ("kill", offset_of!(GpuParams, kill)),
            ("q", offset_of!(GpuParams, q)),
            ("kill_level", offset_of!(GpuParams, kill_level)),
            ("pad0", offset_of!(GpuParams, pad0)),
            ("pad1", offset_of!(GpuParams, pad1)),
            ("pad2", offset_of!(GpuParams, pad2)),
        ]
    };
}

impl GpuChem {
    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 5] = {
        use std::mem::offset_of;
        [
            ("face", offset_of!(GpuChem, face)),
            ("bath_d", offset_of!(GpuChem, bath_d)),
            ("decay", offset_of!(GpuChem, decay)),
            ("secretion", offset_of!(GpuChem, secretion)),
            ("exchange", offset_of!(GpuChem, exchange)),
        ]
    };
}

/// A species' coefficients as species.wgsl sees them (one uniform buffer per species).
// Keep in sync with `struct Species` in shaders/species.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuSpecies {
    pub chem: GpuChem,
    /// σ_T, σ_N, σ_TN.
    pub by_t: f32,
    pub by_n: f32,
    pub by_tn: f32,
    pub pad0: f32,
}

impl GpuSpecies {
    pub fn new(s: &SpeciesParams) -> Self {
        GpuSpecies {
            chem: GpuChem::new(&s.chem),
            by_t: s.by_t as f32,
            by_n: s.by_n as f32,
            by_tn: s.by_tn as f32,
            pad0: 0.0,
        }
    }

    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 5] = {
        use std::mem::offset_of;
        [
            ("chem", offset_of!(GpuSpecies, chem)),
            ("by_t", offset_of!(GpuSpecies, by_t)),
            ("by_n", offset_of!(GpuSpecies, by_n)),
            ("by_tn", offset_of!(GpuSpecies, by_tn)),
            ("pad0", offset_of!(GpuSpecies, pad0)),
        ]
    };
}

/// One dispatch's values: a cell step's Δt, or the chemicals a chem pass steps with
/// each one's sub-step and levels.
// Keep in sync with `struct Step` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuStep {
    /// The cell step, min (cell kernels).
    pub dt: f32,
    /// Bit k: the pass steps chemical k (0 CXCL12, 1 AMD3100, 2 anti-PD-1).
    pub chems: u32,
    pub pad0: u32,
    pub pad1: u32,
    /// Per chemical k (entry k; the fourth unused): its sub-step, min.
    pub chem_dt: [f32; 4],
    /// Per chemical k: its plasma level, nM.
    pub plasma: [f32; 4],
    /// Per chemical k: its bath level, nM.
    pub bath: [f32; 4],
}

impl GpuStep {
    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 7] = {
        use std::mem::offset_of;
        [
            ("dt", offset_of!(GpuStep, dt)),
            ("chems", offset_of!(GpuStep, chems)),
            ("pad0", offset_of!(GpuStep, pad0)),
            ("pad1", offset_of!(GpuStep, pad1)),
            ("chem_dt", offset_of!(GpuStep, chem_dt)),
            ("plasma", offset_of!(GpuStep, plasma)),
            ("bath", offset_of!(GpuStep, bath)),
        ]
    };

    /// A species sub-step of `dt` min with its (plasma, bath) levels, in component 0.
    pub fn species(dt: f64, plasma: f64, bath: f64) -> Self {
        let mut step = Self::zeroed();
        step.chem_dt[0] = dt as f32;
        step.plasma[0] = plasma as f32;
        step.bath[0] = bath as f32;
        step
    }

    /// A cell step of `dt` min.
    pub fn cell(dt: f64) -> Self {
        GpuStep {
            dt: dt as f32,
            ..Self::zeroed()
        }
    }

    /// A chem pass stepping each chemical of `subs` (at most one sub-step each).
    ///
    /// # Panics
    /// If a chemical appears twice.
    pub fn chems(subs: &[SubStep]) -> Self {
        let mut step = Self::zeroed();
        for s in subs {
            let k = chem_index(s.which);
            assert_eq!(step.chems & (1 << k), 0, "{:?} twice in one pass", s.which);
            step.chems |= 1 << k;
            step.chem_dt[k] = s.dt as f32;
            step.plasma[k] = s.plasma as f32;
            step.bath[k] = s.bath as f32;
        }
        step
    }
}

/// The slab a dispatch steps (one uniform buffer per slab, bound in group 0).
// Keep in sync with `struct Slab` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct GpuSlab {
    /// Global z of the slab's first own plane.
    pub z0: u32,
    /// Own planes (its buffers hold two more: the halos).
    pub planes: u32,
    pub pad0: u32,
    pub pad1: u32,
}

impl GpuSlab {
    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 4] = {
        use std::mem::offset_of;
        [
            ("z0", offset_of!(GpuSlab, z0)),
            ("planes", offset_of!(GpuSlab, planes)),
            ("pad0", offset_of!(GpuSlab, pad0)),
            ("pad1", offset_of!(GpuSlab, pad1)),
        ]
    };
}

/// What the snapshot kernels of shaders/probe.wgsl need beyond the parameters: the
/// profile's bins, the bands of the sums, the picture plane, and the bath levels the
/// bath sums are measured from.
// Keep in sync with `struct Probe` in shaders/probe.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct GpuProbe {
    /// Depth bins of the profile.
    pub bins: u32,
    /// Bands of rows per plane, one workgroup each.
    pub bands: u32,
    /// The picture plane: perpendicular to axis 0 (x), 1 (y) or 2 (z) at voxel `slice`,
    /// `w` × `h` pixels.
    pub axis: u32,
    pub slice: u32,
    pub w: u32,
    pub h: u32,
    /// The AMD3100 and anti-PD-1 bath levels of `probe_sums`' bath rows
    /// (`crate::probe::Sums::bath_ref`).
    pub bath_a: f32,
    pub bath_p: f32,
}

impl GpuProbe {
    /// Field names and byte offsets, in declaration order (for the layout test).
    pub const FIELDS: [(&'static str, usize); 8] = {
        use std::mem::offset_of;
        [
            ("bins", offset_of!(GpuProbe, bins)),
            ("bands", offset_of!(GpuProbe, bands)),
            ("axis", offset_of!(GpuProbe, axis)),
            ("slice", offset_of!(GpuProbe, slice)),
            ("w", offset_of!(GpuProbe, w)),
            ("h", offset_of!(GpuProbe, h)),
            ("bath_a", offset_of!(GpuProbe, bath_a)),
            ("bath_p", offset_of!(GpuProbe, bath_p)),
        ]
    };
}
