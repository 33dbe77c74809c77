//! `sticky.domain` and `sticky.secure` in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `make chromium`) against Envoy with the module on 127.0.0.1, the test's host names
//! mapped there by `--host-resolver-rules`.
//! - A page on `www.shop.test` and `fetch()` calls to `api.shop.test` share one predictor when
//!   `domain: shop.test` is set, and do not when it is not.
//! - A `Secure` cookie set over HTTPS (Envoy terminating TLS with a certificate the test makes) is sent
//!   back over HTTPS and not over plain HTTP; without `secure` it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::upstream::{Behaviour, ReceivedRequest};
use serde_json::{json, Value};

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "no /usr/bin/chromium: run `make chromium` (apt-get install chromium)"
    );
    path
}

/// Loads `url` in headless Chromium with a fresh profile and returns the DOM once the page's scripts
/// (fetches, a navigation) have run.
fn browse(url: &str) -> String {
    browse_once(url).unwrap_or_else(|why| panic!("{why}"))
}

/// One headless Chromium run: the DOM, or why there is none.
fn browse_once(url: &str) -> Result<String, String> {
    let profile = tempfile::tempdir().unwrap();
    // Bounded: a page that never settles must fail the test, not hang it.
    let output = Command::new("timeout")
        .arg("60")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--host-resolver-rules=MAP *.shop.test 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    if dom.is_empty() {
        return Err(format!(
            "chromium printed no page ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(dom)
}

fn config(sticky: Value) -> Value {
    json!({"experiments": [{
        "name": "shop",
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
        "sticky": sticky
    }]})
}

fn cookie_of(request: &ReceivedRequest) -> Option<String> {
    let line = String::from_utf8_lossy(request.header("cookie")?).into_owned();
    line.split(';')
        .map(str::trim)
        .find_map(|pair| pair.strip_prefix("pr-shop=").map(str::to_string))
}

/// All requests both upstreams received, with the predictor that served each.
fn received(gw: &Gateway) -> Vec<(String, ReceivedRequest)> {
    gw.upstreams
        .iter()
        .flat_map(|u| u.received().into_iter().map(move |r| (u.name.clone(), r)))
        .collect()
}

/// The page on www: three credentialed fetches to api, whose `x-predictor` it writes into the DOM.
fn shared_page(port: u16) -> String {
    format!(
        r#"<html><body><div id="out">pending</div><script>
(async () => {{
  const seen = [];
  for (let i = 0; i < 3; i++) {{
    const r = await fetch('http://api.shop.test:{port}/predict', {{credentials: 'include'}});
    seen.push(r.headers.get('x-predictor'));
  }}
  document.getElementById('out').textContent = 'api:' + seen.join(',');
}})().catch(e => {{ document.getElementById('out').textContent = 'error ' + e; }});
</script></body></html>"#
    )
}

/// (predictor that served the page, predictors the api fetches reported, cookies the api requests carried)
fn www_then_api(domain: Option<&str>) -> (String, Vec<String>, Vec<Option<String>>) {
    let mut sticky = json!({"cookie": "pr-shop"});
    if let Some(d) = domain {
        sticky["domain"] = json!(d);
    }
    let gw = Gateway::start(config(sticky));
    let port = gw.envoy.listener_port;
    for upstream in &gw.upstreams {
        upstream.set_behaviour(Behaviour {
            page: Some(shared_page(port)),
            cors_origin: Some(format!("http://www.shop.test:{port}")),
            ..Default::default()
        });
    }
    let dom = browse(&format!("http://www.shop.test:{port}/page"));
    let reported: Vec<String> = dom
        .split("api:")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("the page did not finish: {dom}"))
        .split(',')
        .map(str::to_string)
        .collect();
    let all = received(&gw);
    let page = all
        .iter()
        .find(|(_, r)| r.path == "/page")
        .map(|(p, _)| p.clone())
        .unwrap_or_else(|| panic!("no page request: {dom}"));
    let api_cookies = all
        .iter()
        .filter(|(_, r)| r.path == "/predict")
        .map(|(_, r)| cookie_of(r))
        .collect();
    gw.envoy.assert_no_wasm_errors();
    (page, reported, api_cookies)
}

#[test]
fn with_a_cookie_domain_www_and_api_share_one_predictor() {
    let (page, reported, api_cookies) = www_then_api(Some("shop.test"));
    assert_eq!(
        reported,
        vec![page.clone(); 3],
        "every api call is served by the page's predictor"
    );
    assert_eq!(api_cookies.len(), 3);
    assert!(
        api_cookies.iter().all(|c| c.as_deref() == Some(page.as_str())),
        "the assignment made on www reaches api: {api_cookies:?}"
    );
}

#[test]
fn without_a_cookie_domain_api_makes_its_own_assignment() {
    let (page, _, api_cookies) = www_then_api(None);
    assert_eq!(api_cookies.len(), 3);
    assert_eq!(api_cookies[0], None, "www's host-only cookie is not sent to api");
    let own = api_cookies[1]
        .clone()
        .expect("api's own cookie from its first answer");
    assert!(api_cookies[1..]
        .iter()
        .all(|c| c.as_deref() == Some(own.as_str())));
    let _ = page;
}

/// A self-signed certificate for *.shop.test, made with openssl.
fn certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=www.shop.test",
        ])
        .args(["-addext", "subjectAltName=DNS:www.shop.test,DNS:*.shop.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

/// The cookie an HTTPS page set, as a same-origin HTTPS fetch and then a plain-HTTP page of the same
/// host carried it back.
fn https_then_http(secure: bool) -> (Option<String>, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path());
    let sticky = json!({"cookie": "pr-shop", "secure": secure});
    let https = Gateway::start_with(
        config(sticky.clone()),
        GatewayOptions {
            tls: Some(tls),
            ..Default::default()
        },
    );
    let plain = Gateway::start(config(sticky));
    let plain_url = format!("http://www.shop.test:{}/page-plain", plain.envoy.listener_port);
    let page = format!(
        r#"<html><body><div id="out">pending</div><script>
fetch('/predict').then(() => {{ location.href = '{plain_url}'; }});
</script></body></html>"#
    );
    for upstream in &https.upstreams {
        upstream.set_behaviour(Behaviour {
            page: Some(page.clone()),
            ..Default::default()
        });
    }
    for upstream in &plain.upstreams {
        upstream.set_behaviour(Behaviour {
            page: Some(r#"<html><body><div id="out">plain</div></body></html>"#.into()),
            ..Default::default()
        });
    }
    // Headless Chromium sometimes exits without printing the page when it navigates within the
    // virtual-time budget: up to three runs, each from a fresh profile and fresh upstream records.
    let url = format!("https://www.shop.test:{}/page", https.envoy.listener_port);
    let mut outcome = Err(String::new());
    for _ in 0..3 {
        for upstream in https.upstreams.iter().chain(&plain.upstreams) {
            upstream.clear_received();
        }
        outcome = browse_once(&url);
        if outcome
            .as_ref()
            .is_ok_and(|dom| dom.contains(r#"<div id="out">plain</div>"#))
        {
            break;
        }
    }
    let dom = outcome.unwrap_or_else(|why| panic!("{why}"));
    assert!(
        dom.contains(r#"<div id="out">plain</div>"#),
        "the navigation to plain HTTP completed: {dom}"
    );
    let over_https = received(&https)
        .into_iter()
        .find(|(_, r)| r.path == "/predict")
        .unwrap_or_else(|| panic!("no fetch over HTTPS: {dom}"))
        .1;
    let over_http = received(&plain)
        .into_iter()
        .find(|(_, r)| r.path == "/page-plain")
        .unwrap_or_else(|| panic!("no navigation to plain HTTP: {dom}"))
        .1;
    https.envoy.assert_no_wasm_errors();
    plain.envoy.assert_no_wasm_errors();
    (cookie_of(&over_https), cookie_of(&over_http))
}

#[test]
fn a_secure_cookie_is_kept_over_https_and_not_sent_over_plain_http() {
    let (https, http) = https_then_http(true);
    assert!(https.is_some(), "the Secure cookie comes back over HTTPS");
    assert_eq!(http, None, "and never over plain HTTP");
    // Control: the same flow without `secure` sends the cookie over plain HTTP too, so the difference
    // above is the attribute's doing.
    let (https, http) = https_then_http(false);
    assert!(https.is_some());
    assert_eq!(http, https, "without Secure the cookie goes over plain HTTP");
}

#[test]
fn envoy_sends_the_configured_cookie_attributes_byte_for_byte() {
    use predictor_router_e2e::http::Request;
    use predictor_router_e2e::scenario::predict_path;
    let gw = Gateway::start(config(
        json!({"cookie": "pr-shop", "secure": true, "domain": "shop.test", "max_age_seconds": 600}),
    ));
    let r = gw.client().send(&Request::predict(predict_path())).unwrap();
    let predictor = r.header("x-predictor").unwrap().to_string();
    assert_eq!(
        r.headers_named("set-cookie"),
        vec![format!(
            "pr-shop={predictor}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure; Domain=shop.test"
        )]
    );
    gw.envoy.assert_no_wasm_errors();
}
