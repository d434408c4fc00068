//! Shared by every kernel (prepended to each kernel file by src/gpu/shaders.rs): the
//! run's parameters, the per-dispatch step, indexing of the padded grid and class
//! lookup.
//!
//! Grid: fields are f32, split along z into slabs (one or more); each slab's field is one
//! storage buffer holding its own planes z0 … z0 + planes − 1 between two halo planes
//! (copies of the neighbouring slabs' edge planes; unused at the domain's faces), index
//! `x + nxp·(y + ny·zb)` with buffer plane zb = z − z0 + 1 and the row stride `nxp` = nx
//! rounded up to a multiple of 4. A kernel dispatch covers one slab. Voxels with x ≥ nx
//! are padding:
//! outside the domain, never read as neighbours, hold 0 and are written (by the vec4
//! kernels) with nothing but 0. The stencil kernels (chem, cell) step a quad per thread:
//! four consecutive x-voxels, one `vec4` of a row (rows never straddle a vec4) and one
//! u32 of packed classes (word i of the classes is vec4 i of a field).

// Keep in sync with `GpuChem` in src/gpu/params.rs (tests/shaders.rs checks the layout).
// Per-class values: class c sits in component (c & 3) of vec4 (c >> 2); 8 slots, 5 used.
struct Chem {
    // The face diffusivity between classes i and j (harmonic mean, 0 for a closed face),
    // built on the host: row i is face[2i] (classes 0–3) and face[2i + 1] (4–7). A
    // kernel reads a voxel's row once (the kernel file's `face_row`) and picks each
    // neighbour's entry by selects: no division or branch per face.
    face: array<vec4<f32>, 16>,
    // 2 max(D, 0) per class: the conductance of a bath face (the bath half a voxel away).
    bath_d: array<vec4<f32>, 2>,
    decay: array<vec4<f32>, 2>,
    secretion: array<vec4<f32>, 2>,
    exchange: array<vec4<f32>, 2>,
}

