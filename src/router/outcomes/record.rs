//! The bytes that hold an experiment's merged totals in Envoy's shared data.
//!
//! One shared-data key per experiment that collects outcomes. Its value names what the outcomes were
//! collected for (a fingerprint of the experiment's name, its taking part predictors and its `adaptive`
//! block) and the totals per predictor name, so that a configuration update that keeps all three keeps
//! what was learned, and any other starts from zero. Bytes that do not decode (another version,
//! corruption) read as "nothing learned": they never panic.

use crate::router::config::{Adaptive, Experiment, Policy, Reward};
use crate::router::outcomes::totals::{ArmTotals, Totals};

const MAGIC: &[u8; 4] = b"PRA1";

/// The shared-data key of an experiment's totals (one per experiment).
pub fn shared_key(experiment: &str) -> String {
    format!("predictor_router.adaptive.{experiment}")
}

/// Identifies what the totals were learned for: the experiment's name, its taking part predictor names
/// and its `adaptive` block. Weights are not part of it: a re-weighting keeps what was learned.
pub fn fingerprint(experiment: &Experiment) -> u64 {
    let mut text = format!("{}|", experiment.name);
    for (_, p) in experiment.taking_part() {
        text.push_str(&p.name);
        text.push(',');
    }
    if let Some(a) = &experiment.adaptive {
        text.push('|');
        text.push_str(&canonical(a));
    }
    fnv1a64(text.as_bytes())
}

fn canonical(a: &Adaptive) -> String {
    let policy = match a.policy {
        Policy::Thompson => "thompson".to_string(),
        Policy::EpsilonGreedy { epsilon_percent } => format!("epsilon_greedy:{epsilon_percent}"),
    };
    let reward = match &a.reward {
        Reward::Response { max_latency_ms } => format!("response:{max_latency_ms:?}"),
        Reward::Feedback { path } => format!("feedback:{path}"),
    };
    format!(
        "{policy}|{reward}|{}|{}|{}",
        a.update_seconds, a.min_outcomes, a.min_share_percent
    )
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `MAGIC`, fingerprint (u64 LE), arm count (u32 LE), then per taking part predictor: name length
/// (u8), name, trials (u64 LE), reward_milli (u64 LE).
pub fn encode(experiment: &Experiment, totals: &Totals) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + experiment.predictors.len() * 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&fingerprint(experiment).to_le_bytes());
    let arms: Vec<_> = experiment.taking_part().collect();
    out.extend_from_slice(&u32::try_from(arms.len()).unwrap_or(0).to_le_bytes());
    for (id, p) in arms {
        let arm = totals.arms.get(id.index()).copied().unwrap_or_default();
        out.push(u8::try_from(p.name.len()).unwrap_or(0));
        out.extend_from_slice(p.name.as_bytes());
        out.extend_from_slice(&arm.trials.to_le_bytes());
        out.extend_from_slice(&arm.reward_milli.to_le_bytes());
    }
    out
}

/// What shared data holds for an experiment, seen from one configuration of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Totals learned for this very experiment definition.
    Ours(Totals),
    /// Totals of another definition (before or after an update that changed it), or bytes that do not
    /// decode: nothing learned for this one.
    Foreign,
}

pub fn decode(experiment: &Experiment, bytes: &[u8]) -> Stored {
    decode_ours(experiment, bytes).map_or(Stored::Foreign, Stored::Ours)
}

fn decode_ours(experiment: &Experiment, bytes: &[u8]) -> Option<Totals> {
    let mut reader = Reader(bytes);
    if reader.take(4)? != MAGIC || reader.u64()? != fingerprint(experiment) {
        return None;
    }
    let count = reader.u32()?;
    let mut totals = Totals::zero(experiment.predictors.len());
    for _ in 0..count {
        let len = usize::from(*reader.take(1)?.first()?);
        let name = reader.take(len)?;
        let arm = ArmTotals {
            trials: reader.u64()?,
            reward_milli: reader.u64()?,
        };
        let id = experiment.predictor_named(name)?;
        *totals.arms.get_mut(id.index())? = arm;
    }
    reader.0.is_empty().then_some(totals)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}
