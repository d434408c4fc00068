//! Pictures: the plotting module (colour maps, PNG, APNG, charts), the snapshot
//! pictures and ParaView files of a run, and `infiltrate compare`.
//!
//! Set `INFILTRATE_DUMP=DIR` to keep the charts drawn here for a look.

use infiltrate::plot::{
    apng_bytes, lightness, Canvas, ColorMap, Colorbar, Heatmap, ImagePanel, LinePlot, Series,
};

/// Decodes PNG bytes to (width, height, RGB bytes), failing the test on any error.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut r = dec.read_info().expect("PNG header");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn dump(name: &str, bytes: &[u8]) {
    if let Ok(dir) = std::env::var("INFILTRATE_DUMP") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

#[test]
fn colour_maps_have_the_published_ends_and_rising_lightness() {
    assert_eq!(ColorMap::Viridis.rgb(0.0), [68, 1, 84]);
    assert_eq!(ColorMap::Viridis.rgb(1.0), [253, 231, 37]);
    assert_eq!(ColorMap::Magma.rgb(0.0), [0, 0, 4]);
    assert_eq!(ColorMap::Magma.rgb(1.0), [252, 253, 191]);
    // Clamped outside [0, 1]; NaN is the low end.
    assert_eq!(ColorMap::Viridis.rgb(-3.0), ColorMap::Viridis.rgb(0.0));
    assert_eq!(ColorMap::Magma.rgb(7.0), ColorMap::Magma.rgb(1.0));
    assert_eq!(ColorMap::Magma.rgb(f64::NAN), ColorMap::Magma.rgb(0.0));
    for cmap in [ColorMap::Viridis, ColorMap::Magma] {
        let l: Vec<f64> = (0..=100)
            .map(|i| lightness(cmap.rgb(i as f64 / 100.0)))
            .collect();
        for w in l.windows(2) {
            // Rounding to bytes may cost a few tenths of a unit of L*.
            assert!(
                w[1] > w[0] - 0.3,
                "{cmap:?}: lightness falls {} → {}",
                w[0],
                w[1]
            );
        }
        assert!(
            l[100] - l[0] > 60.0,
            "{cmap:?}: lightness span {}",
            l[100] - l[0]
        );
    }
}

#[test]
fn a_canvas_encodes_to_a_png_of_its_size() {
    let mut c = Canvas::new(13, 7, [10, 20, 30]);
    c.set(12, 6, [255, 0, 0]);
    c.text(0, 0, "A1", 1, [0, 255, 0]);
    let (w, h, rgb) = decode(&c.png_bytes());
    assert_eq!((w, h), (13, 7));
    assert_eq!(rgb, c.rgb);
    assert_eq!(&rgb[3 * (12 + 13 * 6)..3 * (12 + 13 * 6) + 3], &[255, 0, 0]);
}

#[test]
fn heatmap_has_its_colour_bar_and_grey_for_missing_values() {
    let h = Heatmap {
        title: "killed fraction at 7 d".into(),
        x_label: "AMD3100 dose (mg/kg)".into(),
        y_label: "anti-PD-1 dose (mg/kg)".into(),
        x_ticks: vec!["0".into(), "1.5".into(), "3".into()],
        y_ticks: vec!["0".into(), "10".into()],
        values: vec![0.1, 0.2, 0.3, 0.4, f64::NAN, 0.6],
        colorbar_label: "killed fraction".into(),
        range: None,
        cmap: ColorMap::Viridis,
    };
    let c = h.render();
    dump("heatmap.png", &c.png_bytes());
    let (w, hgt, _) = decode(&c.png_bytes());
    assert_eq!((w, hgt), (c.width, c.height));
    let count = |col: [u8; 3]| {
        (0..c.height)
            .flat_map(|y| (0..c.width).map(move |x| (x, y)))
            .filter(|&(x, y)| c.get(x, y) == Some(col))
            .count()
    };
    // Both ends of the map appear: in the cells (0.1, 0.6) and in the colour bar.
    assert!(count(ColorMap::Viridis.rgb(0.0)) > 100);
    assert!(count(ColorMap::Viridis.rgb(1.0)) > 100);
    // The bar: a column of pixels right of the cells runs through the whole map.
    let bar_x = (0..c.width)
        .rev()
        .find(|&x| (0..c.height).any(|y| c.get(x, y) == Some(ColorMap::Viridis.rgb(1.0))))
        .expect("colour bar");
    let in_bar = (0..c.height)
        .filter_map(|y| c.get(bar_x, y))
        .filter(|p| *p != [255, 255, 255] && *p != [0, 0, 0])
        .count();
    assert!(in_bar > 80, "colour bar only {in_bar} px tall");
    assert!(count([150, 150, 150]) > 30, "missing value not grey");
}

