//! The compute pipelines, built once per solver (the chem pipelines per set of fused
//! chemicals, on first use).

use super::shaders;

pub(super) struct Pipelines {
    pub(super) chem: ChemPipelines,
    pub(super) species: wgpu::ComputePipeline,
    pub(super) signal: wgpu::ComputePipeline,
    pub(super) cell: wgpu::ComputePipeline,
    pub(super) reduce: wgpu::ComputePipeline,
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
