//! The scenario schema: every section and key of a scenario file, with its unit in its
//! name and its default. Defaults follow `docs/parameters.md` (the parameter set of the
//! independent prototype described in `docs/model.md`, with the sources of each value).
//!
//! Sections deny unknown keys, so a misspelt or unit-less key is an error, not a silent
//! default. Serialising a `Scenario` gives the resolved scenario (every default filled in).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const LN2: f64 = std::f64::consts::LN_2;

/// A whole run: grid, clock, tissue, model parameters, treatments, readouts, numerics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text naming the run (shown in outputs).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub grid: Grid,
    pub time: Time,
    pub geometry: Geometry,
    #[serde(default)]
    pub tissue: Tissue,
    #[serde(default)]
    pub cxcl12: Cxcl12,
    #[serde(default = "Drug::amd3100")]
    pub amd3100: Drug,
    #[serde(default = "Drug::anti_pd1")]
    pub anti_pd1: Drug,
    #[serde(default)]
    pub tcells: TCells,
    #[serde(default)]
    pub tumor: Tumor,
    #[serde(default)]
    pub treatment: Vec<Treatment>,
    /// Diffusing species added by the scenario (`[[species]]`), stepped after the
    /// built-in chemicals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub species: Vec<Species>,
    #[serde(default)]
    pub readout: Readout,
    #[serde(default)]
    pub numerics: Numerics,
    #[serde(default)]
    pub output: Output,
}

/// The voxel grid: `nx × ny × nz` cubic voxels of edge `voxel_um`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub nx: u32,
    pub ny: u32,
    pub nz: u32,
    pub voxel_um: f64,
}

/// The clock. Time 0 is the start of dosing; an untreated burn-in runs before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Time {
    /// Simulated time after the start of dosing.
    pub duration_h: f64,
    /// Interval between snapshots (metrics rows), starting at time 0.
    pub snapshot_every_h: f64,
    /// Further snapshot times, h after the start of dosing, besides the regular ones
    /// (each in (0, duration_h]; the order does not matter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_times_h: Vec<f64>,
    /// After each dose (a bolus, or the start of a constant level) of any treatment, this
    /// many snapshots at 1/2, 1/4, …, 1/2ⁿ of `snapshot_every_h` after it: dense where
    /// the levels just changed, spaced out towards the next regular snapshot (0: none).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub snapshots_after_dose: u32,
    /// Untreated time before dosing starts (no snapshots; killed cells reset at its end).
    #[serde(default)]
    pub burn_in_h: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeometryKind {
    /// In-vivo FLC: an ellipsoidal tumour with capsule and lamellae in liver.
    Flc,
    /// Ex-vivo tumour slice: a slab of tumour nests and lamellae bathed on its z faces.
    Slice,
    /// Tissue classes read from a volume file.
    Volume,
}

/// Which tissue to build, and the parameters of each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geometry {
    pub kind: GeometryKind,
    /// Seed of the lamella waviness and vessel placement.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub flc: Flc,
    #[serde(default)]
    pub slice: Slice,
    #[serde(default)]
    pub volume: Option<Volume>,
    #[serde(default)]
    pub lamellae: Lamellae,
    #[serde(default)]
    pub vessels: Vessels,
    /// Whether blood flows through the tissue's vessels. The terms with a blood source act
    /// only in perfused tissue: T-cell influx (`tcell_influx_per_mm3_per_min`) and
    /// exchange of drugs and species with plasma (`drug_exchange_factor`). Absent: true
    /// in vivo (`flc`) and for a `volume` without bath faces, false for a `slice` and
    /// for a `volume` with bath faces (a cultured slice has no circulation: its vessel
    /// voxels neither drain drug into a plasma at level 0 nor let T cells in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perfused: Option<bool>,
}

impl Geometry {
    /// Whether the tissue is perfused: `perfused`, or the kind's default.
    pub fn is_perfused(&self) -> bool {
        self.perfused.unwrap_or(match self.kind {
            GeometryKind::Flc => true,
            GeometryKind::Slice => false,
            GeometryKind::Volume => self.volume.as_ref().is_none_or(|v| v.bath_faces.is_empty()),
        })
    }
}

fn default_seed() -> u64 {
    1
}

/// The in-vivo tumour: an ellipsoid (its outer shell of `capsule_um` is stroma) in liver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flc {
    /// Ellipsoid centre; the box centre when absent.
    pub center_um: Option<[f64; 3]>,
    pub radii_um: [f64; 3],
    /// Thickness of the stromal capsule, the outermost shell of the tumour mass.
    pub capsule_um: f64,
}

