//! Kernel timing for `infiltrate bench`: each kernel dispatched `reps` times in one
//! compute pass, timed by GPU timestamps at the pass's ends where the adapter has them
//! (else by the wall clock around a waited submission), beside a plain `vec4` copy of
//! one field's bytes on the same device, the yardstick of every ratio. Timing leaves
//! the fields meaningless: a solver that was timed is thrown away.

use std::time::Instant;

use super::resources::CHEM_KEYS;
use super::{bind, read_mapped, storage_layout, GpuError, GpuSolver, GpuStep};
use crate::scenario::Chemical;
use crate::solver::SubStep;

/// How a time was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// GPU timestamps at the start and end of the pass.
    Timestamps,
    /// Host clock around a submission and its completion.
    WallClock,
}

/// One kernel's time per dispatch (median of the rounds) and the fewest bytes per voxel
/// it must move (each field it reads once, each it writes once; classes 1 byte).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelTime {
    pub name: &'static str,
    pub seconds: f64,
    pub bytes_per_voxel: f64,
}

/// Bytes between two kernels' resolved timestamps (`QUERY_RESOLVE_BUFFER_ALIGNMENT`).
const RESOLVE_STRIDE: u64 = wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT;

/// The kernels timed, in the order reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Copy,
    /// A chem pass of one chemical (AMD3100).
    Chem,
    /// A chem pass of CXCL12 (with uptake by T cells where the model has it).
    ChemCxcl12,
    /// One chem pass stepping C, A and P together.
    ChemFused,
    /// The cell step, the receptor terms computed in it from C and A.
    Cell,
    /// One sub-step of C, A and P in one fused pass and the cell step: as `advance`
    /// runs them when the sub-step counts coincide.
    Unit,
    /// The same with a pass per chemical.
    UnitUnfused,
}

