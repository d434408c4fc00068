//! The receptor pass of the cell step, the twin of `cpu::kernels::signal_step`: the
//! signal s and the motile flux potential μT of every voxel, into scratch buffers that
//! cell.wgsl reads. It covers the slab's halo planes too (from the halos of C, A and T),
//! so that the cell kernel finds s and μT of its z-neighbours in other slabs.

@group(1) @binding(0) var<storage, read> sig_c: array<f32>;
@group(1) @binding(1) var<storage, read> sig_a: array<f32>;
@group(1) @binding(2) var<storage, read> sig_t: array<f32>;
@group(1) @binding(3) var<storage, read_write> sig_s_out: array<f32>;
@group(1) @binding(4) var<storage, read_write> sig_w_out: array<f32>;

// One thread per voxel (x, y, buffer plane zb = id.z, halos included):
// s = signal(C, A), w = μ(class, s) · T.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn signal_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= P.nx || id.y >= P.ny || id.z >= SL.planes + 2u {
        return;
    }
    let i = index_of(id.x, id.y, id.z);
    let s = signal(sig_c[i], sig_a[i]);
    sig_s_out[i] = s;
    sig_w_out[i] = motility(class_at(i), s) * sig_t[i];
}
