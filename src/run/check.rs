//! `infiltrate check`: what a researcher plans with before a run. The grid and tissue,
//! the clock and the dosing timeline, the derived steps, each quasi-steady chemical's
//! cost against stepping it explicitly, memory on both backends (the GPU's for this
//! machine's adapter), a wall-time estimate from a short timed probe, and warnings
//! (also printed when a run starts): a quasi-steady chemical that costs more than
//! explicit stepping, work far beyond the shipped scenarios', parameters outside the
//! ranges of `docs/parameters.md`.

use std::fmt::Write as _;

use super::estimate::{self, UnitCost, Work};
use super::{Prepared, Selected, CPU_BYTES_PER_VOXEL};
use crate::model::{CHEMICALS, CLASS_NAMES, N_CLASSES};
use crate::scenario::{Chemical, Dosed, DrugName, Route, Treatment};
use crate::units::{format_min, human_bytes, human_secs, significant};

/// Voxel updates (voxels × grid sweeps) of the largest shipped scenario
/// (`scenarios/slice/h5/combination.toml`; `tests/check.rs` holds it to the shipped
/// files).
pub const SHIPPED_MOST_UPDATES: f64 = 1.6e11;
/// Cell steps of the longest shipped scenario (`scenarios/slice/h5/*.toml`).
pub const SHIPPED_MOST_CELL_STEPS: u64 = 100_000;
/// A run with more than this many times the shipped scenarios' most is warned about.
pub const FAR_BEYOND: f64 = 10.0;

/// The names of the chemicals as printed.
pub const CHEMICAL_NAMES: [&str; 3] = ["CXCL12", "AMD3100", "anti-PD-1"];

/// A quasi-steady field is called valid while its relaxation time (1/slowest rate) is at
/// most this fraction of its levels' decay time constant: it then lags the levels by
/// about that fraction of the time constant (a first-order lag `τ dl/dt` against `l`).
pub const VALID_LAG: f64 = 0.1;

/// The shortest decay time constant (half-life / ln 2), min, of the boluses of a drug's
/// levels (either route); None for CXCL12 and for levels that are constant between
/// steps.
pub fn level_time_constant(dosing: &crate::dosing::Dosing, which: Chemical) -> Option<f64> {
    dosing
        .routes(which)?
        .iter()
        .flatten()
        .filter(|b| b.rate > 0.0 && b.peak != 0.0)
        .map(|b| 1.0 / b.rate)
        .reduce(f64::min)
}

impl Prepared {
    /// The share of voxels of each tissue class.
    pub fn class_fractions(&self) -> [f64; N_CLASSES] {
        let mut counts = [0usize; N_CLASSES];
        for &c in &self.geometry.class {
            counts[c as usize] += 1;
        }
        let n = self.geometry.class.len().max(1) as f64;
        counts.map(|c| c as f64 / n)
    }

    /// Whether the tissue is perfused, and so which terms with a blood source act: T-cell
    /// influx and exchange with plasma, in the classes of this grid that have them.
    pub fn perfusion(&self) -> String {
        let g = &self.loaded.scenario.geometry;
        let how = if g.perfused.is_some() {
            "[geometry] perfused"
        } else {
            "the default for this geometry"
        };
        let t = &self.loaded.scenario.tissue;
        let present = self.class_fractions();
        let classes = |f: &dyn Fn(&crate::scenario::ClassCoeffs) -> f64| -> Vec<&str> {
            let values = [&t.outside, &t.liver, &t.tumor, &t.stroma, &t.vessel].map(f);
            (0..N_CLASSES)
                .filter(|&c| values[c] > 0.0 && present[c] > 0.0)
                .map(|c| CLASS_NAMES[c])
                .collect()
        };
        let influx = classes(&|c| c.tcell_influx_per_mm3_per_min);
        let exchange = classes(&|c| c.drug_exchange_factor);
        let list = |v: &[&str]| {
            if v.is_empty() {
                "no class of this grid".to_string()
            } else {
                v.join(", ")
            }
        };
        if g.is_perfused() {
            format!(
                "perfused ({how}): T cells enter from blood in {}; drugs and species \
                 exchange with plasma in {}",
                list(&influx),
                list(&exchange)
            )
        } else {
            format!(
                "not perfused ({how}): no T-cell influx and no exchange with plasma{}",
                if influx.is_empty() && exchange.is_empty() {
                    String::new()
                } else {
                    let mut both = [influx, exchange].concat();
                    both.sort_unstable();
                    both.dedup();
                    format!(" (the classes that would have them: {})", list(&both))
                }
            )
        }
    }

