//! Bringing one's own tissue (`docs/tissue.md`): label maps in NIfTI, TIFF and NRRD,
//! written by independent writers (Python's nibabel, tifffile and pynrrd, pinned in
//! `target/pyenv` by `.ci/test`), land on the grid voxels the documented orientation
//! says, through geometry building, a CPU run and its stored picture plane; and the
//! refusals (unlisted labels, anisotropic voxels, dimensions or voxel size unlike the
//! grid's) say what to write.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use infiltrate::geometry;
use infiltrate::model::{LIVER, OUTSIDE, STROMA, TUMOR, VESSEL};
use infiltrate::scenario::load_valid;
use infiltrate::Error;

const DIMS: [usize; 3] = [13, 9, 5];

/// The file's label at (x, y, z), for `vessel` the vessel label (5 in 8-bit files, 300
/// in 16-bit ones): an L-shaped tumour (label 7) in the lower z planes, not symmetric
/// under any flip of x, y or z, one stroma voxel (3), one vessel voxel, background 0.
fn label(x: usize, y: usize, z: usize, vessel: u32) -> u32 {
    let foot = (1..=7).contains(&x) && (1..=2).contains(&y);
    let stem = (1..=2).contains(&x) && (1..=6).contains(&y);
    if (foot || stem) && z <= 2 {
        7
    } else if (x, y, z) == (10, 7, 4) {
        3
    } else if (x, y, z) == (11, 1, 3) {
        vessel
    } else {
        0
    }
}