impl Default for Flc {
    fn default() -> Self {
        Flc {
            center_um: None,
            radii_um: [400.0, 400.0, 400.0],
            capsule_um: 50.0,
        }
    }
}

/// The ex-vivo slice: the whole box is tissue, `thickness_um` = `nz × voxel_um`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Slice {
    /// 250 µm as in the published slice cultures (docs/parameters.md: the Pillarisetty-lab method).
    pub thickness_um: f64,
}

impl Default for Slice {
    fn default() -> Self {
        Slice {
            thickness_um: 250.0,
        }
    }
}

/// Tissue classes from a file (`docs/tissue.md`): a NIfTI-1 (`.nii`, `.nii.gz`),
/// multi-page TIFF (`.tif`, `.tiff`) or NRRD (`.nrrd`) label map, its dimensions and
/// voxel size from its header, or raw `u8` voxels (any other extension), x fastest.
/// Without `labels` the file's values are class codes 0 outside, 1 liver, 2 tumor,
/// 3 stroma, 4 vessel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Path of the file, relative to the scenario file that names it.
    pub path: String,
    /// Its dimensions; must equal the grid's. Needed for a raw file; a headered file's
    /// own dimensions are checked against the grid's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dims: Option<[u32; 3]>,
    /// Its voxel edge; must equal the grid's. Needed for a raw file; a headered file's
    /// own voxel size, where it gives one, is checked against the grid's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voxel_um: Option<f64>,
    /// Domain faces bathed in medium (Dirichlet for the chemicals): `x-`, `x+`, `y-`, `y+`, `z-`, `z+`.
    #[serde(default)]
    pub bath_faces: Vec<String>,
    /// Which classes form the tumour for the signed distance: the tumour class alone
    /// (`tumor`, as in the slice) or everything but liver and outside (`mass`, as in vivo).
    #[serde(default = "default_volume_boundary")]
    pub boundary: String,
    /// The file's label values (whole numbers, written as TOML keys) mapped to class
    /// names (`outside`, `liver`, `tumor`, `stroma`, `vessel`). When given, every value
    /// the file holds must be listed (the background too); absent, the values must be
    /// the class codes 0 … 4.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A volume file's format, from its extension (`docs/tissue.md`); read by
/// `crate::geometry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeFormat {
    Raw,
    Nifti { gzip: bool },
    Tiff,
    Nrrd,
}

impl VolumeFormat {
    /// The format a path's extension names (case does not matter); raw otherwise.
    pub fn of(path: &std::path::Path) -> VolumeFormat {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".nii.gz") {
            VolumeFormat::Nifti { gzip: true }
        } else if name.ends_with(".nii") {
            VolumeFormat::Nifti { gzip: false }
        } else if name.ends_with(".tif") || name.ends_with(".tiff") {
            VolumeFormat::Tiff
        } else if name.ends_with(".nrrd") {
            VolumeFormat::Nrrd
        } else {
            VolumeFormat::Raw
        }
    }

    /// The format in words, for messages.
    pub fn words(self) -> &'static str {
        match self {
            VolumeFormat::Raw => "raw u8",
            VolumeFormat::Nifti { gzip: false } => "NIfTI-1",
            VolumeFormat::Nifti { gzip: true } => "gzipped NIfTI-1",
            VolumeFormat::Tiff => "TIFF",
            VolumeFormat::Nrrd => "NRRD",
        }
    }
}

fn default_volume_boundary() -> String {
    "tumor".to_string()
}

/// Lamellar stroma bands: parallel sheets of given spacing and thickness, normal to
/// `normal`, displaced along it by seeded smooth noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lamellae {
    pub spacing_um: f64,
    pub thickness_um: f64,
    /// Normal of the sheets (any length but zero).
    pub normal: [f64; 3],
    /// Amplitude of the displacement along the normal.
    pub waviness_um: f64,
    /// Length scale of the displacement noise.
    pub waviness_wavelength_um: f64,
}

impl Default for Lamellae {
    fn default() -> Self {
        Lamellae {
            spacing_um: 120.0,
            thickness_um: 25.0,
            normal: [1.0, 0.5, 0.3],
            waviness_um: 10.0,
            waviness_wavelength_um: 150.0,
        }
    }
}

