//! One worker's part in a pooled experiment's queries (contract "Fleet view"): on the tick, apply the
//! latest answer any worker of this Envoy wrote to the exchange, and when this update is nobody's yet,
//! claim it and send the query; when this worker's answer arrives, read it, write it to the exchange,
//! count it and log what changed. The exchange's rules are [`crate::router::fleet::exchange`]'s; no
//! request ever waits for any of it.

use super::cas::{self, Step};
use super::gauge::Gauge;
use super::port::{HostPort, Level};
use crate::router::callout::Answer;
use crate::router::config::{Experiment, PrometheusSource};
use crate::router::fleet::answer::totals_of;
use crate::router::fleet::exchange::{exchange_key, Consumer, Exchange, Source, LOCAL_AFTER_FAILURES};
use crate::router::fleet::instant::aligned_instant;
use crate::router::fleet::promql::query_plan;
use crate::router::fleet::QueryFailure;
use crate::router::metrics::{pooled_gauge_name, FLEET_QUERY_FAILED, FLEET_QUERY_OK};
use crate::router::outcomes::Totals;

const NANOS: u64 = 1_000_000_000;

pub struct PooledView {
    key: String,
    consumer: Consumer,
    /// The exchange's answer count this worker applied last.
    applied: u64,
    /// The update this worker's query in flight answers (the root's registry holds its token).
    in_flight: Option<u64>,
    gauge: Gauge,
}

/// The fleet counters of this worker, defined on first use.
#[derive(Default)]
pub struct FleetCounters {
    ok: Option<u32>,
    failed: Option<u32>,
}

impl FleetCounters {
    fn count(&mut self, port: &impl HostPort, ok: bool) {
        let (slot, name) = if ok {
            (&mut self.ok, FLEET_QUERY_OK)
        } else {
            (&mut self.failed, FLEET_QUERY_FAILED)
        };
        let id = match *slot {
            Some(id) => id,
            None => match port.define_counter(name) {
                Some(id) => *slot.insert(id),
                None => return,
            },
        };
        port.increment_counter(id, 1);
    }
}

/// What a tick of the view did.
pub struct Ticked {
    /// The latest answer, when this worker has not applied it yet.
    pub fresh: Option<Exchange>,
    /// The token of the query this tick sent (the root's callout registry routes its reply back).
    pub sent: Option<u32>,
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
    pub fn resume(&mut self, port: &impl HostPort, experiment: &Experiment) -> Exchange {
        let exchange = read(port, &self.key, experiment).0;
        self.applied = exchange.answers;
        self.record_gauge(port, &exchange);
        exchange
    }

    /// The tick: the latest answer when this worker has not applied it yet; claims and sends this
    /// update's query when it is nobody's yet. `window_at(T)` is the query's window at `T` (`None`:
    /// nothing to ask).
    #[allow(clippy::too_many_arguments)]
    pub fn tick(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        source: &PrometheusSource,
        update_seconds: u32,
        window_at: impl Fn(u64) -> Option<u64>,
        now_nanos: u64,
        counters: &mut FleetCounters,
    ) -> Ticked {
        let (mut exchange, cas) = read(port, &self.key, experiment);
        let mut sent = None;
        if cas == 0 {
            // No record yet. A write at version 0 always succeeds, so two workers whose first ticks both
            // found no record would both claim and both ask (seen in a real Envoy at start): write the
            // empty record first, and claim from the next tick with a real version.
            let _ = port.set_shared_data(&self.key, &exchange.encode(experiment), 0);
            return Ticked { fresh: None, sent };
        }
        let t = aligned_instant(now_nanos / NANOS, update_seconds, source.delay_seconds);
        if self.in_flight.is_none() {
            if let (Some(window), Some(claimed)) =
                (window_at(t), exchange.claim(t, now_nanos, source.timeout_ms))
            {
                if port
                    .set_shared_data(&self.key, &claimed.encode(experiment), cas)
                    .is_ok()
                {
                    exchange = claimed;
                    let plan = query_plan(source, &experiment.name, window, t);
                    match port.dispatch(&plan) {
                        Ok(token) => {
                            self.in_flight = Some(t);
                            sent = Some(token);
                        }
                        Err(e) => {
                            let failure = QueryFailure::NotSent(e.to_string());
                            if let Some(answered) =
                                self.write_answer(port, experiment, t, Err(failure), counters)
                            {
                                exchange = answered;
                            }
                        }
                    }
                }
            }
        }
        Ticked {
            fresh: self.fresh(port, exchange),
            sent,
        }
    }

