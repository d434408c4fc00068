//! Checkpoints: a run's whole state at one cell-step boundary, written so that a crash
//! at any moment leaves a readable one behind, and read back by `infiltrate resume`
//! (`crate::resume`).
//!
//! # Where
//!
//! `RUN_DIR/checkpoint/step-NNNNNNNNNNNN.ckpt`, named by the cell steps done (burn-in
//! included). The folder appears only with its first complete checkpoint (it is
//! written in `RUN_DIR/.checkpoint.tmp/` and renamed), so its existence means a run can
//! be resumed. Each checkpoint is written to a hidden temporary file, fsynced and
//! renamed into place, then the folder is fsynced; only then is any but the newest two
//! deleted. A crash while writing leaves the previous checkpoints as they were.
//!
//! # Format (version [`FORMAT_VERSION`]), little-endian
//!
//! | what | encoding |
//! |---|---|
//! | magic | the 8 bytes `INFLTCKP` |
//! | format version | u32 |
//! | program version, backend, solver, resolved scenario, budget ledger (JSON) | each a u64 length and UTF-8 bytes |
//! | scenario hash | u64 (FNV-1a of `scenario.resolved.toml` without its comment line) |
//! | checkpoint interval, end of run (or NaN: the scenario's duration), time | f64 min |
//! | segment, step in the segment, cell steps, snapshots | u64 |
//! | ΣN at time 0 (base of the killed fraction) | f64 |
//! | quasi-steady record × 3 (C, A, P) | u8 + 2 f64 (levels last set for), u64 times set, u64 response-solve iterations |
//! | grid | 3 × u64 |
//! | fields C, A, P, T, N, K, then each species of the scenario (`[[species]]`, in its order) | nx·ny·nz f64 each, index `x + nx (y + ny z)` |
//! | checksum | u64, FNV-1a of every byte before it |
//!
//! Fields are stored in f64 whatever the backend (GPU values are f32 widened, so a GPU
//! checkpoint resumes bit for bit on the GPU). The species fields need no header of their
//! own: their count is what the bytes after the header hold beyond the six built-in
//! fields, and their names are the resolved scenario's (the checkpoint holds it, and
//! resume checks its hash), so a checkpoint without species is the same bytes as before
//! species existed, and [`read`] names them `species0`, `species1`, … until resume
//! gives them the scenario's names ([`Checkpoint::name_species`]).

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Fields, StepPlan};
use crate::solver::SteadyState;

/// The checkpoint format this program writes and reads.
pub const FORMAT_VERSION: u32 = 3;

/// The first bytes of every checkpoint.
pub const MAGIC: &[u8; 8] = b"INFLTCKP";

/// The checkpoint folder inside a run folder (fixed: scripts test for it).
pub const DIR: &str = "checkpoint";

/// Checkpoints kept: the newest and the one before it.
pub const KEEP: usize = 2;

const EXT: &str = "ckpt";

/// Everything a checkpoint holds besides the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub program_version: String,
    /// The backend that wrote it (`cpu`, `vulkan`, …: `--backend` values).
    pub backend: String,
    /// The solver in words (adapter, precision, threads).
    pub solver: String,
    /// The resolved scenario (`scenario.resolved.toml` without its comment line).
    pub resolved: String,
    /// The budget ledger's state at the checkpoint (`crate::budget::Ledger`, JSON):
    /// the last snapshot's rates and the integrals so far, so that a resumed run writes
    /// the same budget columns and time integrals.
    pub ledger: String,
    /// FNV-1a of `resolved` ([`crate::run::fnv1a`]).
    pub scenario_hash: u64,
    /// The checkpoint interval of the run, min.
    pub every_min: f64,
    /// The end of the run if `--until` moved it, min.
    pub until_min: Option<f64>,
    /// Simulated time, min (0 = start of dosing).
    pub time_min: f64,
    /// The snapshot interval (segment of the step plan) and cell step within it: the
    /// state after `step` of its `steps` cell steps.
    pub segment: u64,
    pub step: u64,
    /// Cell steps done, burn-in included.
    pub cell_steps: u64,
    /// Snapshots written (rows of metrics.csv).
    pub snapshots: u64,
    /// ΣN at time 0 (the base of the killed fraction).
    pub n0: f64,
    pub steady: [SteadyState; 3],
    pub dims: [usize; 3],
}

