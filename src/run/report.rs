//! A run folder's `report.html` (the page is `crate::report`'s): the run's name and
//! scenario, its key settings and dosing timeline, the readouts over time, the
//! time-lapses and final pictures, the budgets over the run and where the run came
//! from. Everything is read from the folder (`summary.json`, `scenario.resolved.toml`,
//! `metrics.csv`, `pictures/`), so the report is the same whether it is written at the
//! end of a run, of a resume, or by `infiltrate pictures` after a redraw. What the
//! folder lacks (pictures off, a run not finished) the page says instead.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Provenance;
use crate::error::{Error, Result};
use crate::report::Page;
use crate::units::{format_min, human_secs, significant};

/// One stock of the budget table: its name and unit, its `summary.json` keys at the
/// start (`time_integrated`) and end (`final`), its flows summed over the run (name and
/// key; inflows count +, outflows −) and its residual.
struct Stock {
    name: &'static str,
    unit: &'static str,
    start: &'static str,
    end: &'static str,
    flows: &'static [(&'static str, &'static str)],
    residual: &'static str,
}

/// The budgets of summary.json (docs/outputs.md): end − start = Σ flows + residual.
const STOCKS: [Stock; 4] = [
    Stock {
        name: "AMD3100",
        unit: "pmol",
        start: "amd3100_total_start_pmol",
        end: "amd3100_total_pmol",
        flows: &[
            ("from plasma", "amd3100_from_plasma_pmol"),
            ("from bath", "amd3100_from_bath_pmol"),
            ("decayed (−)", "amd3100_decayed_pmol"),
        ],
        residual: "amd3100_residual_pmol",
    },
    Stock {
        name: "anti-PD-1",
        unit: "fmol",
        start: "anti_pd1_total_start_fmol",
        end: "anti_pd1_total_fmol",
        flows: &[
            ("from plasma", "anti_pd1_from_plasma_fmol"),
            ("from bath", "anti_pd1_from_bath_fmol"),
            ("decayed (−)", "anti_pd1_decayed_fmol"),
        ],
        residual: "anti_pd1_residual_fmol",
    },
    Stock {
        name: "T cells",
        unit: "cells",
        start: "t_total_start_cells",
        end: "t_total_cells",
        flows: &[
            ("influx", "t_influx_cells"),
            ("proliferated", "t_proliferated_cells"),
            ("died (−)", "t_died_cells"),
        ],
        residual: "t_residual_cells",
    },
    Stock {
        name: "viable tumour",
        unit: "cells",
        start: "viable_tumor_start_cells",
        end: "viable_tumor_cells",
        flows: &[
            ("grown", "tumor_grown_cells"),
            ("killed (−)", "tumor_killed_cells"),
        ],
        residual: "tumor_residual_cells",
    },
];

/// A number of summary.json (None: absent or `null`, a NaN readout).
fn number(v: &Value, section: &str, key: &str) -> Option<f64> {
    v.get(section)?.get(key)?.as_f64()
}

/// A value as the report shows it: 4 significant digits, `–` for none.
fn shown(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| significant(x, 4))
}

/// Reads `dir/summary.json`: the reason instead when it is not there or not JSON (an
/// error only when it is there and cannot be read).
fn read_summary(dir: &Path) -> Result<std::result::Result<Value, String>> {
    let path = dir.join("summary.json");
    Ok(match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| format!("summary.json cannot be read ({e})"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "no summary.json: the run has not finished (a run writes it last), so there are \
             no final readouts, budgets or provenance"
                .to_string(),
        ),
        Err(e) => return Err(Error::io(&path, e)),
    })
}

/// Writes `dir/report.html` for the run folder `dir` (its summary.json read from the
/// folder); returns its path.
pub fn write(dir: &Path) -> Result<PathBuf> {
    page(dir, read_summary(dir)?)?.write(dir)
}

/// As [`write()`], with the run's summary given (the driver writes the report before
/// summary.json, which a run writes last).
pub fn write_with(dir: &Path, summary: &Value) -> Result<PathBuf> {
    page(dir, Ok(summary.clone()))?.write(dir)
}

