//! Plasma and medium (bath) levels of each drug over time, from the scenario's
//! treatments: a one-compartment model, each dose a bolus decaying with the drug's
//! half-life, summed over doses, plus constant levels. Time 0 is the start of dosing;
//! before it every level is 0 (the burn-in is untreated).

use crate::scenario::{DrugName, Route, Scenario};

/// One contribution to a level: `peak · exp(−rate (t − t0))` for `t ≥ t0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bolus {
    /// Start, min.
    pub t0: f64,
    /// Level at `t0`, in the drug's field unit (AMD3100 µM, anti-PD-1 nM).
    pub peak: f64,
    /// Elimination rate, 1/min (0: constant from `t0` on).
    pub rate: f64,
}

impl Bolus {
    #[inline]
    pub fn level(&self, t: f64) -> f64 {
        if t < self.t0 {
            0.0
        } else if self.rate == 0.0 {
            self.peak
        } else {
            self.peak * (-(self.rate * (t - self.t0))).exp()
        }
    }
}

/// Every bolus of every drug and route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dosing {
    /// Indexed by `[drug][route]`: drug 0 AMD3100, 1 anti-PD-1; route 0 plasma, 1 bath.
    pub boluses: [[Vec<Bolus>; 2]; 2],
}

/// Converts a concentration written in µM or nM into the drug's field unit.
fn to_field_unit(drug: DrugName, um: Option<f64>, nm: Option<f64>) -> f64 {
    let in_nm = um.map(|v| v * 1e3).or(nm).unwrap_or(0.0);
    match drug {
        DrugName::Amd3100 => in_nm * 1e-3,
        DrugName::AntiPd1 => in_nm,
    }
}

pub fn drug_index(d: DrugName) -> usize {
    match d {
        DrugName::Amd3100 => 0,
        DrugName::AntiPd1 => 1,
    }
}

pub fn route_index(r: Route) -> usize {
    match r {
        Route::Plasma => 0,
        Route::Bath => 1,
    }
}

impl Dosing {
    pub fn from_scenario(s: &Scenario) -> Dosing {
        let mut d = Dosing::default();
        for tr in &s.treatment {
            let rate = tr
                .half_life_h
                .map(|h| std::f64::consts::LN_2 / (h * 60.0))
                .unwrap_or(0.0);
            let list = &mut d.boluses[drug_index(tr.drug)][route_index(tr.route)];
            for dose in &tr.doses {
                list.push(Bolus {
                    t0: dose.at_h * 60.0,
                    peak: to_field_unit(tr.drug, dose.peak_um, dose.peak_nm),
                    rate,
                });
            }
            if let Some(sc) = &tr.schedule {
                for k in 0..sc.count {
                    list.push(Bolus {
                        t0: (sc.start_h + sc.every_h * f64::from(k)) * 60.0,
                        peak: to_field_unit(tr.drug, sc.peak_um, sc.peak_nm),
                        rate,
                    });
                }
            }
            if tr.level_um.is_some() || tr.level_nm.is_some() {
                list.push(Bolus {
                    t0: tr.start_h * 60.0,
                    peak: to_field_unit(tr.drug, tr.level_um, tr.level_nm),
                    rate: 0.0,
                });
            }
        }
        for drug in &mut d.boluses {
            for route in drug {
                route.sort_by(|a, b| a.t0.total_cmp(&b.t0));
            }
        }
        d
    }

    /// The level of `drug` by `route` at time `t` (min), summed over its boluses in a
    /// fixed order (so it is the same bits on every call).
    pub fn level(&self, drug: DrugName, route: Route, t: f64) -> f64 {
        self.boluses[drug_index(drug)][route_index(route)]
            .iter()
            .map(|b| b.level(t))
            .sum()
    }

    /// (plasma, bath) levels of the chemical at time `t`.
    pub fn levels(&self, chem: crate::scenario::Chemical, t: f64) -> (f64, f64) {
        use crate::scenario::Chemical;
        match chem {
            Chemical::Cxcl12 => (0.0, 0.0),
            Chemical::Amd3100 => (
                self.level(DrugName::Amd3100, Route::Plasma, t),
                self.level(DrugName::Amd3100, Route::Bath, t),
            ),
            Chemical::AntiPd1 => (
                self.level(DrugName::AntiPd1, Route::Plasma, t),
                self.level(DrugName::AntiPd1, Route::Bath, t),
            ),
        }
    }
}
