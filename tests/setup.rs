//! The test command `.ci/test`: its detection of what the tests need (Vulkan, Slurm,
//! Chromium, Python with venv), the exact message and exit status when something is
//! missing and it cannot install, its installing and starting Slurm as root, and the
//! `cargo test` it ends with. Each case runs the script with bash under `env -i`, with a
//! fake root for its file probes (`INFILTRATE_SETUP_ROOT`), a PATH holding only stubs
//! (which log their calls) and links to the real tools the script uses, and a copy of the
//! repository's layout (the script, a stub `.ci/slurm-up`, empty test files).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real tools `.ci/test` runs besides the stubs (and bash, which runs it and them).
const REAL_TOOLS: &[&str] = &["dirname"];

/// The real path of a command, searched on this process's PATH.
fn which(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH is set");
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found on PATH"))
}

/// One run's world: `<tmp>/root` (the fake root), `<tmp>/bin` (the whole PATH),
/// `<tmp>/repo` (the script, a stub .ci/slurm-up, tests/) and `<tmp>/calls` (the log
/// of the stubs' calls, one line each).
struct World {
    dir: tempfile::TempDir,
    bash: PathBuf,
}

/// What a run gave.
struct Run {
    code: i32,
    stderr: String,
    calls: String,
}

impl World {
    /// A Linux machine with the given user id, apt-get (a stub that installs nothing)
    /// and cargo; no Vulkan, Slurm, Chromium or Python; no test files.
    fn linux(uid: u32) -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World {
            dir,
            bash: which("bash"),
        };
        for d in ["root", "bin", "repo/.ci", "repo/tests"] {
            fs::create_dir_all(w.path(d)).unwrap();
        }
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/test"),
            w.path("repo/.ci/test"),
        )
        .unwrap();
        fs::write(w.path("calls"), "").unwrap();
        for tool in REAL_TOOLS {
            symlink(which(tool), w.path("bin").join(tool)).unwrap();
        }
        w.script(
            "repo/.ci/slurm-up",
            "log slurm-up \"$@\"\necho 'slurm-up: (stub)'",
        );
        // uname and id answer without logging: the calls log is for what acts.
        w.script("bin/uname", "echo Linux");
        w.script("bin/id", &format!("echo {uid}"));
        w.stub("apt-get", "");
        w.stub("cargo", "");
        w
    }

    /// A Mac (uname says Darwin) of an ordinary user, without apt-get.
    fn macos() -> World {
        let w = World::linux(501);
        w.script("bin/uname", "echo Darwin");
        w.remove_stub("apt-get");
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// An executable bash script at `rel` whose body may call `log WORDS...` to append
    /// a line to the calls log.
    fn script(&self, rel: &str, body: &str) {
        let p = self.path(rel);
        fs::write(
            &p,
            format!(
                "#!{}\nlog() {{ echo \"$*\" >> '{}'; }}\n{body}\n",
                self.bash.display(),
                self.path("calls").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A stub command on PATH that logs its name and arguments, then runs `body`.
    fn stub(&self, name: &str, body: &str) {
        self.script(
            &format!("bin/{name}"),
            &format!("log {name} \"$@\"\n{body}"),
        );
    }

    fn remove_stub(&self, name: &str) {
        fs::remove_file(self.path("bin").join(name)).unwrap();
    }

    /// An empty file under the fake root (its folders made).
    fn root_file(&self, rel: &str) {
        let p = self.path("root").join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "").unwrap();
    }

    /// Empty test files in the repository's tests/ folder.
    fn tests(&self, names: &[&str]) {
        for n in names {
            fs::write(self.path("repo/tests").join(n), "").unwrap();
        }
    }

    /// The tests that make Vulkan and Slurm needed, as in the repository now.
    fn today_tests(&self) {
        self.tests(&[
            "gpu.rs",
            "cli.rs",
            "resume.rs",
            "sweep_slurm.rs",
            "analytic.rs",
        ]);
    }

    /// Mesa's Vulkan loader and lavapipe's driver manifest where Debian puts them.
    fn vulkan(&self) {
        self.root_file("usr/lib/x86_64-linux-gnu/libvulkan.so.1");
        self.root_file("usr/share/vulkan/icd.d/lvp_icd.x86_64.json");
    }

    /// The Slurm and munge commands, with sinfo printing `state` as the node's state.
    fn slurm(&self, state: &str) {
        self.stub("sinfo", &format!("echo {state}"));
        for c in ["sbatch", "slurmctld", "slurmd", "munged"] {
            self.stub(c, "");
        }
    }

    /// Runs `bash <tmp>/repo/.ci/test ARGS` under `env -i`.
    fn run(&self, args: &[&str]) -> Run {
        let o = Command::new(&self.bash)
            .arg(self.path("repo/.ci/test"))
            .args(args)
            .env_clear()
            .env("PATH", self.path("bin"))
            .env("INFILTRATE_SETUP_ROOT", self.path("root"))
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        Run {
            code: o.status.code().expect("exited, not killed"),
            stderr: String::from_utf8(o.stderr).unwrap(),
            calls: fs::read_to_string(self.path("calls")).unwrap(),
        }
    }
}

/// Asserts the run's exit status and stderr, each line of `lines` being one line of
/// stderr after its `.ci/test: ` prefix.
fn assert_run(r: &Run, code: i32, lines: &[&str]) {
    let want: String = lines.iter().map(|l| format!(".ci/test: {l}\n")).collect();
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (code, want.as_str()),
        "exit status and stderr (calls: {:?})",
        r.calls
    );
}

/// Asserts that a failed run installed, started and tested nothing.
fn assert_did_nothing(r: &Run) {
    for c in ["apt-get", "slurm-up", "cargo"] {
        assert!(
            !r.calls.lines().any(|l| l.starts_with(c)),
            "{c} ran: {:?}",
            r.calls
        );
    }
}

const NOT_ROOT: &str =
    "cannot install: not root (run .ci/test as root, or install the packages above yourself)";
const CHROMIUM_NOT_NEEDED: &str = "chromium: not needed (no tests/report.rs)";
const PYTHON_NOT_NEEDED: &str = "python: not needed (no tests/arrays.rs, tests/tissue.rs)";
const VULKAN_FOUND: &str =
    "vulkan: found /usr/lib/x86_64-linux-gnu/libvulkan.so.1 and the driver(s) lvp_icd.x86_64.json";
const SLURM_FOUND: &str = "slurm: found sinfo, sbatch, slurmctld, slurmd, munged";
const VULKAN_NEEDED_BY: &str = "  needed by tests/gpu.rs, tests/cli.rs, tests/resume.rs";
const VULKAN_APT: &str = "  Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1";
const SLURM_APT: &str = "  Debian/Ubuntu: apt-get install slurmctld slurmd slurm-client munge";

#[test]
fn a_missing_vulkan_driver_is_reported() {
    let w = World::linux(1000);
    w.today_tests();
    w.root_file("usr/lib/x86_64-linux-gnu/libvulkan.so.1");
    w.slurm("idle");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            "vulkan: missing",
            SLURM_FOUND,
            "missing Mesa's software Vulkan (lavapipe) or a GPU's Vulkan driver: no Vulkan \
             driver (no *.json in /usr/share/vulkan/icd.d, /etc/vulkan/icd.d or \
             /usr/local/share/vulkan/icd.d)",
            VULKAN_NEEDED_BY,
            VULKAN_APT,
            NOT_ROOT,
        ],
    );
    assert_did_nothing(&r);
}

