//! The decision for one request of a matched experiment: forced → sticky → hashed → random.
//!
//! The core reads the request through [`RequestPort`] so that it reads only what the decision needs
//! (each read is a call into the host) and can be tested without a host.

use crate::router::bucketing::{bucket_of_u32, user_bucket, BucketTable};
use crate::router::config::Experiment;
use crate::router::ids::PredictorId;
use crate::router::signing::{self, KeySet};
use crate::router::{cookies, query};

/// What the decision reads from the request. Values are bytes: header values need not be UTF-8.
pub trait RequestPort {
    /// The first value of request header `name` (lowercase), or `None` when absent.
    fn header(&mut self, name: &str) -> Option<Vec<u8>>;
    /// Every value of request header `name`, in order (several `cookie` lines, for instance).
    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>>;
    /// A uniformly distributed random number; called only for a random decision.
    fn random_u32(&mut self) -> u32;
    /// The host clock, in whole seconds since the Unix epoch; read only to check a signed override.
    fn now_unix_seconds(&mut self) -> u64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Forced,
    Sticky,
    Hashed,
    Random,
}

impl Reason {
    pub const ALL: [Reason; 4] = [Reason::Forced, Reason::Sticky, Reason::Hashed, Reason::Random];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Forced => "forced",
            Reason::Sticky => "sticky",
            Reason::Hashed => "hashed",
            Reason::Random => "random",
        }
    }

    /// Only new assignments are written to the cookie: forced requests must not pin a tester,
    /// and a sticky one already carries it.
    pub fn sets_cookie(self) -> bool {
        matches!(self, Reason::Hashed | Reason::Random)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub predictor: PredictorId,
    pub reason: Reason,
    /// The request carried a non-empty override value that named no predictor of this experiment.
    pub override_rejected: bool,
}

/// What new assignments of an experiment are taken from right now: the configured weights, an adaptive
/// allocation, or the current phase of a rollout.
#[derive(Debug, Clone, Copy)]
pub struct NewAssignments<'a> {
    pub buckets: &'a BucketTable,
    /// Predictors whose cookie keeps no user now although their weight is > 0 (bit i: predictor i): a
    /// rollout's predictors at 0 % (the canary before `start` and after a rollback, the baseline at a
    /// 100 % step). Weight-0 predictors never keep a user, whatever this says.
    pub closed: u64,
    /// Whether the responses (or feedback) of this request count as outcomes: always for adaptive
    /// experiments, for a rollout only from `start` until a rollback.
    pub collects_outcomes: bool,
}

impl<'a> NewAssignments<'a> {
    /// The configured weights.
    pub fn configured(experiment: &'a Experiment) -> Self {
        NewAssignments {
            buckets: &experiment.buckets,
            closed: 0,
            collects_outcomes: true,
        }
    }

    fn keeps(&self, predictor: PredictorId) -> bool {
        predictor.index() >= 64 || self.closed & (1u64 << predictor.index()) == 0
    }
}

/// The decision with the configured weights.
pub fn decide(experiment: &Experiment, path: &[u8], request: &mut impl RequestPort) -> Decision {
    decide_with(experiment, NewAssignments::configured(experiment), path, request)
}

/// The decision with `assignments` for new assignments and for which cookies still hold; forced
/// requests do not depend on it.
pub fn decide_with(
    experiment: &Experiment,
    assignments: NewAssignments<'_>,
    path: &[u8],
    request: &mut impl RequestPort,
) -> Decision {
    let buckets = assignments.buckets;
    let mut override_rejected = false;
    if let Some(rule) = &experiment.override_ {
        // Header first, then the query parameter (read only if the header forced nothing): the first
        // value that names a predictor wins.
        for source in [OverrideSource::Header, OverrideSource::Query] {
            let value = match source {
                OverrideSource::Header => request.header(&rule.header),
                OverrideSource::Query => rule
                    .query_param
                    .as_deref()
                    .and_then(|q| query::first_value(path, q)),
            };
            match named_predictor(experiment, rule.signed.as_deref(), value, request) {
                Named::Predictor(predictor) => {
                    return Decision {
                        predictor,
                        reason: Reason::Forced,
                        override_rejected: false,
                    }
                }
                Named::Unknown => override_rejected = true,
                Named::Absent => {}
            }
        }
    }
    let decided = |predictor, reason| Decision {
        predictor,
        reason,
        override_rejected,
    };

    if let Some(cookie) = &experiment.sticky.cookie {
        if let Some(predictor) = sticky_predictor(experiment, cookie, request) {
            if assignments.keeps(predictor) {
                return decided(predictor, Reason::Sticky);
            }
        }
    }
    if let Some(user_header) = &experiment.sticky.user_header {
        if let Some(user_id) = request.header(user_header).filter(|v| !v.is_empty()) {
            let bucket = user_bucket(&experiment.name, &user_id);
            return decided(buckets.predictor_of(bucket), Reason::Hashed);
        }
    }
    let bucket = bucket_of_u32(request.random_u32());
    decided(buckets.predictor_of(bucket), Reason::Random)
}

#[derive(Clone, Copy)]
enum OverrideSource {
    Header,
    Query,
}

enum Named {
    /// No value, or an empty one (which counts as absent).
    Absent,
    Predictor(PredictorId),
    /// A non-empty value that names no predictor of the experiment.
    Unknown,
}

/// What an override value forces: with `signed` keys, only a valid token (a plain name is refused);
/// without, a predictor's name.
fn named_predictor(
    experiment: &Experiment,
    signed: Option<&KeySet>,
    value: Option<Vec<u8>>,
    request: &mut impl RequestPort,
) -> Named {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Named::Absent;
    };
    let forced = match signed {
        None => experiment.predictor_named(&value),
        Some(keys) => verify_signed(keys, experiment, &value, request.now_unix_seconds()),
    };
    forced.map_or(Named::Unknown, Named::Predictor)
}

/// A signed override's token checked against the experiment's predictors (out of line: only signed
/// overrides pay for it).
#[inline(never)]
fn verify_signed(
    keys: &KeySet,
    experiment: &Experiment,
    token: &[u8],
    now_unix_seconds: u64,
) -> Option<PredictorId> {
    signing::verify(
        keys,
        &experiment.name,
        |name| experiment.predictor_named(name),
        token,
        now_unix_seconds,
    )
}

/// The predictor named by the sticky cookie, if it exists and still takes traffic (weight > 0).
fn sticky_predictor(
    experiment: &Experiment,
    cookie: &str,
    request: &mut impl RequestPort,
) -> Option<PredictorId> {
    // Most requests carry a single `cookie` line: read it alone first, and read every line only when
    // the first one lacks the cookie (the first occurrence across all lines counts).
    let first_line = request.header("cookie")?;
    let value = match cookies::find_in_line(&first_line, cookie.as_bytes()) {
        Some(value) => value.to_vec(),
        None => cookies::find_in_lines(&request.header_values("cookie"), cookie.as_bytes())?,
    };
    let predictor = experiment.predictor_named(&value)?;
    experiment
        .predictor(predictor)
        .filter(|p| p.weight > 0)
        .map(|_| predictor)
}
