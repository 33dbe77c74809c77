//! The standard mix of requests, built from the shipped configuration: a quarter each of new visitors
//! (random), returning visitors with a cookie (sticky), users with an id (hashed) and testers (forced).
//! One definition, two renderings: a wrk Lua script for load through Envoy (soak) and harness requests
//! for the module's memory figures (soak, bench, tests).

use serde_json::Value;

use predictor_router_e2e::scenario::{predict_path, predictor_names, seed_plugin_config};

pub struct RequestMix {
    path: String,
    cookie: String,
    user_header: String,
    override_header: String,
    /// The first two predictors of the experiment: returning visitors hold the first mostly, the
    /// second one time in eight; testers force the second.
    baseline: String,
    canary: String,
}

/// A Seldon prediction request body.
pub const BODY: &str = r#"{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}"#;

impl RequestMix {
    pub fn shipped() -> RequestMix {
        let config = seed_plugin_config();
        let names = predictor_names(&config);
        let experiment = &config["experiments"][0];
        let text = |v: &Value, default: &str| v.as_str().unwrap_or(default).to_string();
        RequestMix {
            path: predict_path().to_string(),
            cookie: text(&experiment["sticky"]["cookie"], "pr-fraud-detection"),
            user_header: text(&experiment["sticky"]["user_header"], "x-user-id"),
            override_header: text(&experiment["override"]["header"], "x-predictor-override"),
            baseline: names[0].clone(),
            canary: names.get(1).unwrap_or(&names[0]).clone(),
        }
    }

    /// The cookie line of returning visitor number `i`.
    fn cookie_line(&self, i: u64) -> String {
        let held = if i % 8 == 1 { &self.canary } else { &self.baseline };
        format!("session=abc; {}={held}", self.cookie)
    }

    /// Request `i` of the mix in the harness.
    pub fn harness_request<'h>(
        &self,
        host: &'h mut wasm_test_harness::Host,
        i: u64,
    ) -> wasm_test_harness::RequestBuilder<'h> {
        let request = host.request().path(&self.path).body(BODY);
        match i % 4 {
            0 => request,
            1 => request.cookie(self.cookie_line(i)),
            2 => request.header(&self.user_header, format!("user-{i}")),
            _ => request.header(&self.override_header, &self.canary),
        }
    }

    /// The same mix as a wrk script (`wrk -s`); user ids are unbounded, as with real users.
    pub fn wrk_lua(&self) -> String {
        format!(
            r#"
local counter = 0
local path = "{path}"
local body = '{BODY}'
request = function()
  counter = counter + 1
  local kind = counter % 4
  local headers = {{ ["content-type"] = "application/json" }}
  if kind == 1 then
    headers["cookie"] = "session=abc; {cookie}=" .. ((counter % 8 == 1) and "{canary}" or "{baseline}")
  elseif kind == 2 then
    headers["{user}"] = "user-" .. counter
  elseif kind == 3 then
    headers["{force}"] = "{canary}"
  end
  return wrk.format("POST", path, headers, body)
end
"#,
            path = self.path,
            cookie = self.cookie,
            canary = self.canary,
            baseline = self.baseline,
            user = self.user_header,
            force = self.override_header,
        )
    }
}

/// The module's linear memory (worker 0) after a warm-up of 1,000 users and after `requests` requests
/// of the standard mix through the harness, with the shipped configuration: Envoy does not expose a
/// VM's memory, so the soak, the bench and the memory test all measure it here.
pub fn linear_memory(module: &[u8], requests: u64) -> (usize, usize) {
    let mut host = wasm_test_harness::Host::new(module)
        .with_config(seed_plugin_config().to_string())
        .start()
        .unwrap_or_else(|e| panic!("the shipped configuration: {e}"));
    let mix = RequestMix::shipped();
    for i in 0..1000 {
        host.request()
            .path(&mix.path)
            .header(&mix.user_header, format!("warm-{i}"))
            .send()
            .unwrap_or_else(|trap| panic!("{trap}"));
    }
    let before = host.memory_bytes()[0];
    for i in 0..requests {
        mix.harness_request(&mut host, i)
            .send()
            .unwrap_or_else(|trap| panic!("{trap}"));
    }
    (before, host.memory_bytes()[0])
}

/// One request of a decision path through the harness, and what the host saw of it.
pub type DecisionPathRequest = fn(&mut wasm_test_harness::Host) -> wasm_test_harness::Exchange;

/// One GET of the shipped configuration per decision path (forced, sticky, hashed, random, and a path
/// no experiment matches): the requests whose fuel the bench reports and whose hostcalls
/// `hostcall_budget` bounds.
pub fn decision_path_requests() -> [(&'static str, DecisionPathRequest); 5] {
    [
        ("forced", |h| {
            h.request()
                .path(predict_path())
                .header("x-predictor-override", "rf")
                .send()
                .unwrap()
        }),
        ("sticky", |h| {
            h.request()
                .path(predict_path())
                .cookie("pr-fraud-detection=rf")
                .send()
                .unwrap()
        }),
        ("hashed", |h| {
            h.request()
                .path(predict_path())
                .header("x-user-id", "alice")
                .send()
                .unwrap()
        }),
        ("random", |h| h.request().path(predict_path()).send().unwrap()),
        ("unmatched", |h| h.request().path("/healthz").send().unwrap()),
    ]
}
