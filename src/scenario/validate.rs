//! Range checks of every scenario value: each failure names the file, line, key, the
//! value and the allowed range. All failures are collected, not just the first.

use super::load::Loaded;
use super::schema::*;
use crate::error::Invalid;
use crate::units::number;

/// The most snapshots a run may have (each is a row, a profile and a read-back).
pub const MAX_SNAPSHOTS: f64 = 100_000.0;
/// The most depth-profile bins (each a row of profile.csv per snapshot).
pub const MAX_PROFILE_BINS: f64 = 10_000.0;

/// Collects invalid values with their locations.
pub struct Checker<'a> {
    loaded: &'a Loaded,
    pub found: Vec<Invalid>,
}

impl<'a> Checker<'a> {
    pub fn new(loaded: &'a Loaded) -> Self {
        Checker {
            loaded,
            found: Vec::new(),
        }
    }

    /// Records a failure of `key` with `value` unless `ok`.
    pub fn require(&mut self, ok: bool, key: &str, value: impl ToString, allowed: &str) {
        if !ok {
            self.found.push(Invalid {
                at: self.loaded.locate(key),
                value: value.to_string(),
                allowed: allowed.to_string(),
            });
        }
    }

    /// Records a failure of `key` unless `v` is finite and > 0.
    pub fn positive(&mut self, key: &str, v: f64) {
        self.require(
            v.is_finite() && v > 0.0,
            key,
            number(v),
            "a finite number > 0",
        );
    }

    fn non_negative(&mut self, key: &str, v: f64) {
        self.require(
            v.is_finite() && v >= 0.0,
            key,
            number(v),
            "a finite number ≥ 0",
        );
    }

    fn fraction(&mut self, key: &str, v: f64, closed_top: bool) {
        if closed_top {
            self.require((0.0..=1.0).contains(&v), key, number(v), "[0, 1]");
        } else {
            self.require((0.0..1.0).contains(&v), key, number(v), "[0, 1)");
        }
    }
}

