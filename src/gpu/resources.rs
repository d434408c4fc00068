//! The device resources of a grid, built once from the field table: each slab's
//! buffers (a ping-pong pair per diffusing field, N and K in place, the scratch and the
//! classes), the buffers every slab shares, the bind groups chosen by the parities of
//! the pairs (`Parities`), and the helpers that lay out and bind storage buffers.

use wgpu::util::DeviceExt;

use super::layout::{plane_bytes, Slab, BATCH, STEP_STRIDE};
use super::upload::{packed_classes, slab_values, Initial};
use super::{padded_nx, GpuParams, GpuSlab, GpuSpecies, GpuStep};
use crate::model::{Field, Params, CHEMICALS};

/// A ping-pong field buffer of every slab: C, A, P, T or a species, and parity.
#[derive(Debug, Clone, Copy)]
pub(super) struct PingPong {
    pub(super) field: Field,
    pub(super) parity: usize,
}

/// One slab's buffers.
pub(super) struct SlabBuffers {
    /// C, A, P: two each.
    pub(super) chem: [[wgpu::Buffer; 2]; 3],
    pub(super) t: [wgpu::Buffer; 2],
    pub(super) n: wgpu::Buffer,
    pub(super) k: wgpu::Buffer,
    pub(super) classes: wgpu::Buffer,
    /// Its [`GpuSlab`].
    pub(super) slab: wgpu::Buffer,
    /// Each species: two.
    pub(super) species: Vec<[wgpu::Buffer; 2]>,
}

impl SlabBuffers {
    /// The buffer holding field `f` now, by the parities `cur`.
    pub(super) fn current(&self, f: Field, cur: &Parities) -> &wgpu::Buffer {
        match f {
            Field::Tumor => &self.n,
            Field::Killed => &self.k,
            f => self.ping_pong(PingPong {
                field: f,
                parity: cur.of(f),
            }),
        }
    }

    /// The buffer a step of field `f` writes, by the parities `cur`: the other of its
    /// pair.
    ///
    /// # Panics
    /// For N or K (updated in place).
    pub(super) fn next(&self, f: Field, cur: &Parities) -> &wgpu::Buffer {
        self.ping_pong(PingPong {
            field: f,
            parity: 1 - cur.of(f),
        })
    }

    /// One buffer of a ping-pong pair.
    ///
    /// # Panics
    /// For N or K (updated in place).
    pub(super) fn ping_pong(&self, f: PingPong) -> &wgpu::Buffer {
        match f.field {
            Field::TCells => &self.t[f.parity],
            Field::Species(k) => &self.species[k as usize][f.parity],
            Field::Tumor | Field::Killed => unreachable!("N and K are updated in place"),
            c => &self.chem[c.index()][f.parity],
        }
    }
}

/// Which buffer of each ping-pong pair is current (0 or 1): C, A, P, T, then each
/// species.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Parities {
    /// C, A, P, T.
    pub(super) fixed: [usize; 4],
    pub(super) species: Vec<usize>,
}

impl Parities {
    pub(super) fn new(species: usize) -> Self {
        Parities {
            fixed: [0; 4],
            species: vec![0; species],
        }
    }

    /// The parity of a ping-pong field (0 for N and K, which have one buffer).
    pub(super) fn of(&self, f: Field) -> usize {
        match f {
            Field::Species(k) => self.species[k as usize],
            Field::Tumor | Field::Killed => 0,
            f => self.fixed[f.index()],
        }
    }

    /// The key of the bind group that `fields` choose at these parities: bit i is the
    /// parity of field i. [`keyed`] builds one bind group per key.
    pub(super) fn key(&self, fields: &[Field]) -> usize {
        fields
            .iter()
            .enumerate()
            .map(|(i, &f)| self.of(f) << i)
            .sum()
    }

    pub(super) fn flip(&mut self, f: Field) {
        match f {
            Field::Species(k) => self.species[k as usize] ^= 1,
            Field::Tumor | Field::Killed => {}
            f => self.fixed[f.index()] ^= 1,
        }
    }
}

/// Buffers every slab shares.
pub(super) struct Shared {
    pub(super) params: wgpu::Buffer,
    pub(super) step: wgpu::Buffer,
    /// Each species' coefficients ([`GpuSpecies`]), bound with its buffers.
    pub(super) species: Vec<wgpu::Buffer>,
    /// The largest slab's own planes of one field, mappable: read-back goes through it
    /// slab by slab, field by field.
    pub(super) staging: wgpu::Buffer,
}

