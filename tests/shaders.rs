//! Every WGSL shader, exactly as the GPU solver combines it, parsed and validated by naga
//! and translated to SPIR-V, MSL, HLSL and GLSL (compute), with no GPU; and the host
//! mirrors of the WGSL structs (`GpuParams`, `GpuChem`, `GpuStep`) against the layout
//! naga computes.

use infiltrate::gpu::{
    shaders, GpuChem, GpuParams, GpuProbe, GpuSlab, GpuSpecies, GpuStep, PerClass,
};
use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn parse(shader: &shaders::Shader) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(shader.source)
        .unwrap_or_else(|e| panic!("{}: {}", shader.name, e.emit_to_string(shader.source)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", shader.name, e.emit_to_string(shader.source)));
    (module, info)
}

/// The source of every shader begins with common.wgsl, and each names the entry points
/// the solver builds pipelines from, as compute shaders with the shared workgroup shape
/// (the snapshot sums with their own).
#[test]
fn shaders_are_common_plus_kernel_with_their_entry_points() {
    let common = include_str!("../shaders/common.wgsl");
    for shader in shaders::ALL {
        assert!(shader.source.starts_with(common), "{}", shader.name);
        let (module, _) = parse(&shader);
        let names: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, shader.entry_points, "{}", shader.name);
        for ep in &module.entry_points {
            assert_eq!(ep.stage, naga::ShaderStage::Compute, "{}", ep.name);
            assert_eq!(
                ep.workgroup_size,
                shaders::workgroup_of(&ep.name),
                "{}",
                ep.name
            );
        }
    }
}

