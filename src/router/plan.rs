//! What the filter does to one request and its response, as plain data: the host adapter reads what
//! the core asks for (through [`RequestPort`]), then applies the plan, one host operation per entry.
//! Every rule of the contract that touches a request is here, where native tests reach it.
//!
//! - [`plan_request`]: strip routing headers, decide, set the routing header, count the decision;
//! - [`plan_response`]: count the response class, report the predictor, `Set-Cookie`, the outcome;
//! - [`plan_feedback`]: the outcome (or the counter) of a feedback request's body.

use crate::router::config::{Experiment, Reward};
use crate::router::decision::{decide_with, Decision, NewAssignments, Reason, RequestPort};
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::{Counter, StatusClass};
use crate::router::outcomes::feedback::outcome_of;
use crate::router::outcomes::Outcome;
use crate::router::response::response_headers;
use crate::router::shadow::copy::CopyHead;
use crate::router::shadow::pair::ShadowMeasure;
use crate::router::shadow::sample;
use crate::router::table::RoutingTable;

/// Counter increments of one plan (at most four: nothing allocates). The plan functions and these
/// methods are `#[inline(always)]` so that, in the module, the plan dissolves into the host adapter's
/// code (measured: about 150 wasm instructions per request less than out-of-line plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    entries: [(Counter, u64); 4],
    len: u8,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            entries: [(Counter::Unmatched, 0); 4],
            len: 0,
        }
    }
}

impl Counts {
    #[inline(always)]
    fn add(&mut self, counter: Counter, amount: u64) {
        if let Some(free) = self.entries.get_mut(usize::from(self.len)) {
            *free = (counter, amount);
            self.len += 1;
        }
    }

    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        self.entries.iter().take(usize::from(self.len)).copied()
    }
}

/// How the response or body of a routed request teaches an adaptive experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learning {
    /// Nothing: a fixed-weight experiment, a forced request, or a feedback request not to attribute.
    Nothing,
    /// Reward `response`: the final response is one outcome; with a latency bound, the host reads the
    /// clock on the request and on the response.
    Response { max_latency_ms: Option<u32> },
    /// A feedback request decided sticky or hashed: its body carries the outcome.
    FeedbackBody,
}

/// A routed request, as the response phase needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub experiment: ExperimentId,
    pub decision: Decision,
    pub learning: Learning,
}

