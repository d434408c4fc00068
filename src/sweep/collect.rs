//! Gathering a sweep folder: every point's final readouts (from the last row of its
//! `metrics.csv`) and ∫T_core dt (trapezoid rule over its rows) into `sweep.csv`,
//! heatmaps of each readout over each pair of axes (other axes fixed, seeds averaged),
//! line plots for one-axis sweeps, and a report.html of it all.

use std::path::{Path, PathBuf};

use super::{failure, run_dir, status, Failure, Manifest, ManifestAxis, Point, Status};
use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::{ColorMap, Heatmap, LinePlot, Series};

/// A readout gathered per point.
#[derive(Debug, Clone, Copy)]
pub struct Readout {
    /// The column in `sweep.csv`.
    pub column: &'static str,
    /// Title in plots.
    pub title: &'static str,
    /// Unit for axis and colour-bar labels (empty: dimensionless).
    pub unit: &'static str,
    cmap: ColorMap,
}

/// The readouts of `sweep.csv`, in column order.
pub const READOUTS: [Readout; 3] = [
    Readout {
        column: "killed_fraction",
        title: "killed fraction (final)",
        unit: "",
        cmap: ColorMap::Magma,
    },
    Readout {
        column: "infiltration_ratio",
        title: "core infiltration ratio T_core / T_margin (final)",
        unit: "",
        cmap: ColorMap::Viridis,
    },
    Readout {
        column: "t_core_integral_per_mm3_h",
        title: "time-integrated T in the core",
        unit: "cells/mm³·h",
        cmap: ColorMap::Viridis,
    },
];

/// One point's row of `sweep.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub point: Point,
    pub status: Status,
    /// One per [`READOUTS`]; NaN when the point has not finished.
    pub values: [f64; 3],
}

/// What `collect` gathered and wrote.
#[derive(Debug, Clone)]
pub struct Collected {
    pub rows: Vec<Row>,
    pub failed: Vec<(Point, Failure)>,
    pub missing: Vec<Point>,
    pub csv: PathBuf,
    pub pictures: Vec<PathBuf>,
    /// `report.html`: all of it on one self-contained page (`crate::report`).
    pub report: PathBuf,
}

/// The final readouts and ∫T_core dt of one run's `metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<[f64; 3]> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| Error::Other(format!("{}: empty", path.display())))?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| Error::Other(format!("{}: no column `{name}`", path.display())))
    };
    let (ti, ci, ki, ii) = (
        col("time_h")?,
        col("t_core_per_mm3")?,
        col("killed_fraction")?,
        col("infiltration_ratio")?,
    );
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (n, l) in lines.enumerate() {
        let r: std::result::Result<Vec<f64>, _> = l.split(',').map(|x| x.trim().parse()).collect();
        let r = r.map_err(|e| Error::Other(format!("{}: row {}: {e}", path.display(), n + 2)))?;
        if r.len() != header.len() {
            return Err(Error::Other(format!(
                "{}: row {} has {} values, the header {}",
                path.display(),
                n + 2,
                r.len(),
                header.len()
            )));
        }
        rows.push(r);
    }
    let last = rows
        .last()
        .ok_or_else(|| Error::Other(format!("{}: no rows", path.display())))?;
    let integral: f64 = rows
        .windows(2)
        .map(|w| 0.5 * (w[0][ci] + w[1][ci]) * (w[1][ti] - w[0][ti]))
        .sum();
    Ok([last[ki], last[ii], integral])
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.9e}")
    }
}

