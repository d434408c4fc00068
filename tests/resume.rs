//! Checkpoint and resume through the binary, as a user meets them: a run interrupted
//! and resumed ends with the same bits as one left alone (CPU and GPU), a checkpoint
//! resumes on the other backend within the GPU-vs-CPU tolerance, a run killed with
//! SIGKILL at random moments leaves only readable results and resumes to the same
//! metrics, a changed scenario or another checkpoint format is refused, a damaged
//! newest checkpoint falls back to the one before, and a failed write keeps the last
//! good checkpoint.
//!
//! The grid is 13 × 11 × 7 voxels; the whole file takes about a minute on two cores,
//! most of it the GPU test on lavapipe.

mod common;

use common::text;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use infiltrate::checkpoint::{self, Checkpoint};

/// A 130 × 110 × 70 µm slice ([`common::small_slice`]): 30 min burn-in, 3 h with
/// AMD3100 (quasi-steady) and anti-PD-1 (sub-stepped) in the bath, snapshots every hour.
fn tiny() -> String {
    // Pictures and ParaView files off: the injected write failures count writes and the
    // kill test lists every file (a resumed run's pictures:
    // `a_resumed_run_draws_the_same_pictures`).
    common::small_slice(
        "resume test: tiny slice",
        [13, 11, 7],
        "[output]\npictures = false\nvti = false\n",
    )
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infiltrate"));
    c.env_remove(infiltrate::output::FAIL_WRITE_ENV);
    c
}

fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    fs::write(&p, tiny()).unwrap();
    p
}

/// `infiltrate run` of the scenario into `out` with a checkpoint every 25 min (so that
/// checkpoints fall inside snapshot intervals) and `extra` arguments.
fn run(scenario: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args([
        "run",
        "--quiet",
        "--threads",
        "1",
        "--checkpoint-every",
        "25min",
    ])
    .args(extra)
    .arg(scenario)
    .arg("--out")
    .arg(out);
    c
}

fn resume(out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["resume", "--quiet", "--threads", "1"])
        .arg(out)
        .args(extra);
    c
}

fn ok(mut c: Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?} failed:\n{}", c, text(&o));
    o
}

fn newest(out: &Path) -> (Checkpoint, PathBuf) {
    let files = checkpoint::list(out).unwrap();
    let path = files.first().expect("a checkpoint").clone();
    (checkpoint::read(&path).unwrap(), path)
}

/// The fields of two checkpoints, bit for bit.
fn assert_same_fields(a: &Checkpoint, b: &Checkpoint) {
    assert_eq!(a.header.time_min.to_bits(), b.header.time_min.to_bits());
    assert_eq!(a.header.cell_steps, b.header.cell_steps);
    for ((name, x), (_, y)) in a.fields.named().iter().zip(b.fields.named()) {
        assert_eq!(x.len(), y.len());
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            assert_eq!(
                u.to_bits(),
                v.to_bits(),
                "{name} at voxel {i}: {u} against {v}"
            );
        }
    }
    assert_eq!(a.header.steady, b.header.steady);
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A run that fails at its `n`-th atomic write, as on a full disk.
fn run_failing_at(scenario: &Path, out: &Path, n: u32, extra: &[&str]) -> Output {
    let mut c = run(scenario, out, extra);
    c.env(infiltrate::output::FAIL_WRITE_ENV, n.to_string());
    let o = c.output().unwrap();
    assert!(
        !o.status.success(),
        "the injected failure did not stop the run"
    );
    o
}

/// Interrupted by a failed `n`-th write (a checkpoint write, after the one at
/// `last_good` min was written inside a snapshot interval), then resumed: every field of
/// the final checkpoint, metrics.csv and profile.csv the same bits as a run left alone.
fn interrupted_and_resumed_match(
    backend: &str,
    duration: &str,
    n: u32,
    last_good: f64,
) -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let args = ["--backend", backend, "--duration", duration];
    let whole = dir.path().join("whole");
    ok(run(&sc, &whole, &args));
    let broken = dir.path().join("broken");
    let o = run_failing_at(&sc, &broken, n, &args);
    let t = text(&o);
    assert!(t.contains("No space left on device"), "{t}");
    assert!(
        t.contains("last good checkpoint") && t.contains("infiltrate resume"),
        "{t}"
    );
    let (before, _) = newest(&broken);
    let at = before.header.time_min;
    // The checkpoint falls on the cell step nearest its time.
    assert!(
        (at - last_good).abs() < 0.5,
        "the last good checkpoint is at {at} min"
    );
    ok(resume(&broken, &[]));
    let (a, _) = newest(&whole);
    let (b, _) = newest(&broken);
    assert_same_fields(&a, &b);
    for f in ["metrics.csv", "profile.csv"] {
        assert_eq!(
            read(&whole.join(f)),
            read(&broken.join(f)),
            "{backend}: {f}"
        );
    }
    (whole, dir)
}

