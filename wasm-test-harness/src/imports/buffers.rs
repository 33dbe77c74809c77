//! Buffers: bodies, configurations, call data.

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, buffer: i32, start: i32, max: i32, ptr_ptr: i32, size_ptr: i32| {
            note_hostcall(&mut c, "proxy_get_buffer_bytes");
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
            note_hostcall(&mut c, "proxy_set_buffer_bytes");
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
    Ok(())
}
