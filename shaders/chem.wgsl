//! One forward-Euler sub-step of chemical `S.chem` (CXCL12, AMD3100 or anti-PD-1), the
//! twin of `cpu::kernels::chem_step`: `u_i += Δt [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i
//! + κ (u_plasma − u_i)]`, a bath face adding `2 D_i (u_bath − u_i)/h²`; CXCL12 may also
//! lose `k_int · T · s(C, A)` (entry point `chem_step_uptake`).
//!
//! Each thread steps four consecutive x-voxels (a quad, one vec4 of a padded row): u and
//! the y±1, z±1 neighbours as vec4 loads, the four class codes as one u32, only the two
//! outer x-neighbours as scalars; the inner x-neighbours come from registers.

@group(1) @binding(0) var<storage, read> u_in: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read_write> u_out: array<vec4<f32>>;
// chem_step_uptake only: the current T cells and AMD3100.
@group(1) @binding(2) var<storage, read> t_cells: array<vec4<f32>>;
@group(1) @binding(3) var<storage, read> amd: array<vec4<f32>>;

// A neighbour of one voxel: whether it lies in the domain, and if so its class and u.
struct Neighbour {
    inside: bool,
    c: u32,
    u: f32,
}

// What the faces of voxel i need, in registers: the chemical's diffusivities (two vec4),
// the voxel's class, D_i, harmonic_mean(D_i, D_i), u_i and bath_d = 2 max(D_i, 0) (a
// bath face adds bath_d (u_bath − u_i)).
struct ChemVoxel {
    d_lo: vec4<f32>,
    d_hi: vec4<f32>,
    ci: u32,
    di: f32,
    d_ii: f32,
    ui: f32,
    bath_d: f32,
}

// The contribution to the Laplacian sum (times h²) of face f (0–5: x−, x+, y−, y+, z−,
// z+) of a voxel: D_f (u_j − u_i) to a neighbour j inside the domain (class cj, value
// uj), else the bath term on a bath face, else nothing.
fn chem_face(v: ChemVoxel, f: u32, n: Neighbour) -> f32 {
    if n.inside {
        return face_diffusion(v.d_lo, v.d_hi, v.ci, v.di, v.d_ii, n.c) * (n.u - v.ui);
    }
    if is_bath_face(f) {
        return v.bath_d * (S.bath - v.ui);
    }
    return 0.0;
}

// The rate of change of u at one voxel (class ci, value ui) from its six neighbours, in
// the CPU's order: the faces x−, x+, y−, y+, z−, z+, then the reactions, less `uptake`.
fn chem_rate(
    ci: u32,
    ui: f32,
    xm: Neighbour,
    xp: Neighbour,
    ym: Neighbour,
    yp: Neighbour,
    zm: Neighbour,
    zp: Neighbour,
    uptake: f32,
) -> f32 {
    let k = S.chem;
    let d_lo = P.chem[k].diffusion[0];
    let d_hi = P.chem[k].diffusion[1];
    let di = per_class(d_lo, d_hi, ci);
    let v = ChemVoxel(d_lo, d_hi, ci, di, harmonic_mean(di, di), ui, 2.0 * max(di, 0.0));
    var lap = 0.0;
    lap += chem_face(v, 0u, xm);
    lap += chem_face(v, 1u, xp);
    lap += chem_face(v, 2u, ym);
    lap += chem_face(v, 3u, yp);
    lap += chem_face(v, 4u, zm);
    lap += chem_face(v, 5u, zp);
    let r = secretion_of(k, ci) - decay_of(k, ci) * ui + exchange_of(k, ci) * (S.plasma - ui);
    return lap * P.inv_h2 + (r - uptake);
}