/// A checkpoint read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub header: Header,
    pub fields: Fields,
}

impl Checkpoint {
    /// Gives the species fields the names of `params`' species (a checkpoint stores
    /// their values only).
    ///
    /// # Errors
    /// The checkpoint holds another number of species than `params`.
    pub fn name_species(&mut self, params: &crate::model::Params) -> Result<()> {
        if self.fields.species.len() != params.species.len() {
            return Err(Error::Other(format!(
                "the checkpoint holds {} species fields; its scenario has {} species",
                self.fields.species.len(),
                params.species.len()
            )));
        }
        for ((name, _), sp) in self.fields.species.iter_mut().zip(&params.species) {
            name.clone_from(&sp.name);
        }
        Ok(())
    }
}

/// Why a checkpoint file cannot be used.
#[derive(Debug)]
pub enum ReadError {
    /// Truncated, bit-flipped, not a checkpoint: the previous one may serve.
    Damaged(String),
    /// A well-formed checkpoint of another format version.
    Version(u32),
    Io(std::io::Error),
}

// ---------------------------------------------------------------------------------
// Encoding

/// FNV-1a, 64 bits, fed piece by piece (the same as [`crate::run::fnv1a`]).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

struct Writer<W: Write> {
    out: W,
    hash: Fnv,
}

