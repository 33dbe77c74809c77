//! An experiment's `predictors`: names, weights, bounds.

use super::error::ConfigError;
use super::model::Predictor;
use super::rules::{dns_label, integer_in};
use super::schema::RawPredictor;
use super::validate::{at, MAX_PREDICTORS, MAX_WEIGHT};

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) fn predictors(path: &str, raw: Vec<RawPredictor>) -> Result<Vec<Predictor>> {
    if raw.is_empty() || raw.len() > MAX_PREDICTORS {
        return Err(at(path, "predictors")(format!(
            "must list 1 to {MAX_PREDICTORS} predictors, found {}",
            raw.len()
        )));
    }
    let field = |i: usize, name: &str| format!("{path}.predictors[{i}].{name}");
    let mut out: Vec<Predictor> = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        dns_label(&p.name).map_err(|reason| ConfigError::new(field(i, "name"), reason))?;
        if let Some(first) = out.iter().position(|q| q.name == p.name) {
            return Err(ConfigError::new(
                field(i, "name"),
                format!("\"{}\" is already the name of {path}.predictors[{first}]", p.name),
            ));
        }
        let weight = integer_in(&p.weight, 0, MAX_WEIGHT).ok_or_else(|| {
            ConfigError::new(
                field(i, "weight"),
                format!("must be an integer from 0 to {MAX_WEIGHT}"),
            )
        })?;
        out.push(Predictor { name: p.name, weight });
    }
    if out.iter().all(|p| p.weight == 0) {
        return Err(at(path, "predictors")(
            "at least one weight must be greater than 0".into(),
        ));
    }
    Ok(out)
}
