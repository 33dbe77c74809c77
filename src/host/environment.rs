//! The VM's environment variables, through WASI's `environ_sizes_get` and `environ_get`.
//!
//! Envoy fills them from `vm_config.environment_variables` (on Istio, the WasmPlugin's `vmConfig.env`)
//! and provides both calls to any module that imports them. Read only when a configuration has
//! `signing`, once per configuration: never on the request path.

use crate::router::signing::Environment;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn environ_sizes_get(count: *mut usize, buffer_size: *mut usize) -> u32;
    fn environ_get(entries: *mut *mut u8, buffer: *mut u8) -> u32;
}

/// WASI's `errno` for success.
const ERRNO_SUCCESS: u32 = 0;
/// A larger environment is refused rather than allocated (the keys need a few hundred bytes).
const MAX_ENVIRONMENT_BYTES: usize = 1 << 20;

/// The environment of this VM, read on each lookup.
pub struct VmEnvironment;

impl Environment for VmEnvironment {
    fn var(&self, name: &str) -> Option<Vec<u8>> {
        let buffer = read_all()?;
        // Entries are `NAME=value\0`, one after another; the first with this name wins.
        buffer.split(|b| *b == 0).find_map(|entry| {
            let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
            Some(value.to_vec())
        })
    }
}

/// Every `NAME=value\0` entry in one buffer, or `None` when the host refuses or sends nonsense.
fn read_all() -> Option<Vec<u8>> {
    let (mut count, mut size) = (0usize, 0usize);
    if unsafe { environ_sizes_get(&mut count, &mut size) } != ERRNO_SUCCESS {
        return None;
    }
    if size > MAX_ENVIRONMENT_BYTES || count > size {
        return None;
    }
    let mut buffer = vec![0u8; size];
    // The host writes one pointer per entry (into `buffer`); we only need the buffer itself.
    let mut entries: Vec<*mut u8> = vec![std::ptr::null_mut(); count];
    if unsafe { environ_get(entries.as_mut_ptr(), buffer.as_mut_ptr()) } != ERRNO_SUCCESS {
        return None;
    }
    Some(buffer)
}
