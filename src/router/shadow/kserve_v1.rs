//! A KServe v1 (and TensorFlow Serving) answer: `{"predictions": [...]}`, one element per row. A list
//! of k ≥ 2 numbers is a row of class probabilities; a single number or string is a value. Every row
//! must be of one kind, and rows of probabilities of one length.

use serde_json::Value;

use super::answer::{Answer, Malformed, Scalar};

pub fn read(body: &[u8]) -> Result<Answer, Malformed> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Malformed::NotJson)?;
    let predictions = value
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or(Malformed::NoData)?;
    let first = predictions.first().ok_or(Malformed::BadShape)?;
    if first.is_array() {
        let rows = predictions
            .iter()
            .map(|row| {
                let row = row.as_array().ok_or(Malformed::BadShape)?;
                if row.len() < 2 {
                    return Err(Malformed::BadShape);
                }
                row.iter()
                    .map(|v| v.as_f64().filter(|f| f.is_finite()).ok_or(Malformed::BadValue))
                    .collect::<Result<Vec<f64>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let k = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != k) {
            return Err(Malformed::BadShape);
        }
        return Ok(Answer::Probabilities(rows));
    }
    let values = predictions
        .iter()
        .map(|v| match v {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Scalar::Number)
                .ok_or(Malformed::BadValue),
            Value::String(s) => Ok(Scalar::Text(s.clone())),
            Value::Array(_) => Err(Malformed::BadShape),
            _ => Err(Malformed::BadValue),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let texts = values.iter().filter(|v| matches!(v, Scalar::Text(_))).count();
    if texts != 0 && texts != values.len() {
        return Err(Malformed::BadValue);
    }
    Ok(Answer::Values(values))
}
