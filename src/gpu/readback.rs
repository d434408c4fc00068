//! Reading back: a field slab by slab through the shared staging buffer (own planes
//! only, padding stripped), every field for a checkpoint, and the mapping of a
//! read-back buffer.

use std::sync::mpsc;

use super::{GpuError, GpuSolver};
use crate::model::{Field, Fields};

/// Maps `buffer` for reading, waits, and hands its first `size` bytes to `f`.
pub(super) fn read_mapped<R>(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    size: u64,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, String> {
    let slice = buffer.slice(..size);
    let (tx, rx) = mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| format!("waiting for the device: {e}"))?;
    rx.recv()
        .map_err(|e| format!("mapping a read-back buffer: {e}"))?
        .map_err(|e| format!("mapping a read-back buffer: {e}"))?;
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| format!("reading a mapped buffer: {e}"))?;
        f(&view)
    };
    buffer.unmap();
    Ok(out)
}

impl GpuSolver {
    /// Runs what is pending and reads every field back, slab by slab: own planes only,
    /// padding stripped, widened to f64.
    pub fn read_fields(&mut self) -> Result<Fields, GpuError> {
        let mut out = Fields::zeros_for(&self.params);
        for f in self.params.field_list() {
            let v = self.read_field(f)?;
            for (d, s) in out.get_mut(f).iter_mut().zip(&v) {
                *d = f64::from(*s);
            }
        }
        Ok(out)
    }

    /// Runs what is pending and reads a field back as the device holds it (f32), slab
    /// by slab: own planes only, padding stripped.
    pub fn read_field(&mut self, f: Field) -> Result<Vec<f32>, GpuError> {
        self.flush();
        let [nx, ny, nz] = self.params.dims;
        let mut out = vec![0f32; nx * ny * nz];
        let cur = self.cur.clone();
        let plane_bytes = (self.plane * 4) as u64;
        for (slab, b) in self.slabs.iter().zip(&self.buffers) {
            let src = b.current(f, &cur);
            let bytes = slab.planes as u64 * plane_bytes;
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("read-back"),
                });
            // Own planes: from buffer plane 1.
            encoder.copy_buffer_to_buffer(src, plane_bytes, &self.shared.staging, 0, bytes);
            self.queue.submit([encoder.finish()]);
            let nxp = self.nxp;
            let at = nx * ny * slab.z0;
            let part = &mut out[at..at + nx * ny * slab.planes];
            read_mapped(&self.device, &self.shared.staging, bytes, |raw| {
                let v: &[f32] = bytemuck::cast_slice(raw);
                for (row, dst) in part.chunks_mut(nx).enumerate() {
                    dst.copy_from_slice(&v[row * nxp..row * nxp + nx]);
                }
            })
            .map_err(|m| self.device_error(m))?;
        }
        self.last_submission = None;
        Ok(out)
    }
}