/// The run report of the folder `dir`, with its summary (or why there is none).
fn page(dir: &Path, summary: std::result::Result<Value, String>) -> Result<Page> {
    let loaded = crate::scenario::load(&dir.join("scenario.resolved.toml"));
    let s = loaded.as_ref().ok().map(|l| &l.scenario);
    let run = summary.as_ref().ok().and_then(|v| v.get("run"));
    let name = s
        .map(|s| s.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| crate::compare::run_name(dir));
    let mut p = Page::new("infiltrate run report", &name);
    if let Some(s) = s {
        p.lead(&s.description);
    }
    let scenario = run
        .and_then(|r| r.get("scenario"))
        .and_then(Value::as_str)
        .map(|path| format!("scenario {path}, "))
        .unwrap_or_default();
    p.lead(&format!("{scenario}run folder {}", dir.display()));
    if let Err(why) = &summary {
        p.warning(why);
    }

    p.section("Settings");
    match &loaded {
        Ok(l) => settings(&mut p, &l.scenario, run),
        Err(e) => p.note(&format!(
            "The resolved scenario (scenario.resolved.toml) cannot be read, so its \
             settings and dosing are not shown: {e}"
        )),
    }

    p.section("Readouts");
    readouts(&mut p, dir, summary.as_ref().ok());

    let pictures_on = s.is_none_or(|s| s.output.pictures);
    let redraw = format!(
        "not drawn: `infiltrate pictures {}` draws it from the stored planes",
        dir.display()
    );
    if pictures_on {
        p.section("Time-lapses");
        p.picture_file(
            "The tissue with the T cells laid over it, snapshot by snapshot (animated)",
            dir,
            "pictures/timelapse-composite.png",
            &redraw,
        )?;
        p.picture_file(
            "T cells, snapshot by snapshot (animated)",
            dir,
            "pictures/timelapse-tcells.png",
            &redraw,
        )?;
        p.section("Final pictures");
        p.picture_file(
            "Every field at the last snapshot",
            dir,
            "pictures/final.png",
            &redraw,
        )?;
        p.text(
            "The frames of every snapshot and field are in pictures/frames/, the ParaView \
             files (if any) in paraview/.",
        );
    } else {
        p.section("Pictures");
        p.note(PICTURES_OFF);
    }

    p.section("Budgets over the run");
    match summary.as_ref() {
        Ok(v) => budgets(&mut p, v),
        Err(_) => p.note("No budgets: the run has not written summary.json."),
    }

    p.section("Provenance");
    match run {
        Some(r) => provenance(&mut p, r, dir),
        None => p.note("No provenance: the run has not written summary.json."),
    }
    Ok(p)
}

/// What the picture sections say of a run made without pictures.
const PICTURES_OFF: &str = "This run was made with pictures off (--no-pictures or \
                            output.pictures = false): there are no time-lapses or final \
                            pictures. metrics.csv and profile.csv hold the readouts.";

