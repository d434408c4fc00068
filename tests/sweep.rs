//! Sweeps: expansion is exact (grid, listed, log ranges, overlays, seeds), bad keys are
//! refused naming the closest valid key, and a local sweep of six tiny points finishes,
//! resumes without redoing finished points, and collects into a table and PNGs.

mod common;

use common::{root, text};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use infiltrate::sweep::Sweep;

/// Writes a sweep file next to a copy of the tiny base scenario's path.
fn sweep_file(dir: &Path, body: &str) -> PathBuf {
    let base = root().join("tests/sweeps/tiny.toml");
    let path = dir.join("sweep.toml");
    fs::write(
        &path,
        format!("base = {:?}\n{body}", base.display().to_string()),
    )
    .unwrap();
    path
}

#[test]
fn grid_with_log_range_and_seeds_expands_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let f = sweep_file(
        dir.path(),
        r#"
seeds = [7, 8]
[[axis]]
key = "tcells.chemotaxis_over_motility"
values = [1.0, 2.5]
[[axis]]
key = "treatment[0].level_uM"
name = "amd"
range = { from = 0.01, to = 100.0, count = 5, scale = "log" }
"#,
    );
    let s = Sweep::read(&f).unwrap();
    assert_eq!(s.points.len(), 2 * 5 * 2);
    let amd: Vec<f64> = s.axes[1].levels.iter().map(|l| l.number.unwrap()).collect();
    assert_eq!(amd, vec![0.01, 0.1, 1.0, 10.0, 100.0]);
    assert_eq!(s.axes[1].unit, "µM");
    assert_eq!(s.axes[0].name, "chemotaxis_over_motility");
    // Last axis fastest, seeds fastest of all: index = (a·5 + b)·2 + seed.
    for p in &s.points {
        let i = p.index;
        assert_eq!(p.levels, vec![i / 10, (i / 2) % 5], "point {i}");
        assert_eq!(p.seed, Some([7, 8][i % 2]));
        assert!(p.dir.starts_with(&format!("{i:04}-")), "{}", p.dir);
    }
    let mut dirs: Vec<&str> = s.points.iter().map(|p| p.dir.as_str()).collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), s.points.len(), "folder names are unique");

    let scenarios = s.check().unwrap();
    let p13 = &scenarios[13].scenario; // a = 1, b = 1, seed 8
    assert_eq!(p13.tcells.chemotaxis_over_motility, 2.5);
    assert_eq!(p13.treatment[0].level_um, Some(0.1));
    assert_eq!(p13.geometry.seed, 8);
    // Untouched keys keep the base's values.
    assert_eq!(p13.treatment[1].level_nm, Some(68.5));
    assert_eq!(p13.grid.nx, 9);
}

#[test]
fn listed_points_and_overlays_expand_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let f = sweep_file(
        dir.path(),
        r#"
combine = "listed"
[[axis]]
name = "arm"
[[axis.overlays]]
label = "untreated"
set = { treatment = [] }
[[axis.overlays]]
label = "amd3100 only"
set = { treatment = [{ drug = "amd3100", route = "bath", level_uM = 2.0 }] }
[[axis.overlays]]
label = "combination"
set = {}
[[axis]]
key = "treatment[0].start_h"
range = { from = 0.0, to = 1.0, count = 3 }
"#,
    );
    let s = Sweep::read(&f).unwrap();
    assert_eq!(s.points.len(), 3);
    assert_eq!(
        s.points
            .iter()
            .map(|p| p.levels.clone())
            .collect::<Vec<_>>(),
        vec![vec![0, 0], vec![1, 1], vec![2, 2]]
    );
    let starts: Vec<f64> = s.axes[1].levels.iter().map(|l| l.number.unwrap()).collect();
    assert_eq!(starts, vec![0.0, 0.5, 1.0]);
    // The untreated arm has no treatment [0]: its start cannot be set, and the error
    // says so (listed points are checked one by one).
    let e = s.check().unwrap_err().to_string();
    assert!(e.contains("treatment") && e.contains("0 elements"), "{e}");

    // Without the start axis the three arms load with their treatments.
    let f = sweep_file(
        dir.path(),
        r#"
[[axis]]
name = "arm"
[[axis.overlays]]
label = "untreated"
set = { treatment = [] }
[[axis.overlays]]
label = "amd3100 only"
set = { treatment = [{ drug = "amd3100", route = "bath", level_uM = 2.0 }] }
"#,
    );
    let s = Sweep::read(&f).unwrap();
    let sc = s.check().unwrap();
    assert!(sc[0].scenario.treatment.is_empty());
    assert_eq!(sc[1].scenario.treatment.len(), 1);
    assert_eq!(sc[1].scenario.treatment[0].level_um, Some(2.0));
    let listed_wrong = sweep_file(
        dir.path(),
        "combine = \"listed\"\n[[axis]]\nkey = \"tcells.arrest_fraction\"\nvalues = [0.1, 0.2]\n\
         [[axis]]\nkey = \"tcells.death_per_day\"\nvalues = [0.1]\n",
    );
    let e = Sweep::read(&listed_wrong).unwrap_err().to_string();
    assert!(
        e.contains("listed") && e.contains("`death_per_day` has 1 value"),
        "{e}"
    );
}

