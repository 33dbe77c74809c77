//! An Open Inference Protocol v2 answer (KServe v2, MLServer, Triton, Seldon Core 2):
//! `{"outputs": [{"name", "shape", "datatype", "data"}, ...]}`. The compared tensor is the output of
//! the configured name, or the first. Its `data` is flat in row-major order or nested as `shape` says.
//! Shape `[n, k]` with k ≥ 2 and a floating-point datatype is n rows of class probabilities; `[n]` or
//! `[n, 1]` is n values of any datatype; anything else cannot be compared.

use serde_json::Value;

use super::answer::{shape, Answer, Malformed, Scalar};

/// How a datatype's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Integer,
    Bool,
    Bytes,
}

fn kind(datatype: &str) -> Option<Kind> {
    match datatype {
        "FP16" | "FP32" | "FP64" | "BF16" => Some(Kind::Float),
        "INT8" | "INT16" | "INT32" | "INT64" | "UINT8" | "UINT16" | "UINT32" | "UINT64" => {
            Some(Kind::Integer)
        }
        "BOOL" => Some(Kind::Bool),
        "BYTES" => Some(Kind::Bytes),
        _ => None,
    }
}

/// Reads the output named `output` (or the first) of an OIP answer.
pub fn read(body: &[u8], output: Option<&str>) -> Result<Answer, Malformed> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Malformed::NotJson)?;
    let outputs = value
        .get("outputs")
        .and_then(Value::as_array)
        .ok_or(Malformed::NoData)?;
    let tensor = match output {
        Some(name) => outputs
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(name)),
        None => outputs.first(),
    }
    .ok_or(Malformed::NoData)?;
    let datatype = tensor
        .get("datatype")
        .and_then(Value::as_str)
        .and_then(kind)
        .ok_or(Malformed::BadValue)?;
    let shape = shape(tensor.get("shape")).ok_or(Malformed::BadShape)?;
    let mut flat = Vec::new();
    flatten(tensor.get("data").ok_or(Malformed::NoData)?, &mut flat, 0)?;
    let count = shape.iter().try_fold(1_usize, |n, d| n.checked_mul(*d));
    if count != Some(flat.len()) {
        return Err(Malformed::BadShape);
    }
    match (shape.as_slice(), datatype) {
        ([rows, columns], Kind::Float) if *columns >= 2 && *rows >= 1 => {
            let numbers = flat.iter().map(|v| float(v)).collect::<Result<Vec<_>, _>>()?;
            Ok(Answer::Probabilities(
                numbers.chunks(*columns).map(<[f64]>::to_vec).collect(),
            ))
        }
        ([rows], _) | ([rows, 1], _) if *rows >= 1 => Ok(Answer::Values(
            flat.iter()
                .map(|v| scalar(v, datatype))
                .collect::<Result<_, _>>()?,
        )),
        _ => Err(Malformed::BadShape),
    }
}

/// Nesting deeper than any tensor a model returns is refused rather than followed (the parser has
/// already bounded it, this keeps the walk's depth explicit).
const MAX_DEPTH: usize = 32;

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) -> Result<(), Malformed> {
    match v {
        Value::Array(items) if depth < MAX_DEPTH => {
            for item in items {
                flatten(item, out, depth + 1)?;
            }
            Ok(())
        }
        Value::Array(_) => Err(Malformed::BadShape),
        _ if depth == 0 => Err(Malformed::BadShape),
        other => {
            out.push(other);
            Ok(())
        }
    }
}

fn float(v: &Value) -> Result<f64, Malformed> {
    v.as_f64().filter(|f| f.is_finite()).ok_or(Malformed::BadValue)
}

fn scalar(v: &Value, kind: Kind) -> Result<Scalar, Malformed> {
    match kind {
        Kind::Float => float(v).map(Scalar::Number),
        Kind::Integer => {
            let f = float(v)?;
            if f.fract() == 0.0 {
                Ok(Scalar::Number(f))
            } else {
                Err(Malformed::BadValue)
            }
        }
        Kind::Bool => v
            .as_bool()
            .map(|b| Scalar::Number(if b { 1.0 } else { 0.0 }))
            .ok_or(Malformed::BadValue),
        Kind::Bytes => v
            .as_str()
            .map(|s| Scalar::Text(s.to_string()))
            .ok_or(Malformed::BadValue),
    }
}
