//! `report.html`: one page that a browser shows on its own, with nothing beside it. Every
//! picture is embedded as a data URI (base64 PNG; time-lapses stay animated PNGs), the
//! style sheet is inline, there is no script, and the page's Content-Security-Policy
//! ([`POLICY`]) lets the browser load nothing from anywhere else: the file can be
//! mailed, archived or opened offline as it is.
//!
//! This module is the page: the skeleton (head, style, header, footer) written once in
//! [`Page::html`], sections, tables and pictures, HTML escaping ([`escape`]) of every
//! text it is given, and the base64 encoder. What goes on each report is decided where
//! its data lives: the run's in `run::report`, compare's in `compare`, the sweep's in
//! `sweep::collect` (so that this module depends on none of them).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::write_atomic;

/// The report's file name, in the folder it reports on.
pub const FILE: &str = "report.html";

/// The page's Content-Security-Policy: nothing may be loaded (no script, font, frame or
/// connection) except the embedded pictures (`data:` URIs) and the inline style sheet.
pub const POLICY: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/// The PNG file signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// `text` safe to place in HTML, in element content and in quoted attribute values
/// alike: `&`, `<`, `>`, `"` and `'` written as character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `bytes` in standard base64 (RFC 4648, section 4: `+` and `/`, `=` padding), as data
/// URIs take it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        // A chunk of k bytes gives k + 1 digits, then padding to 4.
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a table cell reads as a number (or the dash of a missing one): such cells
/// are set right-aligned.
fn numeric(cell: &str) -> bool {
    let t = cell.trim();
    t == "–" || (!t.is_empty() && t.parse::<f64>().is_ok())
}

/// A report being written: the header's kind, title and lead lines, then sections of
/// text, tables and pictures. Every text given is escaped.
#[derive(Debug, Clone)]
pub struct Page {
    kind: String,
    title: String,
    lead: Vec<String>,
    /// The body's HTML so far.
    body: String,
    /// Whether a `<section>` is open.
    open: bool,
}

impl Page {
    /// A page of `kind` (`run report`, …) titled `title`.
    pub fn new(kind: &str, title: &str) -> Page {
        Page {
            kind: kind.to_string(),
            title: title.to_string(),
            lead: Vec::new(),
            body: String::new(),
            open: false,
        }
    }

    /// A line under the title (empty lines are left out).
    pub fn lead(&mut self, text: &str) {
        if !text.trim().is_empty() {
            self.lead.push(text.to_string());
        }
    }

    /// Starts a section headed `heading` (closing the one before).
    pub fn section(&mut self, heading: &str) {
        self.close();
        let _ = write!(self.body, "<section>\n<h2>{}</h2>\n", escape(heading));
        self.open = true;
    }

    fn close(&mut self) {
        if self.open {
            self.body.push_str("</section>\n");
            self.open = false;
        }
    }

    /// A paragraph.
    pub fn text(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A remark on what the page does not show, and why.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
    }

    /// A warning, set apart.
    pub fn warning(&mut self, text: &str) {
        let _ = writeln!(
            self.body,
            "<p class=\"warning\"><strong>warning:</strong> {}</p>",
            escape(text)
        );
    }

    /// A table of names and values, a row each.
    pub fn facts(&mut self, rows: &[(&str, String)]) {
        self.body.push_str("<table class=\"facts\">\n");
        for (name, value) in rows {
            let _ = writeln!(
                self.body,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(name),
                escape(value)
            );
        }
        self.body.push_str("</table>\n");
    }

