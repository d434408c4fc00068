//! Snapshots on the GPU without reading the fields back: the sums of
//! [`crate::probe::Sums`] and the picture planes, computed by shaders/probe.wgsl on the
//! device. A snapshot reads back a row of partial sums per band of 16 rows of each
//! plane (53 + bins values) and the seven picture planes; every field stays on the
//! device. The pipelines are built at the first snapshot and kept; the labels are
//! uploaded once per labelling ([`Labels::id`]).
//!
//! The host adds the rows in f64 in grid order (plane by plane, band by band), so a
//! run split into z-slabs gets the same bits as an unsplit one. Within a row the
//! device adds in f32: a thread's share of a band (16·⌈nx/64⌉ voxels), then a
//! tree over the workgroup's 64 threads, sixteen sums per tree. Each workgroup sums only
//! the depth bins its band holds (sixteen per pass over the band).

use bytemuck::Zeroable;
use wgpu::util::DeviceExt;

use super::{bind, read_mapped, uniform_entry, GpuError, GpuProbe, GpuSlab, GpuSolver};
use crate::model::{Field, Rate, N_CLASSES, TUMOR};
use crate::probe::{other, per_class, Labels, SpeciesSums, Sums, FIELDS, OTHER, PER_CLASS, SUMS};
use crate::slicing::{Slicing, FIELD_PLANES};

/// Rows of a plane one workgroup of `probe_sums` sums (`BAND_ROWS` in probe.wgsl).
pub const BAND_ROWS: usize = 16;
/// Values of a row before the bins: the sums, then two maxima per field.
const ROW_FIXED: usize = SUMS + 2 * FIELDS;

/// The pipelines, layouts and buffers of the snapshot kernels.
pub(super) struct ProbeKit {
    fields_layout: wgpu::BindGroupLayout,
    sums: wgpu::ComputePipeline,
    planes: wgpu::ComputePipeline,
    uniform: wgpu::Buffer,
    state: GpuProbe,
    /// Per slab: params, slab, probe uniform.
    fixed: Vec<wgpu::BindGroup>,
    /// Bound where a kernel reads no labels or writes no rows.
    dummy: wgpu::Buffer,
    /// The labelling uploaded: its id, per slab its buffer, and the rows and their
    /// read-back buffer.
    labels: Option<(u64, Vec<wgpu::Buffer>, wgpu::Buffer, wgpu::Buffer)>,
    /// The picture planes' buffer and its read-back buffer, for `state`'s plane.
    planes_out: Option<(wgpu::Buffer, wgpu::Buffer)>,
}

