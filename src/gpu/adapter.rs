//! Finding a wgpu adapter: which backends to ask, listing what they offer (for
//! `infiltrate adapters` and for choosing), and the device limits a grid needs.

use std::fmt::Write as _;

/// What to install when no adapter is found.
pub const INSTALL_HINT: &str = "install a Vulkan loader and driver: `apt-get install \
     mesa-vulkan-drivers libvulkan1` for software Vulkan (lavapipe, slow), or the GPU's \
     driver (with `libvulkan1`) for a GPU";

/// Whether a Vulkan loader (`libvulkan.so.1`, `vulkan-1.dll`, the MoltenVK loader) can
/// be loaded on this machine.
pub fn vulkan_loader_present() -> bool {
    // SAFETY: loads the system's Vulkan loader library and drops it at once; no Vulkan
    // function is called.
    unsafe { ash::Entry::load() }.is_ok()
}

/// What to do on this machine when no GPU adapter was found, fitted to what is there:
/// macOS and Windows have their native API; on Linux it depends on whether a Vulkan
/// loader is installed.
pub fn advice() -> String {
    if cfg!(target_os = "macos") {
        "on macOS wgpu uses Metal, which found no GPU".into()
    } else if cfg!(windows) {
        "install or update the GPU's driver (DX12 or Vulkan)".into()
    } else if !vulkan_loader_present() {
        "this machine has no Vulkan loader (libvulkan.so.1): for a GPU install its driver \
         and `libvulkan1`; `apt-get install mesa-vulkan-drivers libvulkan1` gives software \
         Vulkan (lavapipe), which runs the real shaders but slower than the CPU solver"
            .into()
    } else {
        "a Vulkan loader is installed but no Vulkan driver answered: install the GPU's \
         driver, or `apt-get install mesa-vulkan-drivers` for software Vulkan (lavapipe, \
         slower than the CPU solver)"
            .into()
    }
}

/// Errors of the GPU backend.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter of the requested backend (and name) was found.
    #[error("no {what} adapter found; {hint}")]
    NoAdapter { what: String, hint: String },
    /// The grid needs more than the adapter allows.
    #[error("the grid needs {limit} = {needed}, adapter `{adapter}` allows {allowed}{note}")]
    Limit {
        limit: String,
        /// The value needed, with its size in words for byte limits.
        needed: String,
        allowed: String,
        adapter: String,
        note: String,
    },
    /// A layout of the grid that cannot be (e.g. more z-slabs than z-planes).
    #[error("{0}")]
    Slabs(String),
    /// The device could not be created or failed.
    #[error("GPU device `{adapter}`: {message}")]
    Device { adapter: String, message: String },
}

impl From<GpuError> for crate::Error {
    fn from(e: GpuError) -> Self {
        crate::Error::Other(e.to_string())
    }
}

/// A wgpu instance for the given backends (no display: compute only).
pub fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Every adapter the backends offer, in wgpu's order.
pub fn enumerate(instance: &wgpu::Instance, backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// Whether the adapter is a GPU (discrete or integrated), as opposed to a software
/// renderer (llvmpipe, lavapipe), a virtual device or an unknown one.
pub fn is_gpu(info: &wgpu::AdapterInfo) -> bool {
    matches!(
        info.device_type,
        wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu
    )
}

/// The first adapter whose name contains `needle`, ignoring case.
pub fn by_name(adapters: Vec<wgpu::Adapter>, needle: &str) -> Option<wgpu::Adapter> {
    let needle = needle.to_lowercase();
    adapters
        .into_iter()
        .find(|a| a.get_info().name.to_lowercase().contains(&needle))
}

/// The best adapter for the solver: a discrete GPU, else an integrated one; among equals
/// a native API (Vulkan, Metal, DX12) before GL. `None` when there is no GPU.
pub fn best_gpu(adapters: Vec<wgpu::Adapter>) -> Option<wgpu::Adapter> {
    let rank = |a: &wgpu::Adapter| {
        let info = a.get_info();
        let kind = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            _ => 1,
        };
        (kind, u8::from(info.backend == wgpu::Backend::Gl))
    };
    let mut gpus: Vec<_> = adapters
        .into_iter()
        .filter(|a| is_gpu(&a.get_info()))
        .collect();
    gpus.sort_by_key(rank);
    gpus.into_iter().next()
}

/// One line naming an adapter: `name (backend, device type, driver)`.
pub fn short_name(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} ({:?}, {:?}, {})",
        info.name,
        info.backend,
        info.device_type,
        driver(info)
    )
}

fn driver(info: &wgpu::AdapterInfo) -> String {
    match (info.driver.is_empty(), info.driver_info.is_empty()) {
        (true, true) => "driver unknown".into(),
        (false, true) => info.driver.clone(),
        (true, false) => info.driver_info.clone(),
        (false, false) => format!("{} {}", info.driver, info.driver_info),
    }
}

