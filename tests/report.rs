//! report.html in a real browser. Tiny runs on the CPU backend (one with pictures, one
//! without), a compare of the two and a local sweep of four tiny points write their
//! reports; headless Chromium, driven by its command line, then opens each one: every
//! `<img>` decodes (under the page's own policy, which allows `data:` pictures only),
//! nothing points at the network, and a screenshot of the page is more than one flat
//! colour. The screenshots and the reports are kept under
//! `target/test-output/report/` for a person to look at.
//!
//! Chromium must be on PATH (`chromium`, `chromium-browser` or `google-chrome`):
//! `.ci/test` installs it. Without it these tests fail; they never pass unchecked.

mod common;

use common::{root, text};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use infiltrate::report::{FILE, POLICY};

/// How long one browser call may take before the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infiltrate"))
}

/// Where the screenshots and copies of the reports are kept.
fn kept() -> PathBuf {
    let d = root().join("target/test-output/report");
    fs::create_dir_all(&d).unwrap();
    d
}

/// The browser on PATH; fails the test, saying what to do, when there is none.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "none of chromium, chromium-browser, google-chrome is on PATH: the report tests \
         open report.html in headless Chromium. Run .ci/test (it installs Debian's \
         `chromium` package), or `apt-get install chromium`"
    );
}

/// Runs headless Chromium on `args` with a profile of its own, killed (and the test
/// failed) after [`BROWSER_TIMEOUT`]; returns its standard output. Output goes to
/// files, so that a large DOM cannot fill a pipe.
fn browser(args: &[String]) -> String {
    let exe = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let (out, err) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = Command::new(&exe)
        .args([
            "--headless",
            // Root in a container has no sandbox to enter.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not finish in {} s:\n{}",
                exe.display(),
                BROWSER_TIMEOUT.as_secs(),
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = fs::read_to_string(&out).unwrap_or_default();
    assert!(
        status.success(),
        "{} {args:?}: {status}\n{}",
        exe.display(),
        fs::read_to_string(&err).unwrap_or_default()
    );
    stdout
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// The number in `name="N"` of a dumped DOM.
fn attribute(dom: &str, name: &str) -> Option<usize> {
    let at = dom.find(&format!("{name}=\""))? + name.len() + 2;
    dom[at..].split('"').next()?.parse().ok()
}

/// Opens `dir/report.html` in Chromium and checks it as a reader would see it; keeps a
/// screenshot as `kept()/NAME.png` and a copy of the page as `kept()/NAME.html`.
/// Returns the page.
fn check_in_browser(dir: &Path, name: &str) -> String {
    let page = dir.join(FILE);
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
    assert!(html.ends_with("</html>\n"), "{name}");

    // Nothing from the network, nor from anywhere but the page itself.
    for bad in [
        "http://", "https://", "<script", "<link", "<iframe", "@import", "url(",
    ] {
        assert!(!html.contains(bad), "{name}: `{bad}` in the page");
    }
    let images = html.matches("<img ").count();
    assert!(images > 0, "{name}: no pictures");
    let embedded = html.matches("<img src=\"data:image/png;base64,").count();
    assert_eq!(embedded, images, "{name}: every picture is a data URI");
    let policy = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">");
    assert!(html.contains(&policy), "{name}: no policy");

    // Every picture decodes: a copy of the page with a script that counts them, its
    // policy allowing only that script beside the page's own `data:` pictures.
    let check = dir.join("report-check.html");
    let counting = "<script>addEventListener('load', () => { \
        const all = Array.from(document.images); \
        document.body.dataset.images = all.length; \
        document.body.dataset.decoded = \
        all.filter(i => i.complete && i.naturalWidth > 0).length; });</script>\n</body>";
    let with_script = html
        .replace(POLICY, &format!("{POLICY}; script-src 'unsafe-inline'"))
        .replace("</body>", counting);
    fs::write(&check, with_script).unwrap();
    let dom = browser(&[
        "--dump-dom".into(),
        "--virtual-time-budget=5000".into(),
        file_url(&check),
    ]);
    fs::remove_file(&check).unwrap();
    let counted = attribute(&dom, "data-images");
    let decoded = attribute(&dom, "data-decoded");
    assert_eq!(
        counted,
        Some(images),
        "{name}: the browser counted other pictures than the page has (dumped DOM {} bytes)",
        dom.len()
    );
    assert_eq!(
        decoded,
        Some(images),
        "{name}: pictures that did not decode"
    );

    // A screenshot of the page itself, decoded: not one flat colour.
    let shot = kept().join(format!("{name}.png"));
    let _ = fs::remove_file(&shot);
    browser(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2000".into(),
        file_url(&page),
    ]);
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000), "{name}");
    let px = info.color_type.samples();
    let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "{name}: the screenshot has {} colours",
        colours.len()
    );
    fs::copy(&page, kept().join(format!("{name}.html"))).unwrap();
    println!("{name}: screenshot {}", shot.display());
    html
}