impl GpuSolver {
    /// Builds the snapshot kernels' pipelines on first use.
    fn probe_kit(&mut self) -> &mut ProbeKit {
        if self.probe.is_none() {
            let device = &self.device;
            let fixed_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("probe fixed"),
                entries: &[
                    uniform_entry(0, std::mem::size_of::<super::GpuParams>(), false),
                    uniform_entry(3, std::mem::size_of::<GpuSlab>(), false),
                    uniform_entry(4, std::mem::size_of::<GpuProbe>(), false),
                ],
            });
            let read_only = [true, true, true, true, true, true, true, false, true];
            let fields_layout = super::storage_layout(device, "probe", &read_only);
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("probe.wgsl"),
                source: wgpu::ShaderSource::Wgsl(super::shaders::PROBE.into()),
            });
            let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("probe"),
                bind_group_layouts: &[Some(&fixed_layout), Some(&fields_layout)],
                immediate_size: 0,
            });
            let constants = super::shaders::rate_constants(&self.params);
            let pipeline = |entry: &str| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        ..Default::default()
                    },
                    cache: None,
                })
            };
            let state = GpuProbe::zeroed();
            let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("probe"),
                contents: bytemuck::bytes_of(&state),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
            let fixed = self
                .buffers
                .iter()
                .map(|b| {
                    device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("probe fixed"),
                        layout: &fixed_layout,
                        entries: &[
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: self.shared.params.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 3,
                                resource: b.slab.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 4,
                                resource: uniform.as_entire_binding(),
                            },
                        ],
                    })
                })
                .collect();
            let dummy = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("probe dummy"),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            self.probe = Some(ProbeKit {
                fields_layout,
                sums: pipeline("probe_sums"),
                planes: pipeline("probe_planes"),
                uniform,
                state,
                fixed,
                dummy,
                labels: None,
                planes_out: None,
            });
        }
        self.probe.as_mut().expect("built above")
    }

    /// Uploads `labels` slab by slab (own planes, padded rows) unless they are the ones
    /// on the device, with a rows buffer for their bins.
    fn upload_labels(&mut self, labels: &Labels) -> Result<(), GpuError> {
        let [nx, ny, nz] = self.params.dims;
        if labels.dims != self.params.dims {
            return Err(self.device_error(format!(
                "labels for a {:?} grid given to a {:?} one",
                labels.dims, self.params.dims
            )));
        }
        if self
            .probe
            .as_ref()
            .and_then(|k| k.labels.as_ref())
            .map(|l| l.0)
            == Some(labels.id)
        {
            return Ok(());
        }
        let bytes = (nz * ny.div_ceil(BAND_ROWS) * (ROW_FIXED + labels.bins) * 4) as u64;
        let most = self.device.limits().max_storage_buffer_binding_size;
        if bytes > most {
            return Err(self.device_error(format!(
                "the snapshot sums need {bytes} bytes ({} depth bins), more than one \
                 storage binding ({most} bytes): use fewer bins",
                labels.bins
            )));
        }
        let nxp = self.nxp;
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let per_slab: Vec<wgpu::Buffer> = self
            .slabs
            .iter()
            .map(|slab| {
                let mut packed = vec![0u32; slab.planes * ny * nxp];
                for zl in 0..slab.planes {
                    for y in 0..ny {
                        let g = nx * (y + ny * (slab.z0 + zl));
                        packed[(zl * ny + y) * nxp..][..nx]
                            .copy_from_slice(&labels.code[g..g + nx]);
                    }
                }
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("labels"),
                        contents: bytemuck::cast_slice(&packed),
                        usage: wgpu::BufferUsages::STORAGE,
                    })
            })
            .collect();
        let rows = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("probe rows"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("probe rows read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(memory.pop()) {
            return Err(self.device_error(format!(
                "out of device memory for the snapshot labels ({} bytes, 4 per voxel) and \
                 sums ({bytes} bytes): use a coarser grid or --backend cpu ({e})",
                nz * ny * nxp * 4
            )));
        }
        let kit = self.probe_kit();
        kit.state.bins = labels.bins as u32;
        kit.state.bands = ny.div_ceil(BAND_ROWS) as u32;
        kit.labels = Some((labels.id, per_slab, rows, read));
        Ok(())
    }

    /// The bind group of slab `s`'s current fields with `labels` and `out`; `stand_in`:
    /// (slot, field) binds that field's buffer in the slot of a built-in field (a
    /// species in T's slot is summed as T is, in C's slot cut as C is).
    fn probe_group(
        &self,
        s: usize,
        labels: &wgpu::Buffer,
        out: &wgpu::Buffer,
        stand_in: Option<(Field, Field)>,
    ) -> wgpu::BindGroup {
        let b = &self.buffers[s];
        let kit = self.probe.as_ref().expect("built before use");
        let mut list: Vec<&wgpu::Buffer> = Field::ALL
            .iter()
            .map(|&f| match stand_in {
                Some((slot, with)) if slot == f => b.current(with, &self.cur),
                _ => b.current(f, &self.cur),
            })
            .collect();
        list.push(labels);
        list.push(out);
        // The species coupled to the kill rate (K stands in, unread, when none is).
        let kill_by = match self.params.coupled(Rate::Kill) {
            Some(c) => Field::Species(c.species as u8),
            None => Field::Killed,
        };
        list.push(b.current(kill_by, &self.cur));
        bind(&self.device, "probe", &kit.fields_layout, &list)
    }

    /// The snapshot sums of the current fields by `labels`, reduced on the device, the
    /// bath rows measured from the bath levels `bath` (rounded to f32, as
    /// [`Sums::bath_ref`] says).
    ///
    /// # Errors
    /// Labels of another grid, too many bins for one binding, or a lost device.
    pub fn sums(&mut self, labels: &Labels, bath: [f64; 2]) -> Result<Sums, GpuError> {
        self.flush();
        let kit = self.probe_kit();
        kit.state.bath_a = bath[0] as f32;
        kit.state.bath_p = bath[1] as f32;
        self.upload_labels(labels)?;
        let kit = self.probe.as_ref().expect("built above");
        self.queue
            .write_buffer(&kit.uniform, 0, bytemuck::bytes_of(&kit.state));
        let (_, label_buffers, rows, read) = kit.labels.as_ref().expect("uploaded above");
        let labels_of: Vec<&wgpu::Buffer> = label_buffers.iter().collect();
        let bands = kit.state.bands;
        let row = ROW_FIXED + labels.bins;
        // Bins a band does not hold are not written: the rows are cleared first.
        let pass = |stand_in| {
            self.probe_pass(
                "probe sums",
                &kit.sums,
                (&labels_of, stand_in),
                (rows, read, true),
                |slab| [bands, slab.planes as u32, 1],
                |v| add_rows(v, row, labels.bins),
            )
        };
        let mut sums = pass(None)?;
        // Each species summed as T is, in T's slot: by class (its tumour sum), over the
        // margin, and its extremes.
        for k in 0..self.params.species.len() {
            let t = pass(Some((Field::TCells, Field::Species(k as u8))))?;
            sums.species.push(SpeciesSums {
                tumor: t.per_class[TUMOR as usize][per_class::T],
                margin: t.other[other::T_MARGIN],
                all: t.t_all(),
                max_abs: t.max_abs[Field::TCells.index()],
                max_negative: t.max_negative[Field::TCells.index()],
            });
        }
        sums.bath_ref = [f64::from(kit.state.bath_a), f64::from(kit.state.bath_p)];
        self.last_submission = None;
        Ok(sums)
    }

    /// The picture planes of the current fields at `at`
    /// ([`crate::slicing::cut_fields`]), cut on the device.
    ///
    /// # Errors
    /// A lost device.
    pub fn planes(&mut self, at: &Slicing) -> Result<Vec<Vec<f32>>, GpuError> {
        self.flush();
        let (w, h) = at.size();
        let bytes = (FIELD_PLANES * w * h * 4) as u64;
        let device = self.device.clone();
        let kit = self.probe_kit();
        let axis = at.axis.dim() as u32;
        let changed = (kit.state.axis, kit.state.slice, kit.state.w, kit.state.h)
            != (axis, at.slice as u32, w as u32, h as u32);
        if changed || kit.planes_out.is_none() {
            kit.state.axis = axis;
            kit.state.slice = at.slice as u32;
            kit.state.w = w as u32;
            kit.state.h = h as u32;
            let out = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("probe planes"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let read = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("probe planes read-back"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            kit.planes_out = Some((out, read));
        }
        let kit = self.probe.as_ref().expect("built above");
        self.queue
            .write_buffer(&kit.uniform, 0, bytemuck::bytes_of(&kit.state));
        let (out, read) = kit.planes_out.as_ref().expect("made above");
        let [wx, wy, _] = super::shaders::WORKGROUP;
        let dummies = vec![&kit.dummy; self.slabs.len()];
        // In z order: with the plane across z, each slab takes the running maximum.
        let pass = |stand_in| {
            self.probe_pass(
                "probe planes",
                &kit.planes,
                (&dummies, stand_in),
                (out, read, false),
                |slab| {
                    let rows = if axis == 2 { h } else { slab.planes };
                    [(w as u32).div_ceil(wx), (rows as u32).div_ceil(wy), 1]
                },
                |v: &[f32]| -> Vec<Vec<f32>> { v.chunks(w * h).map(<[f32]>::to_vec).collect() },
            )
        };
        let mut planes = pass(None)?;
        // Each species cut as C is, in C's slot (its plane is the first).
        for k in 0..self.params.species.len() {
            let mut cut = pass(Some((Field::Cxcl12, Field::Species(k as u8))))?;
            planes.push(cut.swap_remove(0));
        }
        self.last_submission = None;
        Ok(planes)
    }

    /// One pass of a snapshot kernel over every slab in z order (slab s bound with its
    /// current fields, `labels[s]` and `out`, a species standing in for a built-in field
    /// if `stand_in` says so; `dispatch(slab)` workgroups), `out` cleared first if
    /// asked, then copied into `read` and handed to `f` as f32.
    fn probe_pass<R>(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        (labels, stand_in): (&[&wgpu::Buffer], Option<(Field, Field)>),
        (out, read, clear): (&wgpu::Buffer, &wgpu::Buffer, bool),
        dispatch: impl Fn(&super::Slab) -> [u32; 3],
        f: impl FnOnce(&[f32]) -> R,
    ) -> Result<R, GpuError> {
        let kit = self.probe.as_ref().expect("built before use");
        let groups: Vec<wgpu::BindGroup> = (0..self.slabs.len())
            .map(|s| self.probe_group(s, labels[s], out, stand_in))
            .collect();
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        if clear {
            encoder.clear_buffer(out, 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            for ((slab, fixed), group) in self.slabs.iter().zip(&kit.fixed).zip(&groups) {
                let [x, y, z] = dispatch(slab);
                pass.set_bind_group(0, fixed, &[]);
                pass.set_bind_group(1, group, &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        encoder.copy_buffer_to_buffer(out, 0, read, 0, None);
        self.queue.submit([encoder.finish()]);
        read_mapped(&self.device, read, read.size(), |raw| {
            f(bytemuck::cast_slice(raw))
        })
        .map_err(|m| self.device_error(m))
    }
}

/// Adds the rows (`row` values each: the sums, the maxima's bits, `bins` bins) in f64,
/// in order.
fn add_rows(v: &[f32], row: usize, bins: usize) -> Sums {
    let mut s = Sums::zero(bins);
    let max_of = |a: f64, bits: f32| {
        let b = f64::from(bits);
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        }
    };
    for r in v.chunks_exact(row) {
        for (c, class) in s.per_class.iter_mut().enumerate().take(N_CLASSES) {
            for (j, x) in class.iter_mut().enumerate() {
                *x += f64::from(r[c * PER_CLASS + j]);
            }
        }
        for (j, x) in s.other.iter_mut().enumerate().take(OTHER) {
            *x += f64::from(r[N_CLASSES * PER_CLASS + j]);
        }
        for f in 0..FIELDS {
            s.max_abs[f] = max_of(s.max_abs[f], r[SUMS + f]);
            s.max_negative[f] = max_of(s.max_negative[f], r[SUMS + FIELDS + f]);
        }
        for (b, x) in s.profile.iter_mut().enumerate() {
            *x += f64::from(r[ROW_FIXED + b]);
        }
    }
    s
}