#[test]
fn a_missing_vulkan_loader_is_reported() {
    let w = World::linux(1000);
    w.today_tests();
    w.root_file("usr/share/vulkan/icd.d/lvp_icd.x86_64.json");
    w.slurm("idle");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            "vulkan: missing",
            SLURM_FOUND,
            "missing Mesa's software Vulkan (lavapipe) or a GPU's Vulkan driver: no Vulkan \
             loader (no libvulkan.so.1 in /usr/lib/*-linux-gnu, /usr/lib64, /usr/lib or \
             /usr/local/lib)",
            VULKAN_NEEDED_BY,
            VULKAN_APT,
            NOT_ROOT,
        ],
    );
    assert_did_nothing(&r);
}

#[test]
fn a_loader_and_a_driver_in_the_other_folders_count() {
    let w = World::linux(1000);
    w.tests(&["gpu.rs"]);
    w.root_file("usr/lib64/libvulkan.so.1");
    w.root_file("etc/vulkan/icd.d/nvidia_icd.json");
    let r = w.run(&[]);
    assert_run(
        &r,
        0,
        &[
            "slurm: not needed (no tests/sweep_slurm.rs)",
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            "vulkan: found /usr/lib64/libvulkan.so.1 and the driver(s) nvidia_icd.json",
            "running cargo test --release --no-fail-fast",
        ],
    );
    assert_eq!(r.calls, "cargo test --release --no-fail-fast\n");
}

