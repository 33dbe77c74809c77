//! Metric names (part of the external contract) and a dense numbering of the counters, so the host
//! adapter can batch increments in a flat table and define each counter on first use.
//!
//! | metric | counts |
//! |---|---|
//! | `predictor_router.<experiment>.<predictor>.decision.<forced\|sticky\|hashed\|random>` | decisions |
//! | `predictor_router.<experiment>.<predictor>.response.<2xx\|3xx\|4xx\|5xx>` | final responses by class |
//! | `predictor_router.<experiment>.<predictor>.outcome.trials` | adaptive outcomes counted |
//! | `predictor_router.<experiment>.<predictor>.outcome.reward_milli` | sum of rewards × 1000 |
//! | `predictor_router.<experiment>.<predictor>.share_bp` | gauge: share of new assignments, basis points |
//! | `predictor_router.<experiment>.rollout.step` | gauge: the rollout's step (0 before `start`) |
//! | `predictor_router.<experiment>.rollout.rolled_back` | gauge: 1 once the guard rolled the canary back |
//! | `predictor_router.<experiment>.override_rejected` | non-empty overrides that forced nothing |
//! | `predictor_router.<experiment>.feedback_unattributed` | feedback on random or forced decisions |
//! | `predictor_router.<experiment>.feedback_invalid` | feedback bodies without a usable reward |
//! | `predictor_router.unmatched` | requests that matched no experiment |
//! | `predictor_router.<experiment>.pooled` | gauge: 1 while a pooled experiment uses every replica's outcomes, 0 while its own Envoy's |
//! | `predictor_router.fleet.query_ok` | fleet queries answered with usable totals |
//! | `predictor_router.fleet.query_failed` | fleet queries that failed (no response, status, body) |
//! | `predictor_router.<experiment>.<served>.shadow.<name>.<copied\|agree\|disagree\|failed\|timeout\|skipped>` | requests copied to the shadow, and each copy's one outcome |
//! | `predictor_router.<experiment>.<served>.shadow.<name>.abs_diff_milli` | sum of abs_diff × 1000 over compared pairs |
//! | `predictor_router.<experiment>.<served>.shadow.<name>.<latency_ms\|served_latency_ms>` | sums of the shadow's and the served predictor's latency over compared pairs |

use crate::router::decision::Reason;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::shadow::pair::ShadowMeasure;
use crate::router::table::RoutingTable;

pub const PREFIX: &str = "predictor_router";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    Success,
    Redirect,
    ClientError,
    ServerError,
}

impl StatusClass {
    pub const ALL: [StatusClass; 4] = [
        StatusClass::Success,
        StatusClass::Redirect,
        StatusClass::ClientError,
        StatusClass::ServerError,
    ];

    /// The class of a `:status` value (three digits, as Envoy always sends it); `None` for 1xx and
    /// anything else.
    pub fn of(status: &[u8]) -> Option<StatusClass> {
        let [class, tens, units] = status else { return None };
        if !tens.is_ascii_digit() || !units.is_ascii_digit() {
            return None;
        }
        match class {
            b'2' => Some(StatusClass::Success),
            b'3' => Some(StatusClass::Redirect),
            b'4' => Some(StatusClass::ClientError),
            b'5' => Some(StatusClass::ServerError),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::Redirect => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        }
    }

    fn offset(self) -> usize {
        match self {
            StatusClass::Success => 0,
            StatusClass::Redirect => 1,
            StatusClass::ClientError => 2,
            StatusClass::ServerError => 3,
        }
    }
}

