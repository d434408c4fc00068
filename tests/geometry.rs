//! Tissue geometry: the signed distance transform against brute force, determinism
//! (seed, thread count), FLC and slice class statistics, volume loading and its errors.

use std::path::Path;

use infiltrate::geometry::{self, signed_distance, Geometry};
use infiltrate::model::{LIVER, OUTSIDE, STROMA, TUMOR, VESSEL};
use infiltrate::scenario::{load_valid, Loaded};
use infiltrate::Error;

const GRID: &str = "[grid]\nnx = 37\nny = 23\nnz = 11\nvoxel_um = 10.0\n\
                    [time]\nduration_h = 1.0\nsnapshot_every_h = 0.5\n";

const FLC: &str = "[geometry]\nkind = \"flc\"\nseed = 3\n\
                   [geometry.flc]\nradii_um = [150.0, 100.0, 80.0]\ncapsule_um = 20.0\n";

const SLICE: &str = "[geometry]\nkind = \"slice\"\nseed = 3\n\
                     [geometry.slice]\nthickness_um = 110.0\n";

/// Writes `body` as a scenario in `dir` and loads it.
fn load(dir: &Path, body: &str) -> Loaded {
    let p = dir.join("scenario.toml");
    std::fs::write(&p, body).unwrap();
    load_valid(&p).unwrap_or_else(|e| panic!("scenario does not load: {e}\n{body}"))
}

fn build(body: &str) -> Geometry {
    let dir = tempfile::tempdir().unwrap();
    geometry::build(&load(dir.path(), body)).unwrap()
}

fn build_err(body: &str) -> Error {
    let dir = tempfile::tempdir().unwrap();
    match geometry::build(&load(dir.path(), body)) {
        Ok(_) => panic!("expected an error for\n{body}"),
        Err(e) => e,
    }
}

/// A small LCG for test masks.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn coords(i: usize, dims: [usize; 3]) -> [i64; 3] {
    [
        (i % dims[0]) as i64,
        ((i / dims[0]) % dims[1]) as i64,
        (i / (dims[0] * dims[1])) as i64,
    ]
}

/// The definition, by brute force over all pairs.
fn brute_force(dims: [usize; 3], h: f64, inside: &[bool]) -> Vec<f32> {
    let n = inside.len();
    (0..n)
        .map(|i| {
            let a = coords(i, dims);
            let best = (0..n)
                .filter(|&j| inside[j] != inside[i])
                .map(|j| {
                    let b = coords(j, dims);
                    (0..3).map(|k| (a[k] - b[k]).pow(2)).sum::<i64>()
                })
                .min()
                .unwrap();
            let d = (best as f64).sqrt() * h - 0.5 * h;
            if inside[i] {
                -d as f32
            } else {
                d as f32
            }
        })
        .collect()
}

fn random_mask(dims: [usize; 3], p: f64, seed: u64) -> Vec<bool> {
    let mut rng = Lcg(seed);
    (0..dims.iter().product::<usize>())
        .map(|_| rng.next() < p)
        .collect()
}

#[test]
fn distance_matches_brute_force() {
    for (dims, p, h) in [
        ([37, 23, 11], 0.03, 10.0),
        ([13, 9, 7], 0.4, 2.5),
        ([17, 1, 5], 0.2, 1.0),
        ([1, 1, 9], 0.3, 3.0),
        ([5, 38, 3], 0.001, 7.0),
    ] {
        let mut mask = random_mask(dims, p, 11);
        let n = mask.len();
        mask[3 % n] = true;
        mask[0] = false;
        let fast = signed_distance(dims, h, &mask);
        let slow = brute_force(dims, h, &mask);
        for i in 0..mask.len() {
            assert_eq!(
                fast[i].to_bits(),
                slow[i].to_bits(),
                "dims {dims:?} voxel {:?}: {} vs brute force {}",
                coords(i, dims),
                fast[i],
                slow[i]
            );
        }
    }
}

#[test]
fn distance_from_one_inside_voxel() {
    let dims = [7, 5, 4];
    let h = 10.0;
    let c = [3i64, 1, 2];
    let mut mask = vec![false; 7 * 5 * 4];
    mask[3 + 7 * (1 + 5 * 2)] = true;
    let d = signed_distance(dims, h, &mask);
    for (i, &di) in d.iter().enumerate() {
        let a = coords(i, dims);
        let r2: i64 = (0..3).map(|k| (a[k] - c[k]).pow(2)).sum();
        let want = if r2 == 0 {
            -5.0
        } else {
            ((r2 as f64).sqrt() * h - 5.0) as f32
        };
        assert_eq!(di, want, "voxel {a:?}");
    }
    // Face neighbours sit half a voxel from the boundary, as does the voxel itself.
    assert_eq!(d[4 + 7 * (1 + 5 * 2)], 5.0);
    assert_eq!(d[3 + 7 * (1 + 5 * 2)], -5.0);
    assert_eq!(d[3 + 7 * (1 + 5 * 3)], 5.0);
}

