//! The fleet view (contract "Fleet view"): every gateway replica reads the outcomes of all replicas from the
//! Prometheus that scrapes them, at the same aligned instant, and so computes the same allocation and the
//! same guard decision without talking to the others.
//!
//! - [`instant`]: the aligned instant `T` of an update, and a rollout's window
//! - [`promql`]: the query's PromQL text and the callout that sends it
//! - [`answer`]: the query API's answer → totals per predictor, or why the query failed
//! - [`exchange`]: what the workers of one Envoy share about an experiment's queries (who asks, the
//!   last answer, failures in a row), and whether the experiment uses pooled or local outcomes

pub mod answer;
pub mod exchange;
pub mod instant;
pub mod promql;

pub use answer::QueryFailure;
pub use exchange::{Exchange, Source};