#[test]
fn missing_slurm_is_reported() {
    // sinfo and sbatch on PATH, slurmctld in /usr/sbin (off PATH): slurmd and munged
    // are what is missing.
    let w = World::linux(1000);
    w.today_tests();
    w.vulkan();
    w.stub("sinfo", "echo idle");
    w.stub("sbatch", "");
    w.root_file("usr/sbin/slurmctld");
    fs::set_permissions(
        w.path("root/usr/sbin/slurmctld"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            "slurm: missing",
            "missing Slurm and munge: no slurmd, munged",
            "  needed by tests/sweep_slurm.rs",
            SLURM_APT,
            NOT_ROOT,
        ],
    );
    assert_did_nothing(&r);
}

#[test]
fn missing_chromium_is_reported_once_the_report_tests_exist() {
    let w = World::linux(1000);
    w.today_tests();
    w.tests(&["report.rs"]);
    w.vulkan();
    w.slurm("idle");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            SLURM_FOUND,
            "chromium: missing",
            "missing Chromium: none of chromium, chromium-browser, google-chrome on PATH",
            "  needed by tests/report.rs",
            "  Debian/Ubuntu: apt-get install chromium",
            NOT_ROOT,
        ],
    );
    assert_did_nothing(&r);

    // Any of the three names counts.
    w.stub("google-chrome", "");
    let r = w.run(&["--setup-only"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("chromium: found google-chrome\n"),
        "{}",
        r.stderr
    );
}

