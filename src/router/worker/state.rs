//! One configuration in service on one worker: the routing table, the metric ids defined for it so
//! far, the counts not yet handed to the host, the learners of its adaptive experiments and rollouts,
//! and its shadows' copies in flight.
//!
//! Counts are batched (contract "Metrics"): a request adds to a slot inside the VM, and
//! [`RouterState::flush`] hands every changed slot to the host on the worker's tick (at least once a
//! second) and when the configuration leaves service (`Drop`: an update replaced it and its last stream
//! ended, or the plugin stops). A request then spends no hostcall on counting, after a counter's first
//! use.

use std::cell::{Cell, RefCell};

use super::learning::Learning;
use super::port::HostPort;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::{counter_name, Counter, CounterCatalog};
use crate::router::outcomes::Outcome;
use crate::router::plan::Counts;
use crate::router::table::RoutingTable;

/// One counter of the configuration, inside the VM. (`Cell`: no borrow can fail.)
#[derive(Default)]
struct CounterSlot {
    /// The metric id, defined on first use: a configuration of 1,000 experiments has ~65,000 possible
    /// counters, and defining them all up front would slow `on_configure` and fill Envoy's stats with
    /// zeros.
    id: Cell<Option<u32>>,
    /// The increments not yet handed to the host.
    pending: Cell<u64>,
}

pub struct RouterState<P: HostPort> {
    pub port: P,
    pub table: RoutingTable,
    catalog: CounterCatalog,
    /// Per counter slot (`CounterCatalog::slot`), its metric and the increments it holds.
    slots: Vec<CounterSlot>,
    /// The slots whose pending count went from 0 to more since the last flush (each once).
    dirty: RefCell<Vec<usize>>,
    pub learning: RefCell<Learning>,
    /// Whether any experiment collects outcomes (adaptive or rollout); fixed-weight configurations skip
    /// the learners entirely.
    pub learns: bool,
    /// Per experiment, this worker's copies to its shadow not yet answered (`max_in_flight`).
    shadow_in_flight: Vec<Cell<u32>>,
}

impl<P: HostPort> RouterState<P> {
    pub fn new(port: P, table: RoutingTable) -> Self {
        let catalog = CounterCatalog::new(&table);
        let slots = (0..catalog.count()).map(|_| CounterSlot::default()).collect();
        let learning = Learning::new(&table);
        let learns = Learning::needed(&table);
        let shadow_in_flight = table.experiments().iter().map(|_| Cell::new(0)).collect();
        RouterState {
            port,
            shadow_in_flight,
            table,
            catalog,
            slots,
            dirty: RefCell::new(Vec::new()),
            learning: RefCell::new(learning),
            learns,
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

    /// Adds to a counter inside the VM. The counter is defined with the host on first use, even for 0
    /// (a failure's reward), so that ratios have both series; the amount waits for
    /// [`RouterState::flush`].
    pub fn count(&self, counter: Counter, amount: u64) {
        let Some(index) = self.catalog.slot(counter) else {
            return;
        };
        let Some(CounterSlot { id, pending }) = self.slots.get(index) else {
            return;
        };
        if id.get().is_none() {
            let Some(name) = counter_name(&self.table, counter) else {
                return;
            };
            let Some(defined) = self.port.define_counter(&name) else {
                return;
            };
            id.set(Some(defined));
        }
        if amount == 0 {
            return;
        }
        if pending.get() == 0 {
            if let Ok(mut dirty) = self.dirty.try_borrow_mut() {
                dirty.push(index);
            }
        }
        pending.set(pending.get().saturating_add(amount));
    }

    /// Hands every pending count to the host: one hostcall per counter that changed since the last
    /// flush.
    pub fn flush(&self) {
        let Ok(mut dirty) = self.dirty.try_borrow_mut() else {
            return;
        };
        for index in dirty.drain(..) {
            let Some(CounterSlot { id, pending }) = self.slots.get(index) else {
                continue;
            };
            if let Some(id) = id.get() {
                // A failed increment loses its counts; it must never fail anything else.
                self.port.increment_counter(id, pending.replace(0));
            }
        }
    }

    /// Admission of one more copy to experiment's shadow (`max_in_flight` per worker); counts it in.
    pub fn admit_shadow(&self, experiment: ExperimentId, max_in_flight: u32) -> bool {
        let Some(in_flight) = self.shadow_in_flight.get(experiment.index()) else {
            return false;
        };
        if in_flight.get() >= max_in_flight {
            return false;
        }
        in_flight.set(in_flight.get() + 1);
        true
    }

    /// A copy to the experiment's shadow ended (answered, failed, or never sent).
    pub fn shadow_done(&self, experiment: ExperimentId) {
        if let Some(in_flight) = self.shadow_in_flight.get(experiment.index()) {
            in_flight.set(in_flight.get().saturating_sub(1));
        }
    }

    /// The copies to the experiment's shadow in flight on this worker.
    pub fn shadow_in_flight(&self, experiment: ExperimentId) -> u32 {
        self.shadow_in_flight.get(experiment.index()).map_or(0, Cell::get)
    }
}

impl<P: HostPort> Drop for RouterState<P> {
    /// A configuration leaves service (an update replaced it and its last stream ended, or the plugin
    /// stops): pending counts go to the host and outcomes not yet merged to shared data now, so none is
    /// lost. Never inlined: it runs once per configuration, and inlined into a stream's drop glue it
    /// would cost every stream a stack frame.
    #[inline(never)]
    fn drop(&mut self) {
        self.flush();
        if let Ok(mut learning) = self.learning.try_borrow_mut() {
            learning.sync_all(&self.port, &self.table);
        }
    }
}
