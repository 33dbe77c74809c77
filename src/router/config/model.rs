//! The validated configuration: every default applied, every value checked, lookups precomputed.

use super::super::bucketing::BucketTable;

pub const DEFAULT_ROUTING_HEADER: &str = "x-predictor";
pub const DEFAULT_OVERRIDE_HEADER: &str = "x-predictor-override";
pub const DEFAULT_MAX_AGE_SECONDS: u32 = 2_592_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: any host.
    Any,
    /// An exact host, lowercased.
    Exact(String),
    /// `*.suffix`: any host ending in `.suffix` with at least one character before the dot; stored lowercased, without `*.`.
    Subdomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predictor {
    pub name: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticky {
    /// `None` when cookies are disabled (`cookie: ""`).
    pub cookie: Option<String>,
    pub max_age_seconds: u32,
    pub user_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub header: String,
    pub query_param: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    pub name: String,
    pub hosts: Vec<HostPattern>,
    pub path_prefix: String,
    pub predictors: Vec<Predictor>,
    pub buckets: BucketTable,
    pub routing_header: String,
    /// `None` when disabled (`response_header: ""`).
    pub response_header: Option<String>,
    pub sticky: Sticky,
    /// `None` when `override.enabled` is false.
    pub override_: Option<Override>,
    /// Per predictor, the `Set-Cookie` value that pins a user to it (built once, not per request);
    /// empty when cookies are disabled.
    pub set_cookies: Vec<String>,
}

impl Experiment {
    /// The index of the predictor with exactly this name (names are case-sensitive).
    pub fn predictor_named(&self, name: &[u8]) -> Option<usize> {
        self.predictors.iter().position(|p| p.name.as_bytes() == name)
    }
}
