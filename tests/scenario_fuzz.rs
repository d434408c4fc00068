//! The scenario loader never panics: shipped scenarios with random values put into random
//! keys, random lines deleted or duplicated, and random bytes, are each either accepted
//! or refused with an error; the derived steps of an accepted one are checked too.
//! (A seeded generator, so a failure is reproducible: the seed and text are printed.)

use std::fs;
use std::path::Path;

use infiltrate::model::{Params, StepPlan};
use infiltrate::scenario;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random TOML value, often an awkward one.
fn value(r: &mut Rng) -> String {
    match r.below(14) {
        0 => "nan".into(),
        1 => "-inf".into(),
        2 => "0".into(),
        3 => "-1".into(),
        4 => "1e308".into(),
        5 => "\"text\"".into(),
        6 => "[1.0, 2.0]".into(),
        7 => "{ a = 1 }".into(),
        8 => "true".into(),
        9 => "18446744073709551615".into(),
        10 => format!("{}", r.below(1000)),
        11 => format!("{:e}", (r.next() as f64 / u64::MAX as f64 - 0.5) * 1e6),
        12 => "1979-05-27T07:32:00Z".into(),
        _ => format!("{}.{}", r.below(100), r.below(100)),
    }
}

fn mutate(text: &str, r: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..1 + r.below(3) {
        if lines.is_empty() {
            break;
        }
        let i = r.below(lines.len());
        match r.below(5) {
            0 | 1 => {
                if let Some(eq) = lines[i].find('=') {
                    lines[i] = format!("{}= {}", &lines[i][..eq], value(r));
                }
            }
            2 => {
                lines.remove(i);
            }
            3 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            _ => {
                let bytes: String = (0..r.below(12))
                    .map(|_| char::from(b" =[]{}\"#.,x0\n"[r.below(13)]))
                    .collect();
                lines.insert(i, bytes);
            }
        }
    }
    lines.join("\n")
}

#[test]
fn loader_never_panics_on_mutated_scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let sources: Vec<String> = ["slice/base.toml", "flc/base.toml", "flc/combination.toml"]
        .iter()
        .map(|p| fs::read_to_string(root.join(p)).unwrap())
        .map(|t| t.replace("extends = \"base.toml\"", ""))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.toml");
    let (mut accepted, mut refused) = (0, 0);
    for seed in 0..600u64 {
        let mut r = Rng(seed);
        let text = mutate(&sources[r.below(sources.len())], &mut r);
        fs::write(&path, &text).unwrap();
        let result = std::panic::catch_unwind(|| match scenario::load_valid(&path) {
            Ok(loaded) => {
                let params = Params::from_scenario(&loaded.scenario);
                StepPlan::derive(&loaded, &params).is_ok()
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        });
        match result {
            Ok(true) => accepted += 1,
            Ok(false) => refused += 1,
            Err(_) => panic!("seed {seed} panicked on:\n{text}"),
        }
    }
    // The mutations must exercise both outcomes, or the test says little.
    assert!(
        accepted > 20 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn loader_never_panics_on_random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.toml");
    for seed in 0..300u64 {
        let mut r = Rng(seed);
        let n = r.below(400);
        let bytes: Vec<u8> = (0..n).map(|_| (r.next() & 0xff) as u8).collect();
        fs::write(&path, &bytes).unwrap();
        let result = std::panic::catch_unwind(|| scenario::load_valid(&path).is_ok());
        assert!(
            matches!(result, Ok(false)),
            "seed {seed}: {result:?} on {bytes:?}"
        );
    }
}
