//! One worker's part in a pooled experiment's queries (contract "Fleet view"): on the tick, apply the latest
//! answer any worker of this Envoy wrote to the exchange, and when this update is nobody's yet, claim
//! it and send the query; when this worker's answer arrives (`on_http_call_response` on the root
//! context), read it, write it to the exchange, count it and log what changed. The protocol is
//! [`crate::router::fleet::exchange`]'s; no request ever waits for any of it.

use super::abi::{self, Map};
use super::gauges::Gauge;
use crate::router::callout::{self, Answer};
use crate::router::config::{Experiment, PrometheusSource};
use crate::router::fleet::answer::{totals_of, MAX_ANSWER_BYTES};
use crate::router::fleet::exchange::{exchange_key, Consumer, Exchange, Source};
use crate::router::fleet::instant::aligned_instant;
use crate::router::fleet::promql::query_plan;
use crate::router::fleet::QueryFailure;
use crate::router::metrics::{pooled_gauge_name, FLEET_QUERY_FAILED, FLEET_QUERY_OK};
use crate::router::outcomes::Totals;

/// Attempts at one compare-and-swap write of the exchange.
const CAS_ATTEMPTS: usize = 4;
const NANOS: u64 = 1_000_000_000;

/// This worker's query in flight.
struct InFlight {
    token: u32,
    /// The update it answers.
    t: u64,
}

pub struct PooledView {
    key: String,
    consumer: Consumer,
    /// The exchange's answer count this worker applied last.
    applied: u64,
    in_flight: Option<InFlight>,
    gauge: Gauge,
}

/// The fleet counters of this worker, defined on first use.
#[derive(Default)]
pub struct FleetCounters {
    ok: Option<u32>,
    failed: Option<u32>,
}

impl FleetCounters {
    fn count(&mut self, ok: bool) {
        let (slot, name) = if ok {
            (&mut self.ok, FLEET_QUERY_OK)
        } else {
            (&mut self.failed, FLEET_QUERY_FAILED)
        };
        let id = match *slot {
            Some(id) => id,
            None => match abi::define_counter(name) {
                Ok(id) => *slot.insert(id),
                Err(_) => return,
            },
        };
        let _ = abi::increment_counter(id, 1);
    }
}

impl PooledView {
    pub fn new(experiment: &Experiment, consumer: Consumer) -> Self {
        PooledView {
            key: exchange_key(&experiment.name),
            consumer,
            applied: 0,
            in_flight: None,
            gauge: Gauge::new(pooled_gauge_name(&experiment.name)),
        }
    }

    /// At configuration time: what this Envoy's workers already know (a reconfigured worker resumes
    /// from it), taken as applied.
    pub fn resume(&mut self, experiment: &Experiment) -> Exchange {
        let exchange = read(&self.key, experiment).0;
        self.applied = exchange.answers;
        self.record_gauge(&exchange);
        exchange
    }

    /// The tick: returns the latest answer when this worker has not applied it yet; claims and sends
    /// this update's query when it is nobody's yet. `window_at(T)` is the query's window at `T` (`None`:
    /// nothing to ask).
    pub fn tick(
        &mut self,
        experiment: &Experiment,
        source: &PrometheusSource,
        update_seconds: u32,
        window_at: impl Fn(u64) -> Option<u64>,
        now_nanos: u64,
        counters: &mut FleetCounters,
    ) -> Option<Exchange> {
        let (mut exchange, cas) = read(&self.key, experiment);
        if cas == 0 {
            // No record yet. Envoy's `set_shared_data` with CAS 0 always succeeds, so two workers whose
            // first ticks both found no record would both claim and both ask (seen in a real Envoy at
            // start): write the empty record first, and claim from the next tick with a real CAS.
            let _ = abi::set_shared_data(&self.key, &exchange.encode(experiment), 0);
            return None;
        }
        let t = aligned_instant(now_nanos / NANOS, update_seconds, source.delay_seconds);
        if self.in_flight.is_none() {
            if let (Some(window), Some(claimed)) =
                (window_at(t), exchange.claim(t, now_nanos, source.timeout_ms))
            {
                if abi::set_shared_data(&self.key, &claimed.encode(experiment), cas).is_ok() {
                    exchange = claimed;
                    let plan = query_plan(source, &experiment.name, window, t);
                    match abi::dispatch_http_call(&plan) {
                        Ok(token) => self.in_flight = Some(InFlight { token, t }),
                        Err(e) => {
                            let failure = QueryFailure::NotSent(e.to_string());
                            if let Some(answered) = self.write_answer(experiment, t, Err(failure), counters) {
                                exchange = answered;
                            }
                        }
                    }
                }
            }
        }
        self.fresh(exchange)
    }

