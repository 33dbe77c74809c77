//! The host side of the proxy-wasm ABI: every `env` import the Rust SDK 0.2.5 can declare, with Envoy's
//! behaviour (see README.md for the source of each rule).

use wasmtime::{Caller, Extern, Linker, Memory};

use crate::abi::{BufferType, LogLevel, MapType, Status};
use crate::headers::HeaderMap;
use crate::state::{Callout, LocalResponse, MapUnavailable, Metric, MetricKind, Phase, WorkerState};

/// Status codes beyond the SDK's enum (proxy-wasm-cpp-host `WasmResult`).
const INVALID_MEMORY_ACCESS: i32 = 6;

/// Foreign functions the host offers. Envoy's `clear_route_cache` makes it re-select the route.
pub const FOREIGN_FUNCTIONS: [&str; 1] = ["clear_route_cache"];

enum Fail {
    Status(i32),
    Trap(wasmtime::Error),
}

impl From<Status> for Fail {
    fn from(s: Status) -> Fail {
        Fail::Status(s as i32)
    }
}

impl From<MapUnavailable> for Fail {
    fn from(m: MapUnavailable) -> Fail {
        match m {
            MapUnavailable::BadArgument => Status::BadArgument.into(),
            MapUnavailable::NotFound => Status::NotFound.into(),
        }
    }
}

type Outcome = Result<(), Fail>;
type C<'a> = Caller<'a, WorkerState>;

fn finish(outcome: Outcome) -> wasmtime::Result<i32> {
    match outcome {
        Ok(()) => Ok(Status::Ok as i32),
        Err(Fail::Status(s)) => Ok(s),
        Err(Fail::Trap(e)) => Err(e),
    }
}

fn memory(caller: &mut C<'_>) -> Result<Memory, Fail> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Fail::Trap(wasmtime::Error::msg("the module exports no memory"))),
    }
}

fn read(caller: &mut C<'_>, ptr: i32, len: i32) -> Result<Vec<u8>, Fail> {
    let memory = memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    memory
        .data(&*caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or(Fail::Status(INVALID_MEMORY_ACCESS))
}

fn read_str(caller: &mut C<'_>, ptr: i32, len: i32) -> Result<String, Fail> {
    String::from_utf8(read(caller, ptr, len)?).map_err(|_| Status::BadArgument.into())
}

fn write(caller: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Outcome {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    let target = memory
        .data_mut(&mut *caller)
        .get_mut(start..start.saturating_add(bytes.len()));
    target
        .ok_or(Fail::Status(INVALID_MEMORY_ACCESS))?
        .copy_from_slice(bytes);
    Ok(())
}

fn write_u32(caller: &mut C<'_>, ptr: i32, value: u32) -> Outcome {
    write(caller, ptr, &value.to_le_bytes())
}

/// Hands bytes to the module: memory from its allocator (`malloc`, else `proxy_on_memory_allocate`),
/// then pointer and size written at `ptr_ptr`/`size_ptr`. Empty data is pointer 0 and size 0, with no
/// allocation (proxy-wasm-cpp-host `copyToPointerSize`).
fn give(caller: &mut C<'_>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> Outcome {
    if bytes.is_empty() {
        write_u32(caller, ptr_ptr, 0)?;
        return write_u32(caller, size_ptr, 0);
    }
    let allocator = ["malloc", "proxy_on_memory_allocate"]
        .iter()
        .find_map(|name| caller.get_export(name).and_then(Extern::into_func))
        .ok_or_else(|| Fail::Trap(wasmtime::Error::msg("the module exports no malloc")))?;
    let allocate = allocator.typed::<i32, i32>(&*caller).map_err(Fail::Trap)?;
    if let Some(stream) = caller.data_mut().stream.as_mut() {
        stream.allocator_entries += 1;
    }
    let ptr = allocate
        .call(&mut *caller, bytes.len() as i32)
        .map_err(Fail::Trap)?;
    if ptr == 0 {
        return Err(Status::InternalFailure.into());
    }
    write(caller, ptr, bytes)?;
    write_u32(caller, ptr_ptr, ptr as u32)?;
    write_u32(caller, size_ptr, bytes.len() as u32)
}

/// Records a hostcall of the current stream (by import name), for per-request budgets.
fn note_hostcall(caller: &mut C<'_>, name: &'static str) {
    if let Some(stream) = caller.data_mut().stream.as_mut() {
        stream.hostcalls.push(name);
    }
}

fn map_type(value: i32) -> Result<MapType, Fail> {
    MapType::from_abi(value).ok_or(Status::BadArgument.into())
}

mod buffers;
mod callouts;
mod context;
mod header_maps;
mod metrics;
mod properties;
mod shared;
mod wasi;

pub use wasi::{WASI_IMPORTS, WASI_MODULE};

/// Every import, group by group.
pub fn add_to_linker(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    context::add(linker)?;
    buffers::add(linker)?;
    header_maps::add(linker)?;
    properties::add(linker)?;
    shared::add(linker)?;
    callouts::add(linker)?;
    metrics::add(linker)?;
    wasi::add(linker)?;
    Ok(())
}
