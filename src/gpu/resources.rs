//! The device resources of a grid, built once from the field table: each slab's
//! buffers (a ping-pong pair per diffusing field, N and K in place, the scratch and the
//! classes), the buffers every slab shares, the bind groups chosen by the parities of
//! the pairs (`Parities`), and the helpers that lay out and bind storage buffers.

use crate::model::Field;

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
    pub(super) s: wgpu::Buffer,
    pub(super) w: wgpu::Buffer,
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
    pub(super) maxima: wgpu::Buffer,
    pub(super) maxima_read: wgpu::Buffer,
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
    /// By [`SIGNAL_KEYS`].
    pub(super) signal: Vec<wgpu::BindGroup>,
    /// By [`cell_keys`].
    pub(super) cell: Vec<wgpu::BindGroup>,
    /// Per chemical (C, A, P), by its own field.
    pub(super) reduce: [Vec<wgpu::BindGroup>; 3],
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

/// The receptor pass reads C, A and T.
pub(super) const SIGNAL_KEYS: [Field; 3] = [Field::Cxcl12, Field::Amd3100, Field::TCells];

/// The cell step reads T and anti-PD-1, and the species that raises the kill rate if
/// one does.
pub(super) fn cell_keys(boost: Option<usize>) -> Vec<Field> {
    let mut keys = vec![Field::TCells, Field::AntiPd1];
    keys.extend(boost.map(|k| Field::Species(k as u8)));
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
