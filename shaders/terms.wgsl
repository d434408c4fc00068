// The terms of the model, one definition each in WGSL, twins of src/model/terms.rs (same
// names; f32; parameters from the uniform P). tests/gpu.rs holds each to its host twin on
// sampled inputs. Combined after common.wgsl with every kernel (src/gpu/shaders.rs).

// Fraction of CXCR4 bound by CXCL12 against AMD3100: (C/K_C) / (1 + C/K_C + A/K_A).
fn signal(c: f32, a: f32) -> f32 {
    let x = c * P.inv_k_c;
    return x / (1.0 + x + a * P.inv_k_a);
}

// Fraction of CXCR4 occupied by AMD3100: (A/K_A) / (1 + C/K_C + A/K_A).
fn occupancy(c: f32, a: f32) -> f32 {
    let y = a * P.inv_k_a;
    return y / (1.0 + c * P.inv_k_c + y);
}

// PD-1 blockade by the antibody: P / (P + K_P).
fn blockade(p: f32) -> f32 {
    return p / (p + P.k_p);
}

// T-cell motility μ_0 · m(class) · (1 − r_arrest · s).
fn motility(c: u32, s: f32) -> f32 {
    return P.mu0 * motility_factor(c) * (1.0 - P.arrest * s);
}

// The crowding factor of the T-cell sources, (1 − T/T_max)₊.
fn crowding(t: f32) -> f32 {
    return max(1.0 - t * P.inv_t_max, 0.0);
}

// How well tumour cells feed T-cell proliferation, N / (N + K_N), 0 where N ≤ 0.
fn fed(n: f32) -> f32 {
    if n > 0.0 {
        return n / (n + P.k_n);
    }
    return 0.0;
}

// The share of full killing that PD-L1 leaves, 1 − q (1 − b).
fn kill_factor(b: f32) -> f32 {
    return 1.0 - P.q * (1.0 - b);
}

// The Bernoulli function B(x) = x/(eˣ − 1), B(0) = 1, for x ≥ 0: below 0.3 its series to
// x¹⁰, else the quotient (0 once eˣ overflows).
fn bernoulli(x: f32) -> f32 {
    if x < 0.3 {
        let y = x * x;
        // B₂ₖ/(2k)!, k = 1 … 5, by Horner in y = x².
        var p = 1.0 / 47900160.0;
        p = -1.0 / 1209600.0 + y * p;
        p = 1.0 / 30240.0 + y * p;
        p = -1.0 / 720.0 + y * p;
        p = 1.0 / 12.0 + y * p;
        return 1.0 - 0.5 * x + y * p;
    }
    return x / (exp(x) - 1.0);
}

// The reciprocal of the logarithmic mean of two motilities, ln(a/b)/(a − b)
// (symmetric; 1/a when equal; 0, standing for "none", when either is ≤ 0): up to
// max/min = 1.2 by 2 atanh(z)/z / (a + b), z = (max − min)/(max + min), by its series;
// else the quotient.
fn inv_log_mean(a: f32, b: f32) -> f32 {
    let hi = max(a, b);
    let lo = min(a, b);
    if lo <= 0.0 {
        return 0.0;
    }
    if hi <= 1.2 * lo {
        let r = 1.0 / (hi + lo);
        let z = (hi - lo) * r;
        let z2 = z * z;
        // atanh(z)/z = 1 + Σ z²ᵏ/(2k + 1), k = 1 … 6, by Horner in z².
        var p = 1.0 / 13.0;
        p = 1.0 / 11.0 + z2 * p;
        p = 1.0 / 9.0 + z2 * p;
        p = 1.0 / 7.0 + z2 * p;
        p = 1.0 / 5.0 + z2 * p;
        p = 1.0 / 3.0 + z2 * p;
        return 2.0 * (1.0 + z2 * p) * r;
    }
    return log(hi / lo) / (hi - lo);
}

// The reciprocal face motility across a class boundary, (1/a + 1/b)/2: the integral
// of 1/μ over the face's two halves (symmetric; 0, standing for "none", when either is
// ≤ 0).
fn inv_face_across(a: f32, b: f32) -> f32 {
    if a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    return 0.5 / a + 0.5 / b;
}

// −F_ij·h of the exponentially fitted (Scharfetter–Gummel) T-cell flux: the upwind drift
// −χ Δs T_d (d the donor: i when s_j > s_i, else j) plus the motile exchange of μT
// scaled by β = (μ_f/μ_d) B(χ|Δs|/μ_f), 1/μ_f the reciprocal of the logarithmic mean of
// μ_i and μ_j inside one class and the mean of their reciprocals across classes; β = 1
// without drift, 0 when the donor cannot move. Antisymmetric in (i, j).
fn t_face_inflow_fitted(
    w_i: f32,
    w_j: f32,
    s_i: f32,
    s_j: f32,
    t_i: f32,
    t_j: f32,
    mu_i: f32,
    mu_j: f32,
    same_class: bool,
) -> f32 {
    let ds = s_j - s_i;
    let up = ds > 0.0;
    let donor = select(t_j, t_i, up);
    let mu_d = select(mu_j, mu_i, up);
    let drift = P.chi * abs(ds);
    var beta = 1.0;
    if drift != 0.0 {
        beta = 0.0;
        if mu_d > 0.0 {
            // 1/μ_f (0: a motility ≤ 0, then β = 0): two divisions per face in all
            // (three across classes).
            var inv = 0.0;
            if same_class {
                inv = inv_log_mean(mu_i, mu_j);
            } else {
                inv = inv_face_across(mu_i, mu_j);
            }
            if inv > 0.0 {
                beta = bernoulli(drift * inv) / (mu_d * inv);
            }
        }
    }
    return beta * (w_j - w_i) - P.chi * ds * donor;
}

// −F_ij·h of the first-order upwind T-cell flux from i to j, times h
// (`chemotaxis_flux = "upwind"`): the motile exchange of μT plus upwind chemotaxis
// (donor T_i when s_j > s_i, else T_j). Antisymmetric in (i, j) to the bit.
fn t_face_inflow(w_i: f32, w_j: f32, s_i: f32, s_j: f32, t_i: f32, t_j: f32) -> f32 {
    let ds = s_j - s_i;
    let donor = select(t_j, t_i, ds > 0.0);
    return (w_j - w_i) - P.chi * ds * donor;
}

// CXCL12 taken up by T cells, k_int · T · s, for a quad of voxels.
fn uptake(t: vec4<f32>, s: vec4<f32>) -> vec4<f32> {
    return P.c_uptake * t * s;
}

// What T cells and tumour cells secrete of a species, σ_T T + σ_N N + σ_TN T N.
fn secreted(by_t: f32, by_n: f32, by_tn: f32, t: f32, n: f32) -> f32 {
    return by_t * t + by_n * n + by_tn * t * n;
}

// The coupling `kill_boost`: a species raising the kill rate by 1 + I/K.
fn kill_boost(i: f32, k: f32) -> f32 {
    return 1.0 + i / k;
}

// The coupling `kill_inhibit`: a species lowering the kill rate by 1/(1 + I/K).
fn kill_inhibit(i: f32, k: f32) -> f32 {
    return 1.0 / (1.0 + i / k);
}

// The factor of coupling `which` (its row of the host's `model::couplings::COUPLINGS`
// plus one; 0: none) at a species level i, its level k.
fn coupling_factor(which: u32, i: f32, k: f32) -> f32 {
    switch which {
        case 1u: {
            return kill_boost(i, k);
        }
        case 2u: {
            return kill_inhibit(i, k);
        }
        default: {
            return 1.0;
        }
    }
}
