//! The decision core's view of the request ([`RequestPort`]), read from Envoy's request headers.
//!
//! One hostcall for all of them: the first read fetches the whole header map
//! (`proxy_get_header_map_pairs`), and every later read of this request is answered from that copy.
//! A request of the random path reads four headers (`:path`, the override, `cookie`, the user id):
//! separate reads cost four hostcalls and three entries into the module's allocator, each about a
//! microsecond in V8 (BENCHMARKS.md), against one copy of a few hundred bytes.

use super::abi::{self, Map};
use super::random::SharedRng;
use crate::router::decision::RequestPort;
use crate::router::header_map;

pub struct HostRequest<'a> {
    pub rng: &'a SharedRng,
    /// The serialized request header map, fetched on the first read.
    headers: Option<Vec<u8>>,
}

impl<'a> HostRequest<'a> {
    pub fn new(rng: &'a SharedRng) -> Self {
        HostRequest { rng, headers: None }
    }

    fn headers(&mut self) -> &[u8] {
        self.headers
            .get_or_insert_with(|| abi::header_pairs(Map::Request).unwrap_or_default())
    }
}

impl RequestPort for HostRequest<'_> {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        header_map::first_of(self.headers(), name.as_bytes())
    }

    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        header_map::values_of(self.headers(), name.as_bytes())
    }

    fn random_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn now_unix_seconds(&mut self) -> u64 {
        // Without a clock, 0: every token then lies more than 31 days ahead and is refused.
        abi::current_time_nanos().map_or(0, |nanos| nanos / 1_000_000_000)
    }
}
