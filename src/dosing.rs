//! Plasma and medium (bath) levels of each drug over time, from the scenario's
//! treatments: a one-compartment model, each dose a bolus decaying with the drug's
//! half-life, summed over doses, plus constant levels. Time 0 is the start of dosing;
//! before it every level is 0 (the burn-in is untreated).

use crate::scenario::{Dosed, DrugName, Route, Scenario};

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

/// Every bolus of every drug, and of every species a treatment doses, and route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dosing {
    /// Indexed by `[drug][route]`: drug 0 AMD3100, 1 anti-PD-1; route 0 plasma, 1 bath.
    pub boluses: [[Vec<Bolus>; 2]; 2],
    /// Indexed by `[species][route]`, the species in the scenario's order (`[[species]]`;
    /// empty for a species no treatment doses), levels in the species' unit.
    pub species: Vec<[Vec<Bolus>; 2]>,
}

/// Converts a concentration written in µM or nM, or (`plain`) in a species' unit, into
/// the field unit of what is dosed.
fn to_field_unit(dosed: &Dosed, um: Option<f64>, nm: Option<f64>, plain: Option<f64>) -> f64 {
    let in_nm = um.map(|v| v * 1e3).or(nm).unwrap_or(0.0);
    match dosed {
        Dosed::Drug(DrugName::Amd3100) => in_nm * 1e-3,
        Dosed::Drug(DrugName::AntiPd1) => in_nm,
        Dosed::Species(_) => plain.unwrap_or(0.0),
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
        let mut d = Dosing {
            species: vec![Default::default(); s.species.len()],
            ..Default::default()
        };
        for tr in &s.treatment {
            let rate = tr
                .half_life_h
                .map(|h| std::f64::consts::LN_2 / (h * 60.0))
                .unwrap_or(0.0);
            let list = match &tr.drug {
                Dosed::Drug(drug) => &mut d.boluses[drug_index(*drug)][route_index(tr.route)],
                Dosed::Species(name) => {
                    // Validation refuses a name no species has; skipped if unchecked.
                    let Some(k) = s.species.iter().position(|sp| &sp.name == name) else {
                        continue;
                    };
                    &mut d.species[k][route_index(tr.route)]
                }
            };
            for dose in &tr.doses {
                list.push(Bolus {
                    t0: dose.at_h * 60.0,
                    peak: to_field_unit(&tr.drug, dose.peak_um, dose.peak_nm, dose.peak),
                    rate,
                });
            }
            if let Some(sc) = &tr.schedule {
                for k in 0..sc.count {
                    list.push(Bolus {
                        t0: (sc.start_h + sc.every_h * f64::from(k)) * 60.0,
                        peak: to_field_unit(&tr.drug, sc.peak_um, sc.peak_nm, sc.peak),
                        rate,
                    });
                }
            }
            if tr.level_um.is_some() || tr.level_nm.is_some() || tr.level.is_some() {
                list.push(Bolus {
                    t0: tr.start_h * 60.0,
                    peak: to_field_unit(&tr.drug, tr.level_um, tr.level_nm, tr.level),
                    rate: 0.0,
                });
            }
        }
        for drug in d.boluses.iter_mut().chain(d.species.iter_mut()) {
            for route in drug {
                route.sort_by(|a, b| a.t0.total_cmp(&b.t0));
            }
        }
        d
    }

    /// The times (min, ascending, each once) at which a dose of anything starts: each
    /// bolus and the start of each constant level, of every drug, species and route.
    pub fn dose_times(&self) -> Vec<f64> {
        let mut t: Vec<f64> = self
            .boluses
            .iter()
            .chain(self.species.iter())
            .flatten()
            .flatten()
            .filter(|b| b.peak != 0.0)
            .map(|b| b.t0)
            .collect();
        t.sort_by(f64::total_cmp);
        t.dedup();
        t
    }

    /// The (plasma, bath) levels the treatments give species `k` at time `t` (min), in
    /// its unit (0 for a species no treatment doses).
    pub fn species_levels(&self, k: usize, t: f64) -> (f64, f64) {
        let Some(routes) = self.species.get(k) else {
            return (0.0, 0.0);
        };
        let sum = |r: Route| -> f64 { routes[route_index(r)].iter().map(|b| b.level(t)).sum() };
        (sum(Route::Plasma), sum(Route::Bath))
    }

    /// The level of `drug` by `route` at time `t` (min), summed over its boluses in a
    /// fixed order (so it is the same bits on every call).
    pub fn level(&self, drug: DrugName, route: Route, t: f64) -> f64 {
        self.boluses[drug_index(drug)][route_index(route)]
            .iter()
            .map(|b| b.level(t))
            .sum()
    }

    /// The boluses of a chemical by route (plasma, bath); None for CXCL12, which no
    /// treatment doses.
    pub fn routes(&self, chem: crate::scenario::Chemical) -> Option<&[Vec<Bolus>; 2]> {
        use crate::scenario::Chemical;
        match chem {
            Chemical::Cxcl12 => None,
            Chemical::Amd3100 => Some(&self.boluses[drug_index(DrugName::Amd3100)]),
            Chemical::AntiPd1 => Some(&self.boluses[drug_index(DrugName::AntiPd1)]),
        }
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
