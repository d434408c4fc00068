//! What a snapshot needs of the fields, reduced on the device (the twin of
//! `probe::Sums::of` and `pictures::planes::cut_fields`): the sums behind the readouts and
//! budgets by tissue class, region and depth bin, the extremes that tell a bad field,
//! and the picture planes. The host reads back a row of partial sums per workgroup
//! (a few kilobytes per plane of the grid) and adds the rows in f64, in grid order, so
//! that the result does not depend on the number of slabs.
//!
//! Labels (one u32 per voxel of the slab's own planes, padded rows, no halos; see
//! src/probe.rs): bit 0 core, 1 margin, 2 outside, bits 3–5 bath faces, 6–8 class, 9–31
//! depth bin + 1.

// Keep in sync with `GpuProbe` in src/gpu/params.rs.
struct Probe {
    // Depth bins of the profile.
    bins: u32,
    // Bands of BAND_ROWS rows per plane (workgroups in x of `probe_sums`).
    bands: u32,
    // The picture plane: perpendicular to axis (0 x, 1 y, 2 z) at voxel `slice`, of
    // width w and height h.
    axis: u32,
    slice: u32,
    w: u32,
    h: u32,
    // The bath levels of AMD3100 and anti-PD-1 the bath sums are measured from
    // (Σ nb (bath − u): without the cancellation of bath Σ nb − Σ nb u in f32).
    bath_a: f32,
    bath_p: f32,
}

@group(0) @binding(4) var<uniform> PR: Probe;

@group(1) @binding(0) var<storage, read> pr_c: array<f32>;
@group(1) @binding(1) var<storage, read> pr_a: array<f32>;
@group(1) @binding(2) var<storage, read> pr_p: array<f32>;
@group(1) @binding(3) var<storage, read> pr_t: array<f32>;
@group(1) @binding(4) var<storage, read> pr_n: array<f32>;
@group(1) @binding(5) var<storage, read> pr_k: array<f32>;
// probe_sums: the labels; probe_planes: unused.
@group(1) @binding(6) var<storage, read> pr_labels: array<u32>;
// probe_sums: a row per workgroup (ROW_FIXED + bins values); probe_planes: seven
// planes of w × h (C, A, P, T, N, K at the slice, the maximum of T along the axis).
@group(1) @binding(7) var<storage, read_write> pr_out: array<f32>;
// The species coupled to the kill rate (read when `KILL_BY` names a coupling; bound to
// K when none does).
@group(1) @binding(8) var<storage, read> pr_kill_species: array<f32>;

// The coupling that scales the kill rate (as in cell.wgsl).
override KILL_BY: u32 = 0u;

// Rows of a plane one workgroup of `probe_sums` sums.
const BAND_ROWS: u32 = 16u;
// Sums per class (T, A, P, bath·A, bath·P, crowding) and classes (probe::PER_CLASS,
// N_CLASSES), the other sums (probe::OTHER), fields checked (probe::FIELDS);
// tests/shaders.rs holds these and the label fields to src/probe.rs.
const PER_CLASS: u32 = 6u;
const CLASSES: u32 = 5u;
const OTHER: u32 = 11u;
const SUMS: u32 = 41u;
const FIELDS: u32 = 6u;
// A row: SUMS sums, then per field the bits of max |u| and of max −u, then the bins.
const ROW_FIXED: u32 = 53u;
const NAN_BITS: u32 = 0x7fc00000u;
const INF_BITS: u32 = 0x7f800000u;
// Label fields (probe::BATH_SHIFT, CLASS_SHIFT, BIN_SHIFT); the region bits are 1, 2, 4.
const BATH_SHIFT: u32 = 3u;
const CLASS_SHIFT: u32 = 6u;
const BIN_SHIFT: u32 = 9u;

// Threads of a `probe_sums` workgroup: one row of 64 (few threads, so few tree levels:
// barriers are what a reduction costs, on software adapters above all).
const PROBE_WG: u32 = 64u;
// Sixteen values per thread, reduced over the workgroup together (4 KiB); the maxima,
// 16 per thread.
var<workgroup> part16: array<array<f32, 16>, PROBE_WG>;
var<workgroup> part_u: array<array<vec4<u32>, 4>, PROBE_WG>;
// The band's depth bins (codes bin + 1): lowest and highest, then as a plain value
// for workgroupUniformLoad.
var<workgroup> bin_lo: atomic<u32>;
var<workgroup> bin_hi: atomic<u32>;
var<workgroup> bin_range: vec2<u32>;

// The workgroup's sums of sixteen values (thread l's), valid in thread 0. Called in
// uniform control flow: 6 tree levels for all sixteen.
fn group_sum16(l: u32, v: array<f32, 16>) -> array<f32, 16> {
    part16[l] = v;
    for (var half = PROBE_WG / 2u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if l < half {
            for (var j = 0u; j < 16u; j++) {
                part16[l][j] = part16[l][j] + part16[l + half][j];
            }
        }
    }
    workgroupBarrier();
    let r = part16[0];
    workgroupBarrier();
    return r;
}

