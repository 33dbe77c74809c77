//! The host: compiles a module once, runs a configuration canary, then K workers (instances) that share
//! data and metrics; drives VM and stream lifecycles the way Envoy does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, OnceLock};

use wasmtime::{Config, Engine, Instance, Linker, Module, Store, WasmParams, WasmResults};

use crate::abi::{Action, LogLevel, IMPORTS};
use crate::headers::HeaderMap;
use crate::imports::{add_to_linker, WASI_IMPORTS, WASI_MODULE};
use crate::state::{CallResponse, Callout, LogEntry, MetricKind, Phase, SharedHandle, WorkerState};

/// Fuel given to each callback: far more than any sane callback needs, so running out means a loop.
const FUEL_PER_CALL: u64 = 10_000_000_000;

/// What Envoy does with a stream when the VM has trapped (Wasm `failure_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// `FAIL_CLOSED`: every later request on that worker gets a local 503.
    FailClosed,
    /// `FAIL_OPEN`: later requests pass through untouched, as if the filter were absent.
    FailOpen,
    /// `FAIL_RELOAD`: the failing request gets a 503; the next one gets a fresh VM.
    FailReload,
}

/// What the harness does when the module traps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTrap {
    /// Return the trap as an error: the test that caused it fails (the default).
    Fail,
    /// Behave as Envoy with this failure policy would.
    Simulate(FailurePolicy),
}

