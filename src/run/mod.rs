//! The driver: validates a scenario, builds the tissue, derives the steps, steps the
//! solver through burn-in and the snapshot schedule, and writes the readouts. It does
//! not know the solver's internals: it advances segments and reduces fields.

pub mod check;
mod drive;
pub mod estimate;
pub mod log;
pub mod progress;
pub mod provenance;
pub mod report;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use drive::{drive, Checkpointing, Resumed, Start};
pub use log::RunLog;
use progress::Progress;
pub use provenance::Provenance;

use crate::budget::{self, TimeIntegrated};
use crate::cpu::CpuSolver;
use crate::dosing::Dosing;
use crate::error::{Error, Result};
use crate::geometry::{self, Geometry};
use crate::model::{Fields, Params, StepPlan};
use crate::probe::{Labels, Sums};
use crate::readout::{self, Metrics};
use crate::scenario::{self, Loaded};
use crate::solver::Solver;
use crate::units::{format_min, human_bytes};

/// Which solver runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A discrete or integrated GPU if wgpu finds one (Vulkan, Metal or DX12), else the
    /// CPU solver (software renderers such as lavapipe are slower than it).
    Auto,
    /// The GPU solver through Vulkan.
    Vulkan,
    /// The GPU solver through Metal.
    Metal,
    /// The GPU solver through Direct3D 12.
    Dx12,
    /// The GPU solver through OpenGL (ES).
    Gl,
    /// The CPU reference solver (f64, parallel over z-planes).
    Cpu,
}

impl Backend {
    /// The wgpu backends this choice asks (none for the CPU).
    pub fn wgpu_backends(self) -> wgpu::Backends {
        match self {
            // GL is left to an explicit `--backend gl`: a machine whose only GPU API is
            // GL is rare, and probing it on a headless machine makes Mesa print noise.
            Backend::Auto => wgpu::Backends::PRIMARY,
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
            Backend::Cpu => wgpu::Backends::empty(),
        }
    }

    /// The backend of an adapter wgpu found.
    fn of_adapter(info: &wgpu::AdapterInfo) -> Backend {
        match info.backend {
            wgpu::Backend::Metal => Backend::Metal,
            wgpu::Backend::Dx12 => Backend::Dx12,
            wgpu::Backend::Gl => Backend::Gl,
            _ => Backend::Vulkan,
        }
    }
}

/// The solver a run will use, and why (one line for the log).
#[derive(Debug, Clone)]
pub struct Selected {
    /// The backend that runs: `Cpu` or the API of the adapter.
    pub backend: Backend,
    /// The adapter, for a GPU backend.
    pub adapter: Option<wgpu::Adapter>,
    pub why: String,
}