/// Checks every value range of a loaded scenario (not the stability bounds, which need
/// the derived steps: see [`crate::model::StepPlan`]).
pub fn check_ranges(c: &mut Checker) {
    let s = &c.loaded.scenario.clone();

    for (k, v) in [("nx", s.grid.nx), ("ny", s.grid.ny), ("nz", s.grid.nz)] {
        c.require(v >= 1, &format!("grid.{k}"), v, "≥ 1 (a grid needs voxels)");
    }
    c.positive("grid.voxel_um", s.grid.voxel_um);

    c.positive("time.duration_h", s.time.duration_h);
    c.positive("time.snapshot_every_h", s.time.snapshot_every_h);
    if s.time.snapshot_every_h.is_finite() && s.time.duration_h.is_finite() {
        c.require(
            s.time.snapshot_every_h <= s.time.duration_h,
            "time.snapshot_every_h",
            s.time.snapshot_every_h,
            &format!("≤ time.duration_h = {}", s.time.duration_h),
        );
    }
    c.non_negative("time.burn_in_h", s.time.burn_in_h);
    // Listed times after the end are left out with a warning (a shorter run of a
    // scenario that lists them still runs): `Prepared::warnings`.
    for (i, &t) in s.time.snapshot_times_h.iter().enumerate() {
        c.require(
            t.is_finite() && t > 0.0,
            &format!("time.snapshot_times_h[{i}]"),
            number(t),
            "a time > 0 h after the start of dosing (time 0 is always a snapshot)",
        );
    }
    let snapshots = s.time.duration_h / s.time.snapshot_every_h;
    if snapshots.is_finite() && snapshots > 0.0 {
        c.require(
            snapshots <= MAX_SNAPSHOTS,
            "time.snapshot_every_h",
            s.time.snapshot_every_h,
            &format!(
                "at most {MAX_SNAPSHOTS} snapshots: ≥ {} h for time.duration_h = {}",
                s.time.duration_h / MAX_SNAPSHOTS,
                s.time.duration_h
            ),
        );
    }

    check_geometry(c, &s.geometry, &s.grid);
    check_tissue(c, &s.tissue);

    c.non_negative(
        "cxcl12.diffusion_um2_per_min",
        s.cxcl12.diffusion_um2_per_min,
    );
    c.positive("cxcl12.half_saturation_nM", s.cxcl12.half_saturation_nm);
    c.non_negative("cxcl12.bath_nM", s.cxcl12.bath_nm);
    c.non_negative(
        "cxcl12.uptake_nM_mm3_per_min",
        s.cxcl12.uptake_nm_mm3_per_min,
    );
    for (name, d) in [("amd3100", &s.amd3100), ("anti_pd1", &s.anti_pd1)] {
        c.non_negative(
            &format!("{name}.diffusion_um2_per_min"),
            d.diffusion_um2_per_min,
        );
        c.non_negative(&format!("{name}.decay_per_min"), d.decay_per_min);
        c.positive(&format!("{name}.half_saturation_nM"), d.half_saturation_nm);
        c.non_negative(&format!("{name}.exchange_per_min"), d.exchange_per_min);
    }

    let t = &s.tcells;
    c.non_negative("tcells.motility_um2_per_min", t.motility_um2_per_min);
    c.fraction("tcells.arrest_fraction", t.arrest_fraction, false);
    c.non_negative(
        "tcells.chemotaxis_over_motility",
        t.chemotaxis_over_motility,
    );
    c.positive("tcells.max_density_per_mm3", t.max_density_per_mm3);
    c.non_negative("tcells.death_per_day", t.death_per_day);
    c.non_negative("tcells.proliferation_per_day", t.proliferation_per_day);
    c.positive(
        "tcells.proliferation_half_saturation",
        t.proliferation_half_saturation,
    );

    let u = &s.tumor;
    c.non_negative("tumor.growth_per_day", u.growth_per_day);
    c.non_negative("tumor.kill_per_tcell_per_day", u.kill_per_tcell_per_day);
    c.positive(
        "tumor.carrying_capacity_per_mm3",
        u.carrying_capacity_per_mm3,
    );
    c.fraction("tumor.pdl1_suppression", u.pdl1_suppression, true);
    c.fraction("tumor.initial_density", u.initial_density, true);

    let has_bath = has_bath_faces(&s.geometry);
    for (i, tr) in s.treatment.iter().enumerate() {
        check_treatment(c, i, tr, s, has_bath);
    }

    check_species(c, s);

    let r = &s.readout;
    c.non_negative("readout.d_core_um", r.d_core_um);
    c.positive("readout.d_margin_um", r.d_margin_um);
    c.positive("readout.profile_bin_um", r.profile_bin_um);
    c.require(
        r.profile_min_um.is_finite() && r.profile_min_um < r.profile_max_um,
        "readout.profile_min_um",
        number(r.profile_min_um),
        &format!("finite and < readout.profile_max_um = {}", r.profile_max_um),
    );
    c.require(
        r.profile_max_um.is_finite(),
        "readout.profile_max_um",
        number(r.profile_max_um),
        "finite",
    );
    let bins = (r.profile_max_um - r.profile_min_um) / r.profile_bin_um;
    if r.profile_bin_um > 0.0 && r.profile_min_um < r.profile_max_um {
        c.require(
            bins.is_finite() && bins <= MAX_PROFILE_BINS,
            "readout.profile_bin_um",
            number(r.profile_bin_um),
            &format!(
                "at most {MAX_PROFILE_BINS} bins from profile_min_um to profile_max_um: \
                 ≥ {} µm for that span",
                (r.profile_max_um - r.profile_min_um) / MAX_PROFILE_BINS
            ),
        );
    }

    let n = &s.numerics;
    c.require(
        n.safety > 0.0 && n.safety <= 1.0,
        "numerics.safety",
        n.safety,
        "(0, 1]",
    );
    for (k, v) in [
        ("cell_dt_min", n.cell_dt_min),
        ("cxcl12_dt_min", n.cxcl12_dt_min),
        ("amd3100_dt_min", n.amd3100_dt_min),
        ("anti_pd1_dt_min", n.anti_pd1_dt_min),
    ] {
        if let Some(v) = v {
            c.positive(&format!("numerics.{k}"), v);
        }
    }
    c.require(
        n.quasi_steady_tolerance > 0.0 && n.quasi_steady_tolerance <= 0.1,
        "numerics.quasi_steady_tolerance",
        n.quasi_steady_tolerance,
        "(0, 0.1]",
    );
    for (i, ch) in n.quasi_steady.iter().enumerate() {
        c.require(
            !n.quasi_steady[..i].contains(ch),
            &format!("numerics.quasi_steady[{i}]"),
            format!("{ch:?}"),
            "each chemical once",
        );
    }
    check_output(c, s);
    let loaded = c.loaded;
    super::bounds::check(c, loaded);
}

