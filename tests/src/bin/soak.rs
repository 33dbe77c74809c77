//! `make soak`: SOAK_SECONDS (default 600) of saturating load through Envoy; exits non-zero on failure.

fn main() {
    let seconds = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let requests = std::env::var("SOAK_MEMORY_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let report = predictor_router_tests::soak::run(std::time::Duration::from_secs(seconds), requests);
    print!("{}", report.render());
    if !report.passed() {
        std::process::exit(1);
    }
}