// The workgroup's maxima of sixteen values, valid in thread 0.
fn group_max16(l: u32, v: array<vec4<u32>, 4>) -> array<vec4<u32>, 4> {
    part_u[l] = v;
    for (var half = PROBE_WG / 2u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if l < half {
            for (var j = 0u; j < 4u; j++) {
                part_u[l][j] = max(part_u[l][j], part_u[l + half][j]);
            }
        }
    }
    workgroupBarrier();
    let r = part_u[0];
    workgroupBarrier();
    return r;
}

// Bits of |u| that order as u32 (a NaN above infinity), per component.
fn abs_bits(u: vec4<f32>) -> vec4<u32> {
    let m = bitcast<vec4<u32>>(u) & vec4<u32>(0x7fffffffu);
    return select(m, vec4<u32>(NAN_BITS), m > vec4<u32>(INF_BITS));
}

// Bits of −u for a negative u (ordered as u32), else 0, per component.
fn neg_bits(u: vec4<f32>) -> vec4<u32> {
    return select(vec4<u32>(0u), bitcast<vec4<u32>>(-u), u < vec4<f32>(0.0));
}

// One class's sums of the six per-class quantities: classes 0–3 in `lo`, class 4 in
// `hi`, selected by class (no indexing by class, so every accumulator is a register).
struct PerClass {
    lo: vec4<f32>,
    hi: f32,
}

fn add_class(acc: PerClass, cl: u32, v: f32) -> PerClass {
    let on = vec4<u32>(cl) == vec4<u32>(0u, 1u, 2u, 3u);
    return PerClass(acc.lo + select(vec4<f32>(0.0), vec4<f32>(v), on), acc.hi + select(0.0, v, cl == 4u));
}

// One workgroup per band of BAND_ROWS rows (workgroup id x) of own plane id.y of the
// slab; thread l takes x = l, l + 64, … of every row of the band. Writes the
// workgroup's row at (global z)·bands + band: the sums, the maxima, and the depth bins
// the band holds (the host clears the others to 0), sixteen per pass over the band.
@compute @workgroup_size(PROBE_WG, 1, 1)
fn probe_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
    let band = wg.x;
    let zl = wg.y;
    if l == 0u {
        atomicStore(&bin_lo, 0xffffffffu);
        atomicStore(&bin_hi, 0u);
    }
    workgroupBarrier();
    // Per class: T, A, P, bath·A, bath·P, crowding.
    var q: array<PerClass, 6>;
    // The other sums (probe::other order).
    var o: array<f32, 11>;
    // Bits of max |u| and max −u: C, A, P, T; N, K.
    var mx: array<vec4<u32>, 4>;
    var lo = 0xffffffffu;
    var hi = 0u;
    for (var j = 0u; j < BAND_ROWS; j++) {
        let y = band * BAND_ROWS + j;
        if y >= P.ny {
            break;
        }
        for (var x = l; x < P.nx; x += PROBE_WG) {
            let i = index_of(x, y, zl + 1u);
            let code = pr_labels[x + P.nxp * (y + P.ny * zl)];
            let c = pr_c[i];
            let a = pr_a[i];
            let p = pr_p[i];
            let t = pr_t[i];
            let n = pr_n[i];
            let k = pr_k[i];
            let nb = f32((code >> BATH_SHIFT) & 7u);
            let cl = (code >> CLASS_SHIFT) & 7u;
            let crowd = crowding(t);
            let b = blockade(p);
            q[0] = add_class(q[0], cl, t);
            q[1] = add_class(q[1], cl, a);
            q[2] = add_class(q[2], cl, p);
            q[3] = add_class(q[3], cl, nb * (PR.bath_a - a));
            q[4] = add_class(q[4], cl, nb * (PR.bath_p - p));
            q[5] = add_class(q[5], cl, crowd);
            o[0] += n;
            o[1] += k;
            o[2] += t * fed(n) * crowd;
            var coupled = 1.0;
            if KILL_BY != 0u {
                coupled = coupling_factor(KILL_BY, pr_kill_species[i], P.kill_level);
            }
            o[3] += kill_factor(b) * coupled * t * n;
            if cl == TUMOR {
                o[4] += n * (1.0 - n);
                o[5] += signal(c, a);
                o[6] += occupancy(c, a);
                o[7] += b;
            }
            if (code & 1u) != 0u {
                o[8] += t;
            }
            if (code & 2u) != 0u {
                o[9] += t;
            }
            if (code & 4u) != 0u {
                o[10] += t;
            }
            let v4 = vec4<f32>(c, a, p, t);
            let v2 = vec4<f32>(n, k, 0.0, 0.0);
            mx[0] = max(mx[0], abs_bits(v4));
            mx[1] = max(mx[1], abs_bits(v2));
            mx[2] = max(mx[2], neg_bits(v4));
            mx[3] = max(mx[3], neg_bits(v2));
            let bin = code >> BIN_SHIFT;
            if bin > 0u {
                lo = min(lo, bin);
                hi = max(hi, bin);
            }
        }
    }
    atomicMin(&bin_lo, lo);
    atomicMax(&bin_hi, hi);
    // The sums in probe::Sums order (per class c, quantity j at c·6 + j; then the
    // others), padded to 48, reduced sixteen at a time.
    var all: array<f32, 48>;
    for (var j = 0u; j < PER_CLASS; j++) {
        all[j] = q[j].lo.x;
        all[PER_CLASS + j] = q[j].lo.y;
        all[2u * PER_CLASS + j] = q[j].lo.z;
        all[3u * PER_CLASS + j] = q[j].lo.w;
        all[4u * PER_CLASS + j] = q[j].hi;
    }
    for (var j = 0u; j < OTHER; j++) {
        all[CLASSES * PER_CLASS + j] = o[j];
    }
    let row = ((SL.z0 + zl) * PR.bands + band) * (ROW_FIXED + PR.bins);
    for (var ch = 0u; ch < 3u; ch++) {
        var v: array<f32, 16>;
        for (var j = 0u; j < 16u; j++) {
            v[j] = all[16u * ch + j];
        }
        let s = group_sum16(l, v);
        if l == 0u {
            for (var j = 0u; j < 16u; j++) {
                if 16u * ch + j < SUMS {
                    pr_out[row + 16u * ch + j] = s[j];
                }
            }
        }
    }
    let m = group_max16(l, mx);
    if l == 0u {
        var bits = array<u32, 12>(
            m[0].x, m[0].y, m[0].z, m[0].w, m[1].x, m[1].y,
            m[2].x, m[2].y, m[2].z, m[2].w, m[3].x, m[3].y,
        );
        for (var f = 0u; f < 2u * FIELDS; f++) {
            pr_out[row + SUMS + f] = bitcast<f32>(bits[f]);
        }
        bin_range = vec2<u32>(atomicLoad(&bin_lo), atomicLoad(&bin_hi));
    }
    // The profile: the band's bins (codes lo … hi), sixteen per pass over the band.
    let range = workgroupUniformLoad(&bin_range);
    for (var b0 = range.x; b0 <= range.y; b0 += 16u) {
        var v: array<f32, 16>;
        for (var j = 0u; j < BAND_ROWS; j++) {
            let y = band * BAND_ROWS + j;
            if y >= P.ny {
                break;
            }
            for (var x = l; x < P.nx; x += PROBE_WG) {
                let bin = pr_labels[x + P.nxp * (y + P.ny * zl)] >> BIN_SHIFT;
                let t = pr_t[index_of(x, y, zl + 1u)];
                for (var m = 0u; m < 16u; m++) {
                    v[m] += select(0.0, t, bin == b0 + m);
                }
            }
        }
        let s = group_sum16(l, v);
        if l == 0u {
            for (var m = 0u; m < 16u; m++) {
                if b0 + m <= range.y {
                    pr_out[row + ROW_FIXED + b0 + m - 1u] = s[m];
                }
            }
        }
    }
}