/// Picks the solver for `backend` and an optional adapter name filter.
///
/// - `cpu`: the CPU solver.
/// - `--adapter SUBSTRING`: the first adapter of the requested API(s) whose name
///   contains it (case-insensitive), whatever its type; an error if none does.
/// - `vulkan`, `metal`, `dx12`, `gl`: that API's best adapter (a GPU before a software
///   one); an error saying what to install if it has none.
/// - `auto`: a discrete GPU, else an integrated one, through Vulkan, Metal or DX12 (GL
///   only when asked for); with only CPU-type adapters
///   (llvmpipe / lavapipe) or none, the CPU solver, since lavapipe measured about 3 % of
///   memory bandwidth on a stencil, slower than the native CPU solver.
pub fn choose_backend(backend: Backend, adapter: Option<&str>) -> Result<Selected> {
    let cpu = |why: String| Selected {
        backend: Backend::Cpu,
        adapter: None,
        why,
    };
    let gpu = |a: wgpu::Adapter, why: &str| Selected {
        backend: Backend::of_adapter(&a.get_info()),
        why: format!("gpu {} ({why})", crate::gpu::short_name(&a.get_info())),
        adapter: Some(a),
    };
    if backend == Backend::Cpu {
        if let Some(name) = adapter {
            return Err(Error::Other(format!(
                "--adapter {name} asks for a GPU adapter, but --backend cpu was given"
            )));
        }
        return Ok(cpu("cpu (requested)".into()));
    }
    let wanted = backend.wgpu_backends();
    let instance = crate::gpu::instance(wanted);
    let adapters = crate::gpu::enumerate(&instance, wanted);
    let api = match backend {
        Backend::Auto => "Vulkan, Metal or DX12".to_string(),
        b => format!("{b:?}"),
    };
    if let Some(name) = adapter {
        let names: Vec<String> = adapters
            .iter()
            .map(|a| crate::gpu::short_name(&a.get_info()))
            .collect();
        return match crate::gpu::by_name(adapters, name) {
            Some(a) => Ok(gpu(a, &format!("--adapter {name}"))),
            None if names.is_empty() => Err(crate::gpu::GpuError::NoAdapter {
                what: api,
                hint: install_hint(backend),
            }
            .into()),
            None => Err(Error::Other(format!(
                "no {api} adapter has `{name}` in its name; found: {}",
                names.join("; ")
            ))),
        };
    }
    if backend == Backend::Auto {
        let found: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
            })
            .collect();
        let gpus = adapters
            .iter()
            .filter(|a| crate::gpu::is_gpu(&a.get_info()))
            .count();
        return Ok(match crate::gpu::best_gpu(adapters) {
            Some(a) => gpu(
                a,
                &format!(
                    "auto: the best of {} GPU adapter(s) among {} found",
                    gpus,
                    found.len()
                ),
            ),
            None if found.is_empty() => cpu(format!(
                "cpu (auto: wgpu found no Vulkan, Metal or DX12 adapter; {}. GL is \
                 probed only by --backend gl; `infiltrate adapters` lists every API's)",
                crate::gpu::advice()
            )),
            None => cpu(format!(
                "cpu (auto: wgpu found no GPU, only {}: a software renderer, slower than \
                 the CPU solver; --backend {} runs on it anyway)",
                found.join(", "),
                if found.iter().any(|f| f.contains("Vulkan")) {
                    "vulkan"
                } else {
                    "gl"
                }
            )),
        });
    }
    let first = adapters.first().cloned();
    match crate::gpu::best_gpu(adapters).or(first) {
        Some(a) => {
            let why = if crate::gpu::is_gpu(&a.get_info()) {
                "requested"
            } else {
                "requested; a software renderer, slower than the CPU solver"
            };
            Ok(gpu(a, why))
        }
        None => Err(crate::gpu::GpuError::NoAdapter {
            what: api,
            hint: install_hint(backend),
        }
        .into()),
    }
}

/// What to do when a backend finds no adapter.
fn install_hint(backend: Backend) -> String {
    match backend {
        Backend::Metal => "Metal exists on macOS only".into(),
        Backend::Dx12 => "Direct3D 12 exists on Windows only".into(),
        Backend::Gl => "install Mesa's GL and EGL (`apt-get install libegl1 libgl1-mesa-dri`) \
                        or a GPU driver"
            .into(),
        _ => crate::gpu::advice(),
    }
}

/// What the command line changes of a scenario: its clock (minutes) and the limits on
/// what a run may cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub duration_min: Option<f64>,
    pub snapshot_every_min: Option<f64>,
    pub limits: crate::model::Limits,
}

/// A scenario made ready to run: validated, tissue built, steps derived.
pub struct Prepared {
    pub loaded: Loaded,
    pub geometry: Geometry,
    pub params: Params,
    pub plan: StepPlan,
    pub dosing: Dosing,
}

/// Reads, validates and prepares a scenario; nothing is written.
pub fn prepare(path: &Path, overrides: Overrides) -> Result<Prepared> {
    prepare_loaded(scenario::load(path)?, overrides)
}

/// As [`prepare`], for a scenario already read (a sweep point).
pub fn prepare_loaded(loaded: Loaded, overrides: Overrides) -> Result<Prepared> {
    let Validated {
        loaded,
        params,
        plan,
        dosing,
    } = validate(loaded, overrides)?;
    check_host_memory(&loaded, available_memory())?;
    let geometry = geometry::build(&loaded)?;
    let prep = Prepared {
        loaded,
        geometry,
        params,
        plan,
        dosing,
    };
    // With the tissue built, the quasi-steady iterations are estimated from its classes.
    check_work(
        &prep.loaded,
        &prep.params,
        &prep.plan,
        &prep.dosing,
        &overrides.limits,
        Some(prep.class_fractions()),
    )?;
    Ok(prep)
}

/// A scenario checked and derived, before its tissue is built.
pub struct Validated {
    pub loaded: Loaded,
    pub params: Params,
    pub plan: StepPlan,
    pub dosing: Dosing,
}

