//! What a snapshot needs of the fields, reduced where the fields live: the sums behind
//! the readouts ([`crate::readout`]) and the budgets ([`crate::budget`]), and the
//! extremes that tell whether a field went bad. The CPU reduces its f64 fields here
//! ([`Sums::of`]); the GPU reduces its f32 fields on the device (`shaders/probe.wgsl`,
//! `gpu/probe.rs`) to the same [`Sums`], so a snapshot reads back a few kilobytes, not
//! every field.
//!
//! Everything that depends on the geometry alone is computed once on the host, as a
//! 32-bit **label** per voxel ([`Labels`]): the readout regions it belongs to, its
//! depth bin and its number of bath faces. The device holds the labels; both backends
//! sum the same per-voxel quantities by label and class, and the formulas that turn
//! sums into readouts and budgets are written once, on the host.

use rayon::prelude::*;

use crate::geometry::Geometry;
use crate::model::terms::{blockade, crowding, fed, kill_factor, occupancy, signal};
use crate::model::{Fields, Params, Rate, N_CLASSES, TUMOR};
use crate::scenario::Readout;

/// Label bit: tumour-class voxel deeper than d_core (the core).
pub const CORE: u32 = 1;
/// Label bit: |distance| ≤ d_margin (the margin).
pub const MARGIN: u32 = 2;
/// Label bit: distance > 0 (outside the tumour boundary).
pub const OUTSIDE: u32 = 4;
/// Label bits 3–5: the number of the voxel's faces that are bath faces (0–6).
pub const BATH_SHIFT: u32 = 3;
/// Label bits 6–8: the tissue class (so that the device needs no class buffer here).
pub const CLASS_SHIFT: u32 = 6;
/// Label bits 9–31: depth bin + 1 (0: in no bin).
pub const BIN_SHIFT: u32 = 9;

/// Per-class sums, in this order (index into [`Sums::per_class`]): T, A, P, (bath
/// faces)·A, (bath faces)·P, crowding (1 − T/T_max)₊.
pub const PER_CLASS: usize = 6;
/// Other sums, in this order (index into [`Sums::other`]): N, K, T·fed·crowd, the kill
/// factor (1 − q(1 − b))·T·N, and over tumour-class voxels N(1 − N), the CXCR4 signal,
/// the AMD3100 occupancy and the PD-1 blockade; then T in the core, the margin and
/// outside.
pub const OTHER: usize = 11;
/// Sums of each voxel's values (PER_CLASS per class, then OTHER).
pub const SUMS: usize = PER_CLASS * N_CLASSES + OTHER;
/// Fields checked for bad values: every field ([`crate::model::FIELDS`]).
pub const FIELDS: usize = crate::model::N_FIELDS;

/// Indices into [`Sums::other`].
pub mod other {
    pub const N: usize = 0;
    pub const K: usize = 1;
    pub const T_FED_CROWD: usize = 2;
    pub const KILL_TN: usize = 3;
    pub const GROWTH_TUMOR: usize = 4;
    pub const SIGNAL_TUMOR: usize = 5;
    pub const OCCUPANCY_TUMOR: usize = 6;
    pub const BLOCKADE_TUMOR: usize = 7;
    pub const T_CORE: usize = 8;
    pub const T_MARGIN: usize = 9;
    pub const T_OUTSIDE: usize = 10;
}

/// Indices into a row of [`Sums::per_class`].
pub mod per_class {
    pub const T: usize = 0;
    pub const A: usize = 1;
    pub const P: usize = 2;
    /// Σ over bath faces of `L_A − A`, with `L_A = Sums::bath_ref[0]`.
    pub const BATH_A: usize = 3;
    /// Σ over bath faces of `L_P − P`, with `L_P = Sums::bath_ref[1]`.
    pub const BATH_P: usize = 4;
    pub const CROWD: usize = 5;
}

/// Which voxel belongs to which readout region.
#[derive(Debug, Clone, Copy)]
pub struct Regions {
    /// Core: tumour-class voxels deeper than this (µm; distance < −d_core).
    pub d_core: f64,
    /// Margin: |distance| ≤ d_margin (µm), whatever the class.
    pub d_margin: f64,
    pub bin: f64,
    pub profile_min: f64,
    pub profile_max: f64,
}

impl Regions {
    pub fn new(r: &Readout) -> Self {
        Regions {
            d_core: r.d_core_um,
            d_margin: r.d_margin_um,
            bin: r.profile_bin_um,
            profile_min: r.profile_min_um,
            profile_max: r.profile_max_um,
        }
    }

    pub fn bins(&self) -> usize {
        ((self.profile_max - self.profile_min) / self.bin)
            .ceil()
            .max(1.0) as usize
    }