#[test]
fn line_plot_draws_each_series() {
    let p = LinePlot {
        title: "killed fraction".into(),
        x_label: "time (h)".into(),
        y_label: "killed fraction".into(),
        series: vec![
            Series {
                name: "untreated".into(),
                points: (0..10).map(|i| (i as f64, 0.01 * i as f64)).collect(),
            },
            Series {
                name: "combination".into(),
                points: (0..10).map(|i| (i as f64, 0.05 * i as f64)).collect(),
            },
        ],
    };
    let c = p.render();
    dump("lines.png", &c.png_bytes());
    for col in [[0, 114, 178], [213, 94, 0]] {
        let n = c.rgb.chunks(3).filter(|p| *p == col).count();
        assert!(n > 200, "series colour {col:?} has {n} px");
    }
}

#[test]
fn apng_has_one_frame_per_canvas_and_each_decodes() {
    let frames: Vec<Canvas> = (0..5u8)
        .map(|i| {
            let mut c = Canvas::new(9, 6, [0, 0, 0]);
            c.fill_rect(i as i64, 0, 1, 6, [255, 255, 255]);
            c
        })
        .collect();
    let bytes = apng_bytes(&frames, 250);
    dump("anim.png", &bytes);
    let dec = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
    let mut r = dec.read_info().expect("APNG header");
    let actl = r.info().animation_control.expect("acTL chunk");
    assert_eq!(actl.num_frames, 5);
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    for (i, frame) in frames.iter().enumerate() {
        let info = r.next_frame(&mut buf).expect("frame decodes");
        assert_eq!((info.width, info.height), (9, 6));
        assert_eq!(&buf[..info.buffer_size()], &frame.rgb[..], "frame {i}");
    }
    assert!(bytes.windows(4).any(|w| w == b"acTL"));
    assert_eq!(bytes.windows(4).filter(|w| *w == b"fcTL").count(), 5);
}

#[test]
fn image_panel_scales_the_image_and_adds_bar_and_scale() {
    let (w, h) = (7u32, 5u32);
    let pixels: Vec<[u8; 3]> = (0..w * h)
        .map(|i| ColorMap::Magma.rgb((i % w) as f64 / (w - 1) as f64))
        .collect();
    let p = ImagePanel {
        title: "T cells".into(),
        subtitle: "t = 12 h".into(),
        width: w,
        height: h,
        pixels,
        colorbar: Some(Colorbar {
            cmap: ColorMap::Magma,
            lo: 0.0,
            hi: 2500.0,
            label: "cells/mm³".into(),
            log: false,
            clipped: false,
        }),
        note: String::new(),
        pixel_um: Some(10.0),
        footer: vec!["t = 12 h, z = 0 (5 µm), → x, ↑ y".into()],
        legend: vec![],
        target_px: 210,
        crosshair: None,
    };
    let c = p.render();
    dump("panel.png", &c.png_bytes());
    // Enlarged 30 × (210 / 7): the top right voxel covers a 30 × 30 block.
    let f = 210 / 7;
    let top = c
        .rgb
        .chunks(3)
        .position(|p| p == ColorMap::Magma.rgb(0.0))
        .expect("image drawn") as u32;
    let (x0, y0) = (top % c.width, top / c.width);
    let col = ColorMap::Magma.rgb(1.0);
    assert_eq!(c.get(x0 + 6 * f, y0), Some(col));
    assert_eq!(c.get(x0 + 7 * f - 1, y0 + f - 1), Some(col));
    assert!(c.width > x0 + 7 * f + 40, "no room for the colour bar");
}

// ---- snapshot planes, composite, ParaView ----

use infiltrate::model::{Fields, STROMA, TUMOR};
use infiltrate::pictures::planes::{Axis, Planes, Slicing};
use infiltrate::pictures::render::{composite_pixels, Ranges};
use infiltrate::pictures::vti::write_snapshot;

/// Fields on an awkward 7 × 5 × 3 grid whose values encode their voxel index.
fn coded_fields(dims: [usize; 3]) -> (Fields, Vec<u8>) {
    let n = dims[0] * dims[1] * dims[2];
    let mut f = Fields::zeros(n);
    for i in 0..n {
        f.c[i] = i as f64;
        f.a[i] = 0.5 * i as f64;
        f.p[i] = 1000.0 + i as f64;
        f.t[i] = 3.0 * i as f64;
        f.n[i] = i as f64 / n as f64;
        f.k[i] = 1.0 - i as f64 / n as f64;
    }
    let class = (0..n).map(|i| (i % 5) as u8).collect();
    (f, class)
}