/// The scenario's key settings and its dosing timeline.
fn settings(p: &mut Page, s: &crate::scenario::Scenario, run: Option<&Value>) {
    let g = &s.grid;
    let h = g.voxel_um;
    let edge = |n: u32| significant(f64::from(n) * h, 4);
    let kind = serde_json::to_value(s.geometry.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let t = &s.time;
    let mut rows = vec![
        (
            "grid",
            format!(
                "{} × {} × {} voxels of {} µm ({} × {} × {} µm)",
                g.nx,
                g.ny,
                g.nz,
                significant(h, 4),
                edge(g.nx),
                edge(g.ny),
                edge(g.nz)
            ),
        ),
        ("tissue", kind),
        (
            "duration",
            format!(
                "{} after the start of dosing, after an untreated burn-in of {}",
                format_min(t.duration_h * 60.0),
                format_min(t.burn_in_h * 60.0)
            ),
        ),
        ("snapshots", super::check::snapshot_words(t)),
    ];
    if let Some(solver) = run.and_then(|r| r.get("solver")).and_then(Value::as_str) {
        rows.push(("solver", solver.to_string()));
    }
    p.facts(&rows);

    p.section("Dosing");
    if s.treatment.is_empty() {
        p.text("None: the run is untreated.");
        return;
    }
    let dosing = crate::dosing::Dosing::from_scenario(s);
    let params = crate::model::Params::from_scenario(s);
    let end = t.duration_h * 60.0;
    let rows: Vec<Vec<String>> = s
        .treatment
        .iter()
        .map(|tr| super::check::treatment_words(tr, &dosing, &params, end).to_vec())
        .collect();
    p.table(&["drug", "route", "doses"], &rows);
    p.text("Times count from the start of dosing (time 0).");
}

/// The final readouts and the metrics over time.
fn readouts(p: &mut Page, dir: &Path, summary: Option<&Value>) {
    if let Some(v) = summary {
        let at = |k: &str| number(v, "final", k);
        p.facts(&[
            ("at", format!("{} h", shown(at("time_h")))),
            ("killed fraction", shown(at("killed_fraction"))),
            (
                "infiltration ratio",
                format!(
                    "{} (T core / T margin; its mean over the run {})",
                    shown(at("infiltration_ratio")),
                    shown(number(v, "time_integrated", "infiltration_ratio_mean"))
                ),
            ),
            (
                "T cells",
                format!(
                    "{} per mm³ in the core, {} in the margin, {} in all",
                    shown(at("t_core_per_mm3")),
                    shown(at("t_margin_per_mm3")),
                    shown(at("t_total_cells"))
                ),
            ),
            (
                "tumour cells",
                format!(
                    "{} viable, {} killed",
                    shown(at("viable_tumor_cells")),
                    shown(at("killed_tumor_cells"))
                ),
            ),
        ]);
    }
    if !dir.join("metrics.csv").is_file() {
        p.note("No metrics.csv: the run wrote no snapshot.");
        return;
    }
    match crate::compare::read_run(dir) {
        Ok(run) => {
            let chart = crate::compare::metrics_chart(std::slice::from_ref(&run));
            p.picture(
                "Killed fraction and core infiltration ratio at each snapshot (from metrics.csv)",
                &chart.png_bytes(),
                None,
            );
        }
        Err(e) => p.note(&format!("metrics.csv cannot be read: {e}")),
    }
}

/// The budget of each stock over the run.
fn budgets(p: &mut Page, v: &Value) {
    let rows: Vec<Vec<String>> = STOCKS
        .iter()
        .map(|st| {
            let start = number(v, "time_integrated", st.start);
            let end = number(v, "final", st.end);
            let flows: Vec<String> = st
                .flows
                .iter()
                .map(|(name, key)| format!("{name} {}", shown(number(v, "time_integrated", key))))
                .collect();
            vec![
                st.name.to_string(),
                st.unit.to_string(),
                shown(start),
                shown(end),
                shown(start.zip(end).map(|(a, b)| b - a)),
                flows.join("; "),
                shown(number(v, "time_integrated", st.residual)),
            ]
        })
        .collect();
    p.table(
        &[
            "stock",
            "unit",
            "at 0",
            "at the end",
            "change",
            "flows over the run",
            "residual",
        ],
        &rows,
    );
    p.text(
        "Summed over the run: change = inflows − outflows (marked −) + residual. The \
         residual is the time integration's error over the snapshot intervals \
         (docs/outputs.md); metrics.csv has each interval's flows.",
    );
}

/// Where the run came from: summary.json's `run` section.
fn provenance(p: &mut Page, r: &Value, dir: &Path) {
    let text = |k: &str| match r.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "–".to_string(),
        Some(other) => other.to_string(),
    };
    let version = serde_json::from_value::<Provenance>(r.clone())
        .map(|pr| format!("infiltrate {}", pr.version_line()))
        .unwrap_or_else(|_| format!("infiltrate {}", text("program_version")));
    let command = r
        .get("command_line")
        .and_then(Value::as_array)
        .map(|words| {
            words
                .iter()
                .map(|w| w.as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "–".to_string());
    let wall = r.get("wall_time_s").and_then(Value::as_f64).map_or_else(
        || "–".to_string(),
        |s| match human_secs(s) {
            short if s < 60.0 => short,
            long => format!("{long} ({s:.0} s)"),
        },
    );
    let adapter = match r.get("adapter") {
        Some(Value::String(a)) => format!("{a} ({})", text("driver")),
        _ => "none (CPU solver)".to_string(),
    };
    p.facts(&[
        ("program", version),
        ("commit", text("commit")),
        ("started", text("started_utc")),
        ("host", format!("{} ({})", text("host"), text("cpu"))),
        ("command line", command),
        ("backend", text("backend")),
        ("solver", text("solver")),
        ("adapter", adapter),
        ("threads", text("threads")),
        ("wall time", wall),
        ("cell steps", text("cell_steps")),
        ("snapshots", text("snapshots")),
        ("scenario", text("scenario")),
        ("scenario hash", text("scenario_hash")),
        ("run folder", dir.display().to_string()),
    ]);
}