/// Vessel voxels, placed at random (seeded) with a given volume fraction per region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vessels {
    /// Fraction of capsule (margin stroma) voxels that are vessels.
    pub fraction_margin: f64,
    /// Fraction of lamella voxels inside the tumour that are vessels.
    pub fraction_stroma: f64,
    /// Fraction of liver voxels within `liver_band_um` of the tumour that are vessels.
    pub fraction_liver: f64,
    pub liver_band_um: f64,
}

impl Default for Vessels {
    fn default() -> Self {
        Vessels {
            fraction_margin: 0.02,
            fraction_stroma: 0.02,
            fraction_liver: 0.02,
            liver_band_um: 150.0,
        }
    }
}

/// Coefficients of one tissue class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassCoeffs {
    /// σ_C, CXCL12 secretion.
    #[serde(rename = "cxcl12_secretion_nM_per_min")]
    pub cxcl12_secretion_nm_per_min: f64,
    /// λ_C, CXCL12 decay (ACKR3 scavenging makes it larger in tumour and liver).
    pub cxcl12_decay_per_min: f64,
    /// m, factor on the T-cell motility μ_0; 0 closes the class to T cells.
    pub motility_factor: f64,
    /// Factor on every chemical's diffusivity.
    pub diffusion_factor: f64,
    /// ι, T-cell influx (limited by `1 − T/T_max`).
    pub tcell_influx_per_mm3_per_min: f64,
    /// Factor on each drug's plasma exchange rate κ (1 at vessels).
    pub drug_exchange_factor: f64,
    /// T-cell density at the start of the run.
    pub tcell_initial_per_mm3: f64,
}

const STROMA_CXCL12_DECAY: f64 = LN2 / 40.0;
const SCAVENGING: f64 = 10.0;

impl Default for ClassCoeffs {
    fn default() -> Self {
        ClassCoeffs {
            cxcl12_secretion_nm_per_min: 0.0,
            cxcl12_decay_per_min: STROMA_CXCL12_DECAY,
            motility_factor: 1.0,
            diffusion_factor: 1.0,
            tcell_influx_per_mm3_per_min: 0.0,
            drug_exchange_factor: 0.0,
            tcell_initial_per_mm3: 0.0,
        }
    }
}

/// Per-class coefficients, one table per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tissue {
    #[serde(default = "ClassCoeffs::outside")]
    pub outside: ClassCoeffs,
    #[serde(default = "ClassCoeffs::liver")]
    pub liver: ClassCoeffs,
    #[serde(default = "ClassCoeffs::tumor")]
    pub tumor: ClassCoeffs,
    #[serde(default = "ClassCoeffs::stroma")]
    pub stroma: ClassCoeffs,
    #[serde(default = "ClassCoeffs::vessel")]
    pub vessel: ClassCoeffs,
}

impl Default for Tissue {
    fn default() -> Self {
        Tissue {
            outside: ClassCoeffs::outside(),
            liver: ClassCoeffs::liver(),
            tumor: ClassCoeffs::tumor(),
            stroma: ClassCoeffs::stroma(),
            vessel: ClassCoeffs::vessel(),
        }
    }
}

impl ClassCoeffs {
    /// Medium or no tissue: closed to T cells, no secretion.
    pub fn outside() -> Self {
        ClassCoeffs {
            motility_factor: 0.0,
            ..Default::default()
        }
    }
    pub fn liver() -> Self {
        ClassCoeffs {
            cxcl12_secretion_nm_per_min: 0.01,
            cxcl12_decay_per_min: SCAVENGING * STROMA_CXCL12_DECAY,
            ..Default::default()
        }
    }
    pub fn tumor() -> Self {
        ClassCoeffs {
            cxcl12_secretion_nm_per_min: 0.005,
            cxcl12_decay_per_min: SCAVENGING * STROMA_CXCL12_DECAY,
            tcell_initial_per_mm3: 1.0e3,
            ..Default::default()
        }
    }
    pub fn stroma() -> Self {
        ClassCoeffs {
            cxcl12_secretion_nm_per_min: 1.0,
            motility_factor: 0.5,
            tcell_initial_per_mm3: 2.0e4,
            ..Default::default()
        }
    }
    pub fn vessel() -> Self {
        ClassCoeffs {
            motility_factor: 0.5,
            tcell_influx_per_mm3_per_min: 10.0,
            drug_exchange_factor: 1.0,
            ..Default::default()
        }
    }
}

/// How CXCL12 starts: at each voxel's local equilibrium σ_C/λ_C, or at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cxcl12Initial {
    LocalEquilibrium,
    Zero,
}

