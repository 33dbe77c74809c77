//! The pure decision core of predictor-router. It knows nothing of proxy-wasm: the host adapter
//! (`crate::host`, wasm only) reads the request, calls in here, and applies what comes back.
//!
//! - [`config`]: bytes → validated configuration or an error naming the JSON path
//! - [`matching`]: which experiment a request belongs to (hosts, path prefix)
//! - [`decision`]: forced → sticky → hashed → random, over a [`decision::RequestPort`]
//! - [`bucketing`]: murmur3 buckets and the weight → bucket table
//! - [`cookies`], [`query`]: reading the sticky cookie and the override parameter; `Set-Cookie`
//! - [`metrics`]: the counter names of the contract
//! - [`response`]: what to add to the response

pub mod bucketing;
pub mod config;
pub mod cookies;
pub mod decision;
pub mod matching;
pub mod metrics;
pub mod query;
pub mod response;