/// A scenario file extending the tiny sweep slice, with a name that is markup.
fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    let base = root().join("tests/sweeps/tiny.toml");
    fs::write(
        &p,
        format!(
            "extends = {:?}\nname = \"tiny <b>slice</b> & 'co'\"\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    p
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    let o = bin()
        .args(["run", "--quiet", "--backend", "cpu"])
        .args(extra)
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// A run with pictures and one without, each with its report; then their comparison.
#[test]
fn run_and_compare_reports_open_in_a_browser() {
    chromium();
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path());
    let (with, without) = (dir.path().join("with"), dir.path().join("without"));
    run(&sc, &with, &["--snapshot-every", "1h"]);
    run(
        &sc,
        &without,
        &["--no-pictures", "--no-vti", "--duration", "2h"],
    );

    // `pictures` redraws the report with the pictures.
    let before = fs::read_to_string(with.join(FILE)).unwrap();
    let o = bin()
        .arg("pictures")
        .arg(&with)
        .args(["--scale", "log"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("report: "), "{}", text(&o));
    assert_ne!(before, fs::read_to_string(with.join(FILE)).unwrap());

    let html = check_in_browser(&with, "run");
    for want in [
        "<h1>tiny &lt;b&gt;slice&lt;/b&gt; &amp; &#39;co&#39;</h1>",
        "9 × 7 × 5 voxels of 10 µm (90 × 70 × 50 µm)",
        "<h2>Dosing</h2>",
        "<td>AMD3100</td><td>bath</td><td>constant 1 µM from 0 min</td>",
        "<h2>Time-lapses</h2>",
        "pictures/timelapse-composite.png",
        "pictures/final.png",
        "<h2>Budgets over the run</h2>",
        "<td>T cells</td><td>cells</td>",
        "<h2>Provenance</h2>",
        "infiltrate 0.1.0 (commit",
        "cpu (",
    ] {
        assert!(html.contains(want), "run report: no `{want}`");
    }
    assert!(!html.contains("<b>slice"), "the name is escaped");
    // The metrics chart, two time-lapses and the final pictures.
    assert_eq!(html.matches("<img ").count(), 4);

    let html = check_in_browser(&without, "run-no-pictures");
    assert!(html.contains("made with pictures off"), "{html}");
    assert!(html.contains("<h2>Pictures</h2>") && !html.contains("<h2>Time-lapses</h2>"));
    assert_eq!(html.matches("<img ").count(), 1, "the metrics chart only");

    let out = dir.path().join("compare");
    let o = bin()
        .arg("compare")
        .arg(&with)
        .arg(&without)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("report: "), "{}", text(&o));
    let html = check_in_browser(&out, "compare");
    assert!(html.contains("<h1>2 runs compared</h1>"));
    assert!(
        html.contains("the runs end at different times"),
        "the warning"
    );
    assert!(html.contains("<th>killed fraction − baseline</th>"));
    let pngs = fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 7, "metrics.png and the final pictures: {pngs}");
    assert_eq!(
        html.matches("<img ").count(),
        pngs,
        "every picture compare wrote"
    );
}

/// A local sweep of four tiny points, collected: its report shows the table and every
/// plot.
#[test]
fn a_sweep_report_opens_in_a_browser() {
    chromium();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("four");
    let o = bin()
        .args(["sweep", "run", "--backend", "cpu", "--quiet"])
        .arg(root().join("tests/sweeps/four.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = bin().args(["sweep", "collect"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("report: "), "{}", text(&o));
    let html = check_in_browser(&out, "sweep");
    for want in [
        "<h1>four tiny points</h1>",
        "4 points: 4 finished, 0 failed, 0 not finished",
        "<h2>Points</h2>",
        "<th>killed_fraction</th>",
        "<h2>Plots</h2>",
    ] {
        assert!(html.contains(want), "sweep report: no `{want}`");
    }
    let plots = fs::read_dir(out.join("plots")).unwrap().count();
    assert!(plots > 0);
    assert_eq!(html.matches("<img ").count(), plots, "every plot");
    // Each point's run has its own report too.
    let points: Vec<PathBuf> = fs::read_dir(out.join("points"))
        .unwrap()
        .map(|e| e.unwrap().path().join("run").join(FILE))
        .collect();
    assert_eq!(points.len(), 4);
    assert!(points.iter().all(|p| p.is_file()), "{points:?}");
}