// Keep in sync with `GpuParams` in src/gpu/params.rs (tests/shaders.rs checks the layout).
// Internal units as in `model::Params`; reciprocals are taken on the host in f64 (so that
// no kernel divides by a possibly infinite T_max).
struct Params {
    chem: array<Chem, 3>,
    motility: array<vec4<f32>, 2>,
    influx: array<vec4<f32>, 2>,
    nx: u32,
    ny: u32,
    nz: u32,
    nxp: u32,
    // Bit f set: domain face f (x−, x+, y−, y+, z−, z+) is a bath face.
    bath_faces: u32,
    inv_h2: f32,
    inv_k_c: f32,
    inv_k_a: f32,
    k_p: f32,
    c_uptake: f32,
    mu0: f32,
    arrest: f32,
    chi: f32,
    inv_t_max: f32,
    death: f32,
    prolif: f32,
    k_n: f32,
    growth: f32,
    kill: f32,
    q: f32,
    // K of the coupling that scales the kill rate (cell.wgsl and probe.wgsl with
    // `KILL_BY`, terms.wgsl's coupling_factor); 0 when none does.
    kill_level: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Keep in sync with `GpuStep` in src/gpu/params.rs: one entry per dispatch, bound with a
// dynamic offset into the step buffer.
struct Step {
    // The cell step's Δt (cell kernels).
    dt: f32,
    // The chemicals a chem pass steps: bit k for chemical k (0 CXCL12, 1 AMD3100, 2
    // anti-PD-1); 0 for a cell step. The host picks the chem pipeline by it (whose
    // `CHEMS` constant it equals); no kernel reads it.
    chems: u32,
    pad0: u32,
    pad1: u32,
    // Per chemical k (component k): its sub-step Δt and its plasma and bath levels.
    chem_dt: vec4<f32>,
    plasma: vec4<f32>,
    bath: vec4<f32>,
}

// Keep in sync with `GpuSlab` in src/gpu/params.rs: the slab a dispatch steps.
struct Slab {
    // Global z of the slab's first own plane.
    z0: u32,
    // Own planes (the buffer holds planes + 2).
    planes: u32,
    pad0: u32,
    pad1: u32,
}

const TUMOR: u32 = 2u;
// Workgroup shape of every field kernel: 64 threads in x by 4 rows (256 threads): 64
// x-voxels for the scalar kernels (signal, reduce), 64 quads (256 x-voxels) for the vec4
// stencil kernels (chem, cell). On an H200, with one voxel per thread, this ran the
// signal and cell kernels 1.5× faster than 16 × 4 (docs/bench/); not yet measured with
// quads.
const WG_X: u32 = 64u;
const WG_Y: u32 = 4u;
// Threads per workgroup (a power of two: reduce.wgsl halves it).
const WG_SIZE: u32 = WG_X * WG_Y;

@group(0) @binding(0) var<uniform> P: Params;
// Tissue classes, four u8 codes per u32 (voxel i in byte i & 3 of word i >> 2).
@group(0) @binding(1) var<storage, read> classes: array<u32>;
@group(0) @binding(2) var<uniform> S: Step;
@group(0) @binding(3) var<uniform> SL: Slab;

// Whether a thread (x, y, own plane id.z of the slab) of a one-voxel-per-thread kernel
// has a voxel: false past the grid and for padding voxels x ≥ nx.
fn in_grid(id: vec3<u32>) -> bool {
    return id.x < P.nx && id.y < P.ny && id.z < SL.planes;
}

// Index of voxel (x, y) of buffer plane zb of the slab (0: the lower halo, 1 … planes: its
// own planes, planes + 1: the upper halo).
fn index_of(x: u32, y: u32, zb: u32) -> u32 {
    return x + P.nxp * (y + P.ny * zb);
}

fn class_at(i: u32) -> u32 {
    return class_byte(classes[i >> 2u], i & 3u);
}

// Class code k (0–3) of a word of four packed codes.
fn class_byte(w: u32, k: u32) -> u32 {
    return (w >> (k * 8u)) & 0xffu;
}

// The four x-voxels x0 … x0 + 3 of row (y, z) that a thread of a vec4 field kernel
// steps: z is global (for the domain's faces), i is their vec4 index in the slab's
// buffer of a field (and their word in the slab's classes), sy and sz the vec4 strides
// of a row and a plane.
struct Quad {
    x0: u32,
    y: u32,
    z: u32,
    i: u32,
    sy: u32,
    sz: u32,
}

// Whether a thread of a vec4 field kernel has a quad: id.x < nxp/4, y < ny, and id.z an
// own plane of the slab.
fn quad_in_grid(id: vec3<u32>) -> bool {
    return id.x < (P.nxp >> 2u) && id.y < P.ny && id.z < SL.planes;
}

// The quad of thread id: x = 4·id.x … 4·id.x + 3, y = id.y, own plane id.z of the slab
// (global z = z0 + id.z, buffer plane id.z + 1).
fn quad_of(id: vec3<u32>) -> Quad {
    let sy = P.nxp >> 2u;
    let sz = sy * P.ny;
    return Quad(4u * id.x, id.y, SL.z0 + id.z, id.x + sy * id.y + sz * (id.z + 1u), sy, sz);
}

// Which voxels of a quad lie in the domain (x < nx); the others are padding.
fn in_row(q: Quad) -> vec4<bool> {
    let x = q.x0;
    return vec4<bool>(x < P.nx, x + 1u < P.nx, x + 2u < P.nx, x + 3u < P.nx);
}

// Class c's entry of a per-class table held in registers as two vec4 (classes 0–3 in lo,
// 4–7 in hi): picked by selects, so no per-voxel dynamic index into the uniform arrays
// (divergent across a warp) and no function-local array (local memory). Kernels load a
// table once per thread and call this per neighbour.
fn per_class(lo: vec4<f32>, hi: vec4<f32>, c: u32) -> f32 {
    let v = select(lo, hi, c >= 4u);
    let odd = (c & 1u) != 0u;
    return select(select(v.x, v.y, odd), select(v.z, v.w, odd), (c & 2u) != 0u);
}

// Per-class values: class c of a per-class array of the parameters.
fn motility_factor(c: u32) -> f32 {
    return per_class(P.motility[0], P.motility[1], c);
}

fn influx_of(c: u32) -> f32 {
    return per_class(P.influx[0], P.influx[1], c);
}

fn is_bath_face(f: u32) -> bool {
    return ((P.bath_faces >> f) & 1u) != 0u;
}

// A class admits T cells when its motility factor is not 0.
fn open_to_t(c: u32) -> bool {
    return motility_factor(c) != 0.0;
}
