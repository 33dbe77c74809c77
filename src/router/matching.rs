//! Which experiment a request belongs to: hosts (exact, `*`, `*.suffix`) and path prefix.
//!
//! Experiments are indexed by host so that the cost per request does not grow with the number of
//! experiments on other hosts: an exact-host map, a suffix map for `*.suffix`, and a list for `*`.
//! The first experiment in configuration order that fits wins, as if the list were scanned.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::router::config::{Experiment, HostPattern};
use crate::router::ids::ExperimentId;

/// FNV-1a: a few instructions per byte for short host names. The keys come from the configuration,
/// so a hash-flooding attack on insertion is not possible; lookups cannot grow the map.
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type HostMap = HashMap<Box<[u8]>, Vec<ExperimentId>, BuildHasherDefault<Fnv1a>>;

/// Host names longer than this are lowercased on the heap (DNS names have at most 253 characters).
const STACK_HOST: usize = 256;

#[derive(Debug, Default)]
pub struct ExperimentIndex {
    /// Lowercased exact host → experiments listing it, ascending.
    exact: HostMap,
    /// Lowercased suffix of `*.suffix` → experiments listing it, ascending.
    subdomain: HostMap,
    /// Experiments that match any host, ascending.
    any_host: Vec<ExperimentId>,
}

impl ExperimentIndex {
    pub fn new(experiments: &[Experiment]) -> Self {
        let mut index = ExperimentIndex::default();
        for (i, exp) in experiments.iter().enumerate() {
            let i = ExperimentId::from_index(i);
            for host in &exp.hosts {
                let list = match host {
                    HostPattern::Any => &mut index.any_host,
                    HostPattern::Exact(h) => index.exact.entry(h.as_bytes().into()).or_default(),
                    HostPattern::Subdomain(s) => index.subdomain.entry(s.as_bytes().into()).or_default(),
                };
                // An experiment may list overlapping hosts; keep each index once per list.
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        index
    }

    /// Whether any experiment names hosts: if none does, the authority need not even be read.
    pub fn uses_hosts(&self) -> bool {
        !(self.exact.is_empty() && self.subdomain.is_empty())
    }

    pub fn find(&self, experiments: &[Experiment], authority: &[u8], path: &[u8]) -> Option<ExperimentId> {
        if self.exact.is_empty() && self.subdomain.is_empty() {
            return self.find_in_host(experiments, b"", path);
        }
        let raw = raw_host(authority);
        if raw.len() <= STACK_HOST {
            let mut buffer = [0u8; STACK_HOST];
            let host = buffer.get_mut(..raw.len()).unwrap_or_default();
            host.copy_from_slice(raw);
            host.make_ascii_lowercase();
            self.find_in_host(experiments, host, path)
        } else {
            self.find_in_host(experiments, &raw.to_ascii_lowercase(), path)
        }
    }

    /// `host` is lowercased and without its port.
    fn find_in_host(&self, experiments: &[Experiment], host: &[u8], path: &[u8]) -> Option<ExperimentId> {
        let fits = |i: &ExperimentId| {
            experiments
                .get(i.index())
                .is_some_and(|e| path.starts_with(e.path_prefix.as_bytes()))
        };
        let first_fit = |list: &[ExperimentId]| list.iter().copied().find(|i| fits(i));

        let mut best = first_fit(&self.any_host);
        let mut consider = |candidate: Option<ExperimentId>| {
            if let Some(c) = candidate {
                best = Some(best.map_or(c, |b| b.min(c)));
            }
        };
        consider(self.exact.get(host).and_then(|l| first_fit(l)));
        if !self.subdomain.is_empty() {
            // Every proper suffix after a dot that has at least one character before it.
            for (pos, _) in host.iter().enumerate().filter(|(pos, b)| **b == b'.' && *pos > 0) {
                if let Some(suffix) = host.get(pos + 1..) {
                    consider(self.subdomain.get(suffix).and_then(|l| first_fit(l)));
                }
            }
        }
        best
    }
}

/// `:authority` lowercased, without its port. `[v6]:port` keeps the brackets.
pub fn host_of(authority: &[u8]) -> Vec<u8> {
    raw_host(authority).to_ascii_lowercase()
}

/// `:authority` without its port, case untouched.
fn raw_host(authority: &[u8]) -> &[u8] {
    let end = if authority.first() == Some(&b'[') {
        authority
            .iter()
            .position(|b| *b == b']')
            .map_or(authority.len(), |p| p + 1)
    } else {
        authority
            .iter()
            .position(|b| *b == b':')
            .unwrap_or(authority.len())
    };
    authority.get(..end).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::{host_of, Fnv1a};
    use std::hash::Hasher;

    fn fnv1a(pieces: &[&[u8]]) -> u64 {
        let mut hasher = Fnv1a::default();
        for piece in pieces {
            hasher.write(piece);
        }
        hasher.finish()
    }

    #[test]
    fn the_host_index_hashes_with_fnv_1a_64() {
        // The reference vectors of FNV-1a 64 (offset basis, "a", "foobar"); a constant or broken hash
        // would still index correctly, only every lookup would walk one bucket.
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(
            fnv1a(&[b"foo", b"bar"]),
            fnv1a(&[b"foobar"]),
            "writes continue the hash"
        );
    }

    #[test]
    fn strips_port_and_case() {
        assert_eq!(host_of(b"Models.Example.com:8080"), b"models.example.com");
        assert_eq!(host_of(b"[::1]:8080"), b"[::1]");
        assert_eq!(host_of(b""), b"");
        assert_eq!(host_of(b":80"), b"");
    }
}
