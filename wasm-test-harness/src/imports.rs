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

fn map_type(value: i32) -> Result<MapType, Fail> {
    MapType::from_abi(value).ok_or(Status::BadArgument.into())
}

pub fn add_to_linker(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: i32, ptr: i32, len: i32| {
            finish((|| {
                let level = LogLevel::from_abi(level).ok_or(Status::BadArgument)?;
                let message = String::from_utf8_lossy(&read(&mut c, ptr, len)?).into_owned();
                c.data_mut().log(level, message);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: C<'_>, ret: i32| {
        let level = c.data().log_level as u32;
        finish(write_u32(&mut c, ret, level))
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, ret: i32| {
            let now = c.data().clock_nanos;
            c.data_mut().clock_nanos += c.data().clock_step_nanos;
            finish(write(&mut c, ret, &now.to_le_bytes()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, period: i32| {
            c.data_mut().tick_period_ms = period as u32;
            finish(Ok(()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, buffer: i32, start: i32, max: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                let buffer = BufferType::from_abi(buffer).ok_or(Status::BadArgument)?;
                let data = c.data().buffer(buffer).ok_or(Status::NotFound)?;
                let (start, max) = (start as u32 as usize, max as u32 as usize);
                if start > data.len() {
                    return Err(Status::BadArgument.into());
                }
                let slice = data[start..].get(..max).unwrap_or(&data[start..]).to_vec();
                give(&mut c, &slice, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, buffer: i32, start: i32, size: i32, ptr: i32, len: i32| {
            finish((|| {
                let buffer = BufferType::from_abi(buffer).ok_or(Status::BadArgument)?;
                let bytes = read(&mut c, ptr, len)?;
                let data = c.data_mut().buffer_mut(buffer).ok_or(Status::NotFound)?;
                let start = (start as u32 as usize).min(data.len());
                let end = start.saturating_add(size as u32 as usize).min(data.len());
                data.splice(start..end, bytes);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, map: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                let serialized = c.data().map(map_type(map)?, false)?.serialize();
                give(&mut c, &serialized, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C<'_>, map: i32, ptr: i32, len: i32| {
            finish((|| {
                let pairs = HeaderMap::deserialize(&read(&mut c, ptr, len)?).ok_or(Status::BadArgument)?;
                *c.data_mut().map_mut(map_type(map)?)? = pairs;
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, map: i32, key_ptr: i32, key_len: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let value = c
                    .data()
                    .map(map_type(map)?, false)?
                    .get(&key)
                    .map(<[u8]>::to_vec)
                    .ok_or(Status::NotFound)?;
                give(&mut c, &value, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C<'_>, map: i32, key_ptr: i32, key_len: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                c.data_mut().map_mut(map_type(map)?)?.remove(&key);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C<'_>, map: i32, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let value = read(&mut c, value_ptr, value_len)?;
                c.data_mut().map_mut(map_type(map)?)?.replace(&key, &value);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C<'_>, map: i32, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let value = read(&mut c, value_ptr, value_len)?;
                c.data_mut().map_mut(map_type(map)?)?.add(&key, &value);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, path_ptr: i32, path_len: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                // The path is NUL-separated segments; properties are stored under the segments joined by '.'.
                let path = read(&mut c, path_ptr, path_len)?;
                let key = path
                    .split(|b| *b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(".");
                let value = c.data().properties.get(&key).cloned().ok_or(Status::NotFound)?;
                give(&mut c, &value, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, path_ptr: i32, path_len: i32, value_ptr: i32, value_len: i32| {
            finish((|| {
                let path = read(&mut c, path_ptr, path_len)?;
                let key = path
                    .split(|b| *b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(".");
                let value = read(&mut c, value_ptr, value_len)?;
                c.data_mut().properties.insert(key, value);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, key_ptr: i32, key_len: i32, ptr_ptr: i32, size_ptr: i32, cas_ptr: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let entry = c.data().shared.lock().shared_data.get(&key).cloned();
                let (value, cas) = entry.ok_or(Status::NotFound)?;
                give(&mut c, &value, ptr_ptr, size_ptr)?;
                write_u32(&mut c, cas_ptr, cas)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32, cas: i32| {
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let value = read(&mut c, value_ptr, value_len)?;
                let shared = c.data().shared.clone();
                let mut shared = shared.lock();
                // cas 0 writes unconditionally; otherwise it must match the current version.
                let current = shared.shared_data.get(&key).map(|(_, cas)| *cas);
                if cas != 0 && current.is_some_and(|now| now != cas as u32) {
                    return Err(Status::CasMismatch.into());
                }
                shared.next_cas = shared.next_cas.wrapping_add(1).max(1);
                let next = shared.next_cas;
                shared.shared_data.insert(key, (value, next));
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: C<'_>, name_ptr: i32, name_len: i32, ret: i32| {
            finish((|| {
                let name = read_str(&mut c, name_ptr, name_len)?;
                let id = {
                    let shared = c.data().shared.clone();
                    let mut shared = shared.lock();
                    let next = shared.queue_ids.len() as u32 + 1;
                    let id = *shared.queue_ids.entry((String::new(), name)).or_insert(next);
                    shared.queues.entry(id).or_default();
                    id
                };
                write_u32(&mut c, ret, id)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, vm_ptr: i32, vm_len: i32, name_ptr: i32, name_len: i32, ret: i32| {
            finish((|| {
                let _vm_id = read_str(&mut c, vm_ptr, vm_len)?; // one VM id in the harness
                let name = read_str(&mut c, name_ptr, name_len)?;
                let id = c
                    .data()
                    .shared
                    .lock()
                    .queue_ids
                    .get(&(String::new(), name))
                    .copied()
                    .ok_or(Status::NotFound)?;
                write_u32(&mut c, ret, id)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                let message = {
                    let shared = c.data().shared.clone();
                    let mut shared = shared.lock();
                    let queue = shared.queues.get_mut(&(id as u32)).ok_or(Status::NotFound)?;
                    queue.pop_front().ok_or(Status::Empty)?
                };
                give(&mut c, &message, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: C<'_>, id: i32, ptr: i32, len: i32| {
            finish((|| {
                let message = read(&mut c, ptr, len)?;
                let shared = c.data().shared.clone();
                let mut shared = shared.lock();
                shared
                    .queues
                    .get_mut(&(id as u32))
                    .ok_or(Status::NotFound)?
                    .push_back(message);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap("env", "proxy_continue_stream", |mut c: C<'_>, stream: i32| {
        finish((|| {
            c.data_mut()
                .stream
                .as_mut()
                .ok_or(Status::NotFound)?
                .continued
                .push(stream);
            Ok(())
        })())
    })?;
    linker.func_wrap("env", "proxy_close_stream", |mut c: C<'_>, stream: i32| {
        finish((|| {
            c.data_mut()
                .stream
                .as_mut()
                .ok_or(Status::NotFound)?
                .closed
                .push(stream);
            Ok(())
        })())
    })?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>,
         status: i32,
         d_ptr: i32,
         d_len: i32,
         b_ptr: i32,
         b_len: i32,
         h_ptr: i32,
         h_len: i32,
         grpc: i32| {
            finish((|| {
                let details = String::from_utf8_lossy(&read(&mut c, d_ptr, d_len)?).into_owned();
                let body = read(&mut c, b_ptr, b_len)?;
                let headers =
                    HeaderMap::deserialize(&read(&mut c, h_ptr, h_len)?).ok_or(Status::BadArgument)?;
                let stream = c.data_mut().stream.as_mut().ok_or(Status::NotFound)?;
                stream.local_response = Some(LocalResponse {
                    status: status as u32,
                    details,
                    body,
                    headers,
                    grpc_status: grpc,
                });
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         u_ptr: i32,
         u_len: i32,
         h_ptr: i32,
         h_len: i32,
         b_ptr: i32,
         b_len: i32,
         _t_ptr: i32,
         _t_len: i32,
         timeout: i32,
         ret: i32| {
            finish((|| {
                let upstream = read_str(&mut c, u_ptr, u_len)?;
                let headers =
                    HeaderMap::deserialize(&read(&mut c, h_ptr, h_len)?).ok_or(Status::BadArgument)?;
                let body = read(&mut c, b_ptr, b_len)?;
                record_callout(&mut c, "http", upstream, headers, body, timeout as u32, ret)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: C<'_>,
         u_ptr: i32,
         u_len: i32,
         s_ptr: i32,
         s_len: i32,
         m_ptr: i32,
         m_len: i32,
         _md_ptr: i32,
         _md_len: i32,
         msg_ptr: i32,
         msg_len: i32,
         timeout: i32,
         ret: i32| {
            finish((|| {
                let (upstream, headers) =
                    grpc_target(&mut c, (u_ptr, u_len), (s_ptr, s_len), (m_ptr, m_len))?;
                let body = read(&mut c, msg_ptr, msg_len)?;
                record_callout(&mut c, "grpc", upstream, headers, body, timeout as u32, ret)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: C<'_>,
         u_ptr: i32,
         u_len: i32,
         s_ptr: i32,
         s_len: i32,
         m_ptr: i32,
         m_len: i32,
         _md_ptr: i32,
         _md_len: i32,
         ret: i32| {
            finish((|| {
                let (upstream, headers) =
                    grpc_target(&mut c, (u_ptr, u_len), (s_ptr, s_len), (m_ptr, m_len))?;
                record_callout(&mut c, "grpc_stream", upstream, headers, Vec::new(), 0, ret)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut c: C<'_>, token: i32, ptr: i32, len: i32, _end: i32| {
            finish((|| {
                let message = read(&mut c, ptr, len)?;
                let callout = c
                    .data_mut()
                    .callouts
                    .iter_mut()
                    .find(|k| k.token == token as u32)
                    .ok_or(Status::NotFound)?;
                callout.body.extend_from_slice(&message);
                Ok(())
            })())
        },
    )?;
    for name in ["proxy_grpc_cancel", "proxy_grpc_close"] {
        linker.func_wrap("env", name, |c: C<'_>, token: i32| {
            finish(if c.data().callouts.iter().any(|k| k.token == token as u32) {
                Ok(())
            } else {
                Err(Status::NotFound.into())
            })
        })?;
    }
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, code_ptr: i32, _msg_ptr_ptr: i32, _msg_size_ptr: i32| {
            // No callout ever completes in the harness, so there is no status to report.
            let _ = &mut c;
            let _ = code_ptr;
            finish(Err(Status::NotFound.into()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: C<'_>, context: i32| {
            c.data_mut().effective_context = context as u32;
            finish(Ok(()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: C<'_>, n_ptr: i32, n_len: i32, _a_ptr: i32, _a_len: i32, ptr_ptr: i32, size_ptr: i32| {
            finish((|| {
                let name = read_str(&mut c, n_ptr, n_len)?;
                if !FOREIGN_FUNCTIONS.contains(&name.as_str()) {
                    return Err(Status::NotFound.into());
                }
                if let Some(stream) = c.data_mut().stream.as_mut() {
                    stream.foreign_calls.push(name);
                }
                give(&mut c, &[], ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap("env", "proxy_done", |c: C<'_>| {
        finish(if c.data().phase == Phase::Done {
            Ok(())
        } else {
            Err(Status::NotFound.into())
        })
    })?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, name_ptr: i32, name_len: i32, ret: i32| {
            finish((|| {
                let kind = match kind {
                    0 => MetricKind::Counter,
                    1 => MetricKind::Gauge,
                    2 => MetricKind::Histogram,
                    _ => return Err(Status::BadArgument.into()),
                };
                let name = read_str(&mut c, name_ptr, name_len)?;
                let id = {
                    let shared = c.data().shared.clone();
                    let mut shared = shared.lock();
                    match shared.metric_ids.get(&name) {
                        Some(id) => *id,
                        None => {
                            let id = shared.metrics.len() as u32;
                            shared.metrics.push(Metric {
                                name: name.clone(),
                                kind,
                                value: 0,
                            });
                            shared.metric_ids.insert(name, id);
                            id
                        }
                    }
                };
                write_u32(&mut c, ret, id)
            })())
        },
    )?;
    linker.func_wrap("env", "proxy_get_metric", |mut c: C<'_>, id: i32, ret: i32| {
        finish((|| {
            let value = c
                .data()
                .shared
                .lock()
                .metrics
                .get(id as u32 as usize)
                .map(|m| m.value)
                .ok_or(Status::NotFound)?;
            write(&mut c, ret, &value.to_le_bytes())
        })())
    })?;
    linker.func_wrap("env", "proxy_record_metric", |c: C<'_>, id: i32, value: i64| {
        let shared = c.data().shared.clone();
        let mut shared = shared.lock();
        finish(match shared.metrics.get_mut(id as u32 as usize) {
            Some(m) => {
                m.value = value as u64;
                Ok(())
            }
            None => Err(Status::NotFound.into()),
        })
    })?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |c: C<'_>, id: i32, offset: i64| {
            let shared = c.data().shared.clone();
            let mut shared = shared.lock();
            finish(match shared.metrics.get_mut(id as u32 as usize) {
                Some(m) if m.kind == MetricKind::Histogram => Err(Status::BadArgument.into()),
                Some(m) => {
                    m.value = m.value.wrapping_add_signed(offset);
                    Ok(())
                }
                None => Err(Status::NotFound.into()),
            })
        },
    )?;
    Ok(())
}

/// The upstream of a gRPC callout, and its `:path` (`/<service>/<method>`).
fn grpc_target(
    c: &mut C<'_>,
    upstream: (i32, i32),
    service: (i32, i32),
    method: (i32, i32),
) -> Result<(String, HeaderMap), Fail> {
    let upstream = read_str(c, upstream.0, upstream.1)?;
    let service = read_str(c, service.0, service.1)?;
    let method = read_str(c, method.0, method.1)?;
    Ok((
        upstream,
        HeaderMap::from_pairs([(":path", format!("/{service}/{method}"))]),
    ))
}

fn record_callout(
    c: &mut C<'_>,
    kind: &'static str,
    upstream: String,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout_ms: u32,
    ret: i32,
) -> Outcome {
    let token = c.data().next_token;
    c.data_mut().next_token += 1;
    c.data_mut().callouts.push(Callout {
        token,
        kind,
        upstream,
        headers,
        body,
        timeout_ms,
    });
    write_u32(c, ret, token)
}
