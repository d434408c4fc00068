//! Reading scenario files: TOML parsing, `extends` chains merged key by key, the schema
//! applied with the path of any failing key, and locating a key's file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::schema::Scenario;
use crate::error::{Error, Location, Result};

/// One file of an `extends` chain, as read.
#[derive(Debug, Clone)]
pub struct Layer {
    pub path: PathBuf,
    pub source: String,
    pub table: toml::Table,
}

/// A scenario together with the files it came from (the named file first, then the
/// files it extends), so that any key can be traced to its file and line.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub layers: Vec<Layer>,
    /// Keys set on the command line, with the option that set them (`--duration`):
    /// an error about them names the option, not a line of a file.
    pub options: Vec<(String, String)>,
}

impl Loaded {
    /// The file that was named (the last word of the `extends` chain).
    pub fn path(&self) -> &Path {
        &self.layers[0].path
    }

    /// Where a dotted key path (`treatment[0].doses[1].at_h`) is set: the first file of
    /// the chain that sets it, with its line; the named file when no file sets it.
    pub fn locate(&self, key: &str) -> Location {
        if let Some((_, option)) = self.options.iter().find(|(k, _)| k == key) {
            return Location {
                file: PathBuf::from(format!("the command-line option {option}")),
                line: None,
                key: key.to_string(),
            };
        }
        let segs = split_key(key);
        for layer in &self.layers {
            if table_has(&layer.table, &segs) {
                return Location {
                    file: layer.path.clone(),
                    line: find_line(&layer.source, &segs),
                    key: key.to_string(),
                };
            }
        }
        // Not set anywhere (a default): point at the deepest parent that is set.
        let mut line = None;
        for n in (1..segs.len()).rev() {
            if table_has(&self.layers[0].table, &segs[..n]) {
                line = find_line(&self.layers[0].source, &segs[..n]);
                break;
            }
        }
        Location {
            file: self.layers[0].path.clone(),
            line,
            key: key.to_string(),
        }
    }
}

