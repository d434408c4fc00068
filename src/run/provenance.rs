//! Where a result came from: the program's version and the commit it was built from,
//! when and where it ran, on which CPU, and the command line (for `summary.json` and the
//! head of `run.log`).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// How a run was started, recorded once at its start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub program_version: String,
    /// The git commit the binary was built from (`unknown` outside a checkout).
    pub commit: String,
    /// `clean`, `modified` (the sources that make the binary differed from the commit
    /// when it was built) or `unknown`.
    pub tree: String,
    /// Start of this process's run (a resume's own start), UTC, RFC 3339.
    pub started_utc: String,
    pub host: String,
    /// The CPU model and its logical cores.
    pub cpu: String,
    /// The command line, word by word.
    pub command_line: Vec<String>,
}

impl Provenance {
    /// This process, now.
    pub fn now() -> Self {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        Provenance {
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("INFILTRATE_COMMIT").to_string(),
            tree: env!("INFILTRATE_TREE").to_string(),
            started_utc: crate::units::rfc3339(SystemTime::now()),
            host: host(),
            cpu: format!("{} ({cores} logical cores)", cpu_model()),
            command_line: std::env::args().collect(),
        }
    }

    /// The version with its commit in one phrase: `0.1.0 (commit 1a2b3c4d5e6f, modified)`.
    pub fn version_line(&self) -> String {
        let short: String = self.commit.chars().take(12).collect();
        match self.tree.as_str() {
            "clean" => format!("{} (commit {short})", self.program_version),
            tree => format!("{} (commit {short}, {tree})", self.program_version),
        }
    }
}

/// The machine's host name.
fn host() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let from_env = || {
        std::env::var("HOSTNAME")
            .or_else(|_| std::env::var("COMPUTERNAME"))
            .ok()
    };
    let from_command = || {
        let out = std::process::Command::new("hostname").output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    };
    from_file
        .or_else(from_env)
        .or_else(from_command)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU's model name (Linux: /proc/cpuinfo; macOS: sysctl; Windows: the
/// environment), or the architecture when unknown.
fn cpu_model() -> String {
    let linux = || {
        let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        text.lines()
            .find(|l| l.starts_with("model name") || l.starts_with("Model"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let macos = || {
        let out = std::process::Command::new("sysctl")
            .args(["-n", "machdep.cpu.brand_string"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let windows = || std::env::var("PROCESSOR_IDENTIFIER").ok();
    let found = if cfg!(target_os = "linux") {
        linux()
    } else if cfg!(target_os = "macos") {
        macos()
    } else {
        windows()
    };
    found
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH))
}
