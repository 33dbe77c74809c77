//! `make demo-seldon`: the seed's fraud-detection A/B test with real Seldon Core v1 predictors (an
//! XGBoost and a scikit-learn random forest model process), a bandit learning from Seldon's feedback
//! API at the gateway, and a report. Exits non-zero if anything looked wrong.

use std::time::{Duration, Instant};

use predictor_router_e2e::envoy::envoy_binary;
use predictor_router_e2e::scenario::{feedback_path, predict_path};
use predictor_router_e2e::seldon::{
    feedback_plugin_config, feedback_rollout_config, gateway, held_out_rows, predict_rows_as_both_cookies,
    run_users, shadow_at_gateway, shadow_gateway, shadow_offline, shadow_outcomes, start_models,
    start_models_serving, Scored,
};

// Enough rounds that the bandit settles on the more accurate model on every run: xgb is about 4 points
// more accurate, and a burn-in of 60 outcomes per model can still favour rf for a while by chance;
// the 5 % floor keeps xgb learning until its posterior takes the lead back.
const ROUNDS: usize = 12;
const USERS_PER_ROUND: usize = 80;
const ROWS_PER_USER: usize = 3;
const THREADS: usize = 8;

fn main() {
    let started = Instant::now();
    println!("predictor-router demo-seldon: fraud detection with real Seldon Core v1 predictors");
    println!(
        "  starting two seldon-core-microservice processes (seldon-core 1.18.2) on 127.0.0.1, each training"
    );
    println!("  on 4,000 synthetic transactions (sklearn make_classification, ~11 % fraud, fixed seed)...");
    let models = start_models();
    for m in &models {
        println!(
            "    {:<4} ready on 127.0.0.1:{} ({})",
            m.kind,
            m.port,
            if m.kind == "xgb" {
                "XGBoost, 200 trees"
            } else {
                "random forest, 5 shallow trees"
            }
        );
    }
    let config = feedback_plugin_config(1, 60);
    println!(
        "  Envoy {} (V8, 2 workers), prefix /seldon/default/fraud-detection/ rewritten to / as Seldon's VirtualService does",
        envoy_binary().display()
    );
    println!("  adaptive: {}", config["experiments"][0]["adaptive"]);
    let envoy = gateway(config, &models);
    let (rows, labels) = held_out_rows();
    let data: Vec<_> = rows.into_iter().zip(labels).collect();
    println!(
        "  clients: {USERS_PER_ROUND} new users a round, each with a cookie jar, {ROWS_PER_USER} held-out rows each: prediction \
         via {}, then feedback via {} (reward 1 when the prediction matched the label)",
        predict_path(),
        feedback_path()
    );
    println!();
    println!(
        "   round  {:>24}  {:>18}",
        "allocation before (share_bp)", "new users → xgb / rf"
    );
    let share = |p: &str| envoy.counter(&format!("predictor_router.fraud-detection.{p}.share_bp"));
    let mut all: Vec<Scored> = Vec::new();
    for round in 0..ROUNDS {
        let before = (share("xgb"), share("rf"));
        let scored = run_users(
            envoy.listener_port,
            &data,
            round * USERS_PER_ROUND,
            USERS_PER_ROUND,
            ROWS_PER_USER,
            THREADS,
        );
        let new_to = |p: &str| scored.iter().filter(|s| s.first && s.predictor == p).count();
        println!(
            "   {:>5}  xgb {:>5} rf {:>5}            {:>4} / {:<4}",
            round + 1,
            before.0,
            before.1,
            new_to("xgb"),
            new_to("rf")
        );
        all.extend(scored);
        std::thread::sleep(Duration::from_millis(1200));
    }
    println!("   final  xgb {:>5} rf {:>5}", share("xgb"), share("rf"));
    println!();

    let counters = envoy.counters();
    let counter = |name: String| counters.get(&name).copied().unwrap_or(0);
    println!(
        "   {:<9} {:>8} {:>16} {:>20} {:>22} {:>20}",
        "predictor",
        "requests",
        "client accuracy",
        "feedback sent",
        "received by the model",
        "gateway outcomes"
    );
    let mut consistent = true;
    for model in &models {
        let p = model.kind.as_str();
        let mine: Vec<&Scored> = all.iter().filter(|s| s.predictor == p).collect();
        let correct = mine.iter().filter(|s| s.correct).count();
        let sent = mine.iter().filter(|s| s.feedback_status == 200).count() as u64;
        let (received, rewards) = model.feedback_received();
        let trials = counter(format!("predictor_router.fraud-detection.{p}.outcome.trials"));
        let reward = counter(format!(
            "predictor_router.fraud-detection.{p}.outcome.reward_milli"
        ));
        println!(
            "   {:<9} {:>8} {:>15.1}% {:>20} {:>14} (Σ {:>4.0}) {:>11} (Σ {:>4})",
            p,
            mine.len(),
            100.0 * correct as f64 / mine.len().max(1) as f64,
            sent,
            received,
            rewards,
            trials,
            reward / 1000
        );
        consistent &= received == sent && trials == sent && reward / 1000 == correct as u64;
    }
    let log = envoy.log();
    let moves: Vec<&str> = log.lines().filter(|l| l.contains(" allocation ")).collect();
    println!();
    for line in moves.iter().take(4) {
        println!(
            "   log: predictor_router: {}",
            line.split("predictor_router: ").last().unwrap_or(line)
        );
    }
    let failed = all.iter().filter(|s| s.feedback_status != 200).count();
    let wasm_errors = envoy.wasm_errors();
    println!();
    println!(
        "{} predictions and {} feedback requests, {failed} feedback not 200, {} wasm errors, {:.1} s",
        all.len(),
        all.len(),
        wasm_errors.len(),
        started.elapsed().as_secs_f64()
    );
    let learned = share("xgb") > share("rf");
    println!(
        "{}",
        if consistent {
            "every feedback reached its model and was counted once at the gateway"
        } else {
            "MISMATCH between feedback sent, received by the models and counted at the gateway"
        }
    );
    println!(
        "{}",
        if learned {
            "the bandit sends most new users to the more accurate model (xgb)"
        } else {
            "the bandit has not (yet) preferred xgb"
        }
    );
    let rolled_back = rollout_part();
    let shadow_agrees = shadow_part();
    if !(consistent
        && learned
        && failed == 0
        && wasm_errors.is_empty()
        && !moves.is_empty()
        && rolled_back
        && shadow_agrees)
    {
        std::process::exit(1);
    }
}

