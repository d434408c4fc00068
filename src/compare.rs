//! `infiltrate compare`: several finished runs side by side. A plot of killed fraction
//! and core infiltration ratio over time, a summary table (markdown and CSV) with each
//! run's gain over the untreated baseline, the final pictures of every run in one
//! colour range per field, and a report.html of it all.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::pictures::planes::{read_all, Planes};
use crate::pictures::render::{common_ranges, composite_panel, field_panel, mapping, Look, FIELDS};
use crate::plot::{format_number, line_height, Canvas, LinePlot, Series, BLACK, WHITE};

/// What `compare` is asked to do.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Run folders (each with `metrics.csv` and `scenario.resolved.toml`).
    pub runs: Vec<PathBuf>,
    /// Output folder (created if absent; files of the same name are replaced).
    pub out: PathBuf,
    /// The run the gains are measured against; None = the first whose name contains
    /// "untreated" (case-insensitive), if any.
    pub baseline: Option<PathBuf>,
    /// Fixed colour ranges by plane name (others span all runs' final planes, the T
    /// cells' with a robust top) and the T-cell scale (a per-frame range is not used:
    /// the runs share one range).
    pub look: Look,
}

/// One run as compare reads it.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    /// `name` from `scenario.resolved.toml`, else the folder name.
    pub name: String,
    /// (time h, killed fraction, infiltration ratio) per snapshot.
    pub rows: Vec<(f64, f64, f64)>,
}

impl RunData {
    /// The final row (NaN if the run has none).
    pub fn last(&self) -> (f64, f64, f64) {
        self.rows
            .last()
            .copied()
            .unwrap_or((f64::NAN, f64::NAN, f64::NAN))
    }
}

/// Reads a run folder's name and metrics.
pub fn read_run(dir: &Path) -> Result<RunData> {
    let metrics = dir.join("metrics.csv");
    let text = std::fs::read_to_string(&metrics).map_err(|e| Error::io(&metrics, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::Other(format!(
                "{}: no column `{name}` in the header (found: {})",
                metrics.display(),
                header.join(", ")
            ))
        })
    };
    let (ct, ck, ci) = (
        col("time_h")?,
        col("killed_fraction")?,
        col("infiltration_ratio")?,
    );
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |c: usize| -> Result<f64> {
            let s = cells.get(c).map(|s| s.trim()).unwrap_or("");
            s.parse().map_err(|_| {
                Error::Other(format!(
                    "{}:{}: `{s}` in column {} is not a number",
                    metrics.display(),
                    n + 2,
                    header.get(c).unwrap_or(&"?")
                ))
            })
        };
        rows.push((get(ct)?, get(ck)?, get(ci)?));
    }
    Ok(RunData {
        dir: dir.to_path_buf(),
        name: run_name(dir),
        rows,
    })
}

/// The scenario's `name` from `scenario.resolved.toml`, else the folder's name.
pub fn run_name(dir: &Path) -> String {
    let from_toml = std::fs::read_to_string(dir.join("scenario.resolved.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("name").and_then(|v| v.as_str()).map(str::to_string))
        .filter(|n| !n.trim().is_empty());
    from_toml.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string())
    })
}

/// What compare wrote.
#[derive(Debug, Clone)]
pub struct Compared {
    pub runs: Vec<RunData>,
    /// Index of the baseline run in `runs`, if any.
    pub baseline: Option<usize>,
    /// The summary in markdown: the time compared at, any warnings, the table.
    pub markdown: String,
    pub files: Vec<PathBuf>,
    /// What makes the comparison unfair ([`mismatches`]), also in `markdown`.
    pub warnings: Vec<String>,
}