/// A trap in the module: which worker, in which callback, and why (with the module's panic message,
/// when its panic hook logged one at critical level before aborting).
#[derive(Debug, Clone)]
pub struct Trap {
    pub worker: usize,
    pub callback: String,
    pub message: String,
    pub panic_message: Option<String>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the module trapped in {} on worker {}: ",
            self.callback, self.worker
        )?;
        match &self.panic_message {
            Some(panic) => write!(f, "{panic} ({})", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Trap {}

/// Why a host could not start, or a configuration was refused.
#[derive(Debug, Clone)]
pub enum StartError {
    /// The module imports functions the harness does not provide.
    UnknownImports(Vec<String>),
    Instantiate(String),
    Trap(Trap),
    /// `proxy_on_vm_start` returned false.
    VmStartRejected,
    /// `proxy_on_configure` returned false (in the canary): the log says why.
    ConfigurationRejected {
        logs: Vec<LogEntry>,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::UnknownImports(names) => {
                write!(
                    f,
                    "the module imports what the harness does not implement: {}",
                    names.join(", ")
                )
            }
            StartError::Instantiate(e) => write!(f, "instantiation failed: {e}"),
            StartError::Trap(t) => t.fmt(f),
            StartError::VmStartRejected => write!(f, "proxy_on_vm_start returned false"),
            StartError::ConfigurationRejected { logs } => {
                write!(f, "proxy_on_configure returned false; log:")?;
                for l in logs {
                    write!(f, "\n  [{:?}] {}", l.level, l.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for StartError {}

/// Fuel (about one unit per wasm instruction) and wall time of each callback of one exchange, in
/// call order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuelReport {
    pub by_callback: Vec<CallbackCost>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCost {
    pub callback: String,
    pub fuel: u64,
    /// Wall time in the harness (wasmtime), not in Envoy's V8: for relative comparisons only.
    pub nanos: u64,
}

impl FuelReport {
    pub fn total(&self) -> u64 {
        self.by_callback.iter().map(|c| c.fuel).sum()
    }

    pub fn of(&self, callback: &str) -> u64 {
        self.by_callback
            .iter()
            .filter(|c| c.callback == callback)
            .map(|c| c.fuel)
            .sum()
    }

    pub fn nanos_of(&self, callback: &str) -> u64 {
        self.by_callback
            .iter()
            .filter(|c| c.callback == callback)
            .map(|c| c.nanos)
            .sum()
    }

    pub fn callbacks(&self) -> Vec<&str> {
        self.by_callback.iter().map(|c| c.callback.as_str()).collect()
    }
}

/// Compiled modules by their bytes: compiling is the slow part, and tests start many hosts.
type ModuleCache = Mutex<HashMap<Vec<u8>, (Engine, Module)>>;

fn compiled(wasm: &[u8]) -> Result<(Engine, Module), StartError> {
    static CACHE: OnceLock<ModuleCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(hit) = cache.get(wasm) {
        return Ok(hit.clone());
    }
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).map_err(|e| StartError::Instantiate(e.to_string()))?;
    let module = Module::new(&engine, wasm).map_err(|e| StartError::Instantiate(e.to_string()))?;
    let unknown: Vec<String> = module
        .imports()
        .filter(|i| match i.module() {
            "env" => !IMPORTS.contains(&i.name()),
            WASI_MODULE => !WASI_IMPORTS.contains(&i.name()),
            _ => true,
        })
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect();
    if !unknown.is_empty() {
        return Err(StartError::UnknownImports(unknown));
    }
    cache.insert(wasm.to_vec(), (engine.clone(), module.clone()));
    Ok((engine, module))
}

pub struct HostBuilder {
    wasm: Vec<u8>,
    plugin_configuration: Vec<u8>,
    vm_configuration: Vec<u8>,
    workers: usize,
    on_trap: OnTrap,
    properties: BTreeMap<String, Vec<u8>>,
    log_level: LogLevel,
    environment: Vec<(String, String)>,
}

impl HostBuilder {
    /// An environment variable of the VM (Envoy's `vm_config.environment_variables`), read by the
    /// module through WASI `environ_get`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_config(mut self, configuration: impl AsRef<[u8]>) -> Self {
        self.plugin_configuration = configuration.as_ref().to_vec();
        self
    }

    pub fn with_vm_config(mut self, configuration: impl AsRef<[u8]>) -> Self {
        self.vm_configuration = configuration.as_ref().to_vec();
        self
    }

    /// How many workers (Envoy `--concurrency`): instances of the one compiled module.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    pub fn on_trap(mut self, on_trap: OnTrap) -> Self {
        self.on_trap = on_trap;
        self
    }

    /// A property for `proxy_get_property`; `path` joins its segments with '.', e.g. `plugin_root_id`.
    pub fn property(mut self, path: &str, value: impl AsRef<[u8]>) -> Self {
        self.properties.insert(path.to_string(), value.as_ref().to_vec());
        self
    }

    /// What `proxy_get_log_level` answers (the host logs every level regardless).
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = level;
        self
    }

    /// Runs the configuration canary, then starts every worker.
    pub fn start(self) -> Result<Host, StartError> {
        let (engine, module) = compiled(&self.wasm)?;
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker).map_err(|e| StartError::Instantiate(e.to_string()))?;
        let shared = SharedHandle::default();
        let mut host = Host {
            engine,
            module,
            linker,
            shared,
            workers: Vec::new(),
            next_worker: 0,
            on_trap: self.on_trap,
            plugin_configuration: self.plugin_configuration,
            vm_configuration: self.vm_configuration,
            properties: self.properties,
            log_level: self.log_level,
            environment: self.environment,
            start_fuel: Vec::new(),
            requests: 0,
            upstreams: BTreeMap::new(),
        };
        // Envoy validates a configuration in a throwaway "canary" VM before using it.
        host.canary(&host.plugin_configuration.clone())?;
        for index in 0..self.workers {
            let worker = host.new_worker(index)?;
            host.workers.push(worker);
        }
        Ok(host)
    }
}

struct Worker {
    index: usize,
    store: Store<WorkerState>,
    instance: Instance,
    root_context_id: u32,
    next_context_id: u32,
    failed: bool,
}

pub struct Host {
    engine: Engine,
    module: Module,
    linker: Linker<WorkerState>,
    shared: SharedHandle,
    workers: Vec<Worker>,
    next_worker: usize,
    on_trap: OnTrap,
    plugin_configuration: Vec<u8>,
    vm_configuration: Vec<u8>,
    properties: BTreeMap<String, Vec<u8>>,
    log_level: LogLevel,
    environment: Vec<(String, String)>,
    start_fuel: Vec<FuelReport>,
    requests: u64,
    /// Scripted upstreams of HTTP callouts, by cluster name.
    upstreams: BTreeMap<String, Upstream>,
}

/// How a scripted upstream answers the HTTP callouts sent to its cluster ([`Host::upstream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A response `delay_ms` after the call was dispatched (by the worker's clock). A delay beyond the
    /// call's timeout is a timeout: Envoy's 504 at the timeout instead.
    Respond {
        status: u32,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        delay_ms: u64,
    },
    /// The connection fails at once (Envoy: no healthy upstream, connection refused or reset).
    Fail,
    /// Never answers: the call times out (Envoy's 504) when its timeout has passed.
    Silent,
}

impl Upstream {
    /// A response with this status and body, at once.
    pub fn respond(status: u32, body: impl AsRef<[u8]>) -> Self {
        Upstream::Respond {
            status,
            headers: Vec::new(),
            body: body.as_ref().to_vec(),
            delay_ms: 0,
        }
    }

    /// The same response, `delay_ms` later (a `Fail` or `Silent` upstream is unchanged).
    pub fn after_ms(self, delay: u64) -> Self {
        match self {
            Upstream::Respond {
                status,
                headers,
                body,
                ..
            } => Upstream::Respond {
                status,
                headers,
                body,
                delay_ms: delay,
            },
            other => other,
        }
    }

    /// The same response with one more header.
    pub fn header(self, name: &str, value: &str) -> Self {
        match self {
            Upstream::Respond {
                status,
                mut headers,
                body,
                delay_ms,
            } => {
                headers.push((name.to_ascii_lowercase(), value.to_string()));
                Upstream::Respond {
                    status,
                    headers,
                    body,
                    delay_ms,
                }
            }
            other => other,
        }
    }

    /// When the call is answered, by the worker's clock, and with what (`None`: a failure). A timeout
    /// is answered as Envoy answers it: its own local reply, 504 "upstream request timeout" (seen in
    /// tests/e2e/tests/e2e_shadow.rs).
    fn answer(&self, callout: &Callout) -> (u64, Option<CallResponse>) {
        let timeout_at = callout
            .dispatched_nanos
            .saturating_add(u64::from(callout.timeout_ms) * 1_000_000);
        let timed_out = || {
            let body = b"upstream request timeout".to_vec();
            let headers = HeaderMap::from_pairs([
                (":status", "504".to_string()),
                ("content-length", body.len().to_string()),
                ("content-type", "text/plain".to_string()),
            ]);
            Some(CallResponse {
                headers,
                body,
                trailers: HeaderMap::default(),
            })
        };
        match self {
            Upstream::Respond {
                status,
                headers,
                body,
                delay_ms,
            } => {
                let at = callout.dispatched_nanos.saturating_add(delay_ms * 1_000_000);
                if at > timeout_at {
                    return (timeout_at, timed_out());
                }
                let mut map = HeaderMap::from_pairs([(":status", status.to_string())]);
                for (k, v) in headers {
                    map.add(k, v.as_bytes());
                }
                map.add("content-length", body.len().to_string().as_bytes());
                let response = CallResponse {
                    headers: map,
                    body: body.clone(),
                    trailers: HeaderMap::default(),
                };
                (at, Some(response))
            }
            Upstream::Fail => (callout.dispatched_nanos, None),
            Upstream::Silent => (timeout_at, timed_out()),
        }
    }
}

impl Host {
    pub(crate) fn next_request_number(&mut self) -> u64 {
        self.requests += 1;
        self.requests
    }

    /// A host for a compiled proxy-wasm module (its bytes).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(wasm: impl AsRef<[u8]>) -> HostBuilder {
        HostBuilder {
            wasm: wasm.as_ref().to_vec(),
            plugin_configuration: Vec::new(),
            vm_configuration: Vec::new(),
            workers: 1,
            on_trap: OnTrap::Fail,
            properties: BTreeMap::new(),
            log_level: LogLevel::Info,
            environment: Vec::new(),
        }
    }

    fn canary(&mut self, configuration: &[u8]) -> Result<(), StartError> {
        let logs_before = self.shared.lock().logs.len();
        let canary = self.instantiate(usize::MAX, configuration);
        let logs: Vec<LogEntry> = self.shared.lock().logs.drain(logs_before..).collect();
        match canary {
            Ok(_) => Ok(()),
            Err(StartError::ConfigurationRejected { .. }) => Err(StartError::ConfigurationRejected { logs }),
            Err(e) => Err(e),
        }
    }

    fn new_worker(&mut self, index: usize) -> Result<Worker, StartError> {
        let configuration = self.plugin_configuration.clone();
        let (worker, fuel) = self.instantiate(index, &configuration)?;
        if let Some(slot) = self.start_fuel.get_mut(index) {
            *slot = fuel;
        } else {
            self.start_fuel.push(fuel);
        }
        Ok(worker)
    }

    /// `_initialize` → root context → `on_vm_start` → `on_configure`, as proxy-wasm-cpp-host does.
    fn instantiate(
        &mut self,
        index: usize,
        configuration: &[u8],
    ) -> Result<(Worker, FuelReport), StartError> {
        let state = WorkerState::new(
            index,
            self.shared.clone(),
            self.vm_configuration.clone(),
            self.properties.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.data_mut().log_level = self.log_level;
        store.data_mut().environment = self.environment.clone();
        let _ = store.set_fuel(FUEL_PER_CALL);
        let instance = self
            .linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| StartError::Instantiate(e.to_string()))?;
        let mut worker = Worker {
            index,
            store,
            instance,
            root_context_id: 1,
            next_context_id: 2,
            failed: false,
        };
        let mut fuel = FuelReport::default();
        for init in ["_initialize", "_start"] {
            if worker.instance.get_func(&mut worker.store, init).is_some() {
                call::<(), ()>(&mut worker, init, (), Phase::Other, &mut fuel).map_err(StartError::Trap)?;
                break;
            }
        }
        let root = worker.root_context_id;
        let vm_size = self.vm_configuration.len() as i32;
        start_root(&mut worker, root, vm_size, configuration, &mut fuel)?;
        Ok((worker, fuel))
    }

    /// Delivers a new plugin configuration at run time, as Envoy does on an ECDS update: the canary
    /// checks it; if accepted, every worker gets a new root context configured with it (new streams use
    /// it) and the old root context is done and deleted. A refused configuration changes nothing.
    pub fn reconfigure(&mut self, configuration: impl AsRef<[u8]>) -> Result<(), StartError> {
        let configuration = configuration.as_ref().to_vec();
        self.canary(&configuration)?;
        for worker in &mut self.workers {
            let mut fuel = FuelReport::default();
            let old_root = worker.root_context_id;
            let new_root = worker.next_context_id;
            worker.next_context_id += 1;
            let vm_size = self.vm_configuration.len() as i32;
            worker.store.data_mut().root_context_id = new_root;
            start_root(worker, new_root, vm_size, &configuration, &mut fuel)?;
            worker.root_context_id = new_root;
            call::<i32, i32>(worker, "proxy_on_done", old_root as i32, Phase::Done, &mut fuel)
                .map_err(StartError::Trap)?;
            call::<i32, ()>(
                worker,
                "proxy_on_delete",
                old_root as i32,
                Phase::Other,
                &mut fuel,
            )
            .map_err(StartError::Trap)?;
        }
        self.plugin_configuration = configuration;
        Ok(())
    }

    /// Calls `proxy_on_tick` on every worker's root context.
    pub fn tick(&mut self) -> Result<(), Trap> {
        self.tick_with_fuel().map(drop)
    }

    /// Calls `proxy_on_tick` on every worker's root context; the cost of each worker's tick.
    pub fn tick_with_fuel(&mut self) -> Result<Vec<FuelReport>, Trap> {
        let mut reports = Vec::with_capacity(self.workers.len());
        for worker in &mut self.workers {
            let root = worker.root_context_id as i32;
            let mut fuel = FuelReport::default();
            call::<i32, ()>(worker, "proxy_on_tick", root, Phase::Other, &mut fuel)?;
            reports.push(fuel);
        }
        Ok(reports)
    }

    /// Scripts how the upstream of `cluster` answers HTTP callouts (`proxy_http_call`); callouts to a
    /// cluster without a script stay pending.
    pub fn upstream(&mut self, cluster: &str, upstream: Upstream) {
        self.upstreams.insert(cluster.to_string(), upstream);
    }

    /// Every callout dispatched and not yet answered, all workers, in dispatch order per worker.
    pub fn callouts(&self) -> Vec<Callout> {
        self.workers
            .iter()
            .flat_map(|w| w.store.data().callouts.iter().cloned())
            .collect()
    }

    /// Answers every HTTP callout whose scripted answer is due by its worker's clock, as Envoy does:
    /// `proxy_on_http_call_response(context, token, headers, body size, trailers)` on the context that
    /// dispatched it, with the response headers, body and trailers readable while it runs; a failure
    /// (connection failure, timeout) is delivered with no headers, body or trailers. A callout
    /// dispatched from a stream that has ended is dropped, never delivered. Returns how many were
    /// delivered.
    pub fn deliver_callouts(&mut self) -> Result<usize, Trap> {
        self.deliver_callouts_with_fuel().map(|costs| costs.len())
    }

    /// [`Host::deliver_callouts`], with the cost of each `proxy_on_http_call_response` delivered.
    pub fn deliver_callouts_with_fuel(&mut self) -> Result<Vec<FuelReport>, Trap> {
        let mut delivered = Vec::new();
        for worker in &mut self.workers {
            let now = worker.store.data().clock_nanos;
            let pending = std::mem::take(&mut worker.store.data_mut().callouts);
            let mut waiting = Vec::new();
            for callout in pending {
                let script = (callout.kind == "http")
                    .then(|| self.upstreams.get(&callout.upstream))
                    .flatten();
                let Some(script) = script else {
                    waiting.push(callout);
                    continue;
                };
                if callout.from_stream {
                    // The harness runs each stream to its end before returning: its context is gone.
                    continue;
                }
                let (at, response) = script.answer(&callout);
                if at > now {
                    waiting.push(callout);
                    continue;
                }
                let sizes = response.as_ref().map_or((0, 0, 0), |r| {
                    (
                        r.headers.len() as i32,
                        r.body.len() as i32,
                        r.trailers.len() as i32,
                    )
                });
                worker.store.data_mut().call_response = response;
                let mut fuel = FuelReport::default();
                let result = call::<(i32, i32, i32, i32, i32), ()>(
                    worker,
                    "proxy_on_http_call_response",
                    (
                        callout.context_id as i32,
                        callout.token as i32,
                        sizes.0,
                        sizes.1,
                        sizes.2,
                    ),
                    Phase::HttpCallResponse,
                    &mut fuel,
                );
                worker.store.data_mut().call_response = None;
                if let Err(trap) = result {
                    worker.store.data_mut().callouts.extend(waiting);
                    return Err(trap);
                }
                delivered.push(fuel);
            }
            // Callouts dispatched while answering others wait for the next delivery.
            let added = std::mem::take(&mut worker.store.data_mut().callouts);
            waiting.extend(added);
            worker.store.data_mut().callouts = waiting;
        }
        Ok(delivered)
    }

    /// Moves every worker's clock (`proxy_get_current_time_nanoseconds`) forward.
    pub fn advance_clock(&mut self, nanos: u64) {
        for worker in &mut self.workers {
            worker.store.data_mut().clock_nanos += nanos;
        }
    }

    /// Sets every worker's clock to `nanos` since the Unix epoch, forward or back: the wall clock Envoy
    /// reports may jump (an NTP step, a VM restored from a snapshot).
    pub fn set_clock(&mut self, nanos: u64) {
        for worker in &mut self.workers {
            worker.store.data_mut().clock_nanos = nanos;
        }
    }

    /// Worker 0's clock now, in nanoseconds since the Unix epoch.
    pub fn clock_nanos(&self) -> u64 {
        self.workers.first().map_or(0, |w| w.store.data().clock_nanos)
    }

    /// How far a worker's clock moves each time the module reads it (1 µs by default, so that latencies
    /// are never zero); 0 makes the clock stand still.
    pub fn set_clock_step(&mut self, nanos: u64) {
        for worker in &mut self.workers {
            worker.store.data_mut().clock_step_nanos = nanos;
        }
    }

    /// The tick period the module asked for on each worker (0: none).
    pub fn tick_periods_ms(&self) -> Vec<u32> {
        self.workers
            .iter()
            .map(|w| w.store.data().tick_period_ms)
            .collect()
    }

    /// A shared-data value (all workers see one store), without its CAS version.
    pub fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .shared_data
            .get(key)
            .map(|(value, _)| value.clone())
    }

    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// The next worker in turn (Envoy spreads connections over workers).
    pub(crate) fn pick_worker(&mut self, requested: Option<usize>) -> usize {
        let index = requested.unwrap_or(self.next_worker) % self.workers.len();
        self.next_worker = (index + 1) % self.workers.len();
        index
    }

    pub(crate) fn on_trap(&self) -> OnTrap {
        self.on_trap
    }

    /// Metric values by name (counters, gauges and histograms' last value), all workers together.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        self.shared
            .lock()
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.value))
            .collect()
    }

    /// Counter values by name; a counter never defined reads as absent.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.shared
            .lock()
            .metrics
            .iter()
            .filter(|m| m.kind == MetricKind::Counter)
            .map(|m| (m.name.clone(), m.value))
            .collect()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.counters().get(name).copied().unwrap_or(0)
    }

    /// Everything the module logged (canary included), in order.
    pub fn logs(&self) -> Vec<LogEntry> {
        self.shared.lock().logs.clone()
    }

    pub fn logs_at_least(&self, level: LogLevel) -> Vec<LogEntry> {
        self.logs().into_iter().filter(|l| l.level >= level).collect()
    }

    /// Size of each worker's linear memory, in bytes.
    pub fn memory_bytes(&mut self) -> Vec<usize> {
        self.workers
            .iter_mut()
            .map(|w| {
                w.instance
                    .get_memory(&mut w.store, "memory")
                    .map_or(0, |m| m.data_size(&w.store))
            })
            .collect()
    }

    /// Fuel of the start-up lifecycle of each worker (`_initialize`, `on_vm_start`, `on_configure`...).
    pub fn start_fuel(&self) -> &[FuelReport] {
        &self.start_fuel
    }

    pub(crate) fn worker_parts(&mut self, index: usize) -> WorkerParts<'_> {
        let worker = &mut self.workers[index];
        WorkerParts { worker }
    }

    /// Replaces a failed worker with a fresh VM (FAIL_RELOAD).
    pub(crate) fn reload_worker(&mut self, index: usize) -> Result<(), StartError> {
        let worker = self.new_worker(index)?;
        self.workers[index] = worker;
        Ok(())
    }
}