    /// Whether `token` is this view's query in flight.
    pub fn owns(&self, token: u32) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.token == token)
    }

    /// This worker's query was answered: the exchange to apply, when the answer was written.
    pub fn answered(
        &mut self,
        experiment: &Experiment,
        answer: &Answer,
        counters: &mut FleetCounters,
    ) -> Option<Exchange> {
        let in_flight = self.in_flight.take()?;
        let result = totals_of(answer, experiment);
        let exchange = self.write_answer(experiment, in_flight.t, result, counters)?;
        self.fresh(exchange)
    }

    /// Writes this worker's answer for the update at `t`, counts it, and logs the totals (debug) and a
    /// change between pooled and local (warn).
    fn write_answer(
        &mut self,
        experiment: &Experiment,
        t: u64,
        result: Result<Totals, QueryFailure>,
        counters: &mut FleetCounters,
    ) -> Option<Exchange> {
        counters.count(result.is_ok());
        match &result {
            Ok(totals) => log::debug!("{}", totals_line(experiment, t, totals)),
            Err(failure) => log::debug!(
                "predictor_router: {} fleet query at {t} failed: {failure}",
                experiment.name
            ),
        }
        for _ in 0..CAS_ATTEMPTS {
            let (stored, cas) = read(&self.key, experiment);
            let next = stored.answer(t, result.clone().map_err(drop))?;
            match abi::set_shared_data(&self.key, &next.encode(experiment), cas) {
                Ok(()) => {
                    let (before, after) = (stored.source(self.consumer), next.source(self.consumer));
                    if before != after {
                        log::warn!("{}", source_line(experiment, self.consumer, after, &result));
                    }
                    return Some(next);
                }
                Err(abi::HostError::CasMismatch) => continue,
                Err(_) => return None,
            }
        }
        None
    }

    /// `exchange` when it holds an answer this worker has not applied yet.
    fn fresh(&mut self, exchange: Exchange) -> Option<Exchange> {
        if exchange.answers == self.applied {
            return None;
        }
        self.applied = exchange.answers;
        self.record_gauge(&exchange);
        Some(exchange)
    }

    fn record_gauge(&mut self, exchange: &Exchange) {
        let pooled = exchange.source(self.consumer) == Source::Pooled;
        self.gauge.record(u64::from(pooled));
    }
}

/// The exchange and its CAS version; a fresh exchange over a missing key, another definition's record
/// or bytes that do not decode (the CAS version lets the next claim overwrite them).
fn read(key: &str, experiment: &Experiment) -> (Exchange, u32) {
    match abi::shared_data(key) {
        Ok(Some((bytes, cas))) => (Exchange::decode(experiment, &bytes).unwrap_or_default(), cas),
        Ok(None) | Err(_) => (Exchange::new(), 0),
    }
}

/// A callout's answer as the host hands it over in `on_http_call_response`: the status first, and the
/// body only when it is to be read (at most [`MAX_ANSWER_BYTES`]).
pub fn read_answer(num_headers: usize, body_size: usize) -> Answer {
    let status = if num_headers == 0 {
        None
    } else {
        abi::header(Map::CallResponse, ":status").ok().flatten()
    };
    let head = callout::before_body(num_headers, status.as_deref(), body_size, MAX_ANSWER_BYTES);
    let body = match head {
        Ok(_) if body_size > 0 => abi::call_response_body(body_size).ok(),
        _ => None,
    };
    callout::answer(head, body)
}

/// `predictor_router: <experiment> pooled outcomes at <T>: <predictor> <trials> trials <reward_milli>
/// reward_milli, ...`: what the update uses, to compare with Prometheus's own answer.
fn totals_line(experiment: &Experiment, t: u64, totals: &Totals) -> String {
    let arms: Vec<String> = experiment
        .predictors
        .iter()
        .zip(&totals.arms)
        .map(|(p, a)| format!("{} {} trials {} reward_milli", p.name, a.trials, a.reward_milli))
        .collect();
    format!(
        "predictor_router: {} pooled outcomes at {t}: {}",
        experiment.name,
        arms.join(", ")
    )
}

/// The warn line of a change between pooled and local.
fn source_line(
    experiment: &Experiment,
    consumer: Consumer,
    now: Source,
    result: &Result<Totals, QueryFailure>,
) -> String {
    let name = &experiment.name;
    match (now, consumer, result) {
        (Source::Pooled, Consumer::Adaptive, _) => format!(
            "predictor_router: {name} fleet query answered again: learning from every replica's outcomes"
        ),
        (Source::Pooled, Consumer::Rollout, _) => format!(
            "predictor_router: {name} fleet query answered again: the guard judges every replica's outcomes"
        ),
        (Source::Local, Consumer::Adaptive, Err(failure)) => format!(
            "predictor_router: {name} fleet queries failed {} updates in a row ({failure}): learning from this \
             Envoy's outcomes until Prometheus answers",
            crate::router::fleet::exchange::LOCAL_AFTER_FAILURES
        ),
        (Source::Local, Consumer::Rollout, Err(failure)) => format!(
            "predictor_router: {name} fleet query failed ({failure}): the guard judges this Envoy's outcomes \
             until Prometheus answers"
        ),
        (Source::Local, _, Ok(_)) => format!("predictor_router: {name} uses this Envoy's outcomes"),
    }
}