/// CXCL12 (C, nM): diffusion, receptor affinity, bath level, uptake by T cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cxcl12 {
    pub diffusion_um2_per_min: f64,
    /// K_C, CXCR4 affinity (Di Salvo 2000).
    #[serde(rename = "half_saturation_nM")]
    pub half_saturation_nm: f64,
    /// Medium level held half a voxel outside bath faces (0: the bath is a sink).
    #[serde(rename = "bath_nM")]
    pub bath_nm: f64,
    /// k_int: uptake `k_int · T · s` of ligand internalised by T cells.
    #[serde(rename = "uptake_nM_mm3_per_min")]
    pub uptake_nm_mm3_per_min: f64,
    pub initial: Cxcl12Initial,
}

impl Default for Cxcl12 {
    fn default() -> Self {
        Cxcl12 {
            diffusion_um2_per_min: 100.0,
            half_saturation_nm: 4.5,
            bath_nm: 0.0,
            uptake_nm_mm3_per_min: 0.0,
            initial: Cxcl12Initial::LocalEquilibrium,
        }
    }
}

/// A drug field (AMD3100 in µM, anti-PD-1 in nM): transport and receptor affinity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drug {
    pub diffusion_um2_per_min: f64,
    /// λ, loss in tissue besides exchange (clearance, binding).
    #[serde(default)]
    pub decay_per_min: f64,
    /// K_A (competitive CXCR4 antagonism) or K_P (PD-1 binding).
    #[serde(rename = "half_saturation_nM")]
    pub half_saturation_nm: f64,
    /// κ, exchange with plasma at voxels whose class has `drug_exchange_factor` > 0.
    pub exchange_per_min: f64,
}

impl Drug {
    pub fn amd3100() -> Self {
        Drug {
            diffusion_um2_per_min: 1.0e4,
            decay_per_min: 0.0,
            half_saturation_nm: 5.0,
            exchange_per_min: 0.5,
        }
    }
    pub fn anti_pd1() -> Self {
        Drug {
            diffusion_um2_per_min: 300.0,
            decay_per_min: LN2 / (3.0 * 1440.0),
            half_saturation_nm: 7.2,
            exchange_per_min: 0.05,
        }
    }
}

/// Effector T cells (T, cells/mm³).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TCells {
    /// μ_0, random motility.
    pub motility_um2_per_min: f64,
    /// r_arrest: motility falls to `1 − r_arrest · s` with CXCR4 signal s.
    pub arrest_fraction: f64,
    /// χ/μ_0: T is enriched by exp(χ Δs / μ_0) between places whose signal differs by Δs.
    pub chemotaxis_over_motility: f64,
    /// T_max, the density at which influx and proliferation stop.
    pub max_density_per_mm3: f64,
    pub death_per_day: f64,
    pub proliferation_per_day: f64,
    /// K_N, the tumour density (fraction of capacity) at half-maximal proliferation.
    pub proliferation_half_saturation: f64,
}

impl Default for TCells {
    fn default() -> Self {
        TCells {
            motility_um2_per_min: 20.0,
            arrest_fraction: 0.9,
            chemotaxis_over_motility: 5.0,
            max_density_per_mm3: 1.0e5,
            death_per_day: 0.2,
            proliferation_per_day: 0.1,
            proliferation_half_saturation: 0.5,
        }
    }
}

/// Tumour cells (N, fraction of carrying capacity) and their killing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tumor {
    /// r, logistic growth in tumour voxels.
    pub growth_per_day: f64,
    /// k_CTL, kills per T cell per day (Halle 2016: 2–16).
    pub kill_per_tcell_per_day: f64,
    /// N_max, tumour cells per mm³ at carrying capacity.
    pub carrying_capacity_per_mm3: f64,
    /// q, PD-L1 suppression of killing without blockade.
    pub pdl1_suppression: f64,
    /// N in tumour voxels at the start of the run.
    pub initial_density: f64,
}

impl Default for Tumor {
    fn default() -> Self {
        Tumor {
            growth_per_day: 0.005,
            kill_per_tcell_per_day: 8.0,
            carrying_capacity_per_mm3: 1.0e5,
            pdl1_suppression: 0.8,
            initial_density: 1.0,
        }
    }
}

/// A value per tissue class (classes not written are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassValues {
    pub outside: f64,
    pub liver: f64,
    pub tumor: f64,
    pub stroma: f64,
    pub vessel: f64,
}