/// One slab's bind groups, each kernel's indexed by [`Parities::key`] of the fields it
/// is chosen by ([`keyed`]).
pub(super) struct BindGroups {
    /// Params, classes, the step entry (dynamic offset), the slab.
    pub(super) fixed: wgpu::BindGroup,
    /// By [`CHEM_KEYS`]: every chem pass.
    pub(super) chem: Vec<wgpu::BindGroup>,
    /// By [`cell_keys`].
    pub(super) cell: Vec<wgpu::BindGroup>,
    /// Per species k, by [`species_keys`].
    pub(super) species: Vec<Vec<wgpu::BindGroup>>,
}

pub(super) fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(super) fn uniform_entry(
    binding: u32,
    size: usize,
    dynamic: bool,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: wgpu::BufferSize::new(size as u64),
        },
        count: None,
    }
}

/// A layout of storage buffers at bindings 0, 1, …: `true` for read-only.
pub(super) fn storage_layout(
    device: &wgpu::Device,
    label: &str,
    read_only: &[bool],
) -> wgpu::BindGroupLayout {
    let entries: Vec<_> = read_only
        .iter()
        .enumerate()
        .map(|(b, &ro)| storage_entry(b as u32, ro))
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    })
}

/// A bind group of whole buffers at bindings 0, 1, ….
pub(super) fn bind(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<_> = buffers
        .iter()
        .enumerate()
        .map(|(b, buf)| wgpu::BindGroupEntry {
            binding: b as u32,
            resource: buf.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// The ping-pong fields each kernel's bind groups are chosen by, in key order
/// ([`Parities::key`]): the chem pass reads C, A, P and T (for the uptake).
pub(super) const CHEM_KEYS: [Field; 4] =
    [Field::Cxcl12, Field::Amd3100, Field::AntiPd1, Field::TCells];

/// The cell step reads C and A (for the signal), T and anti-PD-1, and the species
/// coupled to the kill rate if one is.
pub(super) fn cell_keys(kill_by: Option<usize>) -> Vec<Field> {
    let mut keys = vec![Field::Cxcl12, Field::Amd3100, Field::TCells, Field::AntiPd1];
    keys.extend(kill_by.map(|k| Field::Species(k as u8)));
    keys
}

/// A species pass reads its own field and T.
pub(super) fn species_keys(k: usize) -> [Field; 2] {
    [Field::Species(k as u8), Field::TCells]
}

/// One bind group per key of `fields` (`1 << fields.len()` of them), each made by
/// `make` from the parities the key stands for (those of `fields`; every other field at
/// parity 0): the same [`Parities::key`] that picks a group at run time builds it.
pub(super) fn keyed<T>(fields: &[Field], species: usize, make: impl Fn(&Parities) -> T) -> Vec<T> {
    (0..1usize << fields.len())
        .map(|key| {
            let mut cur = Parities::new(species);
            for (i, &f) in fields.iter().enumerate() {
                if (key >> i) & 1 == 1 {
                    cur.flip(f);
                }
            }
            debug_assert_eq!(cur.key(fields), key);
            make(&cur)
        })
        .collect()
}

/// The usage of every field buffer: bound as storage, copied for halos and read-backs.
const FIELD_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A buffer of `size` bytes, uninitialised (zeroed by wgpu).
fn empty(device: &wgpu::Device, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: false,
    })
}

impl SlabBuffers {
    /// One slab's buffers, walking the field table: each field's planes z0 − 1 … z0 +
    /// planes (the halos; 0 outside the domain), padded rows, from `initial`; a pair
    /// for each field that diffuses (the second empty), one for N and K; the scratch,
    /// the packed classes and the slab's uniform.
    pub(super) fn new(
        device: &wgpu::Device,
        params: &Params,
        slab: &Slab,
        class: &[u8],
        initial: Initial<'_>,
    ) -> SlabBuffers {
        let plane = padded_nx(params.dims[0]) * params.dims[1];
        let bytes = ((slab.planes + 2) * plane * 4) as u64;
        let init = |f: Field| {
            let label = params.row(f).name;
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&label),
                contents: bytemuck::cast_slice(&slab_values(
                    params.dims,
                    slab,
                    class,
                    initial,
                    f.index(),
                )),
                usage: FIELD_USAGE,
            })
        };
        let pair = |f: Field| [init(f), empty(device, "next", bytes, FIELD_USAGE)];
        let gpu_slab = GpuSlab {
            z0: slab.z0 as u32,
            planes: slab.planes as u32,
            pad0: 0,
            pad1: 0,
        };
        SlabBuffers {
            chem: CHEMICALS.map(|c| pair(Field::of(c))),
            t: pair(Field::TCells),
            n: init(Field::Tumor),
            k: init(Field::Killed),
            species: (0..params.species.len())
                .map(|k| pair(Field::Species(k as u8)))
                .collect(),
            classes: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("classes"),
                contents: bytemuck::cast_slice(&packed_classes(params.dims, slab, class)),
                usage: wgpu::BufferUsages::STORAGE,
            }),
            slab: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("slab"),
                contents: bytemuck::bytes_of(&gpu_slab),
                usage: wgpu::BufferUsages::UNIFORM,
            }),
        }
    }
}