#[test]
fn cpu_run_interrupted_and_resumed_is_bit_identical() {
    // Writes: 1 resolved scenario, 2–3 snapshot at 0, 4–6 checkpoints at 0, 25 and 50
    // min, 7–8 snapshot at 1 h, 9 checkpoint at 75 min, 10 checkpoint at 100 min.
    let (whole, _dir) = interrupted_and_resumed_match("cpu", "3h", 10, 75.0);
    assert_eq!(read(&whole.join("metrics.csv")).lines().count(), 1 + 4);
}

/// The GPU kernels are deterministic (no atomics in the stencil kernels; the
/// quasi-steady reduction takes a maximum, which does not depend on order), and a
/// resumed GPU run uploads the f32 values it read back, exactly: the same bits.
#[test]
fn gpu_run_interrupted_and_resumed_is_bit_identical() {
    // The 6th write is the checkpoint at 50 min.
    interrupted_and_resumed_match("vulkan", "1h", 6, 25.0);
}

/// Relative difference of every metric of two metrics.csv texts, at most `tol`. The
/// readout columns only: the budget columns after them include residuals, differences
/// of stocks that are round-off and solver-tolerance noise across backends (tests/gpu.rs
/// holds them to an absolute allowance instead).
fn assert_close(a: &str, b: &str, tol: f64, what: &str) {
    let metrics = infiltrate::readout::Metrics::CSV_HEADER.split(',').count();
    let rows = |csv: &str| -> Vec<Vec<f64>> {
        csv.lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .take(metrics)
                    .map(|x| x.parse().unwrap())
                    .collect()
            })
            .collect()
    };
    let (ra, rb) = (rows(a), rows(b));
    assert_eq!(ra.len(), rb.len(), "{what}");
    for (x, y) in ra.iter().zip(&rb) {
        for (u, v) in x.iter().zip(y) {
            let rel = (u - v).abs() / u.abs().max(v.abs()).max(1e-300);
            assert!(rel <= tol, "{what}: {u} against {v} ({rel:e})");
        }
    }
}

/// A checkpoint written by one backend resumes on the other: the metrics stay within
/// 3e-4 relative of the run left alone on the writing backend, the tolerance of
/// tests/gpu.rs's driver comparison.
#[test]
fn a_checkpoint_resumes_on_the_other_backend() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    for (from, to) in [("cpu", "vulkan"), ("vulkan", "cpu")] {
        let args = ["--backend", from, "--duration", "1h"];
        let whole = dir.path().join(format!("whole-{from}"));
        ok(run(&sc, &whole, &args));
        let broken = dir.path().join(format!("{from}-to-{to}"));
        // The 6th write is the checkpoint at 50 min: resumed from 25 min.
        run_failing_at(&sc, &broken, 6, &args);
        let o = ok(resume(&broken, &["--backend", to]));
        let summary = read(&broken.join("summary.json"));
        assert!(
            summary.contains(&format!("\"backend\": \"{to}\"")),
            "{summary}\n{}",
            text(&o)
        );
        let (a, b) = (
            read(&whole.join("metrics.csv")),
            read(&broken.join("metrics.csv")),
        );
        assert_ne!(
            a, b,
            "{from} → {to}: another backend cannot give the same bits"
        );
        assert_close(&a, &b, 3e-4, &format!("{from} → {to}"));
    }
}

