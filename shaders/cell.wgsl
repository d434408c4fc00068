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

// One thread per voxel (x, y, z) = global id: T into t_out, N and K in place.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn cell_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !in_grid(id) {
        return;
    }
    let i = index_of(id.x, id.y, id.z);
    let ci = class_at(i);
    let ti = t_in[i];
    // Σ over open faces of −F_ij·h: a face with a closed class on either side carries
    // nothing, chemotaxis included.
    var div = 0.0;
    if open_to_t(ci) {
        let si = cell_s[i];
        let wi = cell_w[i];
        for (var f = 0u; f < 6u; f++) {
            let nb = neighbour(i, id.x, id.y, id.z, f);
            if nb.inside && open_to_t(class_at(nb.j)) {
                div += t_face_inflow(wi, cell_w[nb.j], si, cell_s[nb.j], ti, t_in[nb.j]);
            }
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