/// The device memory of an adapter: the largest device-local memory heap, in bytes
/// (Vulkan only: wgpu does not report memory; `None` on other backends). On a
/// software adapter (lavapipe) the heap is the host's memory.
pub fn device_memory(adapter: &wgpu::Adapter) -> Option<u64> {
    #[cfg(any(windows, all(unix, not(any(target_os = "macos", target_os = "ios")))))]
    {
        if adapter.get_info().backend != wgpu::Backend::Vulkan {
            return None;
        }
        // SAFETY: only reads the physical device's memory properties through the
        // instance wgpu-hal keeps alive with the adapter; nothing is created or
        // destroyed.
        let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
        let props = unsafe {
            hal.shared_instance()
                .raw_instance()
                .get_physical_device_memory_properties(hal.raw_physical_device())
        };
        let heaps = &props.memory_heaps[..props.memory_heap_count as usize];
        heaps
            .iter()
            .filter(|h| h.flags.contains(ash::vk::MemoryHeapFlags::DEVICE_LOCAL))
            .map(|h| h.size)
            .max()
    }
    #[cfg(not(any(windows, all(unix, not(any(target_os = "macos", target_os = "ios"))))))]
    {
        let _ = adapter;
        None
    }
}

/// A few lines describing an adapter for `infiltrate adapters`: name, backend, device
/// type, driver, and the limits that decide which grids fit.
pub fn describe(index: usize, adapter: &wgpu::Adapter) -> String {
    let info = adapter.get_info();
    let l = adapter.limits();
    let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let mib = |b: u64| crate::units::human_bytes(b as f64);
    let mut s = String::new();
    let _ = writeln!(s, "[{index}] {}", info.name);
    let _ = writeln!(s, "    backend      {:?}", info.backend);
    let _ = writeln!(s, "    device type  {:?}", info.device_type);
    let _ = writeln!(s, "    driver       {}", driver(&info));
    match device_memory(adapter) {
        Some(m) => {
            let _ = writeln!(
                s,
                "    device memory                        {m} ({}, the largest device-local heap)",
                mib(m)
            );
        }
        None => {
            let _ = writeln!(s, "    device memory                        not reported");
        }
    }
    let _ = writeln!(
        s,
        "    max_buffer_size                      {} ({})",
        l.max_buffer_size,
        mib(l.max_buffer_size)
    );
    let _ = writeln!(
        s,
        "    max_storage_buffer_binding_size      {} ({})",
        l.max_storage_buffer_binding_size,
        mib(l.max_storage_buffer_binding_size)
    );
    let _ = writeln!(
        s,
        "    max_compute_workgroups_per_dimension {}",
        l.max_compute_workgroups_per_dimension
    );
    let _ = writeln!(
        s,
        "    max_storage_buffers_per_shader_stage {}",
        l.max_storage_buffers_per_shader_stage
    );
    let _ = writeln!(
        s,
        "    timestamp queries                    {}",
        if timestamps { "yes" } else { "no" }
    );
    s
}

/// Storage buffers the busiest kernels bind per stage: the cell step (the classes, s,
/// μT, T twice, anti-PD-1, N, K and the species that raises the kill rate) and the
/// snapshot sums (six fields, the labels, the rows of sums and that species). WebGPU
/// guarantees 8; every Vulkan, Metal and DX12 adapter allows more. A species a
/// scenario adds is stepped by a pass of its own (its two buffers, T, N and the
/// classes: 5), so the number of species does not raise it.
pub const STORAGE_BUFFERS: u32 = 9;

/// The limits a device needs for a grid of `field_bytes` per field, a step buffer of
/// `step_bytes` and `groups` workgroups per dimension: the downlevel defaults with
/// [`STORAGE_BUFFERS`] storage buffers per stage, raised where the grid needs it. Fails, naming the limit,
/// the need and the adapter's value, where the adapter allows less.
pub fn required_limits(
    adapter: &wgpu::Adapter,
    field_bytes: u64,
    step_bytes: u64,
    groups: [u32; 3],
) -> Result<wgpu::Limits, GpuError> {
    let allowed = adapter.limits();
    let name = adapter.get_info().name;
    let mut want = wgpu::Limits::downlevel_defaults();
    want.max_storage_buffers_per_shader_stage = STORAGE_BUFFERS;
    want.max_storage_buffer_binding_size = want.max_storage_buffer_binding_size.max(field_bytes);
    want.max_buffer_size = want.max_buffer_size.max(field_bytes).max(step_bytes);
    let most_groups = groups.into_iter().max().unwrap_or(1);
    want.max_compute_workgroups_per_dimension =
        want.max_compute_workgroups_per_dimension.max(most_groups);
    let mut failed = None;
    want.check_limits_with_fail_fn(&allowed, false, |limit, needed, allowed| {
        failed.get_or_insert((limit, needed, allowed));
    });
    if let Some((limit, needed, allowed)) = failed {
        let bytes = limit.contains("size");
        let show = |v: u64| {
            if bytes {
                format!("{v} bytes ({})", crate::units::human_bytes(v as f64))
            } else {
                v.to_string()
            }
        };
        let note = if limit.contains("buffer") {
            "; each z-slab of a field (own planes and two halo planes) must fit one \
             storage binding; --backend cpu runs the grid"
                .to_string()
        } else {
            "; --backend cpu runs the grid".to_string()
        };
        return Err(GpuError::Limit {
            limit: limit.to_string(),
            needed: show(needed),
            allowed: show(allowed),
            adapter: name,
            note,
        });
    }
    Ok(want)
}