impl<W: Write> Writer<W> {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hash.feed(b);
        self.out.write_all(b)
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn f64(&mut self, v: f64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn str(&mut self, s: &str) -> std::io::Result<()> {
        self.u64(s.len() as u64)?;
        self.bytes(s.as_bytes())
    }
    fn pair(&mut self, p: Option<(f64, f64)>) -> std::io::Result<()> {
        let (a, b) = p.unwrap_or((0.0, 0.0));
        self.bytes(&[u8::from(p.is_some())])?;
        self.f64(a)?;
        self.f64(b)
    }
}

fn encode<W: Write>(out: W, h: &Header, fields: &Fields) -> std::io::Result<W> {
    let mut w = Writer {
        out,
        hash: Fnv::new(),
    };
    w.bytes(MAGIC)?;
    w.bytes(&FORMAT_VERSION.to_le_bytes())?;
    w.str(&h.program_version)?;
    w.str(&h.backend)?;
    w.str(&h.solver)?;
    w.str(&h.resolved)?;
    w.str(&h.ledger)?;
    w.u64(h.scenario_hash)?;
    w.f64(h.every_min)?;
    w.f64(h.until_min.unwrap_or(f64::NAN))?;
    w.f64(h.time_min)?;
    for v in [h.segment, h.step, h.cell_steps, h.snapshots] {
        w.u64(v)?;
    }
    w.f64(h.n0)?;
    for s in &h.steady {
        w.pair(s.solved_for)?;
        w.u64(s.solves)?;
        w.u64(s.iterations)?;
    }
    for d in h.dims {
        w.u64(d as u64)?;
    }
    let mut buf = Vec::with_capacity(8 * 4096);
    for (_, f) in fields.named() {
        for chunk in f.chunks(4096) {
            buf.clear();
            chunk
                .iter()
                .for_each(|v| buf.extend_from_slice(&v.to_le_bytes()));
            w.bytes(&buf)?;
        }
    }
    let sum = w.hash.0;
    w.out.write_all(&sum.to_le_bytes())?;
    Ok(w.out)
}

struct Reader<R: Read> {
    inp: R,
    hash: Fnv,
    left: u64,
}

fn damaged(why: impl Into<String>) -> ReadError {
    ReadError::Damaged(why.into())
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, ReadError> {
        if n > self.left {
            return Err(damaged("truncated"));
        }
        let mut b = vec![0u8; n as usize];
        self.inp.read_exact(&mut b).map_err(ReadError::Io)?;
        self.left -= n;
        self.hash.feed(&b);
        Ok(b)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let v = self.bytes(N as u64)?;
        Ok(v.try_into().expect("N bytes"))
    }
    fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64, ReadError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn str(&mut self) -> Result<String, ReadError> {
        let n = self.u64()?;
        String::from_utf8(self.bytes(n)?).map_err(|_| damaged("a text is not UTF-8"))
    }
    fn pair(&mut self) -> Result<Option<(f64, f64)>, ReadError> {
        let [flag] = self.array()?;
        let (a, b) = (self.f64()?, self.f64()?);
        match flag {
            0 => Ok(None),
            1 => Ok(Some((a, b))),
            _ => Err(damaged("a flag is neither 0 nor 1")),
        }
    }
}

fn decode<R: Read>(inp: R, len: u64) -> Result<Checkpoint, ReadError> {
    let mut r = Reader {
        inp,
        hash: Fnv::new(),
        left: len,
    };
    if &r.array::<8>()? != MAGIC {
        return Err(damaged("not an infiltrate checkpoint (wrong magic bytes)"));
    }
    let version = u32::from_le_bytes(r.array()?);
    if version != FORMAT_VERSION {
        return Err(ReadError::Version(version));
    }
    let program_version = r.str()?;
    let backend = r.str()?;
    let solver = r.str()?;
    let resolved = r.str()?;
    let ledger = r.str()?;
    let scenario_hash = r.u64()?;
    let every_min = r.f64()?;
    let until = r.f64()?;
    let time_min = r.f64()?;
    let [segment, step, cell_steps, snapshots] = [r.u64()?, r.u64()?, r.u64()?, r.u64()?];
    let n0 = r.f64()?;
    let mut steady = [SteadyState::default(); 3];
    for s in &mut steady {
        s.solved_for = r.pair()?;
        s.solves = r.u64()?;
        s.iterations = r.u64()?;
    }
    let dims = [r.u64()?, r.u64()?, r.u64()?];
    let voxels = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .filter(|&n| n > 0)
        .ok_or_else(|| damaged("impossible grid"))?;
    // The rest must be the six fields and whole species fields, exactly (the checksum
    // after them is not counted).
    let field_bytes = voxels.checked_mul(8);
    let species = field_bytes
        .filter(|&b| r.left % b == 0 && r.left / b >= 6)
        .map(|b| r.left / b - 6)
        .filter(|&s| s <= crate::scenario::MAX_SPECIES as u64);
    let Some(species) = species else {
        return Err(damaged(format!(
            "{} bytes after the header; a {}×{}×{} grid needs {} for its six fields, and \
             {} more per species",
            r.left,
            dims[0],
            dims[1],
            dims[2],
            voxels.saturating_mul(48),
            voxels.saturating_mul(8)
        )));
    };
    let n = voxels as usize;
    let mut fields = Fields::zeros(n);
    fields.species = (0..species)
        .map(|k| (format!("species{k}"), vec![0.0; n]))
        .collect();
    for f in fields.all_mut() {
        for chunk in f.chunks_mut(4096) {
            let raw = r.bytes(8 * chunk.len() as u64)?;
            for (v, b) in chunk.iter_mut().zip(raw.chunks_exact(8)) {
                *v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
        }
    }
    let want = r.hash.0;
    let mut sum = [0u8; 8];
    r.inp.read_exact(&mut sum).map_err(ReadError::Io)?;
    if u64::from_le_bytes(sum) != want {
        return Err(damaged("checksum mismatch"));
    }
    Ok(Checkpoint {
        header: Header {
            program_version,
            backend,
            solver,
            resolved,
            ledger,
            scenario_hash,
            every_min,
            until_min: (!until.is_nan()).then_some(until),
            time_min,
            segment,
            step,
            cell_steps,
            snapshots,
            n0,
            steady,
            dims: dims.map(|d| d as usize),
        },
        fields,
    })
}

// ---------------------------------------------------------------------------------
// Files

/// The checkpoint folder of a run folder.
pub fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join(DIR)
}

fn file_name(cell_steps: u64) -> String {
    format!("step-{cell_steps:012}.{EXT}")
}

/// The checkpoint files of a run folder, newest (most cell steps) first.
pub fn list(run_dir: &Path) -> Result<Vec<PathBuf>> {
    let d = dir(run_dir);
    if !d.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for e in fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
        let e = e.map_err(|e| Error::io(&d, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let steps = name
            .strip_prefix("step-")
            .and_then(|r| r.strip_suffix(&format!(".{EXT}")))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(s) = steps {
            found.push((s, e.path()));
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Syncs a folder so that renames in it reach the disk (best effort: some file systems
/// cannot sync a folder; the files themselves are complete either way).
fn sync_dir(d: &Path) -> std::io::Result<()> {
    let _ = fs::File::open(d).and_then(|f| f.sync_all());
    Ok(())
}

/// Writes a checkpoint of `fields` atomically into `run_dir/checkpoint/` and deletes
/// all but the newest [`KEEP`]; returns its path. On failure nothing but the
/// temporary file is touched (and that is removed).
pub fn write(run_dir: &Path, header: &Header, fields: &Fields) -> Result<PathBuf> {
    let final_dir = dir(run_dir);
    let first = !final_dir.is_dir();
    // The first checkpoint is written into a hidden folder renamed into place, so
    // that `checkpoint/` exists only with a complete checkpoint in it.
    let into = if first {
        let tmp = run_dir.join(".checkpoint.tmp");
        let _ = fs::remove_dir_all(&tmp);
        // Not create_dir_all: a run folder that vanished is an error, not re-created.
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        tmp
    } else {
        final_dir.clone()
    };
    let name = file_name(header.cell_steps);
    let tmp = into.join(format!(".{name}.tmp"));
    let target = into.join(&name);
    let res = (|| {
        let f = fs::File::create(&tmp)?;
        if let Some(e) = crate::output::injected_failure() {
            let mut w = BufWriter::new(f);
            w.write_all(MAGIC)?;
            w.flush()?;
            return Err(e);
        }
        let f = encode(BufWriter::with_capacity(1 << 20, f), header, fields)?
            .into_inner()
            .map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)?;
        sync_dir(&into)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        if first {
            let _ = fs::remove_dir_all(&into);
        }
        return Err(Error::io(&target, e));
    }
    if first {
        fs::rename(&into, &final_dir)
            .and_then(|()| sync_dir(run_dir))
            .map_err(|e| Error::io(&final_dir, e))?;
    }
    for old in list(run_dir)?.into_iter().skip(KEEP) {
        let _ = fs::remove_file(old);
    }
    Ok(final_dir.join(name))
}

/// Reads one checkpoint file.
pub fn read(path: &Path) -> Result<Checkpoint, ReadError> {
    let f = fs::File::open(path).map_err(ReadError::Io)?;
    let len = f.metadata().map_err(ReadError::Io)?.len();
    if len < 8 {
        return Err(damaged("truncated"));
    }
    let mut r = BufReader::with_capacity(1 << 20, f);
    // The checksum is the last 8 bytes, outside what the reader hashes.
    decode(&mut r, len - 8).map_err(|e| match e {
        ReadError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => damaged("truncated"),
        e => e,
    })
}

/// The newest usable checkpoint of a run folder and its path. A damaged one (truncated,
/// altered, not a checkpoint) is renamed to `NAME.damaged` with a line on stderr, and
/// the one before it is tried; a checkpoint of another format version is refused.
pub fn read_latest(run_dir: &Path) -> Result<(Checkpoint, PathBuf)> {
    let files = list(run_dir)?;
    if files.is_empty() {
        return Err(Error::Other(format!(
            "{}: no checkpoint (a run writes them with --checkpoint-every TIME; \
             a run stopped before its first one must be started again)",
            dir(run_dir).display()
        )));
    }
    let mut why = Vec::new();
    for path in files {
        match read(&path) {
            Ok(c) => return Ok((c, path)),
            Err(ReadError::Version(v)) => {
                return Err(Error::Other(format!(
                    "{}: checkpoint format version {v}; this program (infiltrate {}) reads \
                     version {FORMAT_VERSION} only",
                    path.display(),
                    env!("CARGO_PKG_VERSION")
                )))
            }
            Err(ReadError::Io(e)) => return Err(Error::io(&path, e)),
            Err(ReadError::Damaged(w)) => {
                let mut aside = path.clone().into_os_string();
                aside.push(".damaged");
                eprintln!(
                    "warning: {} is damaged ({w}); set aside as {}, trying the one before",
                    path.display(),
                    PathBuf::from(&aside).display()
                );
                let _ = fs::rename(&path, &aside);
                why.push(format!("{}: {w}", path.display()));
            }
        }
    }
    Err(Error::Other(format!(
        "no usable checkpoint: {}",
        why.join("; ")
    )))
}

/// Removes a run folder's checkpoints and leftover temporary files (a fresh run into
/// an old folder with `--force`).
pub fn clear(run_dir: &Path) -> Result<()> {
    for d in [dir(run_dir), run_dir.join(".checkpoint.tmp")] {
        if d.exists() {
            fs::remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
    }
    Ok(())
}

/// Removes the hidden temporary files (`.NAME.tmp`) a killed run may leave in a run
/// folder and its checkpoint folder; none of them is a result.
pub fn remove_temporaries(run_dir: &Path) {
    let _ = fs::remove_dir_all(run_dir.join(".checkpoint.tmp"));
    for d in [run_dir.to_path_buf(), dir(run_dir)] {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Schedule

/// Where checkpoints fall on a step plan, as (segment, step in the segment): the start
/// of dosing (0, 0), every `every_min` of simulated time rounded to the nearest cell
/// step (a time that rounds to a segment's start is that of the previous segment's
/// end), and the end of the run.
pub fn schedule(plan: &StepPlan, every_min: f64) -> Result<BTreeSet<(usize, u64)>> {
    let end = plan.segments.last().map_or(0.0, |s| s.t1());
    let count = end / every_min;
    if !(every_min > 0.0 && crate::units::within(count, MAX_CHECKPOINTS)) {
        return Err(Error::Other(format!(
            "--checkpoint-every {}: {} checkpoints in {}, more than {MAX_CHECKPOINTS} (each \
             writes every field); give a longer interval",
            crate::units::format_min(every_min),
            crate::units::number(count.ceil()),
            crate::units::format_min(end)
        )));
    }
    Ok(schedule_points(plan, every_min))
}

/// The most checkpoints a run may write.
pub const MAX_CHECKPOINTS: f64 = 10_000.0;

fn schedule_points(plan: &StepPlan, every_min: f64) -> BTreeSet<(usize, u64)> {
    let mut at = BTreeSet::new();
    at.insert((0, 0));
    let segs = &plan.segments;
    let Some(last) = segs.last() else {
        return at;
    };
    at.insert((segs.len() - 1, last.steps));
    let end = last.t1();
    if every_min > 0.0 && every_min.is_finite() {
        let mut i = 0;
        for j in 1u64.. {
            let tau = j as f64 * every_min;
            if tau >= end {
                break;
            }
            while i + 1 < segs.len() && tau > segs[i].t1() {
                i += 1;
            }
            let s = segs[i];
            let m = ((tau - s.t0) / s.dt).round().clamp(0.0, s.steps as f64) as u64;
            at.insert(if m == 0 && i > 0 {
                (i - 1, segs[i - 1].steps)
            } else {
                (i, m)
            });
        }
    }
    at
}
