//! The hostcalls the filter makes, declared directly against the ABI (0.2.1).
//!
//! Why not `proxy_wasm::hostcalls`: its wrappers `panic!` on any status they do not expect, and its
//! header-map reader `unwrap`s UTF-8. A panic traps the VM and turns every later request on the worker
//! into a 503, so here every status is a typed [`HostError`] and every byte is accepted. The numbers
//! are the SDK's own `#[repr(u32)]` enums; the signatures match the SDK's declarations of the same
//! imports (returning the raw `u32` status, so an unexpected value is data, not undefined behaviour).

use std::fmt;
use std::ptr::null_mut;

use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, Status};

/// A status other than `Ok` returned by the host, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    NotFound,
    BadArgument,
    SerializationFailure,
    ParseFailure,
    Empty,
    CasMismatch,
    InternalFailure,
    Unimplemented,
    Other(u32),
}

impl HostError {
    fn from_status(status: u32) -> Self {
        const UNIMPLEMENTED: u32 = 12; // not in SDK 0.2.5's `Status`
        match status {
            s if s == Status::NotFound as u32 => HostError::NotFound,
            s if s == Status::BadArgument as u32 => HostError::BadArgument,
            s if s == Status::SerializationFailure as u32 => HostError::SerializationFailure,
            s if s == Status::ParseFailure as u32 => HostError::ParseFailure,
            s if s == Status::Empty as u32 => HostError::Empty,
            s if s == Status::CasMismatch as u32 => HostError::CasMismatch,
            s if s == Status::InternalFailure as u32 => HostError::InternalFailure,
            UNIMPLEMENTED => HostError::Unimplemented,
            other => HostError::Other(other),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Other(status) => write!(f, "host status {status}"),
            named => write!(f, "{named:?}"),
        }
    }
}

