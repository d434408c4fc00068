//! The command line, as a user meets it: `check` and `run` on shipped and bad
//! scenarios, times with units, and nothing written when a scenario is refused.

mod common;

use common::{root, text};

use std::fs;
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infiltrate"))
}

#[test]
fn check_prints_steps_counts_and_memory() {
    let o = bin()
        .args(["check"])
        .arg(root().join("scenarios/slice/combination.toml"))
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for want in [
        "voxels",
        "cell step",
        "stability bound",
        "AMD3100",
        "quasi-steady",
        "memory",
        "MiB",
        "cpu backend",
        "gpu backend",
        "B per voxel",
        "dosing     AMD3100 (bath): constant 1 µM from 0 min",
        "estimate   about",
    ] {
        assert!(t.contains(want), "missing `{want}` in:\n{t}");
    }
}

#[test]
fn run_writes_metrics_with_units_in_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args([
            "run",
            "--backend",
            "cpu",
            "--quiet",
            "--duration",
            "90min",
            "--snapshot-every",
            "30min",
        ])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let csv = fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("time_h,t_core_per_mm3,t_margin_per_mm3,infiltration_ratio"));
    assert_eq!(lines.len(), 1 + 4, "snapshots at 0, 0.5, 1, 1.5 h:\n{csv}");
    assert!(lines[4].starts_with("1.500000,"), "{}", lines[4]);
    for f in ["profile.csv", "summary.json", "scenario.resolved.toml"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // A second run into the same folder is refused unless --force.
    let o = bin()
        .args(["run", "--quiet", "--duration", "30min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("--force"), "{}", text(&o));
    // With --force, a shorter run into the same folder leaves nothing of the longer
    // one: the picture state and ParaView files are its own, and a file of the user's
    // stays.
    // The snapshots' plane files (the orthogonal/ folder beside them holds the last's).
    let planes = |out: &Path| -> usize {
        fs::read_dir(out.join("pictures/planes"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "plane")
            })
            .count()
    };
    assert_eq!(planes(&out), 4);
    fs::write(out.join("paraview/snapshot_000009.vti"), "stale").unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--backend",
            "cpu",
            "--force",
            "--duration",
            "30min",
        ])
        .args(["--snapshot-every", "30min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(planes(&out), 2, "snapshots at 0 and 0.5 h");
    assert!(!out.join("paraview/snapshot_000009.vti").exists());
    let frames = fs::read_dir(out.join("pictures/frames/composite"))
        .unwrap()
        .count();
    assert_eq!(frames, 2);
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

fn refused(scenario_text: &str, wants: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    fs::write(&p, scenario_text).unwrap();
    let out = dir.path().join("out");
    for cmd in ["check", "run"] {
        let mut c = bin();
        c.arg(cmd).arg(&p);
        if cmd == "run" {
            c.arg("--out").arg(&out);
        }
        let o = c.output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{cmd} accepted:\n{t}");
        assert!(t.contains("bad.toml"), "{cmd}: no file named:\n{t}");
        for w in wants {
            assert!(t.contains(w), "{cmd}: `{w}` missing:\n{t}");
        }
        assert!(!out.exists(), "{cmd} wrote {}", out.display());
    }
}

const GRID: &str = "[grid]\nnx = 37\nny = 23\nnz = 11\nvoxel_um = 10.0\n[time]\nduration_h = 2.0\nsnapshot_every_h = 1.0\n[geometry]\nkind = \"slice\"\n[geometry.slice]\nthickness_um = 110.0\n";

#[test]
fn bad_scenarios_are_refused_and_nothing_is_written() {
    refused(
        &format!("{GRID}[cxcl12]\ndiffusion_um2_per_min = -1.0\n"),
        &["cxcl12.diffusion_um2_per_min", "-1", "≥ 0"],
    );
    refused(
        &format!("{GRID}[tcells]\nmotility = 3.0\n"),
        &["tcells.motility", "motility_um2_per_min"],
    );
    refused(
        &format!("{GRID}[numerics]\ncell_dt_min = 5.0\n"),
        &["numerics.cell_dt_min", "5 min", "stability bound"],
    );
    refused(
        &format!("{GRID}[numerics]\namd3100_dt_min = 0.01\n"),
        &["numerics.amd3100_dt_min", "stability bound"],
    );
}

#[test]
fn times_need_units_on_the_command_line() {
    let o = bin()
        .args(["check", "--duration", "90"])
        .arg(root().join("scenarios/quick.toml"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("90min"), "{}", text(&o));
}

#[test]
fn unwritable_output_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    let o = bin()
        .args(["run", "--quiet", "--duration", "30min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("file/sub"), "{}", text(&o));
}

/// Runs `scenario` with global options `global` (before `run`) and run options
/// `extra`, into a fresh folder; returns its metrics.csv and profile.csv.
fn outputs(scenario: &Path, global: &[&str], extra: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args(global)
        .args(["run", "--quiet"])
        .args(extra)
        .arg(scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    (
        fs::read_to_string(out.join("metrics.csv")).unwrap(),
        fs::read_to_string(out.join("profile.csv")).unwrap(),
    )
}

/// quick.toml (24 × 24 × 25 voxels) for 45 min on the CPU backend with 1, 7 and the
/// default number of threads: metrics and profile identical to the byte (no sum
/// anywhere depends on the thread count).
#[test]
fn cpu_runs_repeat_to_the_byte_with_any_thread_count() {
    let quick = root().join("scenarios/quick.toml");
    let cpu = [
        "--backend",
        "cpu",
        "--duration",
        "45min",
        "--snapshot-every",
        "15min",
    ];
    let one = outputs(&quick, &["--threads", "1"], &cpu);
    let seven = outputs(&quick, &["--threads", "7"], &cpu);
    let default = outputs(&quick, &[], &cpu);
    assert_eq!(one, seven);
    assert_eq!(one, default);
}

/// A 13 × 11 × 5 slice with anti-PD-1 in the bath, 30 min, twice on the GPU backend
/// (software Vulkan in CI): the step kernels have no atomics and a fixed order, so the
/// outputs repeat to the byte.
#[test]
fn gpu_runs_repeat_to_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("small.toml");
    fs::write(
        &scenario,
        "[grid]\nnx = 13\nny = 11\nnz = 5\nvoxel_um = 10.0\n\
         [time]\nduration_h = 0.5\nsnapshot_every_h = 0.25\n\
         [geometry]\nkind = \"slice\"\n[geometry.slice]\nthickness_um = 50.0\n\
         [[treatment]]\ndrug = \"anti_pd1\"\nroute = \"bath\"\nlevel_nM = 68.5\n",
    )
    .unwrap();
    let vk = ["--backend", "vulkan"];
    assert_eq!(outputs(&scenario, &[], &vk), outputs(&scenario, &[], &vk));
}

/// `--gpu-memory` below what the grid needs: the run is refused before stepping, with
/// the memory needed, the memory given and the largest grid that fits, and nothing is
/// written. A bad value names what to write.
#[test]
fn a_grid_beyond_the_gpu_memory_is_refused_with_the_largest_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--backend",
            "vulkan",
            "--gpu-memory",
            "0.001",
        ])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for want in [
        "device memory",
        "1073741 bytes",
        "largest grid of this shape",
        "³",
    ] {
        assert!(t.contains(want), "`{want}` missing from: {t}");
    }
    assert!(!out.join("metrics.csv").exists());
    let o = bin()
        .args(["run", "--gpu-memory", "lots"])
        .arg(root().join("scenarios/quick.toml"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("in GiB as a number"), "{}", text(&o));
}

/// A run started with `nohup` (stderr not a terminal, as in batch jobs) prints a plain
/// progress line at every snapshot, and writes `run.log` into its folder: the header
/// (version, commit, start, host, CPU, command line), the backend, the progress lines
/// and the closing lines. quick.toml for 90 min on the CPU backend.
#[test]
fn a_run_off_a_terminal_writes_progress_lines_and_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_infiltrate"))
        .args(["run", "--backend", "cpu", "--no-pictures", "--no-vti"])
        .args(["--duration", "90min", "--snapshot-every", "30min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .expect("nohup (coreutils) runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}", text(&o));
    for want in [
        "backend: cpu (requested)",
        "snapshot 1/4 at t = 0 min: infiltration ratio",
        "snapshot 4/4 at t = 90 min",
        "steps/s",
        "ETA",
    ] {
        assert!(
            stderr.contains(want),
            "`{want}` missing from stderr:\n{stderr}"
        );
    }
    let log = fs::read_to_string(out.join("run.log")).unwrap();
    let first = log.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "== infiltrate {} (commit ",
            env!("CARGO_PKG_VERSION")
        )) && first.contains(" started at "),
        "{first}"
    );
    for want in [
        "\ncommand: ",
        "quick.toml",
        "\nbackend: cpu (requested)\n",
        "snapshot 2/4 at t = 30 min",
        "snapshot 4/4 at t = 90 min",
        "\ndone in ",
        "at 1.5 h: infiltration ratio",
    ] {
        assert!(log.contains(want), "`{want}` missing from run.log:\n{log}");
    }
}

