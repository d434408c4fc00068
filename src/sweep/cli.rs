//! `infiltrate sweep …`: the subcommands and what they print.

use std::path::{Path, PathBuf};

use super::estimate::{self, Cost};
use super::local::{self, LocalOptions};
use super::slurm::{self, SlurmOptions};
use super::{collect, write_points, Sweep};
use crate::error::{Error, Result};
use crate::run::estimate::UnitCost;
use crate::run::{self, Backend};
use crate::scenario::Loaded;
use crate::units::{human_bytes, human_secs, parse_time_min};

/// Sweeps over scenario keys: check, run here, run on Slurm, collect.
#[derive(Debug, clap::Subcommand)]
pub enum SweepCommand {
    /// Expand a sweep file, check every point against the schema and ranges, and print
    /// the number of runs, each run's memory and estimated time (from a short timed
    /// probe of the first point), and the total. Writes nothing.
    Check {
        /// The sweep file (TOML).
        sweep: PathBuf,
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        max: MaxPoints,
        /// Skip the timed probe (memory and step counts only).
        #[arg(long)]
        no_probe: bool,
    },
    /// Run every point here (points already finished in DIR are skipped, failed ones
    /// retried), then `sweep collect DIR`.
    Run {
        /// The sweep file (TOML): a base scenario and the axes to sweep.
        sweep: PathBuf,
        /// The sweep folder (created if absent; points already there are kept).
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        max: MaxPoints,
        /// Points run side by side (default: one on a GPU; on the CPU as many as the
        /// cores and the memory allow).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// CPU threads per point (default: cores / side-by-side points).
        #[arg(long, value_name = "N")]
        threads_per_run: Option<usize>,
        /// Start at most N points in this call; the rest wait for the next call.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Checkpoint each run at this interval of simulated time (6h) and resume a
        /// point from its checkpoint when it has one.
        #[arg(long, value_name = "TIME")]
        checkpoint_every: Option<String>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write the points and a Slurm job-array script (one task per point) into DIR,
    /// print the `sbatch` command, and with --submit submit it.
    Slurm {
        /// The sweep file (TOML): a base scenario and the axes to sweep.
        sweep: PathBuf,
        /// The sweep folder, on a file system the compute nodes share; the script
        /// goes to OUT/slurm/job.sh.
        #[arg(long, short)]
        out: PathBuf,
        /// The Slurm partition (`#SBATCH --partition`); default: the cluster's.
        #[arg(long)]
        partition: Option<String>,
        /// The account charged (`#SBATCH --account`); default: yours.
        #[arg(long)]
        account: Option<String>,
        /// GPUs per task (runs on the GPU backend); none: CPU runs.
        #[arg(long, value_name = "N")]
        gpus_per_task: Option<u32>,
        /// CPU cores per task (each run's threads).
        #[arg(long, value_name = "N", default_value_t = 1)]
        cpus_per_task: u32,
        /// Wall time per task (90min, 6h, 2d); default: twice the probe's estimate of the
        /// slowest point plus 10 min.
        #[arg(long, value_name = "TIME")]
        time: Option<String>,
        /// Memory per task in MiB; default: 1.5 × the largest point's need + 256 MiB.
        #[arg(long, value_name = "MIB")]
        mem: Option<u64>,
        /// At most N tasks at once (`--array=0-K%N`).
        #[arg(long, value_name = "N")]
        throttle: Option<u32>,
        /// Checkpoint interval passed to each run (6h); a requeued task resumes from its
        /// checkpoint.
        #[arg(long, value_name = "TIME")]
        checkpoint_every: Option<String>,
        /// More `#SBATCH` options, as written (`--qos=short`); repeatable.
        #[arg(long = "sbatch-option", value_name = "OPTION")]
        extra: Vec<String>,
        /// Submit with sbatch and print the job id.
        #[arg(long)]
        submit: bool,
        #[command(flatten)]
        max: MaxPoints,
    },
    /// Gather DIR's finished points into DIR/sweep.csv and heatmaps / line plots under
    /// DIR/plots/; list missing and failed points.
    Collect {
        /// The sweep folder.
        dir: PathBuf,
    },
}

/// How large a sweep may be.
#[derive(Debug, clap::Args)]
pub struct MaxPoints {
    /// Refuse a sweep of more points (runs) than this, before any is made.
    #[arg(long, value_name = "N", default_value_t = super::spec::DEFAULT_MAX_POINTS)]
    max_points: u64,
    /// Refuse a sweep whose points together take more voxel updates than this (as
    /// `sweep check` counts them).
    #[arg(long, value_name = "N", default_value_t = 1e16)]
    max_sweep_voxel_updates: f64,
}

/// Which backend runs (and is probed).
#[derive(Debug, clap::Args)]
pub struct On {
    /// `auto`, `cpu`, `vulkan`, `metal`, `dx12`, `gl` (as for `run`).
    #[arg(long, value_enum, default_value = "auto")]
    backend: Backend,
    /// Run on the first adapter whose name contains SUBSTRING (case-insensitive), as
    /// for `run`; see `infiltrate adapters`.
    #[arg(long, value_name = "SUBSTRING")]
    adapter: Option<String>,
}

/// Runs a `sweep` subcommand; `exe` is the `infiltrate` binary that runs the points.
pub fn main(cmd: SweepCommand, exe: &Path) -> Result<()> {
    match cmd {
        SweepCommand::Check {
            sweep,
            on,
            max,
            no_probe,
        } => check(&sweep, &on, &max, no_probe),
        SweepCommand::Run {
            sweep,
            out,
            on,
            max,
            jobs,
            threads_per_run,
            limit,
            checkpoint_every,
            quiet,
        } => {
            let (s, scenarios, costs) = load(&sweep, &max)?;
            let selected = run::choose_backend(on.backend, on.adapter.as_deref())?;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let n = s.points.len().max(1);
            let (backend, jobs, threads) = if selected.backend == Backend::Cpu {
                let threads = threads_per_run.unwrap_or((cores / n.min(cores)).max(1));
                let most = costs.iter().map(|c| c.cpu_bytes).max().unwrap_or(0);
                let fit = local::cpu_jobs(cores, threads, run::available_memory(), most);
                (Backend::Cpu, jobs.unwrap_or(fit), threads)
            } else {
                (
                    selected.backend,
                    jobs.unwrap_or(1),
                    threads_per_run.unwrap_or(cores),
                )
            };
            write_points(&s, &scenarios, &out)?;
            if !quiet {
                eprintln!(
                    "sweep {}: {} points into {}; backend {}; {jobs} side by side, {threads} thread(s) each",
                    s.name,
                    s.points.len(),
                    out.display(),
                    selected.why
                );
            }
            let tally = local::run(
                &s,
                &LocalOptions {
                    exe: exe.to_path_buf(),
                    out: out.clone(),
                    backend,
                    adapter: if backend == Backend::Cpu {
                        None
                    } else {
                        on.adapter
                    },
                    jobs,
                    threads,
                    limit,
                    checkpoint_every,
                    progress: !quiet,
                },
            )?;
            println!(
                "{} finished ({} before this call), {} failed, {} not started; `infiltrate sweep collect {}` gathers them",
                tally.finished + tally.finished_before,
                tally.finished_before,
                tally.failed,
                tally.left,
                out.display()
            );
            if tally.failed > 0 {
                return Err(Error::Other(format!(
                    "{} point(s) failed (each point's failed.json and run.log say why)",
                    tally.failed
                )));
            }
            Ok(())
        }
        SweepCommand::Slurm {
            sweep,
            out,
            partition,
            account,
            gpus_per_task,
            cpus_per_task,
            time,
            mem,
            throttle,
            checkpoint_every,
            extra,
            submit,
            max,
        } => {
            let (s, scenarios, costs) = load(&sweep, &max)?;
            let backend = if gpus_per_task.is_some() {
                Backend::Auto
            } else {
                Backend::Cpu
            };
            let time_min = match time {
                Some(t) => parse_time_min(&t)?.ceil() as u64,
                None => {
                    let per =
                        probe(&scenarios, backend, None, cpus_per_task as usize).map_err(|e| {
                            Error::Other(format!(
                            "the timed probe failed ({e}); give the wall time per task with --time"
                        ))
                        })?;
                    let slowest = costs.iter().map(|c| c.seconds(&per)).fold(0.0, f64::max);
                    (2.0 * slowest / 60.0).ceil() as u64 + 10
                }
            };
            let mem_mib = mem.unwrap_or_else(|| {
                let most = costs
                    .iter()
                    .map(|c| c.cpu_bytes.max(c.host_bytes))
                    .max()
                    .unwrap_or(0);
                (most as f64 * 1.5 / (1024.0 * 1024.0)).ceil() as u64 + 256
            });
            let out_abs = std::path::absolute(&out).map_err(|e| Error::io(&out, e))?;
            let exe_abs = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
            let o = SlurmOptions {
                exe: exe_abs,
                out: out_abs,
                job_name: slurm::job_name(&s.name),
                partition,
                account,
                gpus_per_task,
                cpus_per_task,
                mem_mib,
                time_min,
                throttle,
                backend,
                checkpoint_every,
                extra,
            };
            // Every value of the script checked before anything is written.
            slurm::script(&o, &s.points)?;
            write_points(&s, &scenarios, &out)?;
            let (script, tasks) = slurm::write(&s, &o)?;
            if tasks == 0 {
                println!("every point has finished; nothing to submit");
                return Ok(());
            }
            println!(
                "{} wrote {tasks} array task(s), {} per task, {mem_mib} MiB, {} CPU(s){}",
                script.display(),
                slurm::slurm_time(time_min),
                cpus_per_task,
                gpus_per_task
                    .map(|g| format!(", {g} GPU(s)"))
                    .unwrap_or_default()
            );
            if submit {
                let id = slurm::submit(&script)?;
                println!("submitted job {id}");
                println!(
                    "watch: squeue -j {id}; then: infiltrate sweep collect {}",
                    out.display()
                );
            } else {
                println!("submit with: sbatch {}", script.display());
            }
            Ok(())
        }
        SweepCommand::Collect { dir } => {
            let c = collect::collect(&dir)?;
            let finished = c
                .rows
                .iter()
                .filter(|r| r.status == super::Status::Finished)
                .count();
            println!(
                "{finished} of {} points finished -> {}",
                c.rows.len(),
                c.csv.display()
            );
            for (p, f) in &c.failed {
                println!(
                    "failed  {} (exit {}): {}",
                    p.dir,
                    f.exit_code.map_or("?".into(), |c| c.to_string()),
                    f.error
                );
            }
            for p in &c.missing {
                println!("missing {}", p.dir);
            }
            println!(
                "{} picture(s) under {}",
                c.pictures.len(),
                dir.join("plots").display()
            );
            println!("report: {}", c.report.display());
            Ok(())
        }
    }
}

/// The unit costs of the first point, timed with `threads` CPU threads.
fn probe(
    scenarios: &[Loaded],
    backend: Backend,
    adapter: Option<&str>,
    threads: usize,
) -> Result<UnitCost> {
    let first = scenarios
        .first()
        .ok_or_else(|| Error::Other("the sweep has no points".into()))?;
    let selected = run::choose_backend(backend, adapter)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Other(e.to_string()))?;
    pool.install(|| estimate::probe(first.clone(), &selected, 1.0))
}

