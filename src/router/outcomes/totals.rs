//! What one outcome is, and the outcomes of an experiment's predictors added up.

/// One outcome: a reward in thousandths (a success of reward `response` is 1000, a failure 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub reward_milli: u32,
}

impl Outcome {
    pub const SUCCESS: Outcome = Outcome { reward_milli: 1000 };
    pub const FAILURE: Outcome = Outcome { reward_milli: 0 };
}

/// Outcomes of one predictor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArmTotals {
    pub trials: u64,
    pub reward_milli: u64,
}

impl ArmTotals {
    pub fn add(&mut self, outcome: Outcome) {
        self.trials = self.trials.saturating_add(1);
        self.reward_milli = self.reward_milli.saturating_add(u64::from(outcome.reward_milli));
    }

    pub fn merge(&mut self, other: &ArmTotals) {
        self.trials = self.trials.saturating_add(other.trials);
        self.reward_milli = self.reward_milli.saturating_add(other.reward_milli);
    }

    /// Successes as a real number (rewards in [0, 1] add fractions).
    pub fn successes(&self) -> f64 {
        self.reward_milli as f64 / 1000.0
    }

    pub fn failures(&self) -> f64 {
        (self.trials as f64 - self.successes()).max(0.0)
    }

    /// The mean reward; 0 without outcomes.
    pub fn mean(&self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.successes() / self.trials as f64
        }
    }
}

/// Outcomes of every predictor of an experiment, in listed order (weight-0 predictors stay at zero).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub arms: Vec<ArmTotals>,
}

impl Totals {
    pub fn zero(predictors: usize) -> Self {
        Totals {
            arms: vec![ArmTotals::default(); predictors],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.arms.iter().all(|a| a.trials == 0)
    }

    pub fn merge(&mut self, other: &Totals) {
        for (mine, theirs) in self.arms.iter_mut().zip(&other.arms) {
            mine.merge(theirs);
        }
    }

    pub fn outcomes(&self) -> u64 {
        self.arms.iter().map(|a| a.trials).fold(0, u64::saturating_add)
    }
}