    /// Lower edge of each depth bin, µm.
    pub fn bin_edges(&self) -> Vec<f64> {
        (0..=self.bins())
            .map(|i| self.profile_min + i as f64 * self.bin)
            .collect()
    }

    /// The depth bin of a voxel at signed distance `d` (µm), if any.
    pub fn bin_of(&self, d: f64) -> Option<usize> {
        if d < self.profile_min || d >= self.profile_max {
            return None;
        }
        let b = ((d - self.profile_min) / self.bin).floor() as usize;
        (b < self.bins()).then_some(b)
    }
}

/// Whether `v` is a bad value of a field whose largest magnitude is `scale`: NaN,
/// infinite, or negative beyond round-off (below −1e-9 · scale).
pub fn is_invalid(v: f64, scale: f64) -> bool {
    !v.is_finite() || v < -1e-9 * scale.max(f64::MIN_POSITIVE)
}

/// The labels of every voxel and what follows from them alone: voxel counts per class,
/// region and depth bin, and bath faces per class.
#[derive(Debug, Clone)]
pub struct Labels {
    /// Distinct for every labelling built (clones share it): the GPU uploads a
    /// labelling once and knows it again by this.
    pub id: u64,
    pub dims: [usize; 3],
    /// One per voxel, x fastest (bits: [`CORE`], [`MARGIN`], [`OUTSIDE`], bath faces at
    /// [`BATH_SHIFT`], class at [`CLASS_SHIFT`], bin + 1 at [`BIN_SHIFT`]).
    pub code: Vec<u32>,
    pub bins: usize,
    pub class_voxels: [u64; N_CLASSES],
    /// Σ bath faces over the voxels of each class.
    pub class_bath_faces: [u64; N_CLASSES],
    pub core: u64,
    pub margin: u64,
    pub outside: u64,
    pub bin_voxels: Vec<u64>,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The bath faces of voxel (x, y, z), counted in the solvers' face order x−, x+, y−, y+,
/// z−, z+ (both ends of a one-voxel axis count).
pub fn bath_count(dims: [usize; 3], faces: [bool; 6], x: usize, y: usize, z: usize) -> u32 {
    let [nx, ny, nz] = dims;
    let on = [
        x == 0,
        x + 1 == nx,
        y == 0,
        y + 1 == ny,
        z == 0,
        z + 1 == nz,
    ];
    on.iter().zip(faces).filter(|(o, f)| **o && *f).count() as u32
}

impl Labels {
    /// The labels of `geom` for the readout `regions`, with the bath faces of `params`.
    pub fn new(geom: &Geometry, regions: &Regions, params: &Params) -> Labels {
        Self::build(
            geom.dims,
            &geom.class,
            params.bath_faces,
            regions.bins(),
            |i| {
                let d = f64::from(geom.distance_um[i]);
                let mut code = 0;
                if geom.class[i] == TUMOR && d < -regions.d_core {
                    code |= CORE;
                }
                if d.abs() <= regions.d_margin {
                    code |= MARGIN;
                }
                if d > 0.0 {
                    code |= OUTSIDE;
                }
                if let Some(b) = regions.bin_of(d) {
                    code |= (b as u32 + 1) << BIN_SHIFT;
                }
                code
            },
        )
    }

    /// Labels with bath faces only (no regions, no bins): enough for the budgets.
    pub fn bath_only(dims: [usize; 3], class: &[u8], bath_faces: [bool; 6]) -> Labels {
        Self::build(dims, class, bath_faces, 0, |_| 0)
    }

    fn build(
        dims: [usize; 3],
        class: &[u8],
        faces: [bool; 6],
        bins: usize,
        region: impl Fn(usize) -> u32 + Sync,
    ) -> Labels {
        let [nx, ny, nz] = dims;
        let plane = nx * ny;
        assert_eq!(class.len(), plane * nz, "class codes for {dims:?}");
        let mut code = vec![0u32; plane * nz];
        code.par_chunks_mut(plane).enumerate().for_each(|(z, out)| {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * y;
                    let g = i + plane * z;
                    out[i] = region(g)
                        | bath_count(dims, faces, x, y, z) << BATH_SHIFT
                        | u32::from(class[g]) << CLASS_SHIFT;
                }
            }
        });
        let mut l = Labels {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            dims,
            code,
            bins,
            class_voxels: [0; N_CLASSES],
            class_bath_faces: [0; N_CLASSES],
            core: 0,
            margin: 0,
            outside: 0,
            bin_voxels: vec![0; bins],
        };
        for (&c, &code) in class.iter().zip(&l.code) {
            let c = c as usize;
            l.class_voxels[c] += 1;
            l.class_bath_faces[c] += u64::from(bath_faces_of(code));
            l.core += u64::from(code & CORE != 0);
            l.margin += u64::from(code & MARGIN != 0);
            l.outside += u64::from(code & OUTSIDE != 0);
            if let Some(b) = bin_of(code) {
                l.bin_voxels[b] += 1;
            }
        }
        l
    }
}

