//! File names and other outside text as the tools print them: every
//! character that could move the cursor, change the terminal or reorder
//! what is shown is written as an escape, so that a file named
//! `a\n\x1b[2J.jpg` prints as exactly that and not as a cleared screen.
//!
//! Escaped: the C0 controls and DEL (`\n`, `\r`, `\t`, else `\x1b`), the
//! C1 controls (`\u{9b}`, which some terminals take as ESC `[`), the
//! bidirectional formatting characters (`\u{202e}` and the rest, which
//! reorder the line), the line and paragraph separators, and, in names,
//! bytes that are not UTF-8 (`\xff`). Everything else, accented letters
//! and other scripts included, is printed as it is.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

/// Whether `c` must be escaped.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidirectional marks, embeddings, overrides and isolates.
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
        )
}

fn write_escaped_str(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        if !needs_escape(c) {
            f.write_char(c)?;
            continue;
        }
        match c {
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "\\u{{{:x}}}", c as u32)?,
        }
    }
    Ok(())
}

/// `text` with the characters that could change the terminal escaped (see
/// the module's documentation); borrowed when there are none.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = write_escaped_str(&mut out, text);
    Cow::Owned(out)
}

/// A path as the tools print it: [`Path::display`], but with control and
/// bidirectional characters escaped and bytes that are not UTF-8 written
/// as `\xNN` instead of being replaced by U+FFFD.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(&'a Path);

/// `path`, ready to print (see [`Shown`]).
pub fn shown(path: &Path) -> Shown<'_> {
    Shown(path)
}

impl fmt::Display for Shown<'_> {
    #[cfg(unix)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::ffi::OsStrExt;
        for chunk in self.0.as_os_str().as_bytes().utf8_chunks() {
            write_escaped_str(f, chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped_str(f, &self.0.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_printed_as_they_are() {
        let p = Path::new("/tmp/Fotos/Straße 1/DSC_0001 (copy).JPG");
        assert_eq!(shown(p).to_string(), p.display().to_string());
        assert!(matches!(escaped("日本語 ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_bidi_and_separators_are_escaped() {
        assert_eq!(
            escaped("a\nb\rc\td\u{1b}[2J\u{7f}\u{9b}e\u{202e}gpj.exe\u{2028}"),
            "a\\nb\\rc\\td\\x1b[2J\\x7f\\u{9b}e\\u{202e}gpj.exe\\u{2028}"
        );
        assert_eq!(escaped("\u{0}"), "\\x00");
    }

    #[cfg(unix)]
    #[test]
    fn bytes_that_are_not_utf8_stay_recognisable() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"dir/a\nb\x1b[2J\xff\xfe.jpg"));
        assert_eq!(shown(p).to_string(), "dir/a\\nb\\x1b[2J\\xff\\xfe.jpg");
    }
}