#[test]
fn distance_of_empty_and_full_masks() {
    let dims = [4, 3, 2];
    assert!(signed_distance(dims, 1.0, &[false; 24])
        .iter()
        .all(|&d| d == f32::INFINITY));
    assert!(signed_distance(dims, 1.0, &[true; 24])
        .iter()
        .all(|&d| d == f32::NEG_INFINITY));
}

#[test]
fn distance_is_exact_in_a_big_box_with_a_half_space() {
    // A plane x < 40: distance depends on x only, and exactly.
    let dims = [97, 31, 19];
    let mask: Vec<bool> = (0..97 * 31 * 19).map(|i| i % 97 < 40).collect();
    let d = signed_distance(dims, 2.0, &mask);
    for (i, &di) in d.iter().enumerate() {
        let x = (i % 97) as f32;
        let want = if x < 40.0 {
            -((40.0 - x) * 2.0 - 1.0)
        } else {
            (x - 39.0) * 2.0 - 1.0
        };
        assert_eq!(di, want);
    }
}

fn pool<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

fn assert_same(a: &Geometry, b: &Geometry) {
    assert_eq!(a.dims, b.dims);
    assert_eq!(a.class, b.class);
    let bits = |g: &Geometry| {
        g.distance_um
            .iter()
            .map(|d| d.to_bits())
            .collect::<Vec<_>>()
    };
    assert!(bits(a) == bits(b), "distances differ");
}

#[test]
fn same_seed_same_bits_other_seed_other_lamellae() {
    let a = build(&format!("{GRID}{FLC}"));
    let b = build(&format!("{GRID}{FLC}"));
    assert_same(&a, &b);
    let c = build(&format!("{GRID}{}", FLC.replace("seed = 3", "seed = 4")));
    assert_eq!(
        a.distance_um, c.distance_um,
        "the mass does not depend on the seed"
    );
    assert_ne!(a.class, c.class);
    // The lamellae themselves (stroma or vessel inside the capsule) differ, not only vessels.
    let inner_stroma = |g: &Geometry| -> Vec<bool> {
        (0..g.class.len())
            .map(|i| g.distance_um[i] < -20.0 && g.class[i] != TUMOR)
            .collect()
    };
    assert_ne!(inner_stroma(&a), inner_stroma(&c));

    let s1 = build(&format!("{GRID}{SLICE}"));
    let s2 = build(&format!("{GRID}{SLICE}"));
    let s3 = build(&format!("{GRID}{}", SLICE.replace("seed = 3", "seed = 9")));
    assert_same(&s1, &s2);
    assert_ne!(s1.class, s3.class);
}