fn configure_root(
    worker: &mut Worker,
    root: u32,
    configuration: &[u8],
    fuel: &mut FuelReport,
) -> Result<(), StartError> {
    worker.store.data_mut().plugin_configuration = Some(configuration.to_vec());
    let configured = call::<(i32, i32), i32>(
        worker,
        "proxy_on_configure",
        (root as i32, configuration.len() as i32),
        Phase::Configure,
        fuel,
    );
    worker.store.data_mut().plugin_configuration = None;
    if configured.map_err(StartError::Trap)? == Some(0) {
        return Err(StartError::ConfigurationRejected { logs: Vec::new() });
    }
    Ok(())
}

/// Access to one worker for the stream driver in `request.rs`.
pub(crate) struct WorkerParts<'a> {
    worker: &'a mut Worker,
}

impl WorkerParts<'_> {
    pub fn failed(&self) -> bool {
        self.worker.failed
    }

    pub fn mark_failed(&mut self) {
        self.worker.failed = true;
    }

    pub fn root_context_id(&self) -> u32 {
        self.worker.root_context_id
    }

    pub fn next_context_id(&mut self) -> u32 {
        let id = self.worker.next_context_id;
        self.worker.next_context_id += 1;
        id
    }

    pub fn state(&mut self) -> &mut WorkerState {
        self.worker.store.data_mut()
    }

    pub fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        params: P,
        phase: Phase,
        fuel: &mut FuelReport,
    ) -> Result<Option<R>, Trap> {
        call(self.worker, name, params, phase, fuel)
    }

    pub fn action(
        &mut self,
        name: &str,
        params: (i32, i32, i32),
        phase: Phase,
        fuel: &mut FuelReport,
    ) -> Result<Action, Trap> {
        Ok(self
            .call::<(i32, i32, i32), i32>(name, params, phase, fuel)?
            .map_or(Action::Continue, Action::from_abi))
    }
}