/// An error after the run has started ends up in its `run.log` (a write that fails as
/// on a full disk); a scenario refused before the start writes no folder at all
/// (`bad_scenarios_are_refused_and_nothing_is_written`).
#[test]
fn an_error_during_the_run_is_in_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--backend",
            "cpu",
            "--no-pictures",
            "--no-vti",
        ])
        .args(["--duration", "30min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .env("INFILTRATE_FAIL_WRITE", "3")
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let log = fs::read_to_string(out.join("run.log")).unwrap();
    let last = log.lines().last().unwrap();
    assert!(last.starts_with("error: run of "), "{log}");
    assert!(text(&o).contains(&last["error: ".len()..]), "{}", text(&o));
}

/// summary.json says where the result came from: version, the commit the binary was
/// built from (that of this checkout, when git can tell) and whether its sources were
/// modified, the start time, host, CPU, thread count and command line.
#[test]
fn the_summary_carries_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args(["--threads", "2", "run", "--quiet", "--backend", "cpu"])
        .args(["--no-pictures", "--no-vti", "--duration", "15min"])
        .arg(root().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let r = &json["run"];
    assert_eq!(r["program_version"], env!("CARGO_PKG_VERSION"));
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(h) => {
            assert_eq!(r["commit"], h.as_str(), "{r}");
            assert!(r["tree"] == "clean" || r["tree"] == "modified", "{r}");
        }
        None => assert_eq!(r["commit"], "unknown", "{r}"),
    }
    let started = r["started_utc"].as_str().unwrap();
    let b = started.as_bytes();
    assert!(
        b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z',
        "{started}"
    );
    assert!(!r["host"].as_str().unwrap().is_empty(), "{r}");
    assert!(r["cpu"].as_str().unwrap().contains("logical cores"), "{r}");
    assert_eq!(r["threads"], 2);
    let cmd: Vec<&str> = r["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&cmd[1..4], ["--threads", "2", "run"], "{cmd:?}");
    assert!(cmd.iter().any(|a| a.ends_with("quick.toml")), "{cmd:?}");
}

/// `--backend auto` names what it found and what it chose, and its advice fits the
/// machine: a GPU when there is one; else every software adapter it found (lavapipe in
/// CI), with the flag that runs on it anyway; else that it found no Vulkan, Metal or
/// DX12 adapter, with what to install.
#[test]
fn auto_names_what_it_found_and_what_it_chose() {
    use infiltrate::run::{choose_backend, Backend};
    let primary = wgpu::Backends::PRIMARY;
    let found = infiltrate::gpu::enumerate(&infiltrate::gpu::instance(primary), primary);
    let chosen = choose_backend(Backend::Auto, None).unwrap();
    let why = &chosen.why;
    if found.iter().any(|a| infiltrate::gpu::is_gpu(&a.get_info())) {
        assert!(
            why.starts_with("gpu ") && why.contains("auto: the best of"),
            "{why}"
        );
    } else if !found.is_empty() {
        assert!(
            why.starts_with("cpu (auto: wgpu found no GPU, only "),
            "{why}"
        );
        for a in &found {
            assert!(why.contains(&a.get_info().name), "{why}");
        }
        assert!(
            why.contains("software renderer") && why.contains("--backend "),
            "{why}"
        );
    } else {
        assert!(
            why.contains("found no Vulkan, Metal or DX12 adapter")
                && why.contains("`infiltrate adapters` lists every API's"),
            "{why}"
        );
    }
    assert!(!why.contains("found no adapter;"), "{why}");
}
