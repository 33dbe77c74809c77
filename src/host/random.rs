//! The VM's random number generator for random assignments.
//!
//! xorshift, seeded on first use from the host clock mixed with the hash of that request's
//! `x-request-id` (a UUID Envoy generates), so two workers started in the same nanosecond still draw
//! different sequences. No `getrandom` and no `SystemTime`: neither exists on wasm32-unknown-unknown.

use std::cell::RefCell;
use std::rc::Rc;

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

use super::abi::{self, Map};
use crate::router::bucketing::murmur3_32;

#[derive(Clone, Default)]
pub struct SharedRng(Rc<RefCell<Option<XorShiftRng>>>);

impl SharedRng {
    pub fn next_u32(&self) -> u32 {
        match self.0.try_borrow_mut() {
            Ok(mut rng) => rng
                .get_or_insert_with(|| XorShiftRng::seed_from_u64(fresh_seed()))
                .next_u32(),
            // Unreachable (single-threaded, no re-entry), but a fresh seed is still a fine random number.
            Err(_) => fresh_seed() as u32,
        }
    }
}

fn fresh_seed() -> u64 {
    let nanos = abi::current_time_nanos().unwrap_or(0);
    let request_id = abi::header(Map::Request, "x-request-id")
        .ok()
        .flatten()
        .unwrap_or_default();
    let id_hash = u64::from(murmur3_32(&request_id));
    nanos ^ (id_hash << 32) ^ id_hash.rotate_left(17)
}
