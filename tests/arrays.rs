//! The Zarr arrays of a run (`arrays.zarr/`, docs/outputs.md) and the Python example
//! that reads them (`examples/analyse_run.py`):
//! - the metadata and a chunk read back here equal the run's `.vti` file of the same
//!   snapshot, on an awkward grid (13 × 9 × 19: the last z-slab is partial);
//! - a run stopped and resumed writes the same arrays, to the byte, as one left alone;
//!   a fresh run into the used folder removes them;
//! - the example, run with target/pyenv's Python, prints `analyse_run.expected.txt` and
//!   saves a PNG that decodes.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infiltrate"));
    c.env_remove(infiltrate::output::FAIL_WRITE_ENV);
    c
}

/// A small slice (3 h, snapshots every hour) of `dims` voxels with arrays every hour.
fn scenario(dir: &Path, dims: [usize; 3], output: &str) -> PathBuf {
    let p = dir.join("arrays.toml");
    let text = common::small_slice(
        "arrays test",
        dims,
        &format!("[output]\npictures = false\narrays = true\narrays_every_h = 1.0\n{output}"),
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn ok(c: &mut Command) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    ok(bin()
        .args(["run", "--backend", "cpu", "--quiet", "--threads", "1"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra));
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A chunk decompressed.
fn chunk(path: &Path) -> Vec<u8> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

/// The named f32 array of a `.vti` file (appended raw data, UInt64 headers).
fn vti_array(path: &Path, name: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let at = text.find(&format!("Name=\"{name}\"")).unwrap();
    let rest = &text[at..];
    let o = rest.find("offset=\"").unwrap() + 8;
    let offset: usize = rest[o..o + rest[o..].find('"').unwrap()].parse().unwrap();
    let start = bytes
        .windows(10)
        .position(|w| w == b"encoding=\"")
        .map(|p| p + bytes[p..].iter().position(|&b| b == b'_').unwrap() + 1)
        .unwrap()
        + offset;
    let len = u64::from_le_bytes(bytes[start..start + 8].try_into().unwrap()) as usize;
    bytes[start + 8..start + 8 + len]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Every file under `dir` (relative path → bytes).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// The metadata says what the docs say, and the last snapshot's T-cell chunks hold the
/// `.vti` file's values (z-slabs of 16 planes, the last one padded with NaN).
#[test]
fn the_arrays_hold_the_fields_of_the_vti_files() {
    let dir = tempfile::tempdir().unwrap();
    let (nx, ny, nz) = (13, 9, 19);
    let s = scenario(dir.path(), [nx, ny, nz], "vti_every_h = 1.0\n");
    let out = dir.path().join("run");
    run(&s, &out, &[]);
    let root = out.join("arrays.zarr");
    let group = json(&root.join("zarr.json"));
    assert_eq!(group["zarr_format"], 3);
    assert_eq!(group["node_type"], "group");
    let t = json(&root.join("tcells_per_mm3/zarr.json"));
    assert_eq!(t["shape"], serde_json::json!([4, nz, ny, nx]));
    assert_eq!(
        t["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([1, 16, ny, nx])
    );
    assert_eq!(
        t["dimension_names"],
        serde_json::json!(["time", "z", "y", "x"])
    );
    assert_eq!(t["attributes"]["units"], "cells/mm³");
    assert_eq!(t["data_type"], "float32");
    for name in ["cxcl12_nM", "amd3100_uM", "anti_pd1_nM", "tumor_fraction"] {
        assert!(root.join(name).join("zarr.json").is_file(), "{name}");
    }
    let time = json(&root.join("time_h/zarr.json"));
    assert_eq!(time["shape"], serde_json::json!([4]));
    let times: Vec<f64> = (0..4)
        .map(|i| {
            f64::from_le_bytes(
                chunk(&root.join(format!("time_h/c/{i}")))[..8]
                    .try_into()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(times, [0.0, 1.0, 2.0, 3.0]);
    let x = chunk(&root.join("x_um/c/0"));
    assert_eq!(f64::from_le_bytes(x[8..16].try_into().unwrap()), 15.0);

    let vti = vti_array(&out.join("paraview/snapshot_000003.vti"), "T_cells_per_mm3");
    let plane = nx * ny;
    assert_eq!(vti.len(), plane * nz);
    let mut zarr: Vec<f32> = Vec::new();
    for zi in 0..2 {
        let raw = chunk(&root.join(format!("tcells_per_mm3/c/3/{zi}/0/0")));
        assert_eq!(raw.len(), 16 * plane * 4);
        zarr.extend(
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
        );
    }
    assert!(zarr[nz * plane..].iter().all(|v| v.is_nan()));
    assert_eq!(&zarr[..nz * plane], &vti[..], "T cells at 3 h");
    assert!(vti.iter().any(|&v| v > 0.0));
    let class = chunk(&root.join("class/c/1/0/0"));
    assert_eq!(class.len(), 16 * plane);
}

/// Stopped at 1 h and resumed to 3 h, a run writes the arrays of one left alone, to the
/// byte; a fresh run into that folder without arrays removes them.
#[test]
fn a_resumed_run_writes_the_same_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), [11, 9, 6], "vti = false\n");
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    run(&s, &whole, &["--checkpoint-every", "25min"]);
    run(
        &s,
        &parts,
        &["--checkpoint-every", "25min", "--duration", "1h"],
    );
    assert_eq!(
        json(&parts.join("arrays.zarr/time_h/zarr.json"))["shape"],
        serde_json::json!([2])
    );
    ok(bin()
        .args(["resume", "--quiet", "--threads", "1"])
        .arg(&parts)
        .args(["--until", "3h"]));
    let (a, b) = (
        tree(&whole.join("arrays.zarr")),
        tree(&parts.join("arrays.zarr")),
    );
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the arrays' files"
    );
    for (k, v) in &a {
        assert!(*v == b[k], "{} differs", k.display());
    }
    run(&s, &parts, &["--force", "--no-arrays", "--duration", "1h"]);
    assert!(!parts.join("arrays.zarr").exists(), "stale arrays left");
}

/// `examples/analyse_run.py` on a run prints what `analyse_run.expected.txt` says and
/// saves a PNG that decodes.
#[test]
fn the_python_example_reads_a_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/pyenv/bin/python");
    let probe = Command::new(&python)
        .args(["-c", "import pandas, xarray, zarr, matplotlib"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "target/pyenv lacks pandas, xarray, zarr or matplotlib (run `.ci/test --setup-only`): {}",
        probe
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_else(|e| format!("{python:?}: {e}"))
    );
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), [13, 9, 19], "vti = false\n");
    let out = dir.path().join("run");
    run(&s, &out, &[]);
    let figure = dir.path().join("figure.png");
    let o = Command::new(&python)
        .arg(root.join("examples/analyse_run.py"))
        .arg(&out)
        .arg(&figure)
        .env("MPLCONFIGDIR", dir.path().join("mpl"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the example failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let expected = std::fs::read_to_string(root.join("examples/analyse_run.expected.txt")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&figure).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.width >= 600 && info.height >= 300, "{info:?}");
}

/// A run stopped by a failed write at any point (every third write of a tiny run) leaves
/// arrays that read: each field's metadata lists only times whose chunks are all there,
/// and `time_h` lists no time a field lacks.
#[test]
fn a_run_stopped_inside_a_snapshot_leaves_readable_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), [7, 5, 3], "vti = false\n");
    let mut stopped = 0;
    for n in (1..=90).step_by(3) {
        let out = dir.path().join(format!("run-{n}"));
        let o = bin()
            .args(["run", "--backend", "cpu", "--quiet", "--threads", "1"])
            .arg(&s)
            .arg("--out")
            .arg(&out)
            .env(infiltrate::output::FAIL_WRITE_ENV, n.to_string())
            .output()
            .unwrap();
        if o.status.success() {
            continue;
        }
        stopped += 1;
        let root = out.join("arrays.zarr");
        let Ok(text) = std::fs::read(root.join("time_h/zarr.json")) else {
            continue;
        };
        let times = serde_json::from_slice::<Value>(&text).unwrap()["shape"][0]
            .as_u64()
            .unwrap();
        for t in 0..times {
            chunk(&root.join(format!("time_h/c/{t}")));
        }
        for name in ["cxcl12_nM", "tcells_per_mm3", "killed_fraction"] {
            let meta = json(&root.join(name).join("zarr.json"));
            let len = meta["shape"][0].as_u64().unwrap();
            assert!(len >= times && len <= times + 1, "write {n}: {name}");
            for t in 0..len {
                let raw = chunk(&root.join(format!("{name}/c/{t}/0/0/0")));
                assert_eq!(raw.len(), 7 * 5 * 3 * 4, "write {n}: {name} at {t}");
            }
        }
    }
    assert!(stopped >= 20, "only {stopped} runs were stopped");
}

