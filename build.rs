//! Records the commit the binary is built from, for `summary.json` (provenance):
//! `INFILTRATE_COMMIT` (the full hash, or `unknown` outside a git checkout or without
//! git) and `INFILTRATE_TREE`: `clean`, `modified` (a file that goes into the binary,
//! under [`SOURCES`], differs from the commit or is new and not ignored) or `unknown`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    // No optional locks: `git status` must not rewrite the index it is watched by (that
    // would make every build run this script again).
    let out = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The files the binary is built from.
const SOURCES: [&str; 6] = [
    "src",
    "shaders",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo",
];

fn main() {
    let commit = git(&["rev-parse", "HEAD"]);
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(SOURCES);
    let tree = match (&commit, git(&status)) {
        (Some(_), Some(s)) if s.is_empty() => "clean",
        (Some(_), Some(_)) => "modified",
        _ => "unknown",
    };
    println!(
        "cargo:rustc-env=INFILTRATE_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=INFILTRATE_TREE={tree}");

    // Built again when the commit, the index or any source changes (a directory is
    // watched as a whole). Paths that do not exist are skipped: cargo would otherwise
    // rerun this script on every build.
    let mut watched: Vec<String> = SOURCES.iter().map(|s| s.to_string()).collect();
    for name in ["HEAD", "index", "packed-refs"] {
        watched.extend(git(&["rev-parse", "--git-path", name]));
    }
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.extend(git(&["rev-parse", "--git-path", &head_ref]));
    }
    for p in watched {
        if Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
