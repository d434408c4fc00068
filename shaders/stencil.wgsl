//! The quad stencil of a chemical's explicit sub-step, shared by chem.wgsl (CXCL12 and
//! the drugs) and species.wgsl (the species a scenario adds), the twin of
//! `cpu::kernels::chem_step`: `u_i += Δt [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i + κ
//! (u_plasma − u_i)]`, a bath face adding `2 D_i (u_bath − u_i)/h²`, less an uptake (or
//! plus a secretion by cells). The kernel file that includes it defines `chem_in(k, i)`,
//! vec4 i of the field of its buffer k, and `face_row(k, c)`, the row of class c of
//! chemical k's face table (`Chem.face`).
//!
//! D_f is read from the class-pair table the host builds (`GpuChem::face`, the twin of
//! the CPU's `ChemTables`): one row per voxel, then a select per face.
//!
//! Each thread steps four consecutive x-voxels (a quad, one vec4 of a padded row): u and
//! the y±1, z±1 neighbours as vec4 loads, the four class codes as one u32, only the two
//! outer x-neighbours as scalars; the inner x-neighbours come from registers.

// A neighbour of one voxel: whether it lies in the domain, and if so its class and u.
struct Neighbour {
    inside: bool,
    c: u32,
    u: f32,
}

// A class's row of a chemical's face table: the face diffusivity to each class
// (classes 0–3 in lo, 4–7 in hi).
struct FaceRow {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// What the faces of voxel i need, in registers: the chemical's bath level, the voxel's
// row of the face table, its bath-face conductance 2 max(D_i, 0), and u_i.
struct ChemVoxel {
    bath: f32,
    row: FaceRow,
    bath_d: f32,
    ui: f32,
}

// The contribution to the Laplacian sum (times h²) of face f (0–5: x−, x+, y−, y+, z−,
// z+) of a voxel: D_f (u_j − u_i) to a neighbour j inside the domain (class cj, value
// uj), else the bath term on a bath face, else nothing.
fn chem_face(v: ChemVoxel, f: u32, n: Neighbour) -> f32 {
    if n.inside {
        return per_class(v.row.lo, v.row.hi, n.c) * (n.u - v.ui);
    }
    if is_bath_face(f) {
        return v.bath_d * (v.bath - v.ui);
    }
    return 0.0;
}

// The rate of change of a chemical (coefficients `coef`, the voxel's face-table `row`,
// levels `bath` and `plasma`) at one voxel (class ci, value ui) from its six
// neighbours, in the CPU's order: the faces x−, x+, y−, y+, z−, z+, then the reactions,
// less `uptake` (a negative `uptake` is a source: a species' secretion by cells).
fn chem_rate(
    coef: Chem,
    row: FaceRow,
    bath: f32,
    plasma: f32,
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
    let v = ChemVoxel(bath, row, per_class(coef.bath_d[0], coef.bath_d[1], ci), ui);
    var lap = 0.0;
    lap += chem_face(v, 0u, xm);
    lap += chem_face(v, 1u, xp);
    lap += chem_face(v, 2u, ym);
    lap += chem_face(v, 3u, yp);
    lap += chem_face(v, 4u, zm);
    lap += chem_face(v, 5u, zp);
    let secretion = per_class(coef.secretion[0], coef.secretion[1], ci);
    let decay = per_class(coef.decay[0], coef.decay[1], ci);
    let exchange = per_class(coef.exchange[0], coef.exchange[1], ci);
    let r = secretion - decay * ui + exchange * (plasma - ui);
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

// The chemical of buffer k (`chem_in`, which the kernel file defines) at the quad of
// thread q, after one sub-step of `dt` with coefficients `coef` and levels `bath`,
// `plasma`: u + Δt · rate per voxel, 0 for padding voxels (x ≥ nx, which hold 0).
// `uptake` per voxel (0 but for CXCL12; minus the secretion by cells for a species).
fn chem_quad(
    k: u32,
    coef: Chem,
    dt: f32,
    bath: f32,
    plasma: f32,
    q: Quad,
    w: QuadClasses,
    uptake: vec4<f32>,
) -> vec4<f32> {
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
        coef, face_row(k, c0), bath, plasma, c0, u.x,
        Neighbour(x > 0u, w.xm, u_xm), Neighbour(x + 1u < P.nx, c1, u.y),
        Neighbour(y_m, class_byte(w.ym, 0u), u_ym.x), Neighbour(y_p, class_byte(w.yp, 0u), u_yp.x),
        Neighbour(z_m, class_byte(w.zm, 0u), u_zm.x), Neighbour(z_p, class_byte(w.zp, 0u), u_zp.x),
        uptake.x,
    );
    let r1 = chem_rate(
        coef, face_row(k, c1), bath, plasma, c1, u.y,
        Neighbour(true, c0, u.x), Neighbour(x + 2u < P.nx, c2, u.z),
        Neighbour(y_m, class_byte(w.ym, 1u), u_ym.y), Neighbour(y_p, class_byte(w.yp, 1u), u_yp.y),
        Neighbour(z_m, class_byte(w.zm, 1u), u_zm.y), Neighbour(z_p, class_byte(w.zp, 1u), u_zp.y),
        uptake.y,
    );
    let r2 = chem_rate(
        coef, face_row(k, c2), bath, plasma, c2, u.z,
        Neighbour(true, c1, u.y), Neighbour(x + 3u < P.nx, c3, u.w),
        Neighbour(y_m, class_byte(w.ym, 2u), u_ym.z), Neighbour(y_p, class_byte(w.yp, 2u), u_yp.z),
        Neighbour(z_m, class_byte(w.zm, 2u), u_zm.z), Neighbour(z_p, class_byte(w.zp, 2u), u_zp.z),
        uptake.z,
    );
    let r3 = chem_rate(
        coef, face_row(k, c3), bath, plasma, c3, u.w,
        Neighbour(true, c2, u.z), Neighbour(x + 4u < P.nx, w.xp, u_xp),
        Neighbour(y_m, class_byte(w.ym, 3u), u_ym.w), Neighbour(y_p, class_byte(w.yp, 3u), u_yp.w),
        Neighbour(z_m, class_byte(w.zm, 3u), u_zm.w), Neighbour(z_p, class_byte(w.zp, 3u), u_zp.w),
        uptake.w,
    );
    return select(vec4<f32>(0.0), u + dt * vec4<f32>(r0, r1, r2, r3), in_row(q));
}

