//! `infiltrate bench`: kernel throughput on grids of n³ voxels (a tumour slice with the
//! default parameters), as voxel updates per second, effective GB/s (the fewest bytes
//! each kernel must move) and the ratio to a plain `vec4` copy on the same adapter in
//! the same run; and the CPU solver's unit step on the same grid, for the GPU/CPU ratio.
//! Separate from the tests: these are measurements, printed as ratios within one run
//! because the machines are noisy.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::cpu::CpuSolver;
use crate::error::{Error, Result};
use crate::model::{initial_per_class, Fields};
use crate::run::{self, Backend, Overrides};
use crate::scenario::Chemical;
use crate::solver::Stepper;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Grid edges (n for n³ voxels).
    pub sizes: Vec<usize>,
    pub backend: Backend,
    pub adapter: Option<String>,
    /// Dispatches per timed pass.
    pub reps: u32,
    /// Timed passes per kernel (the median is reported).
    pub rounds: u32,
    /// Skip the CPU solver above this many voxels (it takes seconds per step there).
    pub cpu_max_voxels: usize,
    pub json: Option<PathBuf>,
}

/// One kernel on one grid.
#[derive(Debug, Clone, Serialize)]
pub struct KernelRow {
    pub kernel: String,
    pub seconds_per_dispatch: f64,
    pub voxel_updates_per_s: f64,
    pub bytes_per_voxel: f64,
    pub effective_gb_per_s: f64,
    /// Effective GB/s over the copy's GB/s, same adapter, same run.
    pub ratio_to_copy: f64,
}

/// Everything measured on one grid.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub n: usize,
    pub voxels: usize,
    /// Why the GPU was not measured (grid too large for the adapter, …).
    pub gpu_skipped: Option<String>,
    pub gpu: Vec<KernelRow>,
    /// z-slabs the GPU solver split each field into, and the device memory it allocated.
    pub gpu_slabs: Option<usize>,
    pub gpu_bytes: Option<u64>,
    /// CPU solver: seconds per unit step (three chemical sub-steps and a cell step).
    pub cpu_unit_step_s: Option<f64>,
    pub cpu_unit_steps_voxels_per_s: Option<f64>,
    /// GPU unit-step rate over the CPU's.
    pub gpu_over_cpu: Option<f64>,
    /// GPU snapshot, wall clock (median of 3): the sums and picture planes reduced on
    /// the device and read back, as a run does them.
    pub gpu_snapshot_s: Option<f64>,
    /// The same readouts the way a run without device reductions took them: every
    /// field read back (f64 on the host), then summed and cut on the host.
    pub gpu_snapshot_by_readback_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub adapter: Option<String>,
    pub driver: Option<String>,
    pub timer: Option<crate::gpu::bench::Timer>,
    pub cpu_threads: usize,
    pub sizes: Vec<SizeReport>,
}

/// A slice scenario of n³ voxels of 10 µm with the default parameters.
fn scenario_text(n: usize) -> String {
    format!(
        "name = \"bench {n}^3\"\n[grid]\nnx = {n}\nny = {n}\nnz = {n}\nvoxel_um = 10.0\n\
         [time]\nduration_h = 1.0\nsnapshot_every_h = 1.0\n\
         [geometry]\nkind = \"slice\"\n[geometry.slice]\nthickness_um = {}\n",
        n as f64 * 10.0
    )
}

