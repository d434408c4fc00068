//! One forward-Euler sub-step of each chemical a pass steps (bit k of `CHEMS`: 0
//! CXCL12, 1 AMD3100, 2 anti-PD-1), the twin of `cpu::kernels::chem_step`: `u_i += Δt_k
//! [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i + κ (u_plasma − u_i)]`, a bath face adding `2 D_i
//! (u_bath − u_i)/h²`; CXCL12 also loses `k_int · T · s(C, A)` (with `UPTAKE`).
//!
//! A pass steps one chemical, or several at once when the host fuses their sub-steps
//! (`solver::advance_steps`: no chemical's sub-step reads another's field, except
//! CXCL12's uptake reading AMD3100, which then reads it before AMD3100 is stepped). A
//! fused pass loads the class words once and steps each chemical from its own input
//! buffer with its own Δt and levels (component k of `S.chem_dt`, `S.plasma`,
//! `S.bath`), so each chemical comes out as from a pass of its own, to the bit.
//!
//! Each thread steps four consecutive x-voxels (a quad, one vec4 of a padded row): u and
//! the y±1, z±1 neighbours as vec4 loads, the four class codes as one u32, only the two
//! outer x-neighbours as scalars; the inner x-neighbours come from registers.

// Each chemical's current field (in) and the one its sub-step writes (out): every chem
// pass binds all three pairs and the current T cells (for CXCL12 uptake).
@group(1) @binding(0) var<storage, read> c_in: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read_write> c_out: array<vec4<f32>>;
@group(1) @binding(2) var<storage, read> a_in: array<vec4<f32>>;
@group(1) @binding(3) var<storage, read_write> a_out: array<vec4<f32>>;
@group(1) @binding(4) var<storage, read> p_in: array<vec4<f32>>;
@group(1) @binding(5) var<storage, read_write> p_out: array<vec4<f32>>;
@group(1) @binding(6) var<storage, read> t_cells: array<vec4<f32>>;

// vec4 i of chemical k's current field. Every call passes a constant k, so once
// inlined the switch folds to one load.
fn chem_in(k: u32, i: u32) -> vec4<f32> {
    switch k {
        case 0u: {
            return c_in[i];
        }
        case 1u: {
            return a_in[i];
        }
        default: {
            return p_in[i];
        }
    }
}

// The chemicals this pipeline's passes step (bit k for chemical k, as `S.chems`), and
// whether CXCL12 is taken up by T cells: pipeline constants, so that each pipeline holds
// the code of its own chemicals only (a branch on a uniform value made lavapipe run every
// chemical's code masked: one chemical took 6.7× as long).
override CHEMS: u32 = 7u;
override UPTAKE: bool = true;

// Whether this pipeline steps chemical k.
fn stepped(k: u32) -> bool {
    return ((CHEMS >> k) & 1u) != 0u;
}

// A neighbour of one voxel: whether it lies in the domain, and if so its class and u.
struct Neighbour {
    inside: bool,
    c: u32,
    u: f32,
}

// What the faces of voxel i need, in registers: the chemical's bath level and
// diffusivities (two vec4), the voxel's class, D_i, harmonic_mean(D_i, D_i), u_i and
// bath_d = 2 max(D_i, 0) (a bath face adds bath_d (u_bath − u_i)).
struct ChemVoxel {
    bath: f32,
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
        return v.bath_d * (v.bath - v.ui);
    }
    return 0.0;
}

// The rate of change of chemical k at one voxel (class ci, value ui) from its six
// neighbours, in the CPU's order: the faces x−, x+, y−, y+, z−, z+, then the reactions,
// less `uptake`.
fn chem_rate(
    k: u32,
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
    let d_lo = P.chem[k].diffusion[0];
    let d_hi = P.chem[k].diffusion[1];
    let di = per_class(d_lo, d_hi, ci);
    let d_ii = harmonic_mean(di, di);
    let v = ChemVoxel(S.bath[k], d_lo, d_hi, ci, di, d_ii, ui, 2.0 * max(di, 0.0));
    var lap = 0.0;
    lap += chem_face(v, 0u, xm);
    lap += chem_face(v, 1u, xp);
    lap += chem_face(v, 2u, ym);
    lap += chem_face(v, 3u, yp);
    lap += chem_face(v, 4u, zm);
    lap += chem_face(v, 5u, zp);
    let r = secretion_of(k, ci) - decay_of(k, ci) * ui + exchange_of(k, ci) * (S.plasma[k] - ui);
    return lap * P.inv_h2 + (r - uptake);
}

// The class words a quad's stencil needs, loaded once per thread and shared by the
// chemicals of a pass: the quad's own word, the y±1 and z±1 neighbours' words (0
// outside the domain, where they are never used) and the classes of the two outer
// x-neighbours (x − 1 of the first voxel, x + 1 of the last; 0 outside).
struct QuadClasses {
    c: u32,
    ym: u32,
    yp: u32,
    zm: u32,
    zp: u32,
    xm: u32,
    xp: u32,
}