impl Routed {
    /// Whether the host must read the clock when the request starts (only with `max_latency_ms`).
    pub fn times_the_response(&self) -> bool {
        matches!(
            self.learning,
            Learning::Response {
                max_latency_ms: Some(_)
            }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan<'t> {
    /// Routing headers the client sent that are not about to be replaced: remove each.
    pub remove: Vec<&'t str>,
    /// `(routing header, predictor)`: replace the header's value.
    pub set: Option<(&'t str, &'t str)>,
    pub counts: Counts,
    /// `None` when no experiment matched.
    pub routed: Option<Routed>,
    /// Set when the request was sampled for the experiment's shadow (`copied` is counted).
    pub shadow: Option<ShadowCopy>,
}

/// A request sampled for its experiment's shadow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShadowCopy {
    /// Copy it: the head now, the body as it streams past.
    Copy(CopyHead),
    /// It cannot be copied faithfully (a method or path that is not text): counted `skipped` too.
    Uncopyable,
}

/// The current allocation of new assignments of each experiment (the configured weights unless an
/// adaptive experiment has learned otherwise or a rollout is in a phase of its schedule).
pub trait Allocations {
    fn assignments<'a>(&'a self, experiment: ExperimentId, configured: &'a Experiment) -> NewAssignments<'a>;
}

/// Every experiment on its configured weights.
pub struct ConfiguredWeights;

impl Allocations for ConfiguredWeights {
    fn assignments<'a>(&'a self, _: ExperimentId, configured: &'a Experiment) -> NewAssignments<'a> {
        NewAssignments::configured(configured)
    }
}

#[inline(always)]
pub fn plan_request<'t>(
    table: &'t RoutingTable,
    allocations: &impl Allocations,
    request: &mut impl RequestPort,
) -> RequestPlan<'t> {
    // Each read is a call into the host and back: the authority only when some experiment names hosts.
    let authority = if table.matches_on_host() {
        request.header(":authority").unwrap_or_default()
    } else {
        Vec::new()
    };
    let path = request.header(":path").unwrap_or_default();
    let matched = table
        .match_request(&authority, &path)
        .and_then(|id| table.experiment(id).map(|e| (id, e)));

    // Clients may never route themselves: every routing header goes (the matched experiment's is
    // replaced below). Look before removing: a removal alone makes Envoy re-match the route.
    let own = matched.map(|(_, e)| e.routing_header.as_str());
    let remove = table
        .routing_headers()
        .iter()
        .map(String::as_str)
        .filter(|h| Some(*h) != own && request.header(h).is_some())
        .collect();

    let mut counts = Counts::default();
    let Some((id, experiment)) = matched else {
        counts.add(Counter::Unmatched, 1);
        return RequestPlan {
            remove,
            set: None,
            counts,
            routed: None,
            shadow: None,
        };
    };
    let assignments = allocations.assignments(id, experiment);
    let decision = decide_with(experiment, assignments, &path, request);
    let set = experiment
        .predictor(decision.predictor)
        .map(|p| (experiment.routing_header.as_str(), p.name.as_str()));
    counts.add(
        Counter::Decision {
            experiment: id,
            predictor: decision.predictor,
            reason: decision.reason,
        },
        1,
    );
    if decision.override_rejected {
        counts.add(Counter::OverrideRejected { experiment: id }, 1);
    }
    let feedback = is_feedback(experiment, &path);
    let learning = learning_of(experiment, &decision, feedback);
    // Unattributed is about the decision (random or forced), whether or not outcomes count right now.
    if feedback && learning == Learning::Nothing {
        counts.add(Counter::FeedbackUnattributed { experiment: id }, 1);
    }
    // A rollout counts outcomes only from `start` until a rollback.
    let learning = if assignments.collects_outcomes {
        learning
    } else {
        Learning::Nothing
    };
    let shadow = sample_for_shadow(experiment, &decision, feedback, &path, request);
    if shadow.is_some() {
        let count = |measure| Counter::Shadow {
            experiment: id,
            predictor: decision.predictor,
            measure,
        };
        counts.add(count(ShadowMeasure::Copied), 1);
        if shadow == Some(ShadowCopy::Uncopyable) {
            counts.add(count(ShadowMeasure::Skipped), 1);
        }
    }
    RequestPlan {
        remove,
        set,
        counts,
        routed: Some(Routed {
            experiment: id,
            decision,
            learning,
        }),
        shadow,
    }
}

/// Whether the request is copied to the experiment's shadow (one random draw, only for an eligible
/// request of an experiment with `shadow`), and the copy's head (two more header reads, only then).
#[inline(always)]
fn sample_for_shadow(
    experiment: &Experiment,
    decision: &Decision,
    feedback: bool,
    path: &[u8],
    request: &mut impl RequestPort,
) -> Option<ShadowCopy> {
    let shadow = experiment.shadow.as_ref()?;
    if !sample::eligible(decision.reason, feedback)
        || !sample::copies(request.random_u32(), shadow.percent_hundredths)
    {
        return None;
    }
    let method = request.header(":method").unwrap_or_default();
    let content_type = request.header("content-type");
    Some(
        match CopyHead::new(&method, path, &experiment.path_prefix, shadow, content_type) {
            Some(head) => ShadowCopy::Copy(head),
            None => ShadowCopy::Uncopyable,
        },
    )
}

fn is_feedback(experiment: &Experiment, path: &[u8]) -> bool {
    match experiment.reward() {
        Some(Reward::Feedback { path: feedback }) => {
            let without_query = path.split(|b| *b == b'?').next().unwrap_or_default();
            without_query == feedback.as_bytes()
        }
        _ => false,
    }
}

