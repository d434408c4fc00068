//! What the equations need once per run, in internal units: the resolved parameters
//! ([`Params`]), the receptor terms, and the time steps derived from the stability
//! bounds ([`StepPlan`]).
//!
//! Internal units: length µm, time min, CXCL12 nM, AMD3100 µM, anti-PD-1 nM,
//! T cells per mm³, tumour cells as a fraction of carrying capacity.

pub mod couplings;
mod fields;
mod plan;
pub mod terms;

pub use couplings::{Coupled, Coupling, Rate, COUPLINGS};
pub use fields::{Field, FieldInfo, FieldRow, Palette, FIELDS, N_FIELDS};
pub use plan::{
    cell_bound, chem_bound, segments_between, snapshot_schedule, Limits, Segment, StepPlan,
    MAX_SUBSTEPS,
};
pub use terms::{blockade, motility, occupancy, signal};

use crate::scenario::{bath_faces, ClassCoeffs, Scenario, FACE_NAMES};

/// Tissue class codes (the `u8` stored per voxel, also in volume files).
pub const OUTSIDE: u8 = 0;
pub const LIVER: u8 = 1;
pub const TUMOR: u8 = 2;
pub const STROMA: u8 = 3;
pub const VESSEL: u8 = 4;
pub const N_CLASSES: usize = 5;
pub const CLASS_NAMES: [&str; N_CLASSES] = ["outside", "liver", "tumor", "stroma", "vessel"];

/// Minutes per day.
pub const MIN_PER_DAY: f64 = 1440.0;

/// The three chemical fields, in the order they are stepped.
pub const CHEMICALS: [crate::scenario::Chemical; 3] = [
    crate::scenario::Chemical::Cxcl12,
    crate::scenario::Chemical::Amd3100,
    crate::scenario::Chemical::AntiPd1,
];

/// Index of a chemical in [`CHEMICALS`] order (C, A, P), as bit k of the shaders' `Step.chems`.
pub fn chem_index(which: crate::scenario::Chemical) -> usize {
    match which {
        crate::scenario::Chemical::Cxcl12 => 0,
        crate::scenario::Chemical::Amd3100 => 1,
        crate::scenario::Chemical::AntiPd1 => 2,
    }
}

/// Per-class coefficients of one chemical `u`:
/// `∂u/∂t = ∇·(D ∇u) − decay·u + secretion + exchange·(plasma(t) − u)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChemParams {
    /// Diffusivity per class, µm²/min.
    pub diffusion: [f64; N_CLASSES],
    /// Decay per class, 1/min.
    pub decay: [f64; N_CLASSES],
    /// Secretion per class, concentration/min.
    pub secretion: [f64; N_CLASSES],
    /// Plasma exchange per class, 1/min.
    pub exchange: [f64; N_CLASSES],
}

impl ChemParams {
    pub fn max_diffusion(&self) -> f64 {
        self.diffusion.iter().cloned().fold(0.0, f64::max)
    }
}

/// A species the scenario adds (`[[species]]`), in its own unit `u`:
/// `∂I/∂t = ∇·(D ∇I) − λ I + σ + σ_T T + σ_N N + σ_TN T N + κ (I_plasma − I)`, held at
/// the bath level on bath faces ([`terms::secreted`] is its cell-borne source).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesParams {
    /// Its key in the scenario (`ifng`).
    pub key: String,
    /// Its name in outputs (`ifng_pM`).
    pub name: String,
    pub words: String,
    pub unit: String,
    /// Diffusion, decay, secretion σ and exchange κ per class.
    pub chem: ChemParams,
    /// σ_T, u/min per (cells/mm³).
    pub by_t: f64,
    /// σ_N, u/min at N = 1.
    pub by_n: f64,
    /// σ_TN, u/min per (cells/mm³) at N = 1.
    pub by_tn: f64,
    /// Plasma and bath levels from time 0 on, u.
    pub plasma: f64,
    pub bath: f64,
    /// The level of every voxel at the start, u.
    pub initial: f64,
    /// The rates it scales: each coupling with its level K, u (`couplings`).
    pub couplings: Vec<(&'static Coupling, f64)>,
}

impl SpeciesParams {
    /// Its constant (plasma, bath) levels at time `t` (min): 0 before the start of
    /// dosing (`crate::solver::species_levels` adds what treatments dose of it).
    pub fn levels(&self, t: f64) -> (f64, f64) {
        if t < 0.0 {
            (0.0, 0.0)
        } else {
            (self.plasma, self.bath)
        }
    }

