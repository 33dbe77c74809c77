//! `make demo-models`: the shadow comparison with the model servers of other protocols. The seed's
//! fraud models (xgb and rf served, rf-v2 the shadow), saved as files and served by MLServer over the
//! Open Inference Protocol v2 (as KServe v2, Triton and Seldon Core 2 answer), once asking for class
//! probabilities and once for labels, and by KServe's own model server over KServe v1. For each, the
//! gateway's counts beside the same comparison recomputed offline from the same files and rows; the
//! demo fails when they differ.

use predictor_router_e2e::model_servers::{compare_with_offline, kserve_v1, oip, ModelServer};

fn main() {
    println!("predictor-router demo-models: one shadow, three protocols, counted at the gateway and offline");
    println!("  200 held-out rows per protocol, alternately as holders of xgb's and rf's cookie; every row copied to rf-v2\n");
    let runs = [
        compare_with_offline(oip("predict_proba"), ModelServer::mlserver, 200),
        compare_with_offline(oip("predict"), ModelServer::mlserver, 200),
        compare_with_offline(kserve_v1(), ModelServer::kserve, 200),
    ];
    let mut equal = true;
    for run in &runs {
        println!("{}\n", run.report());
        for (p, (a, d, m)) in &run.gateway {
            let (oa, od, om) = run.offline.get(p).copied().unwrap_or_default();
            equal &= (*a, *d) == (oa, od) && m.abs_diff(om) <= a + d;
        }
        equal &= run.other.values().sum::<u64>() == 0;
    }
    if equal {
        println!("every protocol: the gateway's agreement and abs_diff per served predictor equal the offline recomputation");
    } else {
        println!("MISMATCH between the gateway's counts and the offline recomputation");
        std::process::exit(1);
    }
}