/// The `[output]` table: plane inside the grid, positive intervals, ordered ranges.
fn check_output(c: &mut Checker, s: &Scenario) {
    let o = &s.output;
    if let Some(i) = o.plane_index {
        let (axis, n) = match o.plane_axis {
            PlaneAxis::X => ("x", s.grid.nx),
            PlaneAxis::Y => ("y", s.grid.ny),
            PlaneAxis::Z => ("z", s.grid.nz),
        };
        c.require(
            i < n,
            "output.plane_index",
            i,
            &format!(
                "0 … {} (the grid has {n} voxels along {axis})",
                n.saturating_sub(1)
            ),
        );
    }
    if let Some(p) = o.ortho_at_um {
        let dims = [s.grid.nx, s.grid.ny, s.grid.nz];
        for (d, name) in ["x", "y", "z"].iter().enumerate() {
            let edge = f64::from(dims[d]) * s.grid.voxel_um;
            c.require(
                p[d] >= 0.0 && p[d] <= edge,
                &format!("output.ortho_at_um[{d}]"),
                number(p[d]),
                &format!("0 … {} µm (the grid's extent along {name})", number(edge)),
            );
        }
    }
    if let Some(v) = o.vti_every_h {
        c.positive("output.vti_every_h", v);
    }
    c.require(
        (10..=60_000).contains(&o.frame_ms),
        "output.frame_ms",
        o.frame_ms,
        "10 … 60000 (ms per time-lapse frame)",
    );
    for (_, key, r) in o.ranges() {
        if let Some([lo, hi]) = r {
            c.require(
                lo.is_finite() && hi.is_finite() && lo < hi,
                key,
                format!("[{lo}, {hi}]"),
                "[low, high] with finite low < high",
            );
        }
    }
}

/// The domain faces that touch a bath, as `x-`, ..., `z+`.
pub fn bath_faces(g: &Geometry) -> Vec<String> {
    match g.kind {
        GeometryKind::Slice => vec!["z-".into(), "z+".into()],
        GeometryKind::Flc => Vec::new(),
        GeometryKind::Volume => g
            .volume
            .as_ref()
            .map(|v| v.bath_faces.clone())
            .unwrap_or_default(),
    }
}

fn has_bath_faces(g: &Geometry) -> bool {
    !bath_faces(g).is_empty()
}

pub const FACE_NAMES: [&str; 6] = ["x-", "x+", "y-", "y+", "z-", "z+"];

