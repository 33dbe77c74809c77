//! The shadow's answers in every protocol it reads, natively: the Open Inference Protocol v2 (flat or
//! nested `data`, `shape`, every datatype, the named or first output), KServe v1 `predictions`, and
//! their comparison (probabilities by argmax, values as numbers or bytes). Any bytes give an answer or
//! a reason, never a panic.

use predictor_router::router::config::Compare;
use predictor_router::router::shadow::answer::{Answer, Malformed, Scalar};
use predictor_router::router::shadow::compare::{answers_outcome, outcome, Outcome, Served, ShadowReply};
use predictor_router::router::shadow::{kserve_v1, oip};
use proptest::prelude::*;
use serde_json::{json, Value};

fn oip_answer(outputs: Value) -> Vec<u8> {
    json!({"model_name": "fraud", "outputs": outputs})
        .to_string()
        .into_bytes()
}

fn tensor(name: &str, shape: Value, datatype: &str, data: Value) -> Value {
    json!({"name": name, "shape": shape, "datatype": datatype, "data": data})
}

fn probabilities(rows: &[&[f64]]) -> Answer {
    Answer::Probabilities(rows.iter().map(|r| r.to_vec()).collect())
}

fn numbers(values: &[f64]) -> Answer {
    Answer::Values(values.iter().map(|v| Scalar::Number(*v)).collect())
}

#[test]
fn oip_reads_probabilities_flat_or_nested_and_values_of_every_datatype() {
    let flat = oip_answer(json!([tensor(
        "predict_proba",
        json!([2, 2]),
        "FP32",
        json!([0.9, 0.1, 0.3, 0.7])
    )]));
    let nested = oip_answer(json!([tensor(
        "predict_proba",
        json!([2, 2]),
        "FP64",
        json!([[0.9, 0.1], [0.3, 0.7]])
    )]));
    let want = probabilities(&[&[0.9, 0.1], &[0.3, 0.7]]);
    assert_eq!(oip::read(&flat, None), Ok(want.clone()));
    assert_eq!(oip::read(&nested, None), Ok(want));

    let labels = oip_answer(json!([tensor("predict", json!([3]), "INT64", json!([0, 1, 0]))]));
    assert_eq!(oip::read(&labels, None), Ok(numbers(&[0.0, 1.0, 0.0])));
    let column = oip_answer(json!([tensor(
        "score",
        json!([2, 1]),
        "FP64",
        json!([[0.25], [0.5]])
    )]));
    assert_eq!(oip::read(&column, None), Ok(numbers(&[0.25, 0.5])));
    let unsigned = oip_answer(json!([tensor("predict", json!([2]), "UINT8", json!([3, 255]))]));
    assert_eq!(oip::read(&unsigned, None), Ok(numbers(&[3.0, 255.0])));
    let bools = oip_answer(json!([tensor("fraud", json!([2]), "BOOL", json!([true, false]))]));
    assert_eq!(oip::read(&bools, None), Ok(numbers(&[1.0, 0.0])));
    let bytes = oip_answer(json!([tensor(
        "label",
        json!([2]),
        "BYTES",
        json!(["fraud", "ok"])
    )]));
    assert_eq!(
        oip::read(&bytes, None),
        Ok(Answer::Values(vec![
            Scalar::Text("fraud".into()),
            Scalar::Text("ok".into())
        ]))
    );
}

#[test]
fn oip_compares_the_named_output_or_else_the_first() {
    let body = oip_answer(json!([
        tensor("predict", json!([2]), "INT64", json!([1, 0])),
        tensor(
            "predict_proba",
            json!([2, 2]),
            "FP32",
            json!([0.2, 0.8, 0.6, 0.4])
        ),
    ]));
    assert_eq!(oip::read(&body, None), Ok(numbers(&[1.0, 0.0])));
    assert_eq!(
        oip::read(&body, Some("predict_proba")),
        Ok(probabilities(&[&[0.2, 0.8], &[0.6, 0.4]]))
    );
    assert_eq!(oip::read(&body, Some("missing")), Err(Malformed::NoData));
}