/// A Chromium that does not run (Ubuntu's chromium-browser without snapd only asks for
/// the snap) does not count: the next name is tried, and without one that runs, what
/// failed is said.
#[test]
fn a_chromium_that_does_not_run_does_not_count() {
    let w = World::linux(1000);
    w.today_tests();
    w.tests(&["report.rs"]);
    w.vulkan();
    w.slurm("idle");
    w.stub(
        "chromium-browser",
        "echo \"Command '/usr/bin/chromium-browser' requires the chromium snap\" >&2\nexit 1",
    );
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            SLURM_FOUND,
            "chromium: missing",
            "missing Chromium: chromium-browser is on PATH but `chromium-browser --version` \
             fails (Command '/usr/bin/chromium-browser' requires the chromium snap)",
            "  needed by tests/report.rs",
            "  Debian/Ubuntu: apt-get install chromium",
            NOT_ROOT,
        ],
    );

    w.stub("google-chrome", "echo 'Google Chrome 1.0'");
    let r = w.run(&["--setup-only"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("chromium: found google-chrome\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_python_is_reported_once_the_python_tests_exist() {
    let w = World::linux(1000);
    w.today_tests();
    w.tests(&["arrays.rs"]);
    w.vulkan();
    w.slurm("idle");
    let block = |what: &str| {
        [
            CHROMIUM_NOT_NEEDED.to_string(),
            VULKAN_FOUND.to_string(),
            SLURM_FOUND.to_string(),
            "python: missing".to_string(),
            format!("missing Python 3 with venv: {what}"),
            "  needed by tests/arrays.rs".to_string(),
            "  Debian/Ubuntu: apt-get install python3 python3-venv".to_string(),
            NOT_ROOT.to_string(),
        ]
    };

    // No python3 at all.
    let r = w.run(&[]);
    let want = block("no python3 on PATH");
    assert_run(&r, 2, &want.iter().map(String::as_str).collect::<Vec<_>>());
    assert_did_nothing(&r);

    // A python3 that cannot make a virtual environment.
    w.stub(
        "python3",
        "echo \"ModuleNotFoundError: No module named 'ensurepip'\" >&2; exit 1",
    );
    let r = w.run(&[]);
    let want = block("python3 cannot make a virtual environment (no venv or ensurepip)");
    assert_run(&r, 2, &want.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        r.calls.contains("python3 -c import ensurepip, venv\n"),
        "{}",
        r.calls
    );
    assert_did_nothing(&r);

    // One that imports it.
    w.stub("python3", "");
    let r = w.run(&["--setup-only"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("python: found python3 with venv\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn on_macos_vulkan_is_not_needed_and_missing_slurm_gets_macos_advice() {
    let w = World::macos();
    w.today_tests();
    w.tests(&["arrays.rs"]);
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            "vulkan: not needed on macOS (the GPU tests run on Metal)",
            CHROMIUM_NOT_NEEDED,
            "slurm: missing",
            "python: missing",
            "missing Slurm and munge: no sinfo, sbatch, slurmctld, slurmd, munged",
            "  needed by tests/sweep_slurm.rs",
            SLURM_APT,
            "  macOS: .ci/test knows no macOS package for Slurm; run these tests on Linux",
            "missing Python 3 with venv: no python3 on PATH",
            "  needed by tests/arrays.rs",
            "  Debian/Ubuntu: apt-get install python3 python3-venv",
            "  macOS: brew install python",
            "cannot install: macOS has no apt-get (install what is missing yourself, as the \
             macOS lines above say)",
        ],
    );
    assert_did_nothing(&r);
}

#[test]
fn without_apt_get_it_says_so() {
    let w = World::linux(0);
    w.remove_stub("apt-get");
    w.today_tests();
    w.slurm("idle");
    let r = w.run(&[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.ends_with(
            ".ci/test: cannot install: no apt-get (install what the packages above provide \
             with your package manager)\n"
        ),
        "{}",
        r.stderr
    );
    assert_did_nothing(&r);
}

#[test]
fn with_everything_present_it_runs_the_whole_suite_and_starts_nothing() {
    let w = World::linux(0);
    w.today_tests();
    w.vulkan();
    w.slurm("idle");
    let r = w.run(&["--test", "gpu"]);
    assert_run(
        &r,
        0,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            SLURM_FOUND,
            "slurm: a node answers (sinfo: idle)",
            "running cargo test --release --no-fail-fast --test gpu",
        ],
    );
    // sinfo asked once; no apt-get, no .ci/slurm-up; cargo got exactly these arguments.
    assert_eq!(
        r.calls,
        "sinfo -h -o %T\ncargo test --release --no-fail-fast --test gpu\n"
    );
}

#[test]
fn as_root_it_installs_what_is_missing_then_runs_the_suite() {
    let w = World::linux(0);
    w.today_tests();
    w.slurm("idle");
    // apt-get "installs" Mesa's Vulkan into the fake root.
    fs::create_dir_all(w.path("root/usr/lib/x86_64-linux-gnu")).unwrap();
    fs::create_dir_all(w.path("root/usr/share/vulkan/icd.d")).unwrap();
    w.stub(
        "apt-get",
        "log \"  DEBIAN_FRONTEND=$DEBIAN_FRONTEND\"\n\
         if [ \"$1\" = install ]; then\n\
           : > \"$INFILTRATE_SETUP_ROOT/usr/lib/x86_64-linux-gnu/libvulkan.so.1\"\n\
           : > \"$INFILTRATE_SETUP_ROOT/usr/share/vulkan/icd.d/lvp_icd.x86_64.json\"\n\
         fi",
    );
    let r = w.run(&[]);
    assert_run(
        &r,
        0,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            "vulkan: missing",
            SLURM_FOUND,
            "installing with apt-get: mesa-vulkan-drivers libvulkan1",
            VULKAN_FOUND,
            "slurm: a node answers (sinfo: idle)",
            "running cargo test --release --no-fail-fast",
        ],
    );
    assert_eq!(
        r.calls,
        "apt-get update -qq\n  DEBIAN_FRONTEND=noninteractive\n\
         apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1\n  \
         DEBIAN_FRONTEND=noninteractive\n\
         sinfo -h -o %T\n\
         cargo test --release --no-fail-fast\n"
    );
}

#[test]
fn a_failed_apt_get_is_reported() {
    let w = World::linux(0);
    w.today_tests();
    w.slurm("idle");
    w.stub("apt-get", "exit 100");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            "vulkan: missing",
            SLURM_FOUND,
            "installing with apt-get: mesa-vulkan-drivers libvulkan1",
            "vulkan: missing",
            "missing Mesa's software Vulkan (lavapipe) or a GPU's Vulkan driver: no Vulkan \
             loader (no libvulkan.so.1 in /usr/lib/*-linux-gnu, /usr/lib64, /usr/lib or \
             /usr/local/lib); no Vulkan driver (no *.json in /usr/share/vulkan/icd.d, \
             /etc/vulkan/icd.d or /usr/local/share/vulkan/icd.d)",
            VULKAN_NEEDED_BY,
            VULKAN_APT,
            "could not install: apt-get failed (see its messages above)",
        ],
    );
    assert_eq!(r.calls, "apt-get update -qq\n");
}

