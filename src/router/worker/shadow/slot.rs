//! One copied request's pair, shared by its stream (the client's side) and the callout registry (the
//! shadow's), counted by the configuration that routed the request.

use std::cell::RefCell;
use std::rc::Rc;

use super::super::port::HostPort;
use super::super::state::RouterState;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::Counter;
use crate::router::shadow::pair::{Finished, Pair, ServedEnd, ShadowEnd, ShadowMeasure};

pub struct PairSlot<P: HostPort> {
    /// The configuration the request was routed by: its counters take the pair's outcome, even when
    /// an update has replaced it since.
    pub(super) state: Rc<RouterState<P>>,
    pub(super) experiment: ExperimentId,
    served: PredictorId,
    pair: RefCell<Pair>,
}

impl<P: HostPort> PairSlot<P> {
    pub(super) fn new(
        state: Rc<RouterState<P>>,
        experiment: ExperimentId,
        served: PredictorId,
        pair: Pair,
    ) -> Self {
        PairSlot {
            state,
            experiment,
            served,
            pair: RefCell::new(pair),
        }
    }

    fn count(&self, measure: ShadowMeasure, amount: u64) {
        self.state.count(
            Counter::Shadow {
                experiment: self.experiment,
                predictor: self.served,
                measure,
            },
            amount,
        );
    }

    fn finish(&self, finished: Option<Finished>) {
        if let Some(finished) = finished {
            for (measure, amount) in finished.measures() {
                self.count(measure, amount);
            }
        }
    }

    pub(super) fn served_end(&self, end: ServedEnd) {
        let finished = match self.pair.try_borrow_mut() {
            Ok(mut pair) => pair.served(end),
            Err(_) => return,
        };
        self.finish(finished);
    }

    /// The shadow's side ended: the first end frees its place in `max_in_flight`.
    pub fn shadow_end(&self, end: ShadowEnd) {
        let (finished, first) = match self.pair.try_borrow_mut() {
            Ok(mut pair) => {
                let first = !pair.shadow_ended();
                (pair.shadow(end), first)
            }
            Err(_) => return,
        };
        if first {
            self.state.shadow_done(self.experiment);
        }
        self.finish(finished);
    }
}