/// Compares the runs, writing `metrics.png`, `summary.md`, `summary.csv`, (for runs
/// with stored planes) `final-composite.png`, `final-tcells.png`,
/// `final-tcells_mip.png`, `final-tumor.png`, `final-killed.png` and `final-arms.png`
/// (a column per run: T cells, viable and killed tumour), and last `report.html` (all
/// of it on one self-contained page, `crate::report`) into `opts.out`.
pub fn compare(opts: &CompareOptions) -> Result<Compared> {
    if opts.runs.is_empty() {
        return Err(Error::Other("compare needs at least one run folder".into()));
    }
    let runs: Vec<RunData> = opts
        .runs
        .iter()
        .map(|d| read_run(d))
        .collect::<Result<_>>()?;
    let baseline = match &opts.baseline {
        Some(b) => {
            let want = canonical(b);
            match runs.iter().position(|r| canonical(&r.dir) == want) {
                Some(i) => Some(i),
                None => {
                    return Err(Error::Other(format!(
                        "--baseline {} is not among the runs compared",
                        b.display()
                    )))
                }
            }
        }
        None => runs
            .iter()
            .position(|r| r.name.to_lowercase().contains("untreated")),
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = opts.out.join(name);
        write_atomic(&p, bytes)?;
        files.push(p);
        Ok(())
    };

    put("metrics.png", &metrics_chart(&runs).png_bytes())?;

    let (table, csv) = tables(&runs, baseline);
    let warnings = mismatches(&runs);
    let ends: Vec<f64> = runs.iter().map(|r| r.last().0).collect();
    let mut markdown = if warnings.is_empty() {
        format!(
            "Compared at t = {} h after the start of dosing (each run's last snapshot).\n\n",
            format_number(ends[0])
        )
    } else {
        "Compared at each run's last snapshot (see the warnings).\n\n".to_string()
    };
    for w in &warnings {
        markdown.push_str(&format!("**warning:** {w}\n\n"));
    }
    markdown.push_str(&table);
    put("summary.md", markdown.as_bytes())?;
    put("summary.csv", csv.as_bytes())?;

    let finals: Vec<(String, Planes)> = runs
        .iter()
        .filter_map(|r| {
            let all = read_all(&r.dir.join("pictures").join("planes")).ok()?;
            all.into_iter().last().map(|p| (r.name.clone(), p))
        })
        .collect();
    if !finals.is_empty() {
        let mut look = Look {
            // One range for all runs: a per-frame range would hide their differences.
            tcells_per_frame: false,
            ..opts.look.clone()
        };
        if let Some(t) = look.fixed.get("tcells").copied() {
            look.fixed.entry("tcells_mip".into()).or_insert(t);
        }
        let ranges = common_ranges(finals.iter().map(|(_, p)| p), &look.fixed);
        let side = |draw: &dyn Fn(&Planes) -> Option<Canvas>| -> Canvas {
            let parts: Vec<Canvas> = finals
                .iter()
                .filter_map(|(name, p)| draw(p).map(|c| label_above(name, &c)))
                .collect();
            Canvas::hstack(&parts, 12, WHITE)
        };
        put(
            "final-composite.png",
            &side(&|p| Some(composite_panel(p, &ranges))).png_bytes(),
        )?;
        let panel = |p: &Planes, key: &str| {
            let spec = FIELDS.iter().find(|f| f.key == key).expect("known field");
            field_panel(p, spec, mapping(p, key, &ranges, &look))
        };
        for key in ["tcells", "tcells_mip", "tumor", "killed"] {
            put(
                &format!("final-{key}.png"),
                &side(&|p| panel(p, key)).png_bytes(),
            )?;
        }
        // One column per run: where the T cells are, above the viable and the killed
        // tumour, in ranges shared by the runs.
        let column = |p: &Planes| -> Option<Canvas> {
            let parts: Vec<Canvas> = ["tcells", "tumor", "killed"]
                .iter()
                .filter_map(|k| panel(p, k))
                .collect();
            (!parts.is_empty()).then(|| Canvas::vstack(&parts, 8, WHITE))
        };
        put("final-arms.png", &side(&column).png_bytes())?;
    }
    let mut compared = Compared {
        runs,
        baseline,
        markdown,
        files,
        warnings,
    };
    let report = report(&compared)?.write(&opts.out)?;
    compared.files.push(report);
    Ok(compared)
}

/// What each picture compare writes shows, for the report.
const CAPTIONS: [(&str, &str); 7] = [
    (
        "metrics.png",
        "Killed fraction and core infiltration ratio of each run over time",
    ),
    (
        "final-composite.png",
        "The tissue with the T cells laid over it at each run's last snapshot",
    ),
    (
        "final-tcells.png",
        "T cells in the picture plane at the end",
    ),
    (
        "final-tcells_mip.png",
        "T cells at the end, the largest value along the view (maximum intensity projection)",
    ),
    ("final-tumor.png", "Viable tumour at the end"),
    ("final-killed.png", "Killed tumour at the end"),
    (
        "final-arms.png",
        "A column per run: T cells above viable and killed tumour, in shared ranges",
    ),
];

