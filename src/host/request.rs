//! The decision core's view of the request ([`RequestPort`]), read from Envoy's request headers.

use super::abi::{self, Map};
use super::random::SharedRng;
use crate::router::decision::RequestPort;
use crate::router::header_map;

pub struct HostRequest<'a> {
    pub rng: &'a SharedRng,
}

impl RequestPort for HostRequest<'_> {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        abi::header(Map::Request, name).ok().flatten()
    }

    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        abi::header_pairs(Map::Request)
            .map(|pairs| header_map::values_of(&pairs, name.as_bytes()))
            .unwrap_or_default()
    }

    fn random_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn now_unix_seconds(&mut self) -> u64 {
        // Without a clock, 0: every token then lies more than 31 days ahead and is refused.
        abi::current_time_nanos().map_or(0, |nanos| nanos / 1_000_000_000)
    }
}
