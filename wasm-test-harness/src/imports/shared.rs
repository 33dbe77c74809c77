//! Shared data (compare-and-swap) and shared queues: one store for every worker, as in Envoy.

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, key_ptr: i32, key_len: i32, ptr_ptr: i32, size_ptr: i32, cas_ptr: i32| {
            note_hostcall(&mut c, "proxy_get_shared_data");
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
            note_hostcall(&mut c, "proxy_set_shared_data");
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
            note_hostcall(&mut c, "proxy_register_shared_queue");
            finish((|| {
                let name = read_str(&mut c, name_ptr, name_len)?;
                let owner = (c.data().worker, c.data().root_context_id);
                let id = {
                    let shared = c.data().shared.clone();
                    let mut shared = shared.lock();
                    let next = shared.queue_ids.len() as u32 + 1;
                    let id = *shared.queue_ids.entry((String::new(), name)).or_insert(next);
                    shared.queues.entry(id).or_default();
                    // As proxy-wasm-cpp-host: the first registrant of a name keeps its wake-ups.
                    shared.queue_owners.entry(id).or_insert(owner);
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
            note_hostcall(&mut c, "proxy_resolve_shared_queue");
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
            note_hostcall(&mut c, "proxy_dequeue_shared_queue");
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
            note_hostcall(&mut c, "proxy_enqueue_shared_queue");
            finish((|| {
                let message = read(&mut c, ptr, len)?;
                let shared = c.data().shared.clone();
                let mut shared = shared.lock();
                shared
                    .queues
                    .get_mut(&(id as u32))
                    .ok_or(Status::NotFound)?
                    .push_back(message);
                if let Some((worker, root)) = shared.queue_owners.get(&(id as u32)).copied() {
                    shared.queue_ready.push((worker, root, id as u32));
                }
                Ok(())
            })())
        },
    )?;
    Ok(())
}
