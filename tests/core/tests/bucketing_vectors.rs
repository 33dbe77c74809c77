//! Bucketing against vectors computed independently (Python `mmh3`, see fixtures/make_bucket_vectors.py).

use predictor_router::router::bucketing::{murmur3_32, user_bucket, BucketTable, BUCKETS};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    weight_tables: Vec<Vec<u32>>,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    experiment: String,
    user_id_hex: String,
    murmur3: u32,
    bucket: u32,
    predictor_by_weights: Vec<usize>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../../fixtures/bucket_vectors.json")).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn murmur3_buckets_and_owners_match_the_independent_implementation() {
    let fixture = fixture();
    assert!(fixture.vectors.len() >= 20);
    let tables: Vec<BucketTable> = fixture
        .weight_tables
        .iter()
        .map(|w| BucketTable::new(w.iter().copied()))
        .collect();
    for v in &fixture.vectors {
        let user_id = unhex(&v.user_id_hex);
        let mut key = format!("{}:", v.experiment).into_bytes();
        key.extend_from_slice(&user_id);
        assert_eq!(murmur3_32(&key), v.murmur3, "murmur3 of {key:?}");
        assert_eq!(
            user_bucket(&v.experiment, &user_id),
            v.bucket,
            "bucket of {key:?}"
        );
        for (table, expected) in tables.iter().zip(&v.predictor_by_weights) {
            assert_eq!(
                table.predictor_of(v.bucket).index(),
                *expected,
                "owner of bucket {} in {table:?}",
                v.bucket
            );
        }
    }
}

#[test]
fn the_fixture_covers_ascii_utf8_non_utf8_and_empty_user_ids() {
    let ids: Vec<Vec<u8>> = fixture().vectors.iter().map(|v| unhex(&v.user_id_hex)).collect();
    assert!(ids.iter().any(|id| id.is_empty()));
    assert!(ids
        .iter()
        .any(|id| std::str::from_utf8(id).is_ok_and(|s| !s.is_ascii())));
    assert!(ids.iter().any(|id| std::str::from_utf8(id).is_err()));
}

#[test]
fn bucket_ranges_follow_the_cumulative_weights() {
    let table = BucketTable::new([90u32, 10].into_iter());
    assert_eq!(table.range_of(0), Some((0, 9000)));
    assert_eq!(table.range_of(1), Some((9000, 10000)));
    assert_eq!(table.predictor_of(8999).index(), 0);
    assert_eq!(table.predictor_of(9000).index(), 1);
    assert_eq!(table.predictor_of(BUCKETS - 1).index(), 1);

    let with_zero = BucketTable::new([70u32, 0, 30].into_iter());
    assert_eq!(
        with_zero.range_of(1),
        Some((7000, 7000)),
        "weight 0 owns no bucket"
    );
    assert!((0..BUCKETS).all(|b| with_zero.predictor_of(b).index() != 1));

    let uneven = BucketTable::new([1u32, 1, 1].into_iter());
    assert_eq!(uneven.range_of(0), Some((0, 3333)));
    assert_eq!(uneven.range_of(1), Some((3333, 6666)));
    assert_eq!(uneven.range_of(2), Some((6666, 10000)));
}

#[test]
fn a_bucket_past_the_end_goes_to_the_last_bucket_s_owner_never_to_a_trailing_weight_zero_predictor() {
    // The clamp of `predictor_of`: bucket 10,000 and above count as bucket 9,999. Without it they would
    // fall past every range and reach the last predictor, here one with weight 0.
    let table = BucketTable::new([60u32, 40, 0].into_iter());
    for bucket in [BUCKETS - 1, BUCKETS, BUCKETS + 1, u32::MAX] {
        assert_eq!(table.predictor_of(bucket).index(), 1, "bucket {bucket}");
    }
}