/// Everything [`prepare_loaded`] checks before it builds the tissue: the command line's
/// changes applied (and remembered, so that errors name the option), every range and
/// bound, the steps and their counts against the limits, the work and the output.
pub fn validate(mut loaded: Loaded, overrides: Overrides) -> Result<Validated> {
    let option = |key: &str, option: &str| (key.to_string(), option.to_string());
    if let Some(d) = overrides.duration_min {
        let t = &mut loaded.scenario.time;
        t.duration_h = d / 60.0;
        loaded.options.push(option("time.duration_h", "--duration"));
        // A shorter run keeps at least its final snapshot.
        if overrides.snapshot_every_min.is_none()
            && t.duration_h > 0.0
            && t.snapshot_every_h > t.duration_h
        {
            t.snapshot_every_h = t.duration_h;
            loaded
                .options
                .push(option("time.snapshot_every_h", "--duration"));
        }
    }
    if let Some(s) = overrides.snapshot_every_min {
        loaded.scenario.time.snapshot_every_h = s / 60.0;
        loaded
            .options
            .push(option("time.snapshot_every_h", "--snapshot-every"));
    }
    let mut checker = scenario::Checker::new(&loaded);
    scenario::check_ranges(&mut checker);
    check_couplings(&mut checker, &loaded.scenario);
    if !checker.found.is_empty() {
        return Err(Error::Invalid(checker.found));
    }
    let params = Params::from_scenario(&loaded.scenario);
    let plan = StepPlan::derive_within(&loaded, &params, &overrides.limits)?;
    check_quasi_steady(&loaded)?;
    check_species_columns(&loaded, &params)?;
    let dosing = Dosing::from_scenario(&loaded.scenario);
    check_work(&loaded, &params, &plan, &dosing, &overrides.limits, None)?;
    Ok(Validated {
        loaded,
        params,
        plan,
        dosing,
    })
}

/// Bytes per voxel the host holds for any backend while a run starts: the class byte,
/// the f32 distance, the distance transform's f32 working volume, the snapshot labels
/// and the initial fields in f64.
pub const HOST_BYTES_PER_VOXEL: u64 = 1 + 4 + 4 + 4 + 6 * 8;

/// The memory this machine has available (Linux: `MemAvailable`), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a grid whose host-side data cannot fit in `available` bytes, naming the
/// memory needed, the memory available and the largest cubic grid that fits.
pub fn check_host_memory(loaded: &Loaded, available: Option<u64>) -> Result<()> {
    let g = &loaded.scenario.grid;
    let voxels = u64::from(g.nx) * u64::from(g.ny) * u64::from(g.nz);
    let needed = voxels.saturating_mul(HOST_BYTES_PER_VOXEL);
    let Some(avail) = available else {
        return Ok(());
    };
    if needed > avail {
        let largest = ((avail / HOST_BYTES_PER_VOXEL) as f64).cbrt().floor();
        return Err(Error::Invalid(vec![crate::error::Invalid {
            at: loaded.locate("grid.nx"),
            value: format!(
                "{} × {} × {} = {voxels} voxels, needing {} of host memory ({HOST_BYTES_PER_VOXEL} B per voxel)",
                g.nx,
                g.ny,
                g.nz,
                human_bytes(needed as f64)
            ),
            allowed: format!(
                "a grid within the {} this machine has available (about {largest:.0}³ voxels)",
                human_bytes(avail as f64)
            ),
        }]));
    }
    Ok(())
}

/// Refuses a run whose voxel updates or output files would pass `limits`, naming the
/// keys that drive them and the option that raises the limit. Before the tissue is
/// built (`fractions` None) a quasi-steady chemical counts as the sub-steps of stepping
/// it explicitly, since its iterations cannot be estimated without the tissue's class
/// shares; after (`fractions` given) its estimated iterations count.
fn check_work(
    loaded: &Loaded,
    params: &Params,
    plan: &StepPlan,
    dosing: &Dosing,
    limits: &crate::model::Limits,
    fractions: Option<[f64; crate::model::N_CLASSES]>,
) -> Result<()> {
    let s = &loaded.scenario;
    let tol = s.numerics.quasi_steady_tolerance;
    let work = match fractions {
        Some(_) => estimate::Work::of(plan, params, dosing, tol, fractions),
        None => estimate::Work::before_tissue(plan, params, dosing, tol),
    };
    let updates = work.updates();
    if !crate::units::within(updates, limits.voxel_updates) {
        // Blame the chemical with the most sweeps if it outweighs the cell steps.
        let (u, most) = (0..3)
            .map(|u| (u, work.chem[u].sweeps()))
            .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        let key = if most > work.cell_steps as f64 {
            format!(
                "{}.diffusion_um2_per_min",
                ["cxcl12", "amd3100", "anti_pd1"][u]
            )
        } else {
            "time.duration_h".to_string()
        };
        return Err(Error::Invalid(vec![crate::error::Invalid {
            at: loaded.locate(&key),
            value: format!(
                "{} voxels × ({} cell steps + {} chemical sub-steps and quasi-steady \
                 iterations) = {} voxel updates",
                work.voxels,
                work.cell_steps,
                crate::units::significant(work.chem_sweeps(), 3),
                crate::units::significant(updates, 3)
            ),
            allowed: format!(
                "at most {} voxel updates (--max-voxel-updates raises the limit; \
                 `infiltrate check` shows the counts): fewer voxels, a shorter \
                 time.duration_h, or a chemical stepped at a larger sub-step",
                crate::units::significant(limits.voxel_updates, 3)
            ),
        }]));
    }
    check_output(loaded, plan, limits)
}

