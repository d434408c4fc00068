//! Budgets: where the drugs, the T cells and the tumour cells came from and went, per
//! snapshot interval, and the time integrals of the readouts over the run.
//!
//! Neither backend reports its per-step fluxes (the GPU solver keeps them on the device),
//! but both reduce their fields to the same sums at each snapshot ([`crate::probe`]).
//! So each budget term is taken as a **rate** (amount per minute), a function of the
//! fields and the dosing levels at one instant, written with the same discrete terms as
//! the solvers' forward-Euler steps ([`Rates::from_sums`]); [`Ledger`] integrates the rates over each interval by the
//! trapezoid rule and reports the **residual** `Δstock − (in − out)`, the integration
//! error (plus, for a quasi-steady chemical, the storage change its approximation
//! leaves out). The one exception is the tumour cells killed: the field K accumulates
//! them step by step, so its change over the interval is exact. Levels jump at a dose: the rate at the start of an interval takes the
//! levels just after the snapshot time (doses at that time included), the rate at its
//! end the levels just before (doses at that time excluded).
//!
//! Amounts: AMD3100 in pmol (µM · mm³), anti-PD-1 in fmol (nM · mm³), T cells and
//! tumour cells in cells. The definitions are in docs/outputs.md.

use serde::{Deserialize, Serialize};

use crate::dosing::Dosing;
use crate::model::{ChemParams, Fields, Params};
use crate::probe::{Labels, Sums};
use crate::readout::Metrics;
use crate::scenario::{DrugName, Route};

/// A drug's stock and the level-independent parts of its rates, summed over voxels.
/// With `V` the voxel volume (mm³) and `u` the field: exchange with plasma
/// `plasma · kappa − kappa_u`, through bath faces
/// `(bath − bath_ref) · bath_g + bath_gd`, decay `decay`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DrugSums {
    /// Σ u V (pmol for AMD3100, fmol for anti-PD-1).
    pub total: f64,
    /// Σ κ V, mm³/min.
    pub kappa: f64,
    /// Σ κ u V, amount/min.
    pub kappa_u: f64,
    /// Σ over bath faces of (2 D / h²) V, mm³/min.
    pub bath_g: f64,
    /// The bath level the sums were measured from (`Sums::bath_ref`).
    pub bath_ref: f64,
    /// Σ over bath faces of (2 D / h²) (bath_ref − u) V, amount/min: the net inflow at
    /// the bath level `bath_ref`, summed without cancellation.
    pub bath_gd: f64,
    /// Σ λ u V, amount/min.
    pub decay: f64,
}

impl DrugSums {
    /// Net inflow from plasma at `plasma` (amount/min; negative: back into plasma).
    pub fn from_plasma(&self, plasma: f64) -> f64 {
        plasma * self.kappa - self.kappa_u
    }

    /// Net inflow through the bath faces at `bath` (amount/min; negative: into the bath).
    pub fn from_bath(&self, bath: f64) -> f64 {
        (bath - self.bath_ref) * self.bath_g + self.bath_gd
    }
}

/// Every stock and level-independent rate at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub amd3100: DrugSums,
    pub anti_pd1: DrugSums,
    /// ΣT V, cells.
    pub t_total: f64,
    /// Σ ι (1 − T/T_max)₊ V, cells/min.
    pub t_influx: f64,
    /// Σ ρ T N/(N + K_N) (1 − T/T_max)₊ V, cells/min.
    pub t_proliferation: f64,
    /// Σ δ_T T V, cells/min.
    pub t_death: f64,
    /// ΣN · N_max V, cells.
    pub viable: f64,
    /// Σ over tumour voxels of r N (1 − N) · N_max V, cells/min.
    pub grown: f64,
    /// Σ (k_CTL/N_max)(1 − q(1 − b)) T N · N_max V, cells/min.
    pub killed: f64,
    /// ΣK · N_max V: tumour cells killed since K was last reset, cells.
    pub killed_total: f64,
}

