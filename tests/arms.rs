//! The model's relative predictions (docs/model.md) for the four arms (untreated,
//! AMD3100, anti-PD-1, combination), in the slice and in vivo, on coarse grids, CPU
//! backend, through the library's driver (`run::prepare`, `run::run_on`):
//!
//! - untreated core/margin infiltration ratio IR < 0.5;
//! - AMD3100 IR ≥ 2 × untreated IR;
//! - anti-PD-1 alone gains at most 0.6 of the combination's killing gain over untreated
//!   (ΔK_P ≤ 0.6 ΔK_AP, K the killed fraction);
//! - the combination kills at least 1.2 × the better single drug (K_AP ≥ 1.2 max(K_A, K_P)).
//!
//! Each arm extends its shipped scenario (same biology, dosing, durations and burn-in)
//! and coarsens only the grid and the readout bands:
//!
//! - slice: 16 × 16 × 10 voxels of 25 µm (the shipped 400 × 400 × 250 µm slab at 2.5×
//!   the voxel edge), core deeper than 25 µm, margin |d| ≤ 12.5 µm (one voxel each side
//!   of the nest boundary); AMD3100 quasi-steady as shipped.
//! - in vivo: 20 × 16 × 6 voxels of 50 µm (the shipped 1000 × 800 × 300 µm box at 2×
//!   the voxel edge), the shipped bands (core deeper than 200 µm, margin ±100 µm);
//!   AMD3100 sub-stepped explicitly (its plasma level falls continuously between daily
//!   doses, so a quasi-steady AMD3100 is re-solved at nearly every cell step and is
//!   slower here).
//!
//! Measured on this 2-core machine (release): 29 s of CPU time for the whole file (the
//! two in-vivo arms with AMD3100 about two thirds of it); 119 s wall while four other
//! builds shared the two cores. The coarse grids keep the ordering with a margin (at
//! the time of writing: slice IR 0.15 → 0.71, ΔK_P/ΔK_AP 0.47, K_AP/max 1.87; in vivo IR
//! 0.068 → 0.49, ΔK_P/ΔK_AP 0.29, K_AP/max 2.9). The readouts are printed on failure.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use infiltrate::run::{self, Backend, Overrides, RunOptions, RunSummary};

const ARMS: [&str; 4] = ["untreated", "amd3100", "anti_pd1", "combination"];

/// Runs `shipped` (a path under scenarios/) extended by `coarse` on the CPU backend.
fn run_arm(dir: &Path, shipped: &str, coarse: &str) -> RunSummary {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base = root.join("scenarios").join(shipped);
    let name = shipped.replace('/', "_");
    let file = dir.join(&name);
    std::fs::write(
        &file,
        format!("extends = {:?}\n{coarse}", base.display().to_string()),
    )
    .unwrap();
    let prep = run::prepare(&file, Overrides::default()).unwrap();
    let opts = RunOptions {
        out: dir.join(name.trim_end_matches(".toml")),
        backend: Backend::Cpu,
        adapter: None,
        force: false,
        log: infiltrate::run::RunLog::new(false),
        gpu: Default::default(),
    };
    let selected = run::choose_backend(Backend::Cpu, None).unwrap();
    run::run_on(prep, &opts, selected).unwrap()
}

/// Runs the four arms of `geometry` and checks the model's ordering (docs/model.md).
fn ordering(geometry: &str, coarse: &str) {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut table = format!(
        "{geometry} (coarse grid):\n{:<12} {:>8} {:>8} {:>14} {:>14} {:>8}\n",
        "arm", "IR", "killed", "T core /mm³", "T margin /mm³", "wall s"
    );
    let mut ir = [0.0; 4];
    let mut killed = [0.0; 4];
    for (i, arm) in ARMS.iter().enumerate() {
        let s = run_arm(dir.path(), &format!("{geometry}/{arm}.toml"), coarse);
        let m = &s.at_end.metrics;
        ir[i] = m.infiltration_ratio;
        killed[i] = m.killed_fraction;
        writeln!(
            table,
            "{arm:<12} {:>8.4} {:>8.4} {:>14.4e} {:>14.4e} {:>8.1}",
            m.infiltration_ratio,
            m.killed_fraction,
            m.t_core_per_mm3,
            m.t_margin_per_mm3,
            s.run.wall_time_s
        )
        .unwrap();
    }
    let [u, a, p, ap] = killed;
    let gain_ratio = (p - u) / (ap - u);
    let kill_ratio = ap / a.max(p);
    writeln!(
        table,
        "IR_A / IR_0 = {:.2} (≥ 2), ΔK_P / ΔK_AP = {gain_ratio:.3} (≤ 0.6), \
         K_AP / max(K_A, K_P) = {kill_ratio:.2} (≥ 1.2); {:.0} s in all",
        ir[1] / ir[0],
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    eprintln!("{table}");
    assert!(ir.iter().chain(&killed).all(|x| x.is_finite()), "{table}");
    assert!(ir[0] < 0.5, "untreated IR not below 0.5:\n{table}");
    assert!(ir[1] >= 2.0 * ir[0], "AMD3100 does not double IR:\n{table}");
    assert!(
        ap > u,
        "the combination kills no more than untreated:\n{table}"
    );
    assert!(
        gain_ratio <= 0.6,
        "anti-PD-1 alone gains too much:\n{table}"
    );
    assert!(
        kill_ratio >= 1.2,
        "combination below 1.2 × best single:\n{table}"
    );
}

#[test]
fn slice_arms_keep_the_model_ordering() {
    ordering(
        "slice",
        "[grid]\nnx = 16\nny = 16\nnz = 10\nvoxel_um = 25.0\n\
         [readout]\nd_core_um = 25.0\nd_margin_um = 12.5\nprofile_bin_um = 25.0\n\
         profile_min_um = -50.0\nprofile_max_um = 50.0\n",
    );
}

#[test]
fn in_vivo_arms_keep_the_model_ordering() {
    ordering(
        "flc",
        "[grid]\nnx = 20\nny = 16\nnz = 6\nvoxel_um = 50.0\n\
         [numerics]\nquasi_steady = []\n[readout]\nprofile_bin_um = 50.0\n",
    );
}