impl ClassValues {
    /// The classes' keys, in class-code order.
    pub const KEYS: [&'static str; 5] = ["outside", "liver", "tumor", "stroma", "vessel"];

    /// The values in class-code order (outside, liver, tumor, stroma, vessel).
    pub fn by_code(&self) -> [f64; 5] {
        [
            self.outside,
            self.liver,
            self.tumor,
            self.stroma,
            self.vessel,
        ]
    }
}

/// A diffusing species a scenario adds (`[[species]]`): a chemical such as IFN-γ, in a
/// unit of its own, with
/// `∂I/∂t = ∇·(D ∇I) − λ(c) I + σ(c) + σ_T T + σ_N N + σ_TN T N + κ(c) (I_plasma − I)`,
/// the bath level on bath faces, and optionally rates it scales (`couplings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Species {
    /// Its name in outputs and keys: lower-case letters, digits and `_`, starting with
    /// a letter, at most 24 characters (`ifng`).
    pub name: String,
    /// Its name in words, for pictures and reports (`IFN-γ`); the name if empty.
    #[serde(default)]
    pub words: String,
    /// The unit of its concentration (letters and digits: `pM`, `nM`, `ngmL`); every
    /// level below is in it, and output columns end in it (`ifng_pM`).
    pub unit: String,
    /// D in free tissue, times each class's `diffusion_factor`.
    pub diffusion_um2_per_min: f64,
    /// λ in every class.
    #[serde(default)]
    pub decay_per_min: f64,
    /// Added to λ per class (consumption by the cells of a class).
    #[serde(default)]
    pub extra_decay_per_min: ClassValues,
    /// σ per class, unit/min.
    #[serde(default)]
    pub secretion_per_min: ClassValues,
    /// σ_T: secretion per T cell, unit/min per (cells/mm³).
    #[serde(default)]
    pub tcell_secretion_mm3_per_min: f64,
    /// σ_N: secretion by tumour cells, unit/min at carrying capacity (N = 1).
    #[serde(default)]
    pub tumor_secretion_per_min: f64,
    /// σ_TN: secretion by T cells meeting tumour, unit/min per (cells/mm³) at N = 1.
    #[serde(default)]
    pub contact_secretion_mm3_per_min: f64,
    /// κ: exchange with plasma, times each class's `drug_exchange_factor`.
    #[serde(default)]
    pub exchange_per_min: f64,
    /// The plasma level (from time 0; the burn-in has none), unit.
    #[serde(default)]
    pub plasma_level: f64,
    /// The level held on bath faces (from time 0), unit.
    #[serde(default)]
    pub bath_level: f64,
    /// The level in every voxel at the start, unit.
    #[serde(default)]
    pub initial_level: f64,
    /// The rates it scales: a coupling's key (`kill_boost`, …: the table
    /// `model::couplings::COUPLINGS`) and its level K, unit (`{ kill_boost = 50.0 }`:
    /// the kill rate times `1 + I/K`). None by default; one coupling per rate in a
    /// scenario.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub couplings: BTreeMap<String, f64>,
}

/// A drug of a treatment. Written `amd3100` or `anti_pd1`; read in any case and with
/// or without `-`, `_` or spaces (`AMD3100`, `anti-PD1`, `Anti_PD1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrugName {
    Amd3100,
    AntiPd1,
}

impl<'de> Deserialize<'de> for DrugName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_name(d, &DRUG_NAMES)
    }
}

/// The value of `text` among `names` (the written spelling and its value), ignoring case
/// and the separators `-`, `_` and spaces.
fn lenient_match<T: Copy>(text: &str, names: &[(&str, T)]) -> Option<T> {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = key(text);
    names
        .iter()
        .find(|(name, _)| key(name) == wanted)
        .map(|&(_, v)| v)
}

/// The drugs' names as written, for [`lenient_match`].
const DRUG_NAMES: [(&str, DrugName); 2] = [
    ("amd3100", DrugName::Amd3100),
    ("anti_pd1", DrugName::AntiPd1),
];

/// What a treatment doses: a drug, or a species the scenario adds (`[[species]]`), by
/// its name. Drug names are read as [`DrugName`] is (any case, with or without `-`, `_`
/// or spaces); any other name is taken for a species' and checked against
/// `[[species]]` with the rest of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dosed {
    Drug(DrugName),
    Species(String),
}

impl Serialize for Dosed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dosed::Drug(d) => d.serialize(s),
            Dosed::Species(name) => s.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for Dosed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match lenient_match(&text, &DRUG_NAMES) {
            Some(drug) => Dosed::Drug(drug),
            None => Dosed::Species(text),
        })
    }
}

