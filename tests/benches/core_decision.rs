//! ns per decision of the native core, per path: `cargo bench -p predictor-router-tests --bench core_decision`.
//! For quick iteration on the core; `make bench` measures the module inside Envoy.

use criterion::{criterion_group, criterion_main, Criterion};
use predictor_router::router::config::parse;
use predictor_router::router::decision::decide;
use predictor_router::router::response::response_headers;
use predictor_router_tests::fake_request::FakeRequest;
use predictor_router_tests::scenario::seed_plugin_config;
use std::hint::black_box;

const PATH: &[u8] = b"/seldon/default/fraud-detection/api/v1.0/predictions";

fn decisions(c: &mut Criterion) {
    let config = parse(seed_plugin_config().to_string().as_bytes()).unwrap();
    let experiment = &config.experiments()[0];
    let requests = [
        ("forced", FakeRequest::new().header("x-predictor-override", "rf")),
        (
            "sticky",
            FakeRequest::new().cookie("session=1; pr-fraud-detection=rf"),
        ),
        ("hashed", FakeRequest::new().header("x-user-id", "alice")),
        ("random", FakeRequest::new().random(12345)),
    ];
    let mut group = c.benchmark_group("decision");
    for (name, request) in requests {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut r = request.clone();
                let decision = decide(experiment, black_box(PATH), &mut r);
                black_box(response_headers(experiment, &decision));
            })
        });
    }
    group.finish();
    c.bench_function("match_request", |b| {
        b.iter(|| black_box(config.match_request(black_box(b"models.example.com:443"), black_box(PATH))))
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
