//! Sweep files: a base scenario plus axes (a scenario key with values or a range, or
//! named overlays), combined as a full grid or as listed points, with replicate seeds.
//! Expansion into points, and the check of every axis key against the schema.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::scenario::{self, Loaded};

/// A sweep file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    /// The base scenario, relative to the sweep file.
    base: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// `grid` (every combination) or `listed` (the i-th value of every axis).
    #[serde(default)]
    combine: Combine,
    /// Replicate seeds: every point runs once per seed, set at `seed_key`.
    #[serde(default)]
    seeds: Vec<u64>,
    #[serde(default = "default_seed_key")]
    seed_key: String,
    /// A partial scenario merged into every point (e.g. a shorter duration).
    #[serde(default)]
    set: toml::Table,
    #[serde(default, rename = "axis")]
    axes: Vec<AxisFile>,
    /// A contrast for `collect` to draw: one level of an axis against the best of others.
    contrast: Option<Contrast>,
}

/// One level of an axis against the best of some others (e.g. the combination arm
/// against the better single drug): `collect` draws `level − max(against)` over the
/// remaining axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contrast {
    pub axis: String,
    pub level: String,
    pub against: Vec<String>,
}

fn default_seed_key() -> String {
    "geometry.seed".into()
}

/// How axes combine into points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every combination of the axes' values (the last axis varies fastest).
    #[default]
    Grid,
    /// Point i takes value i of every axis (all axes have the same length).
    Listed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    /// The scenario key this axis sets (not for overlays).
    key: Option<String>,
    /// The axis name in tables and plots; default: the key's last part.
    name: Option<String>,
    values: Option<Vec<toml::Value>>,
    /// Labels of the values (default: the values as written).
    labels: Option<Vec<String>>,
    range: Option<RangeFile>,
    overlays: Option<Vec<OverlayFile>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeFile {
    from: f64,
    to: f64,
    count: usize,
    #[serde(default)]
    scale: Scale,
}

/// Spacing of a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Scale {
    #[default]
    Linear,
    Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayFile {
    label: String,
    /// A partial scenario, merged key by key over the base (lists replaced whole).
    set: toml::Table,
}

/// What one level of an axis does to the scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edit {
    /// Sets one key to a value.
    Set { key: String, value: toml::Value },
    /// Merges a partial scenario.
    Overlay { set: toml::Table },
}

/// One value of an axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    pub label: String,
    /// The value as a number, for plots (None for overlays and non-numbers).
    pub number: Option<f64>,
    pub edit: Edit,
}

/// One axis of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    pub name: String,
    /// The scenario key (None for an overlay axis).
    pub key: Option<String>,
    /// The unit, read from the key's name (`_h` → h, `_uM` → µM); empty if none.
    pub unit: String,
    pub levels: Vec<Level>,
}

impl Axis {
    /// `name (unit)`, for plot axes.
    pub fn title(&self) -> String {
        if self.unit.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }
}

/// One run of a sweep: a level of every axis and a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub index: usize,
    /// The folder name under `points/`: index and a hash of the values.
    pub dir: String,
    /// The level index on each axis.
    pub levels: Vec<usize>,
    pub seed: Option<u64>,
}

/// A parsed, expanded sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    /// The base scenario (absolute path).
    pub base: PathBuf,
    pub combine: Combine,
    pub seed_key: String,
    pub seeds: Vec<u64>,
    pub set: toml::Table,
    pub axes: Vec<Axis>,
    pub points: Vec<Point>,
    pub contrast: Option<Contrast>,
}

fn sweep_err(file: &Path, key: &str, message: String) -> Error {
    Error::Schema {
        at: Location {
            file: file.to_path_buf(),
            line: None,
            key: key.to_string(),
        },
        message,
    }
}

/// The unit a key carries in its name (the schema's convention).
pub fn unit_of_key(key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    const UNITS: [(&str, &str); 14] = [
        ("_um2_per_min", "µm²/min"),
        ("_nM_mm3_per_min", "nM·mm³/min"),
        ("_per_mm3_per_min", "cells/mm³/min"),
        ("_nM_per_min", "nM/min"),
        ("_per_tcell_per_day", "1/(T cell·day)"),
        ("_per_mm3", "cells/mm³"),
        ("_per_min", "1/min"),
        ("_per_day", "1/day"),
        ("_uM", "µM"),
        ("_nM", "nM"),
        ("_um", "µm"),
        ("_min", "min"),
        ("_h", "h"),
        ("_d", "d"),
    ];
    UNITS
        .iter()
        .find(|(suffix, _)| last.ends_with(suffix))
        .map(|(_, u)| u.to_string())
        .unwrap_or_default()
}

