//! Which experiment a request belongs to: hosts (exact, `*`, `*.suffix`) and path prefix.
//!
//! Experiments are indexed by host so that the cost per request does not grow with the number of
//! experiments on other hosts: an exact-host map, a suffix map for `*.suffix`, and a list for `*`.
//! The first experiment in configuration order that fits wins, as if the list were scanned.

use std::collections::BTreeMap;

use crate::router::config::{Experiment, HostPattern};

#[derive(Debug, Default)]
pub struct ExperimentIndex {
    /// Lowercased exact host → experiments listing it, ascending.
    exact: BTreeMap<Vec<u8>, Vec<usize>>,
    /// Lowercased suffix of `*.suffix` → experiments listing it, ascending.
    subdomain: BTreeMap<Vec<u8>, Vec<usize>>,
    /// Experiments that match any host, ascending.
    any_host: Vec<usize>,
}

impl ExperimentIndex {
    pub fn new(experiments: &[Experiment]) -> Self {
        let mut index = ExperimentIndex::default();
        for (i, exp) in experiments.iter().enumerate() {
            for host in &exp.hosts {
                let list = match host {
                    HostPattern::Any => &mut index.any_host,
                    HostPattern::Exact(h) => index.exact.entry(h.as_bytes().to_vec()).or_default(),
                    HostPattern::Subdomain(s) => index.subdomain.entry(s.as_bytes().to_vec()).or_default(),
                };
                // An experiment may list overlapping hosts; keep each index once per list.
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        index
    }

    pub fn find(&self, experiments: &[Experiment], authority: &[u8], path: &[u8]) -> Option<usize> {
        let host = host_of(authority);
        let fits = |i: &usize| {
            experiments
                .get(*i)
                .is_some_and(|e| path.starts_with(e.path_prefix.as_bytes()))
        };
        let first_fit = |list: &[usize]| list.iter().copied().find(|i| fits(i));

        let mut best = first_fit(&self.any_host);
        let mut consider = |candidate: Option<usize>| {
            if let Some(c) = candidate {
                best = Some(best.map_or(c, |b| b.min(c)));
            }
        };
        consider(self.exact.get(host.as_slice()).and_then(|l| first_fit(l)));
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
    authority.get(..end).unwrap_or(authority).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn strips_port_and_case() {
        assert_eq!(host_of(b"Models.Example.com:8080"), b"models.example.com");
        assert_eq!(host_of(b"[::1]:8080"), b"[::1]");
        assert_eq!(host_of(b""), b"");
        assert_eq!(host_of(b":80"), b"");
    }
}