fn quad_classes(q: Quad) -> QuadClasses {
    var w = QuadClasses(classes[q.i], 0u, 0u, 0u, 0u, 0u, 0u);
    if q.y > 0u {
        w.ym = classes[q.i - q.sy];
    }
    if q.y + 1u < P.ny {
        w.yp = classes[q.i + q.sy];
    }
    if q.z > 0u {
        w.zm = classes[q.i - q.sz];
    }
    if q.z + 1u < P.nz {
        w.zp = classes[q.i + q.sz];
    }
    if q.x0 > 0u {
        w.xm = class_byte(classes[q.i - 1u], 3u);
    }
    if q.x0 + 4u < P.nx {
        w.xp = class_byte(classes[q.i + 1u], 0u);
    }
    return w;
}

// Chemical k at the quad of thread q, after one sub-step: u + Δt_k · rate per voxel, 0
// for padding voxels (x ≥ nx, which hold 0). `uptake` per voxel (0 but for CXCL12).
fn chem_quad(k: u32, q: Quad, w: QuadClasses, uptake: vec4<f32>) -> vec4<f32> {
    let u = chem_in(k, q.i);
    // y±1 and z±1 neighbours: one vec4 each (zero outside the domain, where they are
    // never used); the outer x-neighbours as scalars.
    var u_ym = vec4<f32>(0.0);
    if q.y > 0u {
        u_ym = chem_in(k, q.i - q.sy);
    }
    var u_yp = vec4<f32>(0.0);
    if q.y + 1u < P.ny {
        u_yp = chem_in(k, q.i + q.sy);
    }
    var u_zm = vec4<f32>(0.0);
    if q.z > 0u {
        u_zm = chem_in(k, q.i - q.sz);
    }
    var u_zp = vec4<f32>(0.0);
    if q.z + 1u < P.nz {
        u_zp = chem_in(k, q.i + q.sz);
    }
    let x = q.x0;
    var u_xm = 0.0;
    if x > 0u {
        u_xm = chem_in(k, q.i - 1u).w;
    }
    var u_xp = 0.0;
    if x + 4u < P.nx {
        u_xp = chem_in(k, q.i + 1u).x;
    }
    let y_m = q.y > 0u;
    let y_p = q.y + 1u < P.ny;
    let z_m = q.z > 0u;
    let z_p = q.z + 1u < P.nz;
    let c0 = class_byte(w.c, 0u);
    let c1 = class_byte(w.c, 1u);
    let c2 = class_byte(w.c, 2u);
    let c3 = class_byte(w.c, 3u);
    let r0 = chem_rate(
        k, c0, u.x,
        Neighbour(x > 0u, w.xm, u_xm), Neighbour(x + 1u < P.nx, c1, u.y),
        Neighbour(y_m, class_byte(w.ym, 0u), u_ym.x), Neighbour(y_p, class_byte(w.yp, 0u), u_yp.x),
        Neighbour(z_m, class_byte(w.zm, 0u), u_zm.x), Neighbour(z_p, class_byte(w.zp, 0u), u_zp.x),
        uptake.x,
    );
    let r1 = chem_rate(
        k, c1, u.y,
        Neighbour(true, c0, u.x), Neighbour(x + 2u < P.nx, c2, u.z),
        Neighbour(y_m, class_byte(w.ym, 1u), u_ym.y), Neighbour(y_p, class_byte(w.yp, 1u), u_yp.y),
        Neighbour(z_m, class_byte(w.zm, 1u), u_zm.y), Neighbour(z_p, class_byte(w.zp, 1u), u_zp.y),
        uptake.y,
    );
    let r2 = chem_rate(
        k, c2, u.z,
        Neighbour(true, c1, u.y), Neighbour(x + 3u < P.nx, c3, u.w),
        Neighbour(y_m, class_byte(w.ym, 2u), u_ym.z), Neighbour(y_p, class_byte(w.yp, 2u), u_yp.z),
        Neighbour(z_m, class_byte(w.zm, 2u), u_zm.z), Neighbour(z_p, class_byte(w.zp, 2u), u_zp.z),
        uptake.z,
    );
    let r3 = chem_rate(
        k, c3, u.w,
        Neighbour(true, c2, u.z), Neighbour(x + 4u < P.nx, w.xp, u_xp),
        Neighbour(y_m, class_byte(w.ym, 3u), u_ym.w), Neighbour(y_p, class_byte(w.yp, 3u), u_yp.w),
        Neighbour(z_m, class_byte(w.zm, 3u), u_zm.w), Neighbour(z_p, class_byte(w.zp, 3u), u_zp.w),
        uptake.w,
    );
    return select(vec4<f32>(0.0), u + S.chem_dt[k] * vec4<f32>(r0, r1, r2, r3), in_row(q));
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z; steps
// each chemical of the pipeline (branches on constants: the others' code is not there).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    let w = quad_classes(q);
    if stepped(0u) {
        // CXCL12 uptake by T cells, with s from the current C and A.
        var up = vec4<f32>(0.0);
        if UPTAKE {
            let u = c_in[q.i];
            let a = a_in[q.i];
            let s = vec4<f32>(signal(u.x, a.x), signal(u.y, a.y), signal(u.z, a.z), signal(u.w, a.w));
            up = uptake(t_cells[q.i], s);
        }
        c_out[q.i] = chem_quad(0u, q, w, up);
    }
    if stepped(1u) {
        a_out[q.i] = chem_quad(1u, q, w, vec4<f32>(0.0));
    }
    if stepped(2u) {
        p_out[q.i] = chem_quad(2u, q, w, vec4<f32>(0.0));
    }
}
