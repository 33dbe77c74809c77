//! The two WASI calls Envoy offers a proxy-wasm module for its environment (`wasi_snapshot_preview1`):
//! `environ_sizes_get` and `environ_get`, over the variables set with [`crate::HostBuilder::env`]
//! (Envoy's `vm_config.environment_variables`). Entries are `NAME=value\0`, in the order given.

use super::*;

pub const WASI_MODULE: &str = "wasi_snapshot_preview1";
/// The WASI imports this host provides.
pub const WASI_IMPORTS: [&str; 2] = ["environ_sizes_get", "environ_get"];

/// WASI `errno` values.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;

fn errno(outcome: Outcome) -> wasmtime::Result<i32> {
    match outcome {
        Ok(()) => Ok(ERRNO_SUCCESS),
        Err(Fail::Status(_)) => Ok(ERRNO_FAULT),
        Err(Fail::Trap(e)) => Err(e),
    }
}

fn entries(state: &WorkerState) -> Vec<Vec<u8>> {
    state
        .environment
        .iter()
        .map(|(name, value)| {
            let mut entry = format!("{name}={value}").into_bytes();
            entry.push(0);
            entry
        })
        .collect()
}

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI_MODULE,
        "environ_sizes_get",
        |mut c: C<'_>, count_ptr: i32, size_ptr: i32| {
            note_hostcall(&mut c, "environ_sizes_get");
            let entries = entries(c.data());
            let size: usize = entries.iter().map(Vec::len).sum();
            errno((|| {
                write_u32(&mut c, count_ptr, entries.len() as u32)?;
                write_u32(&mut c, size_ptr, size as u32)
            })())
        },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "environ_get",
        |mut c: C<'_>, pointers_ptr: i32, buffer_ptr: i32| {
            note_hostcall(&mut c, "environ_get");
            let entries = entries(c.data());
            errno((|| {
                let mut offset = 0u32;
                for (i, entry) in entries.iter().enumerate() {
                    let at = (buffer_ptr as u32).wrapping_add(offset);
                    write_u32(&mut c, pointers_ptr.wrapping_add(4 * i as i32), at)?;
                    write(&mut c, at as i32, entry)?;
                    offset += entry.len() as u32;
                }
                Ok(())
            })())
        },
    )?;
    Ok(())
}
