//! Buckets: how a user id or a random draw becomes a predictor.
//!
//! `bucket = floor(murmur3_x86_32("<experiment>:<user id>", seed 0) * 10000 / 2^32)`; predictor `i`, with
//! cumulative weight `C_i` of total `W`, owns buckets `[floor(C_(i-1)*10000/W), floor(C_i*10000/W))`.
//! Anyone can recompute an assignment offline, and growing one predictor at the expense of its
//! neighbour never moves a user of the growing one.

use crate::router::ids::PredictorId;

pub const BUCKETS: u32 = 10_000;

/// The MurmurHash3 x86_32 of `bytes` with seed 0.
pub fn murmur3_32(bytes: &[u8]) -> u32 {
    // Reading from a byte slice cannot fail; the fallback is unreachable but keeps the filter panic-free.
    murmur3::murmur3_32(&mut { bytes }, 0).unwrap_or(0)
}

/// Maps a uniformly distributed 32-bit value onto `[0, BUCKETS)`.
pub fn bucket_of_u32(value: u32) -> u32 {
    ((u64::from(value) * u64::from(BUCKETS)) >> 32) as u32
}

/// The bucket of a user: `experiment` and `user_id` joined by `:`.
pub fn user_bucket(experiment: &str, user_id: &[u8]) -> u32 {
    let mut key = Vec::with_capacity(experiment.len() + 1 + user_id.len());
    key.extend_from_slice(experiment.as_bytes());
    key.push(b':');
    key.extend_from_slice(user_id);
    bucket_of_u32(murmur3_32(&key))
}

/// For each predictor, the end (exclusive) of its bucket range; ranges are contiguous from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketTable {
    ends: Vec<u32>,
}

impl BucketTable {
    /// `weights` in predictor order; their sum must be > 0 (validated before).
    pub fn new(weights: impl Iterator<Item = u32> + Clone) -> Self {
        Self::from_wide_weights(weights.map(u64::from))
    }

    /// [`BucketTable::new`] for weights that may not fit 32 bits (a rollout's step shares scaled by the
    /// baseline's weights); their sum must fit 64 bits divided by 10,000.
    pub fn from_wide_weights(weights: impl Iterator<Item = u64> + Clone) -> Self {
        let total: u64 = weights.clone().fold(0u64, u64::saturating_add).max(1);
        let mut cumulative = 0u64;
        let ends = weights
            .map(|w| {
                cumulative = cumulative.saturating_add(w);
                (u128::from(cumulative) * u128::from(BUCKETS) / u128::from(total)) as u32
            })
            .collect();
        BucketTable { ends }
    }

    /// The predictor owning `bucket` (any `bucket >= BUCKETS` is clamped into the last bucket).
    pub fn predictor_of(&self, bucket: u32) -> PredictorId {
        let bucket = bucket.min(BUCKETS - 1);
        PredictorId::from_index(
            self.ends
                .iter()
                .position(|end| bucket < *end)
                .unwrap_or(self.ends.len().saturating_sub(1)),
        )
    }

    /// How many of the 10,000 buckets each predictor owns, in predictor order.
    pub fn sizes(&self) -> impl Iterator<Item = u32> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |end| {
            let size = end.saturating_sub(start);
            start = *end;
            size
        })
    }

    /// The bucket range `[start, end)` of predictor `i`.
    pub fn range_of(&self, i: usize) -> Option<(u32, u32)> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? };
        Some((start, end))
    }
}
