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
    pad0: u32,
    pad1: u32,
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

// Rows of a plane one workgroup of `probe_sums` sums.
const BAND_ROWS: u32 = 16u;
// Sums per class (T, A, P, bath·A, bath·P, crowding) and classes (probe::PER_CLASS,
// N_CLASSES), the other sums (probe::OTHER), fields checked (probe::FIELDS).
const PER_CLASS: u32 = 6u;
const CLASSES: u32 = 5u;
const OTHER: u32 = 11u;
const SUMS: u32 = 41u;
const FIELDS: u32 = 6u;
// A row: SUMS sums, then per field the bits of max |u| and of max −u, then the bins.
const ROW_FIXED: u32 = 53u;
// Bins summed per march over the band.
const BIN_CHUNK: u32 = 32u;
const NAN_BITS: u32 = 0x7fc00000u;
const INF_BITS: u32 = 0x7f800000u;

var<workgroup> part_f: array<f32, WG_SIZE>;
var<workgroup> part_u: array<u32, WG_SIZE>;

// The workgroup's sum of v (thread l's value), the same in every thread. Called in
// uniform control flow.
fn group_sum(l: u32, v: f32) -> f32 {
    part_f[l] = v;
    for (var half = WG_SIZE / 2u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if l < half {
            part_f[l] = part_f[l] + part_f[l + half];
        }
    }
    workgroupBarrier();
    let r = part_f[0];
    workgroupBarrier();
    return r;
}

fn group_max(l: u32, v: u32) -> u32 {
    part_u[l] = v;
    for (var half = WG_SIZE / 2u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if l < half {
            part_u[l] = max(part_u[l], part_u[l + half]);
        }
    }
    workgroupBarrier();
    let r = part_u[0];
    workgroupBarrier();
    return r;
}

// Bits of |u| that order as u32 (a NaN above infinity).
fn abs_bits(u: f32) -> u32 {
    let m = bitcast<u32>(u) & 0x7fffffffu;
    return select(m, NAN_BITS, m > INF_BITS);
}

// Bits of −u for a negative u (ordered as u32), else 0.
fn neg_bits(u: f32) -> u32 {
    return select(0u, bitcast<u32>(-u), u < 0.0);
}

// Fraction of CXCR4 occupied by AMD3100: (A/K_A) / (1 + C/K_C + A/K_A).
fn occupancy(c: f32, a: f32) -> f32 {
    let y = a * P.inv_k_a;
    return y / (1.0 + c * P.inv_k_c + y);
}

// One workgroup per band of BAND_ROWS rows (workgroup id x) of own plane id.y of the
// slab; thread (lx, ly) takes x = lx, lx + 64, … of rows band·16 + ly + 4j. Writes the
// workgroup's row at (global z)·bands + band.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn probe_sums(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    let band = wg.x;
    let zl = wg.y;
    var acc: array<f32, SUMS>;
    var hi: array<u32, 12>;
    for (var j = 0u; j < BAND_ROWS / WG_Y; j++) {
        let y = band * BAND_ROWS + lid.y + WG_Y * j;
        if y >= P.ny {
            continue;
        }
        for (var x = lid.x; x < P.nx; x += WG_X) {
            let i = index_of(x, y, zl + 1u);
            let code = pr_labels[x + P.nxp * (y + P.ny * zl)];
            let c = pr_c[i];
            let a = pr_a[i];
            let p = pr_p[i];
            let t = pr_t[i];
            let n = pr_n[i];
            let k = pr_k[i];
            let nb = f32((code >> 3u) & 7u);
            let cl = (code >> 6u) & 7u;
            let crowd = max(1.0 - t * P.inv_t_max, 0.0);
            var fed = 0.0;
            if n > 0.0 {
                fed = n / (n + P.k_n);
            }
            let b = blockade(p);
            let r = cl * PER_CLASS;
            acc[r] += t;
            acc[r + 1u] += a;
            acc[r + 2u] += p;
            acc[r + 3u] += nb * a;
            acc[r + 4u] += nb * p;
            acc[r + 5u] += crowd;
            let o = CLASSES * PER_CLASS;
            acc[o] += n;
            acc[o + 1u] += k;
            acc[o + 2u] += t * fed * crowd;
            acc[o + 3u] += (1.0 - P.q * (1.0 - b)) * t * n;
            if cl == TUMOR {
                acc[o + 4u] += n * (1.0 - n);
                acc[o + 5u] += signal(c, a);
                acc[o + 6u] += occupancy(c, a);
                acc[o + 7u] += b;
            }
            if (code & 1u) != 0u {
                acc[o + 8u] += t;
            }
            if (code & 2u) != 0u {
                acc[o + 9u] += t;
            }
            if (code & 4u) != 0u {
                acc[o + 10u] += t;
            }
            var v = array<f32, 6>(c, a, p, t, n, k);
            for (var f = 0u; f < FIELDS; f++) {
                hi[f] = max(hi[f], abs_bits(v[f]));
                hi[FIELDS + f] = max(hi[FIELDS + f], neg_bits(v[f]));
            }
        }
    }
    let row = ((SL.z0 + zl) * PR.bands + band) * (ROW_FIXED + PR.bins);
    for (var q = 0u; q < SUMS; q++) {
        let s = group_sum(l, acc[q]);
        if l == 0u {
            pr_out[row + q] = s;
        }
    }
    for (var q = 0u; q < 2u * FIELDS; q++) {
        let m = group_max(l, hi[q]);
        if l == 0u {
            pr_out[row + SUMS + q] = bitcast<f32>(m);
        }
    }
    // The profile, BIN_CHUNK bins per march over the band.
    for (var b0 = 0u; b0 < PR.bins; b0 += BIN_CHUNK) {
        var bins: array<f32, BIN_CHUNK>;
        for (var j = 0u; j < BAND_ROWS / WG_Y; j++) {
            let y = band * BAND_ROWS + lid.y + WG_Y * j;
            if y >= P.ny {
                continue;
            }
            for (var x = lid.x; x < P.nx; x += WG_X) {
                let bin = pr_labels[x + P.nxp * (y + P.ny * zl)] >> 9u;
                if bin > b0 && bin <= b0 + BIN_CHUNK {
                    bins[bin - 1u - b0] += pr_t[index_of(x, y, zl + 1u)];
                }
            }
        }
        for (var q = 0u; q < min(BIN_CHUNK, PR.bins - b0); q++) {
            let s = group_sum(l, bins[q]);
            if l == 0u {
                pr_out[row + ROW_FIXED + b0 + q] = s;
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
