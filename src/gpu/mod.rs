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
//! - C, A, P, T and each species the scenario adds ping-pong: two buffers each per
//!   slab; the host tracks which holds the current values (`Parities`, the same for
//!   every slab) and binds prebuilt bind groups chosen by those parities (wgpu's boids
//!   pattern). N and K are updated in place by the cell
//!   kernel (pointwise; their halos are never read).
//! - Tissue classes: four u8 codes per u32, halo planes included.
//! - Parameters: one uniform buffer ([`GpuParams`]); per slab a uniform [`GpuSlab`] (its
//!   first plane and plane count); per-dispatch values (which chemicals a chem pass
//!   steps, and each one's Δt, plasma and bath levels; a cell step's Δt): one uniform
//!   buffer of [`GpuStep`] entries at the device's uniform offset alignment (256 bytes as
//!   requested), bound with a dynamic offset. The host fills the entries of a batch of
//!   dispatches, uploads them with one `write_buffer` and encodes the whole batch into
//!   one submission, in the order [`crate::solver::advance_steps_from`] gives for both
//!   backends: per cell step the chemicals' sub-steps (the j-th sub-step of every
//!   chemical that has one fused into one chem pass), then the cell step. With one slab the batch is one compute pass; with several, each step's
//!   dispatches (one per slab) are a pass, followed by the halo copies of the fields it
//!   wrote.
//!
//! # Kernels (shaders/, combined with common.wgsl by [`shaders`])
//!
//! `chem_step` (chem.wgsl: one chem pass, stepping the chemicals its step entry names,
//! each from its own buffer pair, CXCL12 with uptake where the model has it; every chem
//! pass binds all three pairs and T, by a bind group chosen by the four parities),
//! `species_step` (species.wgsl: a sub-step of one species, a pass of its own binding its
//! coefficients, its pair, T and N; the quad stencil is stencil.wgsl's, shared with
//! chem.wgsl), `cell_step` (cell.wgsl: the receptor terms s and μT computed in it from
//! C, A and T, for each voxel and neighbour it reads), `probe_sums` and
//! `probe_planes` (probe.wgsl: the snapshot sums and picture planes). The stencil kernels
//! (chem, cell) run one thread per quad: thread (qx, y, k) steps x = 4·qx … 4·qx + 3
//! (those < nx) of row y of the slab's own plane k, with `vec4` loads of its own and its
//! y±1, z±1 neighbours, one class word, and scalar loads of only the two outer
//! x-neighbours; their dispatch covers nxp/4 threads in x (`quad_workgroups`).
//! Workgroups of 64 × 4 threads for all (measured best of 16×4, 32×4, 64×4, 128×1 on an H200 with one voxel
//! per thread; with quads a workgroup spans 256 x-voxels).
//!
//! # Reading back
//!
//! At a snapshot, only what it needs (gpu/probe.rs, shaders/probe.wgsl): the sums of
//! [`crate::probe::Sums`] (a row of partial sums per band of 16 rows of each plane,
//! added on the host in f64) and the seven picture planes. Each species is summed and
//! cut by the same kernels, one more pass each, its buffer bound in T's slot for the
//! sums (its tumour, margin and total sums and extremes are T's) and in C's for the
//! plane. Every field is read back
//! ([`GpuSolver::read_fields`]: slab by slab, own planes only, the padding stripped and
//! the values widened to f64) only for checkpoints and the message naming a bad voxel;
//! a ParaView file takes one field at a time as f32 ([`GpuSolver::read_field`]).
//!
//! # Quasi-steady chemicals
//!
//! Their unit responses are solved on the host in f64 by the code the CPU solver uses
//! (`crate::steady`, once per run; the host keeps the class codes for it), and each
//! setting combines them for the levels on the host and uploads the field into the
//! current buffers, halo planes included. So the GPU's quasi-steady field is the CPU's
//! rounded to f32; a setting costs a host pass and an upload (4 bytes per voxel), which
//! is small beside the sub-steps it replaces on a slice-sized grid.
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
mod layout;
mod params;
mod pipelines;
mod probe;
mod readback;
mod recorder;
mod resources;
pub use probe::BAND_ROWS as PROBE_BAND_ROWS;
pub mod shaders;
mod state;
mod upload;