fn check_geometry(c: &mut Checker, g: &Geometry, grid: &Grid) {
    match g.kind {
        GeometryKind::Flc => {
            for (i, r) in g.flc.radii_um.iter().enumerate() {
                c.positive(&format!("geometry.flc.radii_um[{i}]"), *r);
            }
            let rmin = g.flc.radii_um.iter().cloned().fold(f64::INFINITY, f64::min);
            c.require(
                g.flc.capsule_um.is_finite() && g.flc.capsule_um >= 0.0 && g.flc.capsule_um < rmin,
                "geometry.flc.capsule_um",
                g.flc.capsule_um,
                &format!("[0, smallest radius = {rmin})"),
            );
            if let Some(cen) = g.flc.center_um {
                for (i, x) in cen.iter().enumerate() {
                    c.require(
                        x.is_finite(),
                        &format!("geometry.flc.center_um[{i}]"),
                        x,
                        "finite",
                    );
                }
            }
        }
        GeometryKind::Slice => {
            let t = g.slice.thickness_um;
            c.positive("geometry.slice.thickness_um", t);
            let box_z = f64::from(grid.nz) * grid.voxel_um;
            if t.is_finite() && t > 0.0 && grid.voxel_um > 0.0 {
                let nz = (t / grid.voxel_um).round().max(1.0);
                c.require(
                    (box_z - t).abs() <= 1e-6 * t,
                    "grid.nz",
                    grid.nz,
                    &format!(
                        "nz × voxel_um = geometry.slice.thickness_um = {t} µm (the slab fills the box in z): \
                         nz = {nz} with voxel_um = {}",
                        grid.voxel_um
                    ),
                );
            }
        }
        GeometryKind::Volume => match &g.volume {
            None => c.require(
                false,
                "geometry.volume",
                "absent",
                "a [geometry.volume] table with path, dims and voxel_um when kind = \"volume\"",
            ),
            Some(v) => {
                let dims = [grid.nx, grid.ny, grid.nz];
                let raw = super::VolumeFormat::of(std::path::Path::new(&v.path))
                    == super::VolumeFormat::Raw;
                match v.dims {
                    Some(d) => c.require(
                        d == dims,
                        "geometry.volume.dims",
                        format!("{d:?}"),
                        &format!("the grid's [nx, ny, nz] = {dims:?}"),
                    ),
                    None => c.require(
                        !raw,
                        "geometry.volume.dims",
                        "absent",
                        &format!(
                            "[nx, ny, nz] = {dims:?} for a raw file (one without a .nii, \
                             .nii.gz, .tif, .tiff or .nrrd extension, which has no header)"
                        ),
                    ),
                }
                match v.voxel_um {
                    Some(h) => c.require(
                        (h - grid.voxel_um).abs() <= 1e-9 * grid.voxel_um.abs(),
                        "geometry.volume.voxel_um",
                        h,
                        &format!("the grid's voxel_um = {}", grid.voxel_um),
                    ),
                    None => c.require(
                        !raw,
                        "geometry.volume.voxel_um",
                        "absent",
                        &format!("the grid's voxel_um = {} for a raw file", grid.voxel_um),
                    ),
                }
                for (k, name) in &v.labels {
                    let key = format!("geometry.volume.labels.{k}");
                    c.require(
                        k.trim().parse::<u32>().is_ok(),
                        &key,
                        format!("{k:?}"),
                        "a label value as a whole number 0 … 4294967295 (labels = { 7 = \"tumor\" })",
                    );
                    c.require(
                        super::ClassValues::KEYS.contains(&name.as_str()),
                        &key,
                        format!("{name:?}"),
                        "a class name: outside, liver, tumor, stroma or vessel",
                    );
                }
                for (i, f) in v.bath_faces.iter().enumerate() {
                    c.require(
                        FACE_NAMES.contains(&f.as_str()),
                        &format!("geometry.volume.bath_faces[{i}]"),
                        format!("{f:?}"),
                        "one of x-, x+, y-, y+, z-, z+",
                    );
                }
                c.require(
                    v.boundary == "tumor" || v.boundary == "mass",
                    "geometry.volume.boundary",
                    format!("{:?}", v.boundary),
                    "\"tumor\" or \"mass\"",
                );
            }
        },
    }
    if g.kind != GeometryKind::Volume {
        let l = &g.lamellae;
        c.positive("geometry.lamellae.spacing_um", l.spacing_um);
        c.require(
            l.thickness_um.is_finite() && l.thickness_um >= 0.0 && l.thickness_um < l.spacing_um,
            "geometry.lamellae.thickness_um",
            l.thickness_um,
            &format!("[0, spacing_um = {})", l.spacing_um),
        );
        let norm = l.normal.iter().map(|x| x * x).sum::<f64>().sqrt();
        c.require(
            norm.is_finite() && norm > 0.0,
            "geometry.lamellae.normal",
            format!("{:?}", l.normal),
            "a finite, non-zero vector",
        );
        c.non_negative("geometry.lamellae.waviness_um", l.waviness_um);
        c.positive(
            "geometry.lamellae.waviness_wavelength_um",
            l.waviness_wavelength_um,
        );
        let v = &g.vessels;
        c.fraction("geometry.vessels.fraction_margin", v.fraction_margin, true);
        c.fraction("geometry.vessels.fraction_stroma", v.fraction_stroma, true);
        c.fraction("geometry.vessels.fraction_liver", v.fraction_liver, true);
        c.non_negative("geometry.vessels.liver_band_um", v.liver_band_um);
    }
}

