//! Properties (`proxy_get_property`, `proxy_set_property`).

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, path_ptr: i32, path_len: i32, ptr_ptr: i32, size_ptr: i32| {
            note_hostcall(&mut c, "proxy_get_property");
            finish((|| {
                let key = property_key(&read(&mut c, path_ptr, path_len)?);
                let value = c.data().properties.get(&key).cloned().ok_or(Status::NotFound)?;
                give(&mut c, &value, ptr_ptr, size_ptr)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, path_ptr: i32, path_len: i32, value_ptr: i32, value_len: i32| {
            note_hostcall(&mut c, "proxy_set_property");
            finish((|| {
                let key = property_key(&read(&mut c, path_ptr, path_len)?);
                let value = read(&mut c, value_ptr, value_len)?;
                c.data_mut().properties.insert(key, value);
                Ok(())
            })())
        },
    )?;
    Ok(())
}

/// A property path is NUL-separated segments; properties are stored under the segments joined by '.'.
fn property_key(path: &[u8]) -> String {
    path.split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}
