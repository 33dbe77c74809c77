//! The per-request path of the core fed with arbitrary requests (header maps, cookies, overrides,
//! paths, authorities, statuses) against an arbitrary (valid) configuration: never panics, and only
//! ever picks a configured predictor, for the reason the rules allow.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use predictor_router::router::config::parse;
use predictor_router::router::decision::{decide, Reason, RequestPort};
use predictor_router::router::metrics::StatusClass;
use predictor_router::router::response::response_headers;

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

struct Port<'a> {
    headers: &'a [(String, Vec<u8>)],
    random: u32,
}

impl RequestPort for Port<'_> {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
    fn random_u32(&mut self) -> u32 {
        self.random
    }
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
    let config = parse(config.as_bytes()).expect("generated configurations are valid");
    let headers: Vec<(String, Vec<u8>)> =
        input.headers.iter().take(16).map(|(k, v)| (NAMES[usize::from(*k) % NAMES.len()].to_string(), v.clone())).collect();
    let _ = StatusClass::of(&input.status);
    let Some(index) = config.match_request(&input.authority, &input.path) else {
        assert!(!input.path.starts_with(b"/"), "the catch-all experiment matches every path under /");
        return;
    };
    let experiment = &config.experiments()[index];
    let decision = decide(experiment, &input.path, &mut Port { headers: &headers, random: input.random });
    let predictor = &experiment.predictors[decision.predictor];
    if decision.reason != Reason::Forced {
        assert!(predictor.weight > 0, "only an override reaches a weight-0 predictor");
    }
    let response = response_headers(experiment, &decision);
    if let Some((_, name)) = response.report {
        assert_eq!(name, predictor.name);
    }
    if let Some(cookie) = response.set_cookie {
        assert!(cookie.starts_with(&format!("pr-{}={}; ", experiment.name, predictor.name)));
    }
});