    /// This worker's query was answered: the exchange to apply, when the answer was written.
    pub fn answered(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        answer: &Answer,
        counters: &mut FleetCounters,
    ) -> Option<Exchange> {
        let t = self.in_flight.take()?;
        let result = totals_of(answer, experiment);
        let exchange = self.write_answer(port, experiment, t, result, counters)?;
        self.fresh(port, exchange)
    }

    /// Writes this worker's answer for the update at `t`, counts it, and logs the totals (debug) and a
    /// change between pooled and local (warn).
    fn write_answer(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        t: u64,
        result: Result<Totals, QueryFailure>,
        counters: &mut FleetCounters,
    ) -> Option<Exchange> {
        counters.count(port, result.is_ok());
        match &result {
            Ok(totals) => port.log(
                Level::Debug,
                format_args!("{}", totals_line(experiment, t, totals)),
            ),
            Err(failure) => port.log(
                Level::Debug,
                format_args!(
                    "predictor_router: {} fleet query at {t} failed: {failure}",
                    experiment.name
                ),
            ),
        }
        let consumer = self.consumer;
        let written = cas::update(port, &self.key, |value, _| {
            let stored = decode(experiment, value);
            match stored.answer(t, result.clone().map_err(drop)) {
                Some(next) => Step::Write(next.encode(experiment), Some((stored.source(consumer), next))),
                None => Step::Done(None),
            }
        });
        let (before, next) = written.ok().flatten()?;
        let after = next.source(consumer);
        if before != after {
            port.log(
                Level::Warn,
                format_args!("{}", source_line(experiment, consumer, after, &result)),
            );
        }
        Some(next)
    }

    /// `exchange` when it holds an answer this worker has not applied yet.
    fn fresh(&mut self, port: &impl HostPort, exchange: Exchange) -> Option<Exchange> {
        if exchange.answers == self.applied {
            return None;
        }
        self.applied = exchange.answers;
        self.record_gauge(port, &exchange);
        Some(exchange)
    }

    fn record_gauge(&mut self, port: &impl HostPort, exchange: &Exchange) {
        let pooled = exchange.source(self.consumer) == Source::Pooled;
        self.gauge.record(port, u64::from(pooled));
    }
}

/// A fresh exchange over a missing key, another definition's record or bytes that do not decode (the
/// version read lets the next claim overwrite them).
fn decode(experiment: &Experiment, value: Option<&[u8]>) -> Exchange {
    value
        .and_then(|bytes| Exchange::decode(experiment, bytes))
        .unwrap_or_default()
}

/// The exchange and its version (0: no key, or the host refused the read).
fn read(port: &impl HostPort, key: &str, experiment: &Experiment) -> (Exchange, u32) {
    match port.shared_data(key) {
        Ok(Some((bytes, cas))) => (decode(experiment, Some(&bytes)), cas),
        Ok(None) | Err(_) => (Exchange::new(), 0),
    }
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
            "predictor_router: {name} fleet queries failed {LOCAL_AFTER_FAILURES} updates in a row ({failure}): learning from this \
             Envoy's outcomes until Prometheus answers"
        ),
        (Source::Local, Consumer::Rollout, Err(failure)) => format!(
            "predictor_router: {name} fleet query failed ({failure}): the guard judges this Envoy's outcomes \
             until Prometheus answers"
        ),
        (Source::Local, _, Ok(_)) => format!("predictor_router: {name} uses this Envoy's outcomes"),
    }
}
