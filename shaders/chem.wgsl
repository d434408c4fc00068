//! One forward-Euler sub-step of chemical `S.chem` (CXCL12, AMD3100 or anti-PD-1), the
//! twin of `cpu::kernels::chem_step`: `u_i += Δt [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i
//! + κ (u_plasma − u_i)]`, a bath face adding `2 D_i (u_bath − u_i)/h²`; CXCL12 may also
//! lose `k_int · T · s(C, A)` (entry point `chem_step_uptake`).

@group(1) @binding(0) var<storage, read> u_in: array<f32>;
@group(1) @binding(1) var<storage, read_write> u_out: array<f32>;
// chem_step_uptake only: the current T cells and AMD3100.
@group(1) @binding(2) var<storage, read> t_cells: array<f32>;
@group(1) @binding(3) var<storage, read> amd: array<f32>;

// What the faces of voxel i need, in registers: the chemical's diffusivities (two vec4),
// the voxel's class, D_i, harmonic_mean(D_i, D_i) and u_i.
struct ChemVoxel {
    d_lo: vec4<f32>,
    d_hi: vec4<f32>,
    ci: u32,
    di: f32,
    d_ii: f32,
    ui: f32,
}

// D_f (u_j − u_i) across the face to neighbour j (inside the domain).
fn chem_face(v: ChemVoxel, j: u32) -> f32 {
    return face_diffusion(v.d_lo, v.d_hi, v.ci, v.di, v.d_ii, class_at(j)) * (u_in[j] - v.ui);
}

// The rate of change of u at voxel i (x, y, z), in the CPU's order: the faces x−, x+,
// y−, y+, z−, z+, then the reactions, less `uptake`. The six faces are written out (no
// face loop, no switch); a neighbour outside the domain is never read.
fn chem_rate(i: u32, x: u32, y: u32, z: u32, uptake: f32) -> f32 {
    let k = S.chem;
    let d_lo = P.chem[k].diffusion[0];
    let d_hi = P.chem[k].diffusion[1];
    let ci = class_at(i);
    let ui = u_in[i];
    let di = per_class(d_lo, d_hi, ci);
    let v = ChemVoxel(d_lo, d_hi, ci, di, harmonic_mean(di, di), ui);
    // A bath face adds bath_d (u_bath − u_i).
    let bath_d = 2.0 * max(di, 0.0);
    let sy = stride_y();
    let sz = stride_z();
    var lap = 0.0;
    if x > 0u {
        lap += chem_face(v, i - 1u);
    } else if is_bath_face(0u) {
        lap += bath_d * (S.bath - ui);
    }
    if x + 1u < P.nx {
        lap += chem_face(v, i + 1u);
    } else if is_bath_face(1u) {
        lap += bath_d * (S.bath - ui);
    }
    if y > 0u {
        lap += chem_face(v, i - sy);
    } else if is_bath_face(2u) {
        lap += bath_d * (S.bath - ui);
    }
    if y + 1u < P.ny {
        lap += chem_face(v, i + sy);
    } else if is_bath_face(3u) {
        lap += bath_d * (S.bath - ui);
    }
    if z > 0u {
        lap += chem_face(v, i - sz);
    } else if is_bath_face(4u) {
        lap += bath_d * (S.bath - ui);
    }
    if z + 1u < P.nz {
        lap += chem_face(v, i + sz);
    } else if is_bath_face(5u) {
        lap += bath_d * (S.bath - ui);
    }
    let r = secretion_of(k, ci) - decay_of(k, ci) * ui + exchange_of(k, ci) * (S.plasma - ui);
    return lap * P.inv_h2 + (r - uptake);
}

// One thread per voxel (x, y, z) = global id; threads past nx, ny, nz do nothing.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !in_grid(id) {
        return;
    }
    let i = index_of(id.x, id.y, id.z);
    u_out[i] = u_in[i] + S.dt * chem_rate(i, id.x, id.y, id.z, 0.0);
}

// One thread per voxel (x, y, z) = global id: chem_step plus CXCL12 uptake by T cells,
// with s from the current C and A.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step_uptake(@builtin(global_invocation_id) id: vec3<u32>) {
    if !in_grid(id) {
        return;
    }
    let i = index_of(id.x, id.y, id.z);
    let ui = u_in[i];
    let uptake = P.c_uptake * t_cells[i] * signal(ui, amd[i]);
    u_out[i] = ui + S.dt * chem_rate(i, id.x, id.y, id.z, uptake);
}
