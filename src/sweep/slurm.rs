//! Running a sweep as a Slurm job array: one array task per point, writing into the
//! same folder layout as a local sweep. The script is requeue-safe: a task whose point
//! has finished exits at once, and one whose point left a checkpoint resumes from it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Point, Sweep};
use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::run::Backend;

/// What the job array asks of Slurm, and how each task runs its point.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The `infiltrate` binary the tasks run (must be reachable from the compute nodes).
    pub exe: PathBuf,
    pub out: PathBuf,
    pub job_name: String,
    pub partition: Option<String>,
    pub account: Option<String>,
    /// GPUs per task (`--gpus-per-task`); none: a CPU run.
    pub gpus_per_task: Option<u32>,
    pub cpus_per_task: u32,
    /// Memory per task, MiB.
    pub mem_mib: u64,
    /// Wall time per task, minutes.
    pub time_min: u64,
    /// At most this many tasks at once (`--array=0-N%T`).
    pub throttle: Option<u32>,
    pub backend: Backend,
    /// `--checkpoint-every` for each run (and resume from `run/checkpoint` if present).
    pub checkpoint_every: Option<String>,
    /// Extra `#SBATCH` lines, as written (`--qos=short`).
    pub extra: Vec<String>,
}

/// Single-quotes a word for bash.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `D-HH:MM:SS` from minutes.
pub fn slurm_time(min: u64) -> String {
    let (d, rest) = (min / 1440, min % 1440);
    format!("{d}-{:02}:{:02}:00", rest / 60, rest % 60)
}

/// Whether a value may stand in an `#SBATCH` line: sbatch reads those lines itself (not
/// the shell), splitting at whitespace, so a value is one word of letters, digits and
/// `_ . , : = + / @ % -`: no whitespace, quotes, `$`, backticks, `;` or control
/// characters.
pub fn sbatch_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.,:=+/@%-".contains(c))
}

/// A sweep's name as a job name: every character `#SBATCH` could not carry becomes `_`.
pub fn job_name(sweep_name: &str) -> String {
    let name: String = sweep_name
        .chars()
        .map(|c| if sbatch_safe(&c.to_string()) { c } else { '_' })
        .take(64)
        .collect();
    format!("infiltrate-{name}")
}

/// Refuses a value for an `#SBATCH` line that [`sbatch_safe`] does not allow, naming the
/// option it came from.
fn check_sbatch(option: &str, value: &str) -> Result<()> {
    if sbatch_safe(value) {
        return Ok(());
    }
    Err(Error::Other(format!(
        "{option} {value:?}: a value written into the job script's #SBATCH lines must be one \
         word of letters, digits and _ . , : = + / @ % - (no spaces, quotes, $, `, ; or \
         line breaks)"
    )))
}

/// The job-array script for `points` (task i runs line i + 1 of `slurm/points.txt`).
/// Values in `#SBATCH` lines are checked ([`sbatch_safe`]); values in shell lines are
/// single-quoted.
pub fn script(o: &SlurmOptions, points: &[Point]) -> Result<String> {
    let out = &o.out;
    let logs = out.join("slurm").join("logs");
    check_sbatch("--job-name", &o.job_name)?;
    check_sbatch(
        "--out (the sweep folder, in #SBATCH --output)",
        &logs.display().to_string(),
    )?;
    for (option, v) in [("--partition", &o.partition), ("--account", &o.account)] {
        if let Some(v) = v {
            check_sbatch(option, v)?;
        }
    }
    for e in &o.extra {
        check_sbatch("--sbatch-option", e)?;
        if !e.starts_with("--") {
            return Err(Error::Other(format!(
                "--sbatch-option {e:?}: give an sbatch option as written on its command \
                 line, starting with -- (e.g. --qos=short)"
            )));
        }
    }
    if let Some(c) = &o.checkpoint_every {
        crate::units::parse_time_min(c)
            .map_err(|e| Error::Other(format!("--checkpoint-every {c:?}: {e}")))?;
    }
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# Written by `infiltrate sweep slurm`: one array task per sweep point.\n");
    let mut sb = |l: String| s.push_str(&format!("#SBATCH {l}\n"));
    sb(format!("--job-name={}", o.job_name));
    let last = points.len().saturating_sub(1);
    sb(match o.throttle {
        Some(t) => format!("--array=0-{last}%{t}"),
        None => format!("--array=0-{last}"),
    });
    sb(format!("--output={}/%A_%a.out", logs.display()));
    sb("--ntasks=1".into());
    sb(format!("--cpus-per-task={}", o.cpus_per_task));
    sb(format!("--mem={}M", o.mem_mib));
    sb(format!("--time={}", slurm_time(o.time_min)));
    if let Some(g) = o.gpus_per_task {
        sb(format!("--gpus-per-task={g}"));
    }
    if let Some(p) = &o.partition {
        sb(format!("--partition={p}"));
    }
    if let Some(a) = &o.account {
        sb(format!("--account={a}"));
    }
    // Requeue-safe: a preempted or requeued task appends to its log and resumes.
    sb("--requeue".into());
    sb("--open-mode=append".into());
    for e in &o.extra {
        sb(e.clone());
    }
    let threads = o.cpus_per_task.max(1);
    let run_args = {
        let mut a = vec![
            "--backend".to_string(),
            super::local::backend_name(o.backend).to_string(),
        ];
        if let Some(c) = &o.checkpoint_every {
            a.extend(["--checkpoint-every".into(), c.clone()]);
        }
        a.iter().map(|w| sh(w)).collect::<Vec<_>>().join(" ")
    };
    let resume = if o.checkpoint_every.is_some() {
        r#"if [ -d "$dir/run/checkpoint" ]; then
    echo "task $SLURM_ARRAY_TASK_ID: resuming point $point from its checkpoint"
    "$exe" --threads "$threads" resume "$dir/run" >>"$dir/run.log" 2>&1 || fail $?
    exit 0
fi
"#
    } else {
        ""
    };
    s.push_str(&format!(
        r#"
set -uo pipefail
exe={exe}
sweep={out}
threads={threads}
export RAYON_NUM_THREADS=$threads
point=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$sweep/slurm/points.txt")
if [ -z "$point" ]; then
    echo "task $SLURM_ARRAY_TASK_ID: no such point in $sweep/slurm/points.txt" >&2
    exit 1
fi
dir="$sweep/points/$point"
fail() {{
    printf '{{"exit_code": %d}}\n' "$1" > "$dir/failed.json"
    echo "task $SLURM_ARRAY_TASK_ID: point $point failed (exit $1); see $dir/run.log" >&2
    exit "$1"
}}
if [ -f "$dir/run/summary.json" ]; then
    echo "task $SLURM_ARRAY_TASK_ID: point $point already finished"
    exit 0
fi
rm -f "$dir/failed.json"
echo "task $SLURM_ARRAY_TASK_ID on $(hostname): point $point"
{resume}"$exe" --threads "$threads" run "$dir/scenario.toml" --out "$dir/run" --force {run_args} >"$dir/run.log" 2>&1 || fail $?
echo "task $SLURM_ARRAY_TASK_ID: point $point finished"
"#,
        exe = sh(&o.exe.display().to_string()),
        out = sh(&out.display().to_string()),
    ));
    Ok(s)
}

