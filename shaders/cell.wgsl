//! The cell step, the twin of `cpu::kernels::signal_step` and `cpu::kernels::cell_step`
//! in one pass: T cells (motile exchange of μT, chemotaxis, sources, death) into the next
//! T buffer; tumour cells N and killed K updated in place (pointwise). The receptor
//! terms, the signal s and the motile potential w = μT, are computed here from C, A and
//! T for each voxel and neighbour the quad reads (about 5.5 signals per voxel), instead
//! of in a pass of their own that wrote s and w for this kernel to read back: that pass
//! moved 21 bytes per voxel, and these loads are the ones it made.
//!
//! Each thread steps four consecutive x-voxels (a quad, one vec4 of a padded row): C, A,
//! T and the y±1, z±1 neighbours as vec4 loads, the four class codes as one u32, only the
//! two outer x-neighbours as scalars; the inner x-neighbours come from registers.

@group(1) @binding(0) var<storage, read> cell_c: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read> cell_a: array<vec4<f32>>;
@group(1) @binding(2) var<storage, read> t_in: array<vec4<f32>>;
@group(1) @binding(3) var<storage, read> anti_pd1: array<vec4<f32>>;
@group(1) @binding(4) var<storage, read_write> t_out: array<vec4<f32>>;
@group(1) @binding(5) var<storage, read_write> tumor: array<vec4<f32>>;
@group(1) @binding(6) var<storage, read_write> killed: array<vec4<f32>>;
// The species coupled to the kill rate (read when `KILL_BY` names a coupling; bound to
// anti-PD-1 when none does).
@group(1) @binding(7) var<storage, read> kill_species: array<vec4<f32>>;

// The coupling that scales the kill rate (its case of `coupling_factor`; 0: none): a
// pipeline constant, so that without one the kernel has no load and multiplies by
// exactly 1.
override KILL_BY: u32 = 0u;

// The T-cell flux across a face (`numerics.chemotaxis_flux`): 0 exponentially fitted
// (`t_face_inflow_fitted`), 1 first-order upwind (`t_face_inflow`); a pipeline
// constant.
override FLUX: u32 = 0u;

// A neighbour of one voxel: whether it lies in the domain, and if so its class, w, s
// and T.
struct CellNeighbour {
    inside: bool,
    c: u32,
    w: f32,
    s: f32,
    t: f32,
}

// The vec4s of s, w and T and the class word of a row of the quad (zero outside the
// domain, where they are never used); s and w computed from the row's C, A and T.
struct CellRow {
    s: vec4<f32>,
    w: vec4<f32>,
    t: vec4<f32>,
    c: u32,
}

// The receptor terms of one voxel (class c, C, A, T): s = signal(C, A) and w = μ(c, s) T,
// as `cpu::kernels::signal_step` writes them.
fn receptor(c: u32, conc: f32, a: f32, t: f32) -> vec2<f32> {
    let s = signal(conc, a);
    return vec2<f32>(s, motility(c, s) * t);
}

fn cell_row(inside: bool, i: u32) -> CellRow {
    if inside {
        let cw = classes[i];
        let c = cell_c[i];
        let a = cell_a[i];
        let t = t_in[i];
        let r0 = receptor(class_byte(cw, 0u), c.x, a.x, t.x);
        let r1 = receptor(class_byte(cw, 1u), c.y, a.y, t.y);
        let r2 = receptor(class_byte(cw, 2u), c.z, a.z, t.z);
        let r3 = receptor(class_byte(cw, 3u), c.w, a.w, t.w);
        return CellRow(vec4<f32>(r0.x, r1.x, r2.x, r3.x), vec4<f32>(r0.y, r1.y, r2.y, r3.y), t, cw);
    }
    return CellRow(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), 0u);
}

// Voxel k (0–3) of a neighbouring row as a neighbour.
fn row_neighbour(inside: bool, r: CellRow, k: u32) -> CellNeighbour {
    return CellNeighbour(inside, class_byte(r.c, k), r.w[k], r.s[k], r.t[k]);
}

// What the T-cell faces of an open voxel i need, in registers: the motility factors
// (two vec4), the voxel's class, its w, s and T, and its motility μ (read with the
// fitted flux only).
struct CellVoxel {
    m_lo: vec4<f32>,
    m_hi: vec4<f32>,
    ci: u32,
    wi: f32,
    si: f32,
    ti: f32,
    mui: f32,
}

// −F_ij·h across the face to neighbour n if it lies in the domain and admits T cells
// (its class is the voxel's own, or its motility factor is not 0), else 0: a face with a
// closed class on either side carries nothing, chemotaxis included.
fn t_face(v: CellVoxel, n: CellNeighbour) -> f32 {
    if n.inside && (n.c == v.ci || per_class(v.m_lo, v.m_hi, n.c) != 0.0) {
        if FLUX == 1u {
            return t_face_inflow(v.wi, n.w, v.si, n.s, v.ti, n.t);
        }
        let muj = motility(n.c, n.s);
        return t_face_inflow_fitted(v.wi, n.w, v.si, n.s, v.ti, n.t, v.mui, muj, n.c == v.ci);
    }
    return 0.0;
}

