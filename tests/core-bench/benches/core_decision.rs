//! ns per decision of the native core, per path: `cargo bench -p core-bench`.
//! For quick iteration on the core; `make bench` measures the module inside Envoy.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::plan::{plan_request, plan_response, ConfiguredWeights};
use predictor_router::router::table::RoutingTable;

const PATH: &str = "/seldon/default/fraud-detection/api/v1.0/predictions";
const CONFIG: &str = r#"{"experiments":[{"name":"fraud-detection","match":{"path_prefix":"/seldon/default/fraud-detection/"},
  "predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50}],
  "sticky":{"user_header":"x-user-id"},"override":{"query_param":"predictor"}}]}"#;

/// The request plan and the response plan of one request, per decision path (the fake request is
/// cloned outside the measurement).
fn decisions(c: &mut Criterion) {
    let table = RoutingTable::parse(CONFIG.as_bytes()).unwrap();
    let paths = [
        ("forced", "x-predictor-override", &b"rf"[..]),
        ("sticky", "cookie", &b"session=1; pr-fraud-detection=rf"[..]),
        ("hashed", "x-user-id", &b"alice"[..]),
        ("random", "none", &b""[..]),
    ];
    let mut group = c.benchmark_group("decision");
    for (name, header, value) in paths {
        let request = FakeRequest::new()
            .header(":path", PATH)
            .header(header, value)
            .random(0x9e37_79b9);
        group.bench_function(name, |b| {
            b.iter_batched(
                || request.clone(),
                |mut request| {
                    let plan = plan_request(&table, &ConfiguredWeights, &mut request);
                    let routed = plan.routed.unwrap();
                    black_box(plan_response(&table, &routed, b"200", None));
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    c.bench_function("match_request", |b| {
        b.iter(|| {
            black_box(table.match_request(black_box(b"models.example.com:443"), black_box(PATH.as_bytes())))
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
