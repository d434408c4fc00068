//! Scenario files: the shipped ones load, `extends` merges key by key, and each kind of
//! bad input is refused with the file, line, key, value and allowed range.

use std::fs;
use std::path::{Path, PathBuf};

use infiltrate::scenario::{self, Dosed, DrugName, GeometryKind, Route};
use infiltrate::Error;

const MINIMAL: &str = r#"
[grid]
nx = 37
ny = 23
nz = 11
voxel_um = 10.0

[time]
duration_h = 2.0
snapshot_every_h = 1.0

[geometry]
kind = "slice"

[geometry.slice]
thickness_um = 110.0
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// The error message of loading `text` (with MINIMAL prepended unless it says `#bare`).
fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let full = if text.starts_with("#bare") {
        text.to_string()
    } else {
        format!("{MINIMAL}\n{text}")
    };
    let p = write(dir.path(), "s.toml", &full);
    match scenario::load_valid(&p) {
        Ok(_) => panic!("accepted:\n{full}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shipped_scenarios_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for sub in ["", "slice", "slice/h5", "flc"] {
        for e in fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                scenario::load_valid(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
    }
    assert!(
        n >= 15,
        "expected quick, eight arms, two bases and four fine slice arms, found {n}"
    );
}

/// Every shipped arm describes its own drugs: an untreated arm says "no drug", a
/// treated one names each of its drugs and does not say "no drug" (the arms used to
/// inherit their base's "no drug").
#[test]
fn shipped_arms_describe_their_own_drugs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for sub in ["", "slice", "slice/h5", "flc"] {
        for e in fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "toml")
                || p.file_name().is_some_and(|f| f == "base.toml")
            {
                continue;
            }
            let s = scenario::load_valid(&p).unwrap().scenario;
            let d = &s.description;
            if s.treatment.is_empty() {
                assert!(d.contains("no drug"), "{}: {d}", p.display());
            } else {
                assert!(!d.contains("no drug"), "{}: {d}", p.display());
            }
            for t in &s.treatment {
                let name = match &t.drug {
                    Dosed::Drug(DrugName::Amd3100) => "AMD3100",
                    Dosed::Drug(DrugName::AntiPd1) => "anti-PD-1",
                    Dosed::Species(name) => name,
                };
                assert!(d.contains(name), "{}: {d}", p.display());
            }
            n += 1;
        }
    }
    assert!(n >= 13, "{n}");
}

/// Drug and chemical names are read in any case and with or without separators
/// (`AMD3100`, `Anti-PD1`, `CXCL12`); an unknown one is refused with the names allowed.
#[test]
fn drug_names_are_read_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{MINIMAL}\n[numerics]\nquasi_steady = [\"AMD3100\", \"Anti_PD1\"]\n\n\
         [[treatment]]\ndrug = \"AMD3100\"\nroute = \"bath\"\nlevel_uM = 1.0\n\n\
         [[treatment]]\ndrug = \"Anti-PD-1\"\nroute = \"bath\"\nlevel_nM = 68.5\n"
    );
    let p = write(dir.path(), "case.toml", &text);
    let s = scenario::load_valid(&p).unwrap().scenario;
    assert_eq!(s.treatment[0].drug, Dosed::Drug(DrugName::Amd3100));
    assert_eq!(s.treatment[1].drug, Dosed::Drug(DrugName::AntiPd1));
    assert_eq!(
        s.numerics.quasi_steady,
        [scenario::Chemical::Amd3100, scenario::Chemical::AntiPd1]
    );
    // Written back in the canonical spelling.
    let resolved = toml::to_string(&s).unwrap();
    assert!(resolved.contains("drug = \"anti_pd1\""), "{resolved}");
    let e = error_of("[[treatment]]\ndrug = \"AMD-31\"\nroute = \"bath\"\nlevel_uM = 1.0\n");
    assert!(
        e.contains("treatment[0].drug") && e.contains("`amd3100`, `anti_pd1`"),
        "{e}"
    );
}