/// The rollout: rf is now a deliberately bad model (a forest trained on shuffled labels), rolled out at
/// 50 % from now and judged on Seldon feedback; the guard rolls it back.
fn rollout_part() -> bool {
    println!();
    println!("rollout: rf replaced by a bad model (a random forest trained on shuffled labels), rolled out at 50 %");
    println!("  and judged on Seldon feedback (reward feedback, update_seconds 1, min_outcomes 50)");
    let models = start_models_serving(&[("xgb", "xgb"), ("rf", "rf-shuffled")]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let envoy = gateway(feedback_rollout_config(now - 1, 50), &models);
    let (rows, labels) = held_out_rows();
    let data: Vec<_> = rows.into_iter().zip(labels).collect();
    let counter = |name: &str| envoy.counter(&format!("predictor_router.fraud-detection.{name}"));
    println!("   {:>5}  {:>16}  {:>11}", "users", "rf outcomes", "rolled back");
    let mut users = 0;
    while users < 600 && counter("rollout.rolled_back") == 0 {
        run_users(
            envoy.listener_port,
            &data,
            1000 + users,
            40,
            ROWS_PER_USER,
            THREADS,
        );
        users += 40;
        std::thread::sleep(Duration::from_millis(1100));
        println!(
            "   {users:>5}  {:>16}  {:>11}",
            counter("rf.outcome.trials"),
            if counter("rollout.rolled_back") == 1 {
                "yes"
            } else {
                "no"
            }
        );
    }
    let log = envoy.log();
    let line = log.lines().find(|l| l.contains("rollout rolled back"));
    if let Some(line) = line {
        println!(
            "   log: predictor_router: {}",
            line.split("predictor_router: ").last().unwrap_or(line)
        );
    }
    let ok = line.is_some() && envoy.wasm_errors().is_empty();
    println!(
        "{}",
        if ok {
            "the guard rolled the bad model back on its feedback: new users and its cookie holders go to xgb"
        } else {
            "the bad model was NOT rolled back"
        }
    );
    ok
}

/// The shadow: a third model process (rf-v2, a deeper forest) gets a copy of every prediction; the
/// gateway compares its answer with the one the client got and counts agreement per served predictor,
/// checked against the same comparison recomputed offline in Python.
fn shadow_part() -> bool {
    const ROWS: usize = 600;
    println!();
    println!("shadow: a third seldon-core-microservice, rf-v2 (random forest, 12 trees of depth 6), as the shadow of");
    println!("  fraud-detection: every prediction copied (percent 100), compared with the client's answer at the gateway");
    let mut models = start_models_serving(&[("xgb", "xgb"), ("rf", "rf"), ("rf-v2", "rf-v2")]);
    let Some(shadow) = models.pop() else {
        return false;
    };
    let mut config = predictor_router_e2e::shadow::plugin_config(serde_json::json!({"timeout_ms": 5000}));
    config["experiments"][0]["shadow"]["path_prefix"] = serde_json::json!("/");
    println!("  shadow: {}", config["experiments"][0]["shadow"]);
    let envoy = shadow_gateway(config, &models, &shadow);
    let (rows, _) = held_out_rows();
    let rows = &rows[..ROWS.min(rows.len())];
    println!(
        "  clients: {} held-out rows, alternately holding xgb's and rf's cookie",
        rows.len()
    );
    let served = predict_rows_as_both_cookies(&envoy, rows);
    predictor_router_e2e::http::eventually(30, || {
        shadow_outcomes(&envoy, &["xgb", "rf"]) >= rows.len() as u64
    });
    let (gateway_view, other) = shadow_at_gateway(&envoy, &["xgb", "rf"]);
    let offline = shadow_offline(rows, &served, "rf-v2");
    let counter = |name: &str| envoy.counter(&format!("predictor_router.fraud-detection.{name}"));
    println!();
    println!(
        "   served  {:>8}  {:>9}  {:>15}  {:>14}  {:>16}  {:>22}",
        "compared", "agreement", "mean abs_diff", "shadow latency", "served latency", "offline (agree/total)"
    );
    let mut matches = other.values().sum::<u64>() == 0;
    for predictor in ["xgb", "rf"] {
        let (agree, disagree, milli) = gateway_view.get(predictor).copied().unwrap_or_default();
        let (o_agree, o_disagree, _) = offline.get(predictor).copied().unwrap_or_default();
        let compared = (agree + disagree).max(1);
        let mean_ms = |m: &str| {
            counter(&format!(
                "{predictor}.shadow.{}.{m}",
                predictor_router_e2e::shadow::NAME
            )) as f64
                / compared as f64
        };
        println!(
            "   {predictor:<6}  {:>8}  {:>8.1}%  {:>15.3}  {:>11.1} ms  {:>13.1} ms  {:>22}",
            agree + disagree,
            100.0 * agree as f64 / compared as f64,
            milli as f64 / 1000.0 / compared as f64,
            mean_ms("latency_ms"),
            mean_ms("served_latency_ms"),
            format!("{o_agree}/{}", o_agree + o_disagree)
        );
        matches &= (agree, disagree) == (o_agree, o_disagree);
    }
    let ok = matches && envoy.wasm_errors().is_empty();
    println!(
        "{}",
        if ok {
            "the gateway's agreement per served predictor equals the offline recomputation, row for row"
        } else {
            "MISMATCH between the gateway's shadow counts and the offline recomputation"
        }
    );
    ok
}
