//! The worker's [`HostPort`] on the proxy-wasm ABI: each method one hostcall (`super::abi`), its
//! failures mapped to what the worker's protocols distinguish.

use std::fmt;

use super::abi::{self, HostError, Map};
use crate::router::callout::CalloutPlan;
use crate::router::worker::{HostPort, Level, PortError};

/// The host this VM runs in (no state: every call is a hostcall).
#[derive(Clone, Copy, Default)]
pub struct Host;

fn port_error(e: HostError) -> PortError {
    match e {
        HostError::CasMismatch => PortError::CasMismatch,
        other => PortError::Refused(other.to_string()),
    }
}

impl HostPort for Host {
    fn now_nanos(&self) -> Option<u64> {
        abi::current_time_nanos().ok()
    }

    fn shared_data(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, PortError> {
        abi::shared_data(key).map_err(port_error)
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), PortError> {
        abi::set_shared_data(key, value, cas).map_err(port_error)
    }

    fn dispatch(&self, plan: &CalloutPlan) -> Result<u32, PortError> {
        abi::dispatch_http_call(plan).map_err(port_error)
    }

    fn reply_status(&self) -> Option<Vec<u8>> {
        abi::header(Map::CallResponse, ":status").ok().flatten()
    }

    fn reply_body(&self, size: usize) -> Option<Vec<u8>> {
        abi::call_response_body(size).ok()
    }

    fn define_counter(&self, name: &str) -> Option<u32> {
        abi::define_counter(name).ok()
    }

    fn increment_counter(&self, id: u32, amount: u64) {
        let _ = abi::increment_counter(id, amount);
    }

    fn define_gauge(&self, name: &str) -> Option<u32> {
        abi::define_gauge(name).ok()
    }

    fn record_gauge(&self, id: u32, value: u64) {
        let _ = abi::record_gauge(id, value);
    }

    fn register_queue(&self, name: &str) -> Result<u32, PortError> {
        abi::register_shared_queue(name).map_err(port_error)
    }

    fn enqueue(&self, queue: u32) -> bool {
        abi::enqueue_shared_queue(queue, b"1").is_ok()
    }

    fn dequeue(&self, queue: u32) -> bool {
        abi::dequeue_shared_queue(queue).is_ok()
    }

    fn set_tick_period(&self, milliseconds: u32) -> Result<(), PortError> {
        abi::set_tick_period_milliseconds(milliseconds).map_err(port_error)
    }

    /// Through the `log` facade, so that a line below the level Envoy logs the plugin at is never
    /// formatted (`super::logger`).
    fn log(&self, level: Level, line: fmt::Arguments<'_>) {
        let level = match level {
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
        };
        log::log!(level, "{line}");
    }
}
