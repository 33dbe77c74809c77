//! Metrics: counters, gauges, histograms, shared by all workers.

use super::*;

pub(super) fn add(linker: &mut Linker<WorkerState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, name_ptr: i32, name_len: i32, ret: i32| {
            note_hostcall(&mut c, "proxy_define_metric");
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
        note_hostcall(&mut c, "proxy_get_metric");
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
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut c: C<'_>, id: i32, value: i64| {
            note_hostcall(&mut c, "proxy_record_metric");
            let shared = c.data().shared.clone();
            let mut shared = shared.lock();
            finish(match shared.metrics.get_mut(id as u32 as usize) {
                Some(m) => {
                    m.value = value as u64;
                    Ok(())
                }
                None => Err(Status::NotFound.into()),
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: C<'_>, id: i32, offset: i64| {
            note_hostcall(&mut c, "proxy_increment_metric");
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