/// The most points (runs) a sweep may have unless `--max-points` says otherwise.
pub const DEFAULT_MAX_POINTS: u64 = 10_000;

/// Rounds to 12 significant digits, so that ranges give the numbers one would write.
fn tidy(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// The values of a range: `count` values from `from` to `to`, both included.
fn range_values(r: &RangeFile, max: u64) -> std::result::Result<Vec<f64>, String> {
    if r.count == 0 {
        return Err("range.count must be at least 1".into());
    }
    if r.count as u64 > max {
        return Err(format!(
            "range.count = {} is more than the limit of {max} points (--max-points raises it)",
            r.count
        ));
    }
    if !r.from.is_finite() || !r.to.is_finite() {
        return Err("range.from and range.to must be finite numbers".into());
    }
    if r.scale == Scale::Log && (r.from <= 0.0 || r.to <= 0.0) {
        return Err(format!(
            "a log range needs from > 0 and to > 0 (found from = {}, to = {})",
            r.from, r.to
        ));
    }
    if r.count == 1 {
        return Ok(vec![r.from]);
    }
    let n = r.count - 1;
    Ok((0..=n)
        .map(|i| {
            if i == 0 {
                return r.from;
            }
            if i == n {
                return r.to;
            }
            let f = i as f64 / n as f64;
            tidy(match r.scale {
                Scale::Linear => r.from + (r.to - r.from) * f,
                Scale::Log => (r.from.ln() + (r.to.ln() - r.from.ln()) * f).exp(),
            })
        })
        .collect())
}

/// A value as a short label: numbers and strings as written, tables as inline TOML.
fn label_of(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f}"),
        toml::Value::Integer(i) => i.to_string(),
        other => other.to_string(),
    }
}

impl Sweep {
    /// Reads a sweep file and expands its points (keys are checked by [`Sweep::check`]).
    pub fn read(file: &Path) -> Result<Sweep> {
        Self::read_within(file, DEFAULT_MAX_POINTS)
    }

