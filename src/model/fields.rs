//! The fields of the model, named once: the [`Field`] type and the [`FIELDS`] table
//! (name in outputs, symbol, words, unit, whether it diffuses, the chemical it is). Every
//! list of fields (checkpoints, read-backs, `.vti` files, the bad-value check, initial
//! values per class) is in this order and is walked through this table.

use crate::scenario::Chemical;

/// A field of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// C, CXCL12, nM.
    Cxcl12,
    /// A, AMD3100, µM.
    Amd3100,
    /// P, anti-PD-1, nM.
    AntiPd1,
    /// T, T cells, cells/mm³.
    TCells,
    /// N, viable tumour, fraction of the carrying capacity.
    Tumor,
    /// K, tumour killed since the start of dosing, fraction of the carrying capacity.
    Killed,
}

/// What the code needs to know of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldInfo {
    pub field: Field,
    /// Its name in outputs (messages, checkpoints), with its unit: `cxcl12_nM`.
    pub name: &'static str,
    /// Its array's name in ParaView files: `CXCL12_nM`.
    pub vti_name: &'static str,
    /// Its symbol in the equations (`docs/model.md`).
    pub symbol: &'static str,
    /// Its name in words.
    pub words: &'static str,
    pub unit: &'static str,
    /// Whether it has a diffusion term (and halo planes, sub-steps, a stability bound).
    pub diffuses: bool,
    /// The chemical it is, for C, A and P.
    pub chemical: Option<Chemical>,
}

/// Every field, in the order of every per-field list.
pub const FIELDS: [FieldInfo; 6] = [
    FieldInfo {
        field: Field::Cxcl12,
        name: "cxcl12_nM",
        vti_name: "CXCL12_nM",
        symbol: "C",
        words: "CXCL12",
        unit: "nM",
        diffuses: true,
        chemical: Some(Chemical::Cxcl12),
    },
    FieldInfo {
        field: Field::Amd3100,
        name: "amd3100_uM",
        vti_name: "AMD3100_uM",
        symbol: "A",
        words: "AMD3100",
        unit: "µM",
        diffuses: true,
        chemical: Some(Chemical::Amd3100),
    },
    FieldInfo {
        field: Field::AntiPd1,
        name: "anti_pd1_nM",
        vti_name: "anti_PD1_nM",
        symbol: "P",
        words: "anti-PD-1",
        unit: "nM",
        diffuses: true,
        chemical: Some(Chemical::AntiPd1),
    },
    FieldInfo {
        field: Field::TCells,
        name: "tcells_per_mm3",
        vti_name: "T_cells_per_mm3",
        symbol: "T",
        words: "T cells",
        unit: "cells/mm³",
        diffuses: true,
        chemical: None,
    },
    FieldInfo {
        field: Field::Tumor,
        name: "tumor_fraction",
        vti_name: "tumor_fraction",
        symbol: "N",
        words: "viable tumour",
        unit: "fraction of the carrying capacity",
        diffuses: false,
        chemical: None,
    },
    FieldInfo {
        field: Field::Killed,
        name: "killed_fraction",
        vti_name: "killed_fraction",
        symbol: "K",
        words: "killed tumour",
        unit: "fraction of the carrying capacity",
        diffuses: false,
        chemical: None,
    },
];

/// How many fields there are.
pub const N_FIELDS: usize = FIELDS.len();

impl Field {
    /// Every field, in table order.
    pub const ALL: [Field; N_FIELDS] = [
        Field::Cxcl12,
        Field::Amd3100,
        Field::AntiPd1,
        Field::TCells,
        Field::Tumor,
        Field::Killed,
    ];

    /// Its place in every per-field list.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its row of [`FIELDS`].
    pub const fn info(self) -> &'static FieldInfo {
        &FIELDS[self.index()]
    }

    /// Its name in outputs (`cxcl12_nM`).
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// The field of a chemical.
    pub const fn of(c: Chemical) -> Field {
        match c {
            Chemical::Cxcl12 => Field::Cxcl12,
            Chemical::Amd3100 => Field::Amd3100,
            Chemical::AntiPd1 => Field::AntiPd1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_type() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(FIELDS[i].field, *f);
        }
        for c in crate::model::CHEMICALS {
            assert_eq!(Field::of(c).info().chemical, Some(c));
        }
    }
}
