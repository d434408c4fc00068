//! Shared by every kernel (prepended to each kernel file by src/gpu/shaders.rs): the
//! run's parameters, the per-dispatch step, indexing of the padded grid, class lookup,
//! the harmonic mean, the receptor terms and the T-cell face flux.
//!
//! Grid: fields are f32, one storage buffer each, index `x + nxp·(y + ny·z)` with the row
//! stride `nxp` = nx rounded up to a multiple of 4. Voxels with x ≥ nx are padding:
//! outside the domain, never read as neighbours, never written.

// Keep in sync with `GpuChem` in src/gpu/params.rs (tests/shaders.rs checks the layout).
// Per-class values: class c sits in component (c & 3) of vec4 (c >> 2); 8 slots, 5 used.
struct Chem {
    diffusion: array<vec4<f32>, 2>,
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
}

// Keep in sync with `GpuStep` in src/gpu/params.rs: one entry per dispatch, bound with a
// dynamic offset into the step buffer.
struct Step {
    dt: f32,
    plasma: f32,
    bath: f32,
    // Which chemical (0 CXCL12, 1 AMD3100, 2 anti-PD-1); unused by the cell kernels.
    chem: u32,
}

const TUMOR: u32 = 2u;
// Workgroup shape of every field kernel: 16 x-voxels by 4 rows (64 threads).
const WG_X: u32 = 16u;
const WG_Y: u32 = 4u;

@group(0) @binding(0) var<uniform> P: Params;
// Tissue classes, four u8 codes per u32 (voxel i in byte i & 3 of word i >> 2).
@group(0) @binding(1) var<storage, read> classes: array<u32>;
@group(0) @binding(2) var<uniform> S: Step;

// The voxel of a thread of a field kernel, or false for threads past the grid (and for
// padding voxels x ≥ nx).
fn in_grid(id: vec3<u32>) -> bool {
    return id.x < P.nx && id.y < P.ny && id.z < P.nz;
}

fn index_of(x: u32, y: u32, z: u32) -> u32 {
    return x + P.nxp * (y + P.ny * z);
}

fn class_at(i: u32) -> u32 {
    return (classes[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

// Per-class values: class c of a per-class array of the parameters.
fn diffusion_of(k: u32, c: u32) -> f32 {
    return P.chem[k].diffusion[c >> 2u][c & 3u];
}

fn decay_of(k: u32, c: u32) -> f32 {
    return P.chem[k].decay[c >> 2u][c & 3u];
}

fn secretion_of(k: u32, c: u32) -> f32 {
    return P.chem[k].secretion[c >> 2u][c & 3u];
}

fn exchange_of(k: u32, c: u32) -> f32 {
    return P.chem[k].exchange[c >> 2u][c & 3u];
}

fn motility_factor(c: u32) -> f32 {
    return P.motility[c >> 2u][c & 3u];
}

fn influx_of(c: u32) -> f32 {
    return P.influx[c >> 2u][c & 3u];
}

// Neighbour of voxel i (at x, y, z) across face f (x−, x+, y−, y+, z−, z+), and whether
// it exists (false at a domain face).
struct Neighbour {
    j: u32,
    inside: bool,
}

fn neighbour(i: u32, x: u32, y: u32, z: u32, f: u32) -> Neighbour {
    let sy = P.nxp;
    let sz = P.nxp * P.ny;
    switch f {
        case 0u: { return Neighbour(i - 1u, x > 0u); }
        case 1u: { return Neighbour(i + 1u, x + 1u < P.nx); }
        case 2u: { return Neighbour(i - sy, y > 0u); }
        case 3u: { return Neighbour(i + sy, y + 1u < P.ny); }
        case 4u: { return Neighbour(i - sz, z > 0u); }
        default: { return Neighbour(i + sz, z + 1u < P.nz); }
    }
}

fn is_bath_face(f: u32) -> bool {
    return ((P.bath_faces >> f) & 1u) != 0u;
}

// Harmonic mean of two diffusivities, 0 if either is 0 (the face is closed). Symmetric
// in its arguments to the bit (so face fluxes are antisymmetric and mass is conserved).
fn harmonic_mean(a: f32, b: f32) -> f32 {
    if a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    if a == b {
        return a;
    }
    return 2.0 * a * b / (a + b);
}

// Fraction of CXCR4 bound by CXCL12 against AMD3100: (C/K_C) / (1 + C/K_C + A/K_A).
fn signal(c: f32, a: f32) -> f32 {
    let x = c * P.inv_k_c;
    return x / (1.0 + x + a * P.inv_k_a);
}

// PD-1 blockade by the antibody: P / (P + K_P).
fn blockade(p: f32) -> f32 {
    return p / (p + P.k_p);
}

// T-cell motility μ_0 · m(class) · (1 − r_arrest · s).
fn motility(c: u32, s: f32) -> f32 {
    return P.mu0 * motility_factor(c) * (1.0 - P.arrest * s);
}

// A class admits T cells when its motility factor is not 0.
fn open_to_t(c: u32) -> bool {
    return motility_factor(c) != 0.0;
}

// −F_ij·h of the T-cell face flux from i to j, times h: the motile exchange of μT plus
// first-order upwind chemotaxis (donor T_i when s_j > s_i, else T_j). Antisymmetric in
// (i, j) to the bit.
fn t_face_inflow(w_i: f32, w_j: f32, s_i: f32, s_j: f32, t_i: f32, t_j: f32) -> f32 {
    let ds = s_j - s_i;
    let donor = select(t_j, t_i, ds > 0.0);
    return (w_j - w_i) - P.chi * ds * donor;
}
