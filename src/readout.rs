//! Infiltration readouts of the model (docs/model.md), reduced from the fields at a
//! snapshot: mean T in the core, margin, stroma and outside the tumour, the infiltration
//! ratio, viable and killed tumour, drug levels and receptor occupancy in the tumour, and the T-cell depth
//! profile: formulas on the sums of [`crate::probe`], which either backend reduces.

use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Fields, Params, STROMA, TUMOR};
pub use crate::probe::{is_invalid, Regions};
use crate::probe::{Labels, Sums};

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
    /// Per species the scenario adds: [`SPECIES_COLUMNS`] (mean over tumour-class
    /// voxels, mean over the margin, both in its unit; the amount in the grid, its unit
    /// times mm³).
    pub species: Vec<[f64; 3]>,
}

/// The columns metrics.csv has per species, after the budget columns: each species'
/// name in outputs (`ifng_pM`) followed by these.
pub const SPECIES_COLUMNS: [&str; 3] = ["tumor", "margin", "total_mm3"];

/// The species columns of metrics.csv's header (empty without species), each with a
/// leading comma: `,ifng_pM_tumor,ifng_pM_margin,ifng_pM_total_mm3`.
pub fn species_header(params: &Params) -> String {
    params
        .species
        .iter()
        .flat_map(|s| SPECIES_COLUMNS.map(|c| format!(",{}_{c}", s.name)))
        .collect()
}

/// A snapshot's species columns (as [`species_header`] names them).
pub fn species_row(sn: &Snapshot) -> String {
    sn.species
        .iter()
        .flat_map(|v| v.map(|x| format!(",{x:.9e}")))
        .collect()
}

fn mean(sum: f64, n: u64) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// The snapshot readouts from the sums of the fields ([`Sums`], reduced by either
/// backend) and the labels they were summed by. `n0` is ΣN at the start of dosing
/// (None: use the current ΣN, giving a killed fraction relative to now).
pub fn reduce(
    sums: &Sums,
    labels: &Labels,
    params: &Params,
    tumor_capacity_per_mm3: f64,
    time_h: f64,
    n0: Option<f64>,
) -> Snapshot {
    use crate::probe::{other as o, per_class as pc};
    let vox_mm3 = (params.h * 1e-3).powi(3);
    let tumor = sums.per_class[TUMOR as usize];
    let n_tumor = labels.class_voxels[TUMOR as usize];
    let nt = n_tumor.max(1) as f64;
    let sum_n = sums.other[o::N];
    let sum_k = sums.other[o::K];
    let base = n0.unwrap_or(sum_n);
    let t_core = mean(sums.other[o::T_CORE], labels.core);
    let t_margin = mean(sums.other[o::T_MARGIN], labels.margin);
    let metrics = Metrics {
        time_h,
        t_core_per_mm3: t_core,
        t_margin_per_mm3: t_margin,
        infiltration_ratio: if t_margin > 0.0 {
            t_core / t_margin
        } else {
            f64::NAN
        },
        t_stroma_per_mm3: mean(
            sums.per_class[STROMA as usize][pc::T],
            labels.class_voxels[STROMA as usize],
        ),
        t_outside_per_mm3: mean(sums.other[o::T_OUTSIDE], labels.outside),
        t_total_cells: sums.t_all() * vox_mm3,
        viable_tumor_cells: sum_n * tumor_capacity_per_mm3 * vox_mm3,
        killed_tumor_cells: sum_k * tumor_capacity_per_mm3 * vox_mm3,
        killed_fraction: if base > 0.0 { sum_k / base } else { 0.0 },
        amd3100_tumor_um: tumor[pc::A] / nt,
        anti_pd1_tumor_nm: tumor[pc::P] / nt,
        cxcr4_signal_tumor: sums.other[o::SIGNAL_TUMOR] / nt,
        cxcr4_amd3100_occupancy_tumor: sums.other[o::OCCUPANCY_TUMOR] / nt,
        pd1_blockade_tumor: sums.other[o::BLOCKADE_TUMOR] / nt,
        voxels_core: labels.core,
        voxels_margin: labels.margin,
    };
    let profile = sums
        .profile
        .iter()
        .zip(&labels.bin_voxels)
        .map(|(&t, &n)| mean(t, n))
        .collect();
    let species = sums
        .species
        .iter()
        .map(|s| {
            [
                mean(s.tumor, n_tumor),
                mean(s.margin, labels.margin),
                s.all * vox_mm3,
            ]
        })
        .collect();
    Snapshot {
        metrics,
        profile,
        sum_n,
        species,
    }
}

/// The first field, voxel and value that is NaN, infinite or negative, if any
/// ([`is_invalid`]).
pub fn first_invalid(fields: &Fields) -> Option<(&str, usize, f64)> {
    for (name, f) in fields.named() {
        let scale = f.par_iter().map(|v| v.abs()).reduce(|| 0.0, f64::max);
        // The lowest bad index is reported, whatever the thread count.
        if let Some(i) = f.par_iter().position_first(|v| is_invalid(*v, scale)) {
            return Some((name, i, f[i]));
        }
    }
    None
}
