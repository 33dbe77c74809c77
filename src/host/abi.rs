//! The few proxy-wasm hostcalls the filter makes, declared directly against the ABI (0.2.1).
//!
//! Why not `proxy_wasm::hostcalls`: its wrappers `panic!` on any status they do not expect, and its
//! header-map reader `unwrap`s UTF-8. A panic traps the VM and turns every later request on the worker
//! into a 503, so here every status is an `Err` and every byte is accepted. The signatures match the
//! SDK's declarations of the same imports, so both link to one import each.

use std::ptr::null_mut;

/// Header maps of the ABI (`proxy_wasm::types::MapType`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum Map {
    RequestHeaders = 0,
    ResponseHeaders = 2,
}

/// `proxy_wasm::types::BufferType::PluginConfiguration`.
const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
/// `proxy_wasm::types::MetricType::Counter`.
const METRIC_COUNTER: u32 = 0;

const STATUS_OK: u32 = 0;
const STATUS_NOT_FOUND: u32 = 1;

/// A non-OK status returned by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);

pub type HostResult<T> = Result<T, HostError>;

#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
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
    fn proxy_call_foreign_function(
        function_name: *const u8,
        function_name_size: usize,
        arguments: *const u8,
        arguments_size: usize,
        results: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
}

fn check(status: u32) -> HostResult<()> {
    if status == STATUS_OK {
        Ok(())
    } else {
        Err(HostError(status))
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

pub fn log(level: LogLevel, message: &str) {
    // Nothing sensible can be done if logging fails.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

pub fn current_time_nanos() -> HostResult<u64> {
    let mut nanos = 0u64;
    check(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos)
}

pub fn plugin_configuration(size: usize) -> HostResult<Vec<u8>> {
    let mut data = null_mut();
    let mut len = 0usize;
    let status = unsafe { proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, size, &mut data, &mut len) };
    match status {
        STATUS_OK => Ok(unsafe { take_host_buffer(data, len) }),
        STATUS_NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError(other)),
    }
}

/// The first value of header `key`; `Ok(None)` when absent.
pub fn header(map: Map, key: &str) -> HostResult<Option<Vec<u8>>> {
    let mut data = null_mut();
    let mut len = 0usize;
    let status =
        unsafe { proxy_get_header_map_value(map as u32, key.as_ptr(), key.len(), &mut data, &mut len) };
    match status {
        STATUS_OK => Ok(Some(unsafe { take_host_buffer(data, len) })),
        STATUS_NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

/// Every value of header `key`, in order, read from the whole serialized map.
pub fn header_values(map: Map, key: &str) -> HostResult<Vec<Vec<u8>>> {
    let mut data = null_mut();
    let mut len = 0usize;
    check(unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut len) })?;
    let serialized = unsafe { take_host_buffer(data, len) };
    Ok(values_in_serialized_map(&serialized, key.as_bytes()))
}

/// Parses the ABI's serialized header map: `u32 count`, then `count` × (`u32 key_len`, `u32 value_len`),
/// then each key and value followed by a NUL. Malformed input yields what could be read, never a panic.
fn values_in_serialized_map(bytes: &[u8], wanted: &[u8]) -> Vec<Vec<u8>> {
    let u32_at = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let mut values = Vec::new();
    let Some(count) = u32_at(0) else { return values };
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    for i in 0..count {
        let (Some(key_len), Some(value_len)) = (u32_at(4 + i * 8), u32_at(8 + i * 8)) else {
            break;
        };
        let key = bytes.get(data..data.saturating_add(key_len));
        data = data.saturating_add(key_len).saturating_add(1);
        let value = bytes.get(data..data.saturating_add(value_len));
        data = data.saturating_add(value_len).saturating_add(1);
        match (key, value) {
            (Some(k), Some(v)) if k.eq_ignore_ascii_case(wanted) => values.push(v.to_vec()),
            (Some(_), Some(_)) => {}
            _ => break,
        }
    }
    values
}

pub fn replace_header(map: Map, key: &str, value: &[u8]) -> HostResult<()> {
    check(unsafe {
        proxy_replace_header_map_value(map as u32, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    })
}

pub fn remove_header(map: Map, key: &str) -> HostResult<()> {
    check(unsafe { proxy_remove_header_map_value(map as u32, key.as_ptr(), key.len()) })
}

pub fn add_header(map: Map, key: &str, value: &[u8]) -> HostResult<()> {
    check(unsafe {
        proxy_add_header_map_value(map as u32, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    })
}

/// Calls a host foreign function without arguments, discarding any result.
pub fn call_foreign_function(name: &str) -> HostResult<()> {
    let mut data = null_mut();
    let mut len = 0usize;
    let status = unsafe {
        proxy_call_foreign_function(name.as_ptr(), name.len(), name.as_ptr(), 0, &mut data, &mut len)
    };
    drop(unsafe { take_host_buffer(data, len) });
    check(status)
}

pub fn define_counter(name: &str) -> HostResult<u32> {
    let mut id = 0u32;
    check(unsafe { proxy_define_metric(METRIC_COUNTER, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_counter(id: u32) -> HostResult<()> {
    check(unsafe { proxy_increment_metric(id, 1) })
}