#[test]
fn extends_overrides_key_by_key_and_replaces_arrays() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.toml",
        &format!(
            "{MINIMAL}\n[tcells]\narrest_fraction = 0.5\ndeath_per_day = 0.3\n\
             [[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\nlevel_uM = 1.0\n"
        ),
    );
    let arm = write(
        dir.path(),
        "arm.toml",
        "extends = \"base.toml\"\n[tcells]\narrest_fraction = 0.7\n\
         [[treatment]]\ndrug = \"anti_pd1\"\nroute = \"bath\"\nlevel_nM = 68.5\n",
    );
    let l = scenario::load_valid(&arm).unwrap();
    let s = &l.scenario;
    assert_eq!(s.tcells.arrest_fraction, 0.7);
    assert_eq!(s.tcells.death_per_day, 0.3, "sibling key kept from base");
    assert_eq!(s.grid.nx, 37);
    assert_eq!(s.geometry.kind, GeometryKind::Slice);
    assert_eq!(s.treatment.len(), 1, "arrays are replaced whole");
    assert_eq!(s.treatment[0].drug, Dosed::Drug(DrugName::AntiPd1));
    assert_eq!(s.treatment[0].route, Route::Bath);
    // Keys are traced to the file that set them.
    assert!(l
        .locate("tcells.arrest_fraction")
        .file
        .ends_with("arm.toml"));
    assert!(l.locate("tcells.death_per_day").file.ends_with("base.toml"));
    assert_eq!(l.locate("tcells.death_per_day").line, Some(20));
}

#[test]
fn resolved_scenario_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", MINIMAL);
    let l = scenario::load_valid(&p).unwrap();
    let text = toml::to_string(&l.scenario).unwrap();
    let p2 = write(dir.path(), "resolved.toml", &text);
    let l2 = scenario::load_valid(&p2).unwrap();
    assert_eq!(l.scenario, l2.scenario);
}

#[test]
fn negative_diffusion_names_key_line_value_and_range() {
    let m = error_of("[cxcl12]\ndiffusion_um2_per_min = -3.0\n");
    assert!(m.contains("s.toml:19"), "{m}");
    assert!(m.contains("cxcl12.diffusion_um2_per_min"), "{m}");
    assert!(m.contains("-3"), "{m}");
    assert!(m.contains("≥ 0"), "{m}");
}

#[test]
fn half_saturation_must_be_positive() {
    let m = error_of("[amd3100]\ndiffusion_um2_per_min = 1e4\nexchange_per_min = 0.5\nhalf_saturation_nM = 0.0\n");
    assert!(
        m.contains("amd3100.half_saturation_nM") && m.contains("> 0"),
        "{m}"
    );
}

#[test]
fn arrest_fraction_outside_unit_interval() {
    for v in ["1.0", "-0.1", "nan"] {
        let m = error_of(&format!("[tcells]\narrest_fraction = {v}\n"));
        assert!(
            m.contains("tcells.arrest_fraction") && m.contains("[0, 1)"),
            "{m}"
        );
    }
}

#[test]
fn empty_grid() {
    let m = error_of("#bare\n[grid]\nnx = 0\nny = 4\nnz = 1\nvoxel_um = 10.0\n[time]\nduration_h = 1.0\nsnapshot_every_h = 1.0\n[geometry]\nkind = \"flc\"\n");
    assert!(m.contains("grid.nx") && m.contains("≥ 1"), "{m}");
}

#[test]
fn unknown_keys_at_every_level_with_suggestion() {
    let m = error_of("[tcells]\nmotility = 20.0\n");
    assert!(m.contains("tcells.motility"), "{m}");
    assert!(m.contains("did you mean `motility_um2_per_min`"), "{m}");
    let m = error_of("colour = \"red\"\n");
    assert!(m.contains("unknown field `colour`"), "{m}");
    let m =
        error_of("[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\nlevel_uM = 1.0\ndose = 3\n");
    assert!(m.contains("treatment[0]"), "{m}");
    let m = error_of("[geometry.lamellae]\nspacing = 100.0\n");
    assert!(
        m.contains("geometry.lamellae") && m.contains("spacing_um"),
        "{m}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let m = error_of("[tumor]\npdl1_suppression = \"high\"\n");
    assert!(m.contains("tumor.pdl1_suppression"), "{m}");
}

