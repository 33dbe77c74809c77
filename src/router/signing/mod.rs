//! Signed overrides (contract "Signed overrides"): the key set read from the VM's environment, and the
//! tokens `<predictor>.<expiry>.<mac>` that only key holders can mint.
//!
//! Pure: the environment and the clock come in as arguments, so every rule is tested natively and the
//! command-line tool mints with the very code the filter verifies with.

mod keys;
mod token;

pub use keys::{Environment, KeyError, KeySet, MAX_KEY_BYTES, MIN_KEY_BYTES};
pub use token::{mint, verify, MAC_CHARS, MAX_TTL_SECONDS};