fn check_tissue(c: &mut Checker, t: &Tissue) {
    for (name, k) in [
        ("outside", &t.outside),
        ("liver", &t.liver),
        ("tumor", &t.tumor),
        ("stroma", &t.stroma),
        ("vessel", &t.vessel),
    ] {
        let p = |key: &str| format!("tissue.{name}.{key}");
        c.non_negative(
            &p("cxcl12_secretion_nM_per_min"),
            k.cxcl12_secretion_nm_per_min,
        );
        c.non_negative(&p("cxcl12_decay_per_min"), k.cxcl12_decay_per_min);
        c.non_negative(&p("motility_factor"), k.motility_factor);
        c.non_negative(&p("diffusion_factor"), k.diffusion_factor);
        c.non_negative(
            &p("tcell_influx_per_mm3_per_min"),
            k.tcell_influx_per_mm3_per_min,
        );
        c.non_negative(&p("drug_exchange_factor"), k.drug_exchange_factor);
        c.non_negative(&p("tcell_initial_per_mm3"), k.tcell_initial_per_mm3);
        // The local equilibrium σ/λ is where CXCL12 starts (and heads): it must be finite
        // in the GPU's f32 with room to spare.
        let (sigma, lambda) = (k.cxcl12_secretion_nm_per_min, k.cxcl12_decay_per_min);
        if sigma > 0.0 && lambda > 0.0 {
            c.require(
                sigma / lambda <= MAX_CXCL12_NM,
                &p("cxcl12_decay_per_min"),
                number(lambda),
                &format!(
                    "≥ {} /min with a secretion of {} nM/min (the local equilibrium σ/λ at most \
                     {} nM)",
                    number(sigma / MAX_CXCL12_NM),
                    number(sigma),
                    number(MAX_CXCL12_NM)
                ),
            );
        }
    }
}

/// The most species a scenario may add. Each is stepped by a pass of its own on the GPU
/// (its two buffers and T and N bound: five storage buffers with the classes, under
/// WebGPU's guaranteed eight), and the GPU's uniform parameters hold this many.
pub const MAX_SPECIES: usize = 8;

/// Names a species may not take: the built-in fields' and sections' names, and the other
/// arrays' names in `arrays.zarr` (the built-in fields' output names, the coordinates).
const RESERVED_NAMES: [&str; 19] = [
    "cxcl12",
    "amd3100",
    "anti_pd1",
    "tcells",
    "tumor",
    "killed",
    "class",
    "tcells_mip",
    "t",
    "n",
    "k",
    "time",
    "tcells_per_mm3",
    "tumor_fraction",
    "killed_fraction",
    "time_h",
    "x_um",
    "y_um",
    "z_um",
];

