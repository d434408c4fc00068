//! The GPU solver: the whole model stepped by WGSL compute kernels through wgpu, in f32,
//! held to the CPU reference (`cpu::CpuSolver`) by tests/gpu.rs.
//!
//! # Buffers
//!
//! One storage buffer per field, f32, padded rows: index `x + nxp·(y + ny·z)` with
//! `nxp` = nx rounded up to a multiple of 4, so that the stencil kernels load four
//! x-voxels as one `vec4` (a row's vec4s never straddle rows) and their four class
//! codes as one u32. Padding voxels lie outside the domain: no flux crosses x = nx, they
//! are never neighbours, they hold 0 and kernels write nothing else to them.
//!
//! - C, A, P and T ping-pong: two buffers each; the host tracks which holds the current
//!   values and binds prebuilt bind groups chosen by those parities (wgpu's boids
//!   pattern). N and K are updated in place by the cell kernel (pointwise).
//! - Scratch: `s` (signal; the mark of a quasi-steady block) and `w` (μT).
//! - Tissue classes: four u8 codes per u32.
//! - Parameters: one uniform buffer ([`GpuParams`]); per-dispatch values (Δt, plasma and
//!   bath levels, which chemical): one uniform buffer of [`GpuStep`] entries at the
//!   device's uniform offset alignment (256 bytes as requested), bound with a dynamic
//!   offset. The host fills the entries of a batch of dispatches, uploads them with one
//!   `write_buffer` and encodes the whole batch into one compute pass and one
//!   submission, in the CPU's order: per cell step the sub-steps of C, A, P, then the
//!   receptor pass and the cell step.
//!
//! # Kernels (shaders/, combined with common.wgsl by [`shaders`])
//!
//! `chem_step` / `chem_step_uptake` (chem.wgsl), `signal_step` (signal.wgsl),
//! `cell_step` (cell.wgsl), `block_change` (reduce.wgsl: max |u − mark| and max |u| of a
//! quasi-steady block, read back once per block of iterations). The stencil kernels
//! (chem, cell) run one thread per quad: thread (qx, y, z) steps x = 4·qx … 4·qx + 3
//! (those < nx) with `vec4` loads of its own and its y±1, z±1 neighbours, one class word,
//! and scalar loads of only the two outer x-neighbours; their dispatch covers nxp/4
//! threads in x (`quad_workgroups`). `signal_step` and `block_change` stay one thread
//! per voxel (nx threads in x, `workgroups`). Workgroups of 64 × 4 threads for all
//! (measured best of 16×4, 32×4, 64×4, 128×1 on an H200 with one voxel per thread; with
//! quads a workgroup spans 256 x-voxels, not yet measured).
//!
//! # Reading back
//!
//! Only at snapshots ([`GpuSolver::read_fields`]: the padding is stripped and the values
//! widened to f64) and once per block of a quasi-steady solve (two numbers).
//!
//! # Not yet
//!
//! - wgpu's runtime bounds checks are on (`create_shader_module`). The kernels guard
//!   their own indices (`in_grid`, `quad_in_grid` and explicit per-face checks), so `create_shader_module_trusted` with
//!   `ShaderRuntimeChecks::unchecked()` could later remove a quarter of the cost on a
//!   GPU (docs: GPU.md), once a test runs the unchecked modules against the checked.
//! - A field must fit one storage binding (`max_storage_buffer_binding_size`, 2 GiB on
//!   an H200: 512³ fits, 1024³ does not). Larger grids need each field split into
//!   z-slabs, each kernel dispatched per slab with a one-plane halo from its
//!   neighbours.

mod adapter;
pub mod bench;
mod params;
pub mod shaders;
mod state;
pub mod steady;

pub use adapter::{
    best_gpu, by_name, describe as describe_adapter, enumerate, instance, is_gpu, required_limits,
    short_name, GpuError, INSTALL_HINT,
};
pub use params::{padded_nx, per_class, GpuChem, GpuParams, GpuStep, PerClass};

use std::sync::mpsc;

use wgpu::util::DeviceExt;

use crate::dosing::Dosing;
use crate::model::{chem_index, Fields, Params, Segment, StepPlan, N_CLASSES};
use crate::scenario::Chemical;
use crate::solver::{advance_steps, SteadyState, Stepper};
use steady::{Convergence, BLOCK};

/// Dispatch entries (uniform slots) per batch: one submission holds at most this many
/// chemical sub-steps and cell steps.
pub const BATCH: usize = 4096;

/// Indices into `GpuSolver::cur` (which buffer of a ping-pong pair is current).
const T: usize = 3;

