//! The GPU solver: the whole model stepped by WGSL compute kernels through wgpu, in f32,
//! held to the CPU reference (`cpu::CpuSolver`) by tests/gpu.rs.
//!
//! # Buffers
//!
//! The grid is split along z into slabs ([`Slab`], [`plan_slabs`]): as few as the
//! adapter's storage-binding and buffer limits allow (one for any grid up to 512³ on an
//! H200), or as many as asked ([`GpuOptions::slabs`]). Each slab holds each field in a
//! storage buffer of its own planes between two halo planes (copies of the neighbouring
//! slabs' edge planes, refreshed after every dispatch that writes the field; unused at
//! the domain's faces), f32, padded rows: index `x + nxp·(y + ny·zb)` with buffer plane
//! zb = z − z0 + 1 and `nxp` = nx rounded up to a multiple of 4, so that the stencil
//! kernels load four x-voxels as one `vec4` (a row's vec4s never straddle rows) and their
//! four class codes as one u32. Padding voxels lie outside the domain: no flux crosses
//! x = nx, they are never neighbours, they hold 0 and kernels write nothing else to them.
//!
//! - C, A, P and T ping-pong: two buffers each per slab; the host tracks which holds the
//!   current values (the same for every slab) and binds prebuilt bind groups chosen by
//!   those parities (wgpu's boids pattern). N and K are updated in place by the cell
//!   kernel (pointwise; their halos are never read).
//! - Scratch: `s` (signal; the mark of a quasi-steady block) and `w` (μT); the receptor
//!   pass fills their halo planes too, from the halos of C, A and T.
//! - Tissue classes: four u8 codes per u32, halo planes included.
//! - Parameters: one uniform buffer ([`GpuParams`]); per slab a uniform [`GpuSlab`] (its
//!   first plane and plane count); per-dispatch values (which chemicals a chem pass
//!   steps, and each one's Δt, plasma and bath levels; a cell step's Δt): one uniform
//!   buffer of [`GpuStep`] entries at the device's uniform offset alignment (256 bytes as
//!   requested), bound with a dynamic offset. The host fills the entries of a batch of
//!   dispatches, uploads them with one `write_buffer` and encodes the whole batch into
//!   one submission, in the order [`crate::solver::advance_steps`] gives for both
//!   backends: per cell step the chemicals' sub-steps (the j-th sub-step of every
//!   chemical that has one fused into one chem pass), then the receptor pass and the
//!   cell step. With one slab the batch is one compute pass; with several, each step's
//!   dispatches (one per slab) are a pass, followed by the halo copies of the fields it
//!   wrote.
//!
//! # Kernels (shaders/, combined with common.wgsl by [`shaders`])
//!
//! `chem_step` (chem.wgsl: one chem pass, stepping the chemicals its step entry names,
//! each from its own buffer pair, CXCL12 with uptake where the model has it; every chem
//! pass binds all three pairs and T, by a bind group chosen by the four parities),
//! `signal_step` (signal.wgsl),
//! `cell_step` (cell.wgsl), `block_change` (reduce.wgsl: max |u − mark| and max |u| of a
//! quasi-steady block, read back once per block of iterations), `probe_sums` and
//! `probe_planes` (probe.wgsl: the snapshot sums and picture planes). The stencil kernels
//! (chem, cell) run one thread per quad: thread (qx, y, k) steps x = 4·qx … 4·qx + 3
//! (those < nx) of row y of the slab's own plane k, with `vec4` loads of its own and its
//! y±1, z±1 neighbours, one class word, and scalar loads of only the two outer
//! x-neighbours; their dispatch covers nxp/4 threads in x (`quad_workgroups`).
//! `signal_step` and `block_change` stay one thread per voxel (nx threads in x,
//! `workgroups`; the receptor pass over the halo planes too). Workgroups of 64 × 4
//! threads for all (measured best of 16×4, 32×4, 64×4, 128×1 on an H200 with one voxel
//! per thread; with quads a workgroup spans 256 x-voxels).
//!
//! # Reading back
//!
//! At a snapshot, only what it needs (gpu/probe.rs, shaders/probe.wgsl): the sums of
//! [`crate::probe::Sums`] (a row of partial sums per band of 16 rows of each plane,
//! added on the host in f64) and the seven picture planes. Every field is read back
//! ([`GpuSolver::read_fields`]: slab by slab, own planes only, the padding stripped and
//! the values widened to f64) only for checkpoints and the message naming a bad voxel;
//! a ParaView file takes one field at a time as f32 ([`GpuSolver::read_field`]). A
//! quasi-steady solve reads back two numbers per block.
//!
//! # Skipped work
//!
//! The host knows which drugs are 0 everywhere (from what it uploaded and what it has
//! dosed since): their sub-steps are skipped while nothing doses them, as on the CPU,
//! with the same bits (a sub-step of a zero field without sources leaves it 0).
//!
//! # Not yet
//!
//! - wgpu's runtime bounds checks are on (`create_shader_module`); turning them off
//!   made no difference on an H200 (docs/gpu-performance.md).

mod adapter;
pub mod bench;
mod params;
mod probe;
pub use probe::BAND_ROWS as PROBE_BAND_ROWS;
pub mod shaders;
mod state;
pub mod steady;

pub use adapter::{
    advice, best_gpu, by_name, describe as describe_adapter, device_memory, enumerate, instance,
    is_gpu, required_limits, short_name, vulkan_loader_present, GpuError, INSTALL_HINT,
};
pub use params::{padded_nx, per_class, GpuChem, GpuParams, GpuProbe, GpuSlab, GpuStep, PerClass};

use std::sync::mpsc;

use wgpu::util::DeviceExt;

use crate::dosing::Dosing;
use crate::model::{chem_index, Field, Fields, Params, Segment, StepPlan, CHEMICALS, N_CLASSES};
use crate::scenario::Chemical;
use crate::solver::{SteadyState, Stepper, SubStep};
use steady::{Convergence, BLOCK};

/// Dispatch entries (uniform slots) per batch: one submission holds at most this many
/// chemical sub-steps and cell steps.
pub const BATCH: usize = 4096;

/// Where T's parity is in `GpuSolver::cur` (which buffer of a ping-pong pair is
/// current: C, A, P, T at their field indices).
const T: usize = Field::TCells.index();

/// Field buffers per slab: C, A, P, T twice; N, K, s, w once (classes aside).
pub const FIELD_BUFFERS: u64 = 12;

/// One step entry: a chem pass (one dispatch per slab stepping the chemicals of its
/// `chems`) or a cell step (the receptor pass and the cell kernel).
#[derive(Debug, Clone, Copy)]
enum Op {
    Chem(GpuStep),
    Cell(GpuStep),
}

