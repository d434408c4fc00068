//! Infiltration readouts of MODEL.md, reduced from the fields at a snapshot: mean T in
//! the core, margin, stroma and outside the tumour, the infiltration ratio, viable and
//! killed tumour, drug levels and receptor occupancy in the tumour, and the T-cell depth
//! profile. Sums run per z-plane in parallel and are added in plane order, so the result
//! does not depend on the thread count.

use rayon::prelude::*;
use serde::Serialize;

use crate::geometry::Geometry;
use crate::model::{antagonist_occupancy, blockade, signal, Fields, Params, STROMA, TUMOR};
use crate::scenario::Readout;

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

    fn bin_of(&self, d: f64) -> Option<usize> {
        if d < self.profile_min || d >= self.profile_max {
            return None;
        }
        let b = ((d - self.profile_min) / self.bin).floor() as usize;
        (b < self.bins()).then_some(b)
    }
}

/// Sums over one set of voxels.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    n: u64,
    t: f64,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    core: Sum,
    margin: Sum,
    stroma: Sum,
    outside: Sum,
    tumor: Sum,
    all_t: f64,
    n: f64,
    k: f64,
    a_tumor: f64,
    p_tumor: f64,
    s_tumor: f64,
    occ_tumor: f64,
    blk_tumor: f64,
    profile_t: Vec<f64>,
    profile_n: Vec<u64>,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        for (a, b) in [
            (&mut self.core, &o.core),
            (&mut self.margin, &o.margin),
            (&mut self.stroma, &o.stroma),
            (&mut self.outside, &o.outside),
            (&mut self.tumor, &o.tumor),
        ] {
            a.n += b.n;
            a.t += b.t;
        }
        self.all_t += o.all_t;
        self.n += o.n;
        self.k += o.k;
        self.a_tumor += o.a_tumor;
        self.p_tumor += o.p_tumor;
        self.s_tumor += o.s_tumor;
        self.occ_tumor += o.occ_tumor;
        self.blk_tumor += o.blk_tumor;
        if self.profile_t.is_empty() {
            self.profile_t = o.profile_t.clone();
            self.profile_n = o.profile_n.clone();
        } else {
            for (a, b) in self.profile_t.iter_mut().zip(&o.profile_t) {
                *a += b;
            }
            for (a, b) in self.profile_n.iter_mut().zip(&o.profile_n) {
                *a += b;
            }
        }
    }
}

/// The scalar readouts at one snapshot. Densities in cells/mm³, cell counts in cells.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub time_h: f64,
    pub t_core_per_mm3: f64,
    pub t_margin_per_mm3: f64,
    /// Mean T in core / mean T in margin (NaN when the margin holds no T cells).
    pub infiltration_ratio: f64,
    pub t_stroma_per_mm3: f64,
    /// Outside the tumour boundary (distance > 0).
    pub t_outside_per_mm3: f64,
    pub t_total_cells: f64,
    pub viable_tumor_cells: f64,
    pub killed_tumor_cells: f64,
    /// ΣK / ΣN at the start of dosing.
    pub killed_fraction: f64,
    #[serde(rename = "amd3100_tumor_uM")]
    pub amd3100_tumor_um: f64,
    #[serde(rename = "anti_pd1_tumor_nM")]
    pub anti_pd1_tumor_nm: f64,
    /// Mean CXCR4 signal s in tumour-class voxels.
    pub cxcr4_signal_tumor: f64,
    /// Mean CXCR4 occupancy by AMD3100 in tumour-class voxels.
    pub cxcr4_amd3100_occupancy_tumor: f64,
    /// Mean PD-1 blockade b in tumour-class voxels.
    pub pd1_blockade_tumor: f64,
    pub voxels_core: u64,
    pub voxels_margin: u64,
}

impl Metrics {
    /// The CSV header, units in the column names.
    pub const CSV_HEADER: &'static str =
        "time_h,t_core_per_mm3,t_margin_per_mm3,infiltration_ratio,\
t_stroma_per_mm3,t_outside_per_mm3,t_total_cells,viable_tumor_cells,killed_tumor_cells,\
killed_fraction,amd3100_tumor_uM,anti_pd1_tumor_nM,cxcr4_signal_tumor,\
cxcr4_amd3100_occupancy_tumor,pd1_blockade_tumor,voxels_core,voxels_margin";

    pub fn csv_row(&self) -> String {
        let f = |x: f64| format!("{x:.9e}");
        [
            format!("{:.6}", self.time_h),
            f(self.t_core_per_mm3),
            f(self.t_margin_per_mm3),
            f(self.infiltration_ratio),
            f(self.t_stroma_per_mm3),
            f(self.t_outside_per_mm3),
            f(self.t_total_cells),
            f(self.viable_tumor_cells),
            f(self.killed_tumor_cells),
            f(self.killed_fraction),
            f(self.amd3100_tumor_um),
            f(self.anti_pd1_tumor_nm),
            f(self.cxcr4_signal_tumor),
            f(self.cxcr4_amd3100_occupancy_tumor),
            f(self.pd1_blockade_tumor),
            self.voxels_core.to_string(),
            self.voxels_margin.to_string(),
        ]
        .join(",")
    }
}

