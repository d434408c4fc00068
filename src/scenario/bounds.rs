//! Bounds on every number a scenario holds, so that no value can make the work, an
//! allocation, a stability bound or a GPU value (f32) non-finite: each key's value must
//! lie in a closed range wide enough for any tissue-scale question and narrow enough
//! that products of rates, levels and densities stay finite in f32. The sign and
//! relational checks of `super::validate` come first and say more; these catch the
//! extremes (`1e308`, `1e-300`). `tests/hostile.rs` enumerates every numeric key of the
//! schema and fails on one without a bound.

use super::validate::Checker;
use super::Loaded;

/// One key's bounds: a pattern (`[*]` for any index, `tissue.*.` for any class), the
/// lowest and highest value allowed, and the unit as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub key: &'static str,
    pub low: f64,
    pub high: f64,
    pub unit: &'static str,
}

const fn b(key: &'static str, low: f64, high: f64, unit: &'static str) -> Bound {
    Bound {
        key,
        low,
        high,
        unit,
    }
}

/// Lengths up to 10 m, times up to about 11 years, rates up to 10⁴ per minute,
/// concentrations up to 1 M, densities up to 10⁹ per mm³.
pub const BOUNDS: &[Bound] = &[
    b("grid.nx", 1.0, 65536.0, "voxels"),
    b("grid.ny", 1.0, 65536.0, "voxels"),
    b("grid.nz", 1.0, 65536.0, "voxels"),
    b("grid.voxel_um", 1e-3, 1e4, "µm"),
    b("time.duration_h", 1.0 / 3600.0, 1e5, "h"),
    b("time.snapshot_every_h", 1.0 / 3600.0, 1e5, "h"),
    b("time.burn_in_h", 0.0, 1e5, "h"),
    b("time.snapshot_times_h[*]", 1.0 / 3600.0, 1e5, "h"),
    b("time.snapshots_after_dose", 0.0, 20.0, "snapshots"),
    b("geometry.seed", 0.0, 9.3e18, ""),
    b("geometry.flc.center_um[*]", -1e7, 1e7, "µm"),
    b("geometry.flc.radii_um[*]", 1e-3, 1e7, "µm"),
    b("geometry.flc.capsule_um", 0.0, 1e7, "µm"),
    b("geometry.slice.thickness_um", 1e-3, 1e7, "µm"),
    b("geometry.volume.dims[*]", 1.0, 65536.0, "voxels"),
    b("geometry.volume.voxel_um", 1e-3, 1e4, "µm"),
    b("geometry.lamellae.spacing_um", 1e-3, 1e7, "µm"),
    b("geometry.lamellae.thickness_um", 0.0, 1e7, "µm"),
    b("geometry.lamellae.normal[*]", -1e6, 1e6, ""),
    b("geometry.lamellae.waviness_um", 0.0, 1e7, "µm"),
    b("geometry.lamellae.waviness_wavelength_um", 1e-3, 1e7, "µm"),
    b("geometry.vessels.fraction_margin", 0.0, 1.0, ""),
    b("geometry.vessels.fraction_stroma", 0.0, 1.0, ""),
    b("geometry.vessels.fraction_liver", 0.0, 1.0, ""),
    b("geometry.vessels.liver_band_um", 0.0, 1e7, "µm"),
    b("tissue.*.cxcl12_secretion_nM_per_min", 0.0, 1e6, "nM/min"),
    b("tissue.*.cxcl12_decay_per_min", 0.0, 1e4, "/min"),
    b("tissue.*.motility_factor", 0.0, 100.0, ""),
    b("tissue.*.diffusion_factor", 0.0, 100.0, ""),
    b(
        "tissue.*.tcell_influx_per_mm3_per_min",
        0.0,
        1e9,
        "/mm³/min",
    ),
    b("tissue.*.drug_exchange_factor", 0.0, 100.0, ""),
    b("tissue.*.tcell_initial_per_mm3", 0.0, 1e9, "/mm³"),
    b("cxcl12.diffusion_um2_per_min", 0.0, 1e7, "µm²/min"),
    b("cxcl12.half_saturation_nM", 1e-9, 1e9, "nM"),
    b("cxcl12.bath_nM", 0.0, 1e6, "nM"),
    b("cxcl12.uptake_nM_mm3_per_min", 0.0, 1e6, "nM·mm³/min"),
    b("amd3100.diffusion_um2_per_min", 0.0, 1e7, "µm²/min"),
    b("amd3100.decay_per_min", 0.0, 1e4, "/min"),
    b("amd3100.half_saturation_nM", 1e-9, 1e9, "nM"),
    b("amd3100.exchange_per_min", 0.0, 1e4, "/min"),
    b("anti_pd1.diffusion_um2_per_min", 0.0, 1e7, "µm²/min"),
    b("anti_pd1.decay_per_min", 0.0, 1e4, "/min"),
    b("anti_pd1.half_saturation_nM", 1e-9, 1e9, "nM"),
    b("anti_pd1.exchange_per_min", 0.0, 1e4, "/min"),
    b("tcells.motility_um2_per_min", 0.0, 1e5, "µm²/min"),
    b("tcells.arrest_fraction", 0.0, 1.0, ""),
    b("tcells.chemotaxis_over_motility", 0.0, 1e3, ""),
    b("tcells.max_density_per_mm3", 1e-9, 1e9, "/mm³"),
    b("tcells.death_per_day", 0.0, 1e4, "/day"),
    b("tcells.proliferation_per_day", 0.0, 1e4, "/day"),
    b("tcells.proliferation_half_saturation", 1e-9, 1e3, ""),
    b("tumor.growth_per_day", 0.0, 1e4, "/day"),
    b("tumor.kill_per_tcell_per_day", 0.0, 1e4, "/day"),
    b("tumor.carrying_capacity_per_mm3", 1e-9, 1e9, "/mm³"),
    b("tumor.pdl1_suppression", 0.0, 1.0, ""),
    b("tumor.initial_density", 0.0, 1.0, ""),
    b("treatment[*].half_life_h", 1.0 / 3600.0, 1e6, "h"),
    b("treatment[*].doses[*].at_h", 0.0, 1e5, "h"),
    b("treatment[*].doses[*].peak_uM", 0.0, 1e6, "µM"),
    b("treatment[*].doses[*].peak_nM", 0.0, 1e9, "nM"),
    b("treatment[*].schedule.start_h", 0.0, 1e5, "h"),
    b("treatment[*].schedule.every_h", 1.0 / 3600.0, 1e5, "h"),
    b("treatment[*].schedule.count", 1.0, 1e5, "doses"),
    b("treatment[*].schedule.peak_uM", 0.0, 1e6, "µM"),
    b("treatment[*].schedule.peak_nM", 0.0, 1e9, "nM"),
    b("treatment[*].level_uM", 0.0, 1e6, "µM"),
    b("treatment[*].level_nM", 0.0, 1e9, "nM"),
    b("treatment[*].level", 0.0, 1e9, "unit"),
    b("treatment[*].doses[*].peak", 0.0, 1e9, "unit"),
    b("treatment[*].schedule.peak", 0.0, 1e9, "unit"),
    b("treatment[*].start_h", 0.0, 1e5, "h"),
    b("species[*].diffusion_um2_per_min", 0.0, 1e7, "µm²/min"),
    b("species[*].decay_per_min", 0.0, 1e4, "/min"),
    b("species[*].extra_decay_per_min.*", 0.0, 1e4, "/min"),
    b("species[*].secretion_per_min.*", 0.0, 1e6, "unit/min"),
    b(
        "species[*].tcell_secretion_mm3_per_min",
        0.0,
        1e3,
        "unit·mm³/min",
    ),
    b("species[*].tumor_secretion_per_min", 0.0, 1e6, "unit/min"),
    b(
        "species[*].contact_secretion_mm3_per_min",
        0.0,
        1e3,
        "unit·mm³/min",
    ),
    b("species[*].exchange_per_min", 0.0, 1e4, "/min"),
    b("species[*].plasma_level", 0.0, 1e9, "unit"),
    b("species[*].bath_level", 0.0, 1e9, "unit"),
    b("species[*].initial_level", 0.0, 1e9, "unit"),
    b("species[*].couplings.*", 1e-9, 1e9, "unit"),
    b("readout.d_core_um", 0.0, 1e7, "µm"),
    b("readout.d_margin_um", 1e-3, 1e7, "µm"),
    b("readout.profile_bin_um", 1e-3, 1e7, "µm"),
    b("readout.profile_min_um", -1e7, 1e7, "µm"),
    b("readout.profile_max_um", -1e7, 1e7, "µm"),
    b("numerics.safety", 1e-6, 1.0, ""),
    b("numerics.cell_dt_min", 1e-9, 1e5, "min"),
    b("numerics.cxcl12_dt_min", 1e-9, 1e5, "min"),
    b("numerics.amd3100_dt_min", 1e-9, 1e5, "min"),
    b("numerics.anti_pd1_dt_min", 1e-9, 1e5, "min"),
    b("numerics.quasi_steady_tolerance", 1e-12, 0.1, ""),
    b("output.plane_index", 0.0, 65535.0, "voxels"),
    b("output.vti_every_h", 1.0 / 3600.0, 1e5, "h"),
    b("output.arrays_every_h", 1.0 / 3600.0, 1e5, "h"),
    b("output.ortho_at_um[*]", 0.0, 1e7, "µm"),
    b("output.frame_ms", 10.0, 60000.0, "ms"),
    b("output.cxcl12_range_nM[*]", -1e30, 1e30, "nM"),
    b("output.amd3100_range_uM[*]", -1e30, 1e30, "µM"),
    b("output.anti_pd1_range_nM[*]", -1e30, 1e30, "nM"),
    b("output.tcells_range_per_mm3[*]", -1e30, 1e30, "/mm³"),
    b("output.tumor_range_fraction[*]", -1e30, 1e30, ""),
    b("output.killed_range_fraction[*]", -1e30, 1e30, ""),
];