#[test]
fn oip_refuses_what_it_cannot_compare() {
    let read = |t: Value| oip::read(&oip_answer(json!([t])), None);
    // A count of values other than the product of the shape.
    assert_eq!(
        read(tensor("p", json!([2, 2]), "FP32", json!([0.5, 0.5, 1.0]))),
        Err(Malformed::BadShape)
    );
    assert_eq!(
        read(tensor("p", json!([2]), "INT64", json!([[1, 0], [0]]))),
        Err(Malformed::BadShape)
    );
    // Shapes the comparison does not read: three dimensions, k ≥ 2 integers, empty, a scalar.
    assert_eq!(
        read(tensor("p", json!([1, 2, 2]), "FP32", json!([1, 0, 0, 1]))),
        Err(Malformed::BadShape)
    );
    assert_eq!(
        read(tensor("p", json!([1, 2]), "INT64", json!([1, 0]))),
        Err(Malformed::BadShape)
    );
    assert_eq!(
        read(tensor("p", json!([0]), "INT64", json!([]))),
        Err(Malformed::BadShape)
    );
    assert_eq!(
        read(tensor("p", json!([]), "INT64", json!(3))),
        Err(Malformed::BadShape)
    );
    // A datatype that does not fit the data.
    assert_eq!(
        read(tensor("p", json!([2]), "FP32", json!(["a", "b"]))),
        Err(Malformed::BadValue)
    );
    assert_eq!(
        read(tensor("p", json!([2]), "INT64", json!([1, 2.5]))),
        Err(Malformed::BadValue)
    );
    assert_eq!(
        read(tensor("p", json!([2]), "BYTES", json!([1, 2]))),
        Err(Malformed::BadValue)
    );
    assert_eq!(
        read(tensor("p", json!([2]), "BOOL", json!([1, 0]))),
        Err(Malformed::BadValue)
    );
    assert_eq!(
        read(tensor("p", json!([2]), "STRING", json!(["a", "b"]))),
        Err(Malformed::BadValue)
    );
    // Not an OIP answer at all.
    assert_eq!(oip::read(b"not json", None), Err(Malformed::NotJson));
    assert_eq!(
        oip::read(br#"{"predictions": [1]}"#, None),
        Err(Malformed::NoData)
    );
    assert_eq!(oip::read(br#"{"outputs": []}"#, None), Err(Malformed::NoData));
}

#[test]
fn kserve_v1_reads_rows_of_probabilities_or_values() {
    assert_eq!(
        kserve_v1::read(br#"{"predictions": [[0.9, 0.1], [0.2, 0.8]]}"#),
        Ok(probabilities(&[&[0.9, 0.1], &[0.2, 0.8]]))
    );
    assert_eq!(
        kserve_v1::read(br#"{"predictions": [1, 0, 2.0]}"#),
        Ok(numbers(&[1.0, 0.0, 2.0]))
    );
    assert_eq!(
        kserve_v1::read(br#"{"predictions": ["fraud"]}"#),
        Ok(Answer::Values(vec![Scalar::Text("fraud".into())]))
    );
    for (body, why) in [
        (
            &br#"{"predictions": [[0.9, 0.1], [1.0]]}"#[..],
            Malformed::BadShape,
        ),
        (
            br#"{"predictions": [[0.9, 0.1], [0.2, 0.3, 0.5]]}"#,
            Malformed::BadShape,
        ),
        (br#"{"predictions": [[0.9, 0.1], 1]}"#, Malformed::BadShape),
        (br#"{"predictions": [1, [0.9, 0.1]]}"#, Malformed::BadShape),
        (br#"{"predictions": [1, "fraud"]}"#, Malformed::BadValue),
        (br#"{"predictions": [true]}"#, Malformed::BadValue),
        (br#"{"predictions": []}"#, Malformed::BadShape),
        (br#"{"outputs": []}"#, Malformed::NoData),
        (b"[", Malformed::NotJson),
    ] {
        assert_eq!(
            kserve_v1::read(body),
            Err(why),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn values_agree_as_numbers_or_bytes_and_differ_by_their_largest_gap() {
    assert_eq!(
        answers_outcome(&numbers(&[2.0, 1.0]), &numbers(&[2.0, 1.0])),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    // Labels: one row of three differs by 1.
    assert_eq!(
        answers_outcome(&numbers(&[1.0, 0.0, 1.0]), &numbers(&[1.0, 1.0, 1.0])),
        Outcome::Disagree { abs_diff_milli: 1000 }
    );
    // Scores: 0.25 apart.
    assert_eq!(
        answers_outcome(&numbers(&[0.5]), &numbers(&[0.75])),
        Outcome::Disagree { abs_diff_milli: 250 }
    );
    let text = |s: &[&str]| Answer::Values(s.iter().map(|t| Scalar::Text((*t).into())).collect());
    assert_eq!(
        answers_outcome(&text(&["fraud"]), &text(&["fraud"])),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(
        answers_outcome(&text(&["fraud"]), &text(&["Fraud"])),
        Outcome::Disagree { abs_diff_milli: 0 }
    );
    // Not comparable: strings beside numbers, other row counts, probabilities beside values.
    assert_eq!(answers_outcome(&text(&["1"]), &numbers(&[1.0])), Outcome::Failed);
    assert_eq!(
        answers_outcome(&numbers(&[1.0]), &numbers(&[1.0, 0.0])),
        Outcome::Failed
    );
    assert_eq!(
        answers_outcome(&probabilities(&[&[0.5, 0.5]]), &numbers(&[0.0])),
        Outcome::Failed
    );
    // A runaway value adds at most a million to the counter.
    assert_eq!(
        answers_outcome(&numbers(&[0.0]), &numbers(&[1e300])),
        Outcome::Disagree {
            abs_diff_milli: 1_000_000
        }
    );
}

#[test]
fn an_oip_pair_is_compared_skipped_or_failed_like_a_seldon_pair() {
    let compare = Compare::Oip {
        output: Some("predict_proba".into()),
    };
    let good = oip_answer(json!([tensor(
        "predict_proba",
        json!([1, 2]),
        "FP32",
        json!([0.7, 0.3])
    )]));
    let other = oip_answer(json!([tensor(
        "predict_proba",
        json!([1, 2]),
        "FP32",
        json!([0.4, 0.6])
    )]));
    let wrong_shape = oip_answer(json!([tensor(
        "predict_proba",
        json!([1, 3]),
        "FP32",
        json!([0.4, 0.3, 0.3])
    )]));
    fn served(body: &[u8], status: u16) -> Served<'_> {
        Served {
            status,
            body: Some(body),
        }
    }
    fn shadow(body: &[u8]) -> ShadowReply<'_> {
        ShadowReply::Answered {
            status: 200,
            body: Some(body),
        }
    }
    let (other, wrong_shape, good_static) = (&other[..], &wrong_shape[..], &good[..]);
    assert_eq!(
        outcome(&compare, served(&good, 200), shadow(good_static)),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(
        outcome(&compare, served(&good, 200), shadow(other)),
        Outcome::Disagree { abs_diff_milli: 300 }
    );
    assert_eq!(
        outcome(&compare, served(&good, 200), shadow(wrong_shape)),
        Outcome::Failed
    );
    assert_eq!(
        outcome(&compare, served(&good, 200), shadow(b"garbage")),
        Outcome::Failed
    );
    assert_eq!(
        outcome(&compare, served(&good, 503), shadow(good_static)),
        Outcome::Skipped
    );
    assert_eq!(
        outcome(&compare, served(b"garbage", 200), shadow(good_static)),
        Outcome::Skipped
    );
    let kserve = Compare::KserveV1;
    assert_eq!(
        outcome(
            &kserve,
            served(br#"{"predictions":[1,0]}"#, 200),
            shadow(br#"{"predictions":[1,1]}"#)
        ),
        Outcome::Disagree { abs_diff_milli: 1000 }
    );
}

/// A tensor of `rows` × `columns` as flat data and nested data: both read alike.
fn tensor_values() -> impl Strategy<Value = (usize, usize, Vec<f64>)> {
    (1_usize..6, 2_usize..5).prop_flat_map(|(rows, columns)| {
        (
            Just(rows),
            Just(columns),
            proptest::collection::vec(0.0_f64..1.0, rows * columns),
        )
    })
}

proptest! {
    #[test]
    fn flat_and_nested_data_read_alike((rows, columns, values) in tensor_values()) {
        let nested: Vec<Vec<f64>> = values.chunks(columns).map(<[f64]>::to_vec).collect();
        let flat = oip_answer(json!([tensor("p", json!([rows, columns]), "FP64", json!(values))]));
        let deep = oip_answer(json!([tensor("p", json!([rows, columns]), "FP64", json!(nested))]));
        prop_assert_eq!(oip::read(&flat, None), oip::read(&deep, None));
        // As JSON reads them (the filter's parser rounds the last digit as serde_json does).
        let parsed: Vec<Vec<f64>> = serde_json::from_str(&json!(nested).to_string()).unwrap();
        prop_assert_eq!(oip::read(&flat, None), Ok(Answer::Probabilities(parsed)));
    }

    #[test]
    fn any_bytes_give_an_answer_or_a_reason(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = oip::read(&body, None);
        let _ = oip::read(&body, Some("predict"));
        let _ = kserve_v1::read(&body);
        for compare in [Compare::Oip { output: None }, Compare::KserveV1] {
            let out = outcome(&compare, Served { status: 200, body: Some(&body) }, ShadowReply::Answered { status: 200, body: Some(&body) });
            // An answer compared with itself agrees, or is no answer at all (skipped).
            prop_assert!(matches!(out, Outcome::Agree { abs_diff_milli: 0 } | Outcome::Skipped), "{:?}", out);
        }
    }
}
