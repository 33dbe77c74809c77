//! Local responses and callouts (HTTP and gRPC): recorded; HTTP calls are answered by the scripted
//! upstreams of `Host::upstream` (`Host::deliver_callouts`).

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_continue_stream", |mut c: C<'_>, stream: i32| {
        note_hostcall(&mut c, "proxy_continue_stream");
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
        note_hostcall(&mut c, "proxy_close_stream");
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
            note_hostcall(&mut c, "proxy_send_local_response");
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
            note_hostcall(&mut c, "proxy_http_call");
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
            note_hostcall(&mut c, "proxy_grpc_call");
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
            note_hostcall(&mut c, "proxy_grpc_stream");
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
            note_hostcall(&mut c, "proxy_grpc_send");
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
        linker.func_wrap("env", name, move |mut c: C<'_>, token: i32| {
            note_hostcall(&mut c, name);
            finish(if c.data().callouts.iter().any(|k| k.token == token as u32) {
                Ok(())
            } else {
                Err(Status::NotFound.into())
            })
        })?;
    }
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
    let state = c.data();
    let (context_id, from_stream) = match &state.stream {
        Some(stream) => (stream.context_id, true),
        None => (state.root_context_id, false),
    };
    let callout = Callout {
        worker: state.worker,
        token,
        kind,
        upstream,
        headers,
        body,
        timeout_ms,
        context_id,
        from_stream,
        dispatched_nanos: state.clock_nanos,
    };
    c.data_mut().callouts.push(callout);
    write_u32(c, ret, token)
}