    /// The run's work in grid sweeps ([`Work`]).
    pub fn work(&self) -> Work {
        Work::of(
            &self.plan,
            &self.params,
            &self.dosing,
            self.loaded.scenario.numerics.quasi_steady_tolerance,
            Some(self.class_fractions()),
        )
    }

    /// What a researcher should know before running: each a sentence naming what to
    /// change (printed by `check` and at the start of a run).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings_for(&self.work())
    }

    /// [`Prepared::warnings`] for the run's [`Work`], counted once by the caller.
    fn warnings_for(&self, work: &Work) -> Vec<String> {
        let mut out = Vec::new();
        let time = &self.loaded.scenario.time;
        for (i, &t) in time.snapshot_times_h.iter().enumerate() {
            if t > time.duration_h {
                out.push(format!(
                    "{}: a snapshot at {} is after the run's end ({}) and is left out",
                    self.loaded.locate(&format!("time.snapshot_times_h[{i}]")),
                    format_min(t * 60.0),
                    format_min(time.duration_h * 60.0)
                ));
            }
        }
        for (u, w) in work.chem.iter().enumerate() {
            let (Some(steady), Some(ratio)) = (w.steady, w.steady_ratio()) else {
                continue;
            };
            let key = format!(
                "numerics.quasi_steady[{}]",
                self.loaded
                    .scenario
                    .numerics
                    .quasi_steady
                    .iter()
                    .position(|&c| c == CHEMICALS[u])
                    .unwrap_or(0)
            );
            let at = self.loaded.locate(&key);
            if steady.slowest_rate <= 0.0 {
                out.push(format!(
                    "{at}: {} has no sink (no decay, exchange or bath face), so it has no \
                     steady state and its response solve stops unconverged after {} \
                     iterations; step it explicitly (remove it from numerics.quasi_steady)",
                    CHEMICAL_NAMES[u],
                    crate::steady::MAX_CG
                ));
                continue;
            }
            let tau = 1.0 / steady.slowest_rate;
            if let Some(scale) = level_time_constant(&self.dosing, CHEMICALS[u]) {
                if tau > VALID_LAG * scale {
                    out.push(format!(
                        "{at}: {} relaxes in about {} (1/its slowest rate) while its levels \
                         decay with time constant {}: a quasi-steady field would lag them \
                         by a fraction {} of that time. Step it explicitly (remove \"{}\" \
                         from numerics.quasi_steady)",
                        CHEMICAL_NAMES[u],
                        format_min(tau),
                        format_min(scale),
                        significant(tau / scale, 2),
                        chemical_key(CHEMICALS[u])
                    ));
                }
            }
            if ratio > 1.2 && steady.sweeps > 0.1 * work.sweeps() {
                out.push(format!(
                    "{at}: solving {} quasi-steadily costs about {:.1}× stepping it \
                     explicitly here (its response solves take about {} grid sweeps, \
                     against {} explicit sub-steps): the run is short for the solve. \
                     Remove \"{}\" from numerics.quasi_steady",
                    CHEMICAL_NAMES[u],
                    ratio,
                    count(steady.sweeps),
                    count(w.explicit as f64),
                    chemical_key(CHEMICALS[u])
                ));
            }
        }
        let updates = work.updates();
        if updates > FAR_BEYOND * SHIPPED_MOST_UPDATES
            || work.cell_steps as f64 > FAR_BEYOND * SHIPPED_MOST_CELL_STEPS as f64
        {
            out.push(format!(
                "{}: this run takes {} cell steps and {} voxel updates, {:.0}× the work of \
                 the largest shipped scenario ({} cell steps, {} voxel updates): check the \
                 grid, the duration and any explicit steps in [numerics]; `infiltrate \
                 check` estimates its wall time",
                self.loaded.path().display(),
                count(work.cell_steps as f64),
                count(updates),
                (updates / SHIPPED_MOST_UPDATES)
                    .max(work.cell_steps as f64 / SHIPPED_MOST_CELL_STEPS as f64),
                count(SHIPPED_MOST_CELL_STEPS as f64),
                count(SHIPPED_MOST_UPDATES)
            ));
        }
        out.extend(crate::scenario::typical::outside(&self.loaded));
        out
    }

    /// The account `infiltrate check` prints: everything but the estimate
    /// ([`report`] adds it).
    pub fn describe(&self) -> String {
        self.describe_for(&self.work())
    }

    /// [`Prepared::describe`] for the run's [`Work`], counted once by the caller.
    fn describe_for(&self, work: &Work) -> String {
        let s = &self.loaded.scenario;
        let p = &self.plan;
        let g = &self.geometry;
        let n = g.class.len();
        let mut out = String::new();
        let mut line = |l: String| {
            out.push_str(&l);
            out.push('\n');
        };
        line(format!(
            "scenario   {} ({})",
            self.loaded.path().display(),
            if s.name.is_empty() {
                "unnamed"
            } else {
                &s.name
            }
        ));
        if !s.description.is_empty() {
            line(format!("           {}", s.description));
        }
        line(format!(
            "grid       {} × {} × {} voxels of {} µm = {} voxels ({} × {} × {} µm)",
            g.dims[0],
            g.dims[1],
            g.dims[2],
            significant(g.voxel_um, 4),
            n,
            significant(g.dims[0] as f64 * g.voxel_um, 6),
            significant(g.dims[1] as f64 * g.voxel_um, 6),
            significant(g.dims[2] as f64 * g.voxel_um, 6)
        ));
        let classes: Vec<String> = CLASS_NAMES
            .iter()
            .zip(self.class_fractions())
            .filter(|(_, f)| *f > 0.0)
            .map(|(name, f)| format!("{name} {:.1} %", 100.0 * f))
            .collect();
        line(format!("tissue     {}", classes.join(", ")));
        line(format!("perfusion  {}", self.perfusion()));
        line(format!(
            "time       burn-in {}, then {} with a snapshot {} ({} snapshots)",
            format_min(s.time.burn_in_h * 60.0),
            format_min(s.time.duration_h * 60.0),
            snapshot_words(&s.time),
            p.snapshot_times().len()
        ));
        let timeline = self.dosing_timeline();
        for (i, l) in timeline.iter().enumerate() {
            line(format!("{:<10} {l}", if i == 0 { "dosing" } else { "" }));
        }
        line(format!(
            "cell step  {} (stability bound {}), {} steps",
            format_min(p.cell_dt),
            format_min(p.cell_bound),
            p.total_cell_steps()
        ));
        for (u, name) in CHEMICAL_NAMES.iter().enumerate() {
            let w = &work.chem[u];
            match (w.steady, w.steady_ratio()) {
                (Some(st), _) if w.explicit == 0 => line(format!(
                    "{name:<10} quasi-steady, never dosed: set {} time(s), no response solve",
                    count(st.solves as f64),
                )),
                (Some(st), Some(ratio)) => {
                    let tau = 1.0 / st.slowest_rate;
                    let validity = match level_time_constant(&self.dosing, CHEMICALS[u]) {
                        Some(scale) => format!(
                            "relaxes in about {} against its levels' decay time constant \
                             {} (ratio {}: {})",
                            format_min(tau),
                            format_min(scale),
                            significant(tau / scale, 2),
                            if tau <= VALID_LAG * scale {
                                "quasi-steady is valid"
                            } else {
                                "quasi-steady LAGS, step it explicitly"
                            }
                        ),
                        None => format!(
                            "relaxes in about {}; its levels change only in steps, so the \
                             field is exact between steps and skips each transition of \
                             about that length",
                            format_min(tau)
                        ),
                    };
                    line(format!(
                        "{name:<10} quasi-steady: unit responses by multigrid-preconditioned \
                         conjugate gradients, then set {} times{} for new levels; about {} \
                         grid sweeps in all (estimated), {} the {} sub-steps of stepping it \
                         explicitly; {validity}",
                        count(st.solves as f64),
                        if st.extrapolated {
                            " (extrapolated from the first 2 million cell steps)"
                        } else {
                            ""
                        },
                        count(st.sweeps),
                        if ratio > 1.0 {
                            format!("{:.1}× SLOWER than", ratio)
                        } else {
                            format!("{}× the cost of", significant(ratio, 2))
                        },
                        count(w.explicit as f64)
                    ))
                }
                _ => {
                    let skipped = p.total_cell_steps() * u64::from(p.substeps_of(u)) - w.substeps;
                    line(format!(
                        "{name:<10} sub-step {} (bound {}), {} per cell step, {} in all{}",
                        format_min(p.chem_dt[u]),
                        format_min(p.chem_bound[u]),
                        p.substeps[u],
                        count(w.substeps as f64),
                        if skipped > 0 {
                            format!(" ({} skipped while undosed)", count(skipped as f64))
                        } else {
                            String::new()
                        }
                    ))
                }
            }
        }
        for (k, sp) in self.params.species.iter().enumerate() {
            line(format!(
                "{:<10} species in {}: sub-step {} (bound {}), {} per cell step, {} in all",
                sp.key,
                sp.unit,
                format_min(p.cell_dt / f64::from(p.species_substeps[k])),
                format_min(p.species_bound[k]),
                p.species_substeps[k],
                count(work.species[k] as f64)
            ));
            for (c, level) in &sp.couplings {
                line(format!(
                    "{:<10} {} × ({}), K = {} {} (coupling `{}`)",
                    "",
                    c.rate.words(),
                    c.formula.replace('I', &sp.key),
                    significant(*level, 4),
                    sp.unit,
                    c.key
                ));
            }
        }
        let grouping = crate::solver::Grouping::of(p, self.params.c_uptake != 0.0);
        line(format!(
            "fused      {} chemical passes per cell step on the GPU, {} without fusing (the \
             j-th sub-steps of the explicitly stepped chemicals share a pass)",
            grouping.chem_passes(p),
            grouping.unfused_passes(p)
        ));
        // One more f64 per voxel and species (its field; the next buffer is shared).
        let per_voxel = CPU_BYTES_PER_VOXEL + 8 * self.params.species.len();
        let bytes = n * per_voxel;
        line(format!(
            "memory     cpu backend: {} ({} B per voxel)",
            human_bytes(bytes as f64),
            per_voxel
        ));
        if p.quasi_steady.iter().any(|&q| q) {
            let solve = n * crate::steady::SOLVE_BYTES_PER_VOXEL;
            line(format!(
                "           quasi-steady: about {} more on the host while a response is \
                 solved ({} B per voxel, either backend), then 8 B per voxel for each \
                 response kept",
                human_bytes(solve as f64),
                crate::steady::SOLVE_BYTES_PER_VOXEL
            ));
        }
        out
    }

    /// The dosing timeline, a line per treatment: route, doses or level, half-life,
    /// and for boluses the level at the end and its lowest after the first dose.
    pub fn dosing_timeline(&self) -> Vec<String> {
        let s = &self.loaded.scenario;
        if s.treatment.is_empty() {
            return vec!["none (untreated)".into()];
        }
        let end = s.time.duration_h * 60.0;
        s.treatment
            .iter()
            .map(|t| treatment_line(t, &self.dosing, &self.params, end))
            .collect()
    }
}

