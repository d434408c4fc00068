//! infiltrate: a reaction-diffusion solver for T-cell infiltration of fibrolamellar
//! carcinoma under CXCR4 (AMD3100) and PD-1 blockade. See `docs/ARCHITECTURE.md`.

pub mod bench;
pub mod checkpoint;
pub mod compare;
pub mod cpu;
pub mod dosing;
pub mod error;
pub mod geometry;
pub mod gpu;
pub mod model;
pub mod scenario;
pub mod slicing;
pub mod solver;
pub mod steady;
pub mod units;

pub use error::{Error, Result};
pub mod arrays;
pub mod budget;
pub mod output;
pub mod pictures;
pub mod plot;
pub mod probe;
pub mod readout;
pub mod report;
pub mod resume;
pub mod run;
pub mod sweep;