/// Refuses a run whose output files would pass `limits` (after the command line's
/// picture options are applied too), naming the key that drives them.
pub fn check_output(loaded: &Loaded, plan: &StepPlan, limits: &crate::model::Limits) -> Result<()> {
    let (bytes, key) = output_bytes(&loaded.scenario, plan);
    if !crate::units::within(bytes, limits.output_bytes) {
        return Err(Error::Invalid(vec![crate::error::Invalid {
            at: loaded.locate(key),
            value: format!("{} of output files", human_bytes(bytes)),
            allowed: format!(
                "at most {} (--max-output-gib raises the limit): fewer ParaView files \
                 (output.vti_every_h, --no-vti) or arrays (output.arrays_every_h, \
                 --no-arrays) or snapshots, or --no-pictures",
                human_bytes(limits.output_bytes)
            ),
        }]));
    }
    Ok(())
}

/// Bytes a run writes (ParaView files at 25 B per voxel each, picture planes and frames
/// at about 64 B per plane voxel per snapshot, Zarr arrays at 4 B per voxel and field
/// each, uncompressed), and the key that drives the most.
pub fn output_bytes(s: &scenario::Scenario, plan: &StepPlan) -> (f64, &'static str) {
    let g = &s.grid;
    let dims = [f64::from(g.nx), f64::from(g.ny), f64::from(g.nz)];
    let voxels = dims.iter().product::<f64>();
    let o = &s.output;
    let vti = if o.vti {
        let every = o
            .vti_every_h
            .map_or(0.0, |h| (s.time.duration_h / h).floor());
        // 4 bytes per field and voxel (six fields and each species), 1 for the classes.
        (1.0 + every) * (25.0 + 4.0 * s.species.len() as f64) * voxels
    } else {
        0.0
    };
    let plane = match o.plane_axis {
        scenario::PlaneAxis::X => dims[1] * dims[2],
        scenario::PlaneAxis::Y => dims[0] * dims[2],
        scenario::PlaneAxis::Z => dims[0] * dims[1],
    };
    let pictures = if o.pictures {
        // Stored planes (4 bytes each) and frames, per pixel of the plane.
        plan.snapshot_times().len() as f64 * (64.0 + 8.0 * s.species.len() as f64) * plane
    } else {
        0.0
    };
    let arrays = if o.arrays {
        let every = o
            .arrays_every_h
            .map_or(0.0, |h| (s.time.duration_h / h).floor());
        crate::arrays::bytes(voxels, 6 + s.species.len(), 1.0 + every)
    } else {
        0.0
    };
    let key = if arrays >= vti && arrays >= pictures {
        "output.arrays_every_h"
    } else if vti >= pictures {
        "output.vti_every_h"
    } else {
        "time.snapshot_every_h"
    };
    (vti + pictures + arrays, key)
}

/// A species' metrics.csv columns (`NAME_UNIT_tumor`, …) must not repeat another
/// column's name (a species `cxcr4` in unit `signal` would repeat `cxcr4_signal_tumor`).
fn check_species_columns(loaded: &Loaded, params: &Params) -> Result<()> {
    let fixed = format!("{},{}", Metrics::CSV_HEADER, budget::Row::CSV_HEADER);
    let mut seen: Vec<&str> = fixed.split(',').collect();
    let header = readout::species_header(params);
    for (i, column) in header.split(',').skip(1).enumerate() {
        if seen.contains(&column) {
            let k = i / readout::SPECIES_COLUMNS.len();
            return Err(Error::Invalid(vec![crate::error::Invalid {
                at: loaded.locate(&format!("species[{k}].name")),
                value: format!(
                    "{:?} in {:?}",
                    params.species[k].key, params.species[k].unit
                ),
                allowed: format!(
                    "a name and unit whose metrics.csv column `{column}` no other column has"
                ),
            }]));
        }
        seen.push(column);
    }
    Ok(())
}

