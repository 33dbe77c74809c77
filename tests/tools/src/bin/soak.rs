//! `make soak`: SOAK_SECONDS (default 600) of saturating load through Envoy; exits non-zero on failure.
//! SOAK_MODE=all: every feature at once (fixed, adaptive pooled from a real Prometheus, a rollout, a
//! shadow, signed overrides); see `predictor_router_tools::soak_all_features`.

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let duration = std::time::Duration::from_secs(env_or("SOAK_SECONDS", 600));
    let passed = match std::env::var("SOAK_MODE").as_deref() {
        Ok("all") => {
            let report = predictor_router_tools::soak_all_features::run(duration);
            print!("{}", report.render());
            report.passed()
        }
        Ok("") | Ok("mix") | Err(_) => {
            let report =
                predictor_router_tools::soak::run(duration, env_or("SOAK_MEMORY_REQUESTS", 1_000_000));
            print!("{}", report.render());
            report.passed()
        }
        Ok(other) => {
            eprintln!("SOAK_MODE={other}: unknown (mix, the default, or all)");
            false
        }
    };
    if !passed {
        std::process::exit(1);
    }
}
