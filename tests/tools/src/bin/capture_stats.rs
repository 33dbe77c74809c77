//! Captures a real Envoy's stats for the `srm` fixtures:
//! `cargo run -p predictor-router-tools --no-default-features --bin capture_stats -- tests/fixtures/srm`
//! The shipped configuration in Envoy (two workers), 2,000 users with an id and 1,000 new visitors;
//! writes `stats-prometheus.txt` (/stats/prometheus, labelled by the shipped stats_tags) and
//! `stats-plain.txt` (/stats).

use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::http::Request;
use predictor_router_e2e::scenario::{predict_path, seed_plugin_config};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/fixtures/srm".into());
    std::fs::create_dir_all(&dir).expect("the output folder");
    let gw = Gateway::start_with(
        seed_plugin_config(),
        GatewayOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    let mut client = gw.client();
    for i in 0..2000 {
        let r = client.send(&Request::predict(predict_path()).header("x-user-id", format!("user-{i:05}")));
        assert!(r.is_ok_and(|r| r.status == 200));
    }
    for _ in 0..1000 {
        let r = client.send(&Request::predict(predict_path()));
        assert!(r.is_ok_and(|r| r.status == 200));
    }
    let prometheus = gw
        .envoy
        .admin_get("/stats/prometheus")
        .expect("/stats/prometheus")
        .1;
    let plain = gw.envoy.admin_get("/stats").expect("/stats").1;
    let keep = |text: &str, needle: &str| -> String {
        text.lines()
            .filter(|l| l.contains(needle))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    std::fs::write(
        format!("{dir}/stats-prometheus.txt"),
        keep(&prometheus, "predictor_router"),
    )
    .expect("write");
    std::fs::write(format!("{dir}/stats-plain.txt"), keep(&plain, "predictor_router")).expect("write");
    println!("wrote {dir}/stats-prometheus.txt and {dir}/stats-plain.txt");
}
