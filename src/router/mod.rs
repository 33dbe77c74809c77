//! The pure decision core of predictor-router. It knows nothing of proxy-wasm: the host adapter
//! (`crate::host`, wasm only) reads what the core asks for, calls in here, and applies the plan.
//!
//! - [`config`]: bytes → validated configuration or an error naming the JSON path
//! - [`table`]: the validated experiments compiled for serving; owns [`matching`] (hosts, path prefix)
//! - [`plan`]: what to do to a request and its response, one entry per host operation
//! - [`decision`]: forced → sticky → hashed → random, over a [`decision::RequestPort`]
//! - [`bucketing`]: murmur3 buckets and the weight → bucket table
//! - [`cookies`], [`query`]: reading the sticky cookie and the override parameter; `Set-Cookie`
//! - [`response`]: what to add to the response
//! - [`outcomes`]: what an outcome is, totals per predictor, their shared-data record and merge protocol
//! - [`adaptive`]: bandit allocation (Thompson / epsilon-greedy) over an experiment's outcomes
//! - [`rollout`]: a canary's schedule, its shares per step, and the guard that rolls it back
//! - [`metrics`]: the metric names of the contract, numbered for batching
//! - [`header_map`]: the ABI's serialized header map
//! - [`fleet`]: pooled outcomes of every replica from Prometheus: the aligned instant, the query, its
//!   answer, and what an Envoy's workers share about it
//! - [`shadow`]: shadow comparison: which requests are copied, the copy's path, Seldon answers, the
//!   outcome of a pair
//! - [`clock`]: deadlines that survive the host clock jumping back
//! - [`instant`]: RFC 3339 UTC instants ↔ Unix seconds (a rollout's `start`)
//! - [`callout`]: HTTP calls to other servers as plans (what to send) and answers (what came back)
//! - [`signing`]: signed overrides: the key set from the environment, token minting and verification
//! - [`ids`]: typed experiment and predictor indices
//! - [`worker`]: what one worker does on its tick and in callouts (learners, rollouts, the fleet
//!   view's protocol, shadow copies, batched counters), over one [`worker::HostPort`]

pub mod adaptive;
pub mod bucketing;
pub mod callout;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod decision;
#[cfg(any(test, feature = "test-util"))]
pub mod fake_request;
pub mod fleet;
pub mod header_map;
pub mod ids;
pub mod instant;
pub mod matching;
pub mod metrics;
pub mod outcomes;
pub mod plan;
pub mod query;
pub mod response;
pub mod rollout;
pub mod shadow;
pub mod signing;
pub mod table;
pub mod worker;