/// Runs the benchmark and prints its table; writes JSON if asked.
pub fn bench(opts: &BenchOptions) -> Result<BenchReport> {
    let selected = if opts.backend == Backend::Cpu {
        None
    } else {
        let s = run::choose_backend(opts.backend, opts.adapter.as_deref())?;
        s.adapter.is_some().then_some(s)
    };
    let info = selected
        .as_ref()
        .and_then(|s| s.adapter.as_ref())
        .map(|a| a.get_info());
    let mut report = BenchReport {
        adapter: info
            .as_ref()
            .map(|i| format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)),
        driver: info
            .as_ref()
            .map(|i| format!("{} {}", i.driver, i.driver_info)),
        timer: None,
        cpu_threads: rayon::current_num_threads(),
        sizes: Vec::new(),
    };
    println!(
        "adapter: {}",
        report
            .adapter
            .as_deref()
            .unwrap_or("none (CPU solver only)")
    );
    if let Some(d) = &report.driver {
        println!("driver:  {d}");
    }
    println!("cpu:     {} threads", report.cpu_threads);

    let dir = std::env::temp_dir().join(format!("infiltrate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    for &n in &opts.sizes {
        let path = dir.join(format!("bench{n}.toml"));
        std::fs::write(&path, scenario_text(n)).map_err(|e| Error::io(&path, e))?;
        let prep = run::prepare(&path, Overrides::default())?;
        let voxels = prep.geometry.class.len();
        // The GPU gets the initial state per class (no host copy of the fields: 1024³
        // would need 48 GiB of f64), the CPU solver its fields.
        let table = initial_per_class(&prep.loaded.scenario, &prep.params);
        let mut size = SizeReport {
            n,
            voxels,
            gpu_skipped: None,
            gpu: Vec::new(),
            gpu_slabs: None,
            gpu_bytes: None,
            cpu_unit_step_s: None,
            cpu_unit_steps_voxels_per_s: None,
            gpu_over_cpu: None,
            gpu_snapshot_s: None,
            gpu_snapshot_by_readback_s: None,
        };
        if let Some(adapter) = selected.as_ref().and_then(|s| s.adapter.as_ref()) {
            match crate::gpu::GpuSolver::with_options(
                adapter,
                prep.params.clone(),
                &prep.geometry.class,
                crate::gpu::Initial::PerClass(&table),
                crate::gpu::GpuOptions::default(),
            ) {
                Ok(mut gpu) => {
                    let (device, readback) = time_snapshots(&mut gpu, &prep)?;
                    size.gpu_snapshot_s = Some(device);
                    size.gpu_snapshot_by_readback_s = Some(readback);
                    report.timer = Some(gpu.timer());
                    size.gpu_slabs = Some(gpu.slabs().len());
                    size.gpu_bytes = Some(crate::gpu::device_bytes_for(
                        prep.params.dims,
                        gpu.slabs(),
                        prep.params.species.len(),
                    ));
                    let times = gpu.time_kernels(opts.reps, opts.rounds)?;
                    let copy_gbs = times
                        .iter()
                        .find(|k| k.name == "copy_vec4")
                        .map(|k| k.bytes_per_voxel * voxels as f64 / k.seconds * 1e-9)
                        .unwrap_or(f64::NAN);
                    for k in times {
                        let gbs = k.bytes_per_voxel * voxels as f64 / k.seconds * 1e-9;
                        size.gpu.push(KernelRow {
                            kernel: k.name.to_string(),
                            seconds_per_dispatch: k.seconds,
                            voxel_updates_per_s: voxels as f64 / k.seconds,
                            bytes_per_voxel: k.bytes_per_voxel,
                            effective_gb_per_s: gbs,
                            ratio_to_copy: gbs / copy_gbs,
                        });
                    }
                }
                Err(e) => size.gpu_skipped = Some(e.to_string()),
            }
        }
        if voxels <= opts.cpu_max_voxels {
            let fields = Fields::initial(&prep.loaded.scenario, &prep.params, &prep.geometry.class);
            let mut cpu = CpuSolver::new(prep.params.clone(), prep.geometry.class.clone(), fields);
            let dt = prep.plan.cell_dt;
            let unit = |cpu: &mut CpuSolver| {
                cpu.chem_step(Chemical::Cxcl12, dt, 0.0, 0.0);
                cpu.chem_step(Chemical::Amd3100, 1e-3, 0.0, 1.0);
                cpu.chem_step(Chemical::AntiPd1, 1e-3, 0.0, 1.0);
                cpu.cell_step(dt);
            };
            unit(&mut cpu);
            let started = Instant::now();
            let mut steps = 0u32;
            while steps < 3 || (started.elapsed().as_secs_f64() < 1.0 && steps < 1000) {
                unit(&mut cpu);
                steps += 1;
            }
            let s = started.elapsed().as_secs_f64() / f64::from(steps);
            size.cpu_unit_step_s = Some(s);
            size.cpu_unit_steps_voxels_per_s = Some(voxels as f64 / s);
            if let Some(u) = size.gpu.iter().find(|k| k.kernel == "unit_step") {
                size.gpu_over_cpu = Some(s / u.seconds_per_dispatch);
            }
        }
        print_size(&size);
        report.sizes.push(size);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(p) = &opts.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Error::Other(e.to_string()))?;
        crate::output::write_atomic(p, json.as_bytes())?;
    }
    Ok(report)
}