impl Op {
    fn step(&self) -> &GpuStep {
        match self {
            Op::Chem(s) | Op::Cell(s) => s,
        }
    }
}

/// A ping-pong field buffer of every slab: C, A, P (0, 1, 2) or T (3), and parity.
#[derive(Debug, Clone, Copy)]
struct PingPong {
    field: usize,
    parity: usize,
}

/// A z-slab of the grid: its own planes `z0 … z0 + planes − 1`, held with a halo plane
/// on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slab {
    pub z0: usize,
    pub planes: usize,
}

/// How the GPU solver lays out a grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Split each field into this many z-slabs; `None`: as few as the adapter's
    /// storage-binding and buffer limits allow.
    pub slabs: Option<usize>,
    /// Device memory to plan for, bytes (a share of a GPU others use too); `None`: the
    /// adapter's ([`device_memory`]) where known. A grid that needs more
    /// ([`device_bytes`]) is refused before anything is allocated.
    pub memory: Option<u64>,
}

/// The state a solver starts from.
#[derive(Debug, Clone, Copy)]
pub enum Initial<'a> {
    /// Every voxel's values.
    Fields(&'a Fields),
    /// One value per tissue class and field (C, A, P, T, N, K), as
    /// [`crate::model::initial_per_class`] gives: nothing of grid size on the host but
    /// the classes.
    PerClass(&'a [[f64; N_CLASSES]; 6]),
}

/// Why a grid cannot be split into z-slabs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlabError {
    /// A slab count outside 1 … nz was asked for.
    #[error("{asked} z-slabs asked for a grid of {planes} z-planes (1 to {planes})")]
    Count { asked: usize, planes: usize },
    /// A slab's buffer (`needed` bytes) exceeds what one buffer may hold.
    #[error("{why}")]
    Size { needed: u64, why: String },
}

/// Bytes of one z-plane of one f32 field as the GPU solver lays it out (rows padded to
/// a multiple of 4 voxels).
pub fn plane_bytes(dims: [usize; 3]) -> u64 {
    (padded_nx(dims[0]) * dims[1] * 4) as u64
}

/// The storage binding `infiltrate check` and sweep estimates assume when no adapter is
/// at hand: 2 GiB, an H200's (`infiltrate adapters` shows a machine's own).
pub const REFERENCE_BINDING: u64 = 2 << 30;

/// The slabs of a grid on an adapter binding [`REFERENCE_BINDING`] bytes.
///
/// # Errors
/// One plane with its halos exceeds that binding.
pub fn reference_slabs(dims: [usize; 3]) -> Result<Vec<Slab>, SlabError> {
    plan_slabs(dims[2], plane_bytes(dims), REFERENCE_BINDING, None)
}

/// Splits `nz` planes of `plane_bytes` into slabs whose buffers (own planes plus two
/// halo planes) fit `max_bytes`: into `forced` slabs if given, else as few as fit. Own
/// planes are shared out evenly (the first slabs take one more where nz does not
/// divide).
///
/// # Errors
/// `forced` is 0 or more than nz; or one plane with its two halos exceeds `max_bytes`;
/// or the forced slabs do not fit.
pub fn plan_slabs(
    nz: usize,
    plane_bytes: u64,
    max_bytes: u64,
    forced: Option<usize>,
) -> Result<Vec<Slab>, SlabError> {
    if let Some(asked) = forced.filter(|&n| n == 0 || n > nz) {
        return Err(SlabError::Count { asked, planes: nz });
    }
    let fits = |planes: usize| (planes as u64 + 2) * plane_bytes <= max_bytes;
    if !fits(1) {
        return Err(SlabError::Size {
            needed: 3 * plane_bytes,
            why: format!(
                "one z-plane of a field with its two halo planes needs {} bytes, more \
                 than the {max_bytes} bytes one buffer may hold",
                3 * plane_bytes
            ),
        });
    }
    let count = match forced {
        Some(n) => n,
        None => {
            let most = (max_bytes / plane_bytes - 2) as usize;
            nz.div_ceil(most.max(1))
        }
    };
    let (base, extra) = (nz / count, nz % count);
    let mut z0 = 0;
    let slabs: Vec<Slab> = (0..count)
        .map(|i| {
            let planes = base + usize::from(i < extra);
            let slab = Slab { z0, planes };
            z0 += planes;
            slab
        })
        .collect();
    if let Some(big) = slabs.iter().find(|s| !fits(s.planes)) {
        let needed = (big.planes as u64 + 2) * plane_bytes;
        return Err(SlabError::Size {
            needed,
            why: format!(
                "{count} z-slabs of up to {} planes need {needed} bytes per buffer, more \
                 than the {max_bytes} bytes one buffer may hold",
                big.planes
            ),
        });
    }
    Ok(slabs)
}

/// Device memory the GPU solver allocates for a grid split into `slabs`: every field
/// buffer and the classes of each slab (halos included), the snapshot labels (own
/// planes, 4 bytes per voxel, from the first snapshot on), the read-back buffer (the
/// largest slab's own planes) and the step entries. The snapshot's rows of sums and
/// picture planes are left out (kilobytes to megabytes).
pub fn device_bytes(dims: [usize; 3], slabs: &[Slab]) -> u64 {
    let plane = (padded_nx(dims[0]) * dims[1]) as u64;
    let fields: u64 = slabs
        .iter()
        .map(|s| (s.planes as u64 + 2) * plane * (4 * FIELD_BUFFERS + 1))
        .sum();
    let labels = dims[2] as u64 * plane * 4;
    let staging = slabs.iter().map(|s| s.planes as u64).max().unwrap_or(0) * plane * 4;
    fields + labels + staging + (BATCH * STEP_STRIDE) as u64
}

/// The device memory of a grid laid out in as few z-slabs as a storage binding of
/// `binding` bytes allows (`None`: a plane does not fit one binding).
fn fitted_bytes(dims: [usize; 3], binding: u64) -> Option<u64> {
    plan_slabs(dims[2], plane_bytes(dims), binding, None)
        .ok()
        .map(|slabs| device_bytes(dims, &slabs))
}