#[test]
fn dose_at_negative_time_and_after_the_end() {
    let m = error_of("[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\ndoses = [{ at_h = -1.0, peak_uM = 1.0 }]\n");
    assert!(
        m.contains("treatment[0].doses[0].at_h") && m.contains("-1"),
        "{m}"
    );
    let m = error_of("[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\ndoses = [{ at_h = 5.0, peak_uM = 1.0 }]\n");
    assert!(
        m.contains("treatment[0].doses[0].at_h") && m.contains("duration_h"),
        "{m}"
    );
}

#[test]
fn dose_without_unit_is_refused() {
    let m = error_of("[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\ndoses = [{ at_h = 1.0, peak = 1.0 }]\n");
    assert!(m.contains("peak"), "{m}");
}

#[test]
fn bath_route_needs_bath_faces() {
    let m = error_of("#bare\n[grid]\nnx = 8\nny = 8\nnz = 8\nvoxel_um = 10.0\n[time]\nduration_h = 1.0\nsnapshot_every_h = 1.0\n[geometry]\nkind = \"flc\"\n[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\nlevel_uM = 1.0\n");
    assert!(
        m.contains("treatment[0].route") && m.contains("bath"),
        "{m}"
    );
}

#[test]
fn missing_extends_file() {
    let m = error_of("#bare\nextends = \"nowhere.toml\"\n");
    assert!(m.contains("nowhere.toml") && m.contains("extends"), "{m}");
}

#[test]
fn extends_cycle() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", "extends = \"b.toml\"\n");
    let b = write(dir.path(), "b.toml", "extends = \"a.toml\"\n");
    let e = scenario::load_valid(&b).unwrap_err();
    assert!(matches!(e, Error::ExtendsCycle { .. }), "{e}");
    assert!(e.to_string().contains("cycle"), "{e}");
}

#[test]
fn syntax_errors_name_the_line() {
    let m = error_of("#bare\n[grid]\nnx = 3\nny = = 4\n");
    assert!(m.contains("s.toml:4"), "{m}");
}

#[test]
fn empty_and_binary_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.toml", "  \n\n");
    let m = scenario::load_valid(&p).unwrap_err().to_string();
    assert!(m.contains("empty.toml") && m.contains("empty"), "{m}");
    let p = dir.path().join("bin.toml");
    fs::write(&p, [0u8, 159, 146, 150, 255, 0, 1]).unwrap();
    let m = scenario::load_valid(&p).unwrap_err().to_string();
    assert!(
        m.contains("bin.toml") && m.contains("not a text file"),
        "{m}"
    );
}

#[test]
fn slice_thickness_must_match_grid() {
    let m = error_of("#bare\n[grid]\nnx = 4\nny = 4\nnz = 20\nvoxel_um = 10.0\n[time]\nduration_h = 1.0\nsnapshot_every_h = 1.0\n[geometry]\nkind = \"slice\"\n");
    assert!(m.contains("grid.nz") && m.contains("nz = 25"), "{m}");
}

#[test]
fn all_invalid_values_are_listed() {
    let m = error_of("[tcells]\narrest_fraction = 2.0\ndeath_per_day = -1.0\n");
    assert!(m.contains("2 invalid values"), "{m}");
}

#[test]
fn partly_written_tables_keep_their_own_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "s.toml",
        &format!("{MINIMAL}\n[tissue.liver]\nmotility_factor = 0.8\n[anti_pd1]\nexchange_per_min = 0.1\n"),
    );
    let s = scenario::load_valid(&p).unwrap().scenario;
    let liver = scenario::ClassCoeffs::liver();
    assert_eq!(s.tissue.liver.motility_factor, 0.8);
    assert_eq!(
        s.tissue.liver.cxcl12_decay_per_min,
        liver.cxcl12_decay_per_min
    );
    assert_eq!(
        s.tissue.liver.cxcl12_secretion_nm_per_min,
        liver.cxcl12_secretion_nm_per_min
    );
    assert_eq!(s.anti_pd1.exchange_per_min, 0.1);
    assert_eq!(
        s.anti_pd1.decay_per_min,
        scenario::Drug::anti_pd1().decay_per_min
    );
    assert_eq!(s.anti_pd1.diffusion_um2_per_min, 300.0);
}

