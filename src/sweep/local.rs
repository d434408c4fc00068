//! Running a sweep on this machine: each point by spawning the `infiltrate` binary
//! (`run POINT/scenario.toml --out POINT/run`), one at a time on a GPU or several CPU
//! runs side by side, skipping finished points, recording failed ones.

use std::fs::File;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{point_dir, run_dir, status, Failure, Point, Status, Sweep};
use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::run::Backend;

/// How a local sweep runs its points.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The `infiltrate` binary to spawn for each point.
    pub exe: PathBuf,
    pub out: PathBuf,
    /// The backend each point runs on (`cpu`, or a GPU API).
    pub backend: Backend,
    pub adapter: Option<String>,
    /// Points run side by side.
    pub jobs: usize,
    /// CPU threads of each point's run.
    pub threads: usize,
    /// Start at most this many points in this call (the rest stay for the next call).
    pub limit: Option<usize>,
    /// Pass `--checkpoint-every` to each run, and resume a point from its checkpoint
    /// (`infiltrate resume`) when one exists.
    pub checkpoint_every: Option<String>,
    pub progress: bool,
}

/// The count of points in each state after a local sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub finished_before: usize,
    pub finished: usize,
    pub failed: usize,
    /// Not started in this call (`limit`).
    pub left: usize,
}

/// The arguments that run (or resume) one point, after the binary's name.
pub fn point_args(o: &LocalOptions, p: &Point) -> Vec<String> {
    let run = run_dir(&o.out, p);
    let mut a = vec!["--threads".to_string(), o.threads.to_string()];
    if o.checkpoint_every.is_some() && run.join("checkpoint").is_dir() {
        a.extend(["resume".into(), run.display().to_string()]);
        return a;
    }
    a.extend([
        "run".into(),
        point_dir(&o.out, p)
            .join("scenario.toml")
            .display()
            .to_string(),
        "--out".into(),
        run.display().to_string(),
        "--force".into(),
        "--backend".into(),
        backend_name(o.backend).into(),
    ]);
    if let Some(ad) = &o.adapter {
        a.extend(["--adapter".into(), ad.clone()]);
    }
    if let Some(c) = &o.checkpoint_every {
        a.extend(["--checkpoint-every".into(), c.clone()]);
    }
    a
}

/// The command-line spelling of a backend.
pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Auto => "auto",
        Backend::Vulkan => "vulkan",
        Backend::Metal => "metal",
        Backend::Dx12 => "dx12",
        Backend::Gl => "gl",
        Backend::Cpu => "cpu",
    }
}

struct Running {
    point: Point,
    child: Child,
}

/// Runs every point of `sweep` that has not finished (the folder must have been
/// written by [`super::write_points`]).
pub fn run(sweep: &Sweep, o: &LocalOptions) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut queue: Vec<Point> = Vec::new();
    for p in &sweep.points {
        if status(&o.out, p) == Status::Finished {
            tally.finished_before += 1;
        } else {
            queue.push(p.clone());
        }
    }
    if let Some(limit) = o.limit {
        tally.left = queue.len().saturating_sub(limit);
        queue.truncate(limit);
    }
    queue.reverse(); // pop() takes points in order
    let total = queue.len() as u64;
    // A bar on a terminal; elsewhere (batch jobs, nohup) a plain line per point.
    let plain = o.progress && !std::io::stderr().is_terminal();
    let bar = if o.progress && !plain {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} points  {msg}  ETA {eta}")
            .expect("progress template is valid"),
    );
    let jobs = o.jobs.max(1);
    let mut running: Vec<Running> = Vec::new();
    let started = Instant::now();
    let msg = |t: &Tally, running: usize| {
        format!(
            "done {}, running {running}, failed {}",
            t.finished, t.failed
        )
    };
    loop {
        while running.len() < jobs {
            let Some(p) = queue.pop() else { break };
            match spawn(o, &p) {
                Ok(child) => running.push(Running { point: p, child }),
                Err(e) => {
                    record_failure(o, &p, None, &e.to_string())?;
                    tally.failed += 1;
                    bar.inc(1);
                }
            }
        }
        bar.set_message(msg(&tally, running.len()));
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut i = 0;
        while i < running.len() {
            let done = running[i]
                .child
                .try_wait()
                .map_err(|e| Error::Other(format!("waiting for a point's run: {e}")))?;
            let Some(exit) = done else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            if exit.success() && status(&o.out, &r.point) == Status::Finished {
                tally.finished += 1;
                if plain {
                    eprintln!(
                        "sweep: point {} finished ({}), {} of {total} done, {} failed, elapsed {}",
                        r.point.index,
                        sweep.describe_point(&r.point),
                        tally.finished + tally.failed,
                        tally.failed,
                        crate::units::human_secs(started.elapsed().as_secs_f64())
                    );
                }
            } else {
                let log = point_dir(&o.out, &r.point).join("run.log");
                let err = super::last_error_line(&log);
                record_failure(o, &r.point, exit.code(), &err)?;
                tally.failed += 1;
                let line = format!(
                    "point {} failed ({}): {err}",
                    r.point.index,
                    sweep.describe_point(&r.point)
                );
                if plain {
                    eprintln!("sweep: {line}");
                } else {
                    bar.println(line);
                }
            }
            bar.inc(1);
            bar.set_message(msg(&tally, running.len()));
        }
    }
    bar.finish_and_clear();
    if o.progress {
        eprintln!(
            "sweep: {} finished now, {} before, {} failed, {} left, in {}",
            tally.finished,
            tally.finished_before,
            tally.failed,
            tally.left,
            crate::units::human_secs(started.elapsed().as_secs_f64())
        );
    }
    Ok(tally)
}

fn spawn(o: &LocalOptions, p: &Point) -> Result<Child> {
    let d = point_dir(&o.out, p);
    let _ = std::fs::remove_file(d.join("failed.json"));
    let log_path = d.join("run.log");
    let log = File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
    let err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
    Command::new(&o.exe)
        .args(point_args(o, p))
        .env("RAYON_NUM_THREADS", o.threads.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::Other(format!("cannot start {}: {e}", o.exe.display())))
}

fn record_failure(o: &LocalOptions, p: &Point, code: Option<i32>, error: &str) -> Result<()> {
    let f = Failure {
        exit_code: code,
        error: error.to_string(),
    };
    let json = serde_json::to_string_pretty(&f).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(&point_dir(&o.out, p).join("failed.json"), json.as_bytes())
}

/// How many CPU runs fit side by side: at most one per `threads` cores and within
/// `available` bytes of memory (each point needs `bytes_per_run`).
pub fn cpu_jobs(cores: usize, threads: usize, available: Option<u64>, bytes_per_run: u64) -> usize {
    let by_cores = (cores / threads.max(1)).max(1);
    let by_mem = match available {
        Some(a) if bytes_per_run > 0 => (a / bytes_per_run).max(1) as usize,
        _ => usize::MAX,
    };
    by_cores.min(by_mem)
}
