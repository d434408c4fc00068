//! One forward-Euler sub-step of each chemical a pass steps (bit k of `CHEMS`: 0
//! CXCL12, 1 AMD3100, 2 anti-PD-1), the twin of `cpu::kernels::chem_step`: `u_i += Δt_k
//! [Σ_f D_f (u_j − u_i)/h² + σ − λ u_i + κ (u_plasma − u_i)]`, a bath face adding `2 D_i
//! (u_bath − u_i)/h²`; CXCL12 also loses `k_int · T · s(C, A)` (with `UPTAKE`).
//!
//! A pass steps one chemical, or several at once when the host fuses their sub-steps
//! (`solver::advance_steps`: no chemical's sub-step reads another's field, except
//! CXCL12's uptake reading AMD3100, which then reads it before AMD3100 is stepped). A
//! fused pass loads the class words once and steps each chemical from its own input
//! buffer with its own Δt and levels (component k of `S.chem_dt`, `S.plasma`,
//! `S.bath`), so each chemical comes out as from a pass of its own, to the bit.
//!
//! The quad stencil is stencil.wgsl's (combined before this file by src/gpu/shaders.rs).

// Each chemical's current field (in) and the one its sub-step writes (out): every chem
// pass binds all three pairs and the current T cells (for CXCL12 uptake).
@group(1) @binding(0) var<storage, read> c_in: array<vec4<f32>>;
@group(1) @binding(1) var<storage, read_write> c_out: array<vec4<f32>>;
@group(1) @binding(2) var<storage, read> a_in: array<vec4<f32>>;
@group(1) @binding(3) var<storage, read_write> a_out: array<vec4<f32>>;
@group(1) @binding(4) var<storage, read> p_in: array<vec4<f32>>;
@group(1) @binding(5) var<storage, read_write> p_out: array<vec4<f32>>;
@group(1) @binding(6) var<storage, read> t_cells: array<vec4<f32>>;

// vec4 i of chemical k's current field. Every call passes a constant k, so once
// inlined the switch folds to one load.
fn chem_in(k: u32, i: u32) -> vec4<f32> {
    switch k {
        case 0u: {
            return c_in[i];
        }
        case 1u: {
            return a_in[i];
        }
        default: {
            return p_in[i];
        }
    }
}

// Class c's row of chemical k's face table (k constant once inlined: one uniform load
// pair, indexed by the voxel's class).
fn face_row(k: u32, c: u32) -> FaceRow {
    return FaceRow(P.chem[k].face[2u * c], P.chem[k].face[2u * c + 1u]);
}

// The chemicals this pipeline's passes step (bit k for chemical k, as `S.chems`), and
// whether CXCL12 is taken up by T cells: pipeline constants, so that each pipeline holds
// the code of its own chemicals only (a branch on a uniform value made lavapipe run every
// chemical's code masked: one chemical took 6.7× as long).
override CHEMS: u32 = 7u;
override UPTAKE: bool = true;

// Whether this pipeline steps chemical k.
fn stepped(k: u32) -> bool {
    return ((CHEMS >> k) & 1u) != 0u;
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z; steps
// each chemical of the pipeline (branches on constants: the others' code is not there).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn chem_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    let w = quad_classes(q);
    if stepped(0u) {
        // CXCL12 uptake by T cells, with s from the current C and A.
        var up = vec4<f32>(0.0);
        if UPTAKE {
            let u = c_in[q.i];
            let a = a_in[q.i];
            let s = vec4<f32>(signal(u.x, a.x), signal(u.y, a.y), signal(u.z, a.z), signal(u.w, a.w));
            up = uptake(t_cells[q.i], s);
        }
        c_out[q.i] = chem_quad(0u, P.chem[0], S.chem_dt[0], S.bath[0], S.plasma[0], q, w, up);
    }
    if stepped(1u) {
        a_out[q.i] = chem_quad(1u, P.chem[1], S.chem_dt[1], S.bath[1], S.plasma[1], q, w, vec4<f32>(0.0));
    }
    if stepped(2u) {
        p_out[q.i] = chem_quad(2u, P.chem[2], S.chem_dt[2], S.bath[2], S.plasma[2], q, w, vec4<f32>(0.0));
    }
}
