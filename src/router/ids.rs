//! Typed indices. An experiment's position in the configuration and a predictor's position in its
//! experiment are both small integers; as newtypes, passing one where the other belongs is a compile
//! error instead of a request routed to the wrong model.

/// The position of an experiment in the configuration's `experiments` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExperimentId(pub u32);

/// The position of a predictor in its experiment's `predictors` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PredictorId(pub u32);

impl ExperimentId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// From a list position; configurations hold at most 1,000 experiments, so it always fits.
    pub fn from_index(index: usize) -> Self {
        ExperimentId(u32::try_from(index).unwrap_or(u32::MAX))
    }
}

impl PredictorId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// From a list position; experiments hold at most 64 predictors, so it always fits.
    pub fn from_index(index: usize) -> Self {
        PredictorId(u32::try_from(index).unwrap_or(u32::MAX))
    }
}
