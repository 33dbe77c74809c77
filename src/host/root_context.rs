//! The plugin's root context: validates each configuration Envoy delivers, hands the one in service to
//! every new HTTP stream, and runs the worker's tick (counts, adaptive learning, rollouts).

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::abi;
use super::environment::VmEnvironment;
use super::http_context::PredictorRouterHttp;
use super::learning::TickNeeds;
use super::random::SharedRng;
use super::shadow::ShadowDesk;
use super::state::RouterState;
use crate::router::adaptive::learner::ARM_DRAWS_PER_TICK;
use crate::router::table::RoutingTable;

/// How often each worker hands its batched counts to Envoy (the contract asks for at least once a second).
const FLUSH_TICK_MILLISECONDS: u32 = 1000;
/// How often each worker merges outcomes and advances its allocations and rollouts; counts are flushed
/// on the same tick. A rollout's step change comes sooner: the tick is shortened to land on it.
const TICK_MILLISECONDS: u32 = 500;
/// The tick while a Thompson estimate is spread over several ticks (many predictors): each tick's work
/// stays bounded, and the estimate still completes within seconds.
const ESTIMATING_TICK_MILLISECONDS: u32 = 50;

pub struct PredictorRouterRoot {
    /// This root context's id (the shadow copies it sends are answered to it).
    context_id: u32,
    /// `None` until a valid configuration arrives; a rejected update leaves the previous one in service.
    state: Option<Rc<RouterState>>,
    rng: SharedRng,
    /// The tick period last asked for.
    tick_period: u32,
    /// The VM's shadow copies in transit (shared by its root contexts: a copy finishes with the
    /// configuration that routed it).
    desk: Rc<ShadowDesk>,
    /// This root's shadow wake-up queue, registered with its first configuration with a shadow.
    shadow_queue: Option<u32>,
}

impl Drop for PredictorRouterRoot {
    /// A newer configuration replaced this root context (or the plugin stops): copies it sent are cut
    /// off with it.
    fn drop(&mut self) {
        self.desk.root_gone(self.context_id, self.shadow_queue);
    }
}

impl PredictorRouterRoot {
    pub fn new(context_id: u32) -> Self {
        PredictorRouterRoot {
            context_id,
            state: None,
            rng: SharedRng::default(),
            tick_period: 0,
            desk: ShadowDesk::of_this_vm(),
            shadow_queue: None,
        }
    }

    /// The period of the next tick: fast while estimating, else the usual period, shortened so that the
    /// tick lands on the next rollout step change (Envoy re-arms the timer when the period is set).
    fn period_for(needs: TickNeeds, now: u64) -> u32 {
        if needs.estimating {
            return ESTIMATING_TICK_MILLISECONDS;
        }
        match needs.next_change_nanos {
            Some(change) => {
                let until_ms = change.saturating_sub(now).div_ceil(1_000_000);
                u32::try_from(until_ms)
                    .unwrap_or(u32::MAX)
                    .clamp(1, TICK_MILLISECONDS)
            }
            None => TICK_MILLISECONDS,
        }
    }

    fn set_tick_period(&mut self, period: u32) {
        if period == self.tick_period {
            return;
        }
        self.tick_period = period;
        if let Err(e) = abi::set_tick_period_milliseconds(period) {
            log::warn!(
                "predictor_router: cannot set the tick period ({e}): adaptive experiments will not learn and rollouts will not step"
            );
        }
    }
}

impl Context for PredictorRouterRoot {
    /// A shadow copy was answered (or failed, or timed out): its pair is told; or a fleet query of this
    /// worker was answered (or failed, or timed out): the pooled experiment that
    /// sent it writes the answer for every worker of the Envoy and applies it. An answer to a query of a
    /// configuration already replaced finds no sender and is dropped (its claim expires).
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        if self.desk.answered(token_id, num_headers, body_size) {
            return;
        }
        let Some(state) = &self.state else { return };
        let answer = super::fleet::read_answer(num_headers, body_size);
        let now = abi::current_time_nanos().unwrap_or(0);
        let needs = match state.learning.try_borrow_mut() {
            Ok(mut learning) => {
                learning.answered(&state.table, token_id, &answer, now);
                learning.needs(&state.table, now)
            }
            Err(_) => return,
        };
        let period = Self::period_for(needs, now);
        self.set_tick_period(period);
    }
}

impl RootContext for PredictorRouterRoot {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        super::logger::follow_host_level();
        let bytes = match abi::plugin_configuration(plugin_configuration_size) {
            Ok(bytes) => bytes,
            Err(e) => {
                log::error!("predictor_router: cannot read the plugin configuration ({e})");
                return false;
            }
        };
        let table = match RoutingTable::parse_with_environment(&bytes, &VmEnvironment) {
            Ok(table) => table,
            Err(error) => {
                log::error!("predictor_router: invalid configuration: {error}");
                return false;
            }
        };
        for warning in table.warnings() {
            log::warn!("predictor_router: {warning}");
        }
        log::info!(
            "predictor_router: configured {} experiment(s)",
            table.experiments().len()
        );
        if let Some(signing) = table.signing() {
            // The variable's name and the number of keys; never a key.
            log::info!(
                "predictor_router: signed overrides verify with {} key(s) from {}",
                signing.keys.len(),
                signing.keys_env
            );
        }
        // The configuration being replaced hands over its counts now; counts of its streams still in
        // flight follow when the last of them ends (RouterState's Drop).
        if let Some(previous) = &self.state {
            previous.flush();
        }
        if state_has_shadow(&table) {
            match self.shadow_queue {
                Some(queue) => self.desk.use_queue(Some(queue)),
                None => self.shadow_queue = self.desk.register_queue(self.context_id),
            }
        }
        let state = RouterState::new(table);
        let learns = state.learns;
        let mut period = FLUSH_TICK_MILLISECONDS;
        if learns {
            let now = abi::current_time_nanos().unwrap_or(0);
            let mut needs = TickNeeds::default();
            if let Ok(mut learning) = state.learning.try_borrow_mut() {
                learning.resume(&state.table, now);
                needs.next_change_nanos = learning.next_change_nanos(&state.table, now);
            }
            period = Self::period_for(needs, now);
        }
        self.state = Some(Rc::new(state));
        self.tick_period = u32::MAX;
        self.set_tick_period(period);
        true
    }

    fn on_tick(&mut self) {
        // Copies whose wake-up never came (no queue) go out now.
        if self.desk.has_waiting() {
            self.desk.send_waiting(self.context_id);
        }
        let Some(state) = &self.state else { return };
        state.flush();
        if !state.learns {
            return;
        }
        let now = abi::current_time_nanos().unwrap_or(0);
        let needs = match state.learning.try_borrow_mut() {
            Ok(mut learning) => learning.tick(&state.table, now, ARM_DRAWS_PER_TICK),
            Err(_) => TickNeeds::default(),
        };
        let period = Self::period_for(needs, now);
        self.set_tick_period(period);
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        self.desk.woken(self.context_id, queue_id);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PredictorRouterHttp::new(
            self.state.clone(),
            self.rng.clone(),
            self.desk.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

fn state_has_shadow(table: &RoutingTable) -> bool {
    table.experiments().iter().any(|e| e.shadow.is_some())
}