/// Writes `slurm/job.sh`, `slurm/points.txt` and `slurm/logs/`; returns the script's
/// path. Only points not yet finished are listed, so a second submission runs the rest.
pub fn write(sweep: &Sweep, o: &SlurmOptions) -> Result<(PathBuf, usize)> {
    let dir = o.out.join("slurm");
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(&dir, e))?;
    let todo: Vec<Point> = sweep
        .points
        .iter()
        .filter(|p| super::status(&o.out, p) != super::Status::Finished)
        .cloned()
        .collect();
    let list: String = todo.iter().map(|p| format!("{}\n", p.dir)).collect();
    write_atomic(&dir.join("points.txt"), list.as_bytes())?;
    let path = dir.join("job.sh");
    let text = script(o, &todo)?;
    write_atomic(&path, text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
    }
    Ok((path, todo.len()))
}

/// Submits a script with `sbatch --parsable`; returns the job id.
pub fn submit(script: &Path) -> Result<String> {
    let o = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|e| {
            Error::Other(format!(
                "cannot run sbatch: {e} (is Slurm installed here? `.ci/slurm-up` starts a one-node cluster)"
            ))
        })?;
    if !o.status.success() {
        return Err(Error::Other(format!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(Error::Other("sbatch printed no job id".into()));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(checkpoint: Option<&str>) -> SlurmOptions {
        SlurmOptions {
            exe: "/opt/it's/infiltrate".into(),
            out: "/scratch/sweep".into(),
            job_name: "t".into(),
            partition: Some("gpu".into()),
            account: None,
            gpus_per_task: Some(1),
            cpus_per_task: 4,
            mem_mib: 3000,
            time_min: 1530,
            throttle: Some(3),
            backend: Backend::Auto,
            checkpoint_every: checkpoint.map(str::to_string),
            extra: vec!["--qos=short".into()],
        }
    }

    fn points(n: usize) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                index: i,
                dir: format!("{i:04}-00000000"),
                levels: vec![i],
                seed: None,
            })
            .collect()
    }

    #[test]
    fn the_script_asks_for_the_resources_and_resumes_only_with_checkpoints() {
        let s = script(&opts(Some("6h")), &points(5)).unwrap();
        for want in [
            "#SBATCH --array=0-4%3",
            "#SBATCH --time=1-01:30:00",
            "#SBATCH --mem=3000M",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --partition=gpu",
            "#SBATCH --qos=short",
            "#SBATCH --requeue",
            "exe='/opt/it'\\''s/infiltrate'",
            "resume \"$dir/run\"",
            "'--checkpoint-every' '6h'",
        ] {
            assert!(s.contains(want), "missing `{want}` in\n{s}");
        }
        assert!(!s.contains("--account"));
        let plain = script(&opts(None), &points(5)).unwrap();
        assert!(!plain.contains("resume") && !plain.contains("--checkpoint-every"));
    }
}
