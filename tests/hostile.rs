//! Hostile and extreme input: every number of the schema has a bound; the corpus of
//! `tests/hostile/` is refused by `check` and `run` within 5 s, exit status 1, no panic,
//! nothing written, the key or option named; random values of every key are refused
//! naming the key or give finite work within the limits; sweeps are bounded and cannot
//! steer the scripts and scenarios they write; one run per folder.

mod common;

use common::{root, small_slice, text};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use infiltrate::model::Limits;
use infiltrate::run::{self, Overrides};
use infiltrate::scenario::bounds::{bound_of, numbers, BOUNDS};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infiltrate"))
}

/// Every number the schema takes (in the example with every optional part present) has
/// a bound, and every bound is of a key the schema has: a key added later without a
/// bound fails here.
#[test]
fn every_number_of_the_schema_has_a_bound() {
    let full = toml::Value::try_from(infiltrate::scenario::full_example()).unwrap();
    let mut all = Vec::new();
    numbers(&full, "", &mut all);
    assert!(all.len() > 80, "only {} numbers", all.len());
    let missing: Vec<&String> = all
        .iter()
        .map(|(k, _)| k)
        .filter(|k| bound_of(k).is_none())
        .collect();
    assert!(missing.is_empty(), "keys without a bound: {missing:?}");
    let patterns: Vec<String> = all
        .iter()
        .map(|(k, _)| infiltrate::scenario::bounds::pattern_of(k))
        .collect();
    for b in BOUNDS {
        assert!(
            patterns.iter().any(|p| p == b.key),
            "bound of no key: {}",
            b.key
        );
        assert!(
            b.low.is_finite() && b.high.is_finite() && b.low <= b.high,
            "{b:?}"
        );
        // f32 on the GPU: every bound is finite in f32.
        assert!(
            (b.high as f32).is_finite() && (b.low as f32).is_finite(),
            "{b:?}"
        );
    }
}

/// The `# expect:` and `# args:` lines of a corpus file.
fn header(text: &str, tag: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("# {tag}: ")))
        .map(str::to_string)
        .collect()
}

/// Runs the binary, with a time limit: a refusal must come within `limit`.
fn timed(mut c: Command, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(limit + Duration::from_secs(20));
        // Still running long after the limit: stop it so that the test fails, not hangs.
        let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    (out, start.elapsed())
}

