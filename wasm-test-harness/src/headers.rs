//! A header map with Envoy's semantics (`Http::HeaderMapImpl` as used by the Wasm context).
//!
//! - keys are lowercased on every operation (`Http::LowerCaseString`);
//! - `get` returns the first value only (Envoy's `getHeaderMapValue` returns `result[0]`);
//! - `add` appends another value, even for an existing key (`addCopy`);
//! - `replace` overwrites the first value and removes the others, or appends when absent (`setCopy`);
//! - `remove` removes every value (`remove`).

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(String, Vec<u8>)>,
}

impl HeaderMap {
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    pub fn from_pairs<K: AsRef<str>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }

    pub fn get_all(&self, key: &str) -> Vec<&[u8]> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The first value as text (lossy), for assertions.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn add(&mut self, key: &str, value: &[u8]) {
        self.entries.push((key.to_ascii_lowercase(), value.to_vec()));
    }

    pub fn replace(&mut self, key: &str, value: &[u8]) {
        let key = key.to_ascii_lowercase();
        match self.entries.iter().position(|(k, _)| *k == key) {
            Some(first) => {
                self.entries[first].1 = value.to_vec();
                let mut index = 0;
                self.entries.retain(|(k, _)| {
                    let keep = index <= first || *k != key;
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((key, value.to_vec())),
        }
    }

    pub fn remove(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.entries.retain(|(k, _)| *k != key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The ABI's serialized form: `u32 count`, then per pair `u32 key_len, u32 value_len`, then every
    /// key and value followed by a NUL byte (proxy-wasm-cpp-host `exportPairs`).
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (k, v) in &self.entries {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in &self.entries {
            out.extend_from_slice(k.as_bytes());
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    /// Parses the serialized form; `None` when malformed (the host answers `BadArgument`).
    pub fn deserialize(bytes: &[u8]) -> Option<HeaderMap> {
        let read_u32 = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        if bytes.is_empty() {
            return Some(HeaderMap::new());
        }
        let count = read_u32(0)?;
        let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
        let mut map = HeaderMap::new();
        for i in 0..count {
            let (key_len, value_len) = (read_u32(4 + i * 8)?, read_u32(8 + i * 8)?);
            let key = bytes.get(data..data + key_len)?;
            data += key_len + 1;
            let value = bytes.get(data..data + value_len)?;
            data += value_len + 1;
            map.add(std::str::from_utf8(key).ok()?, value);
        }
        Some(map)
    }
}
