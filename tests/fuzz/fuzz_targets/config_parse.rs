//! Any bytes as the plugin configuration: `parse` returns a configuration or an error naming a path,
//! never panics; an accepted configuration is internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use predictor_router::router::adaptive::allocate;
use predictor_router::router::outcomes::record::{decode, encode, Stored};
use predictor_router::router::outcomes::Totals;
use predictor_router::router::metrics::{counter_name, Counter, CounterCatalog};
use predictor_router::router::table::RoutingTable;

fuzz_target!(|data: &[u8]| {
    match RoutingTable::parse(data) {
        Err(error) => assert!(!error.path.is_empty() && !error.reason.is_empty()),
        Ok(table) => {
            let _ = table.warnings();
            let catalog = CounterCatalog::new(&table);
            for (e, exp) in table.iter() {
                assert!(!exp.predictors.is_empty() && exp.predictors.iter().any(|p| p.weight > 0));
                assert!(catalog.slot(Counter::OverrideRejected { experiment: e }).is_some());
                assert!(counter_name(&table, Counter::OverrideRejected { experiment: e }).is_some());
                for b in [0, 4999, 9999] {
                    assert!(exp.buckets.predictor_of(b).index() < exp.predictors.len());
                }
                if exp.adaptive.is_some() {
                    let zero = Totals::zero(exp.predictors.len());
                    assert_eq!(decode(exp, &encode(exp, &zero)), Stored::Ours(zero.clone()));
                    let allocation = allocate(exp, &zero);
                    assert_eq!(allocation.shares_bp.iter().sum::<u32>(), 10_000);
                }
            }
        }
    }
});
