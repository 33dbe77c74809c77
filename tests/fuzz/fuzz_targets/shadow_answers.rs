//! The shadow comparison (contract "Shadow comparison") fed any pair of answers, reported in any order and
//! any number of times: the served answer and the shadow's as arbitrary bytes and statuses, the
//! shadow's end an answer, no answer or never sent. Never a panic; a pair finishes exactly once,
//! whatever is reported after; a compared pair's abs_diff is at most 1000 (one probability's worth).
//!
//! The input is `<served body>|||<shadow body>|||<the rest>`, the rest read as [`Input`], so that the
//! seeds (tests/fuzz/corpus/shadow_answers) can be real Seldon answers for the fuzzer to mutate.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use predictor_router::router::config::Compare;
use predictor_router::router::shadow::compare::{outcome, Outcome, Served, ShadowReply, MAX_VALUE_DIFF};
use predictor_router::router::shadow::{kserve_v1, oip};
use predictor_router::router::shadow::pair::{Pair, ServedEnd, ShadowEnd};
use predictor_router::router::shadow::seldon::read;

#[derive(Arbitrary, Debug)]
enum Report {
    /// The client's answer passed whole (with the served body, or over the copy limit: none).
    ServedComplete { status: u16, whole: bool, latency_ms: u64 },
    ServedGone,
    /// The shadow answered (with the shadow body, or over the copy limit: none).
    ShadowReplied { status: u16, whole: bool, latency_ms: u64 },
    ShadowNoResponse { elapsed_ms: u64 },
    ShadowNotSent,
}

#[derive(Arbitrary, Debug)]
struct Input {
    mode: u8,
    output: String,
    timeout_ms: u32,
    served_status: u16,
    shadow_status: u16,
    reports: Vec<Report>,
}

/// Splits at the first `|||`: (before, after); all of it before when there is none.
fn cut(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(3).position(|w| w == b"|||") {
        Some(at) => (&data[..at], &data[at + 3..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let (served, rest) = cut(data);
    let (shadow, rest) = cut(rest);
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(rest)) else { return };
    // Every mode reads any bytes: Seldon v1, the Open Inference Protocol (the first output, or one
    // named by the input), KServe v1, and status only.
    let compare = match input.mode % 5 {
        0 => Compare::Seldon,
        1 => Compare::Oip { output: None },
        2 => Compare::Oip { output: Some(input.output.clone().into()) },
        3 => Compare::KserveV1,
        _ => Compare::Status,
    };
    let _ = read(served);
    let _ = read(shadow);
    let _ = oip::read(served, Some(&input.output));
    let _ = kserve_v1::read(shadow);
    let direct = outcome(
        &compare,
        Served { status: input.served_status, body: Some(served) },
        ShadowReply::Answered { status: input.shadow_status, body: Some(shadow) },
    );
    // Probabilities differ by at most 1, values by at most MAX_VALUE_DIFF (× 1000 each).
    let bound = if matches!(compare, Compare::Seldon) { 1000 } else { (MAX_VALUE_DIFF * 1000.0) as u64 };
    assert!(direct.abs_diff_milli().is_none_or(|d| d <= bound), "{direct:?}");
    if compare == Compare::Status {
        assert!(matches!(direct, Outcome::Agree { abs_diff_milli: 0 } | Outcome::Disagree { abs_diff_milli: 0 }));
    }

    let mut pair = Pair::new(compare.clone(), input.timeout_ms);
    let mut finished = 0;
    for report in input.reports.into_iter().take(8) {
        let end = match report {
            Report::ServedComplete { status, whole, latency_ms } => pair.served(ServedEnd::Complete {
                status,
                body: whole.then(|| served.to_vec()),
                latency_ms,
            }),
            Report::ServedGone => pair.served(ServedEnd::Gone),
            Report::ShadowReplied { status, whole, latency_ms } => pair.shadow(ShadowEnd::Replied {
                status,
                body: whole.then(|| shadow.to_vec()),
                latency_ms,
            }),
            Report::ShadowNoResponse { elapsed_ms } => pair.shadow(ShadowEnd::NoResponse { elapsed_ms }),
            Report::ShadowNotSent => pair.shadow(ShadowEnd::NotSent),
        };
        if let Some(end) = end {
            finished += 1;
            assert!(end.outcome.abs_diff_milli().is_none_or(|d| d <= bound), "{end:?}");
            assert_eq!(end.outcome.abs_diff_milli().is_some(), end.latencies_ms.is_some(), "{end:?}");
            assert!(pair.is_finished());
        }
    }
    assert!(finished <= 1, "a pair finished {finished} times");
    assert_eq!(finished == 1, pair.is_finished());
});
