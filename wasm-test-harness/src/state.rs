//! Host state: what all workers share (as Envoy shares it between worker threads: shared data, queues,
//! metrics, the log), what one worker (one wasm instance) owns, and what one HTTP stream carries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::{BufferType, LogLevel, MapType};
use crate::headers::HeaderMap;

/// One line the module logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub worker: usize,
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub value: u64,
}

#[derive(Debug, Default)]
pub struct Shared {
    /// key → (value, cas)
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    pub next_cas: u32,
    /// (vm_id, name) → queue id; queue id → messages.
    pub queue_ids: HashMap<(String, String), u32>,
    pub queues: HashMap<u32, VecDeque<Vec<u8>>>,
    /// Queue id → the worker and root context that registered it first (Envoy posts its
    /// `on_queue_ready` there).
    pub queue_owners: HashMap<u32, (usize, u32)>,
    /// `(worker, root context, queue id)` for every enqueue not yet announced: Envoy posts one
    /// `on_queue_ready` per enqueue to the owner's event loop, which runs it after the current callback
    /// (and not at all when that root context has been deleted since).
    pub queue_ready: Vec<(usize, u32, u32)>,
    /// Metric ids are global, as Envoy's are per stats scope; the same name gives the same id.
    pub metrics: Vec<Metric>,
    pub metric_ids: HashMap<String, u32>,
    pub logs: Vec<LogEntry>,
}

/// State shared by every worker of one host.
#[derive(Debug, Clone, Default)]
pub struct SharedHandle(Arc<Mutex<Shared>>);

impl SharedHandle {
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        // A test that panicked while holding the lock must not hide its own failure behind a poison error.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Which callback the module is in: what a hostcall may touch depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    VmStart,
    Configure,
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    Log,
    Done,
    /// `proxy_on_http_call_response`: the call's response headers, body and trailers are readable.
    HttpCallResponse,
    /// `proxy_on_queue_ready` on the root context.
    QueueReady,
    Other,
}

/// A local response the module sent (`proxy_send_local_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    pub headers: HeaderMap,
    pub grpc_status: i32,
}

/// An outgoing call the module dispatched (`proxy_http_call`, `proxy_grpc_call`, `proxy_grpc_stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    /// The worker whose module dispatched it.
    pub worker: usize,
    pub token: u32,
    pub kind: &'static str,
    pub upstream: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
    /// The context that dispatched it: the root context, or a stream's.
    pub context_id: u32,
    /// Whether a stream context dispatched it (root contexts outlive their callouts; streams may not).
    pub from_stream: bool,
    /// The worker's clock when it was dispatched.
    pub dispatched_nanos: u64,
}

/// The answer being delivered to `proxy_on_http_call_response`: readable only while it runs.
#[derive(Debug, Clone, Default)]
pub struct CallResponse {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
}

/// One HTTP stream as the filter sees it.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub request_headers: HeaderMap,
    pub request_body: Vec<u8>,
    pub request_trailers: HeaderMap,
    pub response_headers: HeaderMap,
    pub response_body: Vec<u8>,
    pub response_trailers: HeaderMap,
    pub local_response: Option<LocalResponse>,
    /// The stream's context id.
    pub context_id: u32,
    pub foreign_calls: Vec<String>,
    /// Every hostcall the module made while this stream ran, by import name, in order.
    pub hostcalls: Vec<&'static str>,
    /// Entries into the module's allocator to hand it a value (each a VM entry inside a hostcall).
    pub allocator_entries: usize,
    pub continued: Vec<i32>,
    pub closed: Vec<i32>,
}

/// Everything one worker (one instance of the module) holds.
#[derive(Debug)]
pub struct WorkerState {
    pub worker: usize,
    pub shared: SharedHandle,
    pub phase: Phase,
    pub vm_configuration: Vec<u8>,
    /// The plugin configuration, readable only while `on_configure` runs.
    pub plugin_configuration: Option<Vec<u8>>,
    pub stream: Option<Stream>,
    pub properties: BTreeMap<String, Vec<u8>>,
    pub clock_nanos: u64,
    pub clock_step_nanos: u64,
    pub log_level: LogLevel,
    pub tick_period_ms: u32,
    pub effective_context: u32,
    /// Callouts dispatched and not yet answered.
    pub callouts: Vec<Callout>,
    pub next_token: u32,
    /// The worker's current root context (callouts dispatched outside a stream belong to it).
    pub root_context_id: u32,
    /// The answer `proxy_on_http_call_response` may read while it runs.
    pub call_response: Option<CallResponse>,
    /// Critical log lines written during the current callback: a panic hook's message before a trap.
    pub critical_since_call: Vec<String>,
    /// The VM's environment variables (WASI `environ_get`), in order.
    pub environment: Vec<(String, String)>,
}