/// Reads a name among `names` (the written spelling and its value), ignoring case and
/// the separators `-`, `_` and spaces; an unknown name is an error listing the names.
fn lenient_name<'de, D: serde::Deserializer<'de>, T: Copy>(
    d: D,
    names: &[(&str, T)],
) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    lenient_match(&text, names).ok_or_else(|| {
        let list: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
        serde::de::Error::custom(format!(
            "unknown name `{text}`, expected one of {} (any case)",
            list.join(", ")
        ))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Plasma level, reaching tissue through exchange at vessels.
    Plasma,
    /// Medium level, held on the bath faces of a slice.
    Bath,
}

/// A concentration given with its unit in its key: exactly one of `*_uM` or `*_nM` for
/// a drug; for a species, `peak` in the species' own unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Dose {
    pub at_h: f64,
    #[serde(rename = "peak_uM", default, skip_serializing_if = "Option::is_none")]
    pub peak_um: Option<f64>,
    #[serde(rename = "peak_nM", default, skip_serializing_if = "Option::is_none")]
    pub peak_nm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<f64>,
}

/// Repeated doses: `count` boluses every `every_h` from `start_h`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub start_h: f64,
    pub every_h: f64,
    pub count: u32,
    #[serde(rename = "peak_uM", default, skip_serializing_if = "Option::is_none")]
    pub peak_um: Option<f64>,
    #[serde(rename = "peak_nM", default, skip_serializing_if = "Option::is_none")]
    pub peak_nm: Option<f64>,
    /// For a species: the peak in its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<f64>,
}

/// One treatment: a drug (or a species the scenario adds), its route, and either
/// boluses (with a half-life) or a constant level. Times count from the start of
/// dosing (time 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    pub drug: Dosed,
    pub route: Route,
    /// Half-life of each bolus in plasma or medium; absent: boluses do not decay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doses: Vec<Dose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// A constant level from `start_h` on (an infusion, or a medium change regime).
    #[serde(rename = "level_uM", default, skip_serializing_if = "Option::is_none")]
    pub level_um: Option<f64>,
    #[serde(rename = "level_nM", default, skip_serializing_if = "Option::is_none")]
    pub level_nm: Option<f64>,
    /// For a species: a constant level in its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// When the constant level starts.
    #[serde(default)]
    pub start_h: f64,
}

/// Readout distances (from the tumour boundary; negative inside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Readout {
    /// Core: tumour-class voxels with distance < −d_core.
    pub d_core_um: f64,
    /// Margin: every voxel with |distance| ≤ d_margin.
    pub d_margin_um: f64,
    /// Depth-profile bins: width, and the range of distance they cover.
    pub profile_bin_um: f64,
    pub profile_min_um: f64,
    pub profile_max_um: f64,
}

impl Default for Readout {
    fn default() -> Self {
        Readout {
            d_core_um: 25.0,
            d_margin_um: 10.0,
            profile_bin_um: 10.0,
            profile_min_um: -100.0,
            profile_max_um: 100.0,
        }
    }
}

/// A chemical field. Written `cxcl12`, `amd3100` or `anti_pd1`; read as [`DrugName`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chemical {
    Cxcl12,
    Amd3100,
    AntiPd1,
}

impl<'de> Deserialize<'de> for Chemical {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_name(
            d,
            &[
                ("cxcl12", Chemical::Cxcl12),
                ("amd3100", Chemical::Amd3100),
                ("anti_pd1", Chemical::AntiPd1),
            ],
        )
    }
}

/// Time stepping: safety factor, optional explicit steps, quasi-steady chemicals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Numerics {
    /// Fraction of each stability bound used as the step.
    pub safety: f64,
    /// Explicit steps; each must be within its stability bound (checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_dt_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cxcl12_dt_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amd3100_dt_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anti_pd1_dt_min: Option<f64>,
    /// Chemicals held at their steady state for the current levels (the sum of unit
    /// responses solved once per run; `crate::steady`).
    pub quasi_steady: Vec<Chemical>,
    /// Relative tolerance of the quasi-steady response solves.
    pub quasi_steady_tolerance: f64,
    /// The T-cell flux across a face (`docs/model.md`, section 9).
    pub chemotaxis_flux: ChemotaxisFlux,
}

/// The discrete T-cell flux across a face between voxels i and j.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChemotaxisFlux {
    /// Exponentially fitted (Scharfetter–Gummel): the motile exchange scaled by the
    /// Bernoulli function of the face's Péclet number, plus upwind drift; its zero-flux
    /// state is the Boltzmann factor `exp(χ Δs/μ)` exactly.
    #[default]
    Exponential,
    /// First-order upwind drift (the scheme before the exponential one, kept for
    /// comparison): its zero-flux ratio is `1 + χ Δs/μ`.
    Upwind,
}

