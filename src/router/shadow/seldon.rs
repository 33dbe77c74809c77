//! A Seldon Core v1 prediction answer read as rows of class probabilities: `data.ndarray` (a list of
//! rows, or one row of numbers) or `data.tensor` (`values` with a `shape` of one or two dimensions).

use serde_json::Value;

/// Rows of class probabilities, each row non-empty; every value finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows(pub Vec<Vec<f64>>);

/// Why an answer is not rows of probabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRows {
    NotJson,
    NoData,
    BadShape,
    NotANumber,
}

pub fn read(body: &[u8]) -> Result<Rows, NotRows> {
    let value: Value = serde_json::from_slice(body).map_err(|_| NotRows::NotJson)?;
    let data = value.get("data").ok_or(NotRows::NoData)?;
    if let Some(ndarray) = data.get("ndarray") {
        return ndarray_rows(ndarray);
    }
    if let Some(tensor) = data.get("tensor") {
        return tensor_rows(tensor);
    }
    Err(NotRows::NoData)
}

fn number(v: &Value) -> Result<f64, NotRows> {
    v.as_f64().filter(|f| f.is_finite()).ok_or(NotRows::NotANumber)
}

fn row(values: &[Value]) -> Result<Vec<f64>, NotRows> {
    if values.is_empty() {
        return Err(NotRows::BadShape);
    }
    values.iter().map(number).collect()
}

fn ndarray_rows(ndarray: &Value) -> Result<Rows, NotRows> {
    let outer = ndarray.as_array().ok_or(NotRows::BadShape)?;
    if outer.is_empty() {
        return Err(NotRows::BadShape);
    }
    if outer.iter().all(Value::is_array) {
        let rows = outer
            .iter()
            .map(|r| row(r.as_array().map_or(&[][..], Vec::as_slice)))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Rows(rows));
    }
    Ok(Rows(vec![row(outer)?]))
}

fn tensor_rows(tensor: &Value) -> Result<Rows, NotRows> {
    let values = tensor
        .get("values")
        .and_then(Value::as_array)
        .ok_or(NotRows::NoData)?;
    let shape = super::answer::shape(tensor.get("shape")).ok_or(NotRows::BadShape)?;
    let (rows, columns) = match shape.as_slice() {
        [columns] => (1, *columns),
        [rows, columns] => (*rows, *columns),
        _ => return Err(NotRows::BadShape),
    };
    if rows == 0 || columns == 0 || rows.checked_mul(columns) != Some(values.len()) {
        return Err(NotRows::BadShape);
    }
    let rows = values.chunks(columns).map(row).collect::<Result<Vec<_>, _>>()?;
    Ok(Rows(rows))
}
