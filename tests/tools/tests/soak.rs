//! The 30-second versions of `make soak` (the mix) and `make soak SOAK_MODE=all` (every feature at
//! once), in `make test`. One at a time: each saturates the machine's two cores.

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn thirty_seconds_of_mixed_load_through_envoy() {
    let _alone = one_at_a_time();
    let report = predictor_router_tools::soak::run(std::time::Duration::from_secs(30), 100_000);
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
}

#[test]
fn thirty_seconds_with_every_feature_at_once() {
    let _alone = one_at_a_time();
    let report = predictor_router_tools::soak_all_features::run(std::time::Duration::from_secs(30));
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
}