/// Gathers `out` into `out/sweep.csv`, pictures under `out/plots/` and
/// `out/report.html`.
pub fn collect(out: &Path) -> Result<Collected> {
    let m = Manifest::read(out)?;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for p in &m.points {
        let st = status(out, p);
        let values = match st {
            Status::Finished => read_metrics(&run_dir(out, p).join("metrics.csv"))?,
            _ => [f64::NAN; 3],
        };
        match st {
            Status::Failed => failed.push((
                p.clone(),
                failure(out, p).unwrap_or(Failure {
                    exit_code: None,
                    error: String::new(),
                }),
            )),
            Status::Missing => missing.push(p.clone()),
            Status::Finished => {}
        }
        rows.push(Row {
            point: p.clone(),
            status: st,
            values,
        });
    }

    let mut csv = String::from("index,point");
    for a in &m.axes {
        csv.push(',');
        csv.push_str(&csv_field(&a.name));
    }
    if !m.seeds.is_empty() {
        csv.push_str(",seed");
    }
    csv.push_str(",status");
    for r in READOUTS {
        csv.push(',');
        csv.push_str(r.column);
    }
    csv.push('\n');
    for r in &rows {
        csv.push_str(&format!("{},{}", r.point.index, r.point.dir));
        for (a, &l) in m.axes.iter().zip(&r.point.levels) {
            csv.push(',');
            csv.push_str(&csv_field(&a.labels[l]));
        }
        if let Some(s) = r.point.seed {
            csv.push_str(&format!(",{s}"));
        }
        csv.push(',');
        csv.push_str(r.status.as_str());
        for v in r.values {
            csv.push(',');
            csv.push_str(&num(v));
        }
        csv.push('\n');
    }
    let csv_path = out.join("sweep.csv");
    write_atomic(&csv_path, csv.as_bytes())?;

    let pictures = draw(out, &m, &rows)?;
    let mut collected = Collected {
        rows,
        failed,
        missing,
        csv: csv_path,
        pictures,
        report: PathBuf::new(),
    };
    collected.report = report(out, &m, &collected)?.write(out)?;
    Ok(collected)
}

/// A readout as the report's table shows it: 4 significant digits, `–` for none.
fn cell(v: f64) -> String {
    if v.is_finite() {
        crate::units::significant(v, 4)
    } else {
        "–".to_string()
    }
}

/// The sweep's report.html: its axes, the state of its points, the table of sweep.csv
/// and every plot written.
fn report(out: &Path, m: &Manifest, c: &Collected) -> Result<crate::report::Page> {
    let title = if m.name.trim().is_empty() {
        "sweep"
    } else {
        m.name.as_str()
    };
    let mut p = crate::report::Page::new("infiltrate sweep report", title);
    p.lead(&format!(
        "sweep file {}, base scenario {}, folder {}",
        m.sweep_file,
        m.base,
        out.display()
    ));
    let finished = c
        .rows
        .iter()
        .filter(|r| r.status == Status::Finished)
        .count();
    p.lead(&format!(
        "{} points: {finished} finished, {} failed, {} not finished",
        c.rows.len(),
        c.failed.len(),
        c.missing.len()
    ));

    p.section("Axes");
    let axes: Vec<Vec<String>> = m
        .axes
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.key
                    .clone()
                    .unwrap_or_else(|| "(several keys)".to_string()),
                a.unit.clone(),
                a.labels.join(", "),
            ]
        })
        .collect();
    p.table(&["axis", "key", "unit", "levels"], &axes);
    if !m.seeds.is_empty() {
        let seeds: Vec<String> = m.seeds.iter().map(u64::to_string).collect();
        p.text(&format!(
            "Each combination runs with the seeds {}; the plots show their mean.",
            seeds.join(", ")
        ));
    }

    if !c.failed.is_empty() {
        p.section("Failed points");
        let rows: Vec<Vec<String>> = c
            .failed
            .iter()
            .map(|(pt, f)| {
                vec![
                    pt.dir.clone(),
                    f.exit_code.map_or("?".into(), |e| e.to_string()),
                    f.error.clone(),
                ]
            })
            .collect();
        p.table(&["point", "exit code", "error"], &rows);
    }

    p.section("Points");
    let mut header: Vec<&str> = vec!["index", "point"];
    header.extend(m.axes.iter().map(|a| a.name.as_str()));
    if !m.seeds.is_empty() {
        header.push("seed");
    }
    header.push("status");
    header.extend(READOUTS.iter().map(|r| r.column));
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![r.point.index.to_string(), r.point.dir.clone()];
            row.extend(
                m.axes
                    .iter()
                    .zip(&r.point.levels)
                    .map(|(a, &l)| a.labels.get(l).cloned().unwrap_or_default()),
            );
            if !m.seeds.is_empty() {
                row.push(r.point.seed.map_or(String::new(), |s| s.to_string()));
            }
            row.push(r.status.as_str().to_string());
            row.extend(r.values.iter().map(|&v| cell(v)));
            row
        })
        .collect();
    p.table(&header, &rows);
    let units: Vec<String> = READOUTS
        .iter()
        .map(|r| {
            let unit = if r.unit.is_empty() {
                String::new()
            } else {
                format!(", {}", r.unit)
            };
            format!("{}: {}{unit}", r.column, r.title)
        })
        .collect();
    p.text(&format!(
        "{}. sweep.csv has the same table in full precision.",
        units.join("; ")
    ));

    p.section("Plots");
    if c.pictures.is_empty() {
        p.note("No plots: the sweep varies no axis over two or more levels.");
    }
    for f in &c.pictures {
        let Ok(rel) = f.strip_prefix(out) else {
            continue;
        };
        let rel = rel.to_string_lossy().into_owned();
        let caption = f
            .file_stem()
            .map(|s| s.to_string_lossy().replace("__", " · "))
            .unwrap_or_default();
        p.picture_file(&caption, out, &rel, "not written")?;
    }
    Ok(p)
}