    /// As [`Sweep::read`], refusing a sweep of more than `max_points` points (runs),
    /// counted before any point is made.
    pub fn read_within(file: &Path, max_points: u64) -> Result<Sweep> {
        let text = crate::scenario::read_text_file(file, "sweep file")?;
        let f: SweepFile = match serde_path_to_error::deserialize(
            toml::de::Deserializer::parse(&text).map_err(|e| Error::Syntax {
                at: Location {
                    file: file.to_path_buf(),
                    line: None,
                    key: String::new(),
                },
                message: format!("not valid TOML: {}", e.message().trim()),
            })?,
        ) {
            Ok(f) => f,
            Err(e) => {
                let key = e.path().to_string();
                let inner = e.inner().to_string();
                return Err(sweep_err(
                    file,
                    if key == "." { "" } else { &key },
                    inner.lines().next().unwrap_or_default().to_string(),
                ));
            }
        };
        let dir = file.parent().unwrap_or(Path::new("."));
        let base = dir.join(&f.base);
        let base = std::fs::canonicalize(&base).map_err(|e| {
            sweep_err(
                file,
                "base",
                format!("cannot open the base scenario {}: {e}", base.display()),
            )
        })?;
        let mut axes = Vec::new();
        for (i, a) in f.axes.iter().enumerate() {
            axes.push(axis_from(file, i, a, max_points)?);
        }
        let mut names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
        names.push("seed");
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(sweep_err(
                    file,
                    "axis",
                    format!("two axes are named `{n}`: give one a `name`"),
                ));
            }
        }
        let count = match f.combine {
            Combine::Grid => axes
                .iter()
                .try_fold(1u64, |n, a| n.checked_mul(a.levels.len() as u64)),
            Combine::Listed => Some(axes.first().map_or(1, |a| a.levels.len() as u64)),
        }
        .and_then(|n| n.checked_mul(f.seeds.len().max(1) as u64));
        if count.is_none_or(|n| n > max_points) {
            let levels: Vec<String> = axes.iter().map(|a| a.levels.len().to_string()).collect();
            return Err(sweep_err(
                file,
                "axis",
                format!(
                    "{} points ({} levels{}), more than the limit of {max_points} runs \
                     (--max-points raises it)",
                    count.map_or("more than 2^64".to_string(), |n| n.to_string()),
                    levels.join(" × "),
                    if f.seeds.is_empty() {
                        String::new()
                    } else {
                        format!(" × {} seeds", f.seeds.len())
                    }
                ),
            ));
        }
        let points = expand(file, f.combine, &axes, &f.seeds)?;
        if let Some(c) = &f.contrast {
            let Some(a) = axes.iter().find(|a| a.name == c.axis) else {
                return Err(sweep_err(
                    file,
                    "contrast.axis",
                    format!("no axis is named `{}`", c.axis),
                ));
            };
            for l in std::iter::once(&c.level).chain(&c.against) {
                if !a.levels.iter().any(|x| &x.label == l) {
                    return Err(sweep_err(
                        file,
                        "contrast",
                        format!("axis `{}` has no level labelled `{l}`", a.name),
                    ));
                }
            }
        }
        Ok(Sweep {
            file: file.to_path_buf(),
            name: if f.name.is_empty() {
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                f.name
            },
            description: f.description,
            base,
            combine: f.combine,
            seed_key: f.seed_key,
            seeds: f.seeds,
            set: f.set,
            axes,
            points,
            contrast: f.contrast,
        })
    }

    /// The edits of a point, in order: the sweep's `set`, each axis level, the seed.
    pub fn edits(&self, p: &Point) -> Vec<Edit> {
        let mut out = vec![Edit::Overlay {
            set: self.set.clone(),
        }];
        for (a, &l) in self.axes.iter().zip(&p.levels) {
            out.push(a.levels[l].edit.clone());
        }
        if let Some(seed) = p.seed {
            out.push(Edit::Set {
                key: self.seed_key.clone(),
                value: toml::Value::Integer(seed as i64),
            });
        }
        out
    }

    /// `name = label` for each axis of a point (and the seed), for logs.
    pub fn describe_point(&self, p: &Point) -> String {
        let mut parts: Vec<String> = self
            .axes
            .iter()
            .zip(&p.levels)
            .map(|(a, &l)| format!("{} = {}", a.name, a.levels[l].label))
            .collect();
        if let Some(s) = p.seed {
            parts.push(format!("seed = {s}"));
        }
        parts.join(", ")
    }

    /// The base scenario with a point's edits, range-checked: the point's scenario.
    pub fn load_point(&self, p: &Point) -> Result<Loaded> {
        let edits = self.edits(p);
        let loaded = scenario::load_with(&self.base, |t| {
            for e in edits {
                apply(t, e).map_err(|m| sweep_err(&self.file, "", m))?;
            }
            Ok(())
        })
        .map_err(|e| self.explain(e, p))?;
        let mut c = scenario::Checker::new(&loaded);
        scenario::check_ranges(&mut c);
        if !c.found.is_empty() {
            return Err(Error::Other(format!(
                "point {} ({}): {}",
                p.index,
                self.describe_point(p),
                Error::Invalid(c.found)
            )));
        }
        Ok(loaded)
    }

    /// Checks every axis key and every point against the scenario schema and ranges
    /// before anything runs; returns the points' scenarios.
    pub fn check(&self) -> Result<Vec<Loaded>> {
        let valid = valid_keys(&scenario::load(&self.base)?);
        let mut keys: Vec<(String, &str)> = self
            .axes
            .iter()
            .filter_map(|a| a.key.clone().map(|k| (k, a.name.as_str())))
            .collect();
        if !self.seeds.is_empty() {
            keys.push((self.seed_key.clone(), "seed"));
        }
        for (key, name) in &keys {
            let plain = strip_indices(key);
            if !valid.iter().any(|v| strip_indices(v) == plain) {
                // Optional keys (absent from the resolved base) pass if the schema takes
                // them; the point check below decides. Otherwise name the closest key.
                let probe = self.points.first().cloned().unwrap_or(Point {
                    index: 0,
                    dir: String::new(),
                    levels: vec![0; self.axes.len()],
                    seed: None,
                });
                if let Err(e) = self.load_point(&probe) {
                    let near = closest(key, &valid);
                    return Err(sweep_err(
                        &self.file,
                        key,
                        format!(
                            "axis `{name}`: `{key}` is not a key of the scenario {}{}\n  ({e})",
                            self.base.display(),
                            near.map(|n| format!("; the closest valid key is `{n}`"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        self.points.iter().map(|p| self.load_point(p)).collect()
    }

    fn explain(&self, e: Error, p: &Point) -> Error {
        let mut msg = format!(
            "{}: point {} ({}): {e}",
            self.file.display(),
            p.index,
            self.describe_point(p)
        );
        if let Error::Schema { at, message } = &e {
            if message.starts_with("unknown field") && !at.key.is_empty() {
                if let Ok(base) = scenario::load(&self.base) {
                    if let Some(n) = closest(&at.key, &valid_keys(&base)) {
                        msg.push_str(&format!("; the closest valid key is `{n}`"));
                    }
                }
            }
        }
        Error::Other(msg)
    }
}

fn apply(t: &mut toml::Table, e: Edit) -> std::result::Result<(), String> {
    match e {
        Edit::Set { key, value } => {
            scenario::set_key(t, &key, value).map_err(|m| format!("key `{key}`: {m}"))
        }
        Edit::Overlay { set } => {
            // Quoted dotted keys (`"treatment[0].schedule.count" = 4`) set one value;
            // the rest merges key by key.
            let (paths, tables): (toml::Table, toml::Table) =
                set.into_iter().partition(|(k, _)| k.contains(['.', '[']));
            scenario::merge(t, tables);
            for (k, v) in paths {
                scenario::set_key(t, &k, v).map_err(|m| format!("key `{k}`: {m}"))?;
            }
            Ok(())
        }
    }
}

fn strip_indices(key: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every leaf key of a resolved scenario, as dotted paths with list indices.
fn valid_keys(loaded: &Loaded) -> Vec<String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            toml::Value::Array(a) if a.iter().any(|x| x.is_table()) => {
                out.push(prefix.to_string());
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = toml::Value::try_from(&loaded.scenario) {
        walk("", &v, &mut out);
    }
    out
}

/// The valid key nearest to `key` (edit distance), if any is reasonably near.
fn closest(key: &str, valid: &[String]) -> Option<String> {
    valid
        .iter()
        .map(|v| (scenario::levenshtein(key, v), v))
        .min()
        .filter(|(d, v)| *d <= v.len().max(key.len()) / 2)
        .map(|(_, v)| v.clone())
}

fn axis_from(file: &Path, i: usize, a: &AxisFile, max_points: u64) -> Result<Axis> {
    let what = format!("axis[{i}]");
    let given = [a.values.is_some(), a.range.is_some(), a.overlays.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        return Err(sweep_err(
            file,
            &what,
            "give exactly one of `values`, `range` or `overlays`".into(),
        ));
    }
    if let Some(ov) = &a.overlays {
        if a.key.is_some() {
            return Err(sweep_err(
                file,
                &what,
                "an overlay axis has no `key` (its overlays name their keys)".into(),
            ));
        }
        let Some(name) = a.name.clone() else {
            return Err(sweep_err(
                file,
                &what,
                "an overlay axis needs a `name`".into(),
            ));
        };
        if ov.is_empty() {
            return Err(sweep_err(file, &what, "no overlays".into()));
        }
        return Ok(Axis {
            name,
            key: None,
            unit: String::new(),
            levels: ov
                .iter()
                .map(|o| Level {
                    label: o.label.clone(),
                    number: None,
                    edit: Edit::Overlay { set: o.set.clone() },
                })
                .collect(),
        });
    }
    let Some(key) = a.key.clone() else {
        return Err(sweep_err(
            file,
            &what,
            "`values` and `range` need the scenario `key` they set".into(),
        ));
    };
    let values: Vec<toml::Value> = match (&a.values, &a.range) {
        (Some(v), _) => v.clone(),
        (_, Some(r)) => range_values(r, max_points)
            .map_err(|m| sweep_err(file, &format!("{what}.range"), m))?
            .into_iter()
            .map(toml::Value::Float)
            .collect(),
        _ => unreachable!("checked above"),
    };
    if values.is_empty() {
        return Err(sweep_err(file, &what, "no values".into()));
    }
    if let Some(l) = &a.labels {
        if l.len() != values.len() {
            return Err(sweep_err(
                file,
                &format!("{what}.labels"),
                format!("{} labels for {} values", l.len(), values.len()),
            ));
        }
    }
    let name = a.name.clone().unwrap_or_else(|| {
        let last = key.rsplit('.').next().unwrap_or(&key);
        last.split('[').next().unwrap_or(last).to_string()
    });
    Ok(Axis {
        name,
        unit: unit_of_key(&key),
        levels: values
            .into_iter()
            .enumerate()
            .map(|(j, v)| Level {
                label: a
                    .labels
                    .as_ref()
                    .map(|l| l[j].clone())
                    .unwrap_or_else(|| label_of(&v)),
                number: match &v {
                    toml::Value::Float(f) => Some(*f),
                    toml::Value::Integer(i) => Some(*i as f64),
                    _ => None,
                },
                edit: Edit::Set {
                    key: key.clone(),
                    value: v,
                },
            })
            .collect(),
        key: Some(key),
    })
}

/// The points of a sweep, in order: grid (last axis fastest) or listed, each point
/// repeated for every seed (seeds fastest).
fn expand(file: &Path, combine: Combine, axes: &[Axis], seeds: &[u64]) -> Result<Vec<Point>> {
    let combos: Vec<Vec<usize>> = match combine {
        Combine::Grid => {
            let mut out = vec![vec![]];
            for a in axes {
                out = out
                    .into_iter()
                    .flat_map(|c| {
                        (0..a.levels.len()).map(move |l| {
                            let mut c = c.clone();
                            c.push(l);
                            c
                        })
                    })
                    .collect();
            }
            out
        }
        Combine::Listed => {
            let n = axes.first().map(|a| a.levels.len()).unwrap_or(1);
            if let Some(a) = axes.iter().find(|a| a.levels.len() != n) {
                return Err(sweep_err(
                    file,
                    "combine",
                    format!(
                        "`listed` takes the i-th value of every axis, but axis `{}` has {} value(s) and axis `{}` has {n}",
                        a.name,
                        a.levels.len(),
                        axes[0].name
                    ),
                ));
            }
            (0..n).map(|i| vec![i; axes.len()]).collect()
        }
    };
    let seeds: Vec<Option<u64>> = if seeds.is_empty() {
        vec![None]
    } else {
        seeds.iter().map(|s| Some(*s)).collect()
    };
    let mut points = Vec::new();
    for c in combos {
        for s in &seeds {
            let index = points.len();
            let mut id = String::new();
            for (a, &l) in axes.iter().zip(&c) {
                let e = serde_json::to_string(&a.levels[l].edit).unwrap_or_default();
                id.push_str(&format!("{}={e};", a.name));
            }
            if let Some(s) = s {
                id.push_str(&format!("seed={s};"));
            }
            let h = crate::run::fnv1a(id.as_bytes());
            points.push(Point {
                index,
                dir: format!("{index:04}-{:08x}", (h ^ (h >> 32)) as u32),
                levels: c.clone(),
                seed: *s,
            });
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_and_linear_ranges_hit_round_numbers() {
        let r = |from, to, count, scale| RangeFile {
            from,
            to,
            count,
            scale,
        };
        assert_eq!(
            range_values(&r(0.1, 1000.0, 5, Scale::Log), 100).unwrap(),
            vec![0.1, 1.0, 10.0, 100.0, 1000.0]
        );
        assert_eq!(
            range_values(&r(0.0, 1.0, 5, Scale::Linear), 100).unwrap(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert!(range_values(&r(0.0, 1.0, 3, Scale::Log), 100).is_err());
        assert!(range_values(&r(0.0, 1.0, 101, Scale::Linear), 100).is_err());
    }

    #[test]
    fn units_come_from_key_names() {
        assert_eq!(unit_of_key("treatment[0].doses[0].peak_uM"), "µM");
        assert_eq!(unit_of_key("treatment[1].schedule.start_h"), "h");
        assert_eq!(unit_of_key("tcells.chemotaxis_over_motility"), "");
        assert_eq!(unit_of_key("tissue.tumor.cxcl12_decay_per_min"), "1/min");
    }
}