/// The largest grids within `memory` bytes of device memory, with storage bindings of
/// `binding` bytes: the grid `dims` scaled down evenly (each side at least 1), and the
/// largest cube. `None` where not even one voxel fits.
pub fn largest_fitting(dims: [usize; 3], memory: u64, binding: u64) -> Option<([usize; 3], usize)> {
    let fits = |d: [usize; 3]| fitted_bytes(d, binding).is_some_and(|b| b <= memory);
    let scaled = |f: f64| dims.map(|n| ((n as f64 * f).floor() as usize).max(1));
    if !fits([1, 1, 1]) {
        return None;
    }
    // Bisection on the scale factor: fits(scaled(lo)) holds, fits(scaled(hi)) not.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if fits(scaled(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let shape = scaled(lo);
    // The cube: bisection on the side.
    let (mut a, mut b) = (1usize, 1usize << 16);
    while a + 1 < b {
        let m = (a + b) / 2;
        if fits([m, m, m]) {
            a = m;
        } else {
            b = m;
        }
    }
    Some((shape, a))
}

/// Refuses a grid whose device memory exceeds `memory` bytes, naming what it needs, the
/// memory, and the largest grids that fit.
fn check_memory(
    info: &wgpu::AdapterInfo,
    dims: [usize; 3],
    slabs: &[Slab],
    memory: u64,
    binding: u64,
) -> Result<(), GpuError> {
    let needed = device_bytes(dims, slabs);
    if needed <= memory {
        return Ok(());
    }
    let show = |b: u64| format!("{b} bytes ({})", crate::units::human_bytes(b as f64));
    let [nx, ny, nz] = dims;
    let voxels = (nx * ny * nz) as f64;
    let largest = match largest_fitting(dims, memory, binding) {
        Some(([a, b, c], n)) => {
            format!("the largest grid of this shape that fits is {a} × {b} × {c} (a cube: {n}³)")
        }
        None => "not even one voxel fits".to_string(),
    };
    Err(GpuError::Limit {
        limit: "device memory".into(),
        needed: show(needed),
        allowed: show(memory),
        adapter: info.name.clone(),
        note: format!(
            " for {nx} × {ny} × {nz} in {} z-slab(s), about {:.0} bytes per voxel; {largest}; \
             use a coarser grid or --backend cpu",
            slabs.len(),
            needed as f64 / voxels
        ),
    })
}

/// The global index of the first voxel of row y in buffer plane zb of a slab (plane 0
/// and planes + 1 are the halos), or None outside the domain.
fn row_start(dims: [usize; 3], slab: &Slab, zb: usize, y: usize) -> Option<usize> {
    let [nx, ny, nz] = dims;
    let z = (slab.z0 + zb).checked_sub(1)?;
    (z < nz).then_some(nx * (y + ny * z))
}

/// Field k (C, A, P, T, N, K) of a slab's buffer as the device holds it: own and halo
/// planes, padded rows, f32; 0 outside the domain and in the padding.
fn slab_values(
    dims: [usize; 3],
    slab: &Slab,
    class: &[u8],
    initial: Initial<'_>,
    k: usize,
) -> Vec<f32> {
    let [nx, ny, _] = dims;
    let nxp = padded_nx(nx);
    let mut out = vec![0.0f32; (slab.planes + 2) * nxp * ny];
    for zb in 0..slab.planes + 2 {
        for y in 0..ny {
            let Some(g) = row_start(dims, slab, zb, y) else {
                continue;
            };
            let dst = &mut out[(zb * ny + y) * nxp..][..nx];
            match initial {
                Initial::Fields(f) => {
                    let src = &f.get(Field::ALL[k])[g..g + nx];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = *s as f32;
                    }
                }
                Initial::PerClass(table) => {
                    for (d, c) in dst.iter_mut().zip(&class[g..g + nx]) {
                        *d = table[k][*c as usize] as f32;
                    }
                }
            }
        }
    }
    out
}

struct Pipelines {
    chem: ChemPipelines,
    signal: wgpu::ComputePipeline,
    cell: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
}

/// The chem pipelines, one per set of chemicals a pass steps (bit k for chemical k),
/// each built the first time a pass needs it (a pass steps one chemical, or those whose
/// sub-steps [`crate::solver::advance_steps`] fuses): the kernel's `CHEMS` and `UPTAKE`
/// are pipeline constants, so each pipeline holds the code of its chemicals only.
struct ChemPipelines {
    module: wgpu::ShaderModule,
    layout: wgpu::PipelineLayout,
    /// Whether CXCL12 is taken up by T cells (`UPTAKE`).
    uptake: bool,
    built: [Option<wgpu::ComputePipeline>; 8],
}

impl ChemPipelines {
    /// Builds the pipeline for `chems` unless it is built.
    ///
    /// # Panics
    /// If wgpu refuses it: the module and layout are those every chem pipeline shares,
    /// and tests/gpu.rs builds every set of chemicals.
    fn ensure(&mut self, device: &wgpu::Device, chems: u32) {
        let slot = &mut self.built[chems as usize];
        if slot.is_some() {
            return;
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let constants = shaders::chem_constants(chems, self.uptake);
        *slot = Some(
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("chem_step"),
                layout: Some(&self.layout),
                module: &self.module,
                entry_point: Some("chem_step"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                cache: None,
            }),
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            panic!("building the chem pipeline for chemicals {chems:#05b}: {e}");
        }
    }

    /// The pipeline for `chems`, built by [`Self::ensure`].
    fn get(&self, chems: u32) -> &wgpu::ComputePipeline {
        self.built[chems as usize]
            .as_ref()
            .expect("a chem pipeline is built when its pass is recorded")
    }
}

/// One slab's buffers.
struct SlabBuffers {
    /// C, A, P: two each.
    chem: [[wgpu::Buffer; 2]; 3],
    t: [wgpu::Buffer; 2],
    n: wgpu::Buffer,
    k: wgpu::Buffer,
    s: wgpu::Buffer,
    w: wgpu::Buffer,
    classes: wgpu::Buffer,
    /// Its [`GpuSlab`].
    slab: wgpu::Buffer,
}

impl SlabBuffers {
    /// The buffer holding field k (C, A, P, T, N, K) now, by the parities `cur`.
    fn current(&self, k: usize, cur: [usize; 4]) -> &wgpu::Buffer {
        match k {
            0..=2 => &self.chem[k][cur[k]],
            3 => &self.t[cur[T]],
            4 => &self.n,
            _ => &self.k,
        }
    }

    fn ping_pong(&self, f: PingPong) -> &wgpu::Buffer {
        if f.field == T {
            &self.t[f.parity]
        } else {
            &self.chem[f.field][f.parity]
        }
    }
}

/// Buffers every slab shares.
struct Shared {
    params: wgpu::Buffer,
    step: wgpu::Buffer,
    maxima: wgpu::Buffer,
    maxima_read: wgpu::Buffer,
    /// The largest slab's own planes of one field, mappable: read-back goes through it
    /// slab by slab, field by field.
    staging: wgpu::Buffer,
}

