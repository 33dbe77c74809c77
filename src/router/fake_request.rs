//! An in-memory request for the decision core: headers in order, and scripted random numbers.
//! The one fake of [`RequestPort`] for every native test, fuzz target and benchmark (feature `test-util`).

use crate::router::decision::RequestPort;

#[derive(Debug, Default, Clone)]
pub struct FakeRequest {
    pub headers: Vec<(String, Vec<u8>)>,
    pub randoms: Vec<u32>,
    /// Header names read, in order (to check that the core reads only what it needs).
    pub reads: Vec<String>,
    pub random_draws: usize,
    /// The host clock, for signed overrides.
    pub now_unix_seconds: u64,
    /// How often the clock was read.
    pub clock_reads: usize,
}

impl FakeRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    pub fn cookie(self, line: &str) -> Self {
        self.header("cookie", line)
    }

    pub fn at(mut self, now_unix_seconds: u64) -> Self {
        self.now_unix_seconds = now_unix_seconds;
        self
    }

    pub fn random(mut self, value: u32) -> Self {
        self.randoms.push(value);
        self
    }
}

impl RequestPort for FakeRequest {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.reads.push(name.to_string());
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.reads.push(format!("{name}*"));
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn random_u32(&mut self) -> u32 {
        let value = self.randoms.get(self.random_draws).copied().unwrap_or(0);
        self.random_draws += 1;
        value
    }

    fn now_unix_seconds(&mut self) -> u64 {
        self.clock_reads += 1;
        self.now_unix_seconds
    }
}
