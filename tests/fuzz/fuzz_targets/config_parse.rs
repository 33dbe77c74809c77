//! Any bytes as the plugin configuration: `parse` returns a configuration or an error naming a path,
//! never panics; an accepted configuration is internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use predictor_router::router::config::parse;
use predictor_router::router::metrics::{counter_name, Counter, CounterCatalog};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Err(error) => assert!(!error.path.is_empty() && !error.reason.is_empty()),
        Ok(config) => {
            let _ = config.warnings();
            let catalog = CounterCatalog::new(&config);
            for (e, exp) in config.experiments().iter().enumerate() {
                assert!(!exp.predictors.is_empty() && exp.predictors.iter().any(|p| p.weight > 0));
                assert!(catalog.slot(Counter::OverrideRejected { experiment: e }).is_some());
                assert!(counter_name(&config, Counter::OverrideRejected { experiment: e }).is_some());
                for b in [0, 4999, 9999] {
                    assert!(exp.buckets.predictor_of(b) < exp.predictors.len());
                }
            }
        }
    }
});