fn reason_offset(reason: Reason) -> usize {
    match reason {
        Reason::Forced => 0,
        Reason::Sticky => 1,
        Reason::Hashed => 2,
        Reason::Random => 3,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    Decision {
        experiment: ExperimentId,
        predictor: PredictorId,
        reason: Reason,
    },
    Response {
        experiment: ExperimentId,
        predictor: PredictorId,
        class: StatusClass,
    },
    OutcomeTrials {
        experiment: ExperimentId,
        predictor: PredictorId,
    },
    OutcomeRewardMilli {
        experiment: ExperimentId,
        predictor: PredictorId,
    },
    OverrideRejected {
        experiment: ExperimentId,
    },
    FeedbackUnattributed {
        experiment: ExperimentId,
    },
    FeedbackInvalid {
        experiment: ExperimentId,
    },
    Unmatched,
    /// A shadow counter of one served predictor (only experiments with `shadow` have them).
    Shadow {
        experiment: ExperimentId,
        predictor: PredictorId,
        measure: ShadowMeasure,
    },
}

/// Counters per experiment before its predictors': override_rejected, feedback_unattributed, feedback_invalid.
const PER_EXPERIMENT: usize = 3;
/// Counters per predictor: four decision reasons, four response classes, two outcome counters.
const PER_PREDICTOR: usize = 10;
/// More per predictor of an experiment with `shadow`: every [`ShadowMeasure`].
const SHADOW_PER_PREDICTOR: usize = ShadowMeasure::ALL.len();

/// Numbers every counter of a configuration densely from 0, and names it.
#[derive(Debug, Clone)]
pub struct CounterCatalog {
    /// For each experiment, the slot of its first counter (its predictors' slots follow), and the slot
    /// of its first shadow counter when it has a shadow.
    experiment_base: Vec<(usize, Option<usize>)>,
    len: usize,
}

impl CounterCatalog {
    pub fn new(table: &RoutingTable) -> Self {
        let mut next = 1; // slot 0: unmatched
        let experiment_base = table
            .experiments()
            .iter()
            .map(|e| {
                let base = next;
                next += PER_EXPERIMENT + PER_PREDICTOR * e.predictors.len();
                let shadow = e.shadow.as_ref().map(|_| {
                    let shadow_base = next;
                    next += SHADOW_PER_PREDICTOR * e.predictors.len();
                    shadow_base
                });
                (base, shadow)
            })
            .collect();
        CounterCatalog {
            experiment_base,
            len: next,
        }
    }

    /// How many counters the configuration has.
    pub fn count(&self) -> usize {
        self.len
    }

    /// The dense number of a counter; `None` for ids outside the configuration.
    pub fn slot(&self, counter: Counter) -> Option<usize> {
        let bases = |experiment: ExperimentId| self.experiment_base.get(experiment.index()).copied();
        let base = |experiment: ExperimentId| bases(experiment).map(|(b, _)| b);
        let predictor_slot = |experiment: ExperimentId, predictor: PredictorId, offset: usize| {
            base(experiment).map(|b| b + PER_EXPERIMENT + predictor.index() * PER_PREDICTOR + offset)
        };
        match counter {
            Counter::Unmatched => Some(0),
            Counter::OverrideRejected { experiment } => base(experiment),
            Counter::FeedbackUnattributed { experiment } => base(experiment).map(|b| b + 1),
            Counter::FeedbackInvalid { experiment } => base(experiment).map(|b| b + 2),
            Counter::Decision {
                experiment,
                predictor,
                reason,
            } => predictor_slot(experiment, predictor, reason_offset(reason)),
            Counter::Response {
                experiment,
                predictor,
                class,
            } => predictor_slot(experiment, predictor, 4 + class.offset()),
            Counter::OutcomeTrials {
                experiment,
                predictor,
            } => predictor_slot(experiment, predictor, 8),
            Counter::OutcomeRewardMilli {
                experiment,
                predictor,
            } => predictor_slot(experiment, predictor, 9),
            Counter::Shadow {
                experiment,
                predictor,
                measure,
            } => {
                let (_, shadow) = bases(experiment)?;
                shadow.map(|b| b + predictor.index() * SHADOW_PER_PREDICTOR + measure.offset())
            }
        }
    }
}

/// The full counter name as the filter defines it (Envoy shows it under `wasmcustom.`).
pub fn counter_name(table: &RoutingTable, counter: Counter) -> Option<String> {
    let experiment = |e: ExperimentId| table.experiment(e).map(|e| e.name.as_str());
    let predictor = |e: ExperimentId, p: PredictorId| {
        let exp = table.experiment(e)?;
        Some((exp.name.as_str(), exp.predictor(p)?.name.as_str()))
    };
    Some(match counter {
        Counter::Unmatched => format!("{PREFIX}.unmatched"),
        Counter::OverrideRejected { experiment: e } => {
            format!("{PREFIX}.{}.override_rejected", experiment(e)?)
        }
        Counter::FeedbackUnattributed { experiment: e } => {
            format!("{PREFIX}.{}.feedback_unattributed", experiment(e)?)
        }
        Counter::FeedbackInvalid { experiment: e } => {
            format!("{PREFIX}.{}.feedback_invalid", experiment(e)?)
        }
        Counter::Decision {
            experiment: e,
            predictor: p,
            reason,
        } => {
            let (exp, pred) = predictor(e, p)?;
            format!("{PREFIX}.{exp}.{pred}.decision.{}", reason.as_str())
        }
        Counter::Response {
            experiment: e,
            predictor: p,
            class,
        } => {
            let (exp, pred) = predictor(e, p)?;
            format!("{PREFIX}.{exp}.{pred}.response.{}", class.as_str())
        }
        Counter::OutcomeTrials {
            experiment: e,
            predictor: p,
        } => {
            let (exp, pred) = predictor(e, p)?;
            format!("{PREFIX}.{exp}.{pred}.outcome.trials")
        }
        Counter::OutcomeRewardMilli {
            experiment: e,
            predictor: p,
        } => {
            let (exp, pred) = predictor(e, p)?;
            format!("{PREFIX}.{exp}.{pred}.outcome.reward_milli")
        }
        Counter::Shadow {
            experiment: e,
            predictor: p,
            measure,
        } => {
            let (exp, pred) = predictor(e, p)?;
            let shadow = table.experiment(e)?.shadow.as_ref()?;
            format!(
                "{PREFIX}.{exp}.{pred}.shadow.{}.{}",
                shadow.name,
                measure.as_str()
            )
        }
    })
}

/// The name of the `share_bp` gauge of a predictor of an adaptive experiment or a rollout.
pub fn share_gauge_name(experiment: &str, predictor: &str) -> String {
    format!("{PREFIX}.{experiment}.{predictor}.share_bp")
}

/// The name of a rollout's `rollout.step` gauge (0 before `start`, then 1 to the number of steps).
pub fn rollout_step_gauge_name(experiment: &str) -> String {
    format!("{PREFIX}.{experiment}.rollout.step")
}

/// The name of a rollout's `rollout.rolled_back` gauge (0 or 1).
pub fn rollout_rolled_back_gauge_name(experiment: &str) -> String {
    format!("{PREFIX}.{experiment}.rollout.rolled_back")
}

/// The name of a pooled experiment's `pooled` gauge (1 pooled, 0 local).
pub fn pooled_gauge_name(experiment: &str) -> String {
    format!("{PREFIX}.{experiment}.pooled")
}

/// Fleet queries answered with usable totals (one per query, counted by the worker that sent it).
pub const FLEET_QUERY_OK: &str = "predictor_router.fleet.query_ok";
/// Fleet queries that failed.
pub const FLEET_QUERY_FAILED: &str = "predictor_router.fleet.query_failed";
