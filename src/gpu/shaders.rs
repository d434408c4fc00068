//! The WGSL the GPU runs: each kernel file of `shaders/` combined with
//! `shaders/common.wgsl`, at compile time and in this one place, so that the text naga
//! validates in tests/shaders.rs is the text the device compiles.

/// Combines common.wgsl with one kernel file (both under `shaders/`).
macro_rules! kernel {
    ($file:literal) => {
        concat!(
            include_str!("../../shaders/common.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
}

/// The chemical sub-step: entry points `chem_step` and `chem_step_uptake`.
pub const CHEM: &str = kernel!("chem.wgsl");
/// The receptor pass of the cell step: entry point `signal_step`.
pub const SIGNAL: &str = kernel!("signal.wgsl");
/// The cell step: entry point `cell_step`.
pub const CELL: &str = kernel!("cell.wgsl");
/// The convergence measure of a quasi-steady solve: entry point `block_change`.
pub const REDUCE: &str = kernel!("reduce.wgsl");

/// The snapshot sums and picture planes: entry points `probe_sums`, `probe_planes`.
pub const PROBE: &str = kernel!("probe.wgsl");

/// The bench's yardstick, a vec4 copy: entry point `copy_vec4`.
pub const COPY: &str = kernel!("copy.wgsl");

/// One combined shader: its name (the kernel file), its source and its entry points.
#[derive(Debug, Clone, Copy)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    pub entry_points: &'static [&'static str],
}

/// Every shader the solver builds, with the entry points it uses.
pub const ALL: [Shader; 6] = [
    Shader {
        name: "chem.wgsl",
        source: CHEM,
        entry_points: &["chem_step", "chem_step_uptake"],
    },
    Shader {
        name: "signal.wgsl",
        source: SIGNAL,
        entry_points: &["signal_step"],
    },
    Shader {
        name: "cell.wgsl",
        source: CELL,
        entry_points: &["cell_step"],
    },
    Shader {
        name: "reduce.wgsl",
        source: REDUCE,
        entry_points: &["block_change"],
    },
    Shader {
        name: "probe.wgsl",
        source: PROBE,
        entry_points: &["probe_sums", "probe_planes"],
    },
    Shader {
        name: "copy.wgsl",
        source: COPY,
        entry_points: &["copy_vec4"],
    },
];

/// Workgroup shape of every field kernel (`WG_X`, `WG_Y` in common.wgsl): 64 threads
/// in x by 4 rows; a thread steps one voxel (signal, reduce) or a quad of four x-voxels
/// (chem, cell).
pub const WORKGROUP: [u32; 3] = [64, 4, 1];

/// Workgroup shape of the snapshot sums (`probe_sums`, `PROBE_WG` in probe.wgsl): one
/// row of 64 threads, so that its reductions take few tree levels.
pub const PROBE_WORKGROUP: [u32; 3] = [64, 1, 1];

/// The workgroup shape of an entry point: [`PROBE_WORKGROUP`] for `probe_sums`, else
/// [`WORKGROUP`].
pub fn workgroup_of(entry_point: &str) -> [u32; 3] {
    if entry_point == "probe_sums" {
        PROBE_WORKGROUP
    } else {
        WORKGROUP
    }
}
