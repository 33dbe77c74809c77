//! The key set: the value of `signing.keys_env`, comma-separated base64url keys of 32 to 64 bytes.
//! The first key mints, every key verifies, so keys rotate without downtime.
//!
//! Nothing here prints a key: [`KeySet`]'s `Debug` shows how many keys there are, and [`KeyError`]
//! says which key (by position) is wrong, never its value.

use std::fmt;

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;

pub const MIN_KEY_BYTES: usize = 32;
pub const MAX_KEY_BYTES: usize = 64;

/// base64url with or without padding; trailing bits that another spelling would carry are refused,
/// so a key has exactly one spelling.
const KEY_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_encode_padding(false),
);

/// Where the key set comes from: the VM's environment in the filter, the process's in the CLI, a
/// list in tests. Read only when the configuration has `signing`.
pub trait Environment {
    fn var(&self, name: &str) -> Option<Vec<u8>>;
}

/// No variables at all.
impl Environment for () {
    fn var(&self, _name: &str) -> Option<Vec<u8>> {
        None
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Environment for [(K, V)] {
    fn var(&self, name: &str) -> Option<Vec<u8>> {
        self.iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_vec())
    }
}

/// Why the variable holds no usable key set. Positions are 1-based, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    NotSet,
    Empty,
    NotUtf8,
    /// A comma with nothing (but white space) before or after it.
    EmptyKey {
        position: usize,
    },
    NotBase64Url {
        position: usize,
    },
    Length {
        position: usize,
        bytes: usize,
    },
}

impl KeyError {
    /// The reason, naming the variable and never its value.
    pub fn describe(&self, variable: &str) -> String {
        match self {
            KeyError::NotSet => format!(
                "the environment variable {variable} is not set in the Wasm VM (Istio: the WasmPlugin's \
                 vmConfig.env with valueFrom: HOST; Envoy: vm_config.environment_variables)"
            ),
            KeyError::Empty => format!("the environment variable {variable} is empty"),
            KeyError::NotUtf8 => format!("the environment variable {variable} is not text"),
            KeyError::EmptyKey { position } => {
                format!("key {position} of {variable} is empty (two commas in a row, or a trailing comma)")
            }
            KeyError::NotBase64Url { position } => format!(
                "key {position} of {variable} is not base64url (A-Z a-z 0-9 - _, padding optional; \
                 from standard base64: tr '+/' '-_')"
            ),
            KeyError::Length { position, bytes } => format!(
                "key {position} of {variable} decodes to {bytes} bytes; a key must be \
                 {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes (openssl rand -base64 32 | tr '+/' '-_')"
            ),
        }
    }
}

/// The keys, each already keyed into an HMAC-SHA256 state: verifying a token clones a state
/// instead of hashing the key again.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

#[derive(Clone)]
struct Key {
    bytes: Vec<u8>,
    mac: Hmac<Sha256>,
}

// No `is_empty`: a key set is never empty (parsing refuses an empty list), so it would be dead code.
#[allow(clippy::len_without_is_empty)]
impl KeySet {
    /// Reads `variable` from `environment`: one or more keys separated by commas, white space around
    /// each ignored (a Secret's trailing newline, say).
    pub fn from_environment(
        environment: &(impl Environment + ?Sized),
        variable: &str,
    ) -> Result<Self, KeyError> {
        let value = environment.var(variable).ok_or(KeyError::NotSet)?;
        let text = std::str::from_utf8(&value).map_err(|_| KeyError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parses the variable's value.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if text.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        let keys = text
            .split(',')
            .enumerate()
            .map(|(i, spelled)| Key::decode(i + 1, spelled.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeySet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The HMAC state of the key that mints (the first).
    pub(super) fn minting(&self) -> Option<&Hmac<Sha256>> {
        self.keys.first().map(|k| &k.mac)
    }

    /// Every key's HMAC state, in order.
    pub(super) fn verifying(&self) -> impl Iterator<Item = &Hmac<Sha256>> {
        self.keys.iter().map(|k| &k.mac)
    }
}

impl Key {
    fn decode(position: usize, spelled: &str) -> Result<Self, KeyError> {
        if spelled.is_empty() {
            return Err(KeyError::EmptyKey { position });
        }
        let bytes = KEY_ENCODING
            .decode(spelled)
            .map_err(|_| KeyError::NotBase64Url { position })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(KeyError::Length {
                position,
                bytes: bytes.len(),
            });
        }
        // HMAC takes keys of any length; the error branch cannot happen, and is refused, not unwrapped.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes).map_err(|_| KeyError::Length {
            position,
            bytes: bytes.len(),
        })?;
        Ok(Key { bytes, mac })
    }
}

/// Never the keys themselves: this reaches logs through `{:?}` of the configuration.
impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySet({} keys)", self.keys.len())
    }
}

impl PartialEq for KeySet {
    fn eq(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self.keys.iter().zip(&other.keys).all(|(a, b)| a.bytes == b.bytes)
    }
}

impl Eq for KeySet {}
