//! Couplings: a species scaling a rate of the model, declared in one table.
//!
//! A scenario couples a species to a rate with a line in its `[[species]]` table,
//! `couplings = { kill_boost = 50.0 }`: the coupling's name and its level `K`, in the
//! species' unit. The rate is then multiplied, voxel by voxel, by the coupling's factor
//! of the species' level `I` there (`1 + I/K` for `kill_boost`).
//!
//! Everything about a coupling lives in [`COUPLINGS`] and in its term, once per
//! language (`model::terms` and `shaders/terms.wgsl`, where `coupling_factor` picks a
//! term by the row's [`Coupling::id`]). The scenario's keys, checks and bounds, the
//! parameters, the kernels and the snapshot sums of both backends, the GPU's bindings
//! and pipeline constants, and the twin test read the table, so a new coupling of a rate
//! listed in [`Rate`] is a row here and a term in each language
//! (`docs/ARCHITECTURE.md`, "What one coupling touches").

use super::terms;

/// A rate of the model a species may scale. Each is applied where its kernels and sums
/// use it (the kill rate: the cell step and the snapshot's kill sum, on both backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// The kill rate of tumour cells by T cells, `k_kill (1 − q(1 − b)) T N`.
    Kill,
}

impl Rate {
    /// Every rate, in the order of the GPU's pipeline constants.
    pub const ALL: [Rate; 1] = [Rate::Kill];

    /// Its name in messages (`the kill rate`).
    pub fn words(self) -> &'static str {
        match self {
            Rate::Kill => "the kill rate",
        }
    }

    /// The pipeline constant of cell.wgsl and probe.wgsl that names the coupling of
    /// this rate ([`Coupling::id`]; 0: none).
    pub fn constant(self) -> &'static str {
        match self {
            Rate::Kill => "KILL_BY",
        }
    }
}

/// One kind of coupling a scenario may declare.
#[derive(Debug)]
pub struct Coupling {
    /// Its key in a species' `couplings` table.
    pub key: &'static str,
    /// The rate it scales.
    pub rate: Rate,
    /// The factor it multiplies the rate by, of the species' level `I` and the
    /// coupling's level `K` (both in the species' unit); its WGSL twin is the case
    /// [`Coupling::id`] of `coupling_factor` in `shaders/terms.wgsl`.
    pub factor: fn(f64, f64) -> f64,
    /// The factor in words, of the species' level `I` and `K` (`infiltrate check`).
    pub formula: &'static str,
}

impl Coupling {
    /// Its number in the WGSL's `coupling_factor` and in the pipeline constants: its
    /// place in [`COUPLINGS`] plus one (0 is "no coupling").
    pub fn id(&'static self) -> u32 {
        COUPLINGS
            .iter()
            .position(|c| std::ptr::eq(c, self))
            .map(|k| k as u32 + 1)
            .expect("a coupling of the table")
    }
}

/// Every coupling a scenario may declare.
pub static COUPLINGS: [Coupling; 2] = [
    Coupling {
        key: "kill_boost",
        rate: Rate::Kill,
        factor: terms::kill_boost,
        formula: "1 + I/K",
    },
    Coupling {
        key: "kill_inhibit",
        rate: Rate::Kill,
        factor: terms::kill_inhibit,
        formula: "1/(1 + I/K)",
    },
];

/// The coupling of a key, if the table has it.
pub fn by_key(key: &str) -> Option<&'static Coupling> {
    COUPLINGS.iter().find(|c| c.key == key)
}

/// The keys of the table, for messages (`kill_boost, kill_inhibit`).
pub fn keys() -> String {
    COUPLINGS
        .iter()
        .map(|c| c.key)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A coupling a run has: which species, which coupling, at which level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coupled {
    /// The species' place in `Params::species`.
    pub species: usize,
    pub coupling: &'static Coupling,
    /// K, in the species' unit (> 0).
    pub level: f64,
}

/// Couplings are the same when their keys are (the table's keys are distinct).
impl PartialEq for Coupling {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Coupled {
    /// The factor at a species level `i`.
    #[inline]
    pub fn factor(&self, i: f64) -> f64 {
        (self.coupling.factor)(i, self.level)
    }
}
