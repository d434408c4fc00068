//! The ranges the literature gives for the parameters that have one
//! (`docs/parameters.md`, "Ranges `check` warns outside"; `tests/check.rs` holds the
//! page and this table to each other). A value outside is allowed, since a researcher
//! may mean it, but `infiltrate check` and the start of a run say so.

use super::Loaded;

/// One parameter's published range: its scenario key, the range in the key's unit, the
/// unit as written, and where the range comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Typical {
    pub key: &'static str,
    pub low: f64,
    pub high: f64,
    pub unit: &'static str,
    pub basis: &'static str,
}

/// Every range `check` warns outside.
pub const TYPICAL: &[Typical] = &[
    Typical {
        key: "cxcl12.diffusion_um2_per_min",
        low: 100.0,
        high: 9500.0,
        unit: "µm²/min",
        basis: "effective in matrix (100–1,000) up to free in water (~9,500)",
    },
    Typical {
        key: "cxcl12.half_saturation_nM",
        low: 2.0,
        high: 10.0,
        unit: "nM",
        basis: "CXCR4 binding on blood monocytes and T cells",
    },
    Typical {
        key: "amd3100.diffusion_um2_per_min",
        low: 1.0e4,
        high: 3.0e4,
        unit: "µm²/min",
        basis: "Stokes–Einstein for 0.5 kDa, tissue 0.3–1 of water",
    },
    Typical {
        key: "amd3100.half_saturation_nM",
        low: 4.7,
        high: 50.0,
        unit: "nM",
        basis: "functional IC50 4.7–7.4 nM; reported K_A up to 50 nM",
    },
    Typical {
        key: "anti_pd1.diffusion_um2_per_min",
        low: 60.0,
        high: 600.0,
        unit: "µm²/min",
        basis: "IgG in tumour interstitium (unverified range)",
    },
    Typical {
        key: "anti_pd1.half_saturation_nM",
        low: 4.0,
        high: 7.2,
        unit: "nM",
        basis: "array SPR of nivolumab and pembrolizumab analogues",
    },
    Typical {
        key: "tcells.motility_um2_per_min",
        low: 5.0,
        high: 100.0,
        unit: "µm²/min",
        basis: "v²P/3 from T-cell speeds and persistence times",
    },
    Typical {
        key: "tcells.death_per_day",
        low: 0.1,
        high: 0.3,
        unit: "/day",
        basis: "typical effector T-cell death (unverified)",
    },
    Typical {
        key: "tcells.proliferation_per_day",
        low: 0.0,
        high: 0.5,
        unit: "/day",
        basis: "T-cell expansion in tumour slices (qualitative)",
    },
    Typical {
        key: "tumor.growth_per_day",
        low: 0.0043,
        high: 0.008,
        unit: "/day",
        basis: "HCC volume doubling times (no FLC value)",
    },
    Typical {
        key: "tumor.kill_per_tcell_per_day",
        low: 2.0,
        high: 20.0,
        unit: "/day",
        basis: "kills per CTL per day from two-photon imaging",
    },
    Typical {
        key: "tumor.carrying_capacity_per_mm3",
        low: 1.0e5,
        high: 1.0e6,
        unit: "/mm³",
        basis: "tumour cell densities (generic)",
    },
    Typical {
        key: "tissue.stroma.cxcl12_decay_per_min",
        low: 0.01155,
        high: 0.0231,
        unit: "/min",
        basis: "CXCL12 half-life 30–60 min in serum",
    },
    Typical {
        key: "geometry.slice.thickness_um",
        low: 250.0,
        high: 300.0,
        unit: "µm",
        basis: "vibratome slices of tumour slice cultures",
    },
];

/// The value of a dotted key in a scenario written as TOML (defaults filled in), if it
/// is a number.
pub fn value(scenario: &toml::Value, key: &str) -> Option<f64> {
    let mut at = scenario;
    for seg in key.split('.') {
        at = at.get(seg)?;
    }
    at.as_float().or_else(|| at.as_integer().map(|i| i as f64))
}

/// A sentence for each parameter outside its range, naming the file, line and key.
/// Parameters of a section the scenario does not use (the slice thickness of an
/// in-vivo run) are not checked.
pub fn outside(loaded: &Loaded) -> Vec<String> {
    let s = &loaded.scenario;
    let Ok(written) = toml::Value::try_from(s) else {
        return Vec::new();
    };
    TYPICAL
        .iter()
        .filter(|t| {
            !(t.key.starts_with("geometry.slice.") && s.geometry.kind != super::GeometryKind::Slice)
        })
        .filter_map(|t| {
            let v = value(&written, t.key)?;
            let inside = v >= t.low * (1.0 - 1e-9) && v <= t.high * (1.0 + 1e-9);
            (!inside).then(|| {
                format!(
                    "{}: {} {} is outside {}–{} {}, the published range ({}; \
                     docs/parameters.md); allowed, but check that it is meant",
                    loaded.locate(t.key),
                    crate::units::significant(v, 4),
                    t.unit,
                    crate::units::significant(t.low, 4),
                    crate::units::significant(t.high, 4),
                    t.unit,
                    t.basis
                )
            })
        })
        .collect()
}
