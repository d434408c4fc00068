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
    /// Worker threads for the CPU solver and the host-side loops (default: all cores).
    #[arg(long, global = true, value_name = "N")]
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
        /// Write into a non-empty output folder, replacing files of the same name.
        #[arg(long)]
        force: bool,
        /// No progress bar and no summary lines.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        pictures: PictureArgs,
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
    },
    /// Validate a scenario and print the grid, the derived steps and step counts, and the
    /// memory the grid needs. Writes nothing.
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
        #[command(flatten)]
        clock: Clock,
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

impl From<Clock> for Overrides {
    fn from(c: Clock) -> Self {
        Overrides {
            duration_min: c.duration,
            snapshot_every_min: c.snapshot_every,
        }
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
}

fn range_arg(s: &str) -> Result<(String, (f64, f64)), String> {
    infiltrate::pictures::parse_range(s).map_err(|e| e.to_string())
}

fn time_arg(s: &str) -> Result<f64, String> {
    parse_time_min(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
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
            .num_threads(n.max(1))
            .build_global()
            .context("starting the thread pool")?;
    }
    match cli.command {
        Command::Check { scenario, clock } => {
            let prep = run::prepare(&scenario, clock.into())?;
            print!("{}", prep.describe());
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
        } => {
            let done = infiltrate::compare::compare(&infiltrate::compare::CompareOptions {
                runs,
                out: out.clone(),
                baseline,
                fixed: ranges.into_iter().collect(),
            })?;
            print!("{}", done.markdown);
            println!("-> {}", out.display());
        }
        Command::Adapters => {
            let all = wgpu::Backends::all();
            let adapters = infiltrate::gpu::enumerate(&infiltrate::gpu::instance(all), all);
            if adapters.is_empty() {
                println!("wgpu found no adapter; {}", infiltrate::gpu::INSTALL_HINT);
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
            force,
            quiet,
            pictures,
        } => {
            let mut prep = run::prepare(&scenario, clock.into())?;
            infiltrate::pictures::apply_cli(
                &mut prep.loaded.scenario.output,
                prep.geometry.dims,
                &infiltrate::pictures::CliOverrides {
                    no_pictures: pictures.no_pictures,
                    no_vti: pictures.no_vti,
                    plane: pictures.plane,
                    vti_every_min: pictures.vti_every,
                },
            )?;
            let selected = run::choose_backend(backend, adapter.as_deref())?;
            if !quiet {
                eprintln!("backend: {}", selected.why);
            }
            let opts = RunOptions {
                out: out.clone(),
                backend,
                adapter,
                force,
                progress: !quiet,
            };
            let summary = run::run_on(prep, &opts, selected)
                .with_context(|| format!("run of {} into {}", scenario.display(), out.display()))?;
            if !quiet {
                let m = &summary.final_metrics;
                println!(
                    "done in {:.1} s ({} cell steps, {} snapshots) -> {}",
                    summary.wall_time_s,
                    summary.cell_steps,
                    summary.snapshots,
                    out.display()
                );
                println!(
                    "at {:.1} h: infiltration ratio {:.3}, killed fraction {:.4}, T core {:.4e} / margin {:.4e} per mm³",
                    m.time_h,
                    m.infiltration_ratio,
                    m.killed_fraction,
                    m.t_core_per_mm3,
                    m.t_margin_per_mm3
                );
            }
        }
    }
    Ok(())
}