    /// Whether T cells or tumour cells secrete it.
    pub fn cell_borne(&self) -> bool {
        self.by_t != 0.0 || self.by_n != 0.0 || self.by_tn != 0.0
    }
}

/// Every model parameter in internal units, per class where the model says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub dims: [usize; 3],
    /// Voxel edge h, µm.
    pub h: f64,
    /// Domain faces held at the bath level (order x-, x+, y-, y+, z-, z+).
    pub bath_faces: [bool; 6],
    pub cxcl12: ChemParams,
    pub amd3100: ChemParams,
    pub anti_pd1: ChemParams,
    /// K_C, nM.
    pub k_c: f64,
    /// K_A, µM (the unit of the AMD3100 field).
    pub k_a: f64,
    /// K_P, nM.
    pub k_p: f64,
    /// CXCL12 level in the bath, nM.
    pub c_bath: f64,
    /// k_int, CXCL12 uptake by T cells, nM·mm³/min.
    pub c_uptake: f64,
    /// μ_0, µm²/min.
    pub mu0: f64,
    /// m per class.
    pub motility: [f64; N_CLASSES],
    pub arrest: f64,
    /// χ, µm²/min.
    pub chi: f64,
    /// T_max, cells/mm³.
    pub t_max: f64,
    /// δ_T, 1/min.
    pub death: f64,
    /// ρ, 1/min.
    pub prolif: f64,
    pub k_n: f64,
    /// ι per class, cells/mm³/min.
    pub influx: [f64; N_CLASSES],
    /// r, 1/min (tumour voxels only).
    pub growth: f64,
    /// k_CTL / N_max, 1/min per (cells/mm³).
    pub kill: f64,
    pub q: f64,
    /// The T-cell flux across a face (`numerics.chemotaxis_flux`).
    pub flux: crate::scenario::ChemotaxisFlux,
    /// The species the scenario adds, in its order.
    pub species: Vec<SpeciesParams>,
}

fn per_class(t: &crate::scenario::Tissue, f: impl Fn(&ClassCoeffs) -> f64) -> [f64; N_CLASSES] {
    [
        f(&t.outside),
        f(&t.liver),
        f(&t.tumor),
        f(&t.stroma),
        f(&t.vessel),
    ]
}

