//! The shadow comparison with the model servers most models on Istio are served by: MLServer over the
//! Open Inference Protocol v2 (the protocol of KServe v2, Triton and Seldon Core 2), once on the
//! `predict_proba` output (rows of class probabilities) and once on `predict` (INT64 labels), and
//! KServe's own model server over KServe v1. The served predictors and the shadow are the seed's fraud
//! models, from the same files in each server; the gateway's agree, disagree and abs_diff_milli per
//! served predictor must equal `tests/models/offline.py`'s recomputation from those files and rows.
//! Clients see nothing of the shadow: every answer 200, from the predictor the filter chose.
//!
//! The servers come from PyPI (`make model-servers`); a missing one fails the test, never skips it.

use predictor_router_e2e::model_servers::{compare_with_offline, kserve_v1, oip, ModelServer};

#[test]
fn mlserver_probabilities_over_the_open_inference_protocol_are_compared_as_offline() {
    assert_equal(compare_with_offline(
        oip("predict_proba"),
        ModelServer::mlserver,
        200,
    ));
}

#[test]
fn mlserver_labels_over_the_open_inference_protocol_are_compared_as_offline() {
    assert_equal(compare_with_offline(oip("predict"), ModelServer::mlserver, 200));
}

#[test]
fn kserve_v1_predictions_are_compared_as_offline() {
    assert_equal(compare_with_offline(kserve_v1(), ModelServer::kserve, 200));
}

/// The gateway's tally per served predictor equals the offline one (abs_diff_milli within the
/// rounding of the last digit: one milli per compared pair), every copy was compared, and the shadow
/// agrees on most rows.
fn assert_equal(run: predictor_router_e2e::model_servers::Compared) {
    println!("{}", run.report());
    assert_eq!(
        run.other.values().sum::<u64>(),
        0,
        "every copy compared: {:?}",
        run.other
    );
    for predictor in ["xgb", "rf"] {
        let (agree, disagree, milli) = run.gateway[predictor];
        let (o_agree, o_disagree, o_milli) = run.offline[predictor];
        assert_eq!((agree, disagree), (o_agree, o_disagree), "{predictor}");
        assert!(
            milli.abs_diff(o_milli) <= agree + disagree,
            "{predictor}: {milli} vs {o_milli} offline"
        );
        assert!(agree > disagree, "{predictor}: the shadow agrees on most rows");
    }
}
