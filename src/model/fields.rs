//! The fields of the model, named once: the [`Field`] type and the [`FIELDS`] table
//! (name in outputs, symbol, words, unit, whether it diffuses, the chemical it is) of
//! the built-in fields, followed in every list by the species a scenario adds
//! ([`Field::Species`], described by [`crate::model::SpeciesParams`]). Every list of
//! fields (checkpoints, read-backs, `.vti` files, picture planes, the bad-value check,
//! initial values per class) is in this order and is walked through this table
//! ([`Params::field_list`](crate::model::Params::field_list), [`FieldRow`]).

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
    /// The k-th species the scenario adds (`[[species]]`), after every built-in field.
    Species(u8),
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
    /// Its picture: the name of its stored plane and the colour map of its panel (whose
    /// subtitle is `unit`).
    pub plane: &'static str,
    pub palette: Palette,
}

/// The colour map of a field's pictures (`plot::ColorMap` draws it): viridis for
/// concentrations and the viable tumour, magma for cells that accumulate (T cells,
/// killed tumour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    Viridis,
    Magma,
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
        plane: "cxcl12",
        palette: Palette::Viridis,
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
        plane: "amd3100",
        palette: Palette::Viridis,
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
        plane: "anti_pd1",
        palette: Palette::Viridis,
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
        plane: "tcells",
        palette: Palette::Magma,
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
        plane: "tumor",
        palette: Palette::Viridis,
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
        plane: "killed",
        palette: Palette::Magma,
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

    /// Its place in every per-field list: the built-in fields in table order, then the
    /// species.
    pub const fn index(self) -> usize {
        match self {
            Field::Cxcl12 => 0,
            Field::Amd3100 => 1,
            Field::AntiPd1 => 2,
            Field::TCells => 3,
            Field::Tumor => 4,
            Field::Killed => 5,
            Field::Species(k) => N_FIELDS + k as usize,
        }
    }

    /// The field at place `i` of a per-field list.
    pub const fn at(i: usize) -> Field {
        if i < N_FIELDS {
            Field::ALL[i]
        } else {
            Field::Species((i - N_FIELDS) as u8)
        }
    }

    /// Its row of [`FIELDS`]: `None` for a species (its row is the scenario's:
    /// [`crate::model::Params::row`]).
    pub const fn builtin(self) -> Option<&'static FieldInfo> {
        match self {
            Field::Species(_) => None,
            f => Some(&FIELDS[f.index()]),
        }
    }

    /// Its row of [`FIELDS`].
    ///
    /// # Panics
    /// For a species: its row is the scenario's ([`crate::model::Params::row`]).
    pub const fn info(self) -> &'static FieldInfo {
        match self.builtin() {
            Some(i) => i,
            None => panic!("a species' row is the scenario's"),
        }
    }

    /// Its name in outputs (`cxcl12_nM`), for a built-in field.
    ///
    /// # Panics
    /// For a species, as [`Self::info`].
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

/// A field's row as a run knows it, built-in or added by the scenario: what outputs
/// need to name and draw it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRow {
    pub field: Field,
    /// Its name in outputs, with its unit (`cxcl12_nM`, `ifng_pM`).
    pub name: String,
    /// Its array's name in ParaView files.
    pub vti_name: String,
    /// Its name in words (`CXCL12`, `IFN-γ`).
    pub words: String,
    pub unit: String,
    pub diffuses: bool,
    /// Its stored plane and colour map.
    pub plane: String,
    pub palette: Palette,
}

impl From<&FieldInfo> for FieldRow {
    fn from(i: &FieldInfo) -> Self {
        FieldRow {
            field: i.field,
            name: i.name.into(),
            vti_name: i.vti_name.into(),
            words: i.words.into(),
            unit: i.unit.into(),
            diffuses: i.diffuses,
            plane: i.plane.into(),
            palette: i.palette,
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