impl Params {
    pub fn from_scenario(s: &Scenario) -> Params {
        let t = &s.tissue;
        let dfac = per_class(t, |c| c.diffusion_factor);
        // Terms with a blood source act only in perfused tissue (`[geometry] perfused`).
        let perfused = s.geometry.is_perfused();
        let blood = |f: [f64; N_CLASSES]| if perfused { f } else { [0.0; N_CLASSES] };
        let exch = blood(per_class(t, |c| c.drug_exchange_factor));
        let scale = |k: f64, f: [f64; N_CLASSES]| f.map(|x| k * x);
        let drug = |d: &crate::scenario::Drug| ChemParams {
            diffusion: scale(d.diffusion_um2_per_min, dfac),
            decay: [d.decay_per_min; N_CLASSES],
            secretion: [0.0; N_CLASSES],
            exchange: scale(d.exchange_per_min, exch),
        };
        let faces = bath_faces(&s.geometry);
        let bath_faces = std::array::from_fn(|i| faces.iter().any(|f| f == FACE_NAMES[i]));
        let tc = &s.tcells;
        Params {
            dims: [s.grid.nx as usize, s.grid.ny as usize, s.grid.nz as usize],
            h: s.grid.voxel_um,
            bath_faces,
            cxcl12: ChemParams {
                diffusion: scale(s.cxcl12.diffusion_um2_per_min, dfac),
                decay: per_class(t, |c| c.cxcl12_decay_per_min),
                secretion: per_class(t, |c| c.cxcl12_secretion_nm_per_min),
                exchange: [0.0; N_CLASSES],
            },
            amd3100: drug(&s.amd3100),
            anti_pd1: drug(&s.anti_pd1),
            k_c: s.cxcl12.half_saturation_nm,
            k_a: s.amd3100.half_saturation_nm * 1e-3,
            k_p: s.anti_pd1.half_saturation_nm,
            c_bath: s.cxcl12.bath_nm,
            c_uptake: s.cxcl12.uptake_nm_mm3_per_min,
            mu0: tc.motility_um2_per_min,
            motility: per_class(t, |c| c.motility_factor),
            arrest: tc.arrest_fraction,
            chi: tc.chemotaxis_over_motility * tc.motility_um2_per_min,
            t_max: tc.max_density_per_mm3,
            death: tc.death_per_day / MIN_PER_DAY,
            prolif: tc.proliferation_per_day / MIN_PER_DAY,
            k_n: tc.proliferation_half_saturation,
            influx: blood(per_class(t, |c| c.tcell_influx_per_mm3_per_min)),
            growth: s.tumor.growth_per_day / MIN_PER_DAY,
            kill: s.tumor.kill_per_tcell_per_day / MIN_PER_DAY / s.tumor.carrying_capacity_per_mm3,
            q: s.tumor.pdl1_suppression,
            flux: s.numerics.chemotaxis_flux,
            species: s
                .species
                .iter()
                .map(|sp| SpeciesParams {
                    key: sp.name.clone(),
                    name: format!("{}_{}", sp.name, sp.unit),
                    words: if sp.words.is_empty() {
                        sp.name.clone()
                    } else {
                        sp.words.clone()
                    },
                    unit: sp.unit.clone(),
                    chem: ChemParams {
                        diffusion: scale(sp.diffusion_um2_per_min, dfac),
                        decay: sp
                            .extra_decay_per_min
                            .by_code()
                            .map(|x| sp.decay_per_min + x),
                        secretion: sp.secretion_per_min.by_code(),
                        exchange: scale(sp.exchange_per_min, exch),
                    },
                    by_t: sp.tcell_secretion_mm3_per_min,
                    by_n: sp.tumor_secretion_per_min,
                    by_tn: sp.contact_secretion_mm3_per_min,
                    plasma: sp.plasma_level,
                    bath: sp.bath_level,
                    initial: sp.initial_level,
                    couplings: sp
                        .couplings
                        .iter()
                        .filter_map(|(key, &k)| couplings::by_key(key).map(|c| (c, k)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Every field of a run, in the order of every per-field list: the built-in fields,
    /// then the species.
    pub fn field_list(&self) -> Vec<Field> {
        let species = (0..self.species.len()).map(|k| Field::Species(k as u8));
        Field::ALL.into_iter().chain(species).collect()
    }

    /// A field's row: the table's for a built-in field, the scenario's for a species.
    pub fn row(&self, f: Field) -> FieldRow {
        match f {
            Field::Species(k) => {
                let sp = &self.species[k as usize];
                FieldRow {
                    field: f,
                    name: sp.name.clone(),
                    vti_name: sp.name.clone(),
                    words: sp.words.clone(),
                    unit: sp.unit.clone(),
                    diffuses: true,
                    plane: sp.name.clone(),
                    palette: Palette::Viridis,
                }
            }
            f => FieldRow::from(f.info()),
        }
    }

    /// The coupling that scales a rate, if a species has one (the scenario's checks
    /// allow one per rate).
    pub fn coupled(&self, rate: Rate) -> Option<Coupled> {
        self.species.iter().enumerate().find_map(|(k, sp)| {
            sp.couplings
                .iter()
                .find(|(c, _)| c.rate == rate)
                .map(|&(coupling, level)| Coupled {
                    species: k,
                    coupling,
                    level,
                })
        })
    }

    pub fn chem(&self, which: crate::scenario::Chemical) -> &ChemParams {
        match which {
            crate::scenario::Chemical::Cxcl12 => &self.cxcl12,
            crate::scenario::Chemical::Amd3100 => &self.amd3100,
            crate::scenario::Chemical::AntiPd1 => &self.anti_pd1,
        }
    }

    pub fn voxels(&self) -> usize {
        self.dims.iter().product()
    }
}

/// Host copy of every field, each `nx·ny·nz` long, index `x + nx·(y + ny·z)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    /// CXCL12, nM.
    pub c: Vec<f64>,
    /// AMD3100, µM.
    pub a: Vec<f64>,
    /// anti-PD-1, nM.
    pub p: Vec<f64>,
    /// T cells, cells/mm³.
    pub t: Vec<f64>,
    /// viable tumour, fraction of carrying capacity.
    pub n: Vec<f64>,
    /// cumulative killed tumour, same unit as n.
    pub k: Vec<f64>,
    /// The species the scenario adds: (name in outputs, values).
    pub species: Vec<(String, Vec<f64>)>,
}

impl Fields {
    pub fn zeros(n: usize) -> Self {
        Fields {
            c: vec![0.0; n],
            a: vec![0.0; n],
            p: vec![0.0; n],
            t: vec![0.0; n],
            n: vec![0.0; n],
            k: vec![0.0; n],
            species: Vec::new(),
        }
    }

    /// Zero fields with the species of `params`.
    pub fn zeros_for(params: &Params) -> Self {
        let n = params.voxels();
        let mut f = Fields::zeros(n);
        f.species = params
            .species
            .iter()
            .map(|s| (s.name.clone(), vec![0.0; n]))
            .collect();
        f
    }

    /// The initial state: T and N per class, CXCL12 at local equilibrium (or zero),
    /// no drug, nothing killed ([`initial_per_class`] expanded over the voxels).
    pub fn initial(s: &Scenario, params: &Params, class: &[u8]) -> Self {
        Fields::from_table(params, &initial_per_class(s, params), class)
    }

    /// Every field from one value per tissue class (in the order of
    /// [`Params::field_list`]: the built-in fields, then the species of `params`), one
    /// class per voxel of `params`' grid.
    pub fn from_table(params: &Params, table: &[[f64; N_CLASSES]], class: &[u8]) -> Self {
        let mut f = Fields::zeros_for(params);
        for (k, field) in f.all_mut().into_iter().enumerate() {
            for (v, &cl) in field.iter_mut().zip(class) {
                *v = table[k][cl as usize];
            }
        }
        f
    }

    /// The fields mutably, in the order of [`Params::field_list`].
    pub fn all_mut(&mut self) -> Vec<&mut Vec<f64>> {
        let Fields {
            c,
            a,
            p,
            t,
            n,
            k,
            species,
        } = self;
        let mut out = vec![c, a, p, t, n, k];
        out.extend(species.iter_mut().map(|(_, v)| v));
        out
    }

    /// One field's values.
    pub fn get(&self, f: Field) -> &[f64] {
        match f {
            Field::Cxcl12 => &self.c,
            Field::Amd3100 => &self.a,
            Field::AntiPd1 => &self.p,
            Field::TCells => &self.t,
            Field::Tumor => &self.n,
            Field::Killed => &self.k,
            Field::Species(k) => &self.species[k as usize].1,
        }
    }

    /// One field's values, to change.
    pub fn get_mut(&mut self, f: Field) -> &mut Vec<f64> {
        match f {
            Field::Cxcl12 => &mut self.c,
            Field::Amd3100 => &mut self.a,
            Field::AntiPd1 => &mut self.p,
            Field::TCells => &mut self.t,
            Field::Tumor => &mut self.n,
            Field::Killed => &mut self.k,
            Field::Species(k) => &mut self.species[k as usize].1,
        }
    }

    /// The fields by name (their names in outputs), in the order of
    /// [`Params::field_list`].
    pub fn named(&self) -> Vec<(&str, &[f64])> {
        let mut out: Vec<(&str, &[f64])> = Field::ALL
            .iter()
            .map(|&f| (f.name(), self.get(f)))
            .collect();
        out.extend(self.species.iter().map(|(n, v)| (n.as_str(), &v[..])));
        out
    }
}

/// The initial value of every field per tissue class, in the order of
/// [`Params::field_list`] (C, A, P, T, N, K, then the species): T per class, N in the
/// tumour, CXCL12 at local equilibrium σ/λ (or zero), no drug, nothing killed, each
/// species at its initial level. The one definition of the initial state:
/// [`Fields::initial`] expands it over the voxels, and the GPU solver uploads it slab by
/// slab without a host copy of the fields.
pub fn initial_per_class(s: &Scenario, params: &Params) -> Vec<[f64; N_CLASSES]> {
    let mut table = vec![[0.0; N_CLASSES]; N_FIELDS];
    table.extend(params.species.iter().map(|sp| [sp.initial; N_CLASSES]));
    table[Field::TCells.index()] = per_class(&s.tissue, |c| c.tcell_initial_per_mm3);
    table[Field::Tumor.index()][TUMOR as usize] = s.tumor.initial_density;
    if s.cxcl12.initial == crate::scenario::Cxcl12Initial::LocalEquilibrium {
        for (k, c) in table[Field::Cxcl12.index()].iter_mut().enumerate() {
            let d = params.cxcl12.decay[k];
            *c = if d > 0.0 {
                params.cxcl12.secretion[k] / d
            } else {
                0.0
            };
        }
    }
    table
}