/// `check`'s whole report: [`Prepared::describe`], the GPU's memory on this machine's
/// adapter, the wall-time estimate on `selected` (unless `probe` is false) and the
/// warnings.
pub fn report(prep: &Prepared, selected: &Selected, probe: bool) -> String {
    // Counted once (a quasi-steady chemical's solves walk the cell steps).
    let work = prep.work();
    let mut out = prep.describe_for(&work);
    let dims = prep.geometry.dims;
    let species = prep.params.species.len();
    let gpu_bytes = |slabs: &[crate::gpu::Slab]| crate::gpu::device_bytes_for(dims, slabs, species);
    let per_voxel = 4 * crate::gpu::field_buffers(species) + 1 + 4;
    match &selected.adapter {
        Some(a) => {
            let info = a.get_info();
            match crate::gpu::check_grid(a, dims, Default::default()) {
                Ok((_, slabs)) => {
                    let need = gpu_bytes(&slabs);
                    let memory = crate::gpu::device_memory(a).map_or_else(
                        || "its memory not reported".to_string(),
                        |m| format!("{} of device memory", human_bytes(m as f64)),
                    );
                    let _ = writeln!(
                        out,
                        "           gpu backend: {} on {} ({memory}), {} z-slab(s) by its \
                         storage-binding limit ({per_voxel} B per voxel)",
                        human_bytes(need as f64),
                        info.name,
                        slabs.len()
                    );
                }
                Err(e) => {
                    let _ = writeln!(out, "           gpu backend: does not fit: {e}");
                }
            }
        }
        None => {
            let need = crate::gpu::reference_slabs(dims).map_or(0, |s| gpu_bytes(&s));
            let _ = writeln!(
                out,
                "           gpu backend: about {} ({per_voxel} B per voxel); this check is \
                 for the cpu backend (`infiltrate adapters` lists this machine's adapters)",
                human_bytes(need as f64)
            );
        }
    }
    let _ = writeln!(out, "backend    {}", selected.why);
    if probe {
        match estimate::probe(prep, selected, 1.5) {
            Ok(unit) => out.push_str(&estimate_lines(&work, selected, &unit)),
            Err(e) => {
                let _ = writeln!(out, "estimate   the timed probe failed: {e}");
            }
        }
    }
    for w in prep.warnings_for(&work) {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// The wall-time estimate and the counts behind it.
pub fn estimate_lines(work: &Work, selected: &Selected, unit: &UnitCost) -> String {
    let secs = work.seconds(unit);
    format!(
        "estimate   about {} on this machine's {} backend ({}): {} cell steps and {} \
         chemical sweeps (sub-steps and quasi-steady iterations) of {} voxels, at {} per \
         voxel and cell step and {} per voxel and chemical sweep (timed probe)\n",
        human_secs(secs),
        super::backend_name(selected.backend),
        match &selected.adapter {
            Some(a) => crate::gpu::short_name(&a.get_info()),
            None => format!("{} threads", rayon::current_num_threads()),
        },
        count(work.cell_steps as f64),
        count(work.chem_sweeps()),
        count(work.voxels as f64),
        nanos(unit.cell_s),
        nanos(unit.chem_s)
    )
}

/// A count with thousands separated by commas, or as `2.6e10` above a billion.
pub fn count(x: f64) -> String {
    if !x.is_finite() || x >= 1e9 {
        return significant(x, 3);
    }
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as `12 ns` or `1.2 µs`.
fn nanos(s: f64) -> String {
    if s >= 1e-6 {
        format!("{} µs", significant(s * 1e6, 3))
    } else {
        format!("{} ns", significant(s * 1e9, 3))
    }
}

/// A chemical as written in the scenario.
fn chemical_key(c: Chemical) -> &'static str {
    match c {
        Chemical::Cxcl12 => "cxcl12",
        Chemical::Amd3100 => "amd3100",
        Chemical::AntiPd1 => "anti_pd1",
    }
}

/// A drug's level in its field unit (AMD3100 µM, anti-PD-1 nM) as text, in nM below
/// 1 µM and µM above.
fn level(drug: DrugName, v: f64) -> String {
    let nm = match drug {
        DrugName::Amd3100 => v * 1e3,
        DrugName::AntiPd1 => v,
    };
    if nm.abs() >= 1e3 {
        format!("{} µM", significant(nm / 1e3, 3))
    } else {
        format!("{} nM", significant(nm, 3))
    }
}

/// One treatment of the timeline (`end`: the run's end, min; `params` names a dosed
/// species and its unit).
fn treatment_line(
    t: &Treatment,
    dosing: &crate::dosing::Dosing,
    params: &crate::model::Params,
    end: f64,
) -> String {
    let [drug, route, doses] = treatment_words(t, dosing, params, end);
    format!("{drug} ({route}): {doses}")
}

/// One treatment of the timeline in words: what it doses, the route (`plasma` or
/// `bath`), and its doses or level, half-life, and for boluses the level by this route
/// at `end` (min) and its lowest after the first dose. `params` names a dosed species
/// and its unit.
/// When the snapshots fall, in words: "every 4 h, at 5 listed times, 3 after each dose".
pub fn snapshot_words(t: &crate::scenario::Time) -> String {
    let mut w = format!("every {}", format_min(t.snapshot_every_h * 60.0));
    if !t.snapshot_times_h.is_empty() {
        let listed: Vec<String> = t
            .snapshot_times_h
            .iter()
            .map(|h| format_min(h * 60.0))
            .collect();
        w += &format!(", at {}", listed.join(", "));
    }
    if t.snapshots_after_dose > 0 {
        w += &format!(
            ", {} after each dose (at 1/2 … 1/{} of the interval)",
            t.snapshots_after_dose,
            1u64 << t.snapshots_after_dose.min(60)
        );
    }
    w
}

pub fn treatment_words(
    t: &Treatment,
    dosing: &crate::dosing::Dosing,
    params: &crate::model::Params,
    end: f64,
) -> [String; 3] {
    let species = match &t.drug {
        Dosed::Species(name) => params.species.iter().position(|s| &s.key == name),
        Dosed::Drug(_) => None,
    };
    let drug = match (&t.drug, species) {
        (Dosed::Drug(DrugName::Amd3100), _) => "AMD3100".to_string(),
        (Dosed::Drug(DrugName::AntiPd1), _) => "anti-PD-1".to_string(),
        (Dosed::Species(name), None) => name.clone(),
        (Dosed::Species(_), Some(k)) => params.species[k].words.clone(),
    };
    let route = match t.route {
        Route::Plasma => "plasma",
        Route::Bath => "bath",
    };
    // A level in the field unit of what is dosed, as text.
    let level = |v: f64| match (&t.drug, species) {
        (Dosed::Drug(d), _) => level(*d, v),
        (Dosed::Species(_), Some(k)) => format!("{} {}", significant(v, 3), params.species[k].unit),
        (Dosed::Species(_), None) => significant(v, 3),
    };
    let in_field = |um: Option<f64>, nm: Option<f64>, plain: Option<f64>| {
        let nm = um.map(|v| v * 1e3).or(nm).unwrap_or(0.0);
        match t.drug {
            Dosed::Drug(DrugName::Amd3100) => nm * 1e-3,
            Dosed::Drug(DrugName::AntiPd1) => nm,
            Dosed::Species(_) => plain.unwrap_or(0.0),
        }
    };
    let mut parts = Vec::new();
    let mut times: Vec<f64> = t.doses.iter().map(|d| d.at_h * 60.0).collect();
    for d in &t.doses {
        parts.push(format!(
            "bolus at {}, peak {}",
            format_min(d.at_h * 60.0),
            level(in_field(d.peak_um, d.peak_nm, d.peak))
        ));
    }
    if let Some(sc) = &t.schedule {
        let last = sc.start_h + sc.every_h * f64::from(sc.count.saturating_sub(1));
        parts.push(format!(
            "{} {} every {} from {} to {}, peak {}",
            sc.count,
            if sc.count == 1 { "bolus" } else { "boluses" },
            format_min(sc.every_h * 60.0),
            format_min(sc.start_h * 60.0),
            format_min(last * 60.0),
            level(in_field(sc.peak_um, sc.peak_nm, sc.peak))
        ));
        let at = |k: u32| (sc.start_h + sc.every_h * f64::from(k)) * 60.0;
        times.extend((0..sc.count.min(10_000)).map(at));
    }
    if t.level_um.is_some() || t.level_nm.is_some() || t.level.is_some() {
        parts.push(format!(
            "constant {} from {}",
            level(in_field(t.level_um, t.level_nm, t.level)),
            format_min(t.start_h * 60.0)
        ));
    }
    if let Some(h) = t.half_life_h {
        parts.push(format!("half-life {}", format_min(h * 60.0)));
    }
    let mut text = parts.join("; ");
    // For boluses: the drug's level by this route at the end, and its lowest between
    // the first dose and the end (just before each dose, and at the end).
    if !times.is_empty() && t.half_life_h.is_some() {
        let at = |time: f64| {
            let (plasma, bath) = match (&t.drug, species) {
                (Dosed::Drug(DrugName::Amd3100), _) => dosing.levels(Chemical::Amd3100, time),
                (Dosed::Drug(DrugName::AntiPd1), _) => dosing.levels(Chemical::AntiPd1, time),
                (Dosed::Species(_), k) => dosing.species_levels(k.unwrap_or(usize::MAX), time),
            };
            match t.route {
                Route::Plasma => plasma,
                Route::Bath => bath,
            }
        };
        let first = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let lowest = times
            .iter()
            .filter(|&&x| x > first && x <= end)
            .map(|&x| at(x - 1e-6))
            .chain(std::iter::once(at(end)))
            .fold(f64::INFINITY, f64::min);
        let _ = write!(
            text,
            "; {} at the end ({}), lowest after the first dose {}",
            level(at(end)),
            format_min(end),
            level(lowest)
        );
    }
    [drug, route.to_string(), text]
}