#[test]
fn as_root_it_starts_slurm_when_no_node_answers() {
    let w = World::linux(0);
    w.today_tests();
    w.vulkan();
    w.slurm("down");
    // The node answers once .ci/slurm-up has run.
    let up = w.path("slurm-is-up");
    w.stub(
        "sinfo",
        &format!(
            "if [ -e '{}' ]; then echo idle; else echo down; fi",
            up.display()
        ),
    );
    w.script(
        "repo/.ci/slurm-up",
        &format!("log slurm-up \"$@\"\n: > '{}'", up.display()),
    );
    let r = w.run(&["--setup-only"]);
    assert_run(
        &r,
        0,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            SLURM_FOUND,
            "slurm: no node answers (sinfo: down); starting one with .ci/slurm-up",
            "slurm: a node answers (sinfo: idle)",
            "setup done",
        ],
    );
    assert_eq!(r.calls, "sinfo -h -o %T\nslurm-up\nsinfo -h -o %T\n");
}

#[test]
fn not_root_a_slurm_node_that_does_not_answer_is_reported() {
    let w = World::linux(1000);
    w.today_tests();
    w.vulkan();
    w.slurm("down");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &[
            CHROMIUM_NOT_NEEDED,
            PYTHON_NOT_NEEDED,
            VULKAN_FOUND,
            SLURM_FOUND,
            "no Slurm node answers (sinfo: down): needed by tests/sweep_slurm.rs",
            "cannot start one: not root (run .ci/slurm-up as root)",
        ],
    );
    assert_did_nothing(&r);
}

#[test]
fn without_cargo_it_says_to_install_rust() {
    let w = World::linux(0);
    w.remove_stub("cargo");
    let r = w.run(&[]);
    assert_run(
        &r,
        2,
        &["no cargo on PATH: install Rust (rustup: https://rustup.rs)"],
    );
    assert_eq!(r.calls, "");
}

#[test]
fn the_script_is_executable_and_ci_runs_it() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mode = fs::metadata(repo.join(".ci/test"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, ".ci/test is not executable: {mode:o}");
    let run = fs::read_to_string(repo.join(".ci/run")).unwrap();
    assert!(
        run.lines().any(|l| l.trim() == "exec bash .ci/test"),
        ".ci/run does not end by running .ci/test:\n{run}"
    );
}
