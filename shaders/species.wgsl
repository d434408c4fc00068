//! One forward-Euler sub-step of a species the scenario adds (`[[species]]`), the twin
//! of `cpu::CpuSolver::species_step`: the stencil of stencil.wgsl with the species'
//! coefficients (the uniform `SP`), its Δt and levels (component 0 of `S.chem_dt`,
//! `S.plasma`, `S.bath`), and its secretion by cells `σ_T T + σ_N N + σ_TN T N` from the
//! current T and N (`secreted` of terms.wgsl) added to its sources.

// Keep in sync with `GpuSpecies` in src/gpu/params.rs (tests/shaders.rs checks the
// layout).
struct Species {
    chem: Chem,
    by_t: f32,
    by_n: f32,
    by_tn: f32,
    pad0: f32,
}

@group(1) @binding(0) var<uniform> SP: Species;
@group(1) @binding(1) var<storage, read> sp_in: array<vec4<f32>>;
@group(1) @binding(2) var<storage, read_write> sp_out: array<vec4<f32>>;
@group(1) @binding(3) var<storage, read> sp_t: array<vec4<f32>>;
@group(1) @binding(4) var<storage, read> sp_n: array<vec4<f32>>;

// The species' current field (its only input buffer).
fn chem_in(k: u32, i: u32) -> vec4<f32> {
    return sp_in[i];
}

// Class c's row of the species' face table.
fn face_row(k: u32, c: u32) -> FaceRow {
    return FaceRow(SP.chem.face[2u * c], SP.chem.face[2u * c + 1u]);
}

// One thread per quad: x = 4·id.x … 4·id.x + 3 (those < nx), y = id.y, z = id.z.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn species_step(@builtin(global_invocation_id) id: vec3<u32>) {
    if !quad_in_grid(id) {
        return;
    }
    let q = quad_of(id);
    let w = quad_classes(q);
    let t = sp_t[q.i];
    let n = sp_n[q.i];
    let made = vec4<f32>(
        secreted(SP.by_t, SP.by_n, SP.by_tn, t.x, n.x),
        secreted(SP.by_t, SP.by_n, SP.by_tn, t.y, n.y),
        secreted(SP.by_t, SP.by_n, SP.by_tn, t.z, n.z),
        secreted(SP.by_t, SP.by_n, SP.by_tn, t.w, n.w),
    );
    // A source enters chem_quad as a negative uptake: r − (−x) is r + x to the bit.
    sp_out[q.i] = chem_quad(0u, SP.chem, S.chem_dt[0], S.bath[0], S.plasma[0], q, w, -made);
}