impl Default for Numerics {
    fn default() -> Self {
        Numerics {
            safety: 0.9,
            cell_dt_min: None,
            cxcl12_dt_min: None,
            amd3100_dt_min: None,
            anti_pd1_dt_min: None,
            quasi_steady: Vec::new(),
            quasi_steady_tolerance: 1.0e-4,
            chemotaxis_flux: ChemotaxisFlux::default(),
        }
    }
}

/// The axis a picture plane is perpendicular to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaneAxis {
    X,
    Y,
    Z,
}

/// How the T-cell panels map density to colour (`[output] tcells_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcellScale {
    /// Linear from 0 to the top of the range.
    #[default]
    Linear,
    /// Logarithmic over three decades below the top of the range.
    Log,
}

/// Pictures, time-lapses and ParaView files written during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Slice pictures at every snapshot, time-lapses at the end (`pictures/`).
    pub pictures: bool,
    /// The picture plane is perpendicular to this axis.
    pub plane_axis: PlaneAxis,
    /// Voxel index of the plane along `plane_axis`; absent = the middle voxel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plane_index: Option<u32>,
    /// The point (x, y, z in µm from the grid's corner) the orthogonal views of
    /// `final.png` go through; absent = the grid's middle, on the plane of the pictures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ortho_at_um: Option<[f64; 3]>,
    /// ParaView files (`paraview/*.vti`, `run.pvd`) of every field.
    pub vti: bool,
    /// Interval between ParaView files; absent = the final snapshot only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vti_every_h: Option<f64>,
    /// Zarr v3 arrays of every field (`arrays.zarr/`, docs/outputs.md); off by default.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub arrays: bool,
    /// Interval between the arrays' snapshots; absent = the final snapshot only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrays_every_h: Option<f64>,
    /// How long each time-lapse frame shows.
    pub frame_ms: u32,
    /// Fixed colour ranges `[low, high]` of the pictures; absent = the range of the
    /// field over every snapshot of the run.
    #[serde(rename = "cxcl12_range_nM", skip_serializing_if = "Option::is_none")]
    pub cxcl12_range_nm: Option<[f64; 2]>,
    #[serde(rename = "amd3100_range_uM", skip_serializing_if = "Option::is_none")]
    pub amd3100_range_um: Option<[f64; 2]>,
    #[serde(rename = "anti_pd1_range_nM", skip_serializing_if = "Option::is_none")]
    pub anti_pd1_range_nm: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcells_range_per_mm3: Option<[f64; 2]>,
    /// Viable and killed tumour, as fractions of the carrying capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumor_range_fraction: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub killed_range_fraction: Option<[f64; 2]>,
    /// The T-cell panels' scale: `linear` (default) or `log`.
    pub tcells_scale: TcellScale,
    /// Each T-cell frame in its own robust range instead of the run's.
    pub tcells_per_frame: bool,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            pictures: true,
            plane_axis: PlaneAxis::Z,
            plane_index: None,
            ortho_at_um: None,
            vti: true,
            vti_every_h: None,
            arrays: false,
            arrays_every_h: None,
            frame_ms: 400,
            cxcl12_range_nm: None,
            amd3100_range_um: None,
            anti_pd1_range_nm: None,
            tcells_range_per_mm3: None,
            tumor_range_fraction: None,
            killed_range_fraction: None,
            tcells_scale: TcellScale::Linear,
            tcells_per_frame: false,
        }
    }
}

impl Output {
    /// The fixed colour ranges by plane name (see `pictures::render::FIELDS`), with
    /// their keys.
    pub fn ranges(&self) -> [(&'static str, &'static str, Option<[f64; 2]>); 6] {
        [
            ("cxcl12", "output.cxcl12_range_nM", self.cxcl12_range_nm),
            ("amd3100", "output.amd3100_range_uM", self.amd3100_range_um),
            (
                "anti_pd1",
                "output.anti_pd1_range_nM",
                self.anti_pd1_range_nm,
            ),
            (
                "tcells",
                "output.tcells_range_per_mm3",
                self.tcells_range_per_mm3,
            ),
            (
                "tumor",
                "output.tumor_range_fraction",
                self.tumor_range_fraction,
            ),
            (
                "killed",
                "output.killed_range_fraction",
                self.killed_range_fraction,
            ),
        ]
    }
}