impl Shared {
    /// The parameters, each species' coefficients, the step entries of a batch and the
    /// read-back staging buffer (the largest slab's own
    /// planes of one field).
    pub(super) fn new(device: &wgpu::Device, params: &Params, slabs: &[Slab]) -> Shared {
        let largest = slabs.iter().map(|s| s.planes).max().unwrap_or(1);
        let read = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        Shared {
            params: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(&GpuParams::new(params)),
                usage: wgpu::BufferUsages::UNIFORM,
            }),
            species: params
                .species
                .iter()
                .map(|sp| {
                    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("species"),
                        contents: bytemuck::bytes_of(&GpuSpecies::new(sp)),
                        usage: wgpu::BufferUsages::UNIFORM,
                    })
                })
                .collect(),
            step: empty(
                device,
                "steps",
                (BATCH * STEP_STRIDE) as u64,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            ),
            staging: empty(
                device,
                "read-back",
                largest as u64 * plane_bytes(params.dims),
                read,
            ),
        }
    }
}

/// The bind group layouts: group 0 shared by every kernel, group 1 each kernel's own.
pub(super) struct Layouts {
    pub(super) fixed: wgpu::BindGroupLayout,
    pub(super) chem: wgpu::BindGroupLayout,
    pub(super) cell: wgpu::BindGroupLayout,
    pub(super) species: wgpu::BindGroupLayout,
}

impl Layouts {
    pub(super) fn new(device: &wgpu::Device) -> Layouts {
        Layouts {
            fixed: device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("fixed"),
                entries: &[
                    uniform_entry(0, std::mem::size_of::<GpuParams>(), false),
                    storage_entry(1, true),
                    uniform_entry(2, std::mem::size_of::<GpuStep>(), true),
                    uniform_entry(3, std::mem::size_of::<GpuSlab>(), false),
                ],
            }),
            chem: storage_layout(
                device,
                "chem",
                &[true, false, true, false, true, false, true],
            ),
            cell: storage_layout(
                device,
                "cell",
                &[true, true, true, true, false, false, false, true],
            ),
            species: device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("species"),
                entries: &[
                    uniform_entry(0, std::mem::size_of::<GpuSpecies>(), false),
                    storage_entry(1, true),
                    storage_entry(2, false),
                    storage_entry(3, true),
                    storage_entry(4, true),
                ],
            }),
        }
    }
}

impl BindGroups {
    /// One slab's bind groups: the fixed group, and for each kernel one per combination
    /// of current buffers of the fields it reads ([`keyed`], picked by
    /// [`Parities::key`]). `kill_by`: the species coupled to the kill rate, if any
    /// (without one, anti-PD-1 stands in for it in the cell step's group, unread).
    pub(super) fn new(
        device: &wgpu::Device,
        layouts: &Layouts,
        b: &SlabBuffers,
        shared: &Shared,
        kill_by: Option<usize>,
    ) -> BindGroups {
        let fixed = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("fixed"),
            layout: &layouts.fixed,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: shared.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: b.classes.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &shared.step,
                        offset: 0,
                        size: wgpu::BufferSize::new(std::mem::size_of::<GpuStep>() as u64),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: b.slab.as_entire_binding(),
                },
            ],
        });
        let ns = shared.species.len();
        let (c, a, p, t) = (Field::Cxcl12, Field::Amd3100, Field::AntiPd1, Field::TCells);
        let chem = keyed(&CHEM_KEYS, ns, |cur| {
            let now = |f| b.current(f, cur);
            let next = |f| b.next(f, cur);
            let buffers = [now(c), next(c), now(a), next(a), now(p), next(p), now(t)];
            bind(device, "chem", &layouts.chem, &buffers)
        });
        let coupled = kill_by.map_or(p, |k| Field::Species(k as u8));
        let cell = keyed(&cell_keys(kill_by), ns, |cur| {
            let now = |f| b.current(f, cur);
            let buffers = [
                now(c),
                now(a),
                now(t),
                now(p),
                b.next(t, cur),
                &b.n,
                &b.k,
                now(coupled),
            ];
            bind(device, "cell", &layouts.cell, &buffers)
        });
        let species = shared
            .species
            .iter()
            .enumerate()
            .map(|(k, uniform)| {
                let f = Field::Species(k as u8);
                keyed(&species_keys(k), ns, |cur| {
                    let buffers = [
                        uniform,
                        b.current(f, cur),
                        b.next(f, cur),
                        b.current(t, cur),
                        &b.n,
                    ];
                    bind(device, "species", &layouts.species, &buffers)
                })
            })
            .collect();
        BindGroups {
            fixed,
            chem,
            cell,
            species,
        }
    }
}
