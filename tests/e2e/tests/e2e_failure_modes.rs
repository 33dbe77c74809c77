//! What Envoy does after a wasm trap, for each failure policy, measured with a TEST-ONLY module
//! (tests/floor-filters/trap-on-demand: routes to rf, panics when a request carries x-trap). The
//! shipped module is never made to trap.

use std::time::{Duration, Instant};

use predictor_router_e2e::bootstrap::Delivery;
use predictor_router_e2e::envoy::{Envoy, EnvoyOptions};
use predictor_router_e2e::http::{HttpClient, Request};
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::{repo_root, seed_plugin_config};
use predictor_router_e2e::upstream::PredictorServer;

struct Outcome {
    trap_status: u16,
    /// (milliseconds after the trap, status, predictor that answered)
    after: Vec<(u128, u16, Option<String>)>,
    log: String,
}

fn trap_once(policy: &str) -> Outcome {
    let module = repo_root().join("dist/test/trap_on_demand.wasm");
    assert!(
        module.is_file(),
        "{} is missing: run `make test` (it builds the test-only module)",
        module.display()
    );
    let upstreams = [PredictorServer::start("xgb"), PredictorServer::start("rf")];
    let mut options = EnvoyOptions::new(
        seed_plugin_config(),
        upstreams.iter().map(|u| (u.name.clone(), u.port)).collect(),
    );
    options.delivery = Delivery::Static;
    options.failure_policy = policy.into();
    options.module = Some(module);
    let envoy = Envoy::start(options).unwrap_or_else(|f| panic!("{}", f.log));
    let mut client = HttpClient::new(envoy.listener_port);
    let before = client.send(&Request::predict(predict_path())).unwrap();
    assert_eq!(
        (before.status, before.served_by()),
        (200, Some("rf")),
        "the module routes to rf before the trap"
    );

    let trapped_at = Instant::now();
    let trap_status = HttpClient::new(envoy.listener_port)
        .send(&Request::predict(predict_path()).header("x-trap", "1"))
        .unwrap()
        .status;
    let mut after = Vec::new();
    while trapped_at.elapsed() < Duration::from_millis(2500) {
        let r = HttpClient::new(envoy.listener_port)
            .send(&Request::predict(predict_path()))
            .unwrap();
        after.push((
            trapped_at.elapsed().as_millis(),
            r.status,
            r.served_by().map(str::to_string),
        ));
        std::thread::sleep(Duration::from_millis(50));
    }
    Outcome {
        trap_status,
        after,
        log: envoy.log(),
    }
}

fn summary(policy: &str, o: &Outcome) -> String {
    let first_rf = o
        .after
        .iter()
        .find(|(_, s, p)| *s == 200 && p.as_deref() == Some("rf"))
        .map(|(ms, _, _)| *ms);
    format!(
        "{policy}: trapping request -> {}; next {} requests over 2.5 s: {} x 503, {} served by xgb (default route), {} by rf (filter working){}",
        o.trap_status,
        o.after.len(),
        o.after.iter().filter(|(_, s, _)| *s == 503).count(),
        o.after.iter().filter(|(_, s, p)| *s == 200 && p.as_deref() == Some("xgb")).count(),
        o.after.iter().filter(|(_, s, p)| *s == 200 && p.as_deref() == Some("rf")).count(),
        first_rf.map_or(String::new(), |ms| format!("; filter back after {ms} ms"))
    )
}

#[test]
fn fail_closed_answers_503_until_the_configuration_changes() {
    let o = trap_once("FAIL_CLOSED");
    println!("{}", summary("FAIL_CLOSED", &o));
    assert!(
        o.log.contains("trap requested by x-trap"),
        "the panic message is in Envoy's log"
    );
    assert_eq!(o.trap_status, 503);
    assert!(
        o.after.iter().all(|(_, s, _)| *s == 503),
        "every later request fails: {:?}",
        o.after
    );
}

#[test]
fn fail_open_skips_the_filter_and_the_default_route_answers() {
    let o = trap_once("FAIL_OPEN");
    println!("{}", summary("FAIL_OPEN", &o));
    assert!(
        o.after
            .iter()
            .all(|(_, s, p)| *s == 200 && p.as_deref() == Some("xgb")),
        "{:?}",
        o.after
    );
}

#[test]
fn fail_reload_brings_a_fresh_vm_back() {
    let o = trap_once("FAIL_RELOAD");
    println!("{}", summary("FAIL_RELOAD", &o));
    let recovered = o
        .after
        .iter()
        .find(|(_, s, p)| *s == 200 && p.as_deref() == Some("rf"));
    let (ms, _, _) = recovered.unwrap_or_else(|| panic!("no recovery within 2.5 s: {:?}", o.after));
    assert!(*ms < 2500);
    let tail = o.after.iter().skip_while(|(t, _, _)| t <= ms);
    assert!(
        tail.clone()
            .all(|(_, s, p)| *s == 200 && p.as_deref() == Some("rf")),
        "stays recovered: {:?}",
        o.after
    );
}