impl Rates {
    /// The stocks and rates of `fields` on tissue `class`, `capacity` tumour cells per
    /// mm³ at N = 1 (sums in f64 on the host, [`Sums::of`], the bath flows measured from
    /// the levels `bath_ref`).
    pub fn at(
        fields: &Fields,
        class: &[u8],
        params: &Params,
        capacity: f64,
        bath_ref: [f64; 2],
    ) -> Rates {
        let labels = Labels::bath_only(params.dims, class, params.bath_faces);
        Rates::from_sums(
            &Sums::of(fields, class, &labels, params, bath_ref),
            &labels,
            params,
            capacity,
        )
    }

    /// The stocks and rates from the sums of the fields (by either backend) and the
    /// labels they were summed by: the cell step's sources and sinks, term by term, and
    /// each drug's exchange, bath inflow and decay with its per-class coefficients.
    pub fn from_sums(sums: &Sums, labels: &Labels, params: &Params, capacity: f64) -> Rates {
        use crate::probe::{other as o, per_class as pc};
        let p = params;
        let vol = (p.h * 1e-3).powi(3);
        let inv_h2 = 1.0 / (p.h * p.h);
        let drug = |c: &ChemParams, u: usize, bath_u: usize, bath_ref: f64| {
            let mut s = DrugSums {
                bath_ref,
                ..DrugSums::default()
            };
            for (cl, row) in sums.per_class.iter().enumerate() {
                let voxels = labels.class_voxels[cl] as f64;
                // 2 D / h² per bath face (the half-voxel distance to the bath).
                let g = 2.0 * c.diffusion[cl].max(0.0) * inv_h2 * vol;
                s.total += row[u] * vol;
                s.kappa += c.exchange[cl] * voxels * vol;
                s.kappa_u += c.exchange[cl] * row[u] * vol;
                s.bath_g += g * labels.class_bath_faces[cl] as f64;
                s.bath_gd += g * row[bath_u];
                s.decay += c.decay[cl] * row[u] * vol;
            }
            s
        };
        let cells = capacity * vol;
        let t_all = sums.t_all();
        Rates {
            amd3100: drug(&p.amd3100, pc::A, pc::BATH_A, sums.bath_ref[0]),
            anti_pd1: drug(&p.anti_pd1, pc::P, pc::BATH_P, sums.bath_ref[1]),
            t_total: t_all * vol,
            t_influx: sums
                .per_class
                .iter()
                .zip(&p.influx)
                .map(|(row, i)| i * row[pc::CROWD] * vol)
                .sum(),
            t_proliferation: p.prolif * sums.other[o::T_FED_CROWD] * vol,
            t_death: p.death * t_all * vol,
            viable: sums.other[o::N] * cells,
            grown: p.growth * sums.other[o::GROWTH_TUMOR] * cells,
            killed: p.kill * sums.other[o::KILL_TN] * cells,
            killed_total: sums.other[o::K] * cells,
        }
    }
}

/// A drug's (plasma, bath) levels at `t` min: just after `t` (`after`: doses at `t`
/// count) or just before it. [`Dosing::level`] is the "after" value.
fn drug_levels(dosing: &Dosing, drug: DrugName, t: f64, after: bool) -> (f64, f64) {
    let level = |route: Route| -> f64 {
        let list =
            &dosing.boluses[crate::dosing::drug_index(drug)][crate::dosing::route_index(route)];
        list.iter()
            .filter(|b| after || b.t0 < t)
            .map(|b| b.level(t))
            .sum()
    };
    (level(Route::Plasma), level(Route::Bath))
}

/// The bath levels of AMD3100 and anti-PD-1 just after `t` min (doses at `t` count): the
/// levels a snapshot at `t` measures its bath sums from ([`Sums::bath_ref`]).
pub fn bath_levels(dosing: &Dosing, t: f64) -> [f64; 2] {
    [DrugName::Amd3100, DrugName::AntiPd1].map(|d| drug_levels(dosing, d, t, true).1)
}

/// One drug's net flows (amount/min) at one instant, for the given levels.
fn drug_flows(s: &DrugSums, (plasma, bath): (f64, f64)) -> [f64; 3] {
    [s.from_plasma(plasma), s.from_bath(bath), s.decay]
}