/// One dispatch (or, for a cell step, the receptor pass and the cell kernel).
#[derive(Debug, Clone, Copy)]
enum Op {
    Chem {
        which: usize,
        dt: f64,
        plasma: f64,
        bath: f64,
    },
    Cell {
        dt: f64,
    },
}

struct Pipelines {
    chem: wgpu::ComputePipeline,
    chem_uptake: wgpu::ComputePipeline,
    signal: wgpu::ComputePipeline,
    cell: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
}

struct Buffers {
    /// C, A, P: two each.
    chem: [[wgpu::Buffer; 2]; 3],
    t: [wgpu::Buffer; 2],
    n: wgpu::Buffer,
    k: wgpu::Buffer,
    s: wgpu::Buffer,
    w: wgpu::Buffer,
    classes: wgpu::Buffer,
    params: wgpu::Buffer,
    step: wgpu::Buffer,
    maxima: wgpu::Buffer,
    maxima_read: wgpu::Buffer,
    /// One field's bytes, mappable: read-back goes through it field by field.
    staging: wgpu::Buffer,
}

struct BindGroups {
    /// Params, classes, the step entry (dynamic offset).
    fixed: wgpu::BindGroup,
    /// `[u][parity of u]`.
    chem: [[wgpu::BindGroup; 2]; 3],
    /// `[c + 2 t + 4 a]` (parities of C, T, A).
    uptake: Vec<wgpu::BindGroup>,
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
    /// Row stride (padded nx) and voxels including padding.
    nxp: usize,
    padded: usize,
    /// Workgroups per dispatch of a scalar field kernel (signal, reduce).
    groups: [u32; 3],
    /// Workgroups per dispatch of a vec4 stencil kernel (chem, cell).
    quad_groups: [u32; 3],
    /// Whether CXCL12 steps with uptake by T cells.
    uptake: bool,
    /// Bytes between step entries.
    stride: usize,
    pipelines: Pipelines,
    buffers: Buffers,
    groups_: BindGroups,
    /// Which buffer of C, A, P, T is current (0 or 1).
    cur: [usize; 4],
    pending: Vec<Op>,
    step_bytes: Vec<u8>,
    last_submission: Option<wgpu::SubmissionIndex>,
    steady: [SteadyState; 3],
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

/// Workgroups of a dispatch of a vec4 stencil kernel (`chem_step`, `chem_step_uptake`,
/// `cell_step`: one thread per quad of four x-voxels) for a grid: nxp/4 threads in x.
/// Never more than [`workgroups`] in any dimension.
fn quad_workgroups(dims: [usize; 3]) -> [u32; 3] {
    workgroups([padded_nx(dims[0]) / 4, dims[1], dims[2]])
}

/// Whether a grid fits the adapter (each field in one storage binding, the dispatch
/// within the workgroup limits); the device limits it needs if so. Needs no fields, so
/// that a grid can be checked before it is built.
pub fn check_grid(adapter: &wgpu::Adapter, dims: [usize; 3]) -> Result<wgpu::Limits, GpuError> {
    let padded = padded_nx(dims[0]) as u64 * dims[1] as u64 * dims[2] as u64;
    required_limits(
        adapter,
        padded * 4,
        (BATCH * STEP_STRIDE) as u64,
        workgroups(dims),
    )
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
    /// Creates a device on `adapter` with the limits the grid needs, uploads the classes
    /// and the fields, and builds every pipeline and bind group (nothing is allocated
    /// later, per step or per snapshot).
    ///
    /// # Errors
    /// A field larger than the adapter's storage binding or buffer limits (naming the
    /// limit, the bytes needed and the adapter's value), or a device that cannot be
    /// created.
    ///
    /// # Panics
    /// As [`crate::cpu::CpuSolver::new`]: an empty grid, or `class` or a field without
    /// `nx·ny·nz` entries, or a class code not below `N_CLASSES`.
    pub fn new(
        adapter: &wgpu::Adapter,
        params: Params,
        class: Vec<u8>,
        fields: Fields,
    ) -> Result<Self, GpuError> {
        let [nx, ny, nz] = params.dims;
        assert!(nx > 0 && ny > 0 && nz > 0, "empty grid {:?}", params.dims);
        let n = nx * ny * nz;
        assert_eq!(class.len(), n, "class codes for {:?}", params.dims);
        assert!(
            class.iter().all(|&c| (c as usize) < N_CLASSES),
            "class code out of range"
        );
        for (name, f) in fields.named() {
            assert_eq!(f.len(), n, "field {name} has the wrong length");
        }
        let info = adapter.get_info();
        let nxp = padded_nx(nx);
        let padded = nxp * ny * nz;
        let field_bytes = (padded * 4) as u64;
        let groups = workgroups(params.dims);
        let quad_groups = quad_workgroups(params.dims);
        let stride = STEP_STRIDE;
        let limits = check_grid(adapter, params.dims)?;
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
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);

        // Buffers.
        let pad = |v: &[f64]| -> Vec<f32> {
            let mut out = vec![0.0f32; padded];
            for (row, src) in v.chunks(nx).enumerate() {
                let dst = &mut out[row * nxp..row * nxp + nx];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = *s as f32;
                }
            }
            out
        };
        let field_usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let init = |label: &str, data: &[f64]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(&pad(data)),
                usage: field_usage,
            })
        };
        let empty = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let pair =
            |label: &str, data: &[f64]| [init(label, data), empty(label, field_bytes, field_usage)];
        let w = empty("w", field_bytes, wgpu::BufferUsages::STORAGE);
        let mut packed = vec![0u32; padded / 4];
        for (row, src) in class.chunks(nx).enumerate() {
            for (x, &c) in src.iter().enumerate() {
                let i = row * nxp + x;
                packed[i / 4] |= u32::from(c) << (8 * (i % 4));
            }
        }
        let classes = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("classes"),
            contents: bytemuck::cast_slice(&packed),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let gpu_params = GpuParams::new(&params);
        let params_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::bytes_of(&gpu_params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let buffers = Buffers {
            chem: [
                pair("C", &fields.c),
                pair("A", &fields.a),
                pair("P", &fields.p),
            ],
            t: pair("T", &fields.t),
            n: init("N", &fields.n),
            k: init("K", &fields.k),
            s: empty("s", field_bytes, field_usage),
            w,
            classes,
            params: params_buf,
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
                field_bytes,
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
            ],
        });
        let chem_layout = storage_layout(&device, "chem", &[true, false]);
        let uptake_layout = storage_layout(&device, "chem uptake", &[true, false, true, true]);
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
        let pipeline = |name: &str, m: &wgpu::ShaderModule, layout: &wgpu::BindGroupLayout| {
            let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(&fixed_layout), Some(layout)],
                immediate_size: 0,
            });
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
            chem: pipeline("chem_step", &chem_module, &chem_layout),
            chem_uptake: pipeline("chem_step_uptake", &chem_module, &uptake_layout),
            signal: pipeline("signal_step", &signal_module, &signal_layout),
            cell: pipeline("cell_step", &cell_module, &cell_layout),
            reduce: pipeline("block_change", &reduce_module, &reduce_layout),
        };

        // Bind groups, one per combination of current buffers.
        let b = &buffers;
        let fixed = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("fixed"),
            layout: &fixed_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: b.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: b.classes.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &b.step,
                        offset: 0,
                        size: wgpu::BufferSize::new(std::mem::size_of::<GpuStep>() as u64),
                    }),
                },
            ],
        });
        let chem = std::array::from_fn(|u| {
            std::array::from_fn(|p| {
                let f = &b.chem[u];
                bind(&device, "chem", &chem_layout, &[&f[p], &f[1 - p]])
            })
        });
        let uptake = (0..8)
            .map(|key| {
                let (c, t, a) = (key & 1, (key >> 1) & 1, (key >> 2) & 1);
                let cs = &b.chem[0];
                bind(
                    &device,
                    "chem uptake",
                    &uptake_layout,
                    &[&cs[c], &cs[1 - c], &b.t[t], &b.chem[1][a]],
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
                    &[&b.chem[u][p], &b.s, &b.maxima],
                )
            })
        });
        let groups_ = BindGroups {
            fixed,
            chem,
            uptake,
            signal,
            cell,
            reduce,
        };
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(device_err(format!("building the pipelines: {e}")));
        }
        Ok(GpuSolver {
            device,
            queue,
            info,
            uptake: params.c_uptake != 0.0,
            params,
            nxp,
            padded,
            groups,
            quad_groups,
            stride,
            pipelines,
            buffers,
            groups_,
            cur: [0; 4],
            pending: Vec::with_capacity(BATCH),
            step_bytes: vec![0; BATCH * stride],
            last_submission: None,
            steady: Default::default(),
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// Steady solves and their total iterations so far, per chemical (C, A, P).
    pub fn steady_counts(&self) -> [(u64, u64); 3] {
        self.steady.map(|s| (s.solves, s.iterations))
    }

    /// One explicit sub-step of chemical `which` by `dt` min (as
    /// [`crate::cpu::CpuSolver::chem_step`]). Recorded, and run with the next batch:
    /// at the latest when fields are read.
    pub fn chem_step(&mut self, which: Chemical, dt: f64, plasma: f64, bath: f64) {
        self.push(Op::Chem {
            which: chem_index(which),
            dt,
            plasma,
            bath,
        });
    }

    /// One cell step (T, N, K) by `dt` min using the current C, A, P (as
    /// [`crate::cpu::CpuSolver::cell_step`]). Recorded like [`Self::chem_step`].
    pub fn cell_step(&mut self, dt: f64) {
        self.push(Op::Cell { dt });
    }

    fn push(&mut self, op: Op) {
        if self.pending.len() == BATCH {
            self.flush();
        }
        self.pending.push(op);
    }

    /// Uploads the step entries of the pending dispatches, encodes them into one compute
    /// pass and submits it; keeps at most two submissions in flight.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (slot, op) in self.pending.iter().enumerate() {
            let step = match *op {
                Op::Chem {
                    which,
                    dt,
                    plasma,
                    bath,
                } => GpuStep {
                    dt: dt as f32,
                    plasma: plasma as f32,
                    bath: bath as f32,
                    chem: which as u32,
                },
                Op::Cell { dt } => GpuStep {
                    dt: dt as f32,
                    plasma: 0.0,
                    bath: 0.0,
                    chem: 0,
                },
            };
            let at = slot * self.stride;
            self.step_bytes[at..at + std::mem::size_of::<GpuStep>()]
                .copy_from_slice(bytemuck::bytes_of(&step));
        }
        let used = self.pending.len() * self.stride;
        self.queue
            .write_buffer(&self.buffers.step, 0, &self.step_bytes[..used]);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            });
        let mut cur = self.cur;
        {
            let (p, g) = (&self.pipelines, &self.groups_);
            let [gx, gy, gz] = self.groups;
            let [qx, qy, qz] = self.quad_groups;
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("batch"),
                timestamp_writes: None,
            });
            // Pipelines are set only when they change (consecutive sub-steps of one
            // chemical share theirs).
            let pipes = [&p.chem, &p.chem_uptake, &p.signal, &p.cell];
            let [chem, chem_uptake, signal, cell] = [0, 1, 2, 3];
            let mut last = usize::MAX;
            let mut use_pipeline = |pass: &mut wgpu::ComputePass, k: usize| {
                if k != last {
                    pass.set_pipeline(pipes[k]);
                    last = k;
                }
            };
            for (slot, op) in self.pending.iter().enumerate() {
                pass.set_bind_group(0, &g.fixed, &[(slot * self.stride) as u32]);
                match *op {
                    Op::Chem { which, .. } => {
                        if which == 0 && self.uptake {
                            use_pipeline(&mut pass, chem_uptake);
                            let key = cur[0] + 2 * cur[T] + 4 * cur[1];
                            pass.set_bind_group(1, &g.uptake[key], &[]);
                        } else {
                            use_pipeline(&mut pass, chem);
                            pass.set_bind_group(1, &g.chem[which][cur[which]], &[]);
                        }
                        pass.dispatch_workgroups(qx, qy, qz);
                        cur[which] ^= 1;
                    }
                    Op::Cell { .. } => {
                        use_pipeline(&mut pass, signal);
                        let key = cur[0] + 2 * cur[1] + 4 * cur[T];
                        pass.set_bind_group(1, &g.signal[key], &[]);
                        pass.dispatch_workgroups(gx, gy, gz);
                        use_pipeline(&mut pass, cell);
                        pass.set_bind_group(1, &g.cell[cur[T] + 2 * cur[2]], &[]);
                        pass.dispatch_workgroups(qx, qy, qz);
                        cur[T] ^= 1;
                    }
                }
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
        let step = GpuStep {
            dt: dt as f32,
            plasma: plasma as f32,
            bath: bath as f32,
            chem: u as u32,
        };
        self.queue
            .write_buffer(&self.buffers.step, 0, bytemuck::bytes_of(&step));
        loop {
            let (d, m) = self.steady_block(u)?;
            if conv.done(d, m) {
                break;
            }
        }
        self.steady[u].record(dt, conv.rate(), (plasma, bath), conv.iterations);
        Ok(conv.iterations)
    }

    /// One block of a steady solve: marks the field, runs [`BLOCK`] sub-steps with step
    /// entry 0, and reads back (max |u − mark|, max |u|).
    fn steady_block(&mut self, u: usize) -> Result<(f64, f64), GpuError> {
        let b = &self.buffers;
        let (p, g) = (&self.pipelines, &self.groups_);
        let [gx, gy, gz] = self.groups;
        let [qx, qy, qz] = self.quad_groups;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("steady block"),
            });
        encoder.copy_buffer_to_buffer(&b.chem[u][self.cur[u]], 0, &b.s, 0, None);
        encoder.clear_buffer(&b.maxima, 0, None);
        let mut cur = self.cur;
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steady block"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &g.fixed, &[0]);
            let uptake = u == 0 && self.uptake;
            pass.set_pipeline(if uptake { &p.chem_uptake } else { &p.chem });
            for _ in 0..BLOCK {
                if uptake {
                    let key = cur[0] + 2 * cur[T] + 4 * cur[1];
                    pass.set_bind_group(1, &g.uptake[key], &[]);
                } else {
                    pass.set_bind_group(1, &g.chem[u][cur[u]], &[]);
                }
                pass.dispatch_workgroups(qx, qy, qz);
                cur[u] ^= 1;
            }
            pass.set_pipeline(&p.reduce);
            pass.set_bind_group(1, &g.reduce[u][cur[u]], &[]);
            pass.dispatch_workgroups(gx, gy, gz);
        }
        encoder.copy_buffer_to_buffer(&b.maxima, 0, &b.maxima_read, 0, None);
        self.cur = cur;
        self.submit(encoder);
        let bits = read_mapped(&self.device, &self.buffers.maxima_read, 8, |bytes| {
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

    /// `seg.steps` cell steps of `seg.dt` from `seg.t0`, ordered by [`advance_steps`]
    /// exactly as the CPU's, batched into submissions of up to [`BATCH`] dispatches.
    /// `on_step(k)` is called once cell step k is encoded (for progress: the device runs
    /// at most one batch behind). No sub-step is skipped: the host does not know which
    /// fields are zero.
    pub fn advance(
        &mut self,
        seg: &Segment,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> Result<(), GpuError> {
        advance_steps(self, seg, plan, dosing, tolerance, [false; 3], on_step)?;
        self.flush();
        Ok(())
    }

    /// Runs what is pending and reads every field back: padding stripped, widened to
    /// f64.
    pub fn read_fields(&mut self) -> Result<Fields, GpuError> {
        self.flush();
        let [nx, ny, nz] = self.params.dims;
        let n = nx * ny * nz;
        let mut out = Fields::zeros(n);
        let b = &self.buffers;
        let sources = [
            &b.chem[0][self.cur[0]],
            &b.chem[1][self.cur[1]],
            &b.chem[2][self.cur[2]],
            &b.t[self.cur[T]],
            &b.n,
            &b.k,
        ];
        let targets = [
            &mut out.c, &mut out.a, &mut out.p, &mut out.t, &mut out.n, &mut out.k,
        ];
        let bytes = (self.padded * 4) as u64;
        for (src, dst) in sources.into_iter().zip(targets) {
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("read-back"),
                });
            encoder.copy_buffer_to_buffer(src, 0, &b.staging, 0, bytes);
            self.queue.submit([encoder.finish()]);
            let nxp = self.nxp;
            read_mapped(&self.device, &b.staging, bytes, |raw| {
                let v: &[f32] = bytemuck::cast_slice(raw);
                for (row, out) in dst.chunks_mut(nx).enumerate() {
                    for (d, s) in out.iter_mut().zip(&v[row * nxp..row * nxp + nx]) {
                        *d = f64::from(*s);
                    }
                }
            })
            .map_err(|m| GpuError::Device {
                adapter: self.info.name.clone(),
                message: m,
            })?;
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
        encoder.clear_buffer(&self.buffers.k, 0, None);
        self.submit(encoder);
    }

    /// The backend in words: adapter, API, device type, precision.
    pub fn describe(&self) -> String {
        format!("gpu: {}, f32", short_name(&self.info))
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

    fn chem_step(&mut self, which: Chemical, dt: f64, plasma: f64, bath: f64) {
        GpuSolver::chem_step(self, which, dt, plasma, bath);
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
    fn advance(
        &mut self,
        seg: &Segment,
        plan: &StepPlan,
        dosing: &Dosing,
        tolerance: f64,
        on_step: &mut dyn FnMut(u64),
    ) -> crate::Result<()> {
        Ok(GpuSolver::advance(
            self, seg, plan, dosing, tolerance, on_step,
        )?)
    }

    fn read_fields(&mut self) -> crate::Result<Fields> {
        Ok(GpuSolver::read_fields(self)?)
    }

    fn reset_killed(&mut self) -> crate::Result<()> {
        GpuSolver::reset_killed(self);
        Ok(())
    }

    fn describe(&self) -> String {
        GpuSolver::describe(self)
    }
}
