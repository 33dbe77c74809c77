//! The decision for one request, rule by rule: forced → sticky → hashed → random.

use predictor_router::router::bucketing::user_bucket;
use predictor_router::router::config::{parse, Config};
use predictor_router::router::decision::{decide, Decision, Reason};
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::response::response_headers;
use serde_json::json;

/// fraud-detection with xgb 90 / rf 10 / shadow 0, override by header and `?predictor=`, user ids.
fn config() -> Config {
    config_with(json!({}))
}

fn config_with(patch: serde_json::Value) -> Config {
    let mut exp = json!({
        "name": "fraud-detection",
        "predictors": [{"name": "xgb", "weight": 90}, {"name": "rf", "weight": 10}, {"name": "shadow", "weight": 0}],
        "sticky": {"user_header": "x-user-id"},
        "override": {"query_param": "predictor"}
    });
    for (k, v) in patch.as_object().unwrap() {
        exp[k] = v.clone();
    }
    parse(json!({ "experiments": [exp] }).to_string().as_bytes()).unwrap()
}

fn run(config: &Config, path: &str, mut request: FakeRequest) -> (Decision, FakeRequest) {
    let decision = decide(&config.experiments()[0], path.as_bytes(), &mut request);
    (decision, request)
}

fn name(config: &Config, d: &Decision) -> String {
    config.experiments()[0].predictors[d.predictor.index()]
        .name
        .clone()
}

#[test]
fn override_header_forces_any_predictor_including_weight_zero() {
    let c = config();
    for target in ["xgb", "rf", "shadow"] {
        let (d, _) = run(
            &c,
            "/",
            FakeRequest::new()
                .header("x-predictor-override", target)
                .cookie("pr-fraud-detection=xgb"),
        );
        assert_eq!(
            (name(&c, &d), d.reason, d.override_rejected),
            (target.to_string(), Reason::Forced, false)
        );
    }
}

#[test]
fn override_query_param_is_form_decoded_and_first_occurrence_counts() {
    let c = config_with(
        json!({"predictors": [{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}, {"name": "r-f", "weight": 0}]}),
    );
    let cases = [
        ("/x?predictor=rf", Some("rf")),
        ("/x?a=1&predictor=r%2Df&predictor=xgb", Some("r-f")),
        ("/x?%70redictor=rf", Some("rf")),
        ("/x?predictor=rf&predictor=xgb", Some("rf")),
        ("/x?predictor=nope&predictor=rf", None),
        ("/x?predictor", None),
        ("/x?predictor=", None),
        ("/x?Predictor=rf", None),
        ("/x?predictor=RF", None),
        ("/x?predictor=r+f", None),
        ("/x?predictor=%ZZ", None),
        ("/x/predictor=rf", None),
    ];
    for (path, expected) in cases {
        let (d, _) = run(&c, path, FakeRequest::new().random(0));
        let forced = (d.reason == Reason::Forced).then(|| name(&c, &d));
        assert_eq!(forced.as_deref(), expected, "path {path}");
    }
}

#[test]
fn override_header_is_read_before_the_query_parameter() {
    let c = config();
    let (d, _) = run(
        &c,
        "/?predictor=xgb",
        FakeRequest::new().header("x-predictor-override", "rf"),
    );
    assert_eq!((name(&c, &d), d.reason), ("rf".into(), Reason::Forced));
    // An unknown header value does not stop the query parameter from forcing, and is not a rejection.
    let (d, _) = run(
        &c,
        "/?predictor=xgb",
        FakeRequest::new().header("x-predictor-override", "nope"),
    );
    assert_eq!(
        (name(&c, &d), d.reason, d.override_rejected),
        ("xgb".into(), Reason::Forced, false)
    );
}

