//! A real Slurm: the four-point sweep submitted as a job array with the generated
//! script completes, and collects to the same table as the same sweep run locally.
//! Needs a running Slurm (`.ci/slurm-up` starts a one-node cluster on this machine);
//! without one the test fails saying so.

mod common;

use common::{root, text};

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn infiltrate(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infiltrate"));
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.output().unwrap()
}

/// Panics unless a Slurm node answers, saying what to start.
fn require_slurm() {
    let o = Command::new("sinfo").args(["-h", "-o", "%T"]).output();
    let up = match &o {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            s.lines().any(|l| {
                let l = l.trim().trim_end_matches('*');
                l == "idle" || l == "mixed" || l == "allocated"
            })
        }
        _ => false,
    };
    assert!(
        up,
        "no Slurm cluster is running here (sinfo: {}). Start a one-node cluster with \
         `sudo .ci/slurm-up` (installs slurmctld, slurmd, slurm-client and munge on \
         Debian, then starts munged, slurmctld and slurmd); .ci/run does this before \
         the tests.",
        match &o {
            Ok(o) => text(o).trim().to_string(),
            Err(e) => e.to_string(),
        }
    );
}

#[test]
fn a_four_point_job_array_collects_to_the_local_table() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let sweep = root().join("tests/sweeps/four.toml");
    let on_slurm = dir.path().join("slurm");
    let here = dir.path().join("local");

    let o = infiltrate(
        &[
            "sweep",
            "slurm",
            "--time",
            "10min",
            "--throttle",
            "2",
            "--submit",
        ],
        &[&sweep, Path::new("--out"), &on_slurm],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let job = t
        .lines()
        .find_map(|l| l.strip_prefix("submitted job "))
        .unwrap_or_else(|| panic!("no job id in:\n{t}"))
        .trim()
        .to_string();
    let script = fs::read_to_string(on_slurm.join("slurm/job.sh")).unwrap();
    for want in [
        "#SBATCH --array=0-3%2",
        "#SBATCH --requeue",
        "#SBATCH --time=0-00:10:00",
    ] {
        assert!(script.contains(want), "missing `{want}` in\n{script}");
    }

    // The same sweep here, meanwhile.
    let o = infiltrate(
        &["sweep", "run", "--backend", "cpu", "--quiet"],
        &[&sweep, Path::new("--out"), &here],
    );
    assert!(o.status.success(), "{}", text(&o));

    let start = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "job {job} still queued or running after 5 min:\n{}",
            text(&q)
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    for d in [&on_slurm, &here] {
        let o = infiltrate(&["sweep", "collect"], &[d]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("4 of 4 points finished"), "{}", text(&o));
    }
    let a = fs::read_to_string(on_slurm.join("sweep.csv")).unwrap();
    let b = fs::read_to_string(here.join("sweep.csv")).unwrap();
    assert_eq!(a.lines().count(), 5, "{a}");
    assert_eq!(a, b, "the Slurm and local sweeps collect to the same table");
    // Each task logged its point.
    let logs = fs::read_dir(on_slurm.join("slurm/logs")).unwrap().count();
    assert_eq!(logs, 4, "one log per array task");
}
