//! Scenario files: the schema, reading with `extends`, and validation.

pub mod bounds;
mod load;
pub mod schema;
pub mod typical;
mod validate;

pub use load::{
    levenshtein, load, load_with, merge, not_a_file, read_text_file, read_user_file, set_key,
    Layer, Loaded, MAX_TEXT_BYTES,
};
pub use schema::*;
pub use validate::{bath_faces, check_ranges, Checker, FACE_NAMES, MAX_SNAPSHOTS, MAX_SPECIES};

use crate::error::{Error, Result};
use std::path::Path;

/// Reads and range-checks a scenario. Stability bounds are checked when the steps are
/// derived ([`crate::model::StepPlan::derive`]).
pub fn load_valid(path: &Path) -> Result<Loaded> {
    let loaded = load(path)?;
    let mut c = Checker::new(&loaded);
    check_ranges(&mut c);
    if c.found.is_empty() {
        Ok(loaded)
    } else {
        Err(Error::Invalid(c.found))
    }
}
