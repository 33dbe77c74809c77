//! Any bytes as Prometheus's answer to the fleet query (contract "Fleet view"), with any status: totals for
//! exactly the experiment's predictors or a failure the log can name; never a panic. What the totals may
//! hold is bounded: a predictor's reward is at most 1000 per trial, whatever the answer says (so that a
//! compromised Prometheus cannot claim a success rate above 100 %).
#![no_main]

use libfuzzer_sys::fuzz_target;
use predictor_router::router::callout::{answer, parse_status, Answer, Failure};
use predictor_router::router::config::{parse, Experiment};
use predictor_router::router::fleet::answer::totals_of;

const CONFIG: &str = r#"{"experiments":[{"name":"fraud-detection","predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50},{"name":"shadow","weight":0}],
  "adaptive":{"policy":"thompson","pooled":true}}],
  "fleet":{"prometheus":{"cluster":"outbound|9090||prometheus","authority":"prometheus:9090"}}}"#;

thread_local! {
    static EXPERIMENT: Experiment = parse(CONFIG.as_bytes())
        .map(|c| c.into_experiments().remove(0))
        .unwrap_or_else(|e| panic!("the fuzz configuration: {e:?}"));
}

fuzz_target!(|data: &[u8]| {
    // The first three bytes are the `:status` as Envoy would hand it over (often not a number); the
    // rest is the body. Bodies from the seeds start with `{`: a seed is `200{...}`.
    let (status, body) = data.split_at(data.len().min(3));
    let status = parse_status(status).ok_or(Failure::BadStatus);
    let answered: Answer = answer(status, Some(body.to_vec()));
    EXPERIMENT.with(|experiment| {
        if let Ok(totals) = totals_of(&answered, experiment) {
            assert_eq!(totals.arms.len(), experiment.predictors.len());
            for arm in &totals.arms {
                assert!(arm.reward_milli <= arm.trials.saturating_mul(1000), "{arm:?}");
            }
        }
    });
});