/// Reads a sweep file, checks every point's scenario and prices each point: what
/// `check`, `run` and `slurm` all start from.
fn load(file: &Path, max: &MaxPoints) -> Result<(Sweep, Vec<Loaded>, Vec<Cost>)> {
    let s = Sweep::read_within(file, max.max_points)?;
    let scenarios = s.check()?;
    let costs: Vec<Cost> = scenarios
        .iter()
        .map(estimate::cost)
        .collect::<Result<_>>()?;
    let total: f64 = costs.iter().map(|c| c.work.updates()).sum();
    if !crate::units::within(total, max.max_sweep_voxel_updates) {
        return Err(Error::Other(format!(
            "{}: the sweep's {} points take {} voxel updates together, more than the \
             limit of {} (--max-sweep-voxel-updates raises it; `sweep check --no-probe` \
             lists each point's cell steps)",
            file.display(),
            costs.len(),
            crate::units::significant(total, 3),
            crate::units::significant(max.max_sweep_voxel_updates, 3)
        )));
    }
    Ok((s, scenarios, costs))
}

fn check(file: &Path, on: &On, max: &MaxPoints, no_probe: bool) -> Result<()> {
    let (s, scenarios, costs) = load(file, max)?;
    println!(
        "sweep      {} ({}), base {}",
        s.name,
        file.display(),
        s.base.display()
    );
    for a in &s.axes {
        println!(
            "axis       {} [{}]: {}",
            a.title(),
            a.key.as_deref().unwrap_or("overlays"),
            a.levels
                .iter()
                .map(|l| l.label.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    if !s.seeds.is_empty() {
        println!(
            "seeds      {} at {}",
            s.seeds
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            s.seed_key
        );
    }
    let per = if no_probe {
        None
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Some(probe(&scenarios, on.backend, on.adapter.as_deref(), cores)?)
    };
    const SHOWN: usize = 40;
    for (p, c) in s.points.iter().zip(&costs).take(SHOWN) {
        println!(
            "point {:>4} {}  {} voxels, {} cell steps, memory cpu {} / gpu {}{}  [{}]",
            p.index,
            p.dir,
            c.voxels,
            c.cell_steps,
            human_bytes(c.cpu_bytes as f64),
            human_bytes(c.gpu_bytes as f64),
            per.map(|u| format!(", about {}", human_secs(c.seconds(&u))))
                .unwrap_or_default(),
            s.describe_point(p)
        );
    }
    if s.points.len() > SHOWN {
        println!("... and {} more points", s.points.len() - SHOWN);
    }
    let most = costs.iter().map(|c| c.cpu_bytes).max().unwrap_or(0);
    let total_secs = |u: &UnitCost| costs.iter().map(|c| c.seconds(u)).sum::<f64>();
    println!(
        "total      {} runs, largest {} (cpu) / {} (gpu){}",
        s.points.len(),
        human_bytes(most as f64),
        human_bytes(costs.iter().map(|c| c.gpu_bytes).max().unwrap_or(0) as f64),
        per.map(|u| format!(
            ", about {} one after another on this machine's {} backend (probe: {:.2e} s per \
             voxel and cell step, {:.2e} s per voxel and chemical sweep; undosed drugs' \
             skipped sub-steps counted out)",
            human_secs(total_secs(&u)),
            run::backend_name(on.backend),
            u.cell_s,
            u.chem_s
        ))
        .unwrap_or_default()
    );
    println!("ok: every point is valid");
    Ok(())
}
