//! The terms of the model, each defined once on the host, in f64. Their WGSL twins, of
//! the same names, are in `shaders/terms.wgsl` (f32, the parameters from the uniform
//! `P`); `tests/gpu.rs` holds each twin to its host term on sampled inputs. Every kernel
//! and readout calls these, so that each term of `docs/model.md` has one definition per
//! language.

/// Fraction of CXCR4 bound by CXCL12 against the competitive antagonist AMD3100:
/// `s = (C/K_C) / (1 + C/K_C + A/K_A)`.
#[inline]
pub fn signal(c: f64, a: f64, k_c: f64, k_a: f64) -> f64 {
    let x = c / k_c;
    x / (1.0 + x + a / k_a)
}

/// Fraction of CXCR4 occupied by AMD3100: `(A/K_A) / (1 + C/K_C + A/K_A)`.
#[inline]
pub fn occupancy(c: f64, a: f64, k_c: f64, k_a: f64) -> f64 {
    let y = a / k_a;
    y / (1.0 + c / k_c + y)
}

/// PD-1 blockade by the antibody: `b = P / (P + K_P)`.
#[inline]
pub fn blockade(p: f64, k_p: f64) -> f64 {
    p / (p + k_p)
}

/// T-cell motility `μ = μ_0 · m(class) · (1 − r_arrest · s)`.
#[inline]
pub fn motility(mu0: f64, m_class: f64, arrest: f64, s: f64) -> f64 {
    mu0 * m_class * (1.0 - arrest * s)
}

/// The crowding factor of the T-cell sources, `(1 − T/T_max)₊`: clamped at 0, so that
/// influx and proliferation never turn into sinks where chemotaxis piles T above T_max.
#[inline]
pub fn crowding(t: f64, t_max: f64) -> f64 {
    (1.0 - t / t_max).max(0.0)
}

/// How well tumour cells feed T-cell proliferation, `N / (N + K_N)`, 0 where N ≤ 0.
#[inline]
pub fn fed(n: f64, k_n: f64) -> f64 {
    if n > 0.0 {
        n / (n + k_n)
    } else {
        0.0
    }
}

/// The share of full killing that PD-L1 leaves, `1 − q (1 − b)`, with PD-1 blockade b.
#[inline]
pub fn kill_factor(q: f64, b: f64) -> f64 {
    1.0 - q * (1.0 - b)
}

/// The Bernoulli function `B(x) = x/(eˣ − 1)`, `B(0) = 1`, for `x ≥ 0`: below 0.3 by its
/// series `1 − x/2 + Σ B₂ₖ x²ᵏ/(2k)!` to x¹⁰ (relative error 5e-16), else by the quotient
/// (0 once eˣ overflows).
#[inline]
pub fn bernoulli(x: f64) -> f64 {
    if x < 0.3 {
        let y = x * x;
        // B₂ₖ/(2k)!, k = 1 … 5, by Horner in y = x².
        let p = 1.0 / 47900160.0;
        let p = -1.0 / 1209600.0 + y * p;
        let p = 1.0 / 30240.0 + y * p;
        let p = -1.0 / 720.0 + y * p;
        let p = 1.0 / 12.0 + y * p;
        1.0 - 0.5 * x + y * p
    } else {
        x / (x.exp() - 1.0)
    }
}

/// The reciprocal of the logarithmic mean `(a − b)/ln(a/b)` of two motilities,
/// `ln(a/b)/(a − b)` (symmetric to the bit; `1/a` when they are equal; 0, standing for
/// "none", when either is ≤ 0). Up to `max/min = 1.2` by `2 atanh(z)/z / (a + b)`,
/// `z = (max − min)/(max + min)`, the series of `atanh(z)/z` to z¹² (relative error
/// 4e-16), one division; else the quotient.
#[inline]
pub fn inv_log_mean(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo <= 0.0 {
        return 0.0;
    }
    if hi <= 1.2 * lo {
        let r = 1.0 / (hi + lo);
        let z = (hi - lo) * r;
        let z2 = z * z;
        // atanh(z)/z = 1 + Σ z²ᵏ/(2k + 1), k = 1 … 6, by Horner in z².
        let p = 1.0 / 13.0;
        let p = 1.0 / 11.0 + z2 * p;
        let p = 1.0 / 9.0 + z2 * p;
        let p = 1.0 / 7.0 + z2 * p;
        let p = 1.0 / 5.0 + z2 * p;
        let p = 1.0 / 3.0 + z2 * p;
        2.0 * (1.0 + z2 * p) * r
    } else {
        (hi / lo).ln() / (hi - lo)
    }
}