    /// A table with a header row; cells that read as numbers are right-aligned.
    pub fn table<R: AsRef<[String]>>(&mut self, header: &[&str], rows: &[R]) {
        self.body.push_str("<table>\n<thead><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row.as_ref() {
                let class = if numeric(cell) { " class=\"num\"" } else { "" };
                let _ = write!(self.body, "<td{class}>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody>\n</table>\n");
    }

    /// A PNG (or animated PNG) embedded as a data URI, with its caption and, when it is
    /// a file too, where it is (`file`, relative to the report).
    pub fn picture(&mut self, caption: &str, png: &[u8], file: Option<&str>) {
        let _ = write!(
            self.body,
            "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\">\n<figcaption>{}",
            base64(png),
            escape(caption),
            escape(caption)
        );
        if let Some(f) = file {
            let _ = write!(self.body, " <code>{}</code>", escape(f));
        }
        self.body.push_str("</figcaption></figure>\n");
    }

    /// The PNG file `dir/file` embedded as [`Page::picture`] does. A file that is not
    /// there gets a note instead (`missing`, after its name), and so does one that is
    /// not a PNG; the result says whether the picture is shown. A file that exists but
    /// cannot be read is an error.
    pub fn picture_file(
        &mut self,
        caption: &str,
        dir: &Path,
        file: &str,
        missing: &str,
    ) -> Result<bool> {
        let path = dir.join(file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.note(&format!("{caption}: no {file} ({missing})."));
                return Ok(false);
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        if !bytes.starts_with(PNG_SIGNATURE) {
            self.note(&format!("{caption}: {file} is not a PNG file; left out."));
            return Ok(false);
        }
        self.picture(caption, &bytes, Some(file));
        Ok(true)
    }

    /// The whole page: the skeleton every report shares, around the sections.
    pub fn html(&self) -> String {
        let mut out = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"infiltrate {}\">\n\
             <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n\
             <p class=\"kind\">{}</p>\n<h1>{}</h1>\n",
            env!("CARGO_PKG_VERSION"),
            escape(&format!("{} · {}", self.title, self.kind)),
            escape(&self.kind),
            escape(&self.title)
        );
        for l in &self.lead {
            let _ = writeln!(out, "<p class=\"lead\">{}</p>", escape(l));
        }
        out.push_str("</header>\n<main>\n");
        out.push_str(&self.body);
        if self.open {
            out.push_str("</section>\n");
        }
        let _ = write!(
            out,
            "</main>\n<footer>Written by infiltrate {}. This page is self-contained: its \
             pictures are embedded in it and it loads nothing from elsewhere.</footer>\n\
             </body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
        out
    }

    /// Writes the page to `dir/report.html` atomically; returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(FILE);
        write_atomic(&path, self.html().as_bytes())?;
        Ok(path)
    }
}

/// The style sheet of every report (system fonts only: nothing is fetched).
const STYLE: &str = "\
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  margin: 0; color: #1b1b1b; background: #fff; line-height: 1.45; }
header { background: #23395d; color: #fff; padding: 1.1em 2em; }
header .kind { margin: 0; font-size: 0.8em; letter-spacing: 0.06em; text-transform: uppercase; opacity: 0.8; }
header h1 { margin: 0.15em 0 0.25em; font-size: 1.6em; }
header .lead { margin: 0.15em 0; opacity: 0.92; }
main { padding: 0.5em 2em 2em; max-width: 1500px; }
section { margin-top: 1.5em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #23395d; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #c9ced8; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th, table.facts th { background: #eef1f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { min-width: 9em; font-weight: 600; }
figure { display: inline-block; vertical-align: top; margin: 0.5em 1.5em 1em 0; max-width: 100%; }
/* A caption as wide as its picture: it adds no width of its own. */
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #dde1e8; }
figcaption { font-size: 0.88em; color: #444; margin-top: 0.3em; contain: inline-size; }
p.note { color: #555; font-style: italic; }
p.warning { background: #fff4d6; border-left: 4px solid #e0a000; padding: 0.4em 0.8em; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
footer { padding: 1em 2em; color: #666; font-size: 0.85em; border-top: 1px solid #ddd; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
        }
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(r#"<img src="x" onerror='y'> & co"#),
            "&lt;img src=&quot;x&quot; onerror=&#39;y&#39;&gt; &amp; co"
        );
        assert_eq!(escape("10 µm × 3"), "10 µm × 3");
    }

    /// Text given to a page never becomes markup, the sections are closed, and a
    /// missing picture becomes a note.
    #[test]
    fn a_page_escapes_its_text_and_notes_missing_pictures() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Page::new("run report", "<b>bold</b>");
        p.lead("a & b");
        p.section("one");
        p.table(&["x", "y"], &[vec!["<i>".to_string(), "1.5".to_string()]]);
        let shown = p
            .picture_file("final", dir.path(), "final.png", "pictures off")
            .unwrap();
        assert!(!shown);
        std::fs::write(dir.path().join("x.png"), b"\x89PNG\r\n\x1a\nrest").unwrap();
        assert!(p.picture_file("x", dir.path(), "x.png", "").unwrap());
        let html = p.html();
        assert!(html.contains("<h1>&lt;b&gt;bold&lt;/b&gt;</h1>"), "{html}");
        assert!(html.contains("<td>&lt;i&gt;</td><td class=\"num\">1.5</td>"));
        assert!(html.contains("final: no final.png (pictures off)."));
        assert!(html.contains("src=\"data:image/png;base64,iVBORw0KGgpyZXN0\""));
        assert_eq!(html.matches("<section>").count(), 1);
        assert_eq!(html.matches("</section>").count(), 1);
        assert!(!html.contains("<b>") && !html.contains("<i>"));
    }
}