/// Snapshot readouts: the scalars and the mean T per depth bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub metrics: Metrics,
    /// Mean T (cells/mm³) per depth bin; NaN for an empty bin.
    pub profile: Vec<f64>,
    /// ΣN over all voxels (fraction·voxels), the base of the killed fraction.
    pub sum_n: f64,
}

fn mean(s: Sum) -> f64 {
    if s.n == 0 {
        f64::NAN
    } else {
        s.t / s.n as f64
    }
}

/// Reduces the fields to the snapshot readouts. `n0` is ΣN at the start of dosing
/// (None: use the current ΣN, giving a killed fraction relative to now).
pub fn reduce(
    fields: &Fields,
    geom: &Geometry,
    params: &Params,
    tumor_capacity_per_mm3: f64,
    regions: &Regions,
    time_h: f64,
    n0: Option<f64>,
) -> Snapshot {
    let [nx, ny, nz] = geom.dims;
    let plane = nx * ny;
    let bins = regions.bins();
    let per_plane: Vec<Acc> = (0..nz)
        .into_par_iter()
        .map(|z| {
            let mut acc = Acc {
                profile_t: vec![0.0; bins],
                profile_n: vec![0; bins],
                ..Default::default()
            };
            for i in z * plane..(z + 1) * plane {
                let t = fields.t[i];
                let d = f64::from(geom.distance_um[i]);
                let cl = geom.class[i];
                let add = |s: &mut Sum| {
                    s.n += 1;
                    s.t += t;
                };
                if cl == TUMOR && d < -regions.d_core {
                    add(&mut acc.core);
                }
                if d.abs() <= regions.d_margin {
                    add(&mut acc.margin);
                }
                if cl == STROMA {
                    add(&mut acc.stroma);
                }
                if d > 0.0 {
                    add(&mut acc.outside);
                }
                acc.all_t += t;
                acc.n += fields.n[i];
                acc.k += fields.k[i];
                if cl == TUMOR {
                    add(&mut acc.tumor);
                    let (c, a, p) = (fields.c[i], fields.a[i], fields.p[i]);
                    acc.a_tumor += a;
                    acc.p_tumor += p;
                    acc.s_tumor += signal(c, a, params.k_c, params.k_a);
                    acc.occ_tumor += antagonist_occupancy(c, a, params.k_c, params.k_a);
                    acc.blk_tumor += blockade(p, params.k_p);
                }
                if let Some(b) = regions.bin_of(d) {
                    acc.profile_t[b] += t;
                    acc.profile_n[b] += 1;
                }
            }
            acc
        })
        .collect();
    let mut tot = Acc::default();
    for a in &per_plane {
        tot.add(a);
    }
    let vox_mm3 = (params.h * 1e-3).powi(3);
    let nt = tot.tumor.n.max(1) as f64;
    let base = n0.unwrap_or(tot.n);
    let t_core = mean(tot.core);
    let t_margin = mean(tot.margin);
    let metrics = Metrics {
        time_h,
        t_core_per_mm3: t_core,
        t_margin_per_mm3: t_margin,
        infiltration_ratio: if t_margin > 0.0 {
            t_core / t_margin
        } else {
            f64::NAN
        },
        t_stroma_per_mm3: mean(tot.stroma),
        t_outside_per_mm3: mean(tot.outside),
        t_total_cells: tot.all_t * vox_mm3,
        viable_tumor_cells: tot.n * tumor_capacity_per_mm3 * vox_mm3,
        killed_tumor_cells: tot.k * tumor_capacity_per_mm3 * vox_mm3,
        killed_fraction: if base > 0.0 { tot.k / base } else { 0.0 },
        amd3100_tumor_um: tot.a_tumor / nt,
        anti_pd1_tumor_nm: tot.p_tumor / nt,
        cxcr4_signal_tumor: tot.s_tumor / nt,
        cxcr4_amd3100_occupancy_tumor: tot.occ_tumor / nt,
        pd1_blockade_tumor: tot.blk_tumor / nt,
        voxels_core: tot.core.n,
        voxels_margin: tot.margin.n,
    };
    let profile = tot
        .profile_t
        .iter()
        .zip(&tot.profile_n)
        .map(|(t, &n)| if n == 0 { f64::NAN } else { t / n as f64 })
        .collect();
    Snapshot {
        metrics,
        profile,
        sum_n: tot.n,
    }
}

/// The first field, voxel and value that is NaN, infinite or negative, if any.
/// "Negative" allows round-off: below −1e-9 of the field's largest magnitude.
pub fn first_invalid(fields: &Fields) -> Option<(&'static str, usize, f64)> {
    for (name, f) in fields.named() {
        let scale = f
            .par_iter()
            .map(|v| v.abs())
            .reduce(|| 0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        // The lowest bad index is reported, whatever the thread count.
        if let Some(i) = f
            .par_iter()
            .position_first(|v| !v.is_finite() || *v < -1e-9 * scale)
        {
            return Some((name, i, f[i]));
        }
    }
    None
}
