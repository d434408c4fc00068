//! The compute pipelines, built once per solver (the chem pipelines per set of fused
//! chemicals, on first use).

use super::resources::Layouts;
use super::shaders;
use crate::model::Params;

pub(super) struct Pipelines {
    pub(super) chem: ChemPipelines,
    pub(super) species: wgpu::ComputePipeline,
    pub(super) cell: wgpu::ComputePipeline,
}

/// The chem pipelines, one per set of chemicals a pass steps (bit k for chemical k),
/// each built the first time a pass needs it (a pass steps one chemical, or those whose
/// sub-steps [`crate::solver::advance_steps_from`] fuses): the kernel's `CHEMS` and `UPTAKE`
/// are pipeline constants, so each pipeline holds the code of its chemicals only.
pub(super) struct ChemPipelines {
    pub(super) module: wgpu::ShaderModule,
    pub(super) layout: wgpu::PipelineLayout,
    /// Whether CXCL12 is taken up by T cells (`UPTAKE`).
    pub(super) uptake: bool,
    pub(super) built: [Option<wgpu::ComputePipeline>; 8],
}

impl ChemPipelines {
    /// Builds the pipeline for `chems` unless it is built.
    ///
    /// # Panics
    /// If wgpu refuses it: the module and layout are those every chem pipeline shares,
    /// and tests/gpu.rs builds every set of chemicals.
    pub(super) fn ensure(&mut self, device: &wgpu::Device, chems: u32) {
        let slot = &mut self.built[chems as usize];
        if slot.is_some() {
            return;
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let constants = shaders::chem_constants(chems, self.uptake);
        *slot = Some(
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("chem_step"),
                layout: Some(&self.layout),
                module: &self.module,
                entry_point: Some("chem_step"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                cache: None,
            }),
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            panic!("building the chem pipeline for chemicals {chems:#05b}: {e}");
        }
    }

    /// The pipeline for `chems`, built by [`Self::ensure`].
    pub(super) fn get(&self, chems: u32) -> &wgpu::ComputePipeline {
        self.built[chems as usize]
            .as_ref()
            .expect("a chem pipeline is built when its pass is recorded")
    }
}

impl Pipelines {
    /// Every pipeline but the chem pipelines (built per set of fused chemicals, on first
    /// use): the cell step specialised by whether a species raises the kill rate.
    pub(super) fn new(device: &wgpu::Device, layouts: &Layouts, params: &Params) -> Pipelines {
        let module = |name: &str, source: &'static str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            })
        };
        let pipeline_layout = |name: &str, layout: &wgpu::BindGroupLayout| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(&layouts.fixed), Some(layout)],
                immediate_size: 0,
            })
        };
        let pipeline = |name: &str,
                        m: &wgpu::ShaderModule,
                        layout: &wgpu::BindGroupLayout,
                        constants: &[(&str, f64)]| {
            let pl = pipeline_layout(name, layout);
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: Some(&pl),
                module: m,
                entry_point: Some(name),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    ..Default::default()
                },
                cache: None,
            })
        };
        let cell_constants = shaders::cell_constants(params);
        Pipelines {
            chem: ChemPipelines {
                layout: pipeline_layout("chem_step", &layouts.chem),
                module: module("chem.wgsl", shaders::CHEM),
                uptake: params.c_uptake != 0.0,
                built: Default::default(),
            },
            species: pipeline(
                "species_step",
                &module("species.wgsl", shaders::SPECIES),
                &layouts.species,
                &[],
            ),
            cell: pipeline(
                "cell_step",
                &module("cell.wgsl", shaders::CELL),
                &layouts.cell,
                &cell_constants,
            ),
        }
    }
}