#[test]
fn a_misspelt_axis_key_is_refused_naming_the_closest_key() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, good) in [
        (
            "tcells.chemotaxis_over_motilty",
            "tcells.chemotaxis_over_motility",
        ),
        ("treatment[0].level_um", "treatment[0].level_uM"),
        ("tcels.death_per_day", "tcells.death_per_day"),
    ] {
        let f = sweep_file(
            dir.path(),
            &format!("[[axis]]\nkey = \"{bad}\"\nvalues = [1.0, 2.0]\n"),
        );
        let s = Sweep::read(&f).unwrap();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains(bad), "{bad}: {e}");
        assert!(
            e.contains(&format!("closest valid key is `{good}`")),
            "{bad}: {e}"
        );
    }
    // And through the CLI, before anything runs.
    let f = sweep_file(
        dir.path(),
        "[[axis]]\nkey = \"tcells.motility_um2_per_mn\"\nvalues = [1.0]\n",
    );
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .args(["sweep", "run", "--backend", "cpu", "--quiet"])
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("tcells.motility_um2_per_min"), "{t}");
    assert!(!out.exists(), "nothing is written for a refused sweep");
}

/// Reads a PNG's width and height, checking the signature and the IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 33,
        "too short for a PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    assert!(
        bytes.ends_with(&[0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
        "IEND"
    );
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn sweep_cmd(args: &[&str], sweep: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("sweep")
        .args(args)
        .arg(sweep)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_local_sweep_finishes_resumes_and_collects() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = root().join("tests/sweeps/six.toml");
    let out = dir.path().join("six");

    // `check` prints the count, memory and time.
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .args(["sweep", "check", "--backend", "cpu"])
        .arg(&sweep)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("total      6 runs"), "{t}");
    assert!(t.contains("KiB") && t.contains("about"), "{t}");

    // Stopped after three points (as if killed midway)...
    let o = sweep_cmd(
        &["run", "--backend", "cpu", "--quiet", "--limit", "3"],
        &sweep,
        &out,
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = Sweep::read(&sweep).unwrap();
    let summaries: Vec<PathBuf> = s
        .points
        .iter()
        .map(|p| out.join("points").join(&p.dir).join("run/summary.json"))
        .collect();
    let done: Vec<bool> = summaries.iter().map(|p| p.is_file()).collect();
    assert_eq!(done, [true, true, true, false, false, false]);
    for p in &s.points {
        let sc = out.join("points").join(&p.dir).join("scenario.toml");
        let body = fs::read_to_string(&sc).unwrap();
        assert!(
            !body.contains("extends"),
            "resolved scenarios have no extends"
        );
    }
    let before: Vec<_> = summaries[..3]
        .iter()
        .map(|p| fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    // A half-written point (no summary.json) is redone.
    fs::create_dir_all(summaries[3].parent().unwrap()).unwrap();
    fs::write(summaries[3].parent().unwrap().join("metrics.csv"), "junk").unwrap();

    // ...then continued: the three finished points are not run again.
    let o = sweep_cmd(&["run", "--backend", "cpu", "--quiet"], &sweep, &out);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("6 finished (3 before this call), 0 failed"),
        "{t}"
    );
    assert!(summaries.iter().all(|p| p.is_file()));
    let after: Vec<_> = summaries[..3]
        .iter()
        .map(|p| fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "finished points were not redone");
    // Each point's log holds what its run said: the backend, a line per snapshot and
    // the closing lines; the run folder has its own run.log too.
    for p in &s.points {
        let d = out.join("points").join(&p.dir);
        let log = fs::read_to_string(d.join("run.log")).unwrap();
        for want in ["backend: cpu (requested)", "snapshot 1/", "done in"] {
            assert!(log.contains(want), "{}: `{want}` missing:\n{log}", p.dir);
        }
        let own = fs::read_to_string(d.join("run/run.log")).unwrap();
        assert!(own.starts_with("== infiltrate "), "{own}");
    }

    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .args(["sweep", "collect"])
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("6 of 6 points finished"), "{t}");
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "index,point,chi_over_mu0,level_uM,status,killed_fraction,infiltration_ratio,t_core_integral_per_mm3_h"
    );
    assert_eq!(lines.len(), 7);
    let labels = [
        ("0", "0.1"),
        ("0", "1"),
        ("0", "10"),
        ("5", "0.1"),
        ("5", "1"),
        ("5", "10"),
    ];
    for (i, (l, (chi, amd))) in lines[1..].iter().zip(labels).enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[0], i.to_string());
        assert_eq!(f[1], s.points[i].dir);
        assert_eq!(
            f[2].parse::<f64>().unwrap(),
            chi.parse::<f64>().unwrap(),
            "{l}"
        );
        assert_eq!(
            f[3].parse::<f64>().unwrap(),
            amd.parse::<f64>().unwrap(),
            "{l}"
        );
        assert_eq!(f[4], "finished");
        for v in &f[5..] {
            let v: f64 = v.parse().unwrap_or_else(|_| panic!("not a number in {l}"));
            assert!(v.is_finite() && v >= 0.0, "{l}");
        }
    }
    // The table's numbers are those of each point's metrics.csv.
    let m = fs::read_to_string(summaries[4].parent().unwrap().join("metrics.csv")).unwrap();
    let last: Vec<f64> = m
        .lines()
        .last()
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    let row5: Vec<&str> = lines[5].split(',').collect();
    assert_eq!(row5[5].parse::<f64>().unwrap(), last[9], "killed fraction");
    assert_eq!(
        row5[6].parse::<f64>().unwrap(),
        last[3],
        "infiltration ratio"
    );

    let heat = out.join("plots/killed_fraction__level_uM_vs_chi_over_mu0.png");
    let (w, h) = png_size(&fs::read(&heat).unwrap());
    assert!(w >= 100 && h >= 100, "{w} × {h}");
}