/// Wall-clock seconds (median of 3) of a snapshot's readouts on the GPU: reduced on
/// the device (sums and picture planes), and by reading every field back and reducing
/// on the host. Run before the kernels are timed (timing leaves the fields
/// meaningless).
fn time_snapshots(gpu: &mut crate::gpu::GpuSolver, prep: &run::Prepared) -> Result<(f64, f64)> {
    let regions = crate::readout::Regions::new(&prep.loaded.scenario.readout);
    let labels = crate::probe::Labels::new(&prep.geometry, &regions, &prep.params);
    let at = crate::pictures::Slicing {
        axis: crate::pictures::Axis::Z,
        slice: prep.geometry.dims[2] / 2,
        dims: prep.geometry.dims,
        voxel_um: prep.geometry.voxel_um,
    };
    // Pipelines and labels are made at the first snapshot of a run: not timed.
    gpu.sums(&labels, [0.0; 2])?;
    let device = median_of_3(|| {
        gpu.sums(&labels, [0.0; 2])?;
        gpu.planes(&at)?;
        Ok(())
    })?;
    let class = &prep.geometry.class;
    let readback = median_of_3(|| {
        let f = gpu.read_fields()?;
        let _ = crate::probe::Sums::of(&f, class, &labels, &prep.params, [0.0; 2]);
        let _ = crate::pictures::planes::cut_fields(&f, &at);
        Ok(())
    })?;
    Ok((device, readback))
}

/// The median wall-clock seconds of three calls of `f`.
fn median_of_3(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        f()?;
        t.push(started.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[1])
}

fn print_size(s: &SizeReport) {
    println!("\n{}³ = {} voxels", s.n, s.voxels);
    if let Some(why) = &s.gpu_skipped {
        println!("  gpu: skipped: {why}");
    }
    if let (Some(n), Some(b)) = (s.gpu_slabs, s.gpu_bytes) {
        println!(
            "  gpu: {n} z-slab(s), {} of device memory",
            crate::units::human_bytes(b as f64)
        );
    }
    if !s.gpu.is_empty() {
        println!(
            "  {:<18} {:>12} {:>14} {:>8} {:>10} {:>8}",
            "kernel", "µs/dispatch", "voxel upd/s", "B/voxel", "GB/s", "× copy"
        );
        for k in &s.gpu {
            println!(
                "  {:<18} {:>12.2} {:>14.3e} {:>8.0} {:>10.1} {:>8.3}",
                k.kernel,
                k.seconds_per_dispatch * 1e6,
                k.voxel_updates_per_s,
                k.bytes_per_voxel,
                k.effective_gb_per_s,
                k.ratio_to_copy
            );
        }
    }
    if let (Some(d), Some(r)) = (s.gpu_snapshot_s, s.gpu_snapshot_by_readback_s) {
        println!(
            "  gpu snapshot (sums and picture planes): {:.2} ms reduced on the device, \
             {:.2} ms by reading every field back ({:.1}×)",
            d * 1e3,
            r * 1e3,
            r / d
        );
    }
    if let (Some(t), Some(r)) = (s.cpu_unit_step_s, s.cpu_unit_steps_voxels_per_s) {
        print!(
            "  cpu unit step: {:.3} ms, {:.3e} voxel unit-steps/s",
            t * 1e3,
            r
        );
        match s.gpu_over_cpu {
            Some(g) => println!("; gpu/cpu unit-step rate {g:.1}×"),
            None => println!(),
        }
    }
}
