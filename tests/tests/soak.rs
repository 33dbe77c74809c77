//! The 30-second version of `make soak`, in `make test`.

#[test]
fn thirty_seconds_of_mixed_load_through_envoy() {
    let report = predictor_router_tests::soak::run(std::time::Duration::from_secs(30), 100_000);
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
}