/// The flows of one interval (or of the whole run), each integrated over time. Drug
/// flows are net: a negative `from_plasma` went back into the plasma, a negative
/// `from_bath` into the bath. Residual = Δstock − (inflows − outflows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Flows {
    pub amd3100_from_plasma_pmol: f64,
    pub amd3100_from_bath_pmol: f64,
    pub amd3100_decayed_pmol: f64,
    pub amd3100_residual_pmol: f64,
    pub anti_pd1_from_plasma_fmol: f64,
    pub anti_pd1_from_bath_fmol: f64,
    pub anti_pd1_decayed_fmol: f64,
    pub anti_pd1_residual_fmol: f64,
    /// T cells entering from the blood (influx ι, vessels in the shipped scenarios).
    pub t_influx_cells: f64,
    pub t_proliferated_cells: f64,
    pub t_died_cells: f64,
    pub t_residual_cells: f64,
    pub tumor_grown_cells: f64,
    /// The change in ΣK (exact: K accumulates the killing of every step).
    pub tumor_killed_cells: f64,
    /// Δ viable − (grown − killed): the integration error of the growth alone.
    pub tumor_residual_cells: f64,
}

impl Flows {
    fn values(&self) -> [f64; 15] {
        [
            self.amd3100_from_plasma_pmol,
            self.amd3100_from_bath_pmol,
            self.amd3100_decayed_pmol,
            self.amd3100_residual_pmol,
            self.anti_pd1_from_plasma_fmol,
            self.anti_pd1_from_bath_fmol,
            self.anti_pd1_decayed_fmol,
            self.anti_pd1_residual_fmol,
            self.t_influx_cells,
            self.t_proliferated_cells,
            self.t_died_cells,
            self.t_residual_cells,
            self.tumor_grown_cells,
            self.tumor_killed_cells,
            self.tumor_residual_cells,
        ]
    }

    fn add(&mut self, o: &Flows) {
        let fields = [
            &mut self.amd3100_from_plasma_pmol,
            &mut self.amd3100_from_bath_pmol,
            &mut self.amd3100_decayed_pmol,
            &mut self.amd3100_residual_pmol,
            &mut self.anti_pd1_from_plasma_fmol,
            &mut self.anti_pd1_from_bath_fmol,
            &mut self.anti_pd1_decayed_fmol,
            &mut self.anti_pd1_residual_fmol,
            &mut self.t_influx_cells,
            &mut self.t_proliferated_cells,
            &mut self.t_died_cells,
            &mut self.t_residual_cells,
            &mut self.tumor_grown_cells,
            &mut self.tumor_killed_cells,
            &mut self.tumor_residual_cells,
        ];
        for (x, v) in fields.into_iter().zip(o.values()) {
            *x += v;
        }
    }
}

/// The budget columns of one metrics.csv row: the drug stocks at the snapshot and the
/// flows over the interval that ends there (all 0 in the first row). The T-cell and
/// tumour stocks are the row's `t_total_cells` and `viable_tumor_cells`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub amd3100_total_pmol: f64,
    pub anti_pd1_total_fmol: f64,
    #[serde(flatten)]
    pub flows: Flows,
}

impl Row {
    /// The CSV header of the budget columns (appended to [`Metrics::CSV_HEADER`]).
    pub const CSV_HEADER: &'static str = "amd3100_total_pmol,anti_pd1_total_fmol,\
amd3100_from_plasma_pmol,amd3100_from_bath_pmol,amd3100_decayed_pmol,amd3100_residual_pmol,\
anti_pd1_from_plasma_fmol,anti_pd1_from_bath_fmol,anti_pd1_decayed_fmol,anti_pd1_residual_fmol,\
t_influx_cells,t_proliferated_cells,t_died_cells,t_residual_cells,\
tumor_grown_cells,tumor_killed_cells,tumor_residual_cells";

