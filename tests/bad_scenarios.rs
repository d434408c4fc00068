//! The bad-input corpus (`tests/bad_scenarios/`): every malformed scenario is refused by
//! `check` and by `run` with a non-zero exit, a message naming the file and the key (or
//! path) written in the file's `# expect:` line, and nothing written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// What the error of a corpus file must contain.
fn expected(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    match name.as_ref() {
        "empty.toml" => "empty".into(),
        "binary.toml" => "not a text file".into(),
        _ => {
            let text = fs::read_to_string(path).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{name}: no `# expect:` line"))
                .trim()
                .to_string()
        }
    }
}

#[test]
fn corpus_is_large_enough() {
    assert!(
        corpus().len() >= 30,
        "only {} bad scenarios",
        corpus().len()
    );
}

#[test]
fn every_bad_scenario_is_refused_by_name_and_writes_nothing() {
    let out_root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for path in corpus() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = expected(&path);
        let out = out_root.path().join(name.trim_end_matches(".toml"));
        for cmd in ["check", "run"] {
            let mut c = Command::new(env!("CARGO_BIN_EXE_infiltrate"));
            c.arg(cmd).arg(&path);
            if cmd == "run" {
                c.args(["--backend", "cpu", "--quiet", "--out"]).arg(&out);
            }
            let o = c.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let problems: Vec<&str> = [
                (o.status.success(), "exited 0"),
                (!text.contains(&name), "does not name the file"),
                (!text.contains(&want), "lacks the expected text"),
                (text.contains("panicked"), "panicked"),
                (out.exists(), "wrote its output folder"),
            ]
            .into_iter()
            .filter(|(bad, _)| *bad)
            .map(|(_, why)| why)
            .collect();
            if !problems.is_empty() {
                failures.push(format!(
                    "{name} ({cmd}): {} (expected `{want}`):\n{text}",
                    problems.join(", ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
