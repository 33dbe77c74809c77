//! Shadow comparison's core (contract "Shadow comparison"), natively: the `shadow` block's defaults, which
//! requests are copied and how often, the copy's path, Seldon Core v1 answers read as rows of
//! probabilities, argmax agreement with the first-on-ties rule, abs_diff, and the one outcome of a pair.

use predictor_router::router::config::{parse, Compare, Shadow};
use predictor_router::router::decision::Reason;
use predictor_router::router::shadow::compare::{
    argmax, outcome, rows_outcome, Outcome, Served, ShadowReply,
};
use predictor_router::router::shadow::path::shadow_path;
use predictor_router::router::shadow::sample::{copies, eligible, WHOLE};
use predictor_router::router::shadow::seldon::{read, NotRows, Rows};
use predictor_router_core_tests::invalid_configs::shadow_with;
use proptest::prelude::*;
use serde_json::json;

fn shadow_of(patch: serde_json::Value) -> Shadow {
    let config = parse(shadow_with(patch).to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    config.experiments()[0].shadow.clone().expect("a shadow")
}

#[test]
fn the_shadow_block_takes_the_spec_defaults_and_keeps_percent_in_hundredths() {
    let shadow = shadow_of(json!({}));
    assert_eq!(shadow.name, "rf-v2");
    assert_eq!(shadow.path_prefix, "/");
    assert_eq!(shadow.percent_hundredths, 1000);
    assert_eq!(shadow.timeout_ms, 1000);
    assert_eq!(shadow.max_in_flight, 64);
    assert_eq!(shadow.compare, Compare::Seldon);
    for (percent, hundredths) in [
        (json!(0.01), 1),
        (json!(0.07), 7),
        (json!(12.34), 1234),
        (json!(100), 10_000),
        (json!(50.0), 5000),
    ] {
        assert_eq!(
            shadow_of(json!({"percent": percent})).percent_hundredths,
            hundredths,
            "{percent}"
        );
    }
    let status = shadow_of(
        json!({"compare": "status", "timeout_ms": 1, "max_in_flight": 10_000, "path_prefix": "/v2/"}),
    );
    assert_eq!(
        (status.compare, status.timeout_ms, status.max_in_flight),
        (Compare::Status, 1, 10_000)
    );
    assert_eq!(status.path_prefix, "/v2/");
    // Without the block: nothing.
    let plain = parse(br#"{"experiments":[{"name":"e","predictors":[{"name":"a","weight":1}]}]}"#).unwrap();
    assert!(plain.experiments()[0].shadow.is_none());
}

#[test]
fn a_valid_shadow_block_is_carried_out_without_a_warning() {
    let table =
        predictor_router::router::table::RoutingTable::parse(shadow_with(json!({})).to_string().as_bytes())
            .expect("valid");
    assert_eq!(table.warnings(), Vec::<String>::new());
}

#[test]
fn forced_and_feedback_requests_are_never_copied() {
    assert!(!eligible(Reason::Forced, false));
    for reason in [Reason::Sticky, Reason::Hashed, Reason::Random] {
        assert!(eligible(reason, false), "{reason:?}");
        assert!(!eligible(reason, true), "{reason:?} feedback");
    }
}

#[test]
fn the_draw_copies_exactly_percent_of_the_draw_space() {
    // Over an evenly spaced sweep of the u32 draws, the copied share is the percentage to within one
    // slot in 10,000.
    for hundredths in [1, 7, 1000, 3333, 5000, 9999, WHOLE] {
        let n = 1_000_000u64;
        let copied = (0..n)
            .filter(|i| copies(((i * u64::from(u32::MAX)) / n) as u32, hundredths))
            .count() as f64;
        let expected = n as f64 * f64::from(hundredths) / f64::from(WHOLE);
        assert!(
            (copied - expected).abs() <= n as f64 / 10_000.0 + 1.0,
            "{hundredths}: {copied} vs {expected}"
        );
    }
    assert!(
        copies(0, 1),
        "the lowest draw is copied at the smallest percentage"
    );
    assert!(!copies(u32::MAX, WHOLE - 1));
    assert!(copies(u32::MAX, WHOLE), "100 % copies every draw");
}

#[test]
fn the_copy_path_replaces_the_match_prefix_like_the_virtualservice_rewrite() {
    let prefix = "/seldon/default/fraud-detection/";
    let cases = [
        (
            "/seldon/default/fraud-detection/api/v1.0/predictions",
            "/",
            "/api/v1.0/predictions",
        ),
        (
            "/seldon/default/fraud-detection/api/v1.0/predictions?x=1",
            "/",
            "/api/v1.0/predictions?x=1",
        ),
        (
            "/seldon/default/fraud-detection/api/v1.0/predictions",
            "/v2/",
            "/v2/api/v1.0/predictions",
        ),
        // A plain replacement, as Envoy's prefix_rewrite: no slash added where the two meet.
        (
            "/seldon/default/fraud-detection/api/v1.0/predictions",
            "/v2",
            "/v2api/v1.0/predictions",
        ),
        ("/seldon/default/fraud-detection/", "/", "/"),
        ("/seldon/default/fraud-detection/?q", "/", "/?q"),
    ];
    for (request, shadow_prefix, expected) in cases {
        assert_eq!(
            shadow_path(request, prefix, shadow_prefix).as_deref(),
            Some(expected),
            "{request} {shadow_prefix}"
        );
    }
    assert_eq!(shadow_path("/api/x", "/", "/").as_deref(), Some("/api/x"));
    assert_eq!(
        shadow_path("/api/x", "/", "/shadow/").as_deref(),
        Some("/shadow/api/x")
    );
    assert_eq!(shadow_path("/other/x", prefix, "/"), None);
    // Nor removed: a match prefix without its trailing slash leaves the slash to the rest.
    assert_eq!(
        shadow_path(
            "/seldon/default/x/api/v1.0/predictions",
            "/seldon/default/x",
            "/m/"
        )
        .as_deref(),
        Some("/m//api/v1.0/predictions")
    );
}

#[test]
fn seldon_answers_are_read_from_ndarray_and_tensor() {
    let two_rows = Rows(vec![vec![0.9, 0.1], vec![0.2, 0.8]]);
    assert_eq!(
        read(br#"{"data":{"names":["t:0","t:1"],"ndarray":[[0.9,0.1],[0.2,0.8]]},"meta":{}}"#),
        Ok(two_rows.clone())
    );
    assert_eq!(
        read(br#"{"data":{"tensor":{"shape":[2,2],"values":[0.9,0.1,0.2,0.8]}}}"#),
        Ok(two_rows)
    );
    assert_eq!(
        read(br#"{"data":{"ndarray":[0.3,0.7]}}"#),
        Ok(Rows(vec![vec![0.3, 0.7]])),
        "one row"
    );
    assert_eq!(
        read(br#"{"data":{"tensor":{"shape":[3],"values":[1,2,3]}}}"#),
        Ok(Rows(vec![vec![1.0, 2.0, 3.0]]))
    );
    let refused: [(&[u8], NotRows); 11] = [
        (b"<html>", NotRows::NotJson),
        (br#"{"meta":{}}"#, NotRows::NoData),
        (br#"{"data":{"names":[]}}"#, NotRows::NoData),
        (br#"{"data":{"ndarray":[]}}"#, NotRows::BadShape),
        (br#"{"data":{"ndarray":[[]]}}"#, NotRows::BadShape),
        (br#"{"data":{"ndarray":"0.9"}}"#, NotRows::BadShape),
        (br#"{"data":{"ndarray":[["a","b"]]}}"#, NotRows::NotANumber),
        (br#"{"data":{"ndarray":[[0.5],0.5]}}"#, NotRows::NotANumber),
        (
            br#"{"data":{"tensor":{"shape":[2,2],"values":[1,2,3]}}}"#,
            NotRows::BadShape,
        ),
        (
            br#"{"data":{"tensor":{"shape":[1,1,1],"values":[1]}}}"#,
            NotRows::BadShape,
        ),
        (
            br#"{"data":{"tensor":{"shape":[0,2],"values":[]}}}"#,
            NotRows::BadShape,
        ),
    ];
    for (body, why) in refused {
        assert_eq!(read(body), Err(why), "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn rows_agree_on_every_rows_argmax_with_the_first_on_ties_and_abs_diff_is_the_largest_difference() {
    assert_eq!(argmax(&[0.5, 0.5]), 0, "the first on ties");
    assert_eq!(argmax(&[0.1, 0.45, 0.45]), 1);
    assert_eq!(argmax(&[0.1, 0.2, 0.7]), 2);
    let served = Rows(vec![vec![0.9, 0.1], vec![0.4, 0.6]]);
    assert_eq!(
        rows_outcome(&served, &Rows(vec![vec![0.7, 0.3], vec![0.45, 0.55]])),
        Outcome::Agree { abs_diff_milli: 200 }
    );
    assert_eq!(
        rows_outcome(&served, &Rows(vec![vec![0.9, 0.1], vec![0.5, 0.5]])),
        Outcome::Disagree { abs_diff_milli: 100 },
        "a tie goes to the first class: row 2 flips to class 0"
    );
    assert_eq!(
        rows_outcome(&served, &served.clone()),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(
        rows_outcome(&served, &Rows(vec![vec![0.9, 0.1]])),
        Outcome::Failed,
        "another row count"
    );
    assert_eq!(
        rows_outcome(&served, &Rows(vec![vec![0.9, 0.1, 0.0], vec![0.4, 0.6, 0.0]])),
        Outcome::Failed,
        "another class count"
    );
    assert_eq!(
        rows_outcome(&Rows(vec![vec![0.1234]]), &Rows(vec![vec![0.1239]])),
        Outcome::Agree { abs_diff_milli: 1 },
        "rounded to the nearest thousandth"
    );
}

#[test]
fn the_outcome_of_a_pair_is_one_of_the_five() {
    let ok = br#"{"data":{"ndarray":[[0.9,0.1]]}}"#.as_slice();
    let other = br#"{"data":{"ndarray":[[0.2,0.8]]}}"#.as_slice();
    let served = Served {
        status: 200,
        body: Some(ok),
    };
    let answered = |status, body| ShadowReply::Answered {
        status,
        body: Some(body),
    };
    let seldon = |served, shadow| outcome(&Compare::Seldon, served, shadow);
    assert_eq!(
        seldon(served, answered(200, ok)),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(
        seldon(served, answered(200, other)),
        Outcome::Disagree { abs_diff_milli: 700 }
    );
    assert_eq!(seldon(served, ShadowReply::TimedOut), Outcome::Timeout);
    assert_eq!(seldon(served, ShadowReply::Failed), Outcome::Failed);
    assert_eq!(
        seldon(served, answered(500, ok)),
        Outcome::Failed,
        "the shadow's 500"
    );
    assert_eq!(
        seldon(served, answered(200, b"garbage")),
        Outcome::Failed,
        "the shadow's garbage"
    );
    assert_eq!(
        seldon(
            served,
            ShadowReply::Answered {
                status: 200,
                body: None
            }
        ),
        Outcome::Failed,
        "over 1 MiB"
    );
    // The client's answer cannot be compared: skipped, whatever the shadow did.
    for client in [
        Served {
            status: 503,
            body: Some(ok),
        },
        Served {
            status: 200,
            body: Some(b"garbage"),
        },
        Served {
            status: 200,
            body: None,
        },
    ] {
        assert_eq!(seldon(client, answered(200, ok)), Outcome::Skipped, "{client:?}");
    }
    // Status comparison: the classes only.
    let status = |served, shadow| outcome(&Compare::Status, served, shadow);
    assert_eq!(
        status(
            Served {
                status: 201,
                body: None
            },
            answered(200, b"x")
        ),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(
        status(served, answered(503, b"x")),
        Outcome::Disagree { abs_diff_milli: 0 }
    );
    assert_eq!(
        status(
            Served {
                status: 503,
                body: None
            },
            answered(502, b"")
        ),
        Outcome::Agree { abs_diff_milli: 0 }
    );
    assert_eq!(status(served, ShadowReply::TimedOut), Outcome::Timeout);
    // A callout without a response: a timeout when it took the whole timeout, a failure when sooner.
    assert!(matches!(
        ShadowReply::without_response(1000, 1000),
        ShadowReply::TimedOut
    ));
    assert!(matches!(
        ShadowReply::without_response(3, 1000),
        ShadowReply::Failed
    ));
    let names: Vec<&str> = [
        Outcome::Agree { abs_diff_milli: 1 },
        Outcome::Disagree { abs_diff_milli: 1 },
        Outcome::Failed,
        Outcome::Timeout,
        Outcome::Skipped,
    ]
    .iter()
    .map(|o| o.name())
    .collect();
    assert_eq!(names, ["agree", "disagree", "failed", "timeout", "skipped"]);
}

#[test]
fn a_difference_beyond_one_counts_as_one_so_a_wild_answer_cannot_swamp_the_sum() {
    let served = Rows(vec![vec![0.2, 0.8]]);
    for wild in [vec![1e300, -1e300], vec![f64::MAX, f64::MIN], vec![3.0, 7.0]] {
        let out = rows_outcome(&served, &Rows(vec![wild.clone()]));
        assert_eq!(out.abs_diff_milli(), Some(1000), "{wild:?}");
    }
    assert_eq!(
        rows_outcome(&served, &Rows(vec![vec![0.8, 0.2]])),
        Outcome::Disagree { abs_diff_milli: 600 }
    );
}

proptest! {
    /// Any bytes as either answer: an outcome, never a panic; a compared pair's abs_diff is the largest
    /// difference of two probabilities in [0, 1] when both answers are.
    #[test]
    fn any_answers_give_an_outcome(served in proptest::collection::vec(any::<u8>(), 0..200),
                                   shadow in proptest::collection::vec(any::<u8>(), 0..200),
                                   status in 100u16..600) {
        let out = outcome(&Compare::Seldon, Served { status: 200, body: Some(&served) },
                        ShadowReply::Answered { status, body: Some(&shadow) });
        prop_assert!(out.abs_diff_milli().is_none_or(|d| d <= 1000));
    }

    #[test]
    fn probability_rows_compare_within_bounds(rows in proptest::collection::vec(proptest::collection::vec(0.0f64..=1.0, 2..5), 1..5),
                                              noise in 0.0f64..0.5) {
        let shadow = Rows(rows.iter().map(|r| r.iter().map(|p| (p + noise).min(1.0)).collect()).collect());
        let out = rows_outcome(&Rows(rows.clone()), &shadow);
        let diff = out.abs_diff_milli().expect("same shape: compared");
        prop_assert!(diff <= 500);
    }
}
