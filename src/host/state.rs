//! One configuration in service on one worker: the routing table, the metric ids defined for it so
//! far, and the learners of its adaptive experiments.

use std::cell::{Cell, RefCell};

use super::abi;
use super::learning::Learning;
use crate::router::adaptive::Outcome;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::{counter_name, Counter, CounterCatalog};
use crate::router::plan::Counts;
use crate::router::table::RoutingTable;

pub struct RouterState {
    pub table: RoutingTable,
    catalog: CounterCatalog,
    /// Metric id per counter slot, defined on first use: a configuration of 1,000 experiments has
    /// ~65,000 possible counters, and defining them all up front would slow `on_configure` and fill
    /// Envoy's stats with zeros. (`Cell`: no borrow can fail.)
    metric_ids: Vec<Cell<Option<u32>>>,
    pub learning: RefCell<Learning>,
    /// Whether any experiment is adaptive (fixed-weight configurations skip the learners entirely).
    pub adaptive: bool,
}

impl RouterState {
    pub fn new(table: RoutingTable) -> Self {
        let catalog = CounterCatalog::new(&table);
        let metric_ids = (0..catalog.len()).map(|_| Cell::new(None)).collect();
        let learning = Learning::new(&table);
        let adaptive = !learning.is_empty();
        RouterState {
            table,
            catalog,
            metric_ids,
            learning: RefCell::new(learning),
            adaptive,
        }
    }

    /// A plan's counters, and its outcome for the experiment's learner (if any).
    #[inline(always)]
    pub fn apply(&self, counts: &Counts, experiment: ExperimentId, outcome: Option<(PredictorId, Outcome)>) {
        self.count_all(counts);
        if let Some((predictor, outcome)) = outcome {
            if let Ok(mut learning) = self.learning.try_borrow_mut() {
                learning.record(experiment, predictor, outcome);
            }
        }
    }

    #[inline(always)]
    pub fn count_all(&self, counts: &Counts) {
        for (counter, amount) in counts.iter() {
            self.count(counter, amount);
        }
    }

    pub fn count(&self, counter: Counter, amount: u64) {
        let Some(slot) = self.catalog.slot(counter).and_then(|s| self.metric_ids.get(s)) else {
            return;
        };
        let id = match slot.get() {
            Some(id) => id,
            None => {
                let Some(name) = counter_name(&self.table, counter) else {
                    return;
                };
                let Ok(id) = abi::define_counter(&name) else {
                    return;
                };
                slot.set(Some(id));
                id
            }
        };
        // Defined even for 0 (a failure's reward), so that ratios have both series; a failed
        // increment loses one count, and must never fail the request.
        if amount > 0 {
            let _ = abi::increment_counter(id, amount);
        }
    }
}

impl Drop for RouterState {
    /// A configuration leaves service (an update replaced it and its last stream ended, or the plugin
    /// stops): outcomes not yet merged go to shared data now, so none is lost.
    fn drop(&mut self) {
        if let Ok(mut learning) = self.learning.try_borrow_mut() {
            learning.sync_all(&self.table);
        }
    }
}
