//! Seeded, stateless randomness: a splitmix64 hash of (seed, stream, index) for
//! per-voxel draws, and smooth value noise on a hashed integer lattice. Every value is a
//! pure function of its arguments, so results do not depend on evaluation order or on
//! the number of threads.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a bijective mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key for one independent stream of draws under a seed.
pub fn stream_key(seed: u64, stream: u64) -> u64 {
    mix64(
        seed.wrapping_add(GOLDEN)
            .wrapping_add(mix64(stream.wrapping_mul(GOLDEN))),
    )
}

/// 64 random bits for item `i` of the stream `key`.
pub fn hash(key: u64, i: u64) -> u64 {
    mix64(key ^ mix64(i.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// Uniform in [0, 1) with 53 random bits, for item `i` of the stream `key`.
pub fn uniform(key: u64, i: u64) -> f64 {
    (hash(key, i) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform in [−1, 1) at the lattice point (ix, iy, iz).
fn lattice(key: u64, ix: i64, iy: i64, iz: i64) -> f64 {
    let h = hash(hash(hash(key, ix as u64), iy as u64), iz as u64);
    (h >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
}

/// Quintic fade, `6t⁵ − 15t⁴ + 10t³`: C² continuous interpolation weights.
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// Smooth value noise in [−1, 1]: random values at the integer lattice, interpolated
/// with quintic weights. Correlation length about one lattice cell.
pub fn value_noise(key: u64, p: [f64; 3]) -> f64 {
    let fl = p.map(f64::floor);
    let i = fl.map(|x| x as i64);
    let w = [fade(p[0] - fl[0]), fade(p[1] - fl[1]), fade(p[2] - fl[2])];
    let mut acc = 0.0;
    for dz in 0..2 {
        let wz = if dz == 0 { 1.0 - w[2] } else { w[2] };
        let mut accy = 0.0;
        for dy in 0..2 {
            let wy = if dy == 0 { 1.0 - w[1] } else { w[1] };
            let a = lattice(key, i[0], i[1] + dy, i[2] + dz);
            let b = lattice(key, i[0] + 1, i[1] + dy, i[2] + dz);
            accy += wy * (a + w[0] * (b - a));
        }
        acc += wz * accy;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_smooth_and_hits_the_lattice() {
        let key = stream_key(7, 2);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for k in 0..20_000u64 {
            let p = [
                uniform(key, 3 * k) * 20.0 - 10.0,
                uniform(key, 3 * k + 1) * 20.0 - 10.0,
                uniform(key, 3 * k + 2) * 20.0 - 10.0,
            ];
            let v = value_noise(key, p);
            assert!((-1.0..=1.0).contains(&v));
            lo = lo.min(v);
            hi = hi.max(v);
            let e = 1e-6;
            let dv = value_noise(key, [p[0] + e, p[1], p[2]]) - v;
            assert!(dv.abs() < 1e-5, "not smooth at {p:?}");
        }
        assert!(lo < -0.7 && hi > 0.7, "range [{lo}, {hi}]");
        assert_eq!(value_noise(key, [2.0, -3.0, 5.0]), lattice(key, 2, -3, 5));
    }

    #[test]
    fn uniform_mean_is_half() {
        let key = stream_key(1, 1);
        let n = 100_000;
        let mean = (0..n).map(|i| uniform(key, i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