/// The kernels timed with their names and the fewest bytes per voxel each must move;
/// `uptake`: CXCL12 steps with uptake (which reads T and A).
fn kernels(uptake: bool) -> [(Kernel, &'static str, f64); 7] {
    // C, class (T, A) → C'
    let (cxcl12, c) = if uptake {
        ("chem_step_uptake", 17.0)
    } else {
        ("chem_step_cxcl12", 9.0)
    };
    // The CXCL12 pass, and A and P in and out (A read once, the classes once).
    let fused = c + 16.0 - if uptake { 4.0 } else { 0.0 };
    // C, A, T, N, K, P, class → T', N, K.
    let cell = 37.0;
    [
        (Kernel::Copy, "copy_vec4", 8.0),
        // u, class → u'
        (Kernel::Chem, "chem_step", 9.0),
        (Kernel::ChemCxcl12, cxcl12, c),
        (Kernel::ChemFused, "chem_fused", fused),
        (Kernel::Cell, "cell_step", cell),
        (Kernel::Unit, "unit_step", fused + cell),
        (
            Kernel::UnitUnfused,
            "unit_step_unfused",
            c + 2.0 * 9.0 + cell,
        ),
    ]
}

/// The step entries the timed dispatches use (slots of the step buffer).
const SLOT_A: usize = 0;
const SLOT_C: usize = 1;
const SLOT_P: usize = 2;
const SLOT_FUSED: usize = 3;
const SLOT_CELL: usize = 4;

/// The chemicals of a chem pass (bits of `GpuStep::chems`).
const C: u32 = 1;
const A: u32 = 2;
const P: u32 = 4;

impl GpuSolver {
    /// Whether this device times with GPU timestamps.
    pub fn timer(&self) -> Timer {
        if self
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            Timer::Timestamps
        } else {
            Timer::WallClock
        }
    }

    /// Times every kernel: one warm-up round, then `rounds` rounds of `reps` dispatches
    /// each; the median per dispatch is reported.
    pub fn time_kernels(&mut self, reps: u32, rounds: u32) -> Result<Vec<KernelTime>, GpuError> {
        self.flush();
        let err = |m: String| GpuError::Device {
            adapter: self.info.name.clone(),
            message: m,
        };
        // Sane step entries (the values do not change the work).
        let sub = |which| SubStep {
            which,
            dt: 1e-3,
            plasma: 0.0,
            bath: 1.0,
        };
        let (c, a, p) = (
            sub(Chemical::Cxcl12),
            sub(Chemical::Amd3100),
            sub(Chemical::AntiPd1),
        );
        let mut entries = vec![0u8; (SLOT_CELL + 1) * self.stride];
        let steps = [
            (SLOT_A, GpuStep::chems(&[a])),
            (SLOT_C, GpuStep::chems(&[c])),
            (SLOT_P, GpuStep::chems(&[p])),
            (SLOT_FUSED, GpuStep::chems(&[c, a, p])),
            (SLOT_CELL, GpuStep::cell(1e-3)),
        ];
        for (slot, step) in steps {
            if step.chems != 0 {
                self.pipelines.chem.ensure(&self.device, step.chems);
            }
            let at = slot * self.stride;
            entries[at..at + std::mem::size_of::<GpuStep>()]
                .copy_from_slice(bytemuck::bytes_of(&step));
        }
        self.queue.write_buffer(&self.shared.step, 0, &entries);
        let kernels = kernels(self.params.c_uptake != 0.0);

        // The copy's own buffers (one slab's field, copied once per slab) and pipeline
        // (bench only).
        let largest = self.slabs.iter().map(|s| s.planes).max().unwrap_or(1);
        let bytes = ((largest + 2) * self.plane * 4) as u64;
        let buffer = |label| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let (src, dst) = (buffer("copy src"), buffer("copy dst"));
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("copy.wgsl"),
                source: wgpu::ShaderSource::Wgsl(super::shaders::COPY.into()),
            });
        let layout = storage_layout(&self.device, "copy", &[true, false]);
        let fixed_layout = self.pipelines.cell.get_bind_group_layout(0);
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("copy"),
                bind_group_layouts: &[Some(&fixed_layout), Some(&layout)],
                immediate_size: 0,
            });
        let copy = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("copy_vec4"),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some("copy_vec4"),
                compilation_options: Default::default(),
                cache: None,
            });
        let copy_group = bind(&self.device, "copy", &layout, &[&src, &dst]);
        let vec4s = ((largest + 2) * self.plane / 4) as u32;
        let [wx, wy, _] = super::shaders::WORKGROUP;
        let copy_gx = vec4s.div_ceil(wx).min(1024);
        let copy_gy = vec4s.div_ceil(copy_gx * wx).div_ceil(wy);

        let timestamps = self.timer() == Timer::Timestamps;
        let n = kernels.len() as u32;
        let query = timestamps.then(|| {
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("bench"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * n,
            })
        });
        let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench resolve"),
            size: RESOLVE_STRIDE * u64::from(n),
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench read"),
            size: RESOLVE_STRIDE * u64::from(n),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let period_ns = f64::from(self.queue.get_timestamp_period());

        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); kernels.len()];
        for round in 0..=rounds {
            for (k, &(kernel, _, _)) in kernels.iter().enumerate() {
                let mut encoder =
                    self.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("bench"),
                        });
                {
                    let tw = query.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: q,
                        beginning_of_pass_write_index: Some(2 * k as u32),
                        end_of_pass_write_index: Some(2 * k as u32 + 1),
                    });
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("bench"),
                        timestamp_writes: tw,
                    });
                    for r in 0..reps {
                        self.encode(
                            &mut pass,
                            kernel,
                            r as usize & 1,
                            &copy,
                            &copy_group,
                            [copy_gx, copy_gy],
                        );
                    }
                }
                if let Some(q) = &query {
                    encoder.resolve_query_set(
                        q,
                        2 * k as u32..2 * k as u32 + 2,
                        &resolve,
                        RESOLVE_STRIDE * k as u64,
                    );
                }
                let started = Instant::now();
                self.queue.submit([encoder.finish()]);
                self.device
                    .poll(wgpu::PollType::wait_indefinitely())
                    .map_err(|e| err(format!("waiting for the device: {e}")))?;
                let wall = started.elapsed().as_secs_f64();
                if round > 0 && query.is_none() {
                    samples[k].push(wall / f64::from(reps));
                }
            }
            if let (Some(_), true) = (&query, round > 0) {
                let mut encoder =
                    self.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("bench resolve"),
                        });
                encoder.copy_buffer_to_buffer(
                    &resolve,
                    0,
                    &readback,
                    0,
                    RESOLVE_STRIDE * u64::from(n),
                );
                self.queue.submit([encoder.finish()]);
                let ticks: Vec<u64> = read_mapped(
                    &self.device,
                    &readback,
                    RESOLVE_STRIDE * u64::from(n),
                    |raw| bytemuck::cast_slice::<u8, u64>(raw).to_vec(),
                )
                .map_err(err)?;
                for (k, sample) in samples.iter_mut().enumerate() {
                    let at = k * RESOLVE_STRIDE as usize / 8;
                    let dt = ticks[at + 1].saturating_sub(ticks[at]) as f64 * period_ns * 1e-9;
                    sample.push(dt / f64::from(reps));
                }
            }
        }
        Ok(kernels
            .iter()
            .zip(samples)
            .map(|(&(_, name, bytes), mut s)| {
                s.sort_by(f64::total_cmp);
                KernelTime {
                    name,
                    seconds: s[s.len() / 2],
                    bytes_per_voxel: bytes,
                }
            })
            .collect())
    }

    /// Encodes one dispatch (or, for the unit step, two or four) of `kernel`; `flip` alternates
    /// the ping-pong buffers between repetitions.
    fn encode(
        &self,
        pass: &mut wgpu::ComputePass,
        kernel: Kernel,
        flip: usize,
        copy: &wgpu::ComputePipeline,
        copy_group: &wgpu::BindGroup,
        copy_groups: [u32; 2],
    ) {
        let p = &self.pipelines;
        // The vec4 stencil kernels (chem, cell) one thread per quad of four x-voxels, each
        // over every slab (no halo copies: the values do not matter here).
        let [qx, qy] = self.quad_groups;
        let mut cur = self.cur.clone();
        if flip == 1 {
            for f in CHEM_KEYS {
                cur.flip(f);
            }
        }
        let slabs = || self.slabs.iter().zip(&self.groups_);
        let offset = |slot: usize| [(slot * self.stride) as u32];
        let chem = |pass: &mut wgpu::ComputePass, slot: usize, chems: u32| {
            pass.set_pipeline(p.chem.get(chems));
            let key = cur.key(&CHEM_KEYS);
            for (slab, g) in slabs() {
                pass.set_bind_group(0, &g.fixed, &offset(slot));
                pass.set_bind_group(1, &g.chem[key], &[]);
                pass.dispatch_workgroups(qx, qy, slab.planes as u32);
            }
        };
        let cell = |pass: &mut wgpu::ComputePass| {
            pass.set_pipeline(&p.cell);
            for (slab, g) in slabs() {
                pass.set_bind_group(0, &g.fixed, &offset(SLOT_CELL));
                pass.set_bind_group(1, &g.cell[cur.key(&self.cell_keys)], &[]);
                pass.dispatch_workgroups(qx, qy, slab.planes as u32);
            }
        };
        match kernel {
            Kernel::Copy => {
                pass.set_pipeline(copy);
                for (_, g) in slabs() {
                    pass.set_bind_group(0, &g.fixed, &[0]);
                    pass.set_bind_group(1, copy_group, &[]);
                    pass.dispatch_workgroups(copy_groups[0], copy_groups[1], 1);
                }
            }
            Kernel::Chem => chem(pass, SLOT_A, A),
            Kernel::ChemCxcl12 => chem(pass, SLOT_C, C),
            Kernel::ChemFused => chem(pass, SLOT_FUSED, C | A | P),
            Kernel::Cell => cell(pass),
            Kernel::Unit => {
                chem(pass, SLOT_FUSED, C | A | P);
                cell(pass);
            }
            Kernel::UnitUnfused => {
                for (slot, chems) in [(SLOT_C, C), (SLOT_A, A), (SLOT_P, P)] {
                    chem(pass, slot, chems);
                }
                cell(pass);
            }
        }
    }
}
