//! Nothing here: the benchmark is `benches/core_decision.rs` (`cargo bench -p core-bench`).
