//! The recorder of passes: stepping records step entries ([`Op`]) into a batch, and a
//! flush encodes the batch into one submission (one compute pass with one slab; with
//! several, a pass per step followed by the halo copies of the fields it wrote). The
//! quasi-steady solves encode through [`GpuSolver::encode_op`] too.

use super::layout::{Slab, BATCH};
use super::resources::{species_keys, Parities, PingPong, CHEM_KEYS};
use super::{GpuError, GpuSolver, GpuStep};
use crate::model::{chem_index, Field, Params, CHEMICALS};
use crate::scenario::Chemical;
use crate::solver::{SteadyState, Stepper, SubStep};

/// One step entry: a chem pass (one dispatch per slab stepping the chemicals of its
/// `chems`) or a cell step (the cell kernel, the receptor terms computed in it).
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Chem(GpuStep),
    /// A sub-step of species k.
    Species(usize, GpuStep),
    Cell(GpuStep),
}

impl Op {
    pub(super) fn step(&self) -> &GpuStep {
        match self {
            Op::Chem(s) | Op::Species(_, s) | Op::Cell(s) => s,
        }
    }
}

/// Bit of the fields an op wrote (for the halo exchange): bit [`Field::index`].
pub(super) const fn written_bit(f: Field) -> u64 {
    1 << f.index()
}

/// The GPU's single steps, recorded as step entries and run with the next batch (at
/// the latest when fields are read).
impl Stepper for GpuSolver {
    type Error = GpuError;

    fn params(&self) -> &Params {
        &self.params
    }

    fn steady(&self, u: usize) -> &SteadyState {
        &self.steady[u]
    }

    /// In one chem pass: each chemical steps from its own current field, with the
    /// fields as after the sub-steps one after another in the order given, provided they
    /// commute (CXCL12 with uptake reads AMD3100 as the pass starts, so it must come
    /// first).
    ///
    /// # Panics
    /// If a chemical appears twice.
    fn chem_steps(&mut self, subs: &[SubStep]) {
        let step = GpuStep::chems(subs);
        self.pipelines.chem.ensure(&self.device, step.chems);
        for s in subs {
            self.substeps[chem_index(s.which)] += 1;
        }
        self.chem_passes += 1;
        self.push(Op::Chem(step));
    }

    /// A pass of its own.
    fn species_step(&mut self, k: usize, dt: f64, plasma: f64, bath: f64) {
        self.push(Op::Species(k, GpuStep::species(dt, plasma, bath)));
    }

    fn cell_step(&mut self, dt: f64) {
        self.push(Op::Cell(GpuStep::cell(dt)));
    }

    /// The responses solved on the host as the CPU's, combined and uploaded.
    fn solve_steady(
        &mut self,
        which: Chemical,
        plasma: f64,
        bath: f64,
        tolerance: f64,
    ) -> Result<u64, GpuError> {
        self.steady_solve(which, plasma, bath, tolerance)
    }

    /// From what was uploaded and dosed since.
    fn zero_chemicals(&self) -> [bool; 3] {
        self.zero
    }

    /// A chemical stepped with levels (or secreting) may no longer be 0; runs what is
    /// pending.
    fn stepped(&mut self, dormant: [bool; 3]) -> Result<(), GpuError> {
        for (z, d) in self.zero.iter_mut().zip(dormant) {
            *z &= d;
        }
        self.flush();
        Ok(())
    }
}

impl GpuSolver {
    pub(super) fn push(&mut self, op: Op) {
        if self.pending.len() == BATCH {
            self.flush();
        }
        self.pending.push(op);
    }