#[test]
fn planes_cut_the_right_voxels_and_round_trip() {
    let dims = [7, 5, 3];
    let (f, class) = coded_fields(dims);
    let idx = |x: usize, y: usize, z: usize| x + 7 * (y + 5 * z);
    // A y-plane: horizontal x (7), vertical z (3).
    let at = Slicing {
        axis: Axis::Y,
        slice: 3,
        dims,
        voxel_um: 10.0,
    };
    let p = Planes::cut(&f, &class, &at, &[], 4, 90.0);
    assert_eq!((p.header.width, p.header.height), (7, 3));
    let c = p.get("cxcl12").unwrap();
    for z in 0..3 {
        for x in 0..7 {
            assert_eq!(c[x + 7 * z], idx(x, 3, z) as f32);
        }
    }
    // Maximum along y of T = 3·index: reached at y = 4.
    let mip = p.get("tcells_mip").unwrap();
    let (x, z) = (2, 1);
    assert_eq!(mip[x + 7 * z], 3.0 * idx(x, 4, z) as f32);
    assert_eq!(p.get("class").unwrap()[6], (idx(6, 3, 0) % 5) as f32);
    let back = Planes::from_bytes(&p.to_bytes(), std::path::Path::new("x.plane")).unwrap();
    assert_eq!(back.header, p.header);
    assert_eq!(back.data, p.data);
    // A truncated file is refused, naming it.
    let bytes = p.to_bytes();
    let err = Planes::from_bytes(&bytes[..bytes.len() - 4], std::path::Path::new("cut.plane"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.plane"), "{err}");
}

#[test]
fn composite_channels_land_on_tumour_stroma_and_t_cells() {
    let dims = [7, 5, 1];
    let n = 35;
    let mut f = Fields::zeros(n);
    let mut class = vec![1u8; n];
    let idx = |x: usize, y: usize| x + 7 * y;
    // Tumour at (1, 1), killed tumour at (2, 2), stroma at (5, 3), T cells at (3, 0)
    // (on liver) and at (1, 1) on the tumour.
    class[idx(1, 1)] = TUMOR;
    f.n[idx(1, 1)] = 0.8;
    class[idx(2, 2)] = TUMOR;
    f.k[idx(2, 2)] = 0.5;
    class[idx(5, 3)] = STROMA;
    f.t[idx(3, 0)] = 400.0;
    f.t[idx(1, 1)] = 100.0;
    let slicing = Slicing {
        axis: Axis::Z,
        slice: 0,
        dims,
        voxel_um: 10.0,
    };
    let p = Planes::cut(&f, &class, &slicing, &[], 0, 0.0);
    let mut ranges = Ranges::new();
    ranges.insert("tumor".into(), (0.0, 1.0));
    ranges.insert("tcells".into(), (0.0, 400.0));
    ranges.insert("killed".into(), (0.0, 0.5));
    let px = composite_pixels(&p, &ranges);
    // Picture rows by the pictures' convention: voxel row y is picture row y when the
    // vertical axis runs down (as image viewers show a file), 4 − y when it runs up.
    use infiltrate::pictures::render::VERTICAL_UP;
    let row = |y: usize| if VERTICAL_UP { 4 - y } else { y };
    let at = |x: usize, y: usize| px[x + 7 * row(y)];
    // Magenta at 0.8 (120, 0, 120) under green at an opacity of √(100/400) = 0.5.
    assert_eq!(
        at(1, 1),
        [60, 128, 60],
        "tumour magenta under T cells green"
    );
    assert_eq!(
        at(2, 2),
        [170, 110, 0],
        "killed tumour orange, top of its range"
    );
    assert_eq!(at(5, 3), [90, 90, 90], "stroma grey");
    assert_eq!(at(3, 0), [0, 255, 0], "T cells green");
    assert_eq!(at(0, 0), [0, 0, 0], "empty liver black");
    let lit = px.iter().filter(|c| **c != [0, 0, 0]).count();
    assert_eq!(lit, 4);
    // Where there are T cells the green channel is lit; on viable tumour alone it is not.
    assert!(at(1, 1)[1] > 0 && at(3, 0)[1] > 0);
    let mut bare = f.clone();
    bare.t[idx(1, 1)] = 0.0;
    let q = Planes::cut(&bare, &class, &slicing, &[], 0, 0.0);
    assert_eq!(composite_pixels(&q, &ranges)[1 + 7 * row(1)][1], 0);
}

/// The attributes of the `<DataArray ...>` elements of a VTK XML header.
fn data_arrays(xml: &str) -> Vec<std::collections::HashMap<String, String>> {
    xml.split("<DataArray ")
        .skip(1)
        .map(|el| {
            let el = &el[..el.find('>').unwrap()];
            el.split('"')
                .collect::<Vec<_>>()
                .chunks(2)
                .filter(|kv| kv.len() == 2)
                .map(|kv| {
                    (
                        kv[0].trim().trim_end_matches('=').to_string(),
                        kv[1].to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn vti_structure_and_values_round_trip() {
    let dims = [7, 5, 3];
    let (f, class) = coded_fields(dims);
    // Streamed as a run writes it: one field at a time, each fetched once.
    let mut fetched = Vec::new();
    let mut bytes = Vec::new();
    write_snapshot(&mut bytes, dims, 12.5, 36.0, &class, &[], &mut |k| {
        fetched.push(k);
        Ok(f.get(k).iter().map(|&x| x as f32).collect())
    })
    .unwrap();
    fetched.sort();
    assert_eq!(fetched, infiltrate::model::Field::ALL);
    let mark = bytes
        .windows(29)
        .position(|w| w == b"<AppendedData encoding=\"raw\">")
        .expect("appended block");
    let us = mark + bytes[mark..].iter().position(|b| *b == b'_').unwrap();
    let xml = std::str::from_utf8(&bytes[..us]).unwrap();
    assert!(xml.contains("type=\"ImageData\""));
    assert!(xml.contains("byte_order=\"LittleEndian\""));
    assert!(xml.contains("header_type=\"UInt64\""));
    assert!(
        xml.contains("WholeExtent=\"0 7 0 5 0 3\""),
        "cell data: 7×5×3 cells"
    );
    assert!(xml.contains("Origin=\"0 0 0\""));
    assert!(xml.contains("Spacing=\"12.5 12.5 12.5\""));
    assert!(xml.contains("Name=\"TimeValue\""));
    assert!(xml.contains(">36<"), "time in h");
    assert!(bytes.ends_with(b"</AppendedData>\n</VTKFile>\n"));
    let data = &bytes[us + 1..];
    let arrays = data_arrays(xml);
    let time = &arrays[0];
    assert_eq!(time["Name"], "TimeValue");
    let n = 7 * 5 * 3;
    let mut seen = 0;
    for a in &arrays[1..] {
        let off: usize = a["offset"].parse().unwrap();
        let len = u64::from_le_bytes(data[off..off + 8].try_into().unwrap()) as usize;
        let body = &data[off + 8..off + 8 + len];
        let expect: Vec<f64> = match a["Name"].as_str() {
            "T_cells_per_mm3" => f.t.clone(),
            "CXCL12_nM" => f.c.clone(),
            "AMD3100_uM" => f.a.clone(),
            "anti_PD1_nM" => f.p.clone(),
            "tumor_fraction" => f.n.clone(),
            "killed_fraction" => f.k.clone(),
            name if name.starts_with("class") => class.iter().map(|c| *c as f64).collect(),
            other => panic!("unexpected array {other}"),
        };
        let got: Vec<f64> = match a["type"].as_str() {
            "Float32" => body
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .collect(),
            "UInt8" => body.iter().map(|b| *b as f64).collect(),
            t => panic!("unexpected type {t}"),
        };
        assert_eq!(got.len(), n, "{}", a["Name"]);
        for (g, e) in got.iter().zip(&expect) {
            assert_eq!(*g, *e as f32 as f64, "{}", a["Name"]);
        }
        seen += 1;
    }
    assert_eq!(seen, 7, "six fields and the classes");
}

// ---- a run's pictures and `compare`, through the binary ----

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a tiny slice arm (12 × 10 × 25 voxels, half an hour of burn-in) extending a
/// shipped arm, and runs it for 2 h with a snapshot every hour on the CPU.
fn tiny_run(dir: &Path, arm: &str, extra_args: &[&str]) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/slice/{arm}.toml"));
    let scenario = dir.join(format!("{arm}.toml"));
    std::fs::write(
        &scenario,
        format!(
            "extends = {:?}\nname = \"tiny {arm}\"\n[grid]\nnx = 12\nny = 10\n[time]\nburn_in_h = 0.5\nsnapshot_times_h = []\n[output]\nvti_every_h = 1.0\n",
            shipped.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.join(format!("run-{arm}"));
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--backend",
            "cpu",
            "--quiet",
            "--duration",
            "2h",
            "--snapshot-every",
            "1h",
            "--out",
        ])
        .arg(&out)
        .args(extra_args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "run {arm}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The pictures of a run's last snapshot, tested as pictures (combination arm, 2 h: T
/// cells released into the tumour):
/// - the T-cell panel draws at least 95 % of the tumour voxels holding T cells (≥ 5 % of
///   the panel's top) in a colour that is not near black (a channel above 40 of 255);
/// - the composite is green wherever T cells are (green channel above the tissue's), and
///   has no green in tumour voxels without them;
/// - the figure's title is drawn in the new typeface's size: its first line's ink at
///   least 28 pixels tall (the old bitmap font's capitals were 14).
fn pictures_show_the_t_cells(run: &Path) {
    use infiltrate::pictures::render::{
        common_ranges, field_pixels, mapping, Look, FIELDS, VERTICAL_UP,
    };
    let planes = infiltrate::pictures::planes::read_all(&run.join("pictures/planes")).unwrap();
    let ranges = common_ranges(&planes, &Ranges::new());
    let p = planes.last().unwrap();
    let (w, h) = (p.header.width, p.header.height);
    // Plane row j is picture row h − 1 − j when the vertical axis points up.
    let row = |j: usize| if VERTICAL_UP { h - 1 - j } else { j };
    let picture = |i: usize| (i % w) + w * row(i / w);
    let (t, class) = (p.get("tcells").unwrap(), p.get("class").unwrap());
    let m = mapping(p, "tcells", &ranges, &Look::default());
    let pixels = field_pixels(p, &FIELDS[0], m).unwrap();
    let tumour_with_t: Vec<usize> = (0..w * h)
        .filter(|&i| class[i] as u8 == TUMOR && f64::from(t[i]) >= 0.05 * m.hi)
        .collect();
    assert!(
        tumour_with_t.len() > 20,
        "{} tumour voxels with T cells",
        tumour_with_t.len()
    );
    let lit = tumour_with_t
        .iter()
        .filter(|&&i| pixels[picture(i)].iter().any(|&c| c > 40))
        .count();
    let share = lit as f64 / tumour_with_t.len() as f64;
    assert!(
        share >= 0.95,
        "{lit} of {} T-cell voxels drawn",
        tumour_with_t.len()
    );

    let composite = composite_pixels(p, &ranges);
    for i in 0..w * h {
        let g = composite[picture(i)][1];
        if t[i] > 0.0 && f64::from(t[i]) >= 1e-3 * m.hi {
            assert!(g > 0, "no green at T = {} (voxel {i})", t[i]);
        } else if class[i] as u8 == TUMOR && t[i] == 0.0 {
            let killed = f64::from(p.get("killed").unwrap()[i]);
            assert!(killed > 0.0 || g == 0, "green without T cells at voxel {i}");
        }
    }

    let (fw, _, rgb) = decode(&std::fs::read(run.join("pictures/final.png")).unwrap());
    let ink_row = |y: u32| (0..fw).any(|x| rgb[3 * (x + fw * y) as usize] < 128);
    let first = (0..200).find(|&y| ink_row(y)).expect("a title");
    let last = (first..first + 80)
        .take_while(|&y| ink_row(y))
        .last()
        .unwrap();
    assert!(last - first + 1 >= 28, "title {} px tall", last - first + 1);
}

fn apng_frames(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    let r = png::Decoder::new(std::io::Cursor::new(&bytes[..]))
        .read_info()
        .unwrap();
    let n = r.info().animation_control.expect("acTL").num_frames;
    let mut r = r;
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    for _ in 0..n {
        r.next_frame(&mut buf).expect("each frame decodes");
    }
    n
}

#[test]
fn runs_draw_their_snapshots_and_compare_puts_arms_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let untreated = tiny_run(tmp.path(), "untreated", &[]);
    let combination = tiny_run(tmp.path(), "combination", &["--plane", "x:3"]);

    // Each run: planes (the state), frames, time-lapses, overview, ParaView.
    for run in [&untreated, &combination] {
        let pic = run.join("pictures");
        let planes = infiltrate::pictures::planes::read_all(&pic.join("planes")).unwrap();
        assert_eq!(planes.len(), 3, "snapshots at 0, 1 and 2 h");
        // And the last snapshot's planes across x, y and z, through the middle voxel
        // (with the pictures' own plane index along its axis).
        let last = planes[2].header.index;
        let ortho =
            infiltrate::pictures::planes::read_orthogonal(&pic.join("planes"), last).unwrap();
        let axes: Vec<(Axis, usize)> = ortho
            .iter()
            .map(|o| (o.header.axis, o.header.slice))
            .collect();
        let x = if run == &combination { 3 } else { 6 };
        assert_eq!(axes, [(Axis::X, x), (Axis::Y, 5), (Axis::Z, 12)]);
        for field in [
            "composite",
            "tcells",
            "tcells_mip",
            "cxcl12",
            "amd3100",
            "anti_pd1",
            "tumor",
            "killed",
        ] {
            let frames = std::fs::read_dir(pic.join("frames").join(field))
                .unwrap()
                .count();
            assert_eq!(frames, 3, "{field}");
        }
        assert_eq!(apng_frames(&pic.join("timelapse-composite.png")), 3);
        assert_eq!(apng_frames(&pic.join("timelapse-tcells.png")), 3);
        decode(&std::fs::read(pic.join("final.png")).unwrap());
        for i in 0..3 {
            assert!(run.join(format!("paraview/snapshot_{i:06}.vti")).exists());
        }
        let pvd = std::fs::read_to_string(run.join("paraview/run.pvd")).unwrap();
        assert_eq!(pvd.matches("<DataSet").count(), 3);
        assert!(pvd.contains("timestep=\"2\""), "{pvd}");
    }
    // The x-plane of the combination run is 10 × 25 voxels (y × z).
    let p = Planes::from_bytes(
        &std::fs::read(combination.join("pictures/planes/000002.plane")).unwrap(),
        Path::new("p"),
    )
    .unwrap();
    assert_eq!(
        (p.header.width, p.header.height, p.header.slice),
        (10, 25, 3)
    );

    pictures_show_the_t_cells(&combination);

    // Rendering is a function of the stored planes: drawing again gives the same bytes.
    let final_png = std::fs::read(untreated.join("pictures/final.png")).unwrap();
    let lapse = std::fs::read(untreated.join("pictures/timelapse-composite.png")).unwrap();
    infiltrate::pictures::render_run(&untreated, &infiltrate::pictures::Look::default(), 400)
        .unwrap();
    assert_eq!(
        std::fs::read(untreated.join("pictures/final.png")).unwrap(),
        final_png
    );
    assert_eq!(
        std::fs::read(untreated.join("pictures/timelapse-composite.png")).unwrap(),
        lapse
    );

    // `infiltrate pictures` draws again with a fixed range; a folder without planes is refused.
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("pictures")
        .arg(&untreated)
        .args(["--range", "tcells=0:1e6"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fixed_png = std::fs::read(untreated.join("pictures/final.png")).unwrap();
    assert_ne!(fixed_png, final_png);
    // And with the T cells on a log scale, each frame in its own range; a bad scale is
    // refused naming the allowed ones.
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("pictures")
        .arg(&untreated)
        .args(["--scale", "log", "--per-frame"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log_png = std::fs::read(untreated.join("pictures/final.png")).unwrap();
    assert!(log_png != final_png && log_png != fixed_png);
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("pictures")
        .arg(&untreated)
        .args(["--scale", "cubic"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("allowed linear or log"));
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("pictures")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no stored planes"));

    let out = tmp.path().join("cmp");
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("compare")
        .arg(&combination)
        .arg(&untreated)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("tiny untreated (baseline)"), "{md}");
    assert!(md.starts_with("Compared at t = "), "{md}");
    assert!(!md.contains("warning"), "{md}");
    assert!(md.contains("| tiny combination |"), "{md}");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    let cols: Vec<&str> = lines[0].split(',').collect();
    let gain = cols
        .iter()
        .position(|c| *c == "killed_fraction_gain")
        .unwrap();
    let fold = cols
        .iter()
        .position(|c| *c == "infiltration_ratio_fold")
        .unwrap();
    // The baseline's own gain is 0 and fold 1; the treated arm's killed fraction is its
    // final metrics.csv value minus the baseline's.
    let base: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(base[gain].parse::<f64>().unwrap(), 0.0);
    assert!((base[fold].parse::<f64>().unwrap() - 1.0).abs() < 1e-12);
    let last_killed = |run: &Path| -> f64 {
        let m = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        let head: Vec<&str> = m.lines().next().unwrap().split(',').collect();
        let k = head.iter().position(|c| *c == "killed_fraction").unwrap();
        m.lines()
            .last()
            .unwrap()
            .split(',')
            .nth(k)
            .unwrap()
            .parse()
            .unwrap()
    };
    let treated: Vec<&str> = lines[1].split(',').collect();
    let want = last_killed(&combination) - last_killed(&untreated);
    let got: f64 = treated[gain].parse().unwrap();
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1e-12),
        "{got} vs {want}"
    );

    let (w, h, _) = decode(&std::fs::read(out.join("metrics.png")).unwrap());
    assert!(w > 500 && h > 600, "two charts stacked: {w}×{h}");
    // Side by side: the two arms' composites in one picture (the combination's x-plane
    // is narrower than the untreated z-plane).
    let (cw, _, _) = decode(&std::fs::read(out.join("final-composite.png")).unwrap());
    let (one, _, _) =
        decode(&std::fs::read(untreated.join("pictures/frames/composite/000002.png")).unwrap());
    assert!(cw > one + 150, "{cw} vs one panel {one}");
    for f in [
        "final-tcells.png",
        "final-tcells_mip.png",
        "final-tumor.png",
        "final-killed.png",
    ] {
        decode(&std::fs::read(out.join(f)).unwrap());
    }
    // The arms' columns: T cells above viable and killed tumour, side by side.
    let (aw, ah, _) = decode(&std::fs::read(out.join("final-arms.png")).unwrap());
    let (tw, th, _) = decode(&std::fs::read(out.join("final-tcells.png")).unwrap());
    assert!(
        aw >= tw && ah > 2 * th,
        "{aw}×{ah} against one row {tw}×{th}"
    );

    // A baseline that is not among the runs is refused.
    let o = Command::new(env!("CARGO_BIN_EXE_infiltrate"))
        .arg("compare")
        .arg(&combination)
        .args(["--out"])
        .arg(&out)
        .arg("--baseline")
        .arg(&untreated)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--baseline"));
}

// ---------------------------------------------------------------------------------
// Colour ranges that show the T cells (`pictures::render`: robust top, log, per frame)

use infiltrate::pictures::render::{
    common_ranges as ranges_of, mapping, robust_top, Look, Mapping, LOG_DECADES,
};
use infiltrate::scenario::TcellScale;

/// A one-plane snapshot (`tcells` only) of `w × h` at `time_min`.
fn tcells_plane(w: usize, h: usize, time_min: f64, values: Vec<f32>) -> Planes {
    Planes {
        header: infiltrate::pictures::planes::PlaneHeader {
            version: 1,
            index: 0,
            time_min,
            axis: Axis::Z,
            slice: 0,
            dims: [w, h, 1],
            voxel_um: 10.0,
            width: w,
            height: h,
            planes: vec!["tcells".into()],
            species: vec![],
            run: String::new(),
            undosed: vec![],
        },
        data: vec![values],
    }
}

/// 20 × 15 planes: at t = 0 a peak of 5e4 everywhere inside; at 24 h 3000 in the
/// inside, a hot spot of 4e4 on an edge pixel and 0 on the other edge pixels. The
/// robust top leaves out the t = 0 frame and the edges: 3000, so the inside sits at
/// the top of the map (position 1), not at 3000/5e4 = 0.06 as with the largest value.
#[test]
fn the_t_cell_range_is_robust_to_the_start_and_the_edges() {
    let (w, h) = (20, 15);
    let edge = |i: usize| {
        let (x, y) = (i % w, i / w);
        x == 0 || y == 0 || x == w - 1 || y == h - 1
    };
    let start: Vec<f32> = (0..w * h)
        .map(|i| if edge(i) { 0.0 } else { 5e4 })
        .collect();
    let mut later: Vec<f32> = (0..w * h)
        .map(|i| if edge(i) { 0.0 } else { 3000.0 })
        .collect();
    later[w * 7] = 4e4;
    let planes = [
        tcells_plane(w, h, 0.0, start),
        tcells_plane(w, h, 1440.0, later),
    ];
    let ranges = ranges_of(planes.iter(), &Default::default());
    assert_eq!(ranges["tcells"], (0.0, 3000.0));
    assert_eq!(robust_top(&[&planes[1]], "tcells"), Some(3000.0));
    let m = mapping(&planes[1], "tcells", &ranges, &Look::default());
    assert_eq!(m.position(3000.0), 1.0);
    // A fixed range wins.
    let mut fixed = infiltrate::pictures::Ranges::new();
    fixed.insert("tcells".into(), (0.0, 8000.0));
    assert_eq!(ranges_of(planes.iter(), &fixed)["tcells"], (0.0, 8000.0));
}

/// Snapshots taken densely after a dose do not set the range for the rest of the run:
/// ten snapshots in the first hour at 2e4 inside and three at 16, 32 and 48 h at 6000
/// give a top of 6000 (the median over time of each frame's top; over frames it would
/// be 2e4), and one hot voxel per frame changes nothing.
#[test]
fn dense_early_snapshots_do_not_set_the_t_cell_range() {
    let (w, h) = (24, 15);
    let frame = |t: f64, inside: f32| {
        let mut v: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
                    0.0
                } else {
                    inside
                }
            })
            .collect();
        v[w * 4 + 5] = 9e4;
        tcells_plane(w, h, t, v)
    };
    let mut planes = vec![frame(0.0, 5e4)];
    planes.extend((1..=10).map(|k| frame(6.0 * k as f64, 2e4)));
    planes.extend([16.0, 32.0, 48.0].map(|h| frame(60.0 * h, 6000.0)));
    let ranges = ranges_of(planes.iter(), &Default::default());
    assert_eq!(ranges["tcells"], (0.0, 6000.0));
    // One snapshot alone: its own top, the hot voxel left out (1 of 286 inside pixels,
    // above the 99.5th percentile's rank).
    assert_eq!(robust_top(&[&planes[3]], "tcells"), Some(2e4));
}

/// Log: three decades below the top, `hi/10` at 2/3 of the map, values at or below
/// the bottom at 0; per frame: each frame topped by its own robust top; the colour bar
/// says the scale and the clipping.
#[test]
fn log_and_per_frame_t_cell_ranges_map_as_documented() {
    let m = Mapping {
        lo: 1.0,
        hi: 1000.0,
        log: true,
    };
    assert!((m.position(100.0) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(m.position(0.5), 0.0);
    assert_eq!(m.position(0.0), 0.0);
    assert_eq!(m.position(5000.0), 1.0);
    let (w, h) = (9, 8);
    let a = tcells_plane(w, h, 60.0, vec![100.0; w * h]);
    let b = tcells_plane(w, h, 120.0, vec![2000.0; w * h]);
    let ranges = ranges_of([&a, &b], &Default::default());
    let log = Look {
        tcells_scale: TcellScale::Log,
        ..Look::default()
    };
    let m = mapping(&a, "tcells", &ranges, &log);
    assert_eq!(
        (m.lo, m.hi, m.log),
        (2000.0 * 10f64.powi(-LOG_DECADES), 2000.0, true)
    );
    let per_frame = Look {
        tcells_per_frame: true,
        ..Look::default()
    };
    assert_eq!(mapping(&a, "tcells", &ranges, &per_frame).hi, 100.0);
    assert_eq!(mapping(&b, "tcells", &ranges, &per_frame).hi, 2000.0);
    let bar = Colorbar {
        cmap: ColorMap::Magma,
        lo: 2.0,
        hi: 2000.0,
        label: "T cells (cells/mm³)".into(),
        log: true,
        clipped: true,
    };
    assert_eq!(bar.full_label(), "T cells (cells/mm³), log");
    assert_eq!(bar.top_label(), "≥2000");
}

/// The fixture of the four shipped slice arms (fitted flux, 2 days): each arm's stored
/// T-cell planes (z = 12 of 25, 40 × 40, the 13 snapshots, `tcells` only), written from
/// full runs by `write_slice_arm_fixture`.
const ARMS: [&str; 4] = ["untreated", "amd3100", "anti_pd1", "combination"];

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slice-arms")
}

/// Writes the fixture from runs of the four slice arms in `$INFILTRATE_ARMS/slice-ARM`
/// (run by hand: `INFILTRATE_ARMS=DIR cargo test --test pictures -- --ignored`).
#[test]
#[ignore]
fn write_slice_arm_fixture() {
    let runs = std::path::PathBuf::from(std::env::var("INFILTRATE_ARMS").unwrap());
    for arm in ARMS {
        let all = infiltrate::pictures::planes::read_all(
            &runs.join(format!("slice-{arm}")).join("pictures/planes"),
        )
        .unwrap();
        let dir = fixture_dir().join(arm);
        std::fs::create_dir_all(&dir).unwrap();
        for p in all {
            let mut header = p.header.clone();
            header.planes = vec!["tcells".into()];
            let data = vec![p.get("tcells").unwrap().to_vec()];
            Planes { header, data }.write(&dir).unwrap();
        }
    }
}

/// The test of the default T-cell range on the four shipped slice arms' final
/// frames (fixture above; core and lamellae from the shipped slice's own geometry and
/// readout regions at the stored plane): the median colour-map position of core voxels
/// is at least 0.25 under AMD3100 and under the combination, and below that of the
/// lamellae (stroma) when untreated.
#[test]
fn slice_arms_show_where_the_t_cells_are() {
    let loaded = infiltrate::run::prepare(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/slice/untreated.toml"),
        Default::default(),
    )
    .unwrap();
    let geom = &loaded.geometry;
    let regions = infiltrate::probe::Regions::new(&loaded.loaded.scenario.readout);
    let labels = infiltrate::probe::Labels::new(geom, &regions, &loaded.params);
    let mut medians = Vec::new();
    for arm in ARMS {
        let all = infiltrate::pictures::planes::read_all(&fixture_dir().join(arm)).unwrap();
        assert_eq!(all.len(), 18, "{arm}: snapshots in the fixture");
        let ranges = ranges_of(all.iter(), &Default::default());
        let last = all.last().unwrap();
        let [nx, ny, _] = geom.dims;
        let z = last.header.slice;
        let m = mapping(last, "tcells", &ranges, &Look::default());
        let t = last.get("tcells").unwrap();
        let median = |want: &dyn Fn(usize) -> bool| {
            let mut v: Vec<f64> = (0..nx * ny)
                .filter(|&l| want(l + nx * ny * z))
                .map(|l| m.position(f64::from(t[l])))
                .collect();
            assert!(!v.is_empty());
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let core = median(&|i| labels.code[i] & infiltrate::probe::CORE != 0);
        let lamellae = median(&|i| geom.class[i] == infiltrate::model::STROMA);
        eprintln!(
            "{arm}: top {:.0} cells/mm³, median position core {core:.3}, lamellae {lamellae:.3}",
            m.hi
        );
        medians.push((core, lamellae));
    }
    assert!(medians[0].0 < medians[0].1, "untreated: {:?}", medians[0]);
    for k in [1, 3] {
        assert!(medians[k].0 >= 0.25, "{}: {:?}", ARMS[k], medians[k]);
    }
}

/// compare warns when runs end at different times or have different grids, naming each
/// run's; runs that agree get no warning.
#[test]
fn compare_warns_of_runs_that_do_not_match() {
    use infiltrate::compare::{mismatches, RunData};
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, nx: u32, end: f64| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("scenario.resolved.toml"),
            format!("name = \"{name}\"\n[grid]\nnx = {nx}\nny = 4\nnz = 3\nvoxel_um = 10.0\n"),
        )
        .unwrap();
        RunData {
            dir,
            name: name.into(),
            rows: vec![(0.0, 0.0, 0.1), (end, 0.2, 0.5)],
        }
    };
    let same = [run("a", 5, 48.0), run("b", 5, 48.0)];
    assert!(mismatches(&same).is_empty());
    let w = mismatches(&[run("a", 5, 48.0), run("c", 7, 24.0)]).join("\n");
    for want in [
        "end at different times (a at 48 h, c at 24 h)",
        "different grids (a: 5 × 4 × 3 of 10 µm; c: 7 × 4 × 3 of 10 µm)",
    ] {
        assert!(w.contains(want), "missing `{want}` in {w}");
    }
}