#[test]
fn a_failed_point_is_recorded_and_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = root().join("tests/sweeps/four.toml");
    let out = dir.path().join("four");
    let s = Sweep::read(&sweep).unwrap();
    // Point 1 cannot write its outputs: its run folder is a file.
    let bad = out.join("points").join(&s.points[1].dir);
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("run"), "in the way").unwrap();

    let o = sweep_cmd(&["run", "--backend", "cpu", "--quiet"], &sweep, &out);
    let t = text(&o);
    assert!(
        !o.status.success(),
        "a sweep with a failed point exits non-zero: {t}"
    );
    assert!(
        t.contains("3 finished (0 before this call), 1 failed"),
        "{t}"
    );
    let failed = fs::read_to_string(bad.join("failed.json")).unwrap();
    assert!(failed.contains("not a folder"), "{failed}");

    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .args(["sweep", "collect"])
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("3 of 4 points finished"), "{t}");
    assert!(
        t.contains(&format!("failed  {}", s.points[1].dir)) && t.contains("not a folder"),
        "{t}"
    );
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    let row: Vec<&str> = csv.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(row[4], "failed");
    assert_eq!(&row[5..], ["", "", ""], "no readouts for a failed point");
}

/// Requeue safety with checkpoints (what a requeued Slurm task does, run locally): a
/// sweep whose runs all crash mid-run (an injected full disk at the 24th write of each
/// run, after its second checkpoint) leaves a checkpoint in every point; run again, it
/// resumes each point from its checkpoint instead of starting it over, and every
/// point's metrics.csv is the same, to the byte, as in a sweep that never crashed
/// (CPU backend: resume is bit-identical; no duplicate rows).
#[test]
fn a_crashed_sweep_with_checkpoints_resumes_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = root().join("tests/sweeps/six.toml");
    let (clean, crashed) = (dir.path().join("clean"), dir.path().join("crashed"));
    let args = [
        "run",
        "--backend",
        "cpu",
        "--quiet",
        "--checkpoint-every",
        "1h",
    ];
    let o = sweep_cmd(&args, &sweep, &clean);
    assert!(o.status.success(), "{}", text(&o));

    // The point folders first (no run yet), then every run crashes.
    let o = sweep_cmd(&[&args[..], &["--limit", "0"]].concat(), &sweep, &crashed);
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .env(infiltrate::output::FAIL_WRITE_ENV, "24")
        .arg("sweep")
        .args(args)
        .arg(&sweep)
        .arg("--out")
        .arg(&crashed)
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "every run should have failed:\n{}",
        text(&o)
    );
    let s = Sweep::read(&sweep).unwrap();
    let run =
        |out: &Path, p: &infiltrate::sweep::Point| out.join("points").join(&p.dir).join("run");
    for p in &s.points {
        let r = run(&crashed, p);
        assert!(!r.join("summary.json").exists(), "{}: finished", p.dir);
        let kept = fs::read_dir(r.join("checkpoint")).map_or(0, |d| d.count());
        assert_eq!(kept, 2, "{}: checkpoints kept", p.dir);
    }

    let o = sweep_cmd(&args, &sweep, &crashed);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for p in &s.points {
        let log = fs::read_to_string(crashed.join("points").join(&p.dir).join("run.log"))
            .unwrap_or_default();
        assert!(log.contains("resum"), "{}: not resumed:\n{log}", p.dir);
        for f in ["metrics.csv", "profile.csv"] {
            assert!(
                fs::read(run(&clean, p).join(f)).unwrap()
                    == fs::read(run(&crashed, p).join(f)).unwrap(),
                "{}: {f} differs from the sweep that never crashed",
                p.dir
            );
        }
    }
}