fn check_species(c: &mut Checker, s: &Scenario) {
    if s.species.len() > MAX_SPECIES {
        let extra = &s.species[MAX_SPECIES];
        c.require(
            false,
            &format!("species[{MAX_SPECIES}].name"),
            &extra.name,
            &format!(
                "at most {MAX_SPECIES} species per scenario (the GPU solver's parameters hold \
                 {MAX_SPECIES}); `{}` is species {}",
                extra.name,
                MAX_SPECIES + 1
            ),
        );
    }
    for (i, sp) in s.species.iter().enumerate() {
        let key = |k: &str| format!("species[{i}].{k}");
        let good_name = !sp.name.is_empty()
            && sp.name.len() <= 24
            && sp.name.starts_with(|ch: char| ch.is_ascii_lowercase())
            && sp
                .name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        c.require(
            good_name,
            &key("name"),
            format!("{:?}", sp.name),
            "lower-case letters, digits and `_`, starting with a letter, 1 to 24 characters",
        );
        c.require(
            !RESERVED_NAMES.contains(&sp.name.as_str()),
            &key("name"),
            format!("{:?}", sp.name),
            &format!("a name other than {}", RESERVED_NAMES.join(", ")),
        );
        c.require(
            !s.species[..i].iter().any(|o| o.name == sp.name),
            &key("name"),
            format!("{:?}", sp.name),
            "a name no other species has",
        );
        let good_unit = !sp.unit.is_empty()
            && sp.unit.len() <= 12
            && sp.unit.chars().all(|ch| ch.is_ascii_alphanumeric());
        c.require(
            good_unit,
            &key("unit"),
            format!("{:?}", sp.unit),
            "ASCII letters and digits, 1 to 12 characters (`pM`, `nM`, `ngmL`)",
        );
        c.require(
            sp.words.chars().count() <= 40 && !sp.words.chars().any(char::is_control),
            &key("words"),
            format!("{:?}", sp.words),
            "at most 40 characters, no control characters",
        );
        c.non_negative(&key("diffusion_um2_per_min"), sp.diffusion_um2_per_min);
        c.non_negative(&key("decay_per_min"), sp.decay_per_min);
        c.non_negative(&key("exchange_per_min"), sp.exchange_per_min);
        c.non_negative(&key("plasma_level"), sp.plasma_level);
        c.non_negative(&key("bath_level"), sp.bath_level);
        c.non_negative(&key("initial_level"), sp.initial_level);
        c.non_negative(
            &key("tcell_secretion_mm3_per_min"),
            sp.tcell_secretion_mm3_per_min,
        );
        c.non_negative(&key("tumor_secretion_per_min"), sp.tumor_secretion_per_min);
        c.non_negative(
            &key("contact_secretion_mm3_per_min"),
            sp.contact_secretion_mm3_per_min,
        );
        for (class, (x, y)) in ClassValues::KEYS.iter().zip(
            sp.secretion_per_min
                .by_code()
                .into_iter()
                .zip(sp.extra_decay_per_min.by_code()),
        ) {
            c.non_negative(&key(&format!("secretion_per_min.{class}")), x);
            c.non_negative(&key(&format!("extra_decay_per_min.{class}")), y);
        }
    }
}

/// The highest CXCL12 level a scenario may head for, nM (1 M; finite in f32 many times
/// over).
pub const MAX_CXCL12_NM: f64 = 1e9;

/// A species' peak or level, in its own unit: given and not negative.
fn check_plain(c: &mut Checker, key: &str, v: Option<f64>) {
    match v {
        Some(v) => c.non_negative(key, v),
        None => c.require(false, key, "missing", "a level ≥ 0 in the species' unit"),
    }
}

fn check_conc(c: &mut Checker, key: &str, um: Option<f64>, nm: Option<f64>, required: bool) {
    match (um, nm) {
        (Some(_), Some(_)) => c.require(
            false,
            &format!("{key}_nM"),
            "given with _uM too",
            &format!("one of {key}_uM or {key}_nM"),
        ),
        (Some(v), None) => c.non_negative(&format!("{key}_uM"), v),
        (None, Some(v)) => c.non_negative(&format!("{key}_nM"), v),
        (None, None) => c.require(
            !required,
            key,
            "missing",
            &format!("{key}_uM or {key}_nM (a concentration with its unit)"),
        ),
    }
}