/// compare's report.html: the summary table, the warnings and every picture written.
fn report(c: &Compared) -> Result<crate::report::Page> {
    let names: Vec<&str> = c.runs.iter().map(|r| r.name.as_str()).collect();
    let mut p = crate::report::Page::new(
        "infiltrate compare report",
        &match c.runs.len() {
            1 => "1 run".to_string(),
            n => format!("{n} runs compared"),
        },
    );
    p.lead(&names.join(" · "));
    if let Some(first) = c.markdown.lines().next() {
        p.lead(first);
    }
    if !c.warnings.is_empty() {
        p.section("Warnings");
        for w in &c.warnings {
            p.warning(w);
        }
    }
    p.section("Summary");
    let table = summary_table(&c.runs, c.baseline);
    p.table(&table.header, &table.rows);
    if let Some(note) = &table.note {
        p.note(note);
    }
    p.text(
        "Gains: killed fraction minus the baseline's, infiltration ratio divided by the \
         baseline's, at each run's last snapshot. summary.csv has the same numbers in full.",
    );
    p.section("Runs");
    let rows: Vec<Vec<String>> = c
        .runs
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.dir.display().to_string(),
                r.rows.len().to_string(),
            ]
        })
        .collect();
    p.table(&["run", "folder", "snapshots"], &rows);
    p.section("Pictures");
    let mut any_planes = false;
    for f in &c.files {
        let Some(file) = f.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if !file.ends_with(".png") {
            continue;
        }
        any_planes |= file.starts_with("final-");
        let caption = CAPTIONS
            .iter()
            .find(|(name, _)| *name == file)
            .map_or(file.as_str(), |(_, caption)| caption);
        let dir = f.parent().unwrap_or(Path::new("."));
        p.picture_file(caption, dir, &file, "not written")?;
    }
    if !any_planes {
        p.note(
            "No final pictures: none of the runs has stored planes (pictures/planes/; runs \
             made with pictures off have none).",
        );
    }
    Ok(p)
}

/// The killed fraction and the core infiltration ratio of each run over time, one chart
/// above the other: compare's `metrics.png`, and the run report's (`crate::report`).
pub fn metrics_chart(runs: &[RunData]) -> Canvas {
    let plot = |title: &str, y: &str, pick: fn(&(f64, f64, f64)) -> f64| LinePlot {
        title: title.into(),
        x_label: "time after the start of dosing (h)".into(),
        y_label: y.into(),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name.clone(),
                points: r.rows.iter().map(|row| (row.0, pick(row))).collect(),
            })
            .collect(),
    };
    Canvas::vstack(
        &[
            plot("killed fraction", "killed fraction", |r| r.1).render(),
            plot(
                "core infiltration ratio (T core / T margin)",
                "infiltration ratio",
                |r| r.2,
            )
            .render(),
        ],
        10,
        WHITE,
    )
}

/// What makes the runs' comparison unfair: different end times (each is compared at
/// its own last snapshot) or different grids (voxel counts and edge, from each run's
/// `scenario.resolved.toml`).
pub fn mismatches(runs: &[RunData]) -> Vec<String> {
    let mut out = Vec::new();
    let ends: Vec<f64> = runs.iter().map(|r| r.last().0).collect();
    if ends.iter().any(|&t| t != ends[0]) {
        let list: Vec<String> = runs
            .iter()
            .zip(&ends)
            .map(|(r, t)| format!("{} at {} h", r.name, format_number(*t)))
            .collect();
        out.push(format!(
            "the runs end at different times ({}): each is compared at its own last \
             snapshot, so the gains mix times; run them to the same end (`--until` on \
             resume, `--duration`)",
            list.join(", ")
        ));
    }
    let grids: Vec<Option<String>> = runs.iter().map(|r| grid_of(&r.dir)).collect();
    if grids.iter().any(|g| g != &grids[0]) {
        let list: Vec<String> = runs
            .iter()
            .zip(&grids)
            .map(|(r, g)| format!("{}: {}", r.name, g.as_deref().unwrap_or("unknown")))
            .collect();
        out.push(format!(
            "the runs have different grids ({}): their readouts differ by the \
             discretisation too (docs/convergence.md)",
            list.join("; ")
        ));
    }
    out
}

