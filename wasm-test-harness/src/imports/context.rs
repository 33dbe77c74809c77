//! Logging, the clock, the tick, and the calls about the current context: log level, status, effective context, foreign functions.

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: i32, ptr: i32, len: i32| {
            note_hostcall(&mut c, "proxy_log");
            finish((|| {
                let level = LogLevel::from_abi(level).ok_or(Status::BadArgument)?;
                let message = String::from_utf8_lossy(&read(&mut c, ptr, len)?).into_owned();
                c.data_mut().log(level, message);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: C<'_>, ret: i32| {
        note_hostcall(&mut c, "proxy_get_log_level");
        let level = c.data().log_level as u32;
        finish(write_u32(&mut c, ret, level))
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, ret: i32| {
            note_hostcall(&mut c, "proxy_get_current_time_nanoseconds");
            let now = c.data().clock_nanos;
            c.data_mut().clock_nanos += c.data().clock_step_nanos;
            finish(write(&mut c, ret, &now.to_le_bytes()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, period: i32| {
            note_hostcall(&mut c, "proxy_set_tick_period_milliseconds");
            c.data_mut().tick_period_ms = period as u32;
            finish(Ok(()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, code_ptr: i32, _msg_ptr_ptr: i32, _msg_size_ptr: i32| {
            note_hostcall(&mut c, "proxy_get_status");
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
            note_hostcall(&mut c, "proxy_set_effective_context");
            c.data_mut().effective_context = context as u32;
            finish(Ok(()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: C<'_>, n_ptr: i32, n_len: i32, _a_ptr: i32, _a_len: i32, ptr_ptr: i32, size_ptr: i32| {
            note_hostcall(&mut c, "proxy_call_foreign_function");
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
    linker.func_wrap("env", "proxy_done", |mut c: C<'_>| {
        note_hostcall(&mut c, "proxy_done");
        finish(if c.data().phase == Phase::Done {
            Ok(())
        } else {
            Err(Status::NotFound.into())
        })
    })?;
    Ok(())
}