// One thread per pixel (i, j) of the picture plane that lies in the slab: for axis z
// (i, j) = (x, y) = id.xy and the slab holding the slice writes the fields, while every
// slab takes the maximum of T over its own planes into the projection (the first slab
// sets it); for axes x and y, j = z0 + id.y for own plane id.y, and the maximum runs
// along x or y within the slab.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn probe_planes(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    let size = PR.w * PR.h;
    if i >= PR.w {
        return;
    }
    var j = id.y;
    var m = 0.0;
    var at = 0u;
    var has = false;
    if PR.axis == 2u {
        if j >= PR.h {
            return;
        }
        m = pr_t[index_of(i, j, 1u)];
        for (var zl = 1u; zl < SL.planes; zl++) {
            m = max(m, pr_t[index_of(i, j, zl + 1u)]);
        }
        if SL.z0 > 0u {
            m = max(m, pr_out[6u * size + i + PR.w * j]);
        }
        has = PR.slice >= SL.z0 && PR.slice < SL.z0 + SL.planes;
        at = index_of(i, j, PR.slice - SL.z0 + 1u);
    } else {
        if j >= SL.planes {
            return;
        }
        let zb = j + 1u;
        j = SL.z0 + j;
        if PR.axis == 0u {
            m = pr_t[index_of(0u, i, zb)];
            for (var x = 1u; x < P.nx; x++) {
                m = max(m, pr_t[index_of(x, i, zb)]);
            }
            at = index_of(PR.slice, i, zb);
        } else {
            m = pr_t[index_of(i, 0u, zb)];
            for (var y = 1u; y < P.ny; y++) {
                m = max(m, pr_t[index_of(i, y, zb)]);
            }
            at = index_of(i, PR.slice, zb);
        }
        has = true;
    }
    let o = i + PR.w * j;
    pr_out[6u * size + o] = m;
    if has {
        pr_out[o] = pr_c[at];
        pr_out[size + o] = pr_a[at];
        pr_out[2u * size + o] = pr_p[at];
        pr_out[3u * size + o] = pr_t[at];
        pr_out[4u * size + o] = pr_n[at];
        pr_out[5u * size + o] = pr_k[at];
    }
}