impl WorkerState {
    pub fn new(
        worker: usize,
        shared: SharedHandle,
        vm_configuration: Vec<u8>,
        properties: BTreeMap<String, Vec<u8>>,
    ) -> Self {
        WorkerState {
            worker,
            shared,
            phase: Phase::Idle,
            vm_configuration,
            plugin_configuration: None,
            stream: None,
            properties,
            clock_nanos: 1_767_225_600_000_000_000, // 2026-01-01T00:00:00Z: deterministic
            clock_step_nanos: 1_000,
            log_level: LogLevel::Trace,
            tick_period_ms: 0,
            effective_context: 0,
            callouts: Vec::new(),
            next_token: 1,
            root_context_id: 1,
            call_response: None,
            critical_since_call: Vec::new(),
            environment: Vec::new(),
        }
    }

    /// The header map a hostcall names, if the current phase allows it (Envoy's `getMap`): request
    /// headers while `on_http_request_headers` runs, response headers while `on_http_response_headers`
    /// runs, and both read-only in `on_log` (its access-log copies). Elsewhere Envoy has no map: the
    /// hostcall answers `BadArgument` (`NotFound` for a read of an absent map in the log phase).
    pub fn map(&self, map: MapType, write: bool) -> Result<&HeaderMap, MapUnavailable> {
        if let MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers = map {
            let answer = self
                .call_response
                .as_ref()
                .filter(|_| self.phase == Phase::HttpCallResponse && !write)
                .ok_or(MapUnavailable::NotFound)?;
            return Ok(match map {
                MapType::HttpCallResponseHeaders => &answer.headers,
                _ => &answer.trailers,
            });
        }
        let stream = self.stream.as_ref().ok_or(MapUnavailable::BadArgument)?;
        let log_read = self.phase == Phase::Log && !write;
        let (allowed, headers) = match map {
            MapType::RequestHeaders => (
                self.phase == Phase::RequestHeaders || log_read,
                &stream.request_headers,
            ),
            MapType::RequestTrailers => (log_read, &stream.request_trailers),
            MapType::ResponseHeaders => (
                self.phase == Phase::ResponseHeaders || log_read,
                &stream.response_headers,
            ),
            MapType::ResponseTrailers => (log_read, &stream.response_trailers),
            _ => (false, &stream.request_trailers),
        };
        if allowed {
            Ok(headers)
        } else if self.phase == Phase::Log && !write {
            Err(MapUnavailable::NotFound)
        } else {
            Err(MapUnavailable::BadArgument)
        }
    }

    pub fn map_mut(&mut self, map: MapType) -> Result<&mut HeaderMap, MapUnavailable> {
        self.map(map, true)?;
        let stream = self.stream.as_mut().ok_or(MapUnavailable::BadArgument)?;
        Ok(match map {
            MapType::RequestHeaders => &mut stream.request_headers,
            MapType::ResponseHeaders => &mut stream.response_headers,
            _ => return Err(MapUnavailable::BadArgument),
        })
    }

    /// The buffer a hostcall names, if available now.
    pub fn buffer(&self, buffer: BufferType) -> Option<&[u8]> {
        match buffer {
            BufferType::PluginConfiguration => self.plugin_configuration.as_deref(),
            BufferType::VmConfiguration if self.phase == Phase::VmStart => Some(&self.vm_configuration),
            BufferType::RequestBody if self.phase == Phase::RequestBody => {
                self.stream.as_ref().map(|s| s.request_body.as_slice())
            }
            BufferType::ResponseBody if self.phase == Phase::ResponseBody => {
                self.stream.as_ref().map(|s| s.response_body.as_slice())
            }
            BufferType::HttpCallResponseBody if self.phase == Phase::HttpCallResponse => {
                self.call_response.as_ref().map(|r| r.body.as_slice())
            }
            _ => None,
        }
    }

    pub fn buffer_mut(&mut self, buffer: BufferType) -> Option<&mut Vec<u8>> {
        match (buffer, self.phase) {
            (BufferType::RequestBody, Phase::RequestBody) => {
                self.stream.as_mut().map(|s| &mut s.request_body)
            }
            (BufferType::ResponseBody, Phase::ResponseBody) => {
                self.stream.as_mut().map(|s| &mut s.response_body)
            }
            _ => None,
        }
    }

    pub fn log(&mut self, level: LogLevel, message: String) {
        if level == LogLevel::Critical {
            self.critical_since_call.push(message.clone());
        }
        self.shared.lock().logs.push(LogEntry {
            worker: self.worker,
            level,
            message,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapUnavailable {
    BadArgument,
    NotFound,
}