pub use layout::{
    check_grid, device_bytes, device_bytes_for, field_buffers, largest_fitting,
    largest_fitting_for, plan_slabs, plane_bytes, reference_slabs, GpuOptions, Slab, SlabError,
    BATCH, FIELD_BUFFERS, REFERENCE_BINDING,
};
pub use upload::Initial;

use layout::{check_memory, quad_workgroups, STEP_STRIDE};
use pipelines::Pipelines;
use readback::read_mapped;
use recorder::Op;
use resources::{
    bind, cell_keys, storage_layout, uniform_entry, BindGroups, Layouts, Parities, Shared,
    SlabBuffers,
};
use upload::{slab_values, slab_values_of, zero_chemicals};

pub use adapter::{
    advice, best_gpu, by_name, describe as describe_adapter, device_memory, enumerate, instance,
    is_gpu, required_limits, short_name, vulkan_loader_present, GpuError, INSTALL_HINT,
    STORAGE_BUFFERS,
};
pub use params::{
    padded_nx, per_class, GpuChem, GpuParams, GpuProbe, GpuSlab, GpuSpecies, GpuStep, PerClass,
};

use crate::model::{chem_index, Field, Fields, Params, Rate, Segment, N_CLASSES};
use crate::scenario::Chemical;
use crate::solver::{SteadyState, Stepper};
use crate::steady::Responses;

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
    /// Workgroups in x and y of a vec4 stencil kernel (chem, cell).
    quad_groups: [u32; 2],
    /// Bytes between step entries.
    stride: usize,
    pipelines: Pipelines,
    shared: Shared,
    /// Per slab.
    buffers: Vec<SlabBuffers>,
    groups_: Vec<BindGroups>,
    /// Which buffer of each ping-pong pair is current.
    cur: Parities,
    pending: Vec<Op>,
    step_bytes: Vec<u8>,
    last_submission: Option<wgpu::SubmissionIndex>,
    steady: [SteadyState; 3],
    /// The tissue classes, one code per voxel (the quasi-steady responses are solved
    /// from them on the host).
    class: Vec<u8>,
    /// The unit responses of each quasi-steady chemical, solved as levels need them,
    /// and the host buffer their combinations are formed in.
    responses: [Responses; 3],
    steady_field: Vec<f64>,
    /// The snapshot kernels (gpu/probe.rs), built at the first snapshot.
    probe: Option<probe::ProbeKit>,
    /// Which of C, A, P are known to be 0 in every voxel (from the initial or written
    /// fields, and kept while nothing doses them): [`Stepper::advance`] skips their
    /// sub-steps while their levels are 0, as the CPU does.
    zero: [bool; 3],
    /// Explicit sub-steps run, per chemical.
    substeps: [u64; 3],
    /// Chem passes run (fused sub-steps count once).
    chem_passes: u64,
    /// The fields the cell step's bind groups are chosen by
    /// ([`resources::cell_keys`]).
    cell_keys: Vec<Field>,
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
        let [qx, qy, _] = quad_workgroups(params.dims);
        let stride = STEP_STRIDE;
        let (limits, slabs) = check_grid(adapter, params.dims, options)?;
        if let Some(memory) = options.memory.or_else(|| device_memory(adapter)) {
            // Slabs as `check_grid` plans them without a forced count.
            let allowed = adapter.limits();
            let binding = allowed
                .max_storage_buffer_binding_size
                .min(allowed.max_buffer_size);
            check_memory(
                &info,
                params.dims,
                &slabs,
                memory,
                binding,
                params.species.len(),
            )?;
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

        // Buffers, slab by slab, from the field table; then the layouts, pipelines and
        // every bind group (resources.rs, pipelines.rs).
        let buffers: Vec<SlabBuffers> = slabs
            .iter()
            .map(|slab| SlabBuffers::new(&device, &params, slab, class, initial))
            .collect();
        let shared = Shared::new(&device, &params, &slabs);
        let layouts = Layouts::new(&device);
        let kill_by = params.coupled(Rate::Kill).map(|c| c.species);
        let pipelines = Pipelines::new(&device, &layouts, &params);
        let groups_ = buffers
            .iter()
            .map(|b| BindGroups::new(&device, &layouts, b, &shared, kill_by))
            .collect();
        let invalid = pollster::block_on(scope.pop());
        if let Some(e) = pollster::block_on(memory.pop()) {
            let needed = device_bytes_for(params.dims, &slabs, params.species.len());
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
        let cur = Parities::new(params.species.len());
        Ok(GpuSolver {
            device,
            queue,
            info,
            params,
            nxp,
            plane,
            slabs,
            quad_groups: [qx, qy],
            stride,
            pipelines,
            shared,
            buffers,
            groups_,
            cur,
            pending: Vec::with_capacity(BATCH),
            step_bytes: vec![0; BATCH * stride],
            last_submission: None,
            steady: Default::default(),
            class: class.to_vec(),
            responses: Default::default(),
            steady_field: Vec::new(),
            probe: None,
            zero: zero_chemicals(initial),
            substeps: [0; 3],
            chem_passes: 0,
            cell_keys: cell_keys(kill_by),
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

    /// Chem passes run so far: a pass of fused sub-steps ([`Stepper::chem_steps`]) counts
    /// once.
    pub fn chem_passes(&self) -> u64 {
        self.chem_passes
    }

    /// [`Stepper::solve_steady`]: the unit responses solved on the host at the first
    /// call that needs each (`crate::steady`, in f64: a solve per run, where the
    /// explicit iteration it replaced took up to 10⁵ sweeps), then combined for the levels on the host and
    /// uploaded, slab by slab, into the chemical's current buffers (halo planes
    /// included, so no exchange follows); returns the iterations this call took.
    fn steady_solve(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, GpuError> {
        self.flush();
        let u = chem_index(which);
        let r = &mut self.responses[u];
        let p = &self.params;
        let iterations = r.ensure(p, p.chem(which), &self.class, tolerance, (plasma, bath));
        let r = &self.responses[u];
        let mut field = std::mem::take(&mut self.steady_field);
        field.resize(self.class.len(), 0.0);
        r.combine(plasma, bath, &mut field);
        let f = Field::of(which);
        for (slab, b) in self.slabs.iter().zip(&self.buffers) {
            let values = slab_values_of(self.params.dims, slab, &field);
            self.queue
                .write_buffer(b.current(f, &self.cur), 0, bytemuck::cast_slice(&values));
        }
        self.steady_field = field;
        self.steady[u].record((plasma, bath), iterations);
        Ok(iterations)
    }

    fn device_error(&self, message: String) -> GpuError {
        GpuError::Device {
            adapter: self.info.name.clone(),
            message,
        }
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

impl crate::solver::Solver for GpuSolver {
    fn advance(
        &mut self,
        seg: &Segment,
        first: u64,
        schedule: &crate::solver::Schedule,
        on_step: &mut dyn FnMut(u64),
    ) -> crate::Result<()> {
        Ok(Stepper::advance(self, seg, first, schedule, on_step)?)
    }

    fn read_fields(&mut self) -> crate::Result<Fields> {
        Ok(GpuSolver::read_fields(self)?)
    }

    fn read_field(&mut self, f: Field) -> crate::Result<Vec<f32>> {
        Ok(GpuSolver::read_field(self, f)?)
    }

    fn sums(
        &mut self,
        labels: &crate::probe::Labels,
        bath: [f64; 2],
    ) -> crate::Result<crate::probe::Sums> {
        Ok(GpuSolver::sums(self, labels, bath)?)
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