pub type HostResult<T> = Result<T, HostError>;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_register_shared_queue(name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_enqueue_shared_queue(queue_id: u32, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_dequeue_shared_queue(
        queue_id: u32,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

fn check(status: u32) -> HostResult<()> {
    if status == Status::Ok as u32 {
        Ok(())
    } else {
        Err(HostError::from_status(status))
    }
}

/// Takes ownership of a buffer the host allocated through the module's `proxy_on_memory_allocate`.
///
/// # Safety
/// `data`/`size` must come from a successful hostcall that returned memory (or be null).
unsafe fn take_host_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

/// Runs a hostcall that returns bytes: `Ok(None)` when the host says `NotFound`.
fn returned_bytes(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> HostResult<Option<Vec<u8>>> {
    let mut data = null_mut();
    let mut len = 0usize;
    let status = call(&mut data, &mut len);
    if status == Status::Ok as u32 {
        Ok(Some(unsafe { take_host_buffer(data, len) }))
    } else if status == Status::NotFound as u32 {
        Ok(None)
    } else {
        Err(HostError::from_status(status))
    }
}

pub fn log(level: LogLevel, message: &str) {
    // Nothing sensible can be done if logging fails.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

/// The level Envoy logs this plugin at (its `wasm` component's), as the ABI numbers it: trace 0 to
/// critical 5.
pub fn log_level() -> HostResult<u32> {
    let mut level = 0u32;
    check(unsafe { proxy_get_log_level(&mut level) })?;
    Ok(level)
}

pub fn current_time_nanos() -> HostResult<u64> {
    let mut nanos = 0u64;
    check(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos)
}

pub fn set_tick_period_milliseconds(period: u32) -> HostResult<()> {
    check(unsafe { proxy_set_tick_period_milliseconds(period) })
}

pub fn plugin_configuration(size: usize) -> HostResult<Vec<u8>> {
    buffer(BufferType::PluginConfiguration, size).map(Option::unwrap_or_default)
}

/// The current chunk of the request body (`size` bytes, as `proxy_on_request_body` announced).
pub fn request_body(size: usize) -> HostResult<Vec<u8>> {
    buffer(BufferType::HttpRequestBody, size).map(Option::unwrap_or_default)
}

/// The current chunk of the response body (`size` bytes, as `proxy_on_response_body` announced).
pub fn response_body(size: usize) -> HostResult<Vec<u8>> {
    buffer(BufferType::HttpResponseBody, size).map(Option::unwrap_or_default)
}

/// A callout's response body (`size` bytes, as `on_http_call_response` announced).
pub fn call_response_body(size: usize) -> HostResult<Vec<u8>> {
    buffer(BufferType::HttpCallResponseBody, size).map(Option::unwrap_or_default)
}

/// Sends a callout (`proxy_http_call`); its token, whose answer arrives in `on_http_call_response`.
///
/// The one hostcall made through the SDK's wrapper: only the wrapper registers the token with the SDK's
/// dispatcher, which delivers `proxy_on_http_call_response` to the context that sent it (and panics on a
/// token it does not know). The wrapper accepts `Ok`, `BadArgument` and `InternalFailure`, which are
/// what Envoy's `httpCall` returns (an unknown cluster or bad headers are `BadArgument`). Header values
/// that are not UTF-8 are sent empty (the plans' headers are ASCII).
pub fn dispatch_http_call(plan: &crate::router::callout::CalloutPlan) -> HostResult<u32> {
    let headers: Vec<(&str, &str)> = plan
        .header_pairs()
        .map(|(k, v)| (k, std::str::from_utf8(v).unwrap_or("")))
        .collect();
    let body = (!plan.body.is_empty()).then_some(plan.body.as_slice());
    proxy_wasm::hostcalls::dispatch_http_call(
        &plan.cluster,
        headers,
        body,
        Vec::new(),
        std::time::Duration::from_millis(u64::from(plan.timeout_ms)),
    )
    .map_err(|status| HostError::from_status(status as u32))
}

fn buffer(buffer: BufferType, size: usize) -> HostResult<Option<Vec<u8>>> {
    returned_bytes(|data, len| unsafe { proxy_get_buffer_bytes(buffer as u32, 0, size, data, len) })
}

/// The header maps the filter touches.
#[derive(Debug, Clone, Copy)]
pub enum Map {
    Request,
    Response,
    /// The headers of a callout's response, readable in `on_http_call_response`.
    CallResponse,
}

impl Map {
    fn raw(self) -> u32 {
        match self {
            Map::Request => MapType::HttpRequestHeaders as u32,
            Map::Response => MapType::HttpResponseHeaders as u32,
            Map::CallResponse => MapType::HttpCallResponseHeaders as u32,
        }
    }
}

/// The first value of header `key`; `Ok(None)` when absent.
pub fn header(map: Map, key: &str) -> HostResult<Option<Vec<u8>>> {
    returned_bytes(|data, len| unsafe {
        proxy_get_header_map_value(map.raw(), key.as_ptr(), key.len(), data, len)
    })
}

/// The whole serialized header map (decoded by `crate::router::header_map`).
pub fn header_pairs(map: Map) -> HostResult<Vec<u8>> {
    returned_bytes(|data, len| unsafe { proxy_get_header_map_pairs(map.raw(), data, len) })
        .map(Option::unwrap_or_default)
}

pub fn replace_header(map: Map, key: &str, value: &[u8]) -> HostResult<()> {
    check(unsafe {
        proxy_replace_header_map_value(map.raw(), key.as_ptr(), key.len(), value.as_ptr(), value.len())
    })
}

pub fn remove_header(map: Map, key: &str) -> HostResult<()> {
    check(unsafe { proxy_remove_header_map_value(map.raw(), key.as_ptr(), key.len()) })
}

pub fn add_header(map: Map, key: &str, value: &[u8]) -> HostResult<()> {
    check(unsafe {
        proxy_add_header_map_value(map.raw(), key.as_ptr(), key.len(), value.as_ptr(), value.len())
    })
}

/// A shared-data value with its compare-and-swap version; `Ok(None)` when the key does not exist.
pub fn shared_data(key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
    let mut cas = 0u32;
    let value = returned_bytes(|data, len| unsafe {
        proxy_get_shared_data(key.as_ptr(), key.len(), data, len, &mut cas)
    })?;
    Ok(value.map(|v| (v, cas)))
}

/// Writes `value` if the key's version is still `cas` (`0`: unconditionally); `Err(CasMismatch)` when
/// another worker wrote in between.
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> HostResult<()> {
    check(unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

pub fn define_counter(name: &str) -> HostResult<u32> {
    define_metric(MetricType::Counter, name)
}

pub fn define_gauge(name: &str) -> HostResult<u32> {
    define_metric(MetricType::Gauge, name)
}

fn define_metric(metric_type: MetricType, name: &str) -> HostResult<u32> {
    let mut id = 0u32;
    check(unsafe { proxy_define_metric(metric_type as u32, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_counter(id: u32, amount: u64) -> HostResult<()> {
    check(unsafe { proxy_increment_metric(id, i64::try_from(amount).unwrap_or(i64::MAX)) })
}

pub fn record_gauge(id: u32, value: u64) -> HostResult<()> {
    check(unsafe { proxy_record_metric(id, value) })
}

/// Registers a shared queue by name (Envoy: the first registrant of a name receives its
/// `on_queue_ready`, on its own worker); its id.
pub fn register_shared_queue(name: &str) -> HostResult<u32> {
    let mut id = 0u32;
    check(unsafe { proxy_register_shared_queue(name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn enqueue_shared_queue(queue_id: u32, value: &[u8]) -> HostResult<()> {
    check(unsafe { proxy_enqueue_shared_queue(queue_id, value.as_ptr(), value.len()) })
}

/// The queue's oldest message; `Err(Empty)` when there is none.
pub fn dequeue_shared_queue(queue_id: u32) -> HostResult<Vec<u8>> {
    returned_bytes(|data, len| unsafe { proxy_dequeue_shared_queue(queue_id, data, len) })
        .map(Option::unwrap_or_default)
}