#[test]
fn the_hostile_corpus_is_refused_quickly_and_writes_nothing() {
    let dir = root().join("tests/hostile");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} cases", files.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for f in &files {
        let src = fs::read_to_string(f).unwrap();
        let expect = header(&src, "expect");
        assert!(!expect.is_empty(), "{}: no `# expect:` line", f.display());
        let args: Vec<String> = header(&src, "args")
            .iter()
            .flat_map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let only = header(&src, "only");
        for cmd in ["check", "run"] {
            if !only.is_empty() && !only.iter().any(|o| o == cmd) {
                continue;
            }
            let out = tmp.path().join(format!(
                "{}-{cmd}",
                f.file_stem().unwrap().to_string_lossy()
            ));
            let mut c = bin();
            c.arg(cmd).arg(f).args(&args);
            if cmd == "run" {
                c.args(["--backend", "cpu", "--out"]).arg(&out);
            }
            let (o, took) = timed(c, Duration::from_secs(5));
            let t = text(&o);
            let name = format!("{} ({cmd})", f.file_name().unwrap().to_string_lossy());
            let mut why = Vec::new();
            if o.status.code() != Some(1) && o.status.code() != Some(2) {
                why.push(format!("exit {:?}", o.status.code()));
            }
            if t.contains("panicked") {
                why.push("panicked".into());
            }
            if took > Duration::from_secs(5) {
                why.push(format!("took {took:?}"));
            }
            for e in &expect {
                if !t.contains(e.as_str()) {
                    why.push(format!("`{e}` missing"));
                }
            }
            if out.exists() {
                why.push(format!("wrote {}", out.display()));
            }
            if !why.is_empty() {
                failures.push(format!("{name}: {}\n{t}", why.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Values tried for a key: inside its bound, at its ends, and beyond them.
fn samples(low: f64, high: f64, rng: &mut common::Rng) -> Vec<f64> {
    let mid = low + (high - low) * rng.next();
    vec![
        low,
        high,
        mid,
        low - 1.0 - low.abs(),
        high * 10.0 + 1.0,
        -1.0,
        0.0,
        1e308,
        -1e308,
        f64::NAN,
        f64::INFINITY,
    ]
}

/// Sets `key` of the TOML `text` to `v` (an integer where the base has one).
fn with_value(text: &str, key: &str, v: f64) -> Option<String> {
    let mut t: toml::Table = toml::from_str(text).ok()?;
    let was_int = {
        // Walk `a.b[2].c` down the table.
        let mut at = toml::Value::Table(t.clone());
        for part in key.split('.') {
            let (name, indices) = part.split_once('[').unwrap_or((part, ""));
            at = at.get(name)?.clone();
            for i in indices.split('[').filter(|s| !s.is_empty()) {
                let i: usize = i.trim_end_matches(']').parse().ok()?;
                at = at.get(i)?.clone();
            }
        }
        at.is_integer()
    };
    let value = if was_int {
        if !v.is_finite() || v.abs() > 9.2e18 {
            return None;
        }
        toml::Value::Integer(v as i64)
    } else {
        toml::Value::Float(v)
    };
    infiltrate::scenario::set_key(&mut t, key, value).ok()?;
    toml::to_string(&t).ok()
}

/// Every numeric key of a slice and of an in-vivo scenario (small grids, every kind of
/// treatment), set to values inside, at the ends of and beyond its bound, one at a
/// time: validation either refuses (a value outside its own bound, naming that key;
/// else naming some key) or accepts with step counts, sub-steps, work and memory finite
/// and within the limits. Never a panic.
#[test]
fn random_values_of_every_key_are_refused_by_name_or_give_finite_work() {
    let treatments = r#"
[[treatment]]
drug = "amd3100"
route = "ROUTE"
half_life_h = 4.0
doses = [{ at_h = 0.5, peak_uM = 1.0 }]

[[treatment]]
drug = "anti_pd1"
route = "ROUTE"
half_life_h = 600.0
schedule = { start_h = 0.0, every_h = 1.0, count = 2, peak_nM = 100.0 }

[[treatment]]
drug = "amd3100"
route = "ROUTE"
level_nM = 10.0
start_h = 1.0

[output]
plane_index = 2
vti_every_h = 1.0
cxcl12_range_nM = [0.0, 10.0]
amd3100_range_uM = [0.0, 1.0]
anti_pd1_range_nM = [0.0, 100.0]
tcells_range_per_mm3 = [0.0, 20000.0]
tumor_range_fraction = [0.0, 1.0]
killed_range_fraction = [0.0, 1.0]

[numerics]
quasi_steady = ["amd3100"]
cell_dt_min = 0.01
cxcl12_dt_min = 0.001
amd3100_dt_min = 0.001
anti_pd1_dt_min = 0.001
"#;
    let slice = small_slice("property", [9, 7, 5], "")
        .split("[numerics]")
        .next()
        .unwrap()
        .to_string()
        + &treatments.replace("ROUTE", "bath");
    let flc = format!(
        "[grid]\nnx = 10\nny = 9\nnz = 8\nvoxel_um = 25.0\n[time]\nburn_in_h = 1.0\n\
         duration_h = 3.0\nsnapshot_every_h = 1.0\n[geometry]\nkind = \"flc\"\n\
         [geometry.flc]\ncenter_um = [125.0, 112.0, 100.0]\nradii_um = [80.0, 70.0, 60.0]\n\
         capsule_um = 20.0\n{}",
        treatments.replace("ROUTE", "plasma")
    );
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits::default();
    let mut rng = common::Rng(7);
    let mut tried = 0;
    let mut problems = Vec::new();
    for (base_name, base) in [("slice", &slice), ("flc", &flc)] {
        let loaded = {
            let p = dir.path().join(format!("{base_name}.toml"));
            fs::write(&p, base).unwrap();
            infiltrate::scenario::load(&p).unwrap()
        };
        run::validate(loaded.clone(), Overrides::default())
            .unwrap_or_else(|e| panic!("the {base_name} base is refused: {e}"));
        let resolved = toml::to_string(&loaded.scenario).unwrap();
        let resolved_value: toml::Value = toml::from_str(&resolved).unwrap();
        let mut keys = Vec::new();
        numbers(&resolved_value, "", &mut keys);
        for (key, _) in keys {
            let b = bound_of(&key).unwrap_or_else(|| panic!("{key} has no bound"));
            for v in samples(b.low, b.high, &mut rng) {
                let Some(text) = with_value(&resolved, &key, v) else {
                    continue;
                };
                let p = dir.path().join("case.toml");
                fs::write(&p, &text).unwrap();
                tried += 1;
                let outside = !(v >= b.low && v <= b.high);
                let got = std::panic::catch_unwind(|| {
                    infiltrate::scenario::load(&p)
                        .and_then(|l| run::validate(l, Overrides::default()))
                });
                let case = format!("{base_name}: {key} = {v}");
                match got {
                    Err(_) => problems.push(format!("{case}: panicked")),
                    Ok(Err(e)) => {
                        let m = e.to_string();
                        if outside && !m.contains(&key) {
                            problems.push(format!("{case}: refused without naming it: {m}"));
                        } else if !m.contains("key `") && !m.contains(&key) {
                            problems.push(format!("{case}: refused naming no key: {m}"));
                        }
                    }
                    Ok(Ok(v)) => {
                        if outside {
                            problems.push(format!("{case}: accepted outside its bound"));
                        }
                        let steps = v.plan.total_cell_steps() as f64;
                        let work = infiltrate::run::estimate::Work::before_tissue(
                            &v.plan,
                            &v.params,
                            &v.dosing,
                            v.loaded.scenario.numerics.quasi_steady_tolerance,
                        );
                        let ok = steps <= limits.cell_steps
                            && v.plan.substeps.iter().all(|&n| f64::from(n) <= 1e9)
                            && work.updates().is_finite()
                            && work.updates() <= limits.voxel_updates
                            && v.plan.cell_dt.is_finite()
                            && v.plan.cell_dt > 0.0;
                        if !ok {
                            problems.push(format!("{case}: accepted with work {work:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(tried > 500, "only {tried} cases");
    assert!(
        problems.is_empty(),
        "{} of {tried} cases:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn sweep_with(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let base = dir.join("base.toml");
    fs::write(&base, small_slice("base", [9, 7, 5], "")).unwrap();
    let f = dir.join("sweep.toml");
    fs::write(
        &f,
        format!(
            "base = \"base.toml\"\nname = {}\n{extra}",
            toml::Value::String(name.into())
        ),
    )
    .unwrap();
    f
}

/// Sweeps of 10⁵–10¹² points, or whose counts overflow, are refused within a second,
/// naming the count and `--max-points`; nothing is written.
#[test]
fn huge_sweeps_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let axis = |name: &str, count: u64| {
        format!(
            "[[axis]]\nname = \"{name}\"\nkey = \"tcells.death_per_day\"\n\
             range = {{ from = 0.1, to = 0.3, count = {count} }}\n"
        )
    };
    let cases = [
        // 10¹² values on one axis; 10⁵; 10 × 10⁴ (over 10⁴ points); 400⁸ = 6.6 × 10²⁰
        // points, more than 2⁶⁴.
        axis("a", 1_000_000_000_000),
        axis("a", 100_000),
        axis("a", 10) + &axis("b", 10_000),
        (0..8)
            .map(|i| axis(&format!("a{i}"), 400))
            .collect::<String>(),
    ];
    for (i, extra) in cases.iter().enumerate() {
        let f = sweep_with(dir.path(), "big", extra);
        let out = dir.path().join(format!("out{i}"));
        let start = Instant::now();
        let o = bin()
            .args(["sweep", "check", "--backend", "cpu", "--no-probe"])
            .arg(&f)
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "case {i}: {t}");
        assert!(
            t.contains("--max-points") && !t.contains("panicked"),
            "case {i}: {t}"
        );
        let o = bin()
            .args(["sweep", "run", "--backend", "cpu", "--out"])
            .arg(&out)
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "case {i}: {}", text(&o));
        assert!(!out.exists(), "case {i} wrote {}", out.display());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "case {i}: {:?}",
            start.elapsed()
        );
    }
}

/// Text that tries to steer what a sweep writes: a newline, quotes, `$(...)`,
/// backticks, `;`, and a TOML line (`extends`), in the sweep's name and labels and in
/// every value of `sweep slurm` that reaches the script.
const NASTY: [&str; 6] = [
    "a\nb",
    "x\"y'z",
    "$(touch PWNED)",
    "`touch PWNED`",
    "p; touch PWNED",
    "x\nextends = \"/etc/passwd\"\n[grid]\nnx = 3",
];

/// `sweep slurm` refuses every such value of an option that reaches an `#SBATCH` line
/// (naming the option) and writes nothing.
#[test]
fn slurm_options_cannot_steer_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let f = sweep_with(
        dir.path(),
        "plain",
        "[[axis]]\nkey = \"tcells.death_per_day\"\nvalues = [0.1, 0.2]\n",
    );
    for v in NASTY {
        for (option, arg) in [
            ("--partition", format!("--partition={v}")),
            ("--account", format!("--account={v}")),
            ("--sbatch-option", format!("--sbatch-option=--qos={v}")),
            ("--checkpoint-every", format!("--checkpoint-every={v}")),
        ] {
            let out = dir.path().join("out");
            let o = bin()
                .args(["sweep", "slurm", "--time", "1h", "--mem", "100"])
                .arg(&arg)
                .arg("--out")
                .arg(&out)
                .arg(&f)
                .output()
                .unwrap();
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{arg:?}: {t}");
            assert!(t.contains(option), "{arg:?}: {t}");
            assert!(!out.exists(), "{arg:?} wrote {}", out.display());
        }
        // A sweep folder whose path cannot stand in `#SBATCH --output`.
        let out = dir.path().join(format!("o{}", v.replace('/', "_")));
        let o = bin()
            .args(["sweep", "slurm", "--time", "1h", "--mem", "100", "--out"])
            .arg(&out)
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{v:?}: {}", text(&o));
        assert!(text(&o).contains("--out"), "{}", text(&o));
        assert!(!out.exists());
    }
}

/// A sweep whose name and labels carry newlines, quotes, command substitutions and a
/// TOML `extends` line: every point's scenario reads back to exactly the intended values
/// (no extends, the base's grid), the job script passes `bash -n`, and run as Slurm
/// would run it (with a stub `infiltrate`) it runs the stub with the intended
/// arguments and nothing else.
#[test]
fn names_and_labels_cannot_steer_the_scenarios_and_script() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<String> = NASTY
        .iter()
        .map(|s| toml::Value::String(s.to_string()).to_string())
        .collect();
    let overlays: String = NASTY
        .iter()
        .enumerate()
        .map(|(i, _)| {
            format!(
                "[[axis.overlays]]\nlabel = {}\nset = {{ tcells = {{ death_per_day = {} }} }}\n",
                labels[i],
                0.1 + 0.01 * i as f64
            )
        })
        .collect();
    let f = sweep_with(
        dir.path(),
        NASTY[5],
        &format!("[[axis]]\nname = {}\n{overlays}", labels[0]),
    );
    let out = dir.path().join("out");
    let o = bin()
        .args(["sweep", "slurm", "--time", "1h", "--mem", "100", "--out"])
        .arg(&out)
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let s = infiltrate::sweep::Sweep::read(&f).unwrap();
    for (i, p) in s.points.iter().enumerate() {
        let sc = out.join("points").join(&p.dir).join("scenario.toml");
        let body = fs::read_to_string(&sc).unwrap();
        let table: toml::Table = toml::from_str(&body)
            .unwrap_or_else(|e| panic!("{}: not TOML: {e}\n{body}", sc.display()));
        assert!(!table.contains_key("extends"), "{body}");
        assert_eq!(table["grid"]["nx"].as_integer(), Some(9), "{body}");
        let death = table["tcells"]["death_per_day"].as_float().unwrap();
        assert!((death - (0.1 + 0.01 * i as f64)).abs() < 1e-12, "{body}");
        // Loads as a scenario, with the name as given.
        let loaded = infiltrate::scenario::load(&sc).unwrap();
        assert_eq!(loaded.scenario.name, "base");
    }
    let script = out.join("slurm/job.sh");
    let st = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "bash -n failed on\n{}",
        fs::read_to_string(&script).unwrap()
    );
    let body = fs::read_to_string(&script).unwrap();
    for l in body.lines().filter(|l| l.starts_with("#SBATCH")) {
        let value = l.trim_start_matches("#SBATCH ");
        assert!(infiltrate::sweep::slurm::sbatch_safe(value), "{l}");
    }
    // Run task 0 as Slurm would, with a stub in place of the binary.
    let stub_dir = dir.path().join("stub");
    fs::create_dir_all(&stub_dir).unwrap();
    let calls = dir.path().join("calls");
    let stub = stub_dir.join("infiltrate");
    fs::write(
        &stub,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" >> {}\n",
            calls.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let patched: String = body
        .lines()
        .map(|l| {
            if l.starts_with("exe=") {
                format!("exe='{}'\n", stub.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(patched, body, "the script names the binary as exe='…'");
    let local = dir.path().join("job.sh");
    fs::write(&local, patched).unwrap();
    let o = Command::new("bash")
        .arg(&local)
        .current_dir(dir.path())
        .env("SLURM_ARRAY_TASK_ID", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let args = fs::read_to_string(&calls).unwrap();
    let want = format!(
        "--threads\n1\nrun\n{0}/scenario.toml\n--out\n{0}/run\n--force\n--backend\ncpu\n",
        out.join("points").join(&s.points[0].dir).display()
    );
    assert_eq!(args, want);
    let pwned: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "PWNED"))
        .collect();
    assert!(pwned.is_empty(), "{pwned:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// A small slice long enough to be running while a second process tries the folder.
fn slow_scenario(dir: &Path) -> PathBuf {
    let p = dir.join("slow.toml");
    fs::write(
        &p,
        small_slice("slow", [24, 20, 12], "").replace("duration_h = 3.0", "duration_h = 48.0"),
    )
    .unwrap();
    p
}

/// While a run holds its folder, a second run (even with --force), a resume and
/// `pictures` are refused naming the holder's PID, and the folder ends with one run's
/// files only; a killed run leaves the folder free (the OS releases its lock).
#[test]
fn one_run_per_folder() {
    let dir = tempfile::tempdir().unwrap();
    let sc = slow_scenario(dir.path());
    let out = dir.path().join("run");
    let mut first = bin()
        .args([
            "run",
            "--quiet",
            "--backend",
            "cpu",
            "--no-pictures",
            "--no-vti",
        ])
        .arg(&sc)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !out.join("metrics.csv").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = first.id();
    for args in [
        vec![
            "run",
            "--quiet",
            "--backend",
            "cpu",
            "--force",
            "--duration",
            "1h",
        ],
        vec!["run", "--quiet", "--backend", "cpu", "--duration", "1h"],
    ] {
        let o = bin()
            .args(&args)
            .arg(&sc)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        if args.contains(&"--force") {
            assert!(
                t.contains(&format!("PID {pid}")) && t.contains("in use"),
                "{t}"
            );
        }
    }
    let o = bin().arg("pictures").arg(&out).output().unwrap();
    assert!(text(&o).contains(&format!("PID {pid}")), "{}", text(&o));
    let o = bin().arg("resume").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Killed, the first run's lock goes with it: a new run may take the folder.
    first.kill().unwrap();
    first.wait().unwrap();
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
        .args(["--no-pictures", "--no-vti"])
        .arg(&sc)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let resolved = fs::read_to_string(out.join("scenario.resolved.toml")).unwrap();
    assert!(resolved.contains("duration_h = 0.5"), "{resolved}");
    let rows = fs::read_to_string(out.join("metrics.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 1 + 2, "snapshots at 0 and 0.5 h");
}

/// The default limits accept every shipped sweep (each point and the whole) and the
/// 1024³ run of `benches/device.sh` (validated, not built).
#[test]
fn the_default_limits_accept_the_shipped_sweeps_and_the_device_run() {
    for entry in fs::read_dir(root().join("scenarios/sweeps")).unwrap() {
        let f = entry.unwrap().path();
        if f.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let o = bin()
            .args(["sweep", "check", "--backend", "cpu", "--no-probe"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}: {}", f.display(), text(&o));
    }
    let script = fs::read_to_string(root().join("benches/device.sh")).unwrap();
    let start = script.find("cat > /tmp/big1024.toml <<'TOML'\n").unwrap();
    let body = &script[start..];
    let body = &body[body.find('\n').unwrap() + 1..body.find("\nTOML").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big1024.toml");
    fs::write(&p, body).unwrap();
    let loaded = infiltrate::scenario::load(&p).unwrap();
    let v = run::validate(loaded, Overrides::default()).unwrap();
    assert_eq!(v.params.voxels(), 1 << 30);
}