/// The bath faces a label records.
pub fn bath_faces_of(code: u32) -> u32 {
    (code >> BATH_SHIFT) & 7
}

/// The depth bin a label records.
pub fn bin_of(code: u32) -> Option<usize> {
    (code >> BIN_SHIFT).checked_sub(1).map(|b| b as usize)
}

/// The sums of one snapshot (units of the fields: T in cells/mm³, A in µM, P in nM, N
/// and K as fractions of the carrying capacity; multiplied by the voxel volume on use).
#[derive(Debug, Clone, PartialEq)]
pub struct Sums {
    /// Per class, the [`per_class`] sums.
    pub per_class: [[f64; PER_CLASS]; N_CLASSES],
    /// The [`other`] sums.
    pub other: [f64; OTHER],
    /// Σ T per depth bin.
    pub profile: Vec<f64>,
    /// Per field (C, A, P, T, N, K): the largest |value| (NaN if any value is NaN).
    pub max_abs: [f64; FIELDS],
    /// Per field: the largest −value over negative values (0 when none is negative).
    pub max_negative: [f64; FIELDS],
    /// Per species the scenario adds, in its order.
    pub species: Vec<SpeciesSums>,
    /// The AMD3100 and anti-PD-1 bath levels (µM, nM) the bath rows are measured from
    /// ([`per_class::BATH_A`]): summing `L − u` per voxel instead of `u` keeps the net
    /// bath flow `Σ g (L − u)` free of the cancellation of two large sums, in f32 on the
    /// GPU. The GPU's are its f32 levels.
    pub bath_ref: [f64; 2],
}

/// The sums of one species: over tumour-class voxels, over the margin and over every
/// voxel, and its extremes (as [`Sums::max_abs`], [`Sums::max_negative`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeciesSums {
    pub tumor: f64,
    pub margin: f64,
    pub all: f64,
    pub max_abs: f64,
    pub max_negative: f64,
}

impl SpeciesSums {
    /// The sums of a species' values (`value(i)` at voxel i, in f64) by `labels`: per
    /// z-plane in parallel, added in plane order (the same bits for any thread count).
    /// The CPU's; the GPU reduces a species on the device to the same sums
    /// (`gpu/probe.rs`: the snapshot kernel with the species in T's place).
    pub fn of(labels: &Labels, value: impl Fn(usize) -> f64 + Sync) -> SpeciesSums {
        let [nx, ny, nz] = labels.dims;
        let plane = nx * ny;
        let per_plane: Vec<SpeciesSums> = (0..nz)
            .into_par_iter()
            .map(|z| {
                let mut s = SpeciesSums::default();
                for i in z * plane..(z + 1) * plane {
                    let code = labels.code[i];
                    let v = value(i);
                    if (code >> CLASS_SHIFT) & 7 == u32::from(TUMOR) {
                        s.tumor += v;
                    }
                    if code & MARGIN != 0 {
                        s.margin += v;
                    }
                    s.all += v;
                    s.max_abs = nan_max(s.max_abs, v.abs());
                    s.max_negative = s.max_negative.max(-v);
                }
                s
            })
            .collect();
        let mut tot = SpeciesSums::default();
        for s in &per_plane {
            tot.tumor += s.tumor;
            tot.margin += s.margin;
            tot.all += s.all;
            tot.max_abs = nan_max(tot.max_abs, s.max_abs);
            tot.max_negative = tot.max_negative.max(s.max_negative);
        }
        tot
    }

    /// Whether its extremes show a bad value ([`is_invalid`]).
    pub fn invalid(&self) -> bool {
        let m = self.max_abs;
        is_invalid(m, m) || is_invalid(-self.max_negative, m)
    }
}

impl Sums {
    /// Zero sums for `bins` depth bins.
    pub fn zero(bins: usize) -> Sums {
        Sums {
            per_class: [[0.0; PER_CLASS]; N_CLASSES],
            other: [0.0; OTHER],
            profile: vec![0.0; bins],
            max_abs: [0.0; FIELDS],
            max_negative: [0.0; FIELDS],
            species: Vec::new(),
            bath_ref: [0.0; 2],
        }
    }

    fn add(&mut self, o: &Sums) {
        for (a, b) in self.per_class.iter_mut().zip(&o.per_class) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (x, y) in self.other.iter_mut().zip(&o.other) {
            *x += y;
        }
        for (x, y) in self.profile.iter_mut().zip(&o.profile) {
            *x += y;
        }
        for f in 0..FIELDS {
            self.max_abs[f] = nan_max(self.max_abs[f], o.max_abs[f]);
            self.max_negative[f] = self.max_negative[f].max(o.max_negative[f]);
        }
    }

