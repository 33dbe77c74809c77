//! Header maps: read, replace, add, remove, as Envoy allows them in each phase.

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, map: i32, ptr_ptr: i32, size_ptr: i32| {
            note_hostcall(&mut c, "proxy_get_header_map_pairs");
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
            note_hostcall(&mut c, "proxy_set_header_map_pairs");
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
            note_hostcall(&mut c, "proxy_get_header_map_value");
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
            note_hostcall(&mut c, "proxy_remove_header_map_value");
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
            note_hostcall(&mut c, "proxy_replace_header_map_value");
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
            note_hostcall(&mut c, "proxy_add_header_map_value");
            finish((|| {
                let key = read_str(&mut c, key_ptr, key_len)?;
                let value = read(&mut c, value_ptr, value_len)?;
                c.data_mut().map_mut(map_type(map)?)?.add(&key, &value);
                Ok(())
            })())
        },
    )?;
    Ok(())
}