/// Each species' couplings: a key of the table `model::COUPLINGS`, a level > 0, and at
/// most one coupling per rate in the scenario.
fn check_couplings(c: &mut scenario::Checker, s: &scenario::Scenario) {
    use crate::model::couplings;
    // The coupling of each rate, where one is declared: the rate and the key.
    let mut rates: Vec<(crate::model::Rate, String)> = Vec::new();
    for (i, sp) in s.species.iter().enumerate() {
        for (name, &level) in &sp.couplings {
            let at = format!("species[{i}].couplings.{name}");
            let Some(coupling) = couplings::by_key(name) else {
                let allowed = format!("a coupling of {}", couplings::keys());
                c.require(false, &at, name, &allowed);
                continue;
            };
            c.positive(&at, level);
            match rates.iter().find(|(r, _)| *r == coupling.rate) {
                Some((_, other)) => c.require(
                    false,
                    &at,
                    crate::units::number(level),
                    &format!(
                        "no second coupling of {} ({other} has one; one coupling per rate)",
                        coupling.rate.words()
                    ),
                ),
                None => rates.push((coupling.rate, at.clone())),
            }
        }
    }
}

/// CXCL12 may be quasi-steady only when its sources do not change (no uptake by T cells).
fn check_quasi_steady(loaded: &Loaded) -> Result<()> {
    let s = &loaded.scenario;
    for (i, c) in s.numerics.quasi_steady.iter().enumerate() {
        if *c == scenario::Chemical::Cxcl12 && s.cxcl12.uptake_nm_mm3_per_min > 0.0 {
            return Err(Error::Invalid(vec![crate::error::Invalid {
                at: loaded.locate(&format!("numerics.quasi_steady[{i}]")),
                value: "\"cxcl12\"".into(),
                allowed: "amd3100 or anti_pd1 (CXCL12 is quasi-steady only with cxcl12.uptake_nM_mm3_per_min = 0, since its uptake follows T)".into(),
            }]));
        }
    }
    Ok(())
}

/// Bytes per voxel the CPU backend holds: six f64 fields, five f64 scratch buffers
/// (next-step copies and the signal), the class byte, the f32 distance and the u32
/// snapshot label.
pub const CPU_BYTES_PER_VOXEL: usize = 11 * 8 + 1 + 4 + 4;

/// How a run is carried out and where it writes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub backend: Backend,
    /// Only adapters whose name contains this (case-insensitive).
    pub adapter: Option<String>,
    /// Overwrite into a non-empty output folder.
    pub force: bool,
    /// Where the run's lines go: stderr (unless quiet) and `run.log` in the folder
    /// (progress as a bar on a terminal, plain lines elsewhere).
    pub log: RunLog,
    /// How the GPU solver splits the grid (z-slabs); unused by the CPU solver.
    pub gpu: crate::gpu::GpuOptions,
}

/// What a finished run reports (summary.json): the last snapshot's readouts, the time
/// integrals and budgets over the run, and how the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The last metrics.csv row, column by column.
    #[serde(rename = "final")]
    pub at_end: Final,
    pub time_integrated: TimeIntegrated,
    pub run: RunInfo,
}

/// The readouts of the last snapshot: its metrics and budget columns.
#[derive(Debug, Clone, Serialize)]
pub struct Final {
    #[serde(flatten)]
    pub metrics: Metrics,
    #[serde(flatten)]
    pub budget: budget::Row,
}

/// How a run was made.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub scenario: String,
    pub name: String,
    /// Version, commit, start, host, CPU and command line.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// FNV-1a 64-bit hash of `scenario.resolved.toml` (every default filled in), in hex.
    pub scenario_hash: String,
    pub backend: Backend,
    /// The solver in words (adapter and API for the GPU, threads for the CPU).
    pub solver: String,
    /// The GPU adapter's name (null on the CPU backend).
    pub adapter: Option<String>,
    /// The GPU driver and its version as wgpu reports them (null on the CPU backend).
    pub driver: Option<String>,
    pub threads: usize,
    pub wall_time_s: f64,
    pub cell_steps: u64,
    pub snapshots: usize,
}

