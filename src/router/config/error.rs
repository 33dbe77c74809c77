//! A configuration error: where in the JSON, and why; and how a JSON path is written.

use std::fmt;

/// Rendered as `<path>: <reason>`, e.g. `experiments[0].predictors[1].weight: must be an integer from 0 to 1000000`.
/// The path of the document itself is `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A serde error at the path `serde_path_to_error` tracked, without serde_json's
    /// " at line L column C" (the path already says where).
    pub(super) fn from_serde(error: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = json_path(error.path());
        let inner = error.into_inner();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        let message = inner.to_string();
        ConfigError::new(
            path,
            message.strip_suffix(&position).unwrap_or(&message).to_string(),
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A JSON path as the errors show it: `experiments[0].predictors[1].weight`, `$` for the document itself,
/// and a key that is not a plain name in JSON quotes (`experiments[0].""`), so a path is never empty.
fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                let plain = !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if plain {
                    out.push_str(key);
                } else {
                    // Debug quotes and escapes like JSON for any key a JSON document can hold.
                    out.push_str(&format!("{key:?}"));
                }
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    if out.is_empty() {
        "$".to_string()
    } else {
        out
    }
}