#[test]
fn override_values_are_case_sensitive_first_header_counts_and_empty_is_absent() {
    let c = config();
    let (d, _) = run(
        &c,
        "/",
        FakeRequest::new().header("x-predictor-override", "RF").random(0),
    );
    assert_eq!((d.reason, d.override_rejected), (Reason::Random, true));
    let (d, _) = run(
        &c,
        "/",
        FakeRequest::new()
            .header("x-predictor-override", "nope")
            .header("x-predictor-override", "rf")
            .random(0),
    );
    assert_eq!(
        (d.reason, d.override_rejected),
        (Reason::Random, true),
        "a repeated header counts by its first value"
    );
    let (d, _) = run(
        &c,
        "/?predictor=",
        FakeRequest::new().header("x-predictor-override", "").random(0),
    );
    assert_eq!(
        (d.reason, d.override_rejected),
        (Reason::Random, false),
        "empty values count as absent"
    );
}

#[test]
fn override_rejected_is_flagged_once_even_when_both_sources_name_nothing() {
    let c = config();
    let (d, _) = run(
        &c,
        "/?predictor=bad",
        FakeRequest::new()
            .header("x-predictor-override", "worse")
            .header("x-user-id", "u"),
    );
    assert_eq!((d.reason, d.override_rejected), (Reason::Hashed, true));
}

#[test]
fn disabled_override_ignores_both_sources_and_rejects_nothing() {
    let c = config_with(json!({"override": {"enabled": false, "query_param": "predictor"}}));
    let (d, r) = run(
        &c,
        "/?predictor=rf",
        FakeRequest::new().header("x-predictor-override", "rf").random(0),
    );
    assert_eq!(
        (name(&c, &d), d.reason, d.override_rejected),
        ("xgb".into(), Reason::Random, false)
    );
    assert!(!r.reads.contains(&"x-predictor-override".to_string()));
}

#[test]
fn sticky_cookie_keeps_the_user_on_a_predictor_with_weight() {
    let c = config();
    let (d, _) = run(
        &c,
        "/",
        FakeRequest::new()
            .cookie("pr-fraud-detection=rf")
            .header("x-user-id", "alice"),
    );
    assert_eq!((name(&c, &d), d.reason), ("rf".into(), Reason::Sticky));
}

#[test]
fn sticky_cookie_parsing_rules() {
    let c = config();
    let sticky = |req: FakeRequest| {
        let (d, _) = run(&c, "/", req.random(0));
        (d.reason == Reason::Sticky).then(|| name(&c, &d))
    };
    let rf = Some("rf".to_string());
    assert_eq!(sticky(FakeRequest::new().cookie("a=1;pr-fraud-detection=rf")), rf);
    assert_eq!(
        sticky(FakeRequest::new().cookie(" a = 1 ;  pr-fraud-detection  =  rf ; b=2")),
        rf,
        "white space"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=\"rf\"")),
        rf,
        "quoted value"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=rf; pr-fraud-detection=xgb")),
        rf,
        "first occurrence"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("a=1").cookie("pr-fraud-detection=rf")),
        rf,
        "second cookie line"
    );
    assert_eq!(
        sticky(
            FakeRequest::new()
                .cookie("pr-fraud-detection=rf")
                .cookie("pr-fraud-detection=xgb")
        ),
        rf,
        "first line wins"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("PR-FRAUD-DETECTION=rf")),
        None,
        "names are case-sensitive"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=RF")),
        None,
        "values are case-sensitive"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=shadow")),
        None,
        "weight 0 is not sticky"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=gone")),
        None,
        "unknown predictor"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("pr-fraud-detection=")),
        None,
        "empty value"
    );
    assert_eq!(
        sticky(FakeRequest::new().cookie("xpr-fraud-detection=rf")),
        None,
        "other cookie name"
    );
}

#[test]
fn the_first_cookie_line_is_read_alone_when_it_holds_the_cookie() {
    let c = config();
    let (_, r) = run(
        &c,
        "/",
        FakeRequest::new().cookie("pr-fraud-detection=rf").cookie("x=1"),
    );
    assert!(!r.reads.contains(&"cookie*".to_string()), "reads: {:?}", r.reads);
    let (_, r) = run(
        &c,
        "/",
        FakeRequest::new().cookie("x=1").cookie("pr-fraud-detection=rf"),
    );
    assert!(r.reads.contains(&"cookie*".to_string()));
}

