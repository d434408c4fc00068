//! One forward-Euler sub-step of chemical `S.chem` (CXCL12, AMD3100 or anti-PD-1), the
//! twin of `cpu::kernels::chem_step`: `u_i += Δt [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i
//! + κ (u_plasma − u_i)]`, a bath face adding `2 D_i (u_bath − u_i)/h²`; CXCL12 may also
//! lose `k_int · T · s(C, A)` (entry point `chem_step_uptake`).

@group(1) @binding(0) var<storage, read> u_in: array<f32>;
@group(1) @binding(1) var<storage, read_write> u_out: array<f32>;
// chem_step_uptake only: the current T cells and AMD3100.
@group(1) @binding(2) var<storage, read> t_cells: array<f32>;
@group(1) @binding(3) var<storage, read> amd: array<f32>;

// The rate of change of u at voxel i (x, y, z), in the CPU's order: the faces x−, x+,
// y−, y+, z−, z+, then the reactions, less `uptake`.
fn chem_rate(i: u32, x: u32, y: u32, z: u32, uptake: f32) -> f32 {
    let k = S.chem;
    let ci = class_at(i);
    let ui = u_in[i];
    let di = diffusion_of(k, ci);
    var lap = 0.0;
    for (var f = 0u; f < 6u; f++) {
        let nb = neighbour(i, x, y, z, f);
        if nb.inside {
            lap += harmonic_mean(di, diffusion_of(k, class_at(nb.j))) * (u_in[nb.j] - ui);
        } else if is_bath_face(f) {
            lap += 2.0 * max(di, 0.0) * (S.bath - ui);
        }
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