/// A scenario with every optional table, array and value present (defaults elsewhere):
/// the template of every key and shape the schema takes, for the loader's shape check
/// and for the tests that enumerate the schema's keys.
pub fn full_example() -> Scenario {
    let mut s = Scenario {
        name: String::new(),
        description: String::new(),
        grid: Grid {
            nx: 1,
            ny: 1,
            nz: 1,
            voxel_um: 1.0,
        },
        time: Time {
            duration_h: 1.0,
            snapshot_every_h: 1.0,
            snapshot_times_h: vec![0.5],
            snapshots_after_dose: 1,
            burn_in_h: 0.0,
        },
        geometry: Geometry {
            kind: GeometryKind::Volume,
            seed: 1,
            flc: Flc::default(),
            slice: Slice::default(),
            volume: Some(Volume {
                path: "tissue.raw".into(),
                dims: Some([1, 1, 1]),
                voxel_um: Some(1.0),
                bath_faces: vec!["z-".into()],
                boundary: default_volume_boundary(),
                labels: [("1".to_string(), "tumor".to_string())].into(),
            }),
            lamellae: Lamellae::default(),
            vessels: Vessels::default(),
            perfused: Some(true),
        },
        tissue: Tissue::default(),
        cxcl12: Cxcl12::default(),
        amd3100: Drug::amd3100(),
        anti_pd1: Drug::anti_pd1(),
        tcells: TCells::default(),
        tumor: Tumor::default(),
        treatment: vec![Treatment {
            drug: Dosed::Drug(DrugName::Amd3100),
            route: Route::Bath,
            half_life_h: Some(1.0),
            doses: vec![Dose {
                at_h: 0.0,
                peak_um: Some(1.0),
                peak_nm: Some(1.0),
                peak: Some(1.0),
            }],
            schedule: Some(Schedule {
                start_h: 0.0,
                every_h: 1.0,
                count: 1,
                peak_um: Some(1.0),
                peak_nm: Some(1.0),
                peak: Some(1.0),
            }),
            level_um: Some(1.0),
            level_nm: Some(1.0),
            level: Some(1.0),
            start_h: 0.0,
        }],
        species: vec![Species {
            name: "ifng".into(),
            words: "IFN-γ".into(),
            unit: "pM".into(),
            diffusion_um2_per_min: 1.0,
            decay_per_min: 1.0,
            extra_decay_per_min: ClassValues {
                outside: 1.0,
                liver: 1.0,
                tumor: 1.0,
                stroma: 1.0,
                vessel: 1.0,
            },
            secretion_per_min: ClassValues {
                outside: 1.0,
                liver: 1.0,
                tumor: 1.0,
                stroma: 1.0,
                vessel: 1.0,
            },
            tcell_secretion_mm3_per_min: 1.0,
            tumor_secretion_per_min: 1.0,
            contact_secretion_mm3_per_min: 1.0,
            exchange_per_min: 1.0,
            plasma_level: 1.0,
            bath_level: 1.0,
            initial_level: 1.0,
            // Any key shows the shape (the keys are checked against the couplings' table
            // by `run`, which sees the model).
            couplings: [("kill_boost".to_string(), 1.0)].into(),
        }],
        readout: Readout::default(),
        numerics: Numerics::default(),
        output: Output::default(),
    };
    s.geometry.flc.center_um = Some([0.0; 3]);
    let n = &mut s.numerics;
    n.cell_dt_min = Some(1.0);
    n.cxcl12_dt_min = Some(1.0);
    n.amd3100_dt_min = Some(1.0);
    n.anti_pd1_dt_min = Some(1.0);
    n.quasi_steady = vec![Chemical::Amd3100];
    let o = &mut s.output;
    o.plane_index = Some(0);
    o.ortho_at_um = Some([0.5, 0.5, 0.5]);
    o.vti_every_h = Some(1.0);
    o.arrays = true;
    o.arrays_every_h = Some(1.0);
    o.cxcl12_range_nm = Some([0.0, 1.0]);
    o.amd3100_range_um = Some([0.0, 1.0]);
    o.anti_pd1_range_nm = Some([0.0, 1.0]);
    o.tcells_range_per_mm3 = Some([0.0, 1.0]);
    o.tumor_range_fraction = Some([0.0, 1.0]);
    o.killed_range_fraction = Some([0.0, 1.0]);
    s
}

/// For `skip_serializing_if`: a count left at its default of 0 is not written, so that a
/// resolved scenario without it reads as before.
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