#[test]
fn bit_identical_across_thread_counts() {
    let flc = format!(
        "{}{FLC}[geometry.vessels]\nfraction_margin = 0.3\nfraction_stroma = 0.3\nfraction_liver = 0.3\n",
        GRID.replace("nx = 37", "nx = 61").replace("nz = 11", "nz = 19")
    );
    let slice = format!("{GRID}{SLICE}");
    for body in [flc, slice] {
        let one = pool(1, || build(&body));
        let seven = pool(7, || build(&body));
        assert_same(&one, &seven);
    }
    let dims = [53, 29, 17];
    let mask = random_mask(dims, 0.01, 5);
    let one = pool(1, || signed_distance(dims, 3.0, &mask));
    let seven = pool(7, || signed_distance(dims, 3.0, &mask));
    assert!(one
        .iter()
        .zip(&seven)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

/// |observed − expected| ≤ 4.5 binomial standard deviations (plus a little).
fn assert_binomial(k: usize, n: usize, p: f64, what: &str) {
    assert!(n > 50, "{what}: only {n} trials");
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let dev = (k as f64 - n as f64 * p).abs();
    assert!(
        dev <= 4.5 * sd + 1.0,
        "{what}: {k} of {n}, expected {:.1} ± {sd:.1}",
        n as f64 * p
    );
}

#[test]
fn flc_classes_are_plausible() {
    // A larger, awkward box so that the statistics mean something.
    let body = "[grid]\nnx = 71\nny = 53\nnz = 41\nvoxel_um = 10.0\n\
                [time]\nduration_h = 1.0\nsnapshot_every_h = 0.5\n\
                [geometry]\nkind = \"flc\"\nseed = 17\n\
                [geometry.flc]\nradii_um = [300.0, 220.0, 170.0]\ncapsule_um = 30.0\n\
                [geometry.lamellae]\nspacing_um = 100.0\nthickness_um = 30.0\n\
                [geometry.vessels]\nfraction_margin = 0.1\nfraction_stroma = 0.05\n\
                fraction_liver = 0.08\nliver_band_um = 60.0\n";
    let g = build(body);
    let h = g.voxel_um;
    assert_eq!(g.dims, [71, 53, 41]);
    assert_eq!(g.class.len(), 71 * 53 * 41);
    assert!(!g.class.contains(&OUTSIDE));
    let counts = g.class_counts();
    assert!(counts[TUMOR as usize] > 0 && counts[LIVER as usize] > 0);

    // Mass = negative distance; it is the ellipsoid.
    let c = [355.0, 265.0, 205.0];
    let r = [300.0, 220.0, 170.0];
    let (mut capsule, mut capsule_v) = (0, 0);
    let (mut inner, mut inner_stroma, mut inner_v) = (0, 0, 0);
    let (mut band, mut band_v) = (0, 0);
    for (i, (&cl, &d)) in g.class.iter().zip(&g.distance_um).enumerate() {
        let a = coords(i, g.dims);
        let e: f64 = (0..3)
            .map(|k| (((a[k] as f64 + 0.5) * h - c[k]) / r[k]).powi(2))
            .sum();
        assert_eq!(d < 0.0, e <= 1.0, "voxel {a:?}");
        assert!(d.abs() >= 5.0);
        let d = f64::from(d);
        if d > 0.0 {
            assert!(cl == LIVER || cl == VESSEL);
            if d <= 60.0 {
                band += 1;
                band_v += usize::from(cl == VESSEL);
            } else {
                assert_eq!(cl, LIVER, "vessel beyond the liver band at {a:?}");
            }
        } else if d >= -30.0 {
            assert!(cl == STROMA || cl == VESSEL, "capsule voxel {a:?} is {cl}");
            capsule += 1;
            capsule_v += usize::from(cl == VESSEL);
        } else {
            inner += 1;
            if cl != TUMOR {
                assert!(cl == STROMA || cl == VESSEL);
                inner_stroma += 1;
                inner_v += usize::from(cl == VESSEL);
            }
        }
    }
    // The capsule is three voxels deep (distances −5, −15, −25 µm; the rest ≤ −35).
    assert!(capsule > 3000, "capsule of {capsule} voxels");
    let frac = inner_stroma as f64 / inner as f64;
    assert!(
        (frac - 0.3).abs() < 0.05,
        "lamella fraction {frac:.3} of {inner} inner voxels, expected about 0.3"
    );
    assert_binomial(capsule_v, capsule, 0.1, "capsule vessels");
    assert_binomial(inner_v, inner_stroma, 0.05, "lamella vessels");
    assert_binomial(band_v, band, 0.08, "liver band vessels");
}

#[test]
fn flc_without_waviness_follows_the_formula() {
    let body = format!(
        "{GRID}{FLC}[geometry.lamellae]\nspacing_um = 50.0\nthickness_um = 20.0\n\
         normal = [2.0, 0.0, 0.0]\nwaviness_um = 0.0\n\
         [geometry.vessels]\nfraction_margin = 0.0\nfraction_stroma = 0.0\nfraction_liver = 0.0\n"
    );
    let g = build(&body);
    for (i, (&cl, &d)) in g.class.iter().zip(&g.distance_um).enumerate() {
        let x = (coords(i, g.dims)[0] as f64 + 0.5) * 10.0;
        let want = if d > 0.0 {
            LIVER
        } else if d >= -20.0 || x.rem_euclid(50.0) < 20.0 {
            STROMA
        } else {
            TUMOR
        };
        assert_eq!(cl, want, "voxel {:?}", coords(i, g.dims));
    }
}

#[test]
fn flc_rejects_a_mass_with_no_margin_or_no_voxel() {
    for (radii, center) in [
        ("[1000.0, 1000.0, 1000.0]", ""),
        ("[30.0, 30.0, 30.0]", "center_um = [-500.0, 0.0, 0.0]\n"),
    ] {
        let body = format!(
            "{GRID}[geometry]\nkind = \"flc\"\n[geometry.flc]\n{center}radii_um = {radii}\ncapsule_um = 20.0\n"
        );
        match build_err(&body) {
            Error::Invalid(v) => {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].at.key, "geometry.flc.radii_um");
                assert!(v[0].at.line.is_some());
            }
            e => panic!("wrong error {e}"),
        }
    }
}

