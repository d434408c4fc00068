//! The WGSL the GPU runs: each kernel file of `shaders/` combined with
//! `shaders/common.wgsl` (parameters, indexing, class tables) and `shaders/terms.wgsl`
//! (the model's terms, twins of `model::terms`), at compile time and in this one place,
//! so that the text naga validates in tests/shaders.rs is the text the device compiles.

use crate::model::{Params, Rate, COUPLINGS};
use crate::scenario::ChemotaxisFlux;

/// Combines common.wgsl and terms.wgsl with kernel files (all under `shaders/`).
macro_rules! kernel {
    ($($file:literal),+) => {
        concat!(
            include_str!("../../shaders/common.wgsl"),
            "\n",
            include_str!("../../shaders/terms.wgsl"),
            $("\n", include_str!(concat!("../../shaders/", $file))),+
        )
    };
}

/// The model's terms on their own (with common.wgsl), for the twin tests: every kernel
/// includes the same text.
pub const TERMS: &str = concat!(
    include_str!("../../shaders/common.wgsl"),
    "\n",
    include_str!("../../shaders/terms.wgsl")
);

/// The chem pass (a sub-step of one chemical or of several fused): entry point
/// `chem_step`, specialised by [`chem_constants`]; the quad stencil of stencil.wgsl.
pub const CHEM: &str = kernel!("stencil.wgsl", "chem.wgsl");

/// A sub-step of a species the scenario adds: entry point `species_step`; the same
/// stencil.
pub const SPECIES: &str = kernel!("stencil.wgsl", "species.wgsl");

/// The pipeline constants of cell.wgsl and probe.wgsl: for each rate a species may
/// scale ([`Rate::ALL`]), the coupling that scales it (its `coupling_factor` case in
/// terms.wgsl, [`crate::model::Coupling::id`]; 0: none).
pub fn rate_constants(params: &Params) -> Vec<(&'static str, f64)> {
    Rate::ALL
        .iter()
        .map(|&r| {
            let id = params.coupled(r).map_or(0, |c| c.coupling.id());
            (r.constant(), f64::from(id))
        })
        .collect()
}

/// The pipeline constants of chem.wgsl for a pass stepping the chemicals of `chems` (bit
/// k for chemical k: 0 CXCL12, 1 AMD3100, 2 anti-PD-1), CXCL12 with uptake by T cells if
/// `uptake`.
pub fn chem_constants(chems: u32, uptake: bool) -> [(&'static str, f64); 2] {
    [
        ("CHEMS", f64::from(chems)),
        ("UPTAKE", f64::from(u8::from(uptake))),
    ]
}
/// The cell step: entry point `cell_step`.
pub const CELL: &str = kernel!("cell.wgsl");

/// The snapshot sums and picture planes: entry points `probe_sums`, `probe_planes`.
pub const PROBE: &str = kernel!("probe.wgsl");

/// The bench's yardstick, a vec4 copy: entry point `copy_vec4`.
pub const COPY: &str = kernel!("copy.wgsl");

/// Every set of pipeline constants a shader is built with.
pub type Variants = fn() -> Vec<Vec<(&'static str, f64)>>;

/// chem.wgsl's: each non-empty set of chemicals, with and without uptake.
fn chem_variants() -> Vec<Vec<(&'static str, f64)>> {
    (1..8)
        .flat_map(|chems| [false, true].map(|uptake| chem_constants(chems, uptake).to_vec()))
        .collect()
}

/// The pipeline constants of cell.wgsl: the rates' couplings ([`rate_constants`]) and
/// the T-cell flux (`FLUX`: 0 exponentially fitted, 1 upwind).
pub fn cell_constants(params: &Params) -> Vec<(&'static str, f64)> {
    let mut c = rate_constants(params);
    c.push(flux_constant(params.flux));
    c
}

fn flux_constant(flux: ChemotaxisFlux) -> (&'static str, f64) {
    let code = match flux {
        ChemotaxisFlux::Exponential => 0.0,
        ChemotaxisFlux::Upwind => 1.0,
    };
    ("FLUX", code)
}

/// cell.wgsl's: [`rate_variants`] with each flux.
fn cell_variants() -> Vec<Vec<(&'static str, f64)>> {
    let fluxes = [ChemotaxisFlux::Exponential, ChemotaxisFlux::Upwind];
    rate_variants()
        .into_iter()
        .flat_map(|v| {
            fluxes.map(|f| {
                let mut v = v.clone();
                v.push(flux_constant(f));
                v
            })
        })
        .collect()
}

/// cell.wgsl's and probe.wgsl's: each rate without a coupling and with each coupling of
/// the table that scales it (the other rates without).
fn rate_variants() -> Vec<Vec<(&'static str, f64)>> {
    let none = || Rate::ALL.map(|r| (r.constant(), 0.0)).to_vec();
    let mut all = vec![none()];
    for c in &COUPLINGS {
        let mut v = none();
        for (name, id) in &mut v {
            if *name == c.rate.constant() {
                *id = f64::from(c.id());
            }
        }
        all.push(v);
    }
    all
}

/// One combined shader: its name (the kernel file), its source, its entry points and
/// the sets of pipeline constants it is built with (none: built as written).
#[derive(Debug, Clone, Copy)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    pub entry_points: &'static [&'static str],
    pub constants: Option<Variants>,
}

/// Every shader the solver builds, with the entry points it uses.
pub const ALL: [Shader; 5] = [
    Shader {
        name: "chem.wgsl",
        source: CHEM,
        entry_points: &["chem_step"],
        constants: Some(chem_variants),
    },
    Shader {
        name: "species.wgsl",
        source: SPECIES,
        entry_points: &["species_step"],
        constants: None,
    },
    Shader {
        name: "cell.wgsl",
        source: CELL,
        entry_points: &["cell_step"],
        constants: Some(cell_variants),
    },
    Shader {
        name: "probe.wgsl",
        source: PROBE,
        entry_points: &["probe_sums", "probe_planes"],
        constants: Some(rate_variants),
    },
    Shader {
        name: "copy.wgsl",
        source: COPY,
        entry_points: &["copy_vec4"],
        constants: None,
    },
];

/// Workgroup shape of every field kernel (`WG_X`, `WG_Y` in common.wgsl): 64 threads
/// in x by 4 rows; a thread steps one voxel (reduce) or a quad of four x-voxels
/// (chem, cell).
pub const WORKGROUP: [u32; 3] = [64, 4, 1];

/// Workgroup shape of the snapshot sums (`probe_sums`, `PROBE_WG` in probe.wgsl): one
/// row of 64 threads, so that its reductions take few tree levels.
pub const PROBE_WORKGROUP: [u32; 3] = [64, 1, 1];

/// The workgroup shape of an entry point: [`PROBE_WORKGROUP`] for `probe_sums`, else
/// [`WORKGROUP`].
pub fn workgroup_of(entry_point: &str) -> [u32; 3] {
    if entry_point == "probe_sums" {
        PROBE_WORKGROUP
    } else {
        WORKGROUP
    }
}
