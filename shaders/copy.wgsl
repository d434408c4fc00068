// The yardstick of `infiltrate bench`: a plain vec4 copy of one field's bytes, the
// fastest a kernel that reads and writes each voxel once can go on this adapter.

@group(1) @binding(0) var<storage, read> copy_src: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read_write> copy_dst: array<vec4<f32>>;

// One thread per vec4 (four voxels): element id.x + (threads per row) · id.y, rows of
// num_workgroups.x · WG_X threads; threads past the end do nothing.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn copy_vec4(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = id.x + id.y * groups.x * WG_X;
    if i < arrayLength(&copy_src) {
        copy_dst[i] = copy_src[i];
    }
}