#[test]
fn disabled_cookie_is_neither_read_nor_set() {
    let c = config_with(json!({"sticky": {"cookie": "", "user_header": "x-user-id"}}));
    let (d, r) = run(
        &c,
        "/",
        FakeRequest::new().cookie("pr-fraud-detection=rf").random(0),
    );
    assert_eq!(d.reason, Reason::Random);
    assert!(!r.reads.iter().any(|h| h.starts_with("cookie")));
    assert_eq!(response_headers(&c.experiments()[0], &d).set_cookie, None);
}

#[test]
fn user_header_hashes_to_the_users_bucket() {
    let c = config();
    let table = &c.experiments()[0].buckets;
    for user in ["alice", "bob", "carol", "dave", "user-1", "jos\u{e9}"] {
        let (d, _) = run(&c, "/", FakeRequest::new().header("x-user-id", user));
        assert_eq!(d.reason, Reason::Hashed);
        assert_eq!(
            d.predictor,
            table.predictor_of(user_bucket("fraud-detection", user.as_bytes()))
        );
    }
    // non-UTF-8 ids are hashed as they are
    let (d, _) = run(&c, "/", FakeRequest::new().header("x-user-id", b"\xff\xfe"));
    assert_eq!(
        d.predictor,
        table.predictor_of(user_bucket("fraud-detection", b"\xff\xfe"))
    );
}

#[test]
fn empty_user_id_falls_back_to_random() {
    let c = config();
    let (d, r) = run(
        &c,
        "/",
        FakeRequest::new().header("x-user-id", "").random(u32::MAX),
    );
    assert_eq!(
        (name(&c, &d), d.reason, r.random_draws),
        ("rf".into(), Reason::Random, 1)
    );
}

#[test]
fn random_draws_map_onto_the_bucket_table() {
    let c = config();
    // bucket = draw * 10000 / 2^32; xgb owns [0, 9000), rf [9000, 10000)
    let cases = [
        (0u32, "xgb"),
        (3_865_470_566, "xgb"),
        (3_865_470_567, "rf"),
        (u32::MAX, "rf"),
    ];
    for (draw, expected) in cases {
        let (d, _) = run(&c, "/", FakeRequest::new().random(draw));
        assert_eq!(
            (name(&c, &d).as_str(), d.reason),
            (expected, Reason::Random),
            "draw {draw}"
        );
    }
}

#[test]
fn no_random_number_is_drawn_unless_the_decision_is_random() {
    let c = config();
    for req in [
        FakeRequest::new().header("x-predictor-override", "rf"),
        FakeRequest::new().cookie("pr-fraud-detection=rf"),
        FakeRequest::new().header("x-user-id", "alice"),
    ] {
        let (_, r) = run(&c, "/", req);
        assert_eq!(r.random_draws, 0);
    }
}

#[test]
fn set_cookie_only_for_new_assignments_and_the_response_header_reports_the_predictor() {
    let c =
        config_with(json!({"sticky": {"cookie": "ab", "max_age_seconds": 3600, "user_header": "x-user-id"}}));
    let exp = &c.experiments()[0];
    let cases = [
        (
            FakeRequest::new().header("x-predictor-override", "rf"),
            Reason::Forced,
            None,
        ),
        (FakeRequest::new().cookie("ab=rf"), Reason::Sticky, None),
        (
            FakeRequest::new().header("x-user-id", "alice"),
            Reason::Hashed,
            Some("ab=PRED; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
        ),
        (
            FakeRequest::new().random(7),
            Reason::Random,
            Some("ab=PRED; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
        ),
    ];
    for (req, reason, cookie) in cases {
        let (d, _) = run(&c, "/", req);
        assert_eq!(d.reason, reason);
        let headers = response_headers(exp, &d);
        let predictor = name(&c, &d);
        assert_eq!(headers.report, Some(("x-predictor", predictor.as_str())));
        assert_eq!(
            headers.set_cookie.map(str::to_string),
            cookie.map(|c| c.replace("PRED", &predictor))
        );
    }
    let silent = config_with(json!({"response_header": ""}));
    let (d, _) = run(&silent, "/", FakeRequest::new().random(0));
    assert_eq!(response_headers(&silent.experiments()[0], &d).report, None);
}