/// A file-name-safe version of a label.
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(40);
    out
}

/// The mean of a readout over the finished points matching `levels` (None: any level),
/// i.e. averaged over seeds and over unfixed axes; NaN if none.
fn mean_at(rows: &[Row], levels: &[Option<usize>], readout: usize) -> f64 {
    let vals: Vec<f64> = rows
        .iter()
        .filter(|r| r.status == Status::Finished)
        .filter(|r| {
            levels
                .iter()
                .zip(&r.point.levels)
                .all(|(want, have)| want.is_none_or(|w| w == *have))
        })
        .map(|r| r.values[readout])
        .filter(|v| v.is_finite())
        .collect();
    if vals.is_empty() {
        f64::NAN
    } else {
        vals.iter().sum::<f64>() / vals.len() as f64
    }
}

/// Every combination of levels of the axes in `which` (others None).
fn combos(axes: &[ManifestAxis], which: &[usize]) -> Vec<Vec<Option<usize>>> {
    let mut out = vec![vec![None; axes.len()]];
    for &a in which {
        out = out
            .into_iter()
            .flat_map(|c| {
                (0..axes[a].labels.len()).map(move |l| {
                    let mut c = c.clone();
                    c[a] = Some(l);
                    c
                })
            })
            .collect();
    }
    out
}

/// At most this many fixed combinations of the other axes get their own heatmaps.
const MAX_PANELS: usize = 16;

/// Heatmaps of one readout over each pair of axes.
struct Maps<'a> {
    dir: &'a Path,
    m: &'a Manifest,
    readout: &'a Readout,
    seeds: &'a str,
}

impl Maps<'_> {
    /// One heatmap per pair of the axes `varied` and per combination of the others'
    /// levels (at most [`MAX_PANELS`]); `value` gives a cell from the fixed levels.
    fn draw(
        &self,
        varied: &[usize],
        prefix: &str,
        title_prefix: &str,
        value: &dyn Fn(&[Option<usize>]) -> f64,
    ) -> Result<Vec<PathBuf>> {
        let (m, r) = (self.m, self.readout);
        let unit = if r.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.unit)
        };
        let mut written = Vec::new();
        for (i, &ya) in varied.iter().enumerate() {
            for &xa in &varied[i + 1..] {
                let others: Vec<usize> = varied
                    .iter()
                    .copied()
                    .filter(|&a| a != xa && a != ya)
                    .collect();
                let mut panels = combos(&m.axes, &others);
                panels.truncate(MAX_PANELS);
                for fixed in panels {
                    let (x, y) = (&m.axes[xa], &m.axes[ya]);
                    let mut values = Vec::new();
                    for yl in 0..y.labels.len() {
                        for xl in 0..x.labels.len() {
                            let mut lv = fixed.clone();
                            lv[xa] = Some(xl);
                            lv[ya] = Some(yl);
                            values.push(value(&lv));
                        }
                    }
                    let fixed_text: Vec<String> = others
                        .iter()
                        .map(|&a| {
                            let l = fixed[a].expect("others are fixed");
                            format!("{} = {}", m.axes[a].name, m.axes[a].labels[l])
                        })
                        .collect();
                    let mut title = format!("{title_prefix}{}", r.title);
                    if !fixed_text.is_empty() {
                        title.push_str(&format!(", {}", fixed_text.join(", ")));
                    }
                    title.push_str(self.seeds);
                    let h = Heatmap {
                        title,
                        x_label: x.title(),
                        y_label: y.title(),
                        x_ticks: x.labels.clone(),
                        y_ticks: y.labels.clone(),
                        values,
                        colorbar_label: if prefix.is_empty() {
                            format!("{}{unit}", r.column)
                        } else {
                            format!("difference in {}{unit}", r.column)
                        },
                        range: None,
                        cmap: r.cmap,
                    };
                    let mut name = format!(
                        "{prefix}{}__{}_vs_{}",
                        r.column,
                        slug(&x.name),
                        slug(&y.name)
                    );
                    for &a in &others {
                        let l = fixed[a].expect("others are fixed");
                        name.push_str(&format!(
                            "__{}-{}",
                            slug(&m.axes[a].name),
                            slug(&m.axes[a].labels[l])
                        ));
                    }
                    let path = self.dir.join(format!("{name}.png"));
                    write_atomic(&path, &h.render().png_bytes())?;
                    written.push(path);
                }
            }
        }
        Ok(written)
    }
}