#[test]
fn slice_is_tumour_and_stroma() {
    let g = build(&format!("{GRID}{SLICE}"));
    let counts = g.class_counts();
    assert_eq!(
        counts[TUMOR as usize] + counts[STROMA as usize],
        37 * 23 * 11
    );
    // Default lamellae: 25 µm every 120 µm.
    let frac = counts[STROMA as usize] as f64 / g.class.len() as f64;
    assert!((frac - 25.0 / 120.0).abs() < 0.07, "stroma fraction {frac}");
    for (&cl, &d) in g.class.iter().zip(&g.distance_um) {
        assert_eq!(cl == TUMOR, d < 0.0);
        assert!(d.abs() >= 5.0 && d.is_finite());
    }
    let mask: Vec<bool> = g.class.iter().map(|&c| c == TUMOR).collect();
    assert_eq!(g.distance_um, signed_distance(g.dims, 10.0, &mask));
}

#[test]
fn slice_rejects_lamellae_leaving_no_stroma() {
    let body = format!("{GRID}{SLICE}[geometry.lamellae]\nthickness_um = 0.0\n");
    match build_err(&body) {
        Error::Invalid(v) => assert_eq!(v[0].at.key, "geometry.lamellae.thickness_um"),
        e => panic!("wrong error {e}"),
    }
}

fn volume_scenario(dims: [usize; 3], path: &str, boundary: &str) -> String {
    format!(
        "[grid]\nnx = {}\nny = {}\nnz = {}\nvoxel_um = 5.0\n\
         [time]\nduration_h = 1.0\nsnapshot_every_h = 0.5\n\
         [geometry]\nkind = \"volume\"\n\
         [geometry.volume]\npath = \"{path}\"\ndims = [{}, {}, {}]\nvoxel_um = 5.0\n\
         boundary = \"{boundary}\"\n",
        dims[0], dims[1], dims[2], dims[0], dims[1], dims[2]
    )
}

fn volume_bytes(dims: [usize; 3]) -> Vec<u8> {
    let mut rng = Lcg(99);
    (0..dims.iter().product::<usize>())
        .map(|_| (rng.next() * 5.0) as u8)
        .collect()
}

#[test]
fn volume_round_trip() {
    let dims = [13, 7, 5];
    let dir = tempfile::tempdir().unwrap();
    let bytes = volume_bytes(dims);
    std::fs::write(dir.path().join("tissue.raw"), &bytes).unwrap();
    for boundary in ["tumor", "mass"] {
        let loaded = load(dir.path(), &volume_scenario(dims, "tissue.raw", boundary));
        let g = geometry::build(&loaded).unwrap();
        assert_eq!(g.dims, dims);
        assert_eq!(g.voxel_um, 5.0);
        assert_eq!(g.class, bytes);
        let mask: Vec<bool> = bytes
            .iter()
            .map(|&c| c == TUMOR || (boundary == "mass" && (c == STROMA || c == VESSEL)))
            .collect();
        assert_eq!(g.distance_um, signed_distance(dims, 5.0, &mask));
        assert_eq!(g.class[g.index(4, 3, 2)], bytes[4 + 13 * (3 + 7 * 2)]);
    }
}