/// One slab's bind groups.
struct BindGroups {
    /// Params, classes, the step entry (dynamic offset), the slab.
    fixed: wgpu::BindGroup,
    /// `[c + 2 a + 4 p + 8 t]` (parities of C, A, P, T): every chem pass.
    chem: Vec<wgpu::BindGroup>,
    /// `[c + 2 a + 4 t]`.
    signal: Vec<wgpu::BindGroup>,
    /// `[t + 2 p]`.
    cell: Vec<wgpu::BindGroup>,
    /// `[u][parity of u]`.
    reduce: [[wgpu::BindGroup; 2]; 3],
}

/// The GPU solver: device, buffers, pipelines, bind groups, and the host's record of
/// which ping-pong buffers are current.
pub struct GpuSolver {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    params: Params,
    /// Row stride (padded nx) and voxels of one padded plane.
    nxp: usize,
    plane: usize,
    slabs: Vec<Slab>,
    /// Workgroups in x and y of a scalar field kernel (signal, reduce); in z it takes
    /// the slab's planes.
    groups: [u32; 2],
    /// Workgroups in x and y of a vec4 stencil kernel (chem, cell).
    quad_groups: [u32; 2],
    /// Bytes between step entries.
    stride: usize,
    pipelines: Pipelines,
    shared: Shared,
    /// Per slab.
    buffers: Vec<SlabBuffers>,
    groups_: Vec<BindGroups>,
    /// Which buffer of C, A, P, T is current (0 or 1).
    cur: [usize; 4],
    pending: Vec<Op>,
    step_bytes: Vec<u8>,
    last_submission: Option<wgpu::SubmissionIndex>,
    steady: [SteadyState; 3],
    /// The snapshot kernels (gpu/probe.rs), built at the first snapshot.
    probe: Option<probe::ProbeKit>,
    /// Which of C, A, P are known to be 0 in every voxel (from the initial or written
    /// fields, and kept while nothing doses them): [`Self::advance_from`] skips their
    /// sub-steps while their levels are 0, as the CPU does.
    zero: [bool; 3],
    /// Explicit sub-steps run, per chemical.
    substeps: [u64; 3],
    /// Chem passes run (fused sub-steps count once).
    chem_passes: u64,
}

/// Which of C, A, P an initial state holds 0 in every voxel.
fn zero_chemicals(initial: Initial<'_>) -> [bool; 3] {
    std::array::from_fn(|u| match initial {
        Initial::Fields(f) => f.get(Field::of(CHEMICALS[u])).iter().all(|&x| x == 0.0),
        Initial::PerClass(table) => table[u].iter().all(|&x| x == 0.0),
    })
}

/// Bytes between step entries as requested of the device (the downlevel default of
/// `min_uniform_buffer_offset_alignment`, which every adapter meets).
const STEP_STRIDE: usize = 256;

/// Workgroups of a dispatch of a scalar field kernel (`signal_step`, `block_change`:
/// one thread per voxel) for a grid: nx threads in x.
fn workgroups(dims: [usize; 3]) -> [u32; 3] {
    let [wx, wy, _] = shaders::WORKGROUP;
    let d = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    [d(dims[0]).div_ceil(wx), d(dims[1]).div_ceil(wy), d(dims[2])]
}

/// Workgroups of a dispatch of a vec4 stencil kernel (`chem_step`, `cell_step`: one
/// thread per quad of four x-voxels) for a grid: nxp/4 threads in x.
/// Never more than [`workgroups`] in any dimension.
fn quad_workgroups(dims: [usize; 3]) -> [u32; 3] {
    workgroups([padded_nx(dims[0]) / 4, dims[1], dims[2]])
}

/// Whether a grid fits the adapter, and how: the z-slabs of each field (`options`) and
/// the device limits they need (each slab's buffers within one storage binding, the
/// dispatch within the workgroup limits). Needs no fields, so that a grid can be
/// checked before it is built. Device memory is not known to wgpu: a grid too large
/// for it fails when its buffers are created ([`GpuSolver::with_options`]).
pub fn check_grid(
    adapter: &wgpu::Adapter,
    dims: [usize; 3],
    options: GpuOptions,
) -> Result<(wgpu::Limits, Vec<Slab>), GpuError> {
    let allowed = adapter.limits();
    let plane_bytes = plane_bytes(dims);
    let most = allowed
        .max_storage_buffer_binding_size
        .min(allowed.max_buffer_size);
    let slabs = plan_slabs(dims[2], plane_bytes, most, options.slabs).map_err(|e| match e {
        SlabError::Count { .. } => GpuError::Slabs(e.to_string()),
        SlabError::Size { needed, why } => GpuError::Limit {
            limit: "max_storage_buffer_binding_size".into(),
            needed: format!("{needed} bytes"),
            allowed: format!("{most} bytes"),
            adapter: adapter.get_info().name,
            note: format!(
                "; {why} (fields are split into z-slabs, each at least one plane and its \
                 two halo planes; --backend cpu runs the grid)"
            ),
        },
    })?;
    let largest = slabs.iter().map(|s| s.planes).max().unwrap_or(1);
    let limits = required_limits(
        adapter,
        (largest as u64 + 2) * plane_bytes,
        (BATCH * STEP_STRIDE) as u64,
        workgroups([dims[0], dims[1], largest + 2]),
    )?;
    Ok((limits, slabs))
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry(binding: u32, size: usize, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: wgpu::BufferSize::new(size as u64),
        },
        count: None,
    }
}

/// A layout of storage buffers at bindings 0, 1, …: `true` for read-only.
fn storage_layout(device: &wgpu::Device, label: &str, read_only: &[bool]) -> wgpu::BindGroupLayout {
    let entries: Vec<_> = read_only
        .iter()
        .enumerate()
        .map(|(b, &ro)| storage_entry(b as u32, ro))
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    })
}