/// Calls an export if the module has it (Envoy skips callbacks a module does not export), in `phase`,
/// measuring its fuel. A trap comes back with the panic message the module logged, if any.
fn call<P: WasmParams, R: WasmResults>(
    worker: &mut Worker,
    name: &str,
    params: P,
    phase: Phase,
    fuel: &mut FuelReport,
) -> Result<Option<R>, Trap> {
    let Ok(func) = worker.instance.get_typed_func::<P, R>(&mut worker.store, name) else {
        return Ok(None);
    };
    let previous = worker.store.data().phase;
    worker.store.data_mut().phase = phase;
    worker.store.data_mut().critical_since_call.clear();
    let _ = worker.store.set_fuel(FUEL_PER_CALL);
    let started = std::time::Instant::now();
    let result = func.call(&mut worker.store, params);
    let nanos = started.elapsed().as_nanos() as u64;
    let used = FUEL_PER_CALL - worker.store.get_fuel().unwrap_or(FUEL_PER_CALL);
    fuel.by_callback.push(CallbackCost {
        callback: name.to_string(),
        fuel: used,
        nanos,
    });
    worker.store.data_mut().phase = previous;
    let result = result.map(Some).map_err(|e| Trap {
        worker: worker.index,
        callback: name.to_string(),
        message: format!("{e:#}"),
        panic_message: worker.store.data().critical_since_call.last().cloned(),
    })?;
    if phase != Phase::QueueReady {
        deliver_queue_ready(worker, fuel)?;
    }
    Ok(result)
}

