//! Text for help and man pages: paragraphs, wrapping, roff escapes.

pub fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// `text` wrapped at `width` columns.
pub fn wrap(text: &str, width: usize) -> String {
    wrap_indented(text, width, "")
}

/// `text` wrapped at `width` columns (not counting the indent), each line
/// starting with `indent`.
pub fn wrap_indented(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::from(indent);
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            out.push_str(indent);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out.push('\n');
    out
}

/// Escapes text for roff: backslashes, and dots or quotes at line starts.
pub fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