/// Runs a prepared scenario, writing `scenario.resolved.toml`, `metrics.csv`,
/// `profile.csv`, `summary.json` and `report.html` into `opts.out`, on the backend
/// [`choose_backend`] picks for `opts`.
pub fn run(prep: Prepared, opts: &RunOptions) -> Result<RunSummary> {
    let selected = choose_backend(opts.backend, opts.adapter.as_deref())?;
    run_on(prep, opts, selected)
}

/// The solver for a selection, in the given state: the GPU solver on its adapter
/// (laid out by `gpu`), or the CPU solver. [`crate::gpu::Initial::PerClass`] keeps a
/// host copy of the fields off the GPU path.
pub fn make_solver(
    selected: &Selected,
    params: &Params,
    class: &[u8],
    initial: crate::gpu::Initial<'_>,
    gpu: crate::gpu::GpuOptions,
) -> Result<Box<dyn Solver>> {
    Ok(match &selected.adapter {
        Some(adapter) => Box::new(crate::gpu::GpuSolver::with_options(
            adapter,
            params.clone(),
            class,
            initial,
            gpu,
        )?),
        None => {
            let fields = match initial {
                crate::gpu::Initial::Fields(f) => f.clone(),
                crate::gpu::Initial::PerClass(table) => Fields::from_table(params, table, class),
            };
            Box::new(CpuSolver::new(params.clone(), class.to_vec(), fields))
        }
    })
}

/// As [`run`], on an already selected backend (`opts.backend` and `opts.adapter` are
/// not consulted).
pub fn run_on(prep: Prepared, opts: &RunOptions, selected: Selected) -> Result<RunSummary> {
    drive(
        prep,
        opts,
        selected,
        Start::Fresh,
        &Checkpointing::default(),
    )
}

/// A backend's `--backend` name (`cpu`, `vulkan`, …).
pub fn backend_name(b: Backend) -> String {
    use clap::ValueEnum;
    b.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// The solver of a selection in words, for checkpoints.
fn solver_description(selected: &Selected) -> String {
    match &selected.adapter {
        Some(a) => format!("gpu: {}, f32", crate::gpu::short_name(&a.get_info())),
        None => "cpu, f64".to_string(),
    }
}

/// FNV-1a, 64 bits: a stable fingerprint of a text (not a cryptographic hash).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The snapshot sums of the solver's fields at `t_min` (the bath sums measured from the
/// bath levels then); stops the run at a NaN, infinite or negative value, naming the
/// field and the first voxel (read back only then).
fn probe(
    solver: &mut dyn Solver,
    labels: &Labels,
    dosing: &Dosing,
    step: u64,
    t_min: f64,
) -> Result<Sums> {
    let sums = solver.sums(labels, budget::bath_levels(dosing, t_min))?;
    if let Some(f) = sums.invalid_field() {
        check_fields(&solver.read_fields()?, step, t_min)?;
        // The sums saw what the voxel scan did not (it cannot: both test the same).
        return Err(Error::Numerical(format!(
            "field {} holds a NaN, infinite or negative value after cell step {step} \
             (t = {}); the snapshots written so far are kept",
            f.name(),
            format_min(t_min)
        )));
    }
    Ok(sums)
}

/// Stops the run at the first NaN, infinite or negative value, naming it.
fn check_fields(fields: &Fields, step: u64, t_min: f64) -> Result<()> {
    if let Some((name, i, v)) = readout::first_invalid(fields) {
        return Err(Error::Numerical(format!(
            "field {name} is {v} at voxel {i} after cell step {step} (t = {}); \
             the snapshots written so far are kept",
            format_min(t_min)
        )));
    }
    Ok(())
}

/// Opens the run folder's `run.log` (appended to on resume) with a header saying what
/// runs, where and from which build, then the lines said before the folder was ready.
fn start_log(log: &RunLog, dir: &Path, append: bool, p: &Provenance) -> Result<()> {
    let head = [
        format!(
            "== infiltrate {} {} at {} on {} ({})",
            p.version_line(),
            if append { "resumed" } else { "started" },
            p.started_utc,
            p.host,
            p.cpu
        ),
        format!("command: {}", p.command_line.join(" ")),
    ];
    log.attach(dir, append, &head)
        .map_err(|e| Error::io(dir.join(log::FILE), e))
}
