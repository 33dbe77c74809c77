//! What a model server's answer says, whatever its protocol: rows of class probabilities, or one value
//! per row (a label, a score or a string). The readers of each protocol ([`super::seldon`],
//! [`super::oip`], [`super::kserve_v1`]) produce it; [`super::compare`] compares two of them.

/// One answer, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `n` rows of `k` class probabilities (every row the same `k`, every value finite).
    Probabilities(Vec<Vec<f64>>),
    /// `n` values, one per row.
    Values(Vec<Scalar>),
}

/// One value of a row: numbers compare as numbers (`2` equals `2.0`), strings byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Number(f64),
    Text(String),
}

/// A tensor's `shape`: an array of non-negative integers (Seldon's `data.tensor.shape`, an OIP
/// output's `shape`); `None` when it is anything else.
pub fn shape(value: Option<&serde_json::Value>) -> Option<Vec<usize>> {
    value?
        .as_array()?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect()
}

/// Why an answer cannot be compared: the shadow's counts as `failed`, the client's as `skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    NotJson,
    /// The protocol's data is not there (no `outputs`, no output of that name, no `predictions`).
    NoData,
    /// A shape the comparison does not read, or a count of values other than the shape's product.
    BadShape,
    /// A value that does not fit the datatype (a string in FP32, 2.5 in INT64, a number in BYTES).
    BadValue,
}