#[test]
fn too_many_snapshots_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "s.toml",
        &MINIMAL.replace("duration_h = 2.0", "duration_h = 1e9"),
    );
    let m = scenario::load_valid(&p).unwrap_err().to_string();
    assert!(
        m.contains("time.snapshot_every_h") && m.contains("100000 snapshots"),
        "{m}"
    );
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

/// Listed snapshot times join the regular ones (sorted, each once, in any order as
/// written); log-spaced ones follow each dose at halves of the snapshot interval.
#[test]
fn snapshots_can_be_listed_and_follow_doses() {
    let regular = snapshot_times_h_in("", "");
    assert!(close(&regular, &[0.0, 1.0, 2.0]), "{regular:?}");
    let with_list = snapshot_times_h_in("snapshot_times_h = [1.5, 0.25, 1.0]", "");
    assert!(
        close(&with_list, &[0.0, 0.25, 1.0, 1.5, 2.0]),
        "{with_list:?}"
    );
    // Bath boluses at 0 and 1 h: 3 after each, at 1/2, 1/4, 1/8 h.
    let doses = "[[treatment]]\ndrug = \"amd3100\"\nroute = \"bath\"\nhalf_life_h = 4.0\n\
                 doses = [{ at_h = 1.0, peak_uM = 1.0 }, { at_h = 0.0, peak_uM = 1.0 }]\n";
    let after = snapshot_times_h_in("snapshots_after_dose = 3", doses);
    let want = [0.0, 0.125, 0.25, 0.5, 1.0, 1.125, 1.25, 1.5, 2.0];
    assert!(close(&after, &want), "{after:?}");
    // Without doses nothing is added.
    assert!(close(
        &snapshot_times_h_in("snapshots_after_dose = 3", ""),
        &regular
    ));
}

/// MINIMAL with `keys` written into its [time] table.
fn with_time_keys(keys: &str) -> String {
    MINIMAL.replace(
        "snapshot_every_h = 1.0\n",
        &format!("snapshot_every_h = 1.0\n{keys}\n"),
    )
}

/// The snapshot times (h) of MINIMAL (2 h, a snapshot every hour) with `time_keys`
/// written into its [time] table and `rest` appended.
fn snapshot_times_h_in(time_keys: &str, rest: &str) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "s.toml",
        &format!("{}\n{rest}", with_time_keys(time_keys)),
    );
    let prep = infiltrate::run::prepare(&p, Default::default()).unwrap();
    let times: Vec<f64> = prep
        .plan
        .snapshot_times()
        .iter()
        .map(|t| t / 60.0)
        .collect();
    // Each segment ends where the next begins, at a snapshot.
    for (s, t) in prep.plan.segments.iter().zip(&times[1..]) {
        assert!((s.t1() / 60.0 - t).abs() < 1e-12, "{s:?} against {t}");
    }
    times
}

/// A listed time at or before 0, and too many snapshots after each dose, are refused
/// with the key and the allowed range; a listed time after the end (a shorter run of a
/// scenario that lists it) is left out with a warning naming the key.
#[test]
fn snapshot_times_out_of_range_are_refused_or_left_out() {
    let with = |k: &str| error_of(&format!("#bare\n{}", with_time_keys(k)));
    let m = with("snapshot_times_h = [0.5, 0.0]");
    assert!(
        m.contains("time.snapshot_times_h[1]") && m.contains("a time > 0 h"),
        "{m}"
    );
    let m = with("snapshots_after_dose = 50");
    assert!(
        m.contains("time.snapshots_after_dose") && m.contains("20"),
        "{m}"
    );

    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "s.toml",
        &with_time_keys("snapshot_times_h = [0.5, 3.0]"),
    );
    let prep = infiltrate::run::prepare(&p, Default::default()).unwrap();
    let w = prep.warnings().join("\n");
    assert!(
        w.contains("time.snapshot_times_h[1]") && w.contains("after the run's end"),
        "{w}"
    );
    let times: Vec<f64> = prep
        .plan
        .snapshot_times()
        .iter()
        .map(|t| t / 60.0)
        .collect();
    assert!(close(&times, &[0.0, 0.5, 1.0, 2.0]), "{times:?}");
}