    /// The sums of `fields` on tissue `class` with `labels`, in f64: per z-plane in
    /// parallel, added in plane order (the same bits for any thread count). The
    /// per-voxel quantities are those of `shaders/probe.wgsl`.
    pub fn of(
        fields: &Fields,
        class: &[u8],
        labels: &Labels,
        params: &Params,
        bath_ref: [f64; 2],
    ) -> Sums {
        let [nx, ny, nz] = labels.dims;
        let plane = nx * ny;
        let p = params;
        let kill_by = p.coupled(Rate::Kill);
        let per_plane: Vec<Sums> = (0..nz)
            .into_par_iter()
            .map(|z| {
                let mut s = Sums::zero(labels.bins);
                let voxels = z * plane..(z + 1) * plane;
                let codes = &labels.code[voxels.clone()];
                for ((i, &code), &cl8) in voxels.zip(codes).zip(&class[z * plane..]) {
                    let cl = cl8 as usize;
                    let (c, a, pp) = (fields.c[i], fields.a[i], fields.p[i]);
                    let (t, n, k) = (fields.t[i], fields.n[i], fields.k[i]);
                    let nb = f64::from(bath_faces_of(code));
                    let crowd = crowding(t, p.t_max);
                    let fed = fed(n, p.k_n);
                    let b = blockade(pp, p.k_p);
                    let row = &mut s.per_class[cl];
                    row[per_class::T] += t;
                    row[per_class::A] += a;
                    row[per_class::P] += pp;
                    row[per_class::BATH_A] += nb * (bath_ref[0] - a);
                    row[per_class::BATH_P] += nb * (bath_ref[1] - pp);
                    row[per_class::CROWD] += crowd;
                    let o = &mut s.other;
                    o[other::N] += n;
                    o[other::K] += k;
                    o[other::T_FED_CROWD] += t * fed * crowd;
                    let coupled = kill_by.map_or(1.0, |c| c.factor(fields.species[c.species].1[i]));
                    o[other::KILL_TN] += kill_factor(p.q, b) * coupled * t * n;
                    if cl8 == TUMOR {
                        o[other::GROWTH_TUMOR] += n * (1.0 - n);
                        o[other::SIGNAL_TUMOR] += signal(c, a, p.k_c, p.k_a);
                        o[other::OCCUPANCY_TUMOR] += occupancy(c, a, p.k_c, p.k_a);
                        o[other::BLOCKADE_TUMOR] += b;
                    }
                    if code & CORE != 0 {
                        o[other::T_CORE] += t;
                    }
                    if code & MARGIN != 0 {
                        o[other::T_MARGIN] += t;
                    }
                    if code & OUTSIDE != 0 {
                        o[other::T_OUTSIDE] += t;
                    }
                    if let Some(b) = bin_of(code) {
                        s.profile[b] += t;
                    }
                    for (f, v) in [c, a, pp, t, n, k].into_iter().enumerate() {
                        s.max_abs[f] = nan_max(s.max_abs[f], v.abs());
                        s.max_negative[f] = s.max_negative[f].max(-v);
                    }
                }
                s
            })
            .collect();
        let mut tot = Sums::zero(labels.bins);
        for s in &per_plane {
            tot.add(s);
        }
        tot.species = fields
            .species
            .iter()
            .map(|(_, v)| SpeciesSums::of(labels, |i| v[i]))
            .collect();
        tot.bath_ref = bath_ref;
        tot
    }

    /// The sums after K is set to 0 everywhere (the start of dosing).
    pub fn reset_killed(&mut self) {
        const K: usize = crate::model::Field::Killed.index();
        self.other[other::K] = 0.0;
        self.max_abs[K] = 0.0;
        self.max_negative[K] = 0.0;
    }

    /// Σ T over every voxel.
    pub fn t_all(&self) -> f64 {
        self.per_class.iter().map(|r| r[per_class::T]).sum()
    }

    /// The first field (in the order C, A, P, T, N, K) holding a NaN, an infinite value
    /// or a value below −1e-9 of its largest magnitude (round-off allowed), if any: the
    /// test of [`crate::readout::first_invalid`] ([`is_invalid`]) on
    /// the extremes, so that both find the same fields bad.
    pub fn invalid_field(&self) -> Option<crate::model::Field> {
        use crate::model::Field;
        Field::ALL
            .into_iter()
            .find(|f| {
                let m = self.max_abs[f.index()];
                is_invalid(m, m) || is_invalid(-self.max_negative[f.index()], m)
            })
            .or_else(|| {
                let k = self.species.iter().position(SpeciesSums::invalid)?;
                Some(Field::Species(k as u8))
            })
    }
}

/// max that keeps a NaN.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