fn check_treatment(c: &mut Checker, i: usize, tr: &Treatment, s: &Scenario, has_bath: bool) {
    let duration_h = s.time.duration_h;
    let p = |k: &str| format!("treatment[{i}].{k}");
    // A species is dosed in its own unit (`peak`, `level`); a drug with its unit in the
    // key (`*_uM`, `*_nM`).
    let species = match &tr.drug {
        Dosed::Drug(_) => false,
        Dosed::Species(name) => {
            let names: Vec<String> = s
                .species
                .iter()
                .map(|sp| format!("`{}`", sp.name))
                .collect();
            c.require(
                s.species.iter().any(|sp| &sp.name == name),
                &p("drug"),
                format!("{name:?}"),
                &format!(
                    "`amd3100`, `anti_pd1` (any case) or the name of a [[species]] ({})",
                    if names.is_empty() {
                        "none in this scenario".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            );
            true
        }
    };
    let plain_keys = tr.level.is_some()
        || tr.doses.iter().any(|d| d.peak.is_some())
        || tr.schedule.as_ref().is_some_and(|sc| sc.peak.is_some());
    let unit_keys = tr.level_um.is_some()
        || tr.level_nm.is_some()
        || tr
            .doses
            .iter()
            .any(|d| d.peak_um.is_some() || d.peak_nm.is_some())
        || tr
            .schedule
            .as_ref()
            .is_some_and(|sc| sc.peak_um.is_some() || sc.peak_nm.is_some());
    if species {
        c.require(
            !unit_keys,
            &format!("treatment[{i}]"),
            "a species dosed in µM or nM",
            "`peak` and `level` in the species' own unit",
        );
    } else {
        c.require(
            !plain_keys,
            &format!("treatment[{i}]"),
            "a drug dosed with `peak` or `level` (no unit)",
            "`peak_uM`/`peak_nM` and `level_uM`/`level_nM`: a drug's amount names its unit",
        );
    }
    if tr.route == Route::Plasma {
        c.require(
            s.geometry.is_perfused(),
            &p("route"),
            "\"plasma\"",
            "\"bath\" (this tissue is not perfused: a slice, or a volume with bath faces, has \
             no circulation; `[geometry] perfused = true` says it has)",
        );
    }
    if tr.route == Route::Bath {
        c.require(
            has_bath,
            &p("route"),
            "\"bath\"",
            "\"plasma\" (this geometry has no bath faces: only a slice, or a volume with bath_faces, has)",
        );
    }
    let forms = usize::from(!tr.doses.is_empty())
        + usize::from(tr.schedule.is_some())
        + usize::from(tr.level_um.is_some() || tr.level_nm.is_some() || tr.level.is_some());
    c.require(
        forms == 1,
        &format!("treatment[{i}]"),
        format!("{forms} of doses / schedule / level given"),
        "exactly one of `doses`, `schedule` or `level_uM`/`level_nM` (a species: `level`)",
    );
    if let Some(h) = tr.half_life_h {
        c.positive(&p("half_life_h"), h);
    }
    let time = |c: &mut Checker, key: String, t: f64| {
        c.require(
            t.is_finite() && (0.0..=duration_h).contains(&t),
            &key,
            t,
            &format!(
                "[0, time.duration_h = {duration_h}] h (times count from the start of dosing)"
            ),
        );
    };
    for (j, d) in tr.doses.iter().enumerate() {
        time(c, p(&format!("doses[{j}].at_h")), d.at_h);
        if species {
            check_plain(c, &p(&format!("doses[{j}].peak")), d.peak);
        } else {
            check_conc(
                c,
                &p(&format!("doses[{j}].peak")),
                d.peak_um,
                d.peak_nm,
                true,
            );
        }
    }
    if let Some(s) = &tr.schedule {
        time(c, p("schedule.start_h"), s.start_h);
        c.positive(&p("schedule.every_h"), s.every_h);
        c.require(s.count >= 1, &p("schedule.count"), s.count, "≥ 1");
        if s.every_h.is_finite() && s.count >= 1 {
            let last = s.start_h + s.every_h * f64::from(s.count - 1);
            c.require(
                last <= duration_h,
                &p("schedule.count"),
                format!("{} (last dose at {last} h)", s.count),
                &format!("doses within time.duration_h = {duration_h} h"),
            );
        }
        if species {
            check_plain(c, &p("schedule.peak"), s.peak);
        } else {
            check_conc(c, &p("schedule.peak"), s.peak_um, s.peak_nm, true);
        }
    }
    if species {
        if tr.level.is_some() {
            check_plain(c, &p("level"), tr.level);
        }
    } else if tr.level_um.is_some() || tr.level_nm.is_some() {
        check_conc(c, &p("level"), tr.level_um, tr.level_nm, false);
    }
    time(c, p("start_h"), tr.start_h);
}