    /// The row's values, in [`Row::CSV_HEADER`] order.
    pub fn csv_row(&self) -> String {
        [self.amd3100_total_pmol, self.anti_pd1_total_fmol]
            .iter()
            .chain(self.flows.values().iter())
            .map(|x| format!("{x:.9e}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Time integrals over the run (from the start of dosing to the last snapshot), by the
/// trapezoid rule over the snapshots, and the run's budget: the flows summed over every
/// interval, with the stocks at the start. A NaN readout (an empty region) makes its
/// integral NaN (`null` in JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeIntegrated {
    pub from_h: f64,
    pub to_h: f64,
    /// ∫ mean T in the core dt, cells/mm³ · h.
    pub t_core_per_mm3_h: f64,
    /// ∫ mean T in the margin dt, cells/mm³ · h.
    pub t_margin_per_mm3_h: f64,
    /// ∫ infiltration ratio dt, h.
    pub infiltration_ratio_h: f64,
    /// ∫ infiltration ratio dt / (to − from): its time average (NaN for a run of no
    /// length).
    pub infiltration_ratio_mean: f64,
    /// Stocks at the start of dosing.
    pub amd3100_total_start_pmol: f64,
    pub anti_pd1_total_start_fmol: f64,
    pub t_total_start_cells: f64,
    pub viable_tumor_start_cells: f64,
    /// Summed over the run: Δstock (end − start) = inflows − outflows + residual.
    #[serde(flatten)]
    pub budget: Flows,
}

/// The readouts a [`Ledger`] integrates over time (from a snapshot's [`Metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Readouts {
    /// Mean T in the core, cells/mm³.
    pub t_core_per_mm3: f64,
    /// Mean T in the margin, cells/mm³.
    pub t_margin_per_mm3: f64,
    pub infiltration_ratio: f64,
}

impl From<&Metrics> for Readouts {
    fn from(m: &Metrics) -> Self {
        Readouts {
            t_core_per_mm3: m.t_core_per_mm3,
            t_margin_per_mm3: m.t_margin_per_mm3,
            infiltration_ratio: m.infiltration_ratio,
        }
    }
}

/// The last snapshot a [`Ledger`] saw.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Last {
    t_min: f64,
    rates: Rates,
    /// The drugs' flows (from plasma, from bath, decay) just after the snapshot, per min.
    after: [[f64; 3]; 2],
    readouts: Readouts,
}

/// What a checkpoint keeps of a [`Ledger`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct LedgerState {
    last: Option<Last>,
    last_row: Row,
    integrated: TimeIntegrated,
}

/// Integrates the budgets and the readouts' time integrals snapshot by snapshot.
#[derive(Debug, Clone)]
pub struct Ledger {
    params: Params,
    dosing: Dosing,
    capacity: f64,
    last: Option<Last>,
    /// The budget columns of the last snapshot.
    last_row: Row,
    integrated: TimeIntegrated,
}

impl Ledger {
    /// A ledger for a run with these parameters, dosing and tumour carrying capacity
    /// (cells/mm³).
    pub fn new(params: &Params, dosing: &Dosing, capacity: f64) -> Self {
        Ledger {
            params: params.clone(),
            dosing: dosing.clone(),
            capacity,
            last: None,
            last_row: Row::default(),
            integrated: TimeIntegrated::default(),
        }
    }

    /// Records the snapshot at `t_min` (the fields on tissue `class`, and the snapshot's
    /// readouts) and returns its budget columns. The first call sets the start.
    pub fn record(&mut self, fields: &Fields, class: &[u8], m: Readouts, t_min: f64) -> Row {
        let bath = bath_levels(&self.dosing, t_min);
        let rates = Rates::at(fields, class, &self.params, self.capacity, bath);
        self.record_rates(rates, m, t_min)
    }