/// On the GPU backend (lavapipe here; the test fails without a Vulkan adapter, it never
/// passes without one) the arrays are read back field by field from the device: at the
/// last snapshot they hold the same values as the run's own `.vti` file, for every
/// field (both are the device's f32 fields, so equal to the bit).
#[test]
fn gpu_arrays_hold_the_fields_of_its_vti_files() {
    let dir = tempfile::tempdir().unwrap();
    let (nx, ny, nz) = (13, 9, 19);
    let s = scenario(dir.path(), [nx, ny, nz], "vti_every_h = 1.0\n");
    let out = dir.path().join("run");
    ok(bin()
        .args(["run", "--backend", "vulkan", "--quiet", "--duration", "1h"])
        .arg(&s)
        .arg("--out")
        .arg(&out));
    let root = out.join("arrays.zarr");
    let n = nx * ny * nz;
    for (zarr, vti) in [
        ("cxcl12_nM", "CXCL12_nM"),
        ("amd3100_uM", "AMD3100_uM"),
        ("anti_pd1_nM", "anti_PD1_nM"),
        ("tcells_per_mm3", "T_cells_per_mm3"),
        ("tumor_fraction", "tumor_fraction"),
        ("killed_fraction", "killed_fraction"),
    ] {
        let want = vti_array(&out.join("paraview/snapshot_000001.vti"), vti);
        let mut got: Vec<f32> = Vec::new();
        for zi in 0..nz.div_ceil(16) {
            let raw = chunk(&root.join(format!("{zarr}/c/1/{zi}/0/0")));
            got.extend(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
            );
        }
        assert_eq!(&got[..n], &want[..], "{zarr} at 1 h");
        assert!(want.iter().any(|&v| v != 0.0), "{zarr}: all zero");
    }
}