/// The class `labels = { 0 = "liver", 7 = "tumor", 3 = "stroma", V = "vessel" }` gives.
fn class(label: u32) -> u8 {
    match label {
        0 => LIVER,
        7 => TUMOR,
        3 => STROMA,
        _ => VESSEL,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pinned Python of `.ci/test`; the test fails (never skips) without it.
fn python() -> PathBuf {
    let py = root().join("target/pyenv/bin/python");
    let ok = py.is_file()
        && Command::new(&py)
            .args(["-c", "import numpy, nibabel, tifffile, nrrd"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with numpy, nibabel, tifffile and pynrrd is missing: run `.ci/test --setup-only` \
         (it makes target/pyenv with the pinned versions)",
        py.display()
    );
    py
}

/// The writers: the label volume, read from `labels.u32` (x fastest, as this test
/// writes it), as a numpy array `v[x, y, z]`, checked at asymmetric points, then saved
/// by each library as its own tools show axes (nibabel: i, j, k = x, y, z; tifffile:
/// pages, rows, columns = z, y, x; pynrrd: first axis fastest = x).
const WRITE: &str = r#"
import sys, numpy as np, nibabel as nib, tifffile, nrrd
out, nx, ny, nz, dtype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
flat = np.fromfile(out + "/labels.u32", dtype="<u4")
v = flat.reshape((nz, ny, nx)).transpose(2, 1, 0).astype(dtype)   # v[x, y, z]
assert v[7, 1, 0] == 7 and v[1, 6, 2] == 7 and v[7, 6, 0] == 0 and v[1, 6, 3] == 0
assert v[10, 7, 4] == 3 and v[11, 1, 3] in (5, 300)
mm = 0.01  # 10 µm
img = nib.Nifti1Image(v, np.diag([mm, mm, mm, 1.0]))
img.header.set_xyzt_units("mm")
nib.save(img, out + "/t.nii")
nib.save(img, out + "/t.nii.gz")
zyx = np.ascontiguousarray(v.transpose(2, 1, 0))                  # pages, rows, columns
tifffile.imwrite(out + "/t_imagej.tif", zyx, imagej=True, resolution=(1 / 10, 1 / 10),
                 metadata={"spacing": 10.0, "unit": "um", "axes": "ZYX"})
tifffile.imwrite(out + "/t_ome.tiff", zyx, ome=True, metadata={"axes": "ZYX",
                 "PhysicalSizeX": 10.0, "PhysicalSizeY": 10.0, "PhysicalSizeZ": 10.0,
                 "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm", "PhysicalSizeZUnit": "µm"})
hdr = {"space": "left-posterior-superior", "space directions": np.eye(3) * mm,
       "space units": ["mm", "mm", "mm"]}
nrrd.write(out + "/t_gzip.nrrd", v, dict(hdr, encoding="gzip"), index_order="F")
nrrd.write(out + "/t_raw.nrrd", v, dict(hdr, encoding="raw"), index_order="F")
anis = nib.Nifti1Image(v, np.diag([mm, mm, 2 * mm, 1.0]))
anis.header.set_xyzt_units("mm")
nib.save(anis, out + "/anisotropic.nii.gz")
"#;

const FILES: [&str; 6] = [
    "t.nii",
    "t.nii.gz",
    "t_imagej.tif",
    "t_ome.tiff",
    "t_gzip.nrrd",
    "t_raw.nrrd",
];

fn scenario(path: &str, vessel: u32, grid: [usize; 3], voxel_um: f64, extra: &str) -> String {
    format!(
        "[grid]\nnx = {}\nny = {}\nnz = {}\nvoxel_um = {voxel_um}\n\
         [time]\nduration_h = 1.0\nsnapshot_every_h = 0.5\n\
         [geometry]\nkind = \"volume\"\n\
         [geometry.volume]\npath = \"{path}\"\nboundary = \"mass\"\n\
         labels = {{ 0 = \"liver\", 7 = \"tumor\", 3 = \"stroma\", {vessel} = \"vessel\" }}\n\
         {extra}\
         [output]\nplane_axis = \"z\"\nplane_index = 1\n",
        grid[0], grid[1], grid[2]
    )
}

fn write_volumes(dir: &Path, dtype: &str, vessel: u32) {
    let [nx, ny, nz] = DIMS;
    let mut flat = Vec::new();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                flat.extend(label(x, y, z, vessel).to_le_bytes());
            }
        }
    }
    fs::write(dir.join("labels.u32"), flat).unwrap();
    let o = Command::new(python())
        .args(["-c", WRITE])
        .arg(dir)
        .args([nx, ny, nz].map(|n| n.to_string()))
        .arg(dtype)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the Python writers failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Each writer's file, 8- and 16-bit: the classes land where the convention says, in
/// the built geometry, and in the class plane of a short CPU run's first snapshot
/// (plane across z at z = 1: row j is y = j, column i is x = i).
#[test]
fn files_from_independent_writers_land_as_documented() {
    let [nx, ny, nz] = DIMS;
    for (dtype, vessel) in [("uint8", 5), ("uint16", 300)] {
        let dir = tempfile::tempdir().unwrap();
        write_volumes(dir.path(), dtype, vessel);
        for file in FILES {
            let what = format!("{file} ({dtype})");
            let sc = dir.path().join(format!("{file}.toml"));
            fs::write(&sc, scenario(file, vessel, DIMS, 10.0, "")).unwrap();
            let loaded = load_valid(&sc).unwrap_or_else(|e| panic!("{what}: {e}"));
            let g = geometry::build(&loaded).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(g.dims, DIMS, "{what}");
            assert_eq!(g.voxel_um, 10.0, "{what}");
            for z in 0..nz {
                for y in 0..ny {
                    for x in 0..nx {
                        assert_eq!(
                            g.class[g.index(x, y, z)],
                            class(label(x, y, z, vessel)),
                            "{what} at (x, y, z) = ({x}, {y}, {z})"
                        );
                    }
                }
            }
            if dtype == "uint16" && !file.ends_with(".nii") {
                continue; // one run per 8-bit file and one for 16-bit NIfTI suffice
            }
            let out = dir.path().join(format!("run-{file}"));
            let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
                .args(["run", "--backend", "cpu", "--quiet", "--duration", "10min"])
                .arg(&sc)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let planes =
                infiltrate::pictures::planes::read_all(&out.join("pictures/planes")).unwrap();
            let p = &planes[0];
            assert_eq!((p.header.width, p.header.height), (nx, ny), "{what}");
            assert_eq!(p.header.slice, 1, "{what}");
            let plane = p.get("class").expect("a class plane");
            for y in 0..ny {
                for x in 0..nx {
                    assert_eq!(
                        plane[x + nx * y],
                        f32::from(class(label(x, y, 1, vessel))),
                        "{what}: class plane row {y} (y), column {x} (x)"
                    );
                }
            }
            // The resolved scenario loads again as written (resume reads it).
            let resolved = out.join("scenario.resolved.toml");
            load_valid(&resolved).unwrap_or_else(|e| panic!("{what}: resolved: {e}"));
        }
        // Anisotropic voxels (10 × 10 × 20 µm) are refused, naming the sizes.
        let sc = dir.path().join("anisotropic.toml");
        fs::write(&sc, scenario("anisotropic.nii.gz", vessel, DIMS, 10.0, "")).unwrap();
        let m = volume_error(&sc);
        assert!(
            m.contains("not cubic") && m.contains("z 20") && m.contains("resample"),
            "{m}"
        );
    }
}

fn volume_error(sc: &Path) -> String {
    let loaded = load_valid(sc).unwrap_or_else(|e| panic!("{e}"));
    match geometry::build(&loaded) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A hand-written NRRD of `DIMS` with spacing `sp` µm, the labels of [`label`].
fn nrrd(dir: &Path, name: &str, sp: [f64; 3], vessel: u32) {
    let [nx, ny, nz] = DIMS;
    let mut f = format!(
        "NRRD0004\ntype: ushort\ndimension: 3\nsizes: {nx} {ny} {nz}\nendian: little\n\
         encoding: raw\nspacings: {} {} {}\nunits: \"um\" \"um\" \"um\"\n\n",
        sp[0], sp[1], sp[2]
    )
    .into_bytes();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                f.extend((label(x, y, z, vessel) as u16).to_le_bytes());
            }
        }
    }
    fs::write(dir.join(name), f).unwrap();
}