/// Each shader validates and translates, per entry point, to SPIR-V (Vulkan), MSL
/// (Metal), HLSL (DX12) and GLSL ES 3.10 (GL), so an error for any backend shows here;
/// chem.wgsl with every set of pipeline constants the solver may build (each non-empty
/// set of chemicals, with and without uptake), specialised as wgpu does it.
#[test]
fn shaders_translate_to_every_backend() {
    for shader in shaders::ALL {
        let (module, info) = parse(&shader);
        let variants: Vec<Vec<(&str, f64)>> = match shader.constants {
            Some(variants) => variants(),
            None => vec![Vec::new()],
        };
        for (&ep, constants) in shader
            .entry_points
            .iter()
            .flat_map(|ep| variants.iter().map(move |c| (ep, c)))
        {
            let what = format!("{} `{ep}` {constants:?}", shader.name);
            let mut values = naga::back::PipelineConstants::default();
            for &(name, value) in constants {
                values.insert(name.to_string(), value);
            }
            let (module, info) = naga::back::pipeline_constants::process_overrides(
                &module,
                &info,
                Some((naga::ShaderStage::Compute, ep)),
                &values,
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            let (module, info) = (module.as_ref(), info.as_ref());
            // From here on `module` and `info` are the specialised ones (references).
            let words = spv::write_vec(
                module,
                info,
                &spv::Options::default(),
                Some(&spv::PipelineOptions {
                    shader_stage: naga::ShaderStage::Compute,
                    entry_point: ep.to_string(),
                }),
            )
            .unwrap_or_else(|e| panic!("{what} to SPIR-V: {e}"));
            assert_eq!(words[0], 0x0723_0203, "{what}: SPIR-V magic");

            let (metal, _) = msl::write_string(
                module,
                info,
                &msl::Options::default(),
                &msl::PipelineOptions {
                    entry_point: Some((naga::ShaderStage::Compute, ep.to_string())),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{what} to MSL: {e}"));
            assert!(metal.contains("kernel"), "{what}: no kernel in MSL");

            let mut text = String::new();
            let options = hlsl::Options::default();
            let pipeline = hlsl::PipelineOptions {
                entry_point: Some((naga::ShaderStage::Compute, ep.to_string())),
            };
            hlsl::Writer::new(&mut text, &options, &pipeline)
                .write(module, info, None)
                .unwrap_or_else(|e| panic!("{what} to HLSL: {e}"));
            let [wx, wy, wz] = shaders::workgroup_of(ep);
            let numthreads = format!("[numthreads({wx}, {wy}, {wz})]");
            assert!(text.contains(&numthreads), "{what}: {text}");

            let mut text = String::new();
            let options = glsl::Options::default();
            let pipeline = glsl::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: ep.to_string(),
                multiview: None,
            };
            glsl::Writer::new(
                &mut text,
                module,
                info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write())
            .unwrap_or_else(|e| panic!("{what} to GLSL: {e}"));
            let local = format!("local_size_x = {}", shaders::WORKGROUP[0]);
            assert!(text.contains(&local), "{what}: {text}");
        }
    }
}

/// The named struct of a module, with its members' (name, offset) and its size.
fn struct_layout(
    module: &naga::Module,
    layouter: &naga::proc::Layouter,
    name: &str,
) -> (Vec<(String, usize)>, usize, Vec<naga::Handle<naga::Type>>) {
    let (handle, ty) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no struct {name}"));
    match &ty.inner {
        naga::TypeInner::Struct { members, span } => {
            assert_eq!(*span, layouter[handle].size, "{name}");
            (
                members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
                    .collect(),
                *span as usize,
                members.iter().map(|m| m.ty).collect(),
            )
        }
        other => panic!("{name} is not a struct: {other:?}"),
    }
}

fn owned(fields: &[(&str, usize)]) -> Vec<(String, usize)> {
    fields.iter().map(|(n, o)| (n.to_string(), *o)).collect()
}

/// `GpuParams`, `GpuChem`, `GpuStep`, `GpuSlab`, `GpuSpecies` and `GpuProbe` match
/// WGSL's structs as naga lays them out for a uniform buffer: every member's name and
/// byte offset, the sizes, and the strides of the per-class arrays
/// (`array<vec4<f32>, 2>`: 16-byte stride, 32 bytes, as `[[f32; 4]; 2]`) and of
/// `array<Chem, 3>`.
#[test]
fn host_structs_match_the_wgsl_layout() {
    let (module, _) = parse(&shaders::ALL[0]);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();

    let (members, size, types) = struct_layout(&module, &layouter, "Params");
    assert_eq!(members, owned(&GpuParams::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuParams>());
    // chem: array<Chem, 3> with the stride of one GpuChem.
    match module.types[types[0]].inner {
        naga::TypeInner::Array { stride, size, .. } => {
            assert_eq!(stride as usize, std::mem::size_of::<GpuChem>());
            assert_eq!(size, naga::ArraySize::Constant(3.try_into().unwrap()));
        }
        ref other => panic!("Params.chem: {other:?}"),
    }
    // motility: array<vec4<f32>, 2> as PerClass.
    match module.types[types[1]].inner {
        naga::TypeInner::Array { stride, .. } => {
            assert_eq!(stride, 16);
            assert_eq!(
                layouter[types[1]].size as usize,
                std::mem::size_of::<PerClass>()
            );
        }
        ref other => panic!("Params.motility: {other:?}"),
    }

    let (members, size, _) = struct_layout(&module, &layouter, "Chem");
    assert_eq!(members, owned(&GpuChem::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuChem>());

    let (members, size, _) = struct_layout(&module, &layouter, "Step");
    assert_eq!(members, owned(&GpuStep::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuStep>());

    let (members, size, _) = struct_layout(&module, &layouter, "Slab");
    assert_eq!(members, owned(&GpuSlab::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuSlab>());

    let species = shaders::ALL
        .iter()
        .find(|s| s.name == "species.wgsl")
        .expect("species.wgsl is built");
    let (module, _) = parse(species);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    let (members, size, _) = struct_layout(&module, &layouter, "Species");
    assert_eq!(members, owned(&GpuSpecies::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuSpecies>());

    let probe = shaders::ALL
        .iter()
        .find(|s| s.name == "probe.wgsl")
        .expect("probe.wgsl is built");
    let (module, _) = parse(probe);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    let (members, size, _) = struct_layout(&module, &layouter, "Probe");
    assert_eq!(members, owned(&GpuProbe::FIELDS));
    assert_eq!(size, std::mem::size_of::<GpuProbe>());
}

/// Per-class values land where the `*_of` lookups of common.wgsl read them:
/// class c at `[c >> 2][c & 3]`, unused slots 0.
#[test]
fn per_class_packing_matches_the_lookup() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    let p = infiltrate::gpu::per_class(&v);
    for (c, &x) in v.iter().enumerate() {
        assert_eq!(p[c >> 2][c & 3], x as f32);
    }
    assert_eq!(p[1][1..], [0.0; 3]);
}

/// The snapshot kernel's constants (shaders/probe.wgsl) are the host's: the sums per
/// class, the classes, the other sums, the fields checked, a row's fixed part and the
/// label fields (src/probe.rs), and the band height (gpu/probe.rs reads rows of it).
#[test]
fn probe_constants_match_the_host() {
    use infiltrate::probe;
    let shader = shaders::ALL
        .iter()
        .find(|s| s.name == "probe.wgsl")
        .expect("probe.wgsl is built");
    let (module, _) = parse(shader);
    let value = |name: &str| -> u32 {
        let (_, c) = module
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no constant {name} in probe.wgsl"));
        match module.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => v,
            ref e => panic!("{name}: {e:?}"),
        }
    };
    let want = [
        ("PER_CLASS", probe::PER_CLASS as u32),
        ("CLASSES", infiltrate::model::N_CLASSES as u32),
        ("OTHER", probe::OTHER as u32),
        ("SUMS", probe::SUMS as u32),
        ("FIELDS", probe::FIELDS as u32),
        ("ROW_FIXED", (probe::SUMS + 2 * probe::FIELDS) as u32),
        ("BATH_SHIFT", probe::BATH_SHIFT),
        ("CLASS_SHIFT", probe::CLASS_SHIFT),
        ("BIN_SHIFT", probe::BIN_SHIFT),
        ("BAND_ROWS", infiltrate::gpu::PROBE_BAND_ROWS as u32),
        ("PROBE_WG", shaders::PROBE_WORKGROUP[0]),
    ];
    for (name, v) in want {
        assert_eq!(value(name), v, "{name}");
    }
    assert_eq!(
        (probe::CORE, probe::MARGIN, probe::OUTSIDE),
        (1, 2, 4),
        "the region bits probe.wgsl tests"
    );
}

/// The face table the chem kernels read (`GpuChem::face`, built on the host once) is the
/// CPU's table in f32: for diffusivities 50, 100, 300, 30 and 0 µm²/min (the last closes
/// its faces) and a large pair, entry (i, j) equals entry (j, i) to the bit (so face
/// fluxes stay antisymmetric and mass is conserved), is D_i itself on the diagonal, 0
/// where either class is closed, and within 2 ulp of f32 (2.4e-7 relative: two roundings
/// of the f32 products and one of the quotient) of the f64 harmonic mean
/// (`terms::harmonic_mean`, what `cpu::kernels::ChemTables` holds). The bath-face
/// conductance is `2 max(D, 0)` exactly; unused class slots hold 0.
#[test]
fn face_table_is_the_cpu_table_in_f32() {
    use infiltrate::model::{terms::harmonic_mean, ChemParams, N_CLASSES};
    for d in [
        [50.0, 100.0, 300.0, 30.0, 0.0],
        [1.0e4, 3.7, 3.7, 2.9e5, 8.0],
    ] {
        let chem = ChemParams {
            diffusion: d,
            decay: [0.0; N_CLASSES],
            secretion: [0.0; N_CLASSES],
            exchange: [0.0; N_CLASSES],
        };
        let g = GpuChem::new(&chem);
        for i in 0..8 {
            for j in 0..8 {
                let f = g.face_d(i, j);
                assert_eq!(f.to_bits(), g.face_d(j, i).to_bits(), "({i}, {j})");
                if i >= N_CLASSES || j >= N_CLASSES {
                    assert_eq!(f, 0.0, "unused slot ({i}, {j})");
                    continue;
                }
                if i == j {
                    assert_eq!(f, d[i] as f32, "diagonal {i}");
                }
                let want = harmonic_mean(d[i], d[j]);
                if want == 0.0 {
                    assert_eq!(f, 0.0, "closed face ({i}, {j})");
                } else {
                    let rel = (f64::from(f) - want).abs() / want;
                    assert!(rel <= 2.4e-7, "({i}, {j}): {f} against {want} ({rel:e})");
                }
            }
            if i < N_CLASSES {
                assert_eq!(g.bath_d[i / 4][i % 4], (2.0 * d[i]) as f32, "bath {i}");
            }
        }
    }
}
