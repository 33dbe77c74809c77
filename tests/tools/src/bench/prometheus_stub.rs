//! A loopback stand-in for Prometheus's query API, for the fleet-view bench case: every query gets the
//! same well-formed answer (xgb and rf, 5,000 trials each), so the module's whole path runs (claim,
//! send, read, parse, write, apply) once per update without a real Prometheus beside the bench.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

/// Starts the stand-in on a free loopback port and returns the port; it serves until the process ends.
pub fn start() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let sample = |predictor: &str, outcome: &str, value: &str| {
        format!(
            r#"{{"metric":{{"predictor":"{predictor}","outcome":"{outcome}"}},"value":[1767225570,"{value}"]}}"#
        )
    };
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{},{},{},{}]}}}}"#,
        sample("xgb", "trials", "5000"),
        sample("xgb", "reward_milli", "4750000"),
        sample("rf", "trials", "5000"),
        sample("rf", "reward_milli", "4500000"),
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let response = response.clone();
            thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 8192];
                let mut seen = Vec::new();
                // One request per read of its headers (queries are GETs without a body); keep-alive.
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(buffer.get(..n).unwrap_or_default());
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(response.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}
