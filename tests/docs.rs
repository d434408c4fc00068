//! The repository's documents stand alone: every relative link in `README.md` and
//! `docs/` leads to a file or folder inside the repository, and nothing in `README.md`,
//! `docs/`, `src/` or `scenarios/` points at the project's private working notes
//! (`../shared`, `MODEL.md`, `SOURCES.md`), which a clone does not have.

mod common;

use common::root;

use std::path::{Path, PathBuf};

/// Every file under `dir` (recursively) whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if exts
                .iter()
                .any(|e| p.file_name().unwrap().to_string_lossy().ends_with(e))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The targets of the Markdown links `[text](target)` and `![alt](target)` of a text,
/// with their line numbers (links inside code spans and fenced blocks are skipped).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop code spans.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((n + 1, after[..end].trim().to_string()));
            rest = &after[end.min(after.len())..];
        }
    }
    out
}

/// Where a relative link leads, or why it is refused.
fn resolve(file: &Path, target: &str, repo: &Path) -> Result<(), String> {
    let path = target.split('#').next().unwrap_or("");
    if path.is_empty() {
        return Ok(()); // an anchor in the same file
    }
    let abs = file.parent().unwrap().join(path);
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            c => parts.push(c.as_os_str().to_owned()),
        }
    }
    let norm: PathBuf = parts.iter().collect();
    if !norm.starts_with(repo) {
        return Err(format!("leads outside the repository ({})", norm.display()));
    }
    if !norm.exists() {
        return Err(format!("leads to nothing ({})", norm.display()));
    }
    Ok(())
}

fn check_links(file: &Path, text: &str, repo: &Path, bad: &mut Vec<String>) {
    for (line, target) in links(text) {
        let external = target.contains("://") || target.starts_with("mailto:");
        if external {
            continue;
        }
        if target.starts_with('/') {
            bad.push(format!("{}:{line}: `{target}` is absolute", file.display()));
            continue;
        }
        if let Err(why) = resolve(file, &target, repo) {
            bad.push(format!("{}:{line}: `{target}` {why}", file.display()));
        }
    }
}

#[test]
fn relative_links_stay_inside_the_repository_and_lead_somewhere() {
    let repo = root();
    let mut docs = files(&repo.join("docs"), &[".md"]);
    docs.push(repo.join("README.md"));
    let mut bad = Vec::new();
    for f in &docs {
        let text = std::fs::read_to_string(f).unwrap();
        check_links(f, &text, &repo, &mut bad);
    }
    assert!(bad.is_empty(), "bad links:\n{}", bad.join("\n"));
    assert!(docs.len() >= 8, "only {} documents found", docs.len());
}

/// The checker itself finds a link out of the repository, a missing target and an
/// absolute path, and accepts a good link, an anchor and a web address.
#[test]
fn the_link_checker_finds_bad_links() {
    let repo = root();
    let file = repo.join("docs/example.md");
    let text = "[a](model.md) [b](../../shared/MODEL.md) [c](nothing.md) [d](#top)\n\
                ![e](img/none.png) [f](https://example.org/x) [g](/etc/passwd)\n\
                `[h](../outside.md)`\n```\n[i](../../x)\n```\n";
    let mut bad = Vec::new();
    check_links(&file, text, &repo, &mut bad);
    let joined = bad.join("\n");
    assert_eq!(bad.len(), 4, "{joined}");
    assert!(
        joined.contains("`../../shared/MODEL.md` leads outside"),
        "{joined}"
    );
    assert!(joined.contains("`nothing.md` leads to nothing"), "{joined}");
    assert!(
        joined.contains("`img/none.png` leads to nothing"),
        "{joined}"
    );
    assert!(joined.contains("`/etc/passwd` is absolute"), "{joined}");
}

#[test]
fn nothing_points_at_the_private_working_notes() {
    let repo = root();
    let mut all = files(&repo.join("docs"), &[".md"]);
    all.extend(files(&repo.join("src"), &[".rs"]));
    all.extend(files(&repo.join("scenarios"), &[".toml"]));
    all.push(repo.join("README.md"));
    let forbidden = ["../shared", "MODEL.md", "SOURCES.md"];
    let mut found = Vec::new();
    for f in &all {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in forbidden {
                if line.contains(word) {
                    found.push(format!("{}:{}: {word}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(all.len() > 50, "only {} files searched", all.len());
}
