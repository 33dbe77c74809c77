//! Running Envoy processes (pinned to core 0) and wrk (pinned to core 1), and measuring Envoy's CPU.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use predictor_router_e2e::envoy::{envoy_binary, free_port};

pub const ENVOY_CORE: &str = "0";
pub const LOAD_CORE: &str = "1";

pub struct BenchEnvoy {
    child: Child,
    pub listener: u16,
    pub admin: u16,
}

impl BenchEnvoy {
    /// Starts Envoy with `--concurrency 1`, pinned to `core`, and waits until it serves.
    pub fn start(
        dir: &Path,
        name: &str,
        bootstrap: &Value,
        listener: u16,
        admin: u16,
        core: &str,
    ) -> BenchEnvoy {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(bootstrap).unwrap()).unwrap();
        let child = Command::new("taskset")
            .args(["-c", core])
            .arg(envoy_binary())
            .arg("-c")
            .arg(&path)
            .args([
                "--concurrency",
                "1",
                "--log-level",
                "warn",
                "--base-id",
                &free_port().to_string(),
            ])
            .arg("--log-path")
            .arg(dir.join(format!("{name}.log")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start envoy under taskset");
        let envoy = BenchEnvoy {
            child,
            listener,
            admin,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", listener)).is_ok() {
                return envoy;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{name} did not start; see {}",
            dir.join(format!("{name}.log")).display()
        );
    }

    /// CPU time Envoy has used so far (all threads), in nanoseconds.
    pub fn cpu_nanos(&self) -> u64 {
        predictor_router_e2e::envoy::cpu_nanos_of(self.child.id())
    }

    pub fn resident_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for BenchEnvoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One wrk run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub non_2xx: u64,
    /// Envoy CPU per request, in µs.
    pub cpu_us: f64,
}

/// Runs wrk (pinned to the load core) for `seconds` against `envoy` and measures its CPU meanwhile.
/// `body`: a POST with this body (through a wrk script written to `script_dir`) instead of a GET.
pub fn measure(
    envoy: &BenchEnvoy,
    path: &str,
    headers: &[(String, String)],
    body: Option<(&str, &std::path::Path)>,
    seconds: u32,
    connections: u32,
) -> Sample {
    let mut command = Command::new("taskset");
    command.args([
        "-c",
        LOAD_CORE,
        "wrk",
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    for (k, v) in headers {
        command.args(["-H", &format!("{k}: {v}")]);
    }
    if let Some((body, script_dir)) = body {
        let script = script_dir.join(format!("post-{}.lua", body.len()));
        let lua = format!(
            "wrk.method = \"POST\"\nwrk.headers[\"content-type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n"
        );
        std::fs::write(&script, lua).expect("write the wrk script");
        command.arg("-s").arg(&script);
    }
    command.arg(format!("http://127.0.0.1:{}{path}", envoy.listener));
    let before = envoy.cpu_nanos();
    let output = command.output().expect("run wrk (apt-get install wrk)");
    let after = envoy.cpu_nanos();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut sample = parse_wrk(&text);
    if sample.requests > 0 {
        sample.cpu_us = (after - before) as f64 / 1000.0 / sample.requests as f64;
    }
    sample
}

fn parse_duration_us(token: &str) -> Option<f64> {
    let (number, unit) = token.split_at(token.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value,
        "ms" => value * 1000.0,
        "s" => value * 1_000_000.0,
        _ => return None,
    })
}

pub fn parse_wrk(text: &str) -> Sample {
    let mut sample = Sample::default();
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["50%", v] => sample.p50_us = parse_duration_us(v).unwrap_or(0.0),
            ["99%", v] => sample.p99_us = parse_duration_us(v).unwrap_or(0.0),
            [n, "requests", "in", ..] => sample.requests = n.parse().unwrap_or(0),
            ["Requests/sec:", v] => sample.rps = v.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => sample.non_2xx = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    sample
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_wrk_output() {
        let out = "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n  Latency Distribution\n     50%  391.00us\n     75%  500.00us\n     90%    1.00ms\n     99%    1.05ms\n  12345 requests in 1.00s, 1.23MB read\n  Non-2xx or 3xx responses: 5\nRequests/sec:  12345.67\nTransfer/sec:      1.23MB\n";
        let s = super::parse_wrk(out);
        assert_eq!(s.requests, 12345);
        assert_eq!(s.non_2xx, 5);
        assert!((s.p50_us - 391.0).abs() < 1e-9 && (s.p99_us - 1050.0).abs() < 1e-9);
        assert!((s.rps - 12345.67).abs() < 1e-9);
    }
}