/// Envoy posts `on_queue_ready` to the queue owner's event loop: it runs after the callback that
/// enqueued, on the root context, before the stream's next event. Here: right after each callback,
/// with the stream set aside (its maps and bodies are not the root's), until no wake-up is left.
fn deliver_queue_ready(worker: &mut Worker, fuel: &mut FuelReport) -> Result<(), Trap> {
    loop {
        let live_root = worker.root_context_id;
        let ready: Vec<u32> = {
            let shared = worker.store.data().shared.clone();
            let mut shared = shared.lock();
            let index = worker.index;
            let (mine, others): (Vec<_>, Vec<_>) = shared
                .queue_ready
                .drain(..)
                .partition(|(owner, _, _)| *owner == index);
            shared.queue_ready = others;
            // A wake-up for a deleted root context is dropped, as proxy-wasm-cpp-host drops it.
            mine.into_iter()
                .filter(|(_, root, _)| *root == live_root)
                .map(|(_, _, id)| id)
                .collect()
        };
        if ready.is_empty() {
            return Ok(());
        }
        let root = worker.root_context_id as i32;
        let stream = worker.store.data_mut().stream.take();
        let mut delivered = Ok(None);
        for id in ready {
            delivered = call::<(i32, i32), ()>(
                worker,
                "proxy_on_queue_ready",
                (root, id as i32),
                Phase::QueueReady,
                fuel,
            );
            if delivered.is_err() {
                break;
            }
        }
        worker.store.data_mut().stream = stream;
        delivered?;
    }
}

