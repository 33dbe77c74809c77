//! Plugin configuration: one pure function, [`parse`], from the bytes Envoy hands over to a validated
//! [`Config`] or a [`ConfigError`] that names the JSON path.

mod error;
mod model;
mod schema;
mod validate;

pub use error::ConfigError;
pub use model::{
    Experiment, HostPattern, Override, Predictor, Sticky, DEFAULT_MAX_AGE_SECONDS, DEFAULT_OVERRIDE_HEADER,
    DEFAULT_ROUTING_HEADER,
};
pub use validate::{MAX_AGE_LIMIT_SECONDS, MAX_EXPERIMENTS, MAX_PREDICTORS, MAX_WEIGHT};

use crate::router::matching::ExperimentIndex;

/// A validated configuration, ready to serve requests.
#[derive(Debug)]
pub struct Config {
    experiments: Vec<Experiment>,
    /// Every distinct routing header, in first-use order: all are removed from every request.
    routing_headers: Vec<String>,
    index: ExperimentIndex,
}

impl Config {
    pub fn experiments(&self) -> &[Experiment] {
        &self.experiments
    }

    pub fn experiment(&self, index: usize) -> Option<&Experiment> {
        self.experiments.get(index)
    }

    pub fn routing_headers(&self) -> &[String] {
        &self.routing_headers
    }

    /// Valid but probably unintended settings, for the log: a predictor with weight > 0 that owns no
    /// bucket (its share is below 1/10000 of the total) receives no random or hashed traffic.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (i, exp) in self.experiments.iter().enumerate() {
            for (j, p) in exp.predictors.iter().enumerate() {
                let empty = exp.buckets.range_of(j).is_some_and(|(start, end)| start == end);
                if p.weight > 0 && empty {
                    warnings.push(format!(
                        "experiments[{i}].predictors[{j}].weight: {} is less than 1/10000 of the total, so \"{}\" \
                         gets no random or hashed traffic (only sticky and forced)",
                        p.weight, p.name
                    ));
                }
            }
        }
        warnings
    }

    /// Whether matching looks at the host at all (some experiment lists hosts other than `*`).
    pub fn matches_on_host(&self) -> bool {
        self.index.uses_hosts()
    }

    /// The first experiment (in configuration order) whose hosts and path prefix fit the request.
    /// `authority` is the raw `:authority` (port and case are dealt with here); `path` the raw `:path`.
    pub fn match_request(&self, authority: &[u8], path: &[u8]) -> Option<usize> {
        self.index.find(&self.experiments, authority, path)
    }
}

/// Parses and validates the plugin configuration.
///
/// The JSON is first read into a generic value (syntax errors then carry line and column), then into the
/// typed schema with the path of any type error, then validated field by field.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ConfigError::new(
            "$",
            "the configuration is empty; expected a JSON object such as {\"experiments\": [...]}",
        ));
    }
    // Syntax first, without building anything: errors then carry line and column.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ConfigError::new("$", format!("not valid JSON: {e}")))?;
    // serde would also read a struct from an array: the document must be an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ConfigError::new(
            "$",
            "must be a JSON object with an `experiments` list",
        ));
    }
    let raw: schema::RawConfig =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(|e| {
            let path = json_path(e.path());
            let inner = e.into_inner();
            // The path says where; drop serde_json's " at line L column C" from data errors.
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            let message = inner.to_string();
            ConfigError::new(
                path,
                message.strip_suffix(&position).unwrap_or(&message).to_string(),
            )
        })?;
    let experiments = validate::experiments(raw)?;

    let mut routing_headers: Vec<String> = Vec::new();
    for exp in &experiments {
        if !routing_headers.contains(&exp.routing_header) {
            routing_headers.push(exp.routing_header.clone());
        }
    }
    let index = ExperimentIndex::new(&experiments);
    Ok(Config {
        experiments,
        routing_headers,
        index,
    })
}

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