/// A bind group of whole buffers at bindings 0, 1, ….
fn bind(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<_> = buffers
        .iter()
        .enumerate()
        .map(|(b, buf)| wgpu::BindGroupEntry {
            binding: b as u32,
            resource: buf.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// Maps `buffer` for reading, waits, and hands its first `size` bytes to `f`.
fn read_mapped<R>(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    size: u64,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, String> {
    let slice = buffer.slice(..size);
    let (tx, rx) = mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| format!("waiting for the device: {e}"))?;
    rx.recv()
        .map_err(|e| format!("mapping a read-back buffer: {e}"))?
        .map_err(|e| format!("mapping a read-back buffer: {e}"))?;
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| format!("reading a mapped buffer: {e}"))?;
        f(&view)
    };
    buffer.unmap();
    Ok(out)
}

impl GpuSolver {
    /// [`GpuSolver::with_options`] from every voxel's values, with as few slabs as fit.
    ///
    /// # Errors
    /// As [`GpuSolver::with_options`].
    ///
    /// # Panics
    /// As [`GpuSolver::with_options`].
    pub fn new(
        adapter: &wgpu::Adapter,
        params: Params,
        class: Vec<u8>,
        fields: Fields,
    ) -> Result<Self, GpuError> {
        Self::with_options(
            adapter,
            params,
            &class,
            Initial::Fields(&fields),
            GpuOptions::default(),
        )
    }

    /// Creates a device on `adapter` with the limits the grid needs, splits the grid
    /// into z-slabs ([`check_grid`]), uploads the classes and the initial fields slab by
    /// slab, and builds every pipeline and bind group (nothing is allocated later, per
    /// step or per snapshot).
    ///
    /// # Errors
    /// A grid beyond the adapter's limits (naming the limit, the bytes needed and the
    /// adapter's value), device memory exhausted (naming the bytes needed), or a device
    /// that cannot be created.
    ///
    /// # Panics
    /// As [`crate::cpu::CpuSolver::new`]: an empty grid, or `class` or a field without
    /// `nx·ny·nz` entries, or a class code not below `N_CLASSES`.
    pub fn with_options(
        adapter: &wgpu::Adapter,
        params: Params,
        class: &[u8],
        initial: Initial<'_>,
        options: GpuOptions,
    ) -> Result<Self, GpuError> {
        let [nx, ny, nz] = params.dims;
        assert!(nx > 0 && ny > 0 && nz > 0, "empty grid {:?}", params.dims);
        let n = nx * ny * nz;
        assert_eq!(class.len(), n, "class codes for {:?}", params.dims);
        assert!(
            class.iter().all(|&c| (c as usize) < N_CLASSES),
            "class code out of range"
        );
        if let Initial::Fields(fields) = initial {
            for (name, f) in fields.named() {
                assert_eq!(f.len(), n, "field {name} has the wrong length");
            }
        }
        let info = adapter.get_info();
        let nxp = padded_nx(nx);
        let plane = nxp * ny;
        let plane_bytes = plane_bytes(params.dims);
        let [gx, gy, _] = workgroups(params.dims);
        let [qx, qy, _] = quad_workgroups(params.dims);
        let stride = STEP_STRIDE;
        let (limits, slabs) = check_grid(adapter, params.dims, options)?;
        if let Some(memory) = options.memory.or_else(|| device_memory(adapter)) {
            // Slabs as `check_grid` plans them without a forced count.
            let allowed = adapter.limits();
            let binding = allowed
                .max_storage_buffer_binding_size
                .min(allowed.max_buffer_size);
            check_memory(&info, params.dims, &slabs, memory, binding)?;
        }
        let device_err = |message: String| GpuError::Device {
            adapter: info.name.clone(),
            message,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("infiltrate"),
            required_limits: limits,
            // Timestamps (for `infiltrate bench`) where the adapter has them.
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            ..Default::default()
        }))
        .map_err(|e| device_err(format!("creating the device: {e}")))?;
        // Offsets of the step entries must be multiples of the device's alignment.
        debug_assert_eq!(
            stride % device.limits().min_uniform_buffer_offset_alignment as usize,
            0
        );
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);

        // Buffers, slab by slab: each field's planes z0 − 1 … z0 + planes (the halos; 0
        // outside the domain), padded rows.
        let field_usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let empty = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        // The global voxel index of buffer plane zb, row y of a slab, if inside.
        let row_start = |slab: &Slab, zb: usize, y: usize| row_start(params.dims, slab, zb, y);
        let field_data = |slab: &Slab, k: usize| slab_values(params.dims, slab, class, initial, k);
        let mut buffers = Vec::with_capacity(slabs.len());
        for slab in &slabs {
            let bytes = ((slab.planes + 2) * plane * 4) as u64;
            let init = |label: &str, k: usize| {
                device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(&field_data(slab, k)),
                    usage: field_usage,
                })
            };
            let pair = |label: &str, k: usize| [init(label, k), empty(label, bytes, field_usage)];
            let mut packed = vec![0u32; (slab.planes + 2) * plane / 4];
            for zb in 0..slab.planes + 2 {
                for y in 0..ny {
                    let Some(g) = row_start(slab, zb, y) else {
                        continue;
                    };
                    for (x, &c) in class[g..g + nx].iter().enumerate() {
                        let i = (zb * ny + y) * nxp + x;
                        packed[i / 4] |= u32::from(c) << (8 * (i % 4));
                    }
                }
            }
            let gpu_slab = GpuSlab {
                z0: slab.z0 as u32,
                planes: slab.planes as u32,
                pad0: 0,
                pad1: 0,
            };
            buffers.push(SlabBuffers {
                chem: [pair("C", 0), pair("A", 1), pair("P", 2)],
                t: pair("T", 3),
                n: init("N", 4),
                k: init("K", 5),
                s: empty("s", bytes, field_usage),
                w: empty("w", bytes, wgpu::BufferUsages::STORAGE),
                classes: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("classes"),
                    contents: bytemuck::cast_slice(&packed),
                    usage: wgpu::BufferUsages::STORAGE,
                }),
                slab: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("slab"),
                    contents: bytemuck::bytes_of(&gpu_slab),
                    usage: wgpu::BufferUsages::UNIFORM,
                }),
            });
        }
        let largest = slabs.iter().map(|s| s.planes).max().unwrap_or(1);
        let gpu_params = GpuParams::new(&params);
        let shared = Shared {
            params: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(&gpu_params),
                usage: wgpu::BufferUsages::UNIFORM,
            }),
            step: empty(
                "steps",
                (BATCH * stride) as u64,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            ),
            maxima: empty("maxima", 8, field_usage),
            maxima_read: empty(
                "maxima read-back",
                8,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            staging: empty(
                "read-back",
                largest as u64 * plane_bytes,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
        };
        // Layouts: group 0 is shared; group 1 is each kernel's own.
        let fixed_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("fixed"),
            entries: &[
                uniform_entry(0, std::mem::size_of::<GpuParams>(), false),
                storage_entry(1, true),
                uniform_entry(2, std::mem::size_of::<GpuStep>(), true),
                uniform_entry(3, std::mem::size_of::<GpuSlab>(), false),
            ],
        });
        let chem_layout = storage_layout(
            &device,
            "chem",
            &[true, false, true, false, true, false, true],
        );
        let signal_layout = storage_layout(&device, "signal", &[true, true, true, false, false]);
        let cell_layout = storage_layout(
            &device,
            "cell",
            &[true, true, true, true, false, false, false],
        );
        let reduce_layout = storage_layout(&device, "reduce", &[true, true, false]);

        let module = |name: &str, source: &'static str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            })
        };
        let chem_module = module("chem.wgsl", shaders::CHEM);
        let signal_module = module("signal.wgsl", shaders::SIGNAL);
        let cell_module = module("cell.wgsl", shaders::CELL);
        let reduce_module = module("reduce.wgsl", shaders::REDUCE);
        let pipeline_layout = |name: &str, layout: &wgpu::BindGroupLayout| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(&fixed_layout), Some(layout)],
                immediate_size: 0,
            })
        };
        let pipeline = |name: &str, m: &wgpu::ShaderModule, layout: &wgpu::BindGroupLayout| {
            let pl = pipeline_layout(name, layout);
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: Some(&pl),
                module: m,
                entry_point: Some(name),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let pipelines = Pipelines {
            chem: ChemPipelines {
                layout: pipeline_layout("chem_step", &chem_layout),
                module: chem_module,
                uptake: params.c_uptake != 0.0,
                built: Default::default(),
            },
            signal: pipeline("signal_step", &signal_module, &signal_layout),
            cell: pipeline("cell_step", &cell_module, &cell_layout),
            reduce: pipeline("block_change", &reduce_module, &reduce_layout),
        };

        // Bind groups, per slab, one per combination of current buffers.
        let groups_ = buffers
            .iter()
            .map(|b| {
                let fixed = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("fixed"),
                    layout: &fixed_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: shared.params.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: b.classes.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &shared.step,
                                offset: 0,
                                size: wgpu::BufferSize::new(std::mem::size_of::<GpuStep>() as u64),
                            }),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: b.slab.as_entire_binding(),
                        },
                    ],
                });
                let chem = (0..16)
                    .map(|key| {
                        let (c, a, p, t) = (key & 1, (key >> 1) & 1, (key >> 2) & 1, key >> 3);
                        let [cs, as_, ps] = &b.chem;
                        bind(
                            &device,
                            "chem",
                            &chem_layout,
                            &[
                                &cs[c],
                                &cs[1 - c],
                                &as_[a],
                                &as_[1 - a],
                                &ps[p],
                                &ps[1 - p],
                                &b.t[t],
                            ],
                        )
                    })
                    .collect();
                let signal = (0..8)
                    .map(|key| {
                        let (c, a, t) = (key & 1, (key >> 1) & 1, (key >> 2) & 1);
                        bind(
                            &device,
                            "signal",
                            &signal_layout,
                            &[&b.chem[0][c], &b.chem[1][a], &b.t[t], &b.s, &b.w],
                        )
                    })
                    .collect();
                let cell = (0..4)
                    .map(|key| {
                        let (t, p) = (key & 1, (key >> 1) & 1);
                        bind(
                            &device,
                            "cell",
                            &cell_layout,
                            &[&b.s, &b.w, &b.t[t], &b.chem[2][p], &b.t[1 - t], &b.n, &b.k],
                        )
                    })
                    .collect();
                let reduce = std::array::from_fn(|u| {
                    std::array::from_fn(|p| {
                        bind(
                            &device,
                            "reduce",
                            &reduce_layout,
                            &[&b.chem[u][p], &b.s, &shared.maxima],
                        )
                    })
                });
                BindGroups {
                    fixed,
                    chem,
                    signal,
                    cell,
                    reduce,
                }
            })
            .collect();
        let invalid = pollster::block_on(scope.pop());
        if let Some(e) = pollster::block_on(memory.pop()) {
            let needed = device_bytes(params.dims, &slabs);
            return Err(device_err(format!(
                "out of device memory: the grid {nx} × {ny} × {nz} needs {needed} bytes \
                 ({}) on the GPU ({} slabs; about {:.0} bytes per voxel); use a coarser \
                 grid or --backend cpu ({e})",
                crate::units::human_bytes(needed as f64),
                slabs.len(),
                needed as f64 / n as f64
            )));
        }
        if let Some(e) = invalid {
            return Err(device_err(format!("building the pipelines: {e}")));
        }
        Ok(GpuSolver {
            device,
            queue,
            info,
            params,
            nxp,
            plane,
            slabs,
            groups: [gx, gy],
            quad_groups: [qx, qy],
            stride,
            pipelines,
            shared,
            buffers,
            groups_,
            cur: [0; 4],
            pending: Vec::with_capacity(BATCH),
            step_bytes: vec![0; BATCH * stride],
            last_submission: None,
            steady: Default::default(),
            probe: None,
            zero: zero_chemicals(initial),
            substeps: [0; 3],
            chem_passes: 0,
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The z-slabs each field is split into.
    pub fn slabs(&self) -> &[Slab] {
        &self.slabs
    }

    /// Explicit sub-steps run so far, per chemical (C, A, P); skipped ones not counted.
    pub fn substeps(&self) -> [u64; 3] {
        self.substeps
    }

    /// Steady solves and their total iterations so far, per chemical (C, A, P).
    pub fn steady_counts(&self) -> [(u64, u64); 3] {
        self.steady.map(|s| (s.solves, s.iterations))
    }

    /// Chem passes run so far: a pass of fused sub-steps ([`Self::chem_steps`]) counts
    /// once.
    pub fn chem_passes(&self) -> u64 {
        self.chem_passes
    }

    /// One explicit sub-step of chemical `which` by `dt` min (as
    /// [`crate::cpu::CpuSolver::chem_step`]): a chem pass of its own. Recorded, and run
    /// with the next batch: at the latest when fields are read.
    pub fn chem_step(&mut self, which: Chemical, dt: f64, plasma: f64, bath: f64) {
        self.chem_steps(&[SubStep {
            which,
            dt,
            plasma,
            bath,
        }]);
    }

    /// One explicit sub-step of each chemical of `subs` in one chem pass: each chemical
    /// steps from its own current field, with the fields as after the sub-steps one after
    /// another in the order given, provided they commute ([`Stepper::chem_steps`]; CXCL12
    /// with uptake reads AMD3100 as the pass starts, so it must come first). Recorded
    /// like [`Self::chem_step`].
    ///
    /// # Panics
    /// If a chemical appears twice.
    pub fn chem_steps(&mut self, subs: &[SubStep]) {
        let step = GpuStep::chems(subs);
        self.pipelines.chem.ensure(&self.device, step.chems);
        for s in subs {
            self.substeps[chem_index(s.which)] += 1;
        }
        self.chem_passes += 1;
        self.push(Op::Chem(step));
    }

    /// One cell step (T, N, K) by `dt` min using the current C, A, P (as
    /// [`crate::cpu::CpuSolver::cell_step`]). Recorded like [`Self::chem_step`].
    pub fn cell_step(&mut self, dt: f64) {
        self.push(Op::Cell(GpuStep::cell(dt)));
    }

    fn push(&mut self, op: Op) {
        if self.pending.len() == BATCH {
            self.flush();
        }
        self.pending.push(op);
    }

    /// Encodes the dispatches of one step entry (`slot`) over every slab: a chem pass,
    /// or the receptor pass and the cell step. Advances `cur` and returns the fields it
    /// wrote (bit f for C, A, P, T), whose halos are then stale.
    fn encode_op(
        &self,
        pass: &mut wgpu::ComputePass,
        op: Op,
        slot: usize,
        cur: &mut [usize; 4],
    ) -> u32 {
        let p = &self.pipelines;
        let [gx, gy] = self.groups;
        let [qx, qy] = self.quad_groups;
        let offset = [(slot * self.stride) as u32];
        let planes = |s: &Slab| s.planes as u32;
        match op {
            Op::Chem(step) => {
                pass.set_pipeline(p.chem.get(step.chems));
                let key = cur[0] + 2 * cur[1] + 4 * cur[2] + 8 * cur[T];
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.chem[key], &[]);
                    pass.dispatch_workgroups(qx, qy, planes(slab));
                }
                for (u, c) in cur.iter_mut().take(3).enumerate() {
                    if step.chems & (1 << u) != 0 {
                        *c ^= 1;
                    }
                }
                step.chems
            }
            Op::Cell(_) => {
                pass.set_pipeline(&p.signal);
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.signal[cur[0] + 2 * cur[1] + 4 * cur[T]], &[]);
                    // Own planes and both halos.
                    pass.dispatch_workgroups(gx, gy, planes(slab) + 2);
                }
                pass.set_pipeline(&p.cell);
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.cell[cur[T] + 2 * cur[2]], &[]);
                    pass.dispatch_workgroups(qx, qy, planes(slab));
                }
                cur[T] ^= 1;
                1 << T
            }
        }
    }

    /// Refreshes the halo planes of the current buffers (by `cur`) of the fields of
    /// `written` (bit f for C, A, P, T) in every slab from its neighbours' edge planes
    /// (nothing with one slab).
    fn exchange_halos(&self, encoder: &mut wgpu::CommandEncoder, written: u32, cur: [usize; 4]) {
        let plane = (self.plane * 4) as u64;
        for field in (0..4).filter(|f| written & (1 << f) != 0) {
            let f = PingPong {
                field,
                parity: cur[field],
            };
            for (s, pair) in self.slabs.windows(2).enumerate() {
                let (lo, hi) = (
                    self.buffers[s].ping_pong(f),
                    self.buffers[s + 1].ping_pong(f),
                );
                let top = pair[0].planes as u64;
                // The lower slab's last own plane is the upper one's lower halo, the
                // upper slab's first own plane the lower one's upper halo.
                encoder.copy_buffer_to_buffer(lo, top * plane, hi, 0, plane);
                encoder.copy_buffer_to_buffer(hi, plane, lo, (top + 1) * plane, plane);
            }
        }
    }

    /// Uploads the step entries of the pending dispatches, encodes them into one command
    /// buffer (one compute pass with one slab; with several, a pass per step followed by
    /// its halo copies) and submits it; keeps at most two submissions in flight.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (slot, op) in self.pending.iter().enumerate() {
            let at = slot * self.stride;
            self.step_bytes[at..at + std::mem::size_of::<GpuStep>()]
                .copy_from_slice(bytemuck::bytes_of(op.step()));
        }
        let used = self.pending.len() * self.stride;
        self.queue
            .write_buffer(&self.shared.step, 0, &self.step_bytes[..used]);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            });
        let mut cur = self.cur;
        let split = self.slabs.len() > 1;
        let mut next = 0;
        while next < self.pending.len() {
            let mut written = None;
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("batch"),
                    timestamp_writes: None,
                });
                while next < self.pending.len() {
                    let f = self.encode_op(&mut pass, self.pending[next], next, &mut cur);
                    next += 1;
                    if split {
                        written = Some(f);
                        break;
                    }
                }
            }
            if let Some(f) = written {
                self.exchange_halos(&mut encoder, f, cur);
            }
        }
        self.cur = cur;
        self.pending.clear();
        self.submit(encoder);
    }

    /// Submits, then waits for the submission before it (so the host runs at most one
    /// batch ahead of the device).
    fn submit(&mut self, encoder: wgpu::CommandEncoder) {
        let index = self.queue.submit([encoder.finish()]);
        if let Some(prev) = self.last_submission.replace(index) {
            // A failed wait (device lost) shows at the next read-back.
            let _ = self.device.poll(wgpu::PollType::Wait {
                submission_index: Some(prev),
                timeout: None,
            });
        }
    }

    /// Iterates `chem_step` at `dt` until steady for the given levels, by the CPU's
    /// criterion with f32 round-off thresholds ([`steady`]); returns the iterations.
    /// Each block of [`BLOCK`] iterations is one submission with its convergence
    /// measure, read back as two numbers.
    pub fn solve_steady(
        &mut self,
        which: Chemical,
        dt: f64,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, GpuError> {
        self.flush();
        let u = chem_index(which);
        let earlier = self.steady[u].rate_at(dt);
        let mut conv = Convergence::new(tolerance, earlier);
        // Every iteration of the solve uses step entry 0.
        let step = GpuStep::chems(&[SubStep {
            which,
            dt,
            plasma,
            bath,
        }]);
        self.queue
            .write_buffer(&self.shared.step, 0, bytemuck::bytes_of(&step));
        self.pipelines.chem.ensure(&self.device, step.chems);
        let op = Op::Chem(step);
        loop {
            let (d, m) = self.steady_block(op, u)?;
            if conv.done(d, m) {
                break;
            }
        }
        self.steady[u].record(dt, conv.rate(), (plasma, bath), conv.iterations);
        Ok(conv.iterations)
    }

    /// One block of a steady solve: marks the field, runs [`BLOCK`] sub-steps with step
    /// entry 0, and reads back (max |u − mark|, max |u|) over every slab.
    fn steady_block(&mut self, op: Op, u: usize) -> Result<(f64, f64), GpuError> {
        let [gx, gy] = self.groups;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("steady block"),
            });
        for b in &self.buffers {
            encoder.copy_buffer_to_buffer(&b.chem[u][self.cur[u]], 0, &b.s, 0, None);
        }
        encoder.clear_buffer(&self.shared.maxima, 0, None);
        let mut cur = self.cur;
        let split = self.slabs.len() > 1;
        let mut done = 0;
        while done < BLOCK {
            let mut written = None;
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("steady block"),
                    timestamp_writes: None,
                });
                while done < BLOCK {
                    let f = self.encode_op(&mut pass, op, 0, &mut cur);
                    done += 1;
                    if split {
                        written = Some(f);
                        break;
                    }
                }
                if done == BLOCK {
                    pass.set_pipeline(&self.pipelines.reduce);
                    for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                        pass.set_bind_group(0, &g.fixed, &[0]);
                        pass.set_bind_group(1, &g.reduce[u][cur[u]], &[]);
                        pass.dispatch_workgroups(gx, gy, slab.planes as u32);
                    }
                }
            }
            if let Some(f) = written {
                self.exchange_halos(&mut encoder, f, cur);
            }
        }
        encoder.copy_buffer_to_buffer(&self.shared.maxima, 0, &self.shared.maxima_read, 0, None);
        self.cur = cur;
        self.submit(encoder);
        let bits = read_mapped(&self.device, &self.shared.maxima_read, 8, |bytes| {
            let w: &[u32] = bytemuck::cast_slice(bytes);
            [w[0], w[1]]
        })
        .map_err(|message| self.device_error(message))?;
        Ok((
            f64::from(f32::from_bits(bits[0])),
            f64::from(f32::from_bits(bits[1])),
        ))
    }

    fn device_error(&self, message: String) -> GpuError {
        GpuError::Device {
            adapter: self.info.name.clone(),
            message,
        }
    }

    /// `seg.steps` cell steps of `seg.dt` from `seg.t0`, ordered by [`crate::solver::advance_steps`]
    /// exactly as the CPU's, batched into submissions of up to [`BATCH`] dispatches.
    /// `on_step(k)` is called once cell step k is encoded (for progress: the device runs
    /// at most one batch behind). Sub-steps of a drug that is 0 everywhere (the host
    /// knows from what it uploaded and what it dosed since) are skipped while nothing
    /// doses it, as on the CPU.
    pub fn advance(
        &mut self,
        seg: &Segment,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<(), GpuError> {
        self.advance_from(seg, 0, plan, dosing, tolerance, on_step)
    }

    /// Runs what is pending and reads every field back, slab by slab: own planes only,
    /// padding stripped, widened to f64.
    pub fn read_fields(&mut self) -> Result<Fields, GpuError> {
        let [nx, ny, nz] = self.params.dims;
        let mut out = Fields::zeros(nx * ny * nz);
        for f in Field::ALL {
            let v = self.read_field(f)?;
            for (d, s) in out.get_mut(f).iter_mut().zip(&v) {
                *d = f64::from(*s);
            }
        }
        Ok(out)
    }

    /// Runs what is pending and reads a field back as the device holds it (f32), slab
    /// by slab: own planes only, padding stripped.
    pub fn read_field(&mut self, f: Field) -> Result<Vec<f32>, GpuError> {
        let k = f.index();
        self.flush();
        let [nx, ny, nz] = self.params.dims;
        let mut out = vec![0f32; nx * ny * nz];
        let cur = self.cur;
        let plane_bytes = (self.plane * 4) as u64;
        for (slab, b) in self.slabs.iter().zip(&self.buffers) {
            let src = b.current(k, cur);
            let bytes = slab.planes as u64 * plane_bytes;
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("read-back"),
                });
            // Own planes: from buffer plane 1.
            encoder.copy_buffer_to_buffer(src, plane_bytes, &self.shared.staging, 0, bytes);
            self.queue.submit([encoder.finish()]);
            let nxp = self.nxp;
            let at = nx * ny * slab.z0;
            let part = &mut out[at..at + nx * ny * slab.planes];
            read_mapped(&self.device, &self.shared.staging, bytes, |raw| {
                let v: &[f32] = bytemuck::cast_slice(raw);
                for (row, dst) in part.chunks_mut(nx).enumerate() {
                    dst.copy_from_slice(&v[row * nxp..row * nxp + nx]);
                }
            })
            .map_err(|m| self.device_error(m))?;
        }
        self.last_submission = None;
        Ok(out)
    }

    /// Sets K to 0 everywhere (after what is pending).
    pub fn reset_killed(&mut self) {
        self.flush();
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("reset K"),
            });
        for b in &self.buffers {
            encoder.clear_buffer(&b.k, 0, None);
        }
        self.submit(encoder);
    }

    /// The backend in words: adapter, API, device type, precision, slabs.
    pub fn describe(&self) -> String {
        match self.slabs.len() {
            1 => format!("gpu: {}, f32", short_name(&self.info)),
            n => format!("gpu: {}, f32, {n} z-slabs", short_name(&self.info)),
        }
    }
}