/// The reciprocal face motility across a class boundary, the mean of the reciprocals
/// `(1/a + 1/b)/2`: the integral of 1/μ over the face's two halves, μ taking each side's
/// value (symmetric to the bit; 0, standing for "none", when either is ≤ 0).
#[inline]
pub fn inv_face_across(a: f64, b: f64) -> f64 {
    if a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    0.5 / a + 0.5 / b
}

/// `−F_ij · h` of the exponentially fitted (Scharfetter–Gummel) T-cell flux: the upwind
/// drift `−χ Δs T_d` (d the donor: i when `s_j > s_i`, else j) plus the motile exchange
/// of `w = μ T` scaled by `β = (μ_f/μ_d) B(χ|Δs|/μ_f)`. Its zero-flux ratio is
/// `w_j/w_i = 1 + χΔs/(μ_d β) = exp(χΔs/μ_f)`: the Boltzmann factor with the face
/// motility μ_f. Inside one class (`same_class`) μ_f is the logarithmic mean of μ_i and
/// μ_j, which makes the ratio `exp(∫χ/μ ds)` exact for μ linear in s (arrest); across
/// classes, where μ jumps with the class's factor, μ_f is their harmonic mean
/// ([`inv_face_across`]), second order in h. The donor's coefficient, `μ_f B + χ|Δs|`,
/// stays within the upwind flux's `μ_max + χ|Δs|`; the receiver's, `β μ_i`, within μ_i
/// inside a class and below `2 μ_i` across classes: the bound of
/// [`crate::model::cell_bound`]. No drift: β = 1; a donor that cannot move (`μ_d = 0`):
/// β = 0. Antisymmetric in (i, j) to the bit.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn t_face_inflow_fitted(
    w_i: f64,
    w_j: f64,
    s_i: f64,
    s_j: f64,
    t_i: f64,
    t_j: f64,
    mu_i: f64,
    mu_j: f64,
    same_class: bool,
    chi: f64,
) -> f64 {
    let ds = s_j - s_i;
    let (donor, mu_d) = if ds > 0.0 { (t_i, mu_i) } else { (t_j, mu_j) };
    let drift = chi * ds.abs();
    let beta = if drift == 0.0 {
        1.0
    } else if mu_d <= 0.0 {
        0.0
    } else {
        // 1/μ_f: β = B(χ|Δs|/μ_f) / (μ_d/μ_f), two divisions per face in all (three
        // across classes).
        let inv = if same_class {
            inv_log_mean(mu_i, mu_j)
        } else {
            inv_face_across(mu_i, mu_j)
        };
        if inv > 0.0 {
            bernoulli(drift * inv) / (mu_d * inv)
        } else {
            0.0
        }
    };
    beta * (w_j - w_i) - chi * ds * donor
}

/// `−F_ij · h`, the first-order upwind T-cell flux into voxel i from neighbour j times
/// h (`chemotaxis_flux = "upwind"`): the motile exchange of `w = μ T` plus upwind
/// chemotaxis (the donor is T_i when `s_j > s_i`, else T_j). Antisymmetric in (i, j) to
/// the bit.
#[inline]
pub fn t_face_inflow(w_i: f64, w_j: f64, s_i: f64, s_j: f64, t_i: f64, t_j: f64, chi: f64) -> f64 {
    let ds = s_j - s_i;
    let donor = if ds > 0.0 { t_i } else { t_j };
    (w_j - w_i) - chi * ds * donor
}

/// CXCL12 taken up by T cells, `k_int · T · s`, nM/min.
#[inline]
pub fn uptake(k_int: f64, t: f64, s: f64) -> f64 {
    k_int * t * s
}

/// What T cells and tumour cells secrete of a species, `σ_T T + σ_N N + σ_TN T N`
/// (u/min).
#[inline]
pub fn secreted(by_t: f64, by_n: f64, by_tn: f64, t: f64, n: f64) -> f64 {
    by_t * t + by_n * n + by_tn * t * n
}

/// The coupling `kill_boost`: a species raising the kill rate by `1 + I/K`
/// (`model::couplings`).
#[inline]
pub fn kill_boost(i: f64, k: f64) -> f64 {
    1.0 + i / k
}

/// The coupling `kill_inhibit`: a species lowering the kill rate by `1/(1 + I/K)`
/// (`model::couplings`).
#[inline]
pub fn kill_inhibit(i: f64, k: f64) -> f64 {
    1.0 / (1.0 + i / k)
}

/// Harmonic mean of two diffusivities, the face diffusivity between their voxels: 0 if
/// either is 0 (a face between a diffusing and a non-diffusing class is closed).
/// Symmetric in its arguments to the bit. WGSL twin: `harmonic_mean` in common.wgsl.
pub fn harmonic_mean(a: f64, b: f64) -> f64 {
    if a <= 0.0 || b <= 0.0 {
        0.0
    } else if a == b {
        a
    } else {
        2.0 * a * b / (a + b)
    }
}