/// Every file a reader could take for a result is complete: metrics.csv and
/// profile.csv rows of full width, the resolved scenario valid TOML, summary.json valid
/// JSON, report.html whole, every checkpoint readable, the log begun. Hidden
/// `.NAME.tmp` files are the only others.
fn assert_readable(out: &Path) {
    for e in fs::read_dir(out).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name.starts_with('.') {
            assert!(
                name.ends_with(".tmp") || name == ".infiltrate.lock",
                "unexpected hidden file {name}"
            );
            continue;
        }
        match name.as_str() {
            "metrics.csv" | "profile.csv" => {
                let t = read(&path);
                assert!(t.ends_with('\n'), "{name} ends mid-line");
                let mut lines = t.lines();
                let width = lines.next().unwrap().split(',').count();
                for l in lines {
                    let cols: Vec<&str> = l.split(',').collect();
                    assert_eq!(cols.len(), width, "{name}: {l}");
                    for c in cols {
                        assert!(c.parse::<f64>().is_ok(), "{name}: {l}");
                    }
                }
            }
            "scenario.resolved.toml" => {
                read(&path).parse::<toml::Table>().unwrap();
            }
            "summary.json" => {
                serde_json::from_str::<serde_json::Value>(&read(&path)).unwrap();
            }
            // Written just before summary.json, whole.
            "report.html" => {
                let t = read(&path);
                assert!(t.starts_with("<!DOCTYPE html>") && t.ends_with("</html>\n"));
            }
            // The log is appended to, not replaced: a kill may cut its last line, but
            // it is never taken for a result. It starts with the run's header.
            "run.log" => {
                assert!(read(&path).starts_with("== infiltrate "), "{name}");
            }
            "checkpoint" => {
                for f in fs::read_dir(&path).unwrap() {
                    let f = f.unwrap();
                    let n = f.file_name().to_string_lossy().into_owned();
                    if n.starts_with('.') {
                        assert!(n.ends_with(".tmp"), "unexpected hidden file {n}");
                    } else {
                        checkpoint::read(&f.path())
                            .unwrap_or_else(|e| panic!("checkpoint {n}: {e:?}"));
                    }
                }
            }
            other => panic!("unexpected file {other}"),
        }
    }
}

/// xorshift64*, seeded from the clock (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A longer run (24 h, a checkpoint every 25 min) killed with SIGKILL three times at
/// random moments, each time continued the way a job script would (`resume` if the
/// checkpoint folder exists, else `run --force`): every completed output readable
/// after each kill, and the final metrics.csv and profile.csv the bits of a run left
/// alone. A kill falls a random 0–30 ms after the run's newest checkpoint has passed a
/// random point of round r's third of the run (so it lands while the run is going on
/// a machine of any speed, anywhere in a step, a snapshot or a write).
#[test]
fn killed_three_times_then_resumed_matches_a_run_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let args = ["--backend", "cpu", "--duration", "24h"];
    let whole = dir.path().join("whole");
    ok(run(&sc, &whole, &args));
    let total = newest(&whole).0.header.cell_steps;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{total} cell steps; kill points from seed {seed}");
    let mut rng = Rng(seed);
    let out = dir.path().join("killed");
    let next = |out: &Path| -> Command {
        if checkpoint::dir(out).is_dir() {
            resume(out, &[])
        } else {
            run(&sc, out, &[&args[..], &["--force"]].concat())
        }
    };
    let steps_done = |out: &Path| -> u64 {
        checkpoint::list(out)
            .ok()
            .and_then(|l| l.first().cloned())
            .and_then(|p| {
                let name = p.file_name()?.to_string_lossy().into_owned();
                name.strip_prefix("step-")?
                    .strip_suffix(".ckpt")?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    for round in 0..3u32 {
        let target = (total as f64 * 0.85 * (f64::from(round) + rng.next()) / 3.0) as u64;
        let mut child = next(&out).spawn().unwrap();
        let started = Instant::now();
        while steps_done(&out) < target && child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(300), "stuck");
            std::thread::sleep(Duration::from_millis(2));
        }
        let extra = 0.03 * rng.next();
        std::thread::sleep(Duration::from_secs_f64(extra));
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!(
            "round {round}: past cell step {target}, {extra:.3} s later: {}",
            if running { "killed" } else { "had finished" }
        );
        assert!(running, "round {round}: the run ended before the kill");
        assert_readable(&out);
    }
    ok(next(&out));
    assert_readable(&out);
    for f in ["metrics.csv", "profile.csv"] {
        assert_eq!(read(&whole.join(f)), read(&out.join(f)), "{f}");
    }
    assert_same_fields(&newest(&whole).0, &newest(&out).0);
    // The log grew with every start: the first (or a --force restart) began it afresh,
    // each resume appended its own header; the last start ran to the end.
    let log = read(&out.join("run.log"));
    assert!(log.contains(" resumed at "), "{log}");
    assert!(
        log.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("at 24.0 h: "),
        "{log}"
    );
}