/// A step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn split_key(key: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let e = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..e].parse() {
                    out.push(Seg::Index(i));
                }
                rest = stripped.get(e + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// Sets the value at a dotted key path (`treatment[0].doses[1].at_h`) in a value tree:
/// missing tables on the way are created; an array element must already exist. The
/// error says which part of the path could not be followed.
pub fn set_key(
    table: &mut toml::Table,
    key: &str,
    value: toml::Value,
) -> std::result::Result<(), String> {
    let segs = split_key(key);
    let Some((last, parents)) = segs.split_last() else {
        return Err("an empty key".into());
    };
    let Seg::Key(first) = &segs[0] else {
        return Err("a key starts with a name, not an index".into());
    };
    let mut cur: &mut toml::Value = if parents.is_empty() {
        match last {
            Seg::Key(k) => {
                table.insert(k.clone(), value);
                return Ok(());
            }
            Seg::Index(_) => unreachable!("checked above"),
        }
    } else {
        table
            .entry(first.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    };
    let mut path = first.clone();
    for seg in parents[1..].iter().chain(std::iter::once(last)) {
        let is_last = std::ptr::eq(seg, last);
        cur = match (seg, cur) {
            (Seg::Key(k), toml::Value::Table(t)) => {
                path = format!("{path}.{k}");
                if is_last {
                    t.insert(k.clone(), value);
                    return Ok(());
                }
                t.entry(k.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            (Seg::Index(i), toml::Value::Array(a)) => {
                let n = a.len();
                let Some(v) = a.get_mut(*i) else {
                    return Err(format!(
                        "`{path}` has {n} element{}, so [{i}] does not exist",
                        if n == 1 { "" } else { "s" }
                    ));
                };
                path = format!("{path}[{i}]");
                if is_last {
                    *v = value;
                    return Ok(());
                }
                v
            }
            (Seg::Index(i), other) => {
                return Err(format!(
                    "`{path}` is a {}, not a list: [{i}] cannot follow it",
                    other.type_str()
                ))
            }
            (Seg::Key(k), other) => {
                return Err(format!(
                    "`{path}` is a {}, not a table: .{k} cannot follow it",
                    other.type_str()
                ))
            }
        };
    }
    Ok(())
}

fn table_has(table: &toml::Table, segs: &[Seg]) -> bool {
    let mut cur: Option<&toml::Value> = None;
    for (i, seg) in segs.iter().enumerate() {
        let next = match (i, seg, cur) {
            (0, Seg::Key(k), _) => table.get(k),
            (_, Seg::Key(k), Some(toml::Value::Table(t))) => t.get(k),
            (_, Seg::Index(j), Some(toml::Value::Array(a))) => a.get(*j),
            _ => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => return false,
        }
    }
    !segs.is_empty()
}

/// The 1-based line of the deepest key of `segs` found in `source`.
fn find_line(source: &str, segs: &[Seg]) -> Option<usize> {
    let doc = DeTable::parse(source).ok()?;
    let mut offset = None;
    let mut table: Option<&DeTable> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    for seg in segs {
        let value = match seg {
            Seg::Key(k) => {
                let t = table?;
                let (key, value) = t.iter().find(|(key, _)| key.get_ref() == k)?;
                offset = Some(key.span().start);
                value
            }
            Seg::Index(i) => {
                let v = array?.get(*i)?;
                offset = Some(v.span().start);
                v
            }
        };
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => {}
        }
    }
    offset.map(|o| line_of(source, o))
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The most bytes a scenario or sweep file may hold (text written by hand is far
/// smaller; a larger file is not one).
pub const MAX_TEXT_BYTES: u64 = 1 << 20;

/// Why a path named by the user cannot be read as a file of at most `max` bytes (a
/// folder, a device, a pipe, a larger file), or `None` when it can. One `stat`, no read.
pub fn not_a_file(path: &Path, max: u64) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Some("a folder, not a file".into());
    }
    if !kind.is_file() {
        return Some("not a regular file (a device, pipe or socket)".into());
    }
    (meta.len() > max).then(|| {
        format!(
            "{} bytes, more than the {max} bytes such a file may hold",
            meta.len()
        )
    })
}

/// Reads a file the user named (`what`: "scenario", "sweep file"): a regular file of at
/// most [`MAX_TEXT_BYTES`], never more than that read; refused otherwise, naming the
/// file and why.
pub fn read_user_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    if let Some(why) = not_a_file(path, MAX_TEXT_BYTES) {
        return Err(Error::Other(format!(
            "{}: cannot read it as a {what}: {why}",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(Error::Other(format!(
            "{}: cannot read it as a {what}: it grew past {MAX_TEXT_BYTES} bytes while read",
            path.display()
        )));
    }
    Ok(bytes)
}

/// [`read_user_file`] as UTF-8 text.
pub fn read_text_file(path: &Path, what: &str) -> Result<String> {
    String::from_utf8(read_user_file(path, what)?).map_err(|e| {
        Error::Other(format!(
            "{}: not a text file (invalid UTF-8 at byte {}); a {what} is a TOML file",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

fn read_layer(path: &Path) -> Result<Layer> {
    let bytes = read_user_file(path, "scenario")?;
    let source = String::from_utf8(bytes).map_err(|e| Error::Syntax {
        at: Location {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
        },
        message: format!(
            "not a text file (invalid UTF-8 at byte {}); a scenario is a TOML file",
            e.utf8_error().valid_up_to()
        ),
    })?;
    if source.trim().is_empty() {
        return Err(Error::Syntax {
            at: Location {
                file: path.to_path_buf(),
                line: None,
                key: String::new(),
            },
            message: "the file is empty; a scenario needs at least [grid], [time] and [geometry]"
                .to_string(),
        });
    }
    let table: toml::Table = toml::from_str(&source).map_err(|e| Error::Syntax {
        at: Location {
            file: path.to_path_buf(),
            line: e.span().map(|s| line_of(&source, s.start)),
            key: String::new(),
        },
        message: format!("not valid TOML: {}", e.message().trim()),
    })?;
    Ok(Layer {
        path: path.to_path_buf(),
        source,
        table,
    })
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else (numbers,
/// strings, arrays such as `treatment`) is replaced whole.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Reads a scenario file, follows its `extends` chain, and applies the schema.
/// Value ranges are checked separately by `super::validate`.
pub fn load(path: &Path) -> Result<Loaded> {
    load_with(path, |_| Ok(()))
}

/// As [`load`], with `edit` applied to the merged value tree (every file of the chain
/// merged, `extends` removed) before the schema: how a sweep sets its axis values.
pub fn load_with(path: &Path, edit: impl FnOnce(&mut toml::Table) -> Result<()>) -> Result<Loaded> {
    let mut layers = Vec::new();
    let mut seen = BTreeSet::new();
    let mut next = Some(path.to_path_buf());
    while let Some(p) = next.take() {
        let canon = std::fs::canonicalize(&p).map_err(|e| match layers.last() {
            Some(prev) => Error::Schema {
                at: extends_at(prev),
                message: format!("cannot open the extended file {}: {e}", p.display()),
            },
            None => Error::io(&p, e),
        })?;
        if !seen.insert(canon.clone()) {
            let prev: &Layer = layers.last().expect("a cycle needs two files");
            let mut chain: Vec<String> = layers
                .iter()
                .map(|l| l.path.display().to_string())
                .collect();
            chain.push(p.display().to_string());
            return Err(Error::ExtendsCycle {
                at: extends_at(prev),
                chain: chain.join(" -> "),
            });
        }
        // A file named by `extends` is blamed on that line of the file before it.
        let mut layer = read_layer(&p).map_err(|e| match layers.last() {
            Some(prev) => Error::Schema {
                at: extends_at(prev),
                message: format!("the extended file: {e}"),
            },
            None => e,
        })?;
        if let Some(ext) = layer.table.remove("extends") {
            let Some(name) = ext.as_str() else {
                return Err(Error::Schema {
                    at: extends_at(&layer),
                    message: format!("must be a file name in quotes, found {ext}"),
                });
            };
            let dir = p.parent().unwrap_or(Path::new("."));
            next = Some(dir.join(name));
        }
        layers.push(layer);
    }

    let mut merged = class_defaults();
    for layer in layers.iter().rev() {
        merge(&mut merged, layer.table.clone());
    }
    edit(&mut merged)?;

    // Shapes first: serde would read a table written as an array by position.
    if let Err((key, message)) = check_table(&merged, shape_template(), "") {
        let tmp = Loaded {
            scenario: placeholder(),
            layers,
            options: Vec::new(),
        };
        return Err(Error::Schema {
            at: tmp.locate(&key),
            message,
        });
    }

    let scenario: Scenario = match serde_path_to_error::deserialize(toml::Value::Table(merged)) {
        Ok(s) => s,
        Err(e) => {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            // The path is reported separately: keep only the first line of the message.
            let inner = e.inner().to_string();
            let message = explain(inner.lines().next().unwrap_or_default().to_string());
            let tmp = Loaded {
                scenario: placeholder(),
                layers,
                options: Vec::new(),
            };
            let mut at = tmp.locate(&key);
            if key.is_empty() {
                at.key.clear();
            }
            return Err(Error::Schema { at, message });
        }
    };
    let mut loaded = Loaded {
        scenario,
        layers,
        options: Vec::new(),
    };
    resolve_paths(&mut loaded);
    Ok(loaded)
}

/// The schema's shapes: its full example ([`super::schema::full_example`]) as TOML,
/// made once.
fn shape_template() -> &'static toml::Table {
    static TEMPLATE: std::sync::OnceLock<toml::Table> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        toml::Table::try_from(super::schema::full_example())
            .expect("the full example serialises to a TOML table")
    })
}

/// [`check_shape`] of each key of a table that the template's table has.
fn check_table(
    value: &toml::Table,
    template: &toml::Table,
    key: &str,
) -> std::result::Result<(), (String, String)> {
    for (k, x) in value {
        if let Some(t) = template.get(k) {
            let at = if key.is_empty() {
                k.to_string()
            } else {
                format!("{key}.{k}")
            };
            check_shape(x, t, &at)?;
        }
    }
    Ok(())
}

/// The `extends` line of a file of the chain.
fn extends_at(layer: &Layer) -> Location {
    Location {
        file: layer.path.clone(),
        line: find_line(&layer.source, &[Seg::Key("extends".into())]),
        key: "extends".into(),
    }
}

/// Where `value` has another shape than the schema's `template` (a table where an array
/// or a value belongs, an array where a table belongs): the key and what was expected.
/// Keys the template lacks are left to the schema (unknown keys are refused there).
fn check_shape(
    value: &toml::Value,
    template: &toml::Value,
    key: &str,
) -> std::result::Result<(), (String, String)> {
    use toml::Value::{Array, Table};
    let kind = |v: &toml::Value| match v {
        Table(_) => "a table",
        Array(_) => "an array",
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
    };
    match (template, value) {
        (Table(t), Table(v)) => check_table(v, t, key),
        (Table(t), other) => {
            let keys: Vec<&str> = t.keys().map(String::as_str).take(6).collect();
            Err((
                key.to_string(),
                format!(
                    "expected a table (`[{key}]` with keys such as {}), found {}",
                    keys.join(", "),
                    kind(other)
                ),
            ))
        }
        (Array(t), Array(v)) => match t.first() {
            Some(first @ (Table(_) | Array(_))) => {
                for (i, x) in v.iter().enumerate() {
                    check_shape(x, first, &format!("{key}[{i}]"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        },
        (Array(_), other @ Table(_)) => Err((
            key.to_string(),
            format!("expected an array, found {}", kind(other)),
        )),
        (_, Table(_) | Array(_)) if !matches!(template, Table(_) | Array(_)) => Err((
            key.to_string(),
            format!("expected {}, found {}", kind(template), kind(value)),
        )),
        _ => Ok(()),
    }
}

/// The defaults of sections whose defaults differ between their tables (each tissue
/// class, each drug), as TOML: files merge over them key by key, so a partly written
/// `[tissue.liver]` keeps the liver's own defaults for the keys it leaves out.
fn class_defaults() -> toml::Table {
    use super::schema::{Drug, Tissue};
    fn value<T: serde::Serialize>(v: &T) -> toml::Value {
        toml::Value::try_from(v).expect("defaults serialise to TOML")
    }
    let mut t = toml::Table::new();
    t.insert("tissue".into(), value(&Tissue::default()));
    t.insert("amd3100".into(), value(&Drug::amd3100()));
    t.insert("anti_pd1".into(), value(&Drug::anti_pd1()));
    t
}

/// Makes `geometry.volume.path` absolute, relative to the file that set it.
fn resolve_paths(loaded: &mut Loaded) {
    let at = loaded.locate("geometry.volume.path").file;
    if let Some(v) = loaded.scenario.geometry.volume.as_mut() {
        let p = Path::new(&v.path);
        if p.is_relative() {
            let dir = at.parent().unwrap_or(Path::new("."));
            let joined = dir.join(p);
            v.path = std::fs::canonicalize(&joined)
                .unwrap_or(joined)
                .display()
                .to_string();
        }
    }
}

/// Adds a "did you mean" to serde's unknown-field message.
fn explain(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some(end) = rest.find('`') else {
        return message;
    };
    let bad = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..]
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    match expected
        .iter()
        .map(|e| (!e.starts_with(bad), levenshtein(bad, e), *e))
        .min()
        .map(|(_, d, e)| (d, e))
        .filter(|(d, e)| *d <= e.len().max(bad.len()) / 2 || e.starts_with(bad))
    {
        Some((_, best)) => format!("{message}; did you mean `{best}`?"),
        None => message,
    }
}

/// Edit distance between two strings (insertions, deletions, substitutions).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The smallest valid scenario; only used to carry layers while locating an error.
fn placeholder() -> Scenario {
    Scenario::deserialize(toml::Value::Table(
        toml::from_str(
            "[grid]\nnx=1\nny=1\nnz=1\nvoxel_um=1.0\n[time]\nduration_h=1.0\nsnapshot_every_h=1.0\n[geometry]\nkind=\"slice\"\n",
        )
        .expect("placeholder scenario is valid TOML"),
    ))
    .expect("placeholder scenario fits the schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_key_paths() {
        assert_eq!(
            split_key("treatment[0].doses[12].at_h"),
            vec![
                Seg::Key("treatment".into()),
                Seg::Index(0),
                Seg::Key("doses".into()),
                Seg::Index(12),
                Seg::Key("at_h".into())
            ]
        );
    }

    #[test]
    fn finds_lines_of_nested_keys() {
        let src = "a = 1\n[grid]\nnx = 3\n\n[[treatment]]\ndrug = \"x\"\ndoses = [\n  { at_h = 1 },\n  { at_h = 2 },\n]\n";
        assert_eq!(find_line(src, &split_key("grid.nx")), Some(3));
        assert_eq!(find_line(src, &split_key("treatment[0].drug")), Some(6));
        assert_eq!(
            find_line(src, &split_key("treatment[0].doses[1].at_h")),
            Some(9)
        );
    }

    #[test]
    fn suggests_close_keys() {
        let m = explain(
            "unknown field `duration`, expected one of `duration_h`, `snapshot_every_h`".into(),
        );
        assert!(m.contains("did you mean `duration_h`"), "{m}");
    }
}
