//! The per-request path of the core fed with arbitrary requests (header maps, cookies, overrides,
//! paths, authorities, statuses) against an arbitrary (valid) configuration: never panics, and only
//! ever picks a configured predictor, for the reason the rules allow.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use predictor_router::router::decision::Reason;
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::metrics::StatusClass;
use predictor_router::router::plan::{plan_request, plan_response, ConfiguredWeights};
use predictor_router::router::table::RoutingTable;

#[derive(Arbitrary, Debug)]
struct Input {
    weights: Vec<u16>,
    query_override: bool,
    authority: Vec<u8>,
    path: Vec<u8>,
    headers: Vec<(u8, Vec<u8>)>,
    random: u32,
    status: Vec<u8>,
}

const NAMES: [&str; 6] = ["cookie", "x-predictor-override", "x-user-id", "x-predictor", "x-other", "cookie"];

fuzz_target!(|input: Input| {
    let mut weights: Vec<u32> = input.weights.iter().take(8).map(|w| u32::from(*w)).collect();
    if weights.iter().all(|w| *w == 0) {
        weights.push(1);
    }
    let predictors: Vec<String> =
        weights.iter().enumerate().map(|(i, w)| format!(r#"{{"name":"p{i}","weight":{w}}}"#)).collect();
    let query = if input.query_override { r#","query_param":"predictor""# } else { "" };
    let config = format!(
        r#"{{"experiments":[{{"name":"exp","match":{{"hosts":["*.example.com","a.io"]}},"predictors":[{}],"sticky":{{"user_header":"x-user-id"}},"override":{{"header":"x-predictor-override"{query}}}}},{{"name":"any","predictors":[{{"name":"only","weight":1}}]}}]}}"#,
        predictors.join(",")
    );
    let table = RoutingTable::parse(config.as_bytes()).expect("generated configurations are valid");
    let mut request = FakeRequest::new()
        .header(":authority", &input.authority)
        .header(":path", &input.path)
        .random(input.random);
    for (k, v) in input.headers.iter().take(16) {
        request = request.header(NAMES[usize::from(*k) % NAMES.len()], v);
    }
    let _ = StatusClass::of(&input.status);
    let plan = plan_request(&table, &ConfiguredWeights, &mut request);
    let Some(routed) = plan.routed else {
        assert!(!input.path.starts_with(b"/"), "the catch-all experiment matches every path under /");
        return;
    };
    let experiment = table.experiment(routed.experiment).expect("a configured experiment");
    let decision = routed.decision;
    let predictor = experiment.predictor(decision.predictor).expect("a configured predictor");
    if decision.reason != Reason::Forced {
        assert!(predictor.weight > 0, "only an override reaches a weight-0 predictor");
    }
    assert_eq!(plan.set, Some((experiment.routing_header.as_str(), predictor.name.as_str())));
    let response = plan_response(&table, &routed, &input.status, None).expect("a response plan");
    if let Some((_, name)) = response.report {
        assert_eq!(name, predictor.name);
    }
    if let Some(cookie) = response.set_cookie {
        assert!(cookie.starts_with(&format!("pr-{}={}; ", experiment.name, predictor.name)));
    }
});