/// A changed scenario.resolved.toml is refused naming the changed line; a checkpoint of
/// another format version is refused naming both versions; neither writes anything.
#[test]
fn a_changed_scenario_or_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let out = dir.path().join("run");
    ok(run(&sc, &out, &["--backend", "cpu", "--duration", "1h"]));
    let metrics = read(&out.join("metrics.csv"));
    let resolved = out.join("scenario.resolved.toml");
    let original = read(&resolved);
    assert!(original.contains("seed = 5"), "{original}");
    fs::write(&resolved, original.replace("seed = 5", "seed = 6")).unwrap();
    let o = resume(&out, &["--until", "2h"]).output().unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("the scenario has changed"), "{t}");
    assert!(t.contains("seed = 6") && t.contains("seed = 5"), "{t}");
    assert_eq!(read(&out.join("metrics.csv")), metrics, "nothing written");

    fs::write(&resolved, &original).unwrap();
    let (_, path) = newest(&out);
    let mut bytes = fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    fs::write(&path, bytes).unwrap();
    let o = resume(&out, &["--until", "2h"]).output().unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("format version 99")
            && t.contains(&format!(
                "reads version {}",
                infiltrate::checkpoint::FORMAT_VERSION
            )),
        "{t}"
    );
    assert_eq!(read(&out.join("metrics.csv")), metrics, "nothing written");
}

/// A damaged newest checkpoint (one bit flipped in a field, or cut short) is set aside
/// and the one before it used; the run then ends with the bits of a run left alone.
#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let args = ["--backend", "cpu", "--duration", "2h"];
    let whole = dir.path().join("whole");
    ok(run(&sc, &whole, &args));
    for damage in ["flip", "cut"] {
        let out = dir.path().join(damage);
        run_failing_at(&sc, &out, 10, &args);
        let files = checkpoint::list(&out).unwrap();
        assert_eq!(files.len(), 2, "the newest two are kept: {files:?}");
        let (older, newer) = (
            checkpoint::read(&files[1]).unwrap(),
            checkpoint::read(&files[0]).unwrap(),
        );
        assert!(older.header.time_min < newer.header.time_min);
        let mut bytes = fs::read(&files[0]).unwrap();
        if damage == "flip" {
            let at = bytes.len() - 100;
            bytes[at] ^= 0x10;
        } else {
            bytes.truncate(bytes.len() / 2);
        }
        fs::write(&files[0], bytes).unwrap();
        let o = ok(resume(&out, &[]));
        let t = text(&o);
        assert!(
            t.contains("is damaged") && t.contains("trying the one before"),
            "{t}"
        );
        assert_eq!(
            read(&whole.join("metrics.csv")),
            read(&out.join("metrics.csv"))
        );
        assert_same_fields(&newest(&whole).0, &newest(&out).0);
    }
}

/// A write of metrics.csv that fails (full disk) stops the run with the error and the
/// last good checkpoint named; metrics.csv keeps its previous complete contents, no
/// temporary file is left, and resume completes the run.
#[test]
fn a_failed_write_keeps_the_last_checkpoint_and_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let args = ["--backend", "cpu", "--duration", "2h"];
    let whole = dir.path().join("whole");
    ok(run(&sc, &whole, &args));
    let out = dir.path().join("broken");
    // Writes: 1 resolved scenario, 2–3 snapshot at 0, 4–6 checkpoints at 0, 25 and
    // 50 min, 7 metrics.csv at 1 h.
    let o = run_failing_at(&sc, &out, 7, &args);
    let t = text(&o);
    assert!(
        t.contains("metrics.csv") && t.contains("No space left on device"),
        "{t}"
    );
    // The checkpoint at 50 min, on the nearest cell step.
    assert!(t.contains("last good checkpoint (t = 50."), "{t}");
    assert_readable(&out);
    let leftovers: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(
        read(&out.join("metrics.csv")).lines().count(),
        2,
        "header and t = 0"
    );
    assert!((newest(&out).0.header.time_min - 50.0).abs() < 0.5);
    ok(resume(&out, &[]));
    assert_eq!(
        read(&whole.join("metrics.csv")),
        read(&out.join("metrics.csv"))
    );
}

