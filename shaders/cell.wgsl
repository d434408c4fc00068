//! The cell step, the twin of `cpu::kernels::cell_step`, after the receptor pass of
//! signal.wgsl: T cells (motile exchange of μT, upwind chemotaxis, sources, death) into
//! the next T buffer; tumour cells N and killed K updated in place (pointwise).

@group(1) @binding(0) var<storage, read> cell_s: array<f32>;
@group(1) @binding(1) var<storage, read> cell_w: array<f32>;
@group(1) @binding(2) var<storage, read> t_in: array<f32>;
@group(1) @binding(3) var<storage, read> anti_pd1: array<f32>;
@group(1) @binding(4) var<storage, read_write> t_out: array<f32>;
@group(1) @binding(5) var<storage, read_write> tumor: array<f32>;
@group(1) @binding(6) var<storage, read_write> killed: array<f32>;

// What the T-cell faces of an open voxel i need, in registers: the motility factors
// (two vec4), the voxel's class and its w, s and T.
struct CellVoxel {
    m_lo: vec4<f32>,
    m_hi: vec4<f32>,
    ci: u32,
    wi: f32,
    si: f32,
    ti: f32,
}

// Whether neighbour j (inside the domain) admits T cells: yes when its class is the
// voxel's own (open), else by its motility factor.
fn t_open(v: CellVoxel, j: u32) -> bool {
    let cj = class_at(j);
    return cj == v.ci || per_class(v.m_lo, v.m_hi, cj) != 0.0;
}

// −F_ij·h across the face to an open neighbour j.
fn t_face(v: CellVoxel, j: u32) -> f32 {
    return t_face_inflow(v.wi, cell_w[j], v.si, cell_s[j], v.ti, t_in[j]);
}

// One thread per voxel (x, y, z) = global id: T into t_out, N and K in place.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn cell_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !in_grid(id) {
        return;
    }
    let x = id.x;
    let y = id.y;
    let z = id.z;
    let i = index_of(x, y, z);
    let ci = class_at(i);
    let ti = t_in[i];
    let m_lo = P.motility[0];
    let m_hi = P.motility[1];
    // Σ over open faces of −F_ij·h in the CPU's order (x−, x+, y−, y+, z−, z+), written
    // out: a face with a closed class on either side carries nothing, chemotaxis
    // included; a neighbour outside the domain is never read.
    var div = 0.0;
    if per_class(m_lo, m_hi, ci) != 0.0 {
        let v = CellVoxel(m_lo, m_hi, ci, cell_w[i], cell_s[i], ti);
        let sy = stride_y();
        let sz = stride_z();
        if x > 0u && t_open(v, i - 1u) {
            div += t_face(v, i - 1u);
        }
        if x + 1u < P.nx && t_open(v, i + 1u) {
            div += t_face(v, i + 1u);
        }
        if y > 0u && t_open(v, i - sy) {
            div += t_face(v, i - sy);
        }
        if y + 1u < P.ny && t_open(v, i + sy) {
            div += t_face(v, i + sy);
        }
        if z > 0u && t_open(v, i - sz) {
            div += t_face(v, i - sz);
        }
        if z + 1u < P.nz && t_open(v, i + sz) {
            div += t_face(v, i + sz);
        }
    }
    let ni = tumor[i];
    // Sources are limited by crowding, clamped at 0 above T_max.
    let crowd = max(1.0 - ti * P.inv_t_max, 0.0);
    var fed = 0.0;
    if ni > 0.0 {
        fed = ni / (ni + P.k_n);
    }
    let dt_t = div * P.inv_h2 + influx_of(ci) * crowd + P.prolif * ti * fed * crowd - P.death * ti;
    t_out[i] = ti + S.dt * dt_t;

    let b = blockade(anti_pd1[i]);
    let kill = P.kill * (1.0 - P.q * (1.0 - b)) * ti * ni;
    var grown = 0.0;
    if ci == TUMOR {
        grown = P.growth * ni * (1.0 - ni);
    }
    tumor[i] = ni + S.dt * (grown - kill);
    killed[i] = killed[i] + S.dt * kill;
}
