//! The override query parameter: the first occurrence in `:path`, form-decoded (`%XX`, `+` as space).

/// The decoded value of the first parameter whose decoded name is `name`, or `None`.
pub fn first_value(path: &[u8], name: &str) -> Option<Vec<u8>> {
    let query_start = path.iter().position(|b| *b == b'?')? + 1;
    let query = path.get(query_start..)?;
    // Names and values that are not UTF-8 after decoding are replaced lossily: they can then never
    // equal a predictor name (always ASCII), which is the only thing the value is compared with.
    form_urlencoded::parse(query)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned().into_bytes())
}
