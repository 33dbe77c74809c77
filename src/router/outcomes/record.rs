//! The bytes that hold an experiment's merged totals in Envoy's shared data.
//!
//! One shared-data key per experiment that collects outcomes. Its value names what the outcomes were
//! collected for (a fingerprint of the experiment's name, its predictors and its `adaptive` or
//! `rollout` block) and the totals per predictor name, so that a configuration update that keeps all
//! three keeps what was collected, and any other starts from zero. A rollout's record also says whether
//! it was rolled back ([`Flags`]). Bytes that do not decode (another version, corruption) read as
//! "nothing collected": they never panic.

use crate::router::config::{Adaptive, Experiment, Policy, Reward, Rollout};
use crate::router::outcomes::totals::{ArmTotals, Totals};

const MAGIC: &[u8; 4] = b"PRA1";

/// What a record holds besides the totals (one byte after them, written only when not empty, so an
/// adaptive experiment's record is what it always was).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// A rollout's guard rolled the canary back: final for this rollout.
    pub rolled_back: bool,
}

impl Flags {
    const ROLLED_BACK: u8 = 1;

    fn byte(self) -> u8 {
        if self.rolled_back {
            Self::ROLLED_BACK
        } else {
            0
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Flags { rolled_back: false }),
            Self::ROLLED_BACK => Some(Flags { rolled_back: true }),
            _ => None,
        }
    }
}

/// The shared-data key of an adaptive experiment's totals (one per experiment).
pub fn shared_key(experiment: &str) -> String {
    format!("predictor_router.adaptive.{experiment}")
}

/// The shared-data key of a rollout's totals and state (one per experiment).
pub fn rollout_key(experiment: &str) -> String {
    format!("predictor_router.rollout.{experiment}")
}

/// The key of an experiment's record: by the block that collects its outcomes.
pub fn key_of(experiment: &Experiment) -> String {
    if experiment.rollout.is_some() {
        rollout_key(&experiment.name)
    } else {
        shared_key(&experiment.name)
    }
}

/// Identifies what the totals were collected for: the experiment's name, then for adaptive allocation
/// its taking part predictor names and its `adaptive` block, for a rollout every predictor name and the
/// `rollout` block (a new `start` is a new rollout). Weights are not part of it: a re-weighting keeps
/// what was learned. Nor is `pooled`: the record holds this Envoy's own outcomes either way.
pub fn fingerprint(experiment: &Experiment) -> u64 {
    let mut text = format!("{}|", experiment.name);
    let names: Vec<&str> = match &experiment.rollout {
        Some(_) => experiment.predictors.iter().map(|p| p.name.as_str()).collect(),
        None => experiment.taking_part().map(|(_, p)| p.name.as_str()).collect(),
    };
    for name in names {
        text.push_str(name);
        text.push(',');
    }
    if let Some(a) = &experiment.adaptive {
        text.push('|');
        text.push_str(&canonical(a));
    }
    if let Some(r) = &experiment.rollout {
        text.push_str("|rollout|");
        text.push_str(&canonical_rollout(r));
    }
    fnv1a64(text.as_bytes())
}

fn reward_text(reward: &Reward) -> String {
    match reward {
        Reward::Response { max_latency_ms } => format!("response:{max_latency_ms:?}"),
        Reward::Feedback { path } => format!("feedback:{path}"),
    }
}

fn canonical_rollout(r: &Rollout) -> String {
    let steps: Vec<String> = r
        .steps
        .iter()
        .map(|s| format!("{}:{:?}", s.percent, s.minutes))
        .collect();
    format!(
        "{}|{}|{}|{}|{}:{}:{}|{}",
        r.canary.index(),
        r.start_unix,
        steps.join(","),
        reward_text(&r.reward),
        r.guard.max_drop_millionths,
        r.guard.confidence_tenths,
        r.guard.min_outcomes,
        r.update_seconds,
    )
}

fn canonical(a: &Adaptive) -> String {
    let policy = match a.policy {
        Policy::Thompson => "thompson".to_string(),
        Policy::EpsilonGreedy { epsilon_percent } => format!("epsilon_greedy:{epsilon_percent}"),
    };
    let reward = reward_text(&a.reward);
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

/// [`encode_record`] with no flags.
pub fn encode(experiment: &Experiment, totals: &Totals) -> Vec<u8> {
    encode_record(experiment, totals, Flags::default())
}

/// `MAGIC`, fingerprint (u64 LE), arm count (u32 LE), then per taking part predictor: name length
/// (u8), name, trials (u64 LE), reward_milli (u64 LE); then, only when some flag is set, the flags byte.
pub fn encode_record(experiment: &Experiment, totals: &Totals, flags: Flags) -> Vec<u8> {
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
    if flags != Flags::default() {
        out.push(flags.byte());
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
    decode_record(experiment, bytes).map_or(Stored::Foreign, |(totals, _)| Stored::Ours(totals))
}

/// The totals and flags of a record of this very experiment definition; `None` for another's, or for
/// bytes that do not decode.
pub fn decode_record(experiment: &Experiment, bytes: &[u8]) -> Option<(Totals, Flags)> {
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
    let flags = match reader.0 {
        [] => Flags::default(),
        [byte] => Flags::from_byte(*byte)?,
        _ => return None,
    };
    Some((totals, flags))
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
