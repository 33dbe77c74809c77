//! The proxy-wasm ABI's serialized header map (what `proxy_get_header_map_pairs` returns), decoded
//! without trusting it: `u32 count`, then `count` × (`u32 key_len`, `u32 value_len`), then each key and
//! value followed by a NUL, all little-endian.

/// Every value of header `wanted` (compared case-insensitively), in order. Malformed input yields what
/// could be read, never a panic.
pub fn values_of(bytes: &[u8], wanted: &[u8]) -> Vec<Vec<u8>> {
    pairs(bytes)
        .filter(|(k, _)| k.eq_ignore_ascii_case(wanted))
        .map(|(_, v)| v.to_vec())
        .collect()
}

/// The first value of header `wanted` (compared case-insensitively), if any.
pub fn first_of(bytes: &[u8], wanted: &[u8]) -> Option<Vec<u8>> {
    pairs(bytes)
        .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
        .map(|(_, v)| v.to_vec())
}

/// The `(key, value)` pairs in order, up to the first malformed entry.
fn pairs(bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let u32_at = move |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let count = u32_at(0).unwrap_or(0);
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    (0..count).map_while(move |i| {
        let key_len = u32_at(i.checked_mul(8)?.checked_add(4)?)?;
        let value_len = u32_at(i.checked_mul(8)?.checked_add(8)?)?;
        let key = bytes.get(data..data.saturating_add(key_len))?;
        data = data.saturating_add(key_len).saturating_add(1);
        let value = bytes.get(data..data.saturating_add(value_len))?;
        data = data.saturating_add(value_len).saturating_add(1);
        Some((key, value))
    })
}

#[cfg(test)]
mod tests {
    use super::values_of;

    fn serialize(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k.as_bytes());
            out.push(0);
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn every_value_in_order_case_insensitively() {
        let map = serialize(&[
            ("cookie", "a=1"),
            (":path", "/"),
            ("Cookie", "b=2"),
            ("cookie", ""),
        ]);
        assert_eq!(
            values_of(&map, b"cookie"),
            vec![b"a=1".to_vec(), b"b=2".to_vec(), b"".to_vec()]
        );
        assert_eq!(values_of(&map, b"x"), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn malformed_maps_yield_what_could_be_read() {
        let map = serialize(&[("cookie", "a=1"), ("cookie", "b=2")]);
        for cut in 0..map.len() {
            let values = values_of(map.get(..cut).unwrap_or_default(), b"cookie");
            assert!(values.len() <= 2);
        }
        assert!(values_of(&[0xff; 12], b"cookie").is_empty());
        assert!(values_of(&[], b"cookie").is_empty());
        let mut huge_count = map.clone();
        huge_count.splice(0..4, u32::MAX.to_le_bytes());
        assert!(values_of(&huge_count, b"cookie").len() <= 2);
    }
}