    /// As [`Self::record`], from the stocks and rates ([`Rates::from_sums`]).
    pub fn record_rates(&mut self, rates: Rates, m: Readouts, t_min: f64) -> Row {
        let flows_at = |s: &DrugSums, drug: DrugName, after: bool| {
            drug_flows(s, drug_levels(&self.dosing, drug, t_min, after))
        };
        let now = Last {
            t_min,
            rates,
            after: [
                flows_at(&rates.amd3100, DrugName::Amd3100, true),
                flows_at(&rates.anti_pd1, DrugName::AntiPd1, true),
            ],
            readouts: m,
        };
        let mut flows = Flows::default();
        let ti = &mut self.integrated;
        match self.last {
            None => {
                ti.from_h = t_min / 60.0;
                ti.amd3100_total_start_pmol = rates.amd3100.total;
                ti.anti_pd1_total_start_fmol = rates.anti_pd1.total;
                ti.t_total_start_cells = rates.t_total;
                ti.viable_tumor_start_cells = rates.viable;
            }
            Some(prev) => {
                let dt = t_min - prev.t_min;
                let trap = |a: f64, b: f64| 0.5 * dt * (a + b);
                let before = [
                    flows_at(&rates.amd3100, DrugName::Amd3100, false),
                    flows_at(&rates.anti_pd1, DrugName::AntiPd1, false),
                ];
                let drug = |k: usize, old: &DrugSums, new: &DrugSums| {
                    let f: [f64; 3] = std::array::from_fn(|j| trap(prev.after[k][j], before[k][j]));
                    let residual = (new.total - old.total) - (f[0] + f[1] - f[2]);
                    [f[0], f[1], f[2], residual]
                };
                let [ap, ab, ad, ar] = drug(0, &prev.rates.amd3100, &rates.amd3100);
                let [pp, pb, pd, pr] = drug(1, &prev.rates.anti_pd1, &rates.anti_pd1);
                let (o, n) = (&prev.rates, &rates);
                let influx = trap(o.t_influx, n.t_influx);
                let prolif = trap(o.t_proliferation, n.t_proliferation);
                let died = trap(o.t_death, n.t_death);
                let grown = trap(o.grown, n.grown);
                // K integrates the killing step by step: its change is exact.
                let killed = n.killed_total - o.killed_total;
                flows = Flows {
                    amd3100_from_plasma_pmol: ap,
                    amd3100_from_bath_pmol: ab,
                    amd3100_decayed_pmol: ad,
                    amd3100_residual_pmol: ar,
                    anti_pd1_from_plasma_fmol: pp,
                    anti_pd1_from_bath_fmol: pb,
                    anti_pd1_decayed_fmol: pd,
                    anti_pd1_residual_fmol: pr,
                    t_influx_cells: influx,
                    t_proliferated_cells: prolif,
                    t_died_cells: died,
                    t_residual_cells: (n.t_total - o.t_total) - (influx + prolif - died),
                    tumor_grown_cells: grown,
                    tumor_killed_cells: killed,
                    tumor_residual_cells: (n.viable - o.viable) - (grown - killed),
                };
                ti.budget.add(&flows);
                let (a, b) = (prev.readouts, m);
                ti.t_core_per_mm3_h += trap(a.t_core_per_mm3, b.t_core_per_mm3) / 60.0;
                ti.t_margin_per_mm3_h += trap(a.t_margin_per_mm3, b.t_margin_per_mm3) / 60.0;
                ti.infiltration_ratio_h += trap(a.infiltration_ratio, b.infiltration_ratio) / 60.0;
            }
        }
        ti.to_h = t_min / 60.0;
        let span = ti.to_h - ti.from_h;
        ti.infiltration_ratio_mean = if span > 0.0 {
            ti.infiltration_ratio_h / span
        } else {
            f64::NAN
        };
        self.last = Some(now);
        self.last_row = Row {
            amd3100_total_pmol: rates.amd3100.total,
            anti_pd1_total_fmol: rates.anti_pd1.total,
            flows,
        };
        self.last_row
    }

    /// The budget columns of the last snapshot recorded.
    pub fn last_row(&self) -> Row {
        self.last_row
    }

    /// The time integrals and the budget from the first snapshot to the last.
    pub fn time_integrated(&self) -> TimeIntegrated {
        self.integrated
    }

    /// The ledger's state (the last snapshot's rates and the integrals so far) as text,
    /// for a checkpoint: TOML, in which NaN (an empty region's readout) and every f64
    /// survive the round trip.
    pub fn save(&self) -> String {
        let state = LedgerState {
            last: self.last,
            last_row: self.last_row,
            integrated: self.integrated,
        };
        toml::to_string(&state).expect("a ledger state is plain numbers")
    }

    /// Restores a state written by [`Ledger::save`].
    ///
    /// # Errors
    /// Text that is not such a state.
    pub fn restore(&mut self, text: &str) -> Result<(), String> {
        let state: LedgerState =
            toml::from_str(text).map_err(|e| format!("budget ledger in the checkpoint: {e}"))?;
        self.last = state.last;
        self.last_row = state.last_row;
        self.integrated = state.integrated;
        Ok(())
    }
}