/// The imports a module declares, as `module.name` (for coverage checks).
pub fn module_imports(wasm: &[u8]) -> Result<Vec<String>, String> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    Ok(module
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect())
}

/// The exports a module declares, by name.
pub fn module_exports(wasm: &[u8]) -> Result<Vec<String>, String> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    Ok(module.exports().map(|e| e.name().to_string()).collect())
}

/// A root context's start, as proxy-wasm-cpp-host does it: `proxy_on_context_create` →
/// `proxy_on_vm_start` (refusal is an error) → `proxy_on_configure`.
fn start_root(
    worker: &mut Worker,
    root: u32,
    vm_configuration_size: i32,
    configuration: &[u8],
    fuel: &mut FuelReport,
) -> Result<(), StartError> {
    call::<(i32, i32), ()>(
        worker,
        "proxy_on_context_create",
        (root as i32, 0),
        Phase::Other,
        fuel,
    )
    .map_err(StartError::Trap)?;
    let started = call::<(i32, i32), i32>(
        worker,
        "proxy_on_vm_start",
        (root as i32, vm_configuration_size),
        Phase::VmStart,
        fuel,
    )
    .map_err(StartError::Trap)?;
    if started == Some(0) {
        return Err(StartError::VmStartRejected);
    }
    configure_root(worker, root, configuration, fuel)
}
