//! The `infiltrate` command line: parse, call the library, report errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use infiltrate::run::{self, Backend, Overrides, RunOptions};
use infiltrate::units::parse_time_min;

/// Simulates T-cell infiltration of fibrolamellar carcinoma under CXCR4 blockade
/// (AMD3100) and PD-1 blockade on a 3D voxel grid.
///
/// Scenario files (TOML) describe a run: grid, tissue geometry, model parameters with
/// their units in their keys, treatments and readouts. See README.md and
/// docs/parameters.md.
#[derive(Parser)]
#[command(name = "infiltrate", version, about, long_about)]
struct Cli {
    /// Worker threads for the CPU solver and the host-side loops (default: all cores;
    /// at most 4096).
    #[arg(long, global = true, value_name = "N", value_parser = thread_count)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its readouts (metrics.csv, profile.csv, summary.json,
    /// scenario.resolved.toml) into the output folder.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Output folder; created if absent, refused if not empty (see --force).
        #[arg(long, short)]
        out: PathBuf,
        /// Which solver runs the model: `auto` takes a GPU if wgpu finds one and the CPU
        /// solver otherwise; `vulkan`, `metal`, `dx12`, `gl` the GPU solver through that
        /// API; `cpu` the CPU reference solver. See `infiltrate adapters`.
        #[arg(long, value_enum, default_value = "auto")]
        backend: Backend,
        /// Run on the first adapter whose name contains SUBSTRING (case-insensitive),
        /// among those of the chosen backend; see `infiltrate adapters`.
        #[arg(long, value_name = "SUBSTRING")]
        adapter: Option<String>,
        #[command(flatten)]
        clock: Clock,
        #[command(flatten)]
        limits: LimitArgs,
        /// Write into a non-empty output folder, replacing files of the same name; the
        /// checkpoints, picture planes and ParaView files of the run before are removed
        /// first (other files stay).
        #[arg(long)]
        force: bool,
        /// Write a checkpoint every TIME of simulated time (with a unit: 6h, 1d),
        /// rounded to the nearest cell step, and at the start of dosing and at the end,
        /// into OUT/checkpoint/ (the newest two are kept); see `infiltrate resume`.
        #[arg(long, value_name = "TIME", value_parser = positive_time_arg)]
        checkpoint_every: Option<f64>,
        /// No progress bar and no summary lines.
        #[arg(long, short)]
        quiet: bool,
        /// GPU solver: split every field into N z-slabs (default: as few as the
        /// adapter's storage-binding limit allows; one for grids up to 512³ on an H200).
        /// The results do not depend on it.
        #[arg(long, value_name = "N")]
        slabs: Option<usize>,
        /// GPU solver: plan for this much device memory, in GiB (a share of a GPU that
        /// others use too); a grid that needs more is refused before anything is
        /// allocated, naming the largest that fits. Default: the adapter's device-local
        /// memory where wgpu's Vulkan backend reports it.
        #[arg(long, value_name = "GIB", value_parser = positive_gib)]
        gpu_memory: Option<u64>,
        #[command(flatten)]
        pictures: PictureArgs,
    },
    /// Continue a run from its newest checkpoint (RUN_DIR/checkpoint/), appending to
    /// its metrics.csv and profile.csv. Refused if RUN_DIR/scenario.resolved.toml has
    /// changed or the checkpoint is of another format version.
    Resume {
        /// The run folder (the --out of `infiltrate run`).
        run_dir: PathBuf,
        /// End the run at TIME of simulated time (with a unit) instead of the scenario's
        /// duration: later to extend it, earlier to stop it.
        #[arg(long, value_name = "TIME", value_parser = time_arg)]
        until: Option<f64>,
        /// The solver (default: the backend that wrote the checkpoint; the same backend
        /// continues bit for bit, another within its precision).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Run on the first adapter whose name contains SUBSTRING (case-insensitive).
        #[arg(long, value_name = "SUBSTRING")]
        adapter: Option<String>,
        /// A new checkpoint interval (default: the run's).
        #[arg(long, value_name = "TIME", value_parser = positive_time_arg)]
        checkpoint_every: Option<f64>,
        /// No progress bar and no summary lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare finished runs: killed fraction and infiltration ratio over time
    /// (metrics.png), a summary table with each run's gain over the untreated baseline
    /// (summary.md, summary.csv), and the final pictures side by side in one colour
    /// range per field (final-*.png).
    Compare {
        /// Run folders (written by `infiltrate run`).
        #[arg(required = true, value_name = "RUN_DIR")]
        runs: Vec<PathBuf>,
        /// Output folder (created if absent; files of the same name are replaced).
        #[arg(long, short)]
        out: PathBuf,
        /// The run the gains are measured against (default: the first run whose
        /// scenario name contains "untreated").
        #[arg(long, value_name = "RUN_DIR")]
        baseline: Option<PathBuf>,
        /// Fix a colour range, FIELD=LOW:HIGH in the field's unit (cxcl12 nM, amd3100
        /// µM, anti_pd1 nM, tcells cells/mm³, tumor and killed fractions); repeatable.
        #[arg(long = "range", value_name = "FIELD=LOW:HIGH", value_parser = range_arg)]
        ranges: Vec<(String, (f64, f64))>,
        /// The T-cell pictures' scale: linear (default) or log.
        #[arg(long, value_name = "SCALE", value_parser = scale_arg)]
        scale: Option<infiltrate::scenario::TcellScale>,
    },
    /// Draw a run's pictures again from its stored planes (pictures/planes/): frames,
    /// time-lapses and final.png, in one colour range per field (or those given).
    Pictures {
        /// The run folder (written by `infiltrate run`).
        #[arg(value_name = "RUN_DIR")]
        run: PathBuf,
        /// Fix a colour range, FIELD=LOW:HIGH in the field's unit; repeatable.
        #[arg(long = "range", value_name = "FIELD=LOW:HIGH", value_parser = range_arg)]
        ranges: Vec<(String, (f64, f64))>,
        /// Milliseconds per time-lapse frame.
        #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u16).range(10..))]
        frame_ms: u16,
        #[command(flatten)]
        tcells: TcellArgs,
    },
    /// Validate a scenario and print what a run of it will be: the grid and tissue, the
    /// clock and the dosing timeline, the derived steps and step counts, each
    /// quasi-steady chemical's cost against explicit stepping, the memory on both
    /// backends, a wall-time estimate on this machine (a short timed probe), and
    /// warnings (a quasi-steady chemical slower than explicit stepping, work far beyond
    /// the shipped scenarios', parameters outside their published ranges). Writes
    /// nothing.
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
        #[command(flatten)]
        clock: Clock,
        #[command(flatten)]
        limits: LimitArgs,
        /// The backend the estimate is for (as for `run`).
        #[arg(long, value_enum, default_value = "auto")]
        backend: Backend,
        /// The adapter the estimate is for (name substring, as for `run`).
        #[arg(long, value_name = "SUBSTRING")]
        adapter: Option<String>,
        /// Skip the timed probe (no wall-time estimate).
        #[arg(long)]
        no_probe: bool,
    },
    /// Parameter sweeps: `check`, `run` here, `slurm` (a job array), `collect`.
    #[command(subcommand)]
    Sweep(infiltrate::sweep::cli::SweepCommand),
    /// List the adapters wgpu finds (name, API, device type, driver, the limits that
    /// decide which grids fit) and what `--backend auto` would choose.
    Adapters,
    /// Measure kernel throughput on n³ grids (a tumour slice, default parameters):
    /// voxel updates per second, effective GB/s and the ratio to a plain vec4 copy on the
    /// same adapter, and the CPU solver's unit step on the same grid.
    Bench {
        /// Grid edges to measure, comma-separated (n for n³ voxels).
        #[arg(long, value_delimiter = ',', default_value = "64,128,256,512")]
        sizes: Vec<usize>,
        /// Which adapter to time (`cpu`: the CPU solver only).
        #[arg(long, value_enum, default_value = "auto")]
        backend: Backend,
        /// Pick the adapter whose name contains this (case-insensitive).
        #[arg(long, value_name = "SUBSTRING")]
        adapter: Option<String>,
        /// Dispatches per timed pass.
        #[arg(long, default_value_t = 50)]
        reps: u32,
        /// Timed passes per kernel; the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Skip the CPU solver on grids larger than this many voxels.
        #[arg(long, default_value_t = 20_000_000)]
        cpu_max_voxels: usize,
        /// Also write the figures as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

/// Changes to the scenario's clock, shared by `run` and `check`.
#[derive(clap::Args)]
struct Clock {
    /// Replace the scenario's duration (simulated time after the start of dosing),
    /// with a unit: 90min, 6h, 2d.
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    duration: Option<f64>,
    /// Replace the scenario's snapshot interval, with a unit: 30min, 6h.
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    snapshot_every: Option<f64>,
}

/// The limits on what a run may cost, raised on the command line (`run` and `check`;
/// the defaults accept every shipped scenario many times over).
#[derive(clap::Args)]
struct LimitArgs {
    /// Refuse a run of more cell steps than this (burn-in included).
    #[arg(long, value_name = "N", default_value_t = 1e7, value_parser = positive_number)]
    max_cell_steps: f64,
    /// Refuse a run that steps a chemical explicitly more often than this per cell step
    /// (a large diffusivity, decay or exchange; quasi-steady chemicals are not counted).
    #[arg(long, value_name = "N", default_value_t = 1e4, value_parser = positive_number)]
    max_substeps: f64,
    /// Refuse a run of more voxel updates than this (voxels × cell steps and chemical
    /// sub-steps; `infiltrate check` shows the counts).
    #[arg(long, value_name = "N", default_value_t = 1e14, value_parser = positive_number)]
    max_voxel_updates: f64,
    /// Refuse a run that would write more than this many GiB of ParaView files and
    /// pictures.
    #[arg(long, value_name = "GIB", default_value_t = 100.0, value_parser = positive_number)]
    max_output_gib: f64,
}

impl LimitArgs {
    fn limits(&self) -> infiltrate::model::Limits {
        infiltrate::model::Limits {
            cell_steps: self.max_cell_steps,
            substeps: self.max_substeps,
            voxel_updates: self.max_voxel_updates,
            output_bytes: self.max_output_gib * (1u64 << 30) as f64,
        }
    }
}

/// The command line's changes to a scenario.
fn overrides(c: &Clock, l: &LimitArgs) -> Overrides {
    Overrides {
        duration_min: c.duration,
        snapshot_every_min: c.snapshot_every,
        limits: l.limits(),
    }
}

/// `--threads`: 1 to 4096 (more would only stall starting them).
fn thread_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=4096).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "`{s}`: a thread count from 1 to 4096 (this machine has {} cores)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
    }
}

