//! Override tokens: `<predictor>.<expiry>.<mac>`, where `<mac>` is the unpadded base64url encoding of
//! the first 16 bytes of HMAC-SHA256(key, `"<experiment>.<predictor>.<expiry>"`).
//!
//! A token is checked from the cheapest test to the dearest (shape, predictor, expiry window, then one
//! HMAC per key), so garbage costs no hashing. The MAC is compared as text, in constant time, against
//! the encoding computed under every key: any other spelling of the same bytes is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::keys::KeySet;
use crate::router::ids::PredictorId;

/// The latest expiry a token may carry, counted from now (boundary included).
pub const MAX_TTL_SECONDS: u64 = 31 * 86_400;
/// Bytes of the HMAC kept in a token.
const MAC_BYTES: usize = 16;
/// Characters of their unpadded base64url encoding.
pub const MAC_CHARS: usize = 22;
/// `u64::MAX` has 20 digits; longer expiries are refused before parsing.
const MAX_EXPIRY_DIGITS: usize = 20;

/// The predictor a valid token forces, or `None`. `predictor_named` finds the experiment's predictor by
/// name (the token's first part); signing knows nothing else of the configuration.
pub fn verify(
    keys: &KeySet,
    experiment_name: &str,
    predictor_named: impl Fn(&[u8]) -> Option<PredictorId>,
    token: &[u8],
    now_unix_seconds: u64,
) -> Option<PredictorId> {
    let mut parts = token.split(|b| *b == b'.');
    let (predictor, expiry, mac) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(e), Some(m), None) => (p, e, m),
        _ => return None,
    };
    let id = predictor_named(predictor)?;
    let expiry_seconds = parse_expiry(expiry)?;
    let in_window = expiry_seconds > now_unix_seconds && expiry_seconds - now_unix_seconds <= MAX_TTL_SECONDS;
    if !in_window || mac.len() != MAC_CHARS {
        return None;
    }
    // Every key is tried, whatever the earlier ones gave: the time taken does not tell which matched.
    let mut matched = Choice::from(0);
    for key in keys.verifying() {
        let expected = mac_text(key, experiment_name.as_bytes(), predictor, expiry)?;
        matched |= expected.as_slice().ct_eq(mac);
    }
    bool::from(matched).then_some(id)
}

/// A token for `predictor` of `experiment`, valid until `expiry_unix_seconds`, minted with the first
/// key. The caller checks that the predictor exists and the expiry is within [`MAX_TTL_SECONDS`].
pub fn mint(keys: &KeySet, experiment: &str, predictor: &str, expiry_unix_seconds: u64) -> Option<String> {
    let expiry = expiry_unix_seconds.to_string();
    let mac = mac_text(
        keys.minting()?,
        experiment.as_bytes(),
        predictor.as_bytes(),
        expiry.as_bytes(),
    )?;
    let mac = std::str::from_utf8(&mac).ok()?;
    Some(format!("{predictor}.{expiry}.{mac}"))
}

/// Decimal, no sign, no leading zeros, no overflow.
fn parse_expiry(digits: &[u8]) -> Option<u64> {
    if digits.is_empty()
        || digits.len() > MAX_EXPIRY_DIGITS
        || digits.first() == Some(&b'0')
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    digits
        .iter()
        .try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// The MAC's text for `"<experiment>.<predictor>.<expiry>"` under `key`.
fn mac_text(
    key: &Hmac<Sha256>,
    experiment: &[u8],
    predictor: &[u8],
    expiry: &[u8],
) -> Option<[u8; MAC_CHARS]> {
    let mut mac = key.clone();
    mac.update(experiment);
    mac.update(b".");
    mac.update(predictor);
    mac.update(b".");
    mac.update(expiry);
    let digest = mac.finalize().into_bytes();
    let mut text = [0u8; MAC_CHARS];
    let written = URL_SAFE_NO_PAD
        .encode_slice(digest.get(..MAC_BYTES)?, &mut text)
        .ok()?;
    (written == MAC_CHARS).then_some(text)
}
