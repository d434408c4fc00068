//! The convergence measure of a quasi-steady solve, the twin of the CPU's
//! `block_change`: max |u − mark| and max |u| over the grid, as the bits of non-negative
//! f32 (which order as u32), by a workgroup reduction and one atomicMax per workgroup.
//! A NaN in u makes both maxima NaN (its bits exceed those of infinity).

@group(1) @binding(0) var<storage, read> field: array<f32>;
@group(1) @binding(1) var<storage, read> mark: array<f32>;
// [max |u − mark|, max |u|] as f32 bits; cleared by the host before each reduction.
@group(1) @binding(2) var<storage, read_write> maxima: array<atomic<u32>, 2>;

var<workgroup> part_d: array<u32, WG_SIZE>;
var<workgroup> part_m: array<u32, WG_SIZE>;

const NAN_BITS: u32 = 0x7fc00000u;
const INF_BITS: u32 = 0x7f800000u;

// One thread per voxel (x, y, own plane id.z of the slab; threads past the grid
// contribute 0), one atomicMax per workgroup.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn block_change(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    var d = 0u;
    var m = 0u;
    if in_grid(id) {
        let i = index_of(id.x, id.y, id.z + 1u);
        let u = field[i];
        m = bitcast<u32>(u) & 0x7fffffffu;
        d = bitcast<u32>(u - mark[i]) & 0x7fffffffu;
        if m > INF_BITS {
            d = NAN_BITS;
        }
    }
    part_d[l] = d;
    part_m[l] = m;
    for (var half = WG_SIZE / 2u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if l < half {
            part_d[l] = max(part_d[l], part_d[l + half]);
            part_m[l] = max(part_m[l], part_m[l + half]);
        }
    }
    if l == 0u {
        atomicMax(&maxima[0], part_d[0]);
        atomicMax(&maxima[1], part_m[0]);
    }
}
