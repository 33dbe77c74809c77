//! Which requests are copied to the shadow: never forced requests (a tester chose the predictor) or
//! feedback requests (they are not predictions); of the rest (sticky, hashed, random), `percent`.
//!
//! The draw is one 32-bit number from the worker's random source per eligible request (the same
//! xorshift that picks random predictors), reduced to 0..10,000 and compared with the percentage in
//! hundredths: independent of the user, so a user's requests are sampled, not users. Tests make it
//! deterministic by handing the draw in.

use crate::router::decision::Reason;

/// Hundredths of a percent in 100 %.
pub const WHOLE: u32 = 10_000;

/// Whether a request decided for `reason` may be copied at all.
pub fn eligible(reason: Reason, feedback: bool) -> bool {
    !feedback && reason != Reason::Forced
}

/// Whether an eligible request is copied, for the draw `draw` (uniform over u32) and the configured
/// percentage in hundredths (1 to 10,000).
pub fn copies(draw: u32, percent_hundredths: u32) -> bool {
    // Multiply-shift instead of `%`: no modulo bias worth a thought, and no division.
    let slot = (u64::from(draw) * u64::from(WHOLE)) >> 32;
    slot < u64::from(percent_hundredths)
}