/// A finite number > 0.
fn positive_number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}`: write a finite number > 0 (e.g. 1e9)")),
    }
}

/// Picture and ParaView options of `run`, over the scenario's `[output]` table.
#[derive(clap::Args)]
struct PictureArgs {
    /// No slice pictures or time-lapses.
    #[arg(long)]
    no_pictures: bool,
    /// No ParaView (.vti) files.
    #[arg(long)]
    no_vti: bool,
    /// The picture plane: AXIS or AXIS:INDEX (x, y or z, and the voxel index along it;
    /// default the middle), e.g. `z:12`.
    #[arg(long, value_name = "AXIS[:INDEX]")]
    plane: Option<String>,
    /// Also write ParaView files every TIME (e.g. 6h), not only at the end.
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    vti_every: Option<f64>,
    /// Zarr v3 arrays of every field (arrays.zarr/) at the final snapshot.
    #[arg(long)]
    arrays: bool,
    /// Also write the arrays every TIME (e.g. 6h), not only at the end (turns them on).
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    arrays_every: Option<f64>,
    /// No Zarr arrays.
    #[arg(long, conflicts_with_all = ["arrays", "arrays_every"])]
    no_arrays: bool,
    #[command(flatten)]
    tcells: TcellArgs,
}

/// How the T-cell panels are scaled, over `[output] tcells_scale` and
/// `tcells_per_frame`.
#[derive(clap::Args, Clone, Copy)]
struct TcellArgs {
    /// The T-cell panels' scale: linear (from 0 to a robust top: each frame's 99.5th
    /// percentile away from the box faces, the median of those over time) or log (three
    /// decades below that top).
    #[arg(long, value_name = "SCALE", value_parser = scale_arg)]
    scale: Option<infiltrate::scenario::TcellScale>,
    /// Each T-cell frame in its own robust range (not comparable between frames).
    #[arg(long)]
    per_frame: bool,
}

impl TcellArgs {
    /// `look` with these options over it.
    fn over(self, mut look: infiltrate::pictures::Look) -> infiltrate::pictures::Look {
        if let Some(s) = self.scale {
            look.tcells_scale = s;
        }
        look.tcells_per_frame |= self.per_frame;
        look
    }
}

fn scale_arg(s: &str) -> Result<infiltrate::scenario::TcellScale, String> {
    match s {
        "linear" => Ok(infiltrate::scenario::TcellScale::Linear),
        "log" => Ok(infiltrate::scenario::TcellScale::Log),
        other => Err(format!("`{other}`: allowed linear or log")),
    }
}

fn range_arg(s: &str) -> Result<(String, (f64, f64)), String> {
    infiltrate::pictures::parse_range(s).map_err(|e| e.to_string())
}

fn time_arg(s: &str) -> Result<f64, String> {
    parse_time_min(s).map_err(|e| e.to_string())
}

fn positive_time_arg(s: &str) -> Result<f64, String> {
    match time_arg(s)? {
        t if t > 0.0 => Ok(t),
        _ => Err("must be longer than 0 (write a number and a unit: 30min, 6h)".into()),
    }
}

/// `--gpu-memory`: GiB, a number > 0, to bytes.
fn positive_gib(s: &str) -> Result<u64, String> {
    match s.trim().parse::<f64>() {
        Ok(g) if g.is_finite() && g > 0.0 => Ok((g * (1u64 << 30) as f64) as u64),
        _ => Err(format!(
            "`{s}`: write the device memory in GiB as a number > 0 (e.g. 40 or 0.5)"
        )),
    }
}

/// On a machine without a desktop session (no `XDG_RUNTIME_DIR`), libwayland, which
/// Mesa's Vulkan and GL drivers load when wgpu probes its adapters, prints "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." although nothing is
/// wrong (there is no display to find, and none is needed). Pointing the variable at an
/// empty private directory keeps that line out of the run's output; the probe finds no
/// display either way. Done first thing, while the process has one thread.
fn quiet_display_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    #[cfg(unix)]
    let made = {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        // Our user id: the owner of our own /proc entry (Linux), else of a fresh file.
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        let dir = std::env::temp_dir().join(format!(
            "infiltrate-runtime-{}",
            uid.map_or_else(|| "user".to_string(), |u| u.to_string())
        ));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Only a directory of our own, closed to others, as libwayland expects.
        let ours = std::fs::metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.mode() & 0o077 == 0 && uid.is_none_or(|u| m.uid() == u));
        ours.then_some(dir)
    };
    #[cfg(not(unix))]
    let made: Option<std::path::PathBuf> = None;
    if let Some(dir) = made {
        std::env::set_var("XDG_RUNTIME_DIR", dir);
    }
}

fn main() -> ExitCode {
    quiet_display_probe();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("starting the thread pool")?;
    }
    match cli.command {
        Command::Check {
            scenario,
            clock,
            limits,
            backend,
            adapter,
            no_probe,
        } => {
            let prep = run::prepare(&scenario, overrides(&clock, &limits))?;
            let selected = run::choose_backend(backend, adapter.as_deref())?;
            print!("{}", run::check::report(&prep, &selected, !no_probe));
            println!("ok: the scenario is valid");
        }
        Command::Bench {
            sizes,
            backend,
            adapter,
            reps,
            rounds,
            cpu_max_voxels,
            json,
        } => {
            infiltrate::bench::bench(&infiltrate::bench::BenchOptions {
                sizes,
                backend,
                adapter,
                reps: reps.max(1),
                rounds: rounds.max(1),
                cpu_max_voxels,
                json,
            })?;
        }
        Command::Sweep(cmd) => {
            let exe = std::env::current_exe().context("finding the infiltrate binary")?;
            infiltrate::sweep::cli::main(cmd, &exe)?;
        }
        Command::Compare {
            runs,
            out,
            baseline,
            ranges,
            scale,
        } => {
            let done = infiltrate::compare::compare(&infiltrate::compare::CompareOptions {
                runs,
                out: out.clone(),
                baseline,
                look: infiltrate::pictures::Look {
                    tcells_scale: scale.unwrap_or_default(),
                    ..infiltrate::pictures::Look::fixed(ranges.into_iter().collect())
                },
            })?;
            for w in &done.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", done.markdown);
            println!(
                "-> {} (report: {})",
                out.display(),
                out.join(infiltrate::report::FILE).display()
            );
        }
        Command::Pictures {
            run,
            ranges,
            frame_ms,
            tcells,
        } => {
            let mut fixed: infiltrate::pictures::Ranges = ranges.into_iter().collect();
            if let Some(t) = fixed.get("tcells").copied() {
                fixed.entry("tcells_mip".into()).or_insert(t);
            }
            // Not while a run or resume writes the folder's pictures.
            let _lock = infiltrate::output::FolderLock::acquire(&run, "pictures")?;
            let look = tcells.over(infiltrate::pictures::Look::fixed(fixed));
            let done = infiltrate::pictures::render_run(&run, &look, frame_ms)?;
            if done.snapshots == 0 {
                anyhow::bail!(
                    "{}: no stored planes (pictures/planes/*.plane); was the run made with pictures off?",
                    run.display()
                );
            }
            println!(
                "{} snapshots, {} files -> {}",
                done.snapshots,
                done.files.len(),
                run.join("pictures").display()
            );
            // The run's report embeds the pictures: drawn again with them.
            if run.join(infiltrate::report::FILE).is_file() {
                let report = run::report::write(&run)?;
                println!("report: {}", report.display());
            }
        }
        Command::Adapters => {
            let all = wgpu::Backends::all();
            let adapters = infiltrate::gpu::enumerate(&infiltrate::gpu::instance(all), all);
            if adapters.is_empty() {
                println!(
                    "wgpu found no adapter (Vulkan, Metal, DX12 or GL); {}",
                    infiltrate::gpu::advice()
                );
            }
            for (i, a) in adapters.iter().enumerate() {
                print!("{}", infiltrate::gpu::describe_adapter(i, a));
            }
            let auto = run::choose_backend(Backend::Auto, None)?;
            println!("--backend auto: {}", auto.why);
        }
        Command::Run {
            scenario,
            out,
            backend,
            adapter,
            clock,
            limits,
            force,
            checkpoint_every,
            quiet,
            slabs,
            gpu_memory,
            pictures,
        } => {
            let mut prep = run::prepare(&scenario, overrides(&clock, &limits))?;
            infiltrate::pictures::apply_cli(
                &mut prep.loaded.scenario.output,
                prep.geometry.dims,
                &infiltrate::pictures::CliOverrides {
                    no_pictures: pictures.no_pictures,
                    no_vti: pictures.no_vti,
                    plane: pictures.plane,
                    vti_every_min: pictures.vti_every,
                    tcells_scale: pictures.tcells.scale,
                    tcells_per_frame: pictures.tcells.per_frame,
                    arrays: pictures.arrays,
                    no_arrays: pictures.no_arrays,
                    arrays_every_min: pictures.arrays_every,
                },
            )?;
            // The picture options of the command line count towards the output too.
            run::check_output(&prep.loaded, &prep.plan, &limits.limits())?;
            let selected = run::choose_backend(backend, adapter.as_deref())?;
            let log = run::RunLog::new(!quiet);
            log.line(&format!("backend: {}", selected.why));
            let opts = RunOptions {
                out: out.clone(),
                backend,
                adapter,
                force,
                log: log.clone(),
                gpu: infiltrate::gpu::GpuOptions {
                    slabs,
                    memory: gpu_memory,
                },
            };
            let checkpointing = run::Checkpointing {
                every_min: checkpoint_every,
                until_min: None,
            };
            let summary = run::drive(prep, &opts, selected, run::Start::Fresh, &checkpointing)
                .with_context(|| format!("run of {} into {}", scenario.display(), out.display()));
            finish(&log, summary, &out, quiet)?;
        }
        Command::Resume {
            run_dir,
            until,
            backend,
            adapter,
            checkpoint_every,
            quiet,
        } => {
            let log = run::RunLog::new(!quiet);
            let opts = infiltrate::resume::ResumeOptions {
                run_dir: run_dir.clone(),
                until_min: until,
                backend,
                adapter: adapter.clone(),
                every_min: checkpoint_every,
                log: log.clone(),
            };
            let context = || format!("resume of {}", run_dir.display());
            let plan = infiltrate::resume::plan(&opts).with_context(context)?;
            let selected = run::choose_backend(plan.backend, adapter.as_deref())?;
            log.line(&infiltrate::resume::describe(&plan));
            log.line(&format!("backend: {}", selected.why));
            let summary = infiltrate::resume::resume(plan, &opts, selected).with_context(context);
            finish(&log, summary, &run_dir, quiet)?;
        }
    }
    Ok(())
}

/// After a run: its closing lines on stdout (unless quiet) and in its `run.log`, or the
/// error in `run.log` (main prints it) when the run had started.
fn finish(
    log: &run::RunLog,
    summary: anyhow::Result<run::RunSummary>,
    out: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<()> {
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            log.error(&format!("error: {e:#}"));
            return Err(e);
        }
    };
    let m = &summary.at_end.metrics;
    let lines = [
        format!(
            "done in {:.1} s ({} cell steps, {} snapshots) -> {}",
            summary.run.wall_time_s,
            summary.run.cell_steps,
            summary.run.snapshots,
            out.display()
        ),
        format!(
            "at {:.1} h: infiltration ratio {:.3}, killed fraction {:.4}, T core {:.4e} / margin {:.4e} per mm³",
            m.time_h, m.infiltration_ratio, m.killed_fraction, m.t_core_per_mm3, m.t_margin_per_mm3
        ),
    ];
    for l in &lines {
        if !quiet {
            println!("{l}");
        }
        log.record(l);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument and option of every subcommand says what it is in `--help`.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "infiltrate", &mut missing);
        assert!(missing.is_empty(), "undescribed: {missing:?}");
    }
}
