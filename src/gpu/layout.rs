//! Planning of slabs and memory: how a grid is split into z-slabs within the adapter's
//! storage-binding and buffer limits, the device memory it needs (and the largest grid
//! that fits), the limits the device is asked for, and the workgroups of a dispatch.
//! Needs no device: `infiltrate check` and sweep estimates plan with it too.

use super::{adapter::required_limits, padded_nx, shaders, GpuError};

/// Dispatch entries (uniform slots) per batch: one submission holds at most this many
/// chemical sub-steps and cell steps.
pub const BATCH: usize = 4096;

/// Field buffers per slab without species: C, A, P, T twice; N, K once (classes aside).
pub const FIELD_BUFFERS: u64 = 10;

/// Field buffers per slab with `species` species: two more each.
pub const fn field_buffers(species: usize) -> u64 {
    FIELD_BUFFERS + 2 * species as u64
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
    /// adapter's ([`super::device_memory`]) where known. A grid that needs more
    /// ([`device_bytes`]) is refused before anything is allocated.
    pub memory: Option<u64>,
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
    device_bytes_for(dims, slabs, 0)
}

/// [`device_bytes`] with `species` species (two more field buffers each).
pub fn device_bytes_for(dims: [usize; 3], slabs: &[Slab], species: usize) -> u64 {
    let plane = (padded_nx(dims[0]) * dims[1]) as u64;
    let fields: u64 = slabs
        .iter()
        .map(|s| (s.planes as u64 + 2) * plane * (4 * field_buffers(species) + 1))
        .sum();
    let labels = dims[2] as u64 * plane * 4;
    let staging = slabs.iter().map(|s| s.planes as u64).max().unwrap_or(0) * plane * 4;
    fields + labels + staging + (BATCH * STEP_STRIDE) as u64
}

/// The device memory of a grid laid out in as few z-slabs as a storage binding of
/// `binding` bytes allows (`None`: a plane does not fit one binding).
pub(super) fn fitted_bytes(dims: [usize; 3], binding: u64, species: usize) -> Option<u64> {
    plan_slabs(dims[2], plane_bytes(dims), binding, None)
        .ok()
        .map(|slabs| device_bytes_for(dims, &slabs, species))
}

/// The largest grids within `memory` bytes of device memory, with storage bindings of
/// `binding` bytes: the grid `dims` scaled down evenly (each side at least 1), and the
/// largest cube. `None` where not even one voxel fits.
pub fn largest_fitting(dims: [usize; 3], memory: u64, binding: u64) -> Option<([usize; 3], usize)> {
    largest_fitting_for(dims, memory, binding, 0)
}

/// [`largest_fitting`] with `species` species.
pub fn largest_fitting_for(
    dims: [usize; 3],
    memory: u64,
    binding: u64,
    species: usize,
) -> Option<([usize; 3], usize)> {
    let fits = |d: [usize; 3]| fitted_bytes(d, binding, species).is_some_and(|b| b <= memory);
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
pub(super) fn check_memory(
    info: &wgpu::AdapterInfo,
    dims: [usize; 3],
    slabs: &[Slab],
    memory: u64,
    binding: u64,
    species: usize,
) -> Result<(), GpuError> {
    let needed = device_bytes_for(dims, slabs, species);
    if needed <= memory {
        return Ok(());
    }
    let show = |b: u64| format!("{b} bytes ({})", crate::units::human_bytes(b as f64));
    let [nx, ny, nz] = dims;
    let voxels = (nx * ny * nz) as f64;
    let largest = match largest_fitting_for(dims, memory, binding, species) {
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

/// Bytes between step entries as requested of the device (the downlevel default of
/// `min_uniform_buffer_offset_alignment`, which every adapter meets).
pub(super) const STEP_STRIDE: usize = 256;

/// Workgroups of a dispatch of a scalar field kernel (one thread per voxel) for a grid:
/// nx threads in x.
pub(super) fn workgroups(dims: [usize; 3]) -> [u32; 3] {
    let [wx, wy, _] = shaders::WORKGROUP;
    let d = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    [d(dims[0]).div_ceil(wx), d(dims[1]).div_ceil(wy), d(dims[2])]
}

/// Workgroups of a dispatch of a vec4 stencil kernel (`chem_step`, `cell_step`: one
/// thread per quad of four x-voxels) for a grid: nxp/4 threads in x.
/// Never more than [`workgroups`] in any dimension.
pub(super) fn quad_workgroups(dims: [usize; 3]) -> [u32; 3] {
    workgroups([padded_nx(dims[0]) / 4, dims[1], dims[2]])
}

/// Whether a grid fits the adapter, and how: the z-slabs of each field (`options`) and
/// the device limits they need (each slab's buffers within one storage binding, the
/// dispatch within the workgroup limits). Needs no fields, so that a grid can be
/// checked before it is built. Device memory is not known to wgpu: a grid too large
/// for it fails when its buffers are created ([`super::GpuSolver::with_options`]).
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