fn volume_error(dims: [usize; 3], bytes: Option<&[u8]>) -> (std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(b) = bytes {
        std::fs::write(dir.path().join("tissue.raw"), b).unwrap();
    }
    let loaded = load(dir.path(), &volume_scenario(dims, "tissue.raw", "tumor"));
    match geometry::build(&loaded) {
        Err(Error::Volume { path, message }) => {
            assert!(path.ends_with("tissue.raw"), "{}", path.display());
            (path, message)
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn volume_errors() {
    let dims = [13, 7, 5];
    let (_, m) = volume_error(dims, None);
    assert!(m.contains("no such volume file"), "{m}");

    let short = vec![TUMOR; 13 * 7 * 5 - 1];
    let (_, m) = volume_error(dims, Some(&short));
    assert!(
        m.contains("expected 455 bytes") && m.contains("found 454") && m.contains("13×7×5"),
        "{m}"
    );

    let mut bad = volume_bytes(dims);
    bad[2 + 13 * (6 + 7 * 3)] = 9;
    bad[12 + 13 * (6 + 7 * 4)] = 200;
    let (_, m) = volume_error(dims, Some(&bad));
    assert!(m.contains("class code 9") && m.contains("(2, 6, 3)"), "{m}");

    let none = vec![LIVER; 13 * 7 * 5];
    let (_, m) = volume_error(dims, Some(&none));
    assert!(m.contains("no voxels are tumour"), "{m}");
}

/// Times a 256³ FLC build: `cargo test --release --test geometry -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_flc_256() {
    let body = "[grid]\nnx = 256\nny = 256\nnz = 256\nvoxel_um = 25.0\n\
                [time]\nduration_h = 1.0\nsnapshot_every_h = 0.5\n\
                [geometry]\nkind = \"flc\"\n\
                [geometry.flc]\nradii_um = [2400.0, 2000.0, 1800.0]\ncapsule_um = 50.0\n\
                [geometry.lamellae]\nspacing_um = 200.0\nthickness_um = 30.0\n";
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(dir.path(), body);
    let t = std::time::Instant::now();
    let g = geometry::build(&loaded).unwrap();
    let build_s = t.elapsed().as_secs_f64();
    let mask: Vec<bool> = g.distance_um.iter().map(|&d| d < 0.0).collect();
    let t = std::time::Instant::now();
    let d = signed_distance(g.dims, g.voxel_um, &mask);
    let edt_s = t.elapsed().as_secs_f64();
    assert_eq!(d, g.distance_um);
    println!(
        "256³ FLC: build {build_s:.2} s (signed distance alone {edt_s:.2} s) on {} threads; counts {:?}",
        rayon::current_num_threads(),
        g.class_counts()
    );
}

/// Perfusion (`[geometry] perfused`): a volume with vessel voxels and bath faces (a
/// cultured slice) is not perfused by default, so its vessels neither let T cells in
/// nor exchange drug with plasma, a plasma treatment is refused naming the key, and
/// `check` says so; `perfused = true` turns both terms on; a volume without bath faces
/// and the in-vivo geometry are perfused by default.
#[test]
fn perfusion_follows_the_geometry_and_its_key() {
    use infiltrate::model::Params;
    let dims = [9, 7, 5];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tissue.raw"), volume_bytes(dims)).unwrap();
    let base = volume_scenario(dims, "tissue.raw", "mass");
    let with = |extra: &str, perfused: &str| {
        let text = base.replace("[geometry]\n", &format!("[geometry]\n{perfused}"));
        format!("{text}{extra}")
    };
    let bath = "bath_faces = [\"z-\", \"z+\"]\n";
    let vessel = VESSEL as usize;
    let params = |text: &str| Params::from_scenario(&load(dir.path(), text).scenario);
    // Bath faces, no key: not perfused.
    let slice_like = params(&with(bath, ""));
    assert_eq!(slice_like.influx, [0.0; 5], "no T-cell influx");
    assert_eq!(
        slice_like.amd3100.exchange, [0.0; 5],
        "no exchange with plasma"
    );
    // The key turns the blood terms on (the class defaults: vessels only).
    let perfused = params(&with(bath, "perfused = true\n"));
    assert!(perfused.influx[vessel] > 0.0 && perfused.amd3100.exchange[vessel] > 0.0);
    assert_eq!(perfused.influx[TUMOR as usize], 0.0);
    // No bath faces: perfused by default; `perfused = false` turns it off.
    assert!(params(&with("", "")).influx[vessel] > 0.0);
    assert_eq!(params(&with("", "perfused = false\n")).influx, [0.0; 5]);
    // A plasma treatment on tissue without circulation is refused by its key.
    let plasma = "[[treatment]]\ndrug = \"amd3100\"\nroute = \"plasma\"\nlevel_uM = 1.0\n";
    let path = dir.path().join("plasma.toml");
    std::fs::write(&path, with(&format!("{bath}{plasma}"), "")).unwrap();
    let err = infiltrate::run::prepare(&path, Default::default())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("treatment[0].route") && err.contains("not perfused"),
        "{err}"
    );
    std::fs::write(&path, with(&format!("{bath}{plasma}"), "perfused = true\n")).unwrap();
    let prepared = infiltrate::run::prepare(&path, Default::default()).unwrap();
    assert!(prepared
        .perfusion()
        .starts_with("perfused ([geometry] perfused)"));
    std::fs::write(&path, with(bath, "")).unwrap();
    let prepared = infiltrate::run::prepare(&path, Default::default()).unwrap();
    assert!(
        prepared
            .perfusion()
            .starts_with("not perfused (the default"),
        "{}",
        prepared.perfusion()
    );
    // The shipped geometries: in vivo perfused, the slice not.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for (file, want) in [
        ("flc/untreated.toml", true),
        ("slice/untreated.toml", false),
    ] {
        let loaded = infiltrate::scenario::load(&root.join(file)).unwrap();
        assert_eq!(loaded.scenario.geometry.is_perfused(), want, "{file}");
    }
}
