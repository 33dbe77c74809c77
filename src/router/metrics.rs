//! Counter names (part of the external contract) and a dense numbering of them, so the host adapter
//! can cache one metric id per counter in a flat table and define each counter on first use.
//!
//! | counter | counts |
//! |---|---|
//! | `predictor_router.<experiment>.<predictor>.decision.<forced\|sticky\|hashed\|random>` | decisions |
//! | `predictor_router.<experiment>.<predictor>.response.<2xx\|3xx\|4xx\|5xx>` | final responses by class |
//! | `predictor_router.<experiment>.override_rejected` | non-empty overrides that forced nothing |
//! | `predictor_router.unmatched` | requests that matched no experiment |

use crate::router::config::Config;
use crate::router::decision::Reason;

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
        experiment: usize,
        predictor: usize,
        reason: Reason,
    },
    Response {
        experiment: usize,
        predictor: usize,
        class: StatusClass,
    },
    OverrideRejected {
        experiment: usize,
    },
    Unmatched,
}

/// Counters per predictor: four decision reasons and four response classes.
const PER_PREDICTOR: usize = 8;

/// Numbers every counter of a configuration densely from 0, and names it.
#[derive(Debug, Clone)]
pub struct CounterCatalog {
    /// For each experiment, the slot of its `override_rejected`; its predictors' slots follow.
    experiment_base: Vec<usize>,
    len: usize,
}

impl CounterCatalog {
    pub fn new(config: &Config) -> Self {
        let mut next = 1; // slot 0: unmatched
        let experiment_base = config
            .experiments()
            .iter()
            .map(|e| {
                let base = next;
                next += 1 + PER_PREDICTOR * e.predictors.len();
                base
            })
            .collect();
        CounterCatalog {
            experiment_base,
            len: next,
        }
    }

    /// How many counters the configuration has.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The dense number of a counter; `None` for indices outside the configuration.
    pub fn slot(&self, counter: Counter) -> Option<usize> {
        let predictor_slot = |experiment: usize, predictor: usize, offset: usize| {
            self.experiment_base
                .get(experiment)
                .map(|base| base + 1 + predictor * PER_PREDICTOR + offset)
        };
        match counter {
            Counter::Unmatched => Some(0),
            Counter::OverrideRejected { experiment } => self.experiment_base.get(experiment).copied(),
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
        }
    }
}

/// The full counter name as the filter defines it (Envoy shows it under `wasmcustom.`).
pub fn counter_name(config: &Config, counter: Counter) -> Option<String> {
    let experiment = |i: usize| config.experiment(i);
    Some(match counter {
        Counter::Unmatched => format!("{PREFIX}.unmatched"),
        Counter::OverrideRejected { experiment: e } => {
            format!("{PREFIX}.{}.override_rejected", experiment(e)?.name)
        }
        Counter::Decision {
            experiment: e,
            predictor,
            reason,
        } => {
            let exp = experiment(e)?;
            format!(
                "{PREFIX}.{}.{}.decision.{}",
                exp.name,
                exp.predictors.get(predictor)?.name,
                reason.as_str()
            )
        }
        Counter::Response {
            experiment: e,
            predictor,
            class,
        } => {
            let exp = experiment(e)?;
            format!(
                "{PREFIX}.{}.{}.response.{}",
                exp.name,
                exp.predictors.get(predictor)?.name,
                class.as_str()
            )
        }
    })
}