    /// Encodes the dispatches of one step entry (`slot`) over every slab: a chem pass, a
    /// species sub-step, or the cell step. Advances `cur` and
    /// returns the fields it wrote ([`written_bit`]), whose halos are then stale.
    pub(super) fn encode_op(
        &self,
        pass: &mut wgpu::ComputePass,
        op: Op,
        slot: usize,
        cur: &mut Parities,
    ) -> u64 {
        let p = &self.pipelines;
        let [qx, qy] = self.quad_groups;
        let offset = [(slot * self.stride) as u32];
        let planes = |s: &Slab| s.planes as u32;
        match op {
            Op::Chem(step) => {
                pass.set_pipeline(p.chem.get(step.chems));
                let key = cur.key(&CHEM_KEYS);
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.chem[key], &[]);
                    pass.dispatch_workgroups(qx, qy, planes(slab));
                }
                let mut written = 0;
                for (u, &which) in CHEMICALS.iter().enumerate() {
                    if step.chems & (1 << u) != 0 {
                        let f = Field::of(which);
                        cur.flip(f);
                        written |= written_bit(f);
                    }
                }
                written
            }
            Op::Species(k, _) => {
                let f = Field::Species(k as u8);
                pass.set_pipeline(&p.species);
                let key = cur.key(&species_keys(k));
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.species[k][key], &[]);
                    pass.dispatch_workgroups(qx, qy, planes(slab));
                }
                cur.flip(f);
                written_bit(f)
            }
            Op::Cell(_) => {
                pass.set_pipeline(&p.cell);
                let key = cur.key(&self.cell_keys);
                for (slab, g) in self.slabs.iter().zip(&self.groups_) {
                    pass.set_bind_group(0, &g.fixed, &offset);
                    pass.set_bind_group(1, &g.cell[key], &[]);
                    pass.dispatch_workgroups(qx, qy, planes(slab));
                }
                cur.flip(Field::TCells);
                written_bit(Field::TCells)
            }
        }
    }

    /// Refreshes the halo planes of the current buffers (by `cur`) of the fields of
    /// `written` ([`written_bit`]) in every slab from its neighbours' edge planes
    /// (nothing with one slab).
    pub(super) fn exchange_halos(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        written: u64,
        cur: &Parities,
    ) {
        let plane = (self.plane * 4) as u64;
        // The fields are the bits of `written` ([`written_bit`]: bit `Field::index`).
        let bits = (0..u64::BITS as usize).filter(|&i| written & (1 << i) != 0);
        for field in bits.map(Field::at) {
            let f = PingPong {
                field,
                parity: cur.of(field),
            };
            for (s, pair) in self.slabs.windows(2).enumerate() {
                let (lo, hi) = (
                    self.buffers[s].ping_pong(f),
                    self.buffers[s + 1].ping_pong(f),
                );
                let top = pair[0].planes as u64;
                // The lower slab's last own plane is the upper one's lower halo, the
                // upper slab's first own plane the lower one's upper halo.
                encoder.copy_buffer_to_buffer(lo, top * plane, hi, 0, plane);
                encoder.copy_buffer_to_buffer(hi, plane, lo, (top + 1) * plane, plane);
            }
        }
    }

    /// Uploads the step entries of the pending dispatches, encodes them into one command
    /// buffer (one compute pass with one slab; with several, a pass per step followed by
    /// its halo copies) and submits it; keeps at most two submissions in flight.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (slot, op) in self.pending.iter().enumerate() {
            let at = slot * self.stride;
            self.step_bytes[at..at + std::mem::size_of::<GpuStep>()]
                .copy_from_slice(bytemuck::bytes_of(op.step()));
        }
        let used = self.pending.len() * self.stride;
        self.queue
            .write_buffer(&self.shared.step, 0, &self.step_bytes[..used]);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            });
        let mut cur = self.cur.clone();
        let split = self.slabs.len() > 1;
        let mut next = 0;
        while next < self.pending.len() {
            let mut written = None;
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("batch"),
                    timestamp_writes: None,
                });
                while next < self.pending.len() {
                    let f = self.encode_op(&mut pass, self.pending[next], next, &mut cur);
                    next += 1;
                    if split {
                        written = Some(f);
                        break;
                    }
                }
            }
            if let Some(f) = written {
                self.exchange_halos(&mut encoder, f, &cur);
            }
        }
        self.cur = cur;
        self.pending.clear();
        self.submit(encoder);
    }

    /// Submits, then waits for the submission before it (so the host runs at most one
    /// batch ahead of the device).
    pub(super) fn submit(&mut self, encoder: wgpu::CommandEncoder) {
        let index = self.queue.submit([encoder.finish()]);
        if let Some(prev) = self.last_submission.replace(index) {
            // A failed wait (device lost) shows at the next read-back.
            let _ = self.device.poll(wgpu::PollType::Wait {
                submission_index: Some(prev),
                timeout: None,
            });
        }
    }
}