/// "40 × 40 × 25 of 10 µm" from a run's `scenario.resolved.toml`.
fn grid_of(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("scenario.resolved.toml")).ok()?;
    let t: toml::Table = text.parse().ok()?;
    let g = t.get("grid")?.as_table()?;
    let int = |k: &str| g.get(k).and_then(|v| v.as_integer());
    let h = g
        .get("voxel_um")
        .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))?;
    Some(format!(
        "{} × {} × {} of {} µm",
        int("nx")?,
        int("ny")?,
        int("nz")?,
        format_number(h)
    ))
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `c` with `name` written above it (cut to the picture's width).
fn label_above(name: &str, c: &Canvas) -> Canvas {
    let lh = line_height(2);
    let max_chars = (c.width / (6 * 2)).max(1) as usize;
    let shown: String = name.chars().take(max_chars).collect();
    let mut head = Canvas::new(c.width, lh + 6, WHITE);
    head.text(10, 4, &shown, 2, BLACK);
    Canvas::vstack(&[head, c.clone()], 0, WHITE)
}

/// One run's row of the summary: final time, killed fraction, infiltration ratio, and
/// the gains over the baseline (killed fraction minus the baseline's, infiltration
/// ratio divided by the baseline's; NaN without a baseline).
fn summary_values(r: &RunData, base: Option<(f64, f64, f64)>) -> [f64; 5] {
    let (t, k, ir) = r.last();
    let (gain, fold) = match base {
        Some((_, bk, bi)) => (k - bk, if bi != 0.0 { ir / bi } else { f64::NAN }),
        None => (f64::NAN, f64::NAN),
    };
    [t, k, ir, gain, fold]
}

/// The summary table as text: its header, a row of cells per run (the baseline marked),
/// and the note when there is no baseline. summary.md and the report show it.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryTable {
    pub header: [&'static str; 6],
    pub rows: Vec<[String; 6]>,
    pub note: Option<String>,
}

/// The summary table of the runs against the baseline (see [`tables`]).
pub fn summary_table(runs: &[RunData], baseline: Option<usize>) -> SummaryTable {
    let base = baseline.map(|i| runs[i].last());
    let cell = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else {
            "–".into()
        }
    };
    let rows = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let [t, k, ir, gain, fold] = summary_values(r, base);
            let mark = if Some(i) == baseline {
                " (baseline)"
            } else {
                ""
            };
            [
                format!("{}{mark}", r.name),
                format_number(t),
                cell(k),
                cell(ir),
                cell(gain),
                cell(fold),
            ]
        })
        .collect();
    SummaryTable {
        header: [
            "run",
            "final time (h)",
            "killed fraction",
            "infiltration ratio",
            "killed fraction − baseline",
            "infiltration ratio ÷ baseline",
        ],
        rows,
        note: base
            .is_none()
            .then(|| "No baseline: no run's name contains \"untreated\" (see --baseline).".into()),
    }
}

/// The summary as a markdown table and as CSV. Gains: killed fraction minus the
/// baseline's (absolute), infiltration ratio divided by the baseline's.
pub fn tables(runs: &[RunData], baseline: Option<usize>) -> (String, String) {
    let table = summary_table(runs, baseline);
    let mut md = format!(
        "| {} |\n|---|---:|---:|---:|---:|---:|\n",
        table.header.join(" | ")
    );
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "/")).collect();
        md.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if let Some(note) = &table.note {
        md.push_str(&format!("\n{note}\n"));
    }
    let base = baseline.map(|i| runs[i].last());
    let mut csv = String::from(
        "name,run_dir,final_time_h,killed_fraction,infiltration_ratio,killed_fraction_gain,infiltration_ratio_fold\n",
    );
    for r in runs {
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v:.6e}")
            } else {
                String::new()
            }
        };
        let values: Vec<String> = summary_values(r, base).into_iter().map(num).collect();
        csv.push_str(&format!(
            "{},{},{}\n",
            csv_field(&r.name),
            csv_field(&r.dir.display().to_string()),
            values.join(",")
        ));
    }
    (md, csv)
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
