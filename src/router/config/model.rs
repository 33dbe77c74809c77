//! The validated configuration: every default applied, every value checked, lookups precomputed.

use std::sync::Arc;

use crate::router::bucketing::BucketTable;
use crate::router::ids::PredictorId;
use crate::router::signing::KeySet;

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
    /// Adds `; Secure` to `Set-Cookie` (HTTPS-only gateways).
    pub secure: bool,
    /// Adds `; Domain=<domain>`, so that sibling hosts share the assignment.
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub header: String,
    pub query_param: Option<String>,
    /// `override.signed`: the keys a token must be signed with; `None` when plain names force.
    pub signed: Option<Arc<KeySet>>,
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
    /// `None` unless the experiment is adaptive.
    pub adaptive: Option<Adaptive>,
    /// `None` unless the experiment rolls out a canary (never with `adaptive`).
    pub rollout: Option<Rollout>,
    /// `None` unless a sample of the experiment's requests is copied to a shadow predictor.
    pub shadow: Option<Shadow>,
}

/// A shadow predictor (contract "Shadow comparison"): a sample of requests is copied to it and its answer
/// compared with the one the client got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadow {
    /// A DNS label naming the shadow in metrics; never one of the experiment's predictors.
    pub name: String,
    pub cluster: String,
    pub authority: String,
    /// Replaces `match.path_prefix` in the copy's `:path`.
    pub path_prefix: String,
    /// The share of sticky, hashed and random requests copied, in hundredths of a percent (1 to 10,000).
    pub percent_hundredths: u32,
    pub timeout_ms: u32,
    /// Copies outstanding per worker at most.
    pub max_in_flight: u32,
    pub compare: Compare,
}

/// How a shadow's answer is compared with the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// Both are Seldon Core v1 prediction responses: rows of class probabilities.
    Seldon,
    /// Open Inference Protocol v2 answers (KServe v2, MLServer, Triton, Seldon Core 2): the output
    /// tensor of this name, or the first. Shared, not copied, by every pair of the shadow.
    Oip { output: Option<std::sync::Arc<str>> },
    /// KServe v1 (and TensorFlow Serving) `predictions`.
    KserveV1,
    /// Only the status classes.
    Status,
}

/// `signing`: the variable the keys came from (for the log) and the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    pub keys_env: String,
    pub keys: Arc<KeySet>,
}

/// Adaptive allocation (a multi-armed bandit over the predictors with weight > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adaptive {
    pub policy: Policy,
    pub reward: Reward,
    pub update_seconds: u32,
    pub min_outcomes: u32,
    pub min_share_percent: u32,
    /// Learns from every replica's outcomes, read from `fleet.prometheus` (contract "Fleet view").
    pub pooled: bool,
}

/// `fleet`: where every gateway replica reads the pooled outcomes of all replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    pub prometheus: PrometheusSource,
}

/// `fleet.prometheus`: a Prometheus (or anything serving its instant-query API) that scrapes every
/// gateway replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSource {
    /// The Envoy cluster the queries go to.
    pub cluster: String,
    pub authority: String,
    /// The instant-query endpoint, `/api/v1/query` by default.
    pub path: String,
    /// Label matchers added to every query, PromQL without braces (`""`: none); validated.
    pub selector: String,
    pub timeout_ms: u32,
    /// How far behind the clock the queries evaluate.
    pub delay_seconds: u32,
    /// Adaptive experiments: outcomes of the last this many seconds count.
    pub window_seconds: u32,
}

/// A progressive rollout: the canary's share of new assignments follows `steps` from `start`, and a
/// guard rolls it back when it is worse than the baseline (the other predictors with weight > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub canary: PredictorId,
    /// `start` in Unix seconds (and as written, for logs).
    pub start_unix: u64,
    pub start: String,
    /// At least one; `percent` strictly increasing; `minutes` on all but the last.
    pub steps: Vec<Step>,
    pub reward: Reward,
    pub guard: Guard,
    pub update_seconds: u32,
    pub pooled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The canary's share of new assignments during the step, 1 to 100.
    pub percent: u32,
    /// How long the step lasts; `None` on the last step, which holds until the configuration changes.
    pub minutes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// How much success rate the canary may lose against the baseline, in millionths (1 percentage
    /// point = 10,000).
    pub max_drop_millionths: u32,
    /// The confidence of a rollback, in tenths of a percent (99 % = 990).
    pub confidence_tenths: u32,
    /// Neither side is judged before both have this many outcomes.
    pub min_outcomes: u32,
}

impl Guard {
    /// `max_drop_percent` as a difference of success rates (1 point = 0.01).
    pub fn max_drop(&self) -> f64 {
        f64::from(self.max_drop_millionths) / 1_000_000.0
    }

    /// The error rate the test holds: `1 - confidence_percent / 100`.
    pub fn alpha(&self) -> f64 {
        f64::from(1000u32.saturating_sub(self.confidence_tenths)) / 1000.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Share = probability of being the best under Beta(1 + successes, 1 + failures) posteriors.
    Thompson,
    /// The best mean reward gets `100 - epsilon_percent` %, the others split `epsilon_percent` %.
    EpsilonGreedy { epsilon_percent: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    /// Every final response is an outcome: success when 2xx (and, if set, within `max_latency_ms`).
    Response { max_latency_ms: Option<u32> },
    /// Outcomes come from feedback requests to `path` (Seldon's feedback API body, `reward` in [0, 1]).
    Feedback { path: String },
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Thompson => "thompson",
            Policy::EpsilonGreedy { .. } => "epsilon_greedy",
        }
    }
}

impl Experiment {
    /// The predictor with exactly this name (names are case-sensitive).
    pub fn predictor_named(&self, name: &[u8]) -> Option<PredictorId> {
        self.predictors
            .iter()
            .position(|p| p.name.as_bytes() == name)
            .map(PredictorId::from_index)
    }

    pub fn predictor(&self, id: PredictorId) -> Option<&Predictor> {
        self.predictors.get(id.index())
    }

    /// What one outcome is, for an experiment that collects outcomes (adaptive or rollout).
    pub fn reward(&self) -> Option<&Reward> {
        match (&self.adaptive, &self.rollout) {
            (Some(a), _) => Some(&a.reward),
            (None, Some(r)) => Some(&r.reward),
            (None, None) => None,
        }
    }

    /// Whether the experiment reads every replica's outcomes through `fleet` (adaptive or rollout).
    pub fn is_pooled(&self) -> bool {
        self.adaptive.as_ref().is_some_and(|a| a.pooled) || self.rollout.as_ref().is_some_and(|r| r.pooled)
    }

    /// Predictors that receive new assignments (weight > 0): the arms of an adaptive experiment.
    pub fn taking_part(&self) -> impl Iterator<Item = (PredictorId, &Predictor)> {
        self.predictors
            .iter()
            .enumerate()
            .filter(|(_, p)| p.weight > 0)
            .map(|(i, p)| (PredictorId::from_index(i), p))
    }
}
