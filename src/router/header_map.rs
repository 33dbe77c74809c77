//! The proxy-wasm ABI's serialized header map (what `proxy_get_header_map_pairs` returns), decoded
//! without trusting it: `u32 count`, then `count` × (`u32 key_len`, `u32 value_len`), then each key and
//! value followed by a NUL, all little-endian. [`serialize`] writes the same format (the headers of an
//! HTTP callout).

/// The serialized header map of `pairs`, in order.
pub fn serialize<'a>(pairs: impl Iterator<Item = (&'a str, &'a [u8])> + Clone) -> Vec<u8> {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut count = 0usize;
    let mut out = vec![0; 4];
    for (k, v) in pairs.clone() {
        out.extend_from_slice(&len(k.len()));
        out.extend_from_slice(&len(v.len()));
        count += 1;
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    if let Some(head) = out.get_mut(..4) {
        head.copy_from_slice(&len(count));
    }
    out
}

/// Every value of header `wanted` (compared case-insensitively), in order. Malformed input yields what
/// could be read, never a panic.
pub fn values_of(bytes: &[u8], wanted: &[u8]) -> Vec<Vec<u8>> {
    let u32_at = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let mut values = Vec::new();
    let Some(count) = u32_at(0) else { return values };
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    for i in 0..count {
        let (Some(key_len), Some(value_len)) = (u32_at(4 + i * 8), u32_at(8 + i * 8)) else {
            break;
        };
        let key = bytes.get(data..data.saturating_add(key_len));
        data = data.saturating_add(key_len).saturating_add(1);
        let value = bytes.get(data..data.saturating_add(value_len));
        data = data.saturating_add(value_len).saturating_add(1);
        match (key, value) {
            (Some(k), Some(v)) if k.eq_ignore_ascii_case(wanted) => values.push(v.to_vec()),
            (Some(_), Some(_)) => {}
            _ => break,
        }
    }
    values
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