// u at the quad of thread q, after one sub-step: u + Δt · rate per voxel, 0 for padding
// voxels (x ≥ nx, which hold 0). `uptake` per voxel (0 for chem_step).
fn chem_quad(q: Quad, uptake: vec4<f32>) -> vec4<f32> {
    let u = u_in[q.i];
    let c = classes[q.i];
    // y±1 and z±1 neighbours: one vec4 and one class word each (zero outside the domain,
    // where they are never used).
    var u_ym = vec4<f32>(0.0);
    var c_ym = 0u;
    if q.y > 0u {
        u_ym = u_in[q.i - q.sy];
        c_ym = classes[q.i - q.sy];
    }
    var u_yp = vec4<f32>(0.0);
    var c_yp = 0u;
    if q.y + 1u < P.ny {
        u_yp = u_in[q.i + q.sy];
        c_yp = classes[q.i + q.sy];
    }
    var u_zm = vec4<f32>(0.0);
    var c_zm = 0u;
    if q.z > 0u {
        u_zm = u_in[q.i - q.sz];
        c_zm = classes[q.i - q.sz];
    }
    var u_zp = vec4<f32>(0.0);
    var c_zp = 0u;
    if q.z + 1u < P.nz {
        u_zp = u_in[q.i + q.sz];
        c_zp = classes[q.i + q.sz];
    }
    // The outer x-neighbours: x − 1 of the first voxel, x + 1 of the last.
    let x = q.x0;
    var u_xm = 0.0;
    var c_xm = 0u;
    if x > 0u {
        u_xm = u_in[q.i - 1u].w;
        c_xm = class_byte(classes[q.i - 1u], 3u);
    }
    var u_xp = 0.0;
    var c_xp = 0u;
    if x + 4u < P.nx {
        u_xp = u_in[q.i + 1u].x;
        c_xp = class_byte(classes[q.i + 1u], 0u);
    }
    let y_m = q.y > 0u;
    let y_p = q.y + 1u < P.ny;
    let z_m = q.z > 0u;
    let z_p = q.z + 1u < P.nz;
    let c0 = class_byte(c, 0u);
    let c1 = class_byte(c, 1u);
    let c2 = class_byte(c, 2u);
    let c3 = class_byte(c, 3u);
    let r0 = chem_rate(
        c0, u.x,
        Neighbour(x > 0u, c_xm, u_xm), Neighbour(x + 1u < P.nx, c1, u.y),
        Neighbour(y_m, class_byte(c_ym, 0u), u_ym.x), Neighbour(y_p, class_byte(c_yp, 0u), u_yp.x),
        Neighbour(z_m, class_byte(c_zm, 0u), u_zm.x), Neighbour(z_p, class_byte(c_zp, 0u), u_zp.x),
        uptake.x,
    );
    let r1 = chem_rate(
        c1, u.y,
        Neighbour(true, c0, u.x), Neighbour(x + 2u < P.nx, c2, u.z),
        Neighbour(y_m, class_byte(c_ym, 1u), u_ym.y), Neighbour(y_p, class_byte(c_yp, 1u), u_yp.y),
        Neighbour(z_m, class_byte(c_zm, 1u), u_zm.y), Neighbour(z_p, class_byte(c_zp, 1u), u_zp.y),
        uptake.y,
    );
    let r2 = chem_rate(
        c2, u.z,
        Neighbour(true, c1, u.y), Neighbour(x + 3u < P.nx, c3, u.w),
        Neighbour(y_m, class_byte(c_ym, 2u), u_ym.z), Neighbour(y_p, class_byte(c_yp, 2u), u_yp.z),
        Neighbour(z_m, class_byte(c_zm, 2u), u_zm.z), Neighbour(z_p, class_byte(c_zp, 2u), u_zp.z),
        uptake.z,
    );
    let r3 = chem_rate(
        c3, u.w,
        Neighbour(true, c2, u.z), Neighbour(x + 4u < P.nx, c_xp, u_xp),
        Neighbour(y_m, class_byte(c_ym, 3u), u_ym.w), Neighbour(y_p, class_byte(c_yp, 3u), u_yp.w),
        Neighbour(z_m, class_byte(c_zm, 3u), u_zm.w), Neighbour(z_p, class_byte(c_zp, 3u), u_zp.w),
        uptake.w,
    );
    return select(vec4<f32>(0.0), u + S.dt * vec4<f32>(r0, r1, r2, r3), in_row(q));
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    u_out[q.i] = chem_quad(q, vec4<f32>(0.0));
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z;
// chem_step plus CXCL12 uptake by T cells, with s from the current C and A.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step_uptake(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    let u = u_in[q.i];
    let a = amd[q.i];
    let s = vec4<f32>(signal(u.x, a.x), signal(u.y, a.y), signal(u.z, a.z), signal(u.w, a.w));
    let uptake = P.c_uptake * t_cells[q.i] * s;
    u_out[q.i] = chem_quad(q, uptake);
}
