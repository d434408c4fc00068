//! The library's typed error: what went wrong, where (file, line, key), and what is allowed.

use std::fmt;
use std::path::PathBuf;

/// Where in a scenario a problem sits: the file it came from, the line of the key
/// (when it can be found) and the dotted key path (`tcells.motility_um2_per_min`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        Ok(())
    }
}

/// One invalid value in a scenario: where it is, what it was, and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub at: Location,
    /// The offending value as written (or derived), e.g. `-3` or `0.25 min`.
    pub value: String,
    /// What would have been accepted, e.g. `> 0` or `[0, 1)`.
    pub allowed: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: allowed {}", self.at, self.value, self.allowed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML (or not text at all).
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    /// A key is unknown, has the wrong type, or a required key is missing.
    #[error("{at}: {message}")]
    Schema { at: Location, message: String },
    /// `extends` files form a cycle.
    #[error("{at}: `extends` cycle: {chain}")]
    ExtendsCycle { at: Location, chain: String },
    /// One or more values are outside their allowed ranges.
    #[error("{}", list_invalid(.0))]
    Invalid(Vec<Invalid>),
    /// A time given on the command line or in a file could not be read.
    #[error("cannot read the time `{value}`: {why} (write a number and a unit: 90min, 6h, 2d)")]
    Time { value: String, why: String },
    /// A volume file does not match what the scenario says of it.
    #[error("{path}: {message}")]
    Volume { path: PathBuf, message: String },
    /// The run was stopped because a field became invalid.
    #[error("{0}")]
    Numerical(String),
    #[error("{0}")]
    Other(String),
}

fn list_invalid(items: &[Invalid]) -> String {
    match items {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} invalid values in the scenario:", many.len());
            for i in many {
                s.push_str("\n  ");
                s.push_str(&i.to_string());
            }
            s
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