impl Stepper for GpuSolver {
    type Error = GpuError;

    fn params(&self) -> &Params {
        &self.params
    }

    fn steady(&self, u: usize) -> &SteadyState {
        &self.steady[u]
    }

    fn chem_steps(&mut self, subs: &[SubStep]) {
        GpuSolver::chem_steps(self, subs);
    }

    fn cell_step(&mut self, dt: f64) {
        GpuSolver::cell_step(self, dt);
    }

    fn solve_steady(
        &mut self,
        which: Chemical,
        dt: f64,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<(), GpuError> {
        GpuSolver::solve_steady(self, which, dt, plasma, bath, tolerance).map(|_| ())
    }
}

impl crate::solver::Solver for GpuSolver {
    fn read_fields(&mut self) -> crate::Result<Fields> {
        Ok(GpuSolver::read_fields(self)?)
    }

    fn read_field(&mut self, f: Field) -> crate::Result<Vec<f32>> {
        Ok(GpuSolver::read_field(self, f)?)
    }

    fn sums(&mut self, labels: &crate::probe::Labels) -> crate::Result<crate::probe::Sums> {
        Ok(GpuSolver::sums(self, labels)?)
    }

    fn planes(&mut self, at: &crate::slicing::Slicing) -> crate::Result<Vec<Vec<f32>>> {
        Ok(GpuSolver::planes(self, at)?)
    }

    fn reset_killed(&mut self) -> crate::Result<()> {
        GpuSolver::reset_killed(self);
        Ok(())
    }

    fn describe(&self) -> String {
        GpuSolver::describe(self)
    }
}
