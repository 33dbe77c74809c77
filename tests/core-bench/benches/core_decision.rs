//! ns per decision of the native core, per path: `cargo bench -p core-bench`.
//! For quick iteration on the core; `make bench` measures the module inside Envoy.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use predictor_router::router::config::parse;
use predictor_router::router::decision::{decide, RequestPort};
use predictor_router::router::response::response_headers;

const PATH: &[u8] = b"/seldon/default/fraud-detection/api/v1.0/predictions";
const CONFIG: &str = r#"{"experiments":[{"name":"fraud-detection","match":{"path_prefix":"/seldon/default/fraud-detection/"},
  "predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50}],
  "sticky":{"user_header":"x-user-id"},"override":{"query_param":"predictor"}}]}"#;

/// One request header, borrowed: the benchmark measures the core, not copying a fake request.
struct OneHeader(&'static str, &'static [u8]);

impl RequestPort for OneHeader {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        (name == self.0).then(|| self.1.to_vec())
    }
    fn header_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.header(name).into_iter().collect()
    }
    fn random_u32(&mut self) -> u32 {
        0x9e37_79b9
    }
}

fn decisions(c: &mut Criterion) {
    let config = parse(CONFIG.as_bytes()).unwrap();
    let experiment = &config.experiments()[0];
    let paths = [
        ("forced", "x-predictor-override", &b"rf"[..]),
        ("sticky", "cookie", &b"session=1; pr-fraud-detection=rf"[..]),
        ("hashed", "x-user-id", &b"alice"[..]),
        ("random", "none", &b""[..]),
    ];
    let mut group = c.benchmark_group("decision");
    for (name, header, value) in paths {
        group.bench_function(name, |b| {
            b.iter(|| {
                let decision = decide(experiment, black_box(PATH), &mut OneHeader(header, value));
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
