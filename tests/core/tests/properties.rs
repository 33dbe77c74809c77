//! Properties of the core over generated inputs (proptest).

use predictor_router::router::bucketing::{BucketTable, BUCKETS};
use predictor_router::router::config::{parse, Config, HostPattern};
use predictor_router::router::cookies::find_in_line;
use predictor_router::router::decision::{decide, Reason};
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::ids::ExperimentId;
use predictor_router::router::matching::host_of;
use predictor_router::router::metrics::StatusClass;
use predictor_router::router::table::RoutingTable;
use proptest::prelude::*;
use serde_json::json;

fn config_for(weights: &[u32]) -> Config {
    let predictors: Vec<_> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| json!({"name": format!("p{i}"), "weight": w}))
        .collect();
    let exp = json!({"name": "exp", "predictors": predictors, "sticky": {"user_header": "x-user-id"}});
    parse(json!({ "experiments": [exp] }).to_string().as_bytes()).unwrap()
}

fn weights() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..=1000, 2..6).prop_filter("some weight > 0", |w| w.iter().any(|x| *x > 0))
}

/// |observed - expected| within 5 standard deviations plus the 1/10000 bucket quantisation.
fn assert_split_close(counts: &[u64], weights: &[u32], n: u64) {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    for (i, (count, w)) in counts.iter().zip(weights).enumerate() {
        let p = f64::from(*w) / total as f64;
        let expected = p * n as f64;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        let tolerance = 5.0 * sd + n as f64 / f64::from(BUCKETS) + 1.0;
        assert!(
            (*count as f64 - expected).abs() <= tolerance,
            "predictor {i}: {count} of {n}, expected {expected:.0} ± {tolerance:.0} (weights {weights:?})"
        );
        if *w == 0 {
            assert_eq!(*count, 0, "weight 0 got traffic");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hashed_split_follows_the_weights(weights in weights(), salt in any::<u32>()) {
        let config = config_for(&weights);
        let n = 20_000u64;
        let mut counts = vec![0u64; weights.len()];
        for u in 0..n {
            let mut req = FakeRequest::new().header("x-user-id", format!("user-{salt}-{u}"));
            let d = decide(&config.experiments()[0], b"/", &mut req);
            prop_assert_eq!(d.reason, Reason::Hashed);
            counts[d.predictor.index()] += 1;
        }
        assert_split_close(&counts, &weights, n);
    }

    #[test]
    fn random_split_follows_the_weights(weights in weights(), seed in any::<u64>()) {
        let config = config_for(&weights);
        let n = 20_000u64;
        let mut state = seed | 1;
        let mut counts = vec![0u64; weights.len()];
        for _ in 0..n {
            // xorshift64*: an independent uniform source
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
            let draw = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32;
            let d = decide(&config.experiments()[0], b"/", &mut FakeRequest::new().random(draw));
            prop_assert_eq!(d.reason, Reason::Random);
            counts[d.predictor.index()] += 1;
        }
        assert_split_close(&counts, &weights, n);
    }

    #[test]
    fn the_same_user_always_gets_the_same_predictor(
        weights in weights(), user in prop::collection::vec(any::<u8>(), 1..64), draws in any::<(u32, u32)>()
    ) {
        let config = config_for(&weights);
        let exp = &config.experiments()[0];
        let a = decide(exp, b"/", &mut FakeRequest::new().header("x-user-id", &user).random(draws.0));
        let b = decide(exp, b"/x?y=z", &mut FakeRequest::new().header("x-user-id", &user).random(draws.1));
        prop_assert_eq!(a, b);
        prop_assert!(exp.predictors[a.predictor.index()].weight > 0);
    }

    #[test]
    fn moving_weight_to_a_neighbour_never_moves_the_neighbours_users(
        weights in weights(), giver_seed in any::<usize>(), to_left in any::<bool>(), fraction in 0.0f64..=1.0
    ) {
        let giver = giver_seed % weights.len();
        let receiver = if to_left { giver.checked_sub(1) } else { Some(giver + 1).filter(|r| *r < weights.len()) };
        let Some(receiver) = receiver else { return Ok(()) };
        let moved = (f64::from(weights[giver]) * fraction) as u32;
        let mut ramped = weights.clone();
        ramped[giver] -= moved;
        ramped[receiver] += moved;
        let before = BucketTable::new(weights.iter().copied());
        let after = BucketTable::new(ramped.iter().copied());
        for b in 0..BUCKETS {
            let old = before.predictor_of(b);
            if old.index() != giver {
                prop_assert_eq!(after.predictor_of(b), old, "bucket {} moved ({:?} -> {:?})", b, weights, ramped);
            }
        }
    }

    #[test]
    fn arbitrary_request_bytes_never_panic(
        cookies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..4),
        override_value in prop::collection::vec(any::<u8>(), 0..40),
        user in prop::collection::vec(any::<u8>(), 0..80),
        path in prop::collection::vec(any::<u8>(), 0..200),
        authority in prop::collection::vec(any::<u8>(), 0..80),
        status in prop::collection::vec(any::<u8>(), 0..6),
        draw in any::<u32>(),
    ) {
        let config = RoutingTable::parse(json!({"experiments": [
            {"name": "a", "match": {"hosts": ["*.x.io", "y.io"]}, "predictors": [{"name": "p", "weight": 1}]},
            {"name": "b", "predictors": [{"name": "p", "weight": 1}, {"name": "q", "weight": 0}],
             "sticky": {"user_header": "x-user-id"}, "override": {"query_param": "predictor"}}
        ]}).to_string().as_bytes()).unwrap();
        let matched = config.match_request(&authority, &path);
        prop_assert_eq!(matched.is_some(), path.starts_with(b"/"), "experiment b matches any host and any path under /");
        let Some(matched) = matched.or(Some(ExperimentId(1))) else { return Ok(()) };
        let mut req = FakeRequest::new().header("x-predictor-override", &override_value).header("x-user-id", &user).random(draw);
        for line in &cookies {
            req = req.header("cookie", line);
        }
        let exp = config.experiment(matched).unwrap();
        let d = decide(exp, &path, &mut req);
        prop_assert!(d.predictor.index() < exp.predictors.len());
        let _ = StatusClass::of(&status);
        let _ = host_of(&authority);
        for line in &cookies {
            let _ = find_in_line(line, b"pr-b");
        }
    }

    #[test]
    fn arbitrary_configuration_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn the_host_index_agrees_with_a_linear_scan(
        specs in prop::collection::vec((0usize..6, prop::sample::select(vec!["/", "/a", "/a/b", "/b"])), 1..12),
        host in prop::sample::select(vec!["a.com", "x.a.com", "y.x.a.com", "b.com", "A.COM:80", "com", ""]),
        path in prop::sample::select(vec!["/", "/a", "/a/b/c", "/b", "/c"]),
    ) {
        let patterns = ["*", "a.com", "*.a.com", "*.com", "b.com", "*.x.a.com"];
        let exps: Vec<_> = specs.iter().enumerate().map(|(i, (p, prefix))| json!({
            "name": format!("e{i}"),
            "match": {"hosts": [patterns[*p]], "path_prefix": prefix},
            "predictors": [{"name": "p", "weight": 1}]
        })).collect();
        let config = RoutingTable::parse(json!({ "experiments": exps }).to_string().as_bytes()).unwrap();
        let h = host_of(host.as_bytes());
        let linear = config.experiments().iter().position(|e| {
            path.as_bytes().starts_with(e.path_prefix.as_bytes()) && e.hosts.iter().any(|pattern| match pattern {
                HostPattern::Any => true,
                HostPattern::Exact(x) => x.as_bytes() == h.as_slice(),
                HostPattern::Subdomain(s) => h.len() > s.len() + 1 && h.ends_with(s.as_bytes()) && h[h.len() - s.len() - 1] == b'.',
            })
        });
        prop_assert_eq!(config.match_request(host.as_bytes(), path.as_bytes()), linear.map(ExperimentId::from_index));
    }
}