fn draw(out: &Path, m: &Manifest, rows: &[Row]) -> Result<Vec<PathBuf>> {
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut written = Vec::new();
    let varied: Vec<usize> = (0..m.axes.len())
        .filter(|&a| m.axes[a].labels.len() >= 2)
        .collect();
    let seeds = if m.seeds.len() > 1 {
        format!(", mean of {} seeds", m.seeds.len())
    } else {
        String::new()
    };
    for (ri, r) in READOUTS.iter().enumerate() {
        let unit = if r.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.unit)
        };
        let maps = Maps {
            dir: &dir,
            m,
            readout: r,
            seeds: &seeds,
        };
        written.extend(maps.draw(&varied, "", "", &|lv| mean_at(rows, lv, ri))?);
        if let Some(c) = &m.contrast {
            let ca = m.axes.iter().position(|a| a.name == c.axis);
            let level = |l: &str| ca.and_then(|a| m.axes[a].labels.iter().position(|x| x == l));
            if let (Some(ca), Some(lc)) = (ca, level(&c.level)) {
                let against: Vec<usize> = c.against.iter().filter_map(|l| level(l)).collect();
                let rest: Vec<usize> = varied.iter().copied().filter(|&a| a != ca).collect();
                let value = |lv: &[Option<usize>]| {
                    let at = |l: usize| {
                        let mut lv = lv.to_vec();
                        lv[ca] = Some(l);
                        mean_at(rows, &lv, ri)
                    };
                    let best = against
                        .iter()
                        .map(|&l| at(l))
                        .fold(f64::NEG_INFINITY, f64::max);
                    at(lc) - best
                };
                let title = format!("{} minus the best of {}: ", c.level, c.against.join(", "));
                let prefix = format!("contrast_{}__", slug(&c.level));
                written.extend(maps.draw(&rest, &prefix, &title, &value)?);
            }
        }
        if let [xa] = varied[..] {
            let x = &m.axes[xa];
            let numeric = x.numbers.iter().all(|n| n.is_some());
            let points = (0..x.labels.len())
                .map(|l| {
                    let mut lv = vec![None; m.axes.len()];
                    lv[xa] = Some(l);
                    let xv = if numeric {
                        x.numbers[l].unwrap_or(l as f64)
                    } else {
                        l as f64
                    };
                    (xv, mean_at(rows, &lv, ri))
                })
                .filter(|(_, v)| v.is_finite())
                .collect();
            let x_label = if numeric {
                x.title()
            } else {
                let named: Vec<String> = x
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("{i} = {l}"))
                    .collect();
                format!("{} ({})", x.name, named.join(", "))
            };
            let plot = LinePlot {
                title: format!("{}{seeds}", r.title),
                x_label,
                y_label: format!("{}{unit}", r.column),
                series: vec![Series {
                    name: r.column.to_string(),
                    points,
                }],
            };
            let path = dir.join(format!("{}__{}.png", r.column, slug(&x.name)));
            write_atomic(&path, &plot.render().png_bytes())?;
            written.push(path);
        }
    }
    Ok(written)
}