/// `feedback`: the request is a feedback request of the experiment ([`is_feedback`]).
fn learning_of(experiment: &Experiment, decision: &Decision, feedback: bool) -> Learning {
    let Some(reward) = experiment.reward() else {
        return Learning::Nothing;
    };
    match reward {
        Reward::Response { max_latency_ms } if decision.reason != Reason::Forced => Learning::Response {
            max_latency_ms: *max_latency_ms,
        },
        Reward::Feedback { .. } if matches!(decision.reason, Reason::Sticky | Reason::Hashed) && feedback => {
            Learning::FeedbackBody
        }
        _ => Learning::Nothing,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePlan<'t> {
    pub counts: Counts,
    /// `(header, predictor)`: report the predictor, replacing any upstream value.
    pub report: Option<(&'t str, &'t str)>,
    /// A `Set-Cookie` value to append (never replacing the upstream's own cookies).
    pub set_cookie: Option<&'t str>,
    /// An outcome for the adaptive experiment's learner.
    pub outcome: Option<(PredictorId, Outcome)>,
}

/// `status` is the response's `:status`; `elapsed_ms` the time since the request headers, when
/// [`Routed::times_the_response`] asked for it (unknown counts as within the bound).
#[inline(always)]
pub fn plan_response<'t>(
    table: &'t RoutingTable,
    routed: &Routed,
    status: &[u8],
    elapsed_ms: Option<u64>,
) -> Option<ResponsePlan<'t>> {
    let experiment = table.experiment(routed.experiment)?;
    let predictor = routed.decision.predictor;
    let mut counts = Counts::default();
    let class = StatusClass::of(status);
    if let Some(class) = class {
        counts.add(
            Counter::Response {
                experiment: routed.experiment,
                predictor,
                class,
            },
            1,
        );
    }
    let outcome = match (routed.learning, class) {
        (Learning::Response { max_latency_ms }, Some(class)) => {
            let in_time = match (max_latency_ms, elapsed_ms) {
                (Some(max), Some(elapsed)) => elapsed <= u64::from(max),
                _ => true,
            };
            let outcome = if class == StatusClass::Success && in_time {
                Outcome::SUCCESS
            } else {
                Outcome::FAILURE
            };
            add_outcome(&mut counts, routed.experiment, predictor, outcome);
            Some((predictor, outcome))
        }
        _ => None,
    };
    let headers = response_headers(experiment, &routed.decision);
    Some(ResponsePlan {
        counts,
        report: headers.report,
        set_cookie: headers.set_cookie,
        outcome,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackPlan {
    pub counts: Counts,
    pub outcome: Option<(PredictorId, Outcome)>,
}

/// The body of a feedback request whose learning is [`Learning::FeedbackBody`]; `None` when it was too
/// long to keep.
pub fn plan_feedback(routed: &Routed, body: Option<&[u8]>) -> FeedbackPlan {
    let mut counts = Counts::default();
    let predictor = routed.decision.predictor;
    match body.and_then(outcome_of) {
        Some(outcome) => {
            add_outcome(&mut counts, routed.experiment, predictor, outcome);
            FeedbackPlan {
                counts,
                outcome: Some((predictor, outcome)),
            }
        }
        None => {
            counts.add(
                Counter::FeedbackInvalid {
                    experiment: routed.experiment,
                },
                1,
            );
            FeedbackPlan {
                counts,
                outcome: None,
            }
        }
    }
}

fn add_outcome(counts: &mut Counts, experiment: ExperimentId, predictor: PredictorId, outcome: Outcome) {
    counts.add(
        Counter::OutcomeTrials {
            experiment,
            predictor,
        },
        1,
    );
    counts.add(
        Counter::OutcomeRewardMilli {
            experiment,
            predictor,
        },
        u64::from(outcome.reward_milli),
    );
}
