//! Scenario files: the schema, reading with `extends`, and validation.

mod load;
pub mod schema;
pub mod typical;
mod validate;

pub use load::{levenshtein, load, load_with, merge, set_key, Layer, Loaded};
pub use schema::*;
pub use validate::{bath_faces, check_ranges, Checker, FACE_NAMES};

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
