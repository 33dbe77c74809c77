//! The one compare-and-swap protocol on shared data every worker protocol uses: read the key with its
//! version, decide, write under that version; a lost race (another worker wrote in between) reads again,
//! a few times at most. Whatever is decided stays valid when the write fails: callers keep their
//! pending state until a write succeeds, so nothing is counted twice or lost.

use super::port::{HostPort, PortError};

/// Attempts before giving up until the next tick. Workers contend only on a tick or a rare event, so a
/// few attempts almost always suffice; a bound keeps a tick's work bounded whatever the host answers.
pub const CAS_ATTEMPTS: usize = 8;

/// What to do with what the key holds.
pub enum Step<T> {
    /// Nothing to write: the result.
    Done(T),
    /// Write these bytes under the version read; the result when the write succeeds.
    Write(Vec<u8>, T),
    /// Create the key with these bytes (version 0, which the host never refuses), then read it again:
    /// for protocols that need a real version to race on.
    Create(Vec<u8>),
}

/// Why [`update`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gave {
    /// Every attempt lost a race.
    Contended,
    /// The host refused a read or a write.
    Refused(PortError),
}

/// Runs the protocol on `key`: `decide(value, version)` sees the value (`None`: no key, version 0).
pub fn update<T>(
    port: &impl HostPort,
    key: &str,
    mut decide: impl FnMut(Option<&[u8]>, u32) -> Step<T>,
) -> Result<T, Gave> {
    for _ in 0..CAS_ATTEMPTS {
        let stored = port.shared_data(key).map_err(Gave::Refused)?;
        let (value, cas) = match &stored {
            Some((bytes, cas)) => (Some(bytes.as_slice()), *cas),
            None => (None, 0),
        };
        let (bytes, version, result) = match decide(value, cas) {
            Step::Done(result) => return Ok(result),
            Step::Write(bytes, result) => (bytes, cas, Some(result)),
            Step::Create(bytes) => (bytes, 0, None),
        };
        match port.set_shared_data(key, &bytes, version) {
            Ok(()) => match result {
                Some(result) => return Ok(result),
                None => continue,
            },
            Err(PortError::CasMismatch) => continue,
            Err(e) => return Err(Gave::Refused(e)),
        }
    }
    Err(Gave::Contended)
}
