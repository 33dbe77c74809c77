//! One configuration in service: the validated config, plus the metric ids defined for it so far.

use std::cell::Cell;

use super::abi;
use crate::router::config::Config;
use crate::router::metrics::{counter_name, Counter, CounterCatalog};

pub struct RouterState {
    pub config: Config,
    catalog: CounterCatalog,
    /// Metric id per counter slot, defined on first use: a configuration of 1,000 experiments has
    /// ~65,000 possible counters, and defining them all up front would slow `on_configure` and fill
    /// Envoy's stats with zeros. (`Cell`: no borrow can fail.)
    metric_ids: Vec<Cell<Option<u32>>>,
}

impl RouterState {
    pub fn new(config: Config) -> Self {
        let catalog = CounterCatalog::new(&config);
        let metric_ids = (0..catalog.len()).map(|_| Cell::new(None)).collect();
        RouterState {
            config,
            catalog,
            metric_ids,
        }
    }

    pub fn count(&self, counter: Counter) {
        let Some(slot) = self.catalog.slot(counter).and_then(|s| self.metric_ids.get(s)) else {
            return;
        };
        let id = match slot.get() {
            Some(id) => id,
            None => {
                let Some(name) = counter_name(&self.config, counter) else {
                    return;
                };
                let Ok(id) = abi::define_counter(&name) else {
                    return;
                };
                slot.set(Some(id));
                id
            }
        };
        // A failed increment loses one count; it must never fail the request.
        let _ = abi::increment_counter(id);
    }
}