/// `save_state` / `restore_state` through the `Solver` trait on both backends: a state
/// of f32-representable values (as a GPU read-back gives) uploaded and read back to the
/// bit, with the quasi-steady records.
#[test]
fn a_state_uploads_and_reads_back_exactly_on_both_backends() {
    use infiltrate::run::{choose_backend, make_solver, prepare, Backend, Overrides};
    use infiltrate::solver::State;
    let dir = tempfile::tempdir().unwrap();
    let prep = prepare(&scenario(dir.path()), Overrides::default()).unwrap();
    let n = prep.geometry.class.len();
    let mut state = State::default();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for f in [
        &mut state.fields.c,
        &mut state.fields.a,
        &mut state.fields.p,
        &mut state.fields.t,
        &mut state.fields.n,
        &mut state.fields.k,
    ] {
        *f = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f64::from((x >> 40) as f32 * 1.7e-3)
            })
            .collect();
    }
    state.steady[1].solved_for = Some((0.0, 1.0));
    state.steady[1].solves = 3;
    state.steady[1].iterations = 4096;
    for backend in [Backend::Cpu, Backend::Vulkan] {
        let selected = choose_backend(backend, None).unwrap();
        let initial = infiltrate::model::Fields::zeros(n);
        let mut solver = make_solver(
            &selected,
            &prep.params,
            &prep.geometry.class,
            infiltrate::gpu::Initial::Fields(&initial),
            Default::default(),
        )
        .unwrap();
        solver.restore_state(&state).unwrap();
        let back = solver.save_state().unwrap();
        assert_eq!(back.steady, state.steady, "{backend:?}");
        for ((name, a), (_, b)) in back.fields.named().iter().zip(state.fields.named()) {
            assert!(
                a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits()),
                "{backend:?}: {name} changed"
            );
        }
    }
}

/// Checkpoints fall on the cell step nearest their time; one that rounds to a
/// segment's start is the end of the segment before; the start of dosing and the end
/// are always there.
#[test]
fn the_checkpoint_schedule_rounds_to_cell_steps() {
    use infiltrate::model::{Segment, StepPlan};
    let seg = |t0: f64, steps: u64, dt: f64| Segment { t0, steps, dt };
    let plan = StepPlan {
        cell_bound: 1.0,
        chem_bound: [1.0; 3],
        cell_dt: 0.7,
        chem_dt: [0.7; 3],
        substeps: [1; 3],
        quasi_steady: [false; 3],
        species_bound: Vec::new(),
        species_substeps: Vec::new(),
        burn_in: seg(0.0, 0, 0.0),
        segments: vec![seg(0.0, 3, 20.0 / 3.0), seg(20.0, 7, 20.0 / 7.0)],
    };
    let at: Vec<(usize, u64)> = checkpoint::schedule(&plan, 7.0)
        .unwrap()
        .into_iter()
        .collect();
    // 7 → step 1 (6.67 min); 14 → step 2 (13.3); 21 → nearest the second segment's
    // start (20), so the first's end; 28 → step 3 of the second (28.6); 35 → step 5
    // (34.3); the end (40).
    assert_eq!(at, [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (1, 5), (1, 7)]);
}

/// A run with pictures stopped at 1 h (its checkpoint at the end) and resumed to 3 h
/// draws the same final pictures and time-lapses, to the byte, and writes the same
/// metrics as a 3 h run left alone: the stored planes are the pictures' state, and the
/// budget ledger travels in the checkpoint.
#[test]
fn a_resumed_run_draws_the_same_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let text = tiny().replace("pictures = false", "pictures = true");
    let p = dir.path().join("pictured.toml");
    fs::write(&p, text).unwrap();
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    ok(run(&p, &whole, &[]));
    ok(run(&p, &parts, &["--duration", "1h"]));
    ok(resume(&parts, &["--until", "3h"]));
    for f in [
        "metrics.csv",
        "profile.csv",
        "pictures/final.png",
        "pictures/timelapse-composite.png",
        "pictures/timelapse-tcells.png",
    ] {
        assert!(
            fs::read(whole.join(f)).unwrap() == fs::read(parts.join(f)).unwrap(),
            "{f} differs between the whole run and the resumed one"
        );
    }
}