/// A key path with its indices written `[*]` and, under `tissue.` and in the class
/// tables of `species`, the class written `*`: the form of [`BOUNDS`]' patterns.
pub fn pattern_of(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_index = false;
    for c in key.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    if let Some(rest) = out.strip_prefix("species[*].") {
        if let Some((table, _class)) = rest.split_once('.') {
            return format!("species[*].{table}.*");
        }
    }
    match out.strip_prefix("tissue.") {
        Some(rest) => match rest.split_once('.') {
            Some((_, key)) => format!("tissue.*.{key}"),
            None => out,
        },
        None => out,
    }
}

/// The bound of a key, if it has one.
pub fn bound_of(key: &str) -> Option<&'static Bound> {
    let p = pattern_of(key);
    BOUNDS.iter().find(|b| b.key == p)
}

/// Every number of a TOML value with its key path (`a.b[2].c`).
pub fn numbers(v: &toml::Value, prefix: &str, out: &mut Vec<(String, f64)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Integer(i) => out.push((prefix.to_string(), *i as f64)),
        toml::Value::Float(f) => out.push((prefix.to_string(), *f)),
        toml::Value::Table(t) => {
            for (k, v) in t {
                numbers(v, &join(k), out);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                numbers(v, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Checks every number of the scenario against its bound (keys already refused by an
/// earlier check are left to that check's message).
pub fn check(c: &mut Checker, loaded: &Loaded) {
    let v = match toml::Value::try_from(&loaded.scenario) {
        Ok(v) => v,
        Err(e) => {
            c.require(false, "", e, "a scenario that can be written back as TOML");
            return;
        }
    };
    let mut all = Vec::new();
    numbers(&v, "", &mut all);
    for (key, x) in all {
        if c.found.iter().any(|f| f.at.key == key) {
            continue;
        }
        let Some(b) = bound_of(&key) else {
            // A number without a bound: `tests/hostile.rs` fails on it; refuse the
            // non-finite at least.
            c.require(
                x.is_finite(),
                &key,
                crate::units::number(x),
                "a finite number",
            );
            continue;
        };
        let unit = if b.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", b.unit)
        };
        c.require(
            x.is_finite() && x >= b.low && x <= b.high,
            &key,
            crate::units::number(x),
            &format!(
                "{} … {}{unit}",
                crate::units::significant(b.low, 4),
                crate::units::significant(b.high, 4)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_fold_indices_and_classes() {
        assert_eq!(
            pattern_of("treatment[3].doses[12].peak_uM"),
            "treatment[*].doses[*].peak_uM"
        );
        assert_eq!(
            pattern_of("tissue.stroma.motility_factor"),
            "tissue.*.motility_factor"
        );
        assert_eq!(pattern_of("grid.nx"), "grid.nx");
        assert!(bound_of("tissue.liver.cxcl12_decay_per_min").is_some());
        assert!(bound_of("grid.nothing").is_none());
    }
}