// The new T, N and K of one voxel (class ci, w, s, T, anti-PD-1 p, the kill rate's
// coupled factor, N, K) from its six neighbours: Σ over open faces of −F_ij·h in the
// CPU's order (x−, x+, y−, y+, z−, z+), then the sources, death, growth and killing.
fn cell_voxel(
    ci: u32,
    wi: f32,
    si: f32,
    ti: f32,
    p: f32,
    coupled: f32,
    ni: f32,
    ki: f32,
    xm: CellNeighbour,
    xp: CellNeighbour,
    ym: CellNeighbour,
    yp: CellNeighbour,
    zm: CellNeighbour,
    zp: CellNeighbour,
) -> vec3<f32> {
    let m_lo = P.motility[0];
    let m_hi = P.motility[1];
    var div = 0.0;
    if per_class(m_lo, m_hi, ci) != 0.0 {
        let v = CellVoxel(m_lo, m_hi, ci, wi, si, ti, motility(ci, si));
        div += t_face(v, xm);
        div += t_face(v, xp);
        div += t_face(v, ym);
        div += t_face(v, yp);
        div += t_face(v, zm);
        div += t_face(v, zp);
    }
    // Sources are limited by crowding, clamped at 0 above T_max.
    let crowd = crowding(ti);
    let dt_t = div * P.inv_h2 + influx_of(ci) * crowd + P.prolif * ti * fed(ni) * crowd - P.death * ti;
    let kill = P.kill * kill_factor(blockade(p)) * coupled * ti * ni;
    var grown = 0.0;
    if ci == TUMOR {
        grown = P.growth * ni * (1.0 - ni);
    }
    return vec3<f32>(ti + S.dt * dt_t, ni + S.dt * (grown - kill), ki + S.dt * kill);
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z; T into
// t_out, N and K in place; padding voxels (x ≥ nx) written with 0, what they hold.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn cell_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    let x = q.x0;
    let o = cell_row(true, q.i);
    let p = anti_pd1[q.i];
    var coupled = vec4<f32>(1.0);
    if KILL_BY != 0u {
        let b = kill_species[q.i];
        let l = P.kill_level;
        coupled = vec4<f32>(
            coupling_factor(KILL_BY, b.x, l),
            coupling_factor(KILL_BY, b.y, l),
            coupling_factor(KILL_BY, b.z, l),
            coupling_factor(KILL_BY, b.w, l)
        );
    }
    let n = tumor[q.i];
    let k = killed[q.i];
    let y_m = q.y > 0u;
    let y_p = q.y + 1u < P.ny;
    let z_m = q.z > 0u;
    let z_p = q.z + 1u < P.nz;
    let ym = cell_row(y_m, q.i - q.sy);
    let yp = cell_row(y_p, q.i + q.sy);
    let zm = cell_row(z_m, q.i - q.sz);
    let zp = cell_row(z_p, q.i + q.sz);
    // The outer x-neighbours: x − 1 of the first voxel, x + 1 of the last.
    var xm = CellNeighbour(false, 0u, 0.0, 0.0, 0.0);
    if x > 0u {
        let j = q.i - 1u;
        let c = class_byte(classes[j], 3u);
        let t = t_in[j].w;
        let r = receptor(c, cell_c[j].w, cell_a[j].w, t);
        xm = CellNeighbour(true, c, r.y, r.x, t);
    }
    var xp = CellNeighbour(false, 0u, 0.0, 0.0, 0.0);
    if x + 4u < P.nx {
        let j = q.i + 1u;
        let c = class_byte(classes[j], 0u);
        let t = t_in[j].x;
        let r = receptor(c, cell_c[j].x, cell_a[j].x, t);
        xp = CellNeighbour(true, c, r.y, r.x, t);
    }
    let own0 = row_neighbour(true, o, 0u);
    let own1 = row_neighbour(true, o, 1u);
    let own2 = row_neighbour(true, o, 2u);
    let own3 = row_neighbour(true, o, 3u);
    let v0 = cell_voxel(
        own0.c, o.w.x, o.s.x, o.t.x, p.x, coupled.x, n.x, k.x,
        xm, row_neighbour(x + 1u < P.nx, o, 1u),
        row_neighbour(y_m, ym, 0u), row_neighbour(y_p, yp, 0u),
        row_neighbour(z_m, zm, 0u), row_neighbour(z_p, zp, 0u),
    );
    let v1 = cell_voxel(
        own1.c, o.w.y, o.s.y, o.t.y, p.y, coupled.y, n.y, k.y,
        own0, row_neighbour(x + 2u < P.nx, o, 2u),
        row_neighbour(y_m, ym, 1u), row_neighbour(y_p, yp, 1u),
        row_neighbour(z_m, zm, 1u), row_neighbour(z_p, zp, 1u),
    );
    let v2 = cell_voxel(
        own2.c, o.w.z, o.s.z, o.t.z, p.z, coupled.z, n.z, k.z,
        own1, row_neighbour(x + 3u < P.nx, o, 3u),
        row_neighbour(y_m, ym, 2u), row_neighbour(y_p, yp, 2u),
        row_neighbour(z_m, zm, 2u), row_neighbour(z_p, zp, 2u),
    );
    let v3 = cell_voxel(
        own3.c, o.w.w, o.s.w, o.t.w, p.w, coupled.w, n.w, k.w,
        own2, xp,
        row_neighbour(y_m, ym, 3u), row_neighbour(y_p, yp, 3u),
        row_neighbour(z_m, zm, 3u), row_neighbour(z_p, zp, 3u),
    );
    let inside = in_row(q);
    let zero = vec4<f32>(0.0);
    t_out[q.i] = select(zero, vec4<f32>(v0.x, v1.x, v2.x, v3.x), inside);
    tumor[q.i] = select(zero, vec4<f32>(v0.y, v1.y, v2.y, v3.y), inside);
    killed[q.i] = select(zero, vec4<f32>(v0.z, v1.z, v2.z, v3.z), inside);
}