#[test]
fn refusals_say_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    nrrd(d, "t.nrrd", [10.0; 3], 5);
    let sc = d.join("s.toml");
    let write = |body: String| fs::write(&sc, body).unwrap();

    // It loads, as a check of the file itself.
    write(scenario("t.nrrd", 5, DIMS, 10.0, ""));
    geometry::build(&load_valid(&sc).unwrap()).unwrap();

    // Dimensions unlike the grid's: each key named with the file's value.
    write(scenario("t.nrrd", 5, [13, 8, 6], 10.0, ""));
    let loaded = load_valid(&sc).unwrap();
    match geometry::build(&loaded) {
        Err(Error::Invalid(v)) => {
            let keys: Vec<&str> = v.iter().map(|i| i.at.key.as_str()).collect();
            assert_eq!(keys, ["grid.ny", "grid.nz"]);
            let m = Error::Invalid(v).to_string();
            assert!(
                m.contains("s.toml:3: key `grid.ny` = 8: allowed 9, the value in t.nrrd's NRRD header (13 × 9 × 5 voxels): write [grid] nx = 13, ny = 9, nz = 5"),
                "{m}"
            );
        }
        other => panic!("expected dims errors, got {other:?}"),
    }

    // Voxel size unlike the grid's (beyond 1 %).
    write(scenario("t.nrrd", 5, DIMS, 12.0, ""));
    let m = volume_error(&sc);
    assert!(
        m.contains("key `grid.voxel_um` = 12") && m.contains("write [grid] voxel_um = 10"),
        "{m}"
    );
    // Within 1 %: accepted, the grid's value used.
    write(scenario("t.nrrd", 5, DIMS, 10.05, ""));
    assert_eq!(
        geometry::build(&load_valid(&sc).unwrap()).unwrap().voxel_um,
        10.05
    );

    // Anisotropic: 2 % apart is refused, 0.5 % is not.
    nrrd(d, "a.nrrd", [10.0, 10.0, 10.2], 5);
    write(scenario("a.nrrd", 5, DIMS, 10.0, ""));
    let m = volume_error(&sc);
    assert!(
        m.contains("not cubic (x 10 µm, y 10 µm, z 10.2 µm")
            && m.contains("within 1 %")
            && m.contains("resample"),
        "{m}"
    );
    nrrd(d, "b.nrrd", [10.0, 10.0, 10.05], 5);
    write(scenario("b.nrrd", 5, DIMS, 10.0, ""));
    geometry::build(&load_valid(&sc).unwrap()).unwrap();

    // A label the table does not list: the values found and their counts.
    write(scenario("t.nrrd", 6, DIMS, 10.0, ""));
    let m = volume_error(&sc);
    assert!(
        m.contains(
            "label 5 (first at voxel (x, y, z) = (11, 1, 3)) is not in [geometry.volume] labels"
        ) && m.contains("values found: 0 (")
            && m.contains("5 (1 voxels), 7 (")
            && m.contains("the background too"),
        "{m}"
    );
    // Without a table the values must be class codes.
    let plain = scenario("t.nrrd", 5, DIMS, 10.0, "").replace(
        "labels = { 0 = \"liver\", 7 = \"tumor\", 3 = \"stroma\", 5 = \"vessel\" }\n",
        "",
    );
    write(plain);
    let m = volume_error(&sc);
    assert!(
        m.contains("class code 7") && m.contains("values found"),
        "{m}"
    );

    // A bad class name or label key is refused at load, the key named.
    write(scenario("t.nrrd", 5, DIMS, 10.0, "").replace("\"stroma\"", "\"fat\""));
    let m = load_valid(&sc).unwrap_err().to_string();
    assert!(
        m.contains("geometry.volume.labels.3")
            && m.contains("\"fat\"")
            && m.contains("outside, liver, tumor, stroma or vessel"),
        "{m}"
    );
    write(scenario("t.nrrd", 5, DIMS, 10.0, "").replace("7 = ", "-7 = "));
    let m = load_valid(&sc).unwrap_err().to_string();
    assert!(m.contains("geometry.volume.labels.-7"), "{m}");

    // A raw file still needs dims and voxel_um.
    fs::write(d.join("t.raw"), vec![OUTSIDE; 13 * 9 * 5]).unwrap();
    write(scenario("t.raw", 5, DIMS, 10.0, ""));
    let m = load_valid(&sc).unwrap_err().to_string();
    assert!(
        m.contains("geometry.volume.dims") && m.contains("for a raw file"),
        "{m}"
    );
}
