//! A loopback stand-in in front of a real Prometheus, for the fleet view: it forwards each query to
//! Prometheus and records it (so a test counts one Envoy's queries), or plays a fault (slow, 500,
//! garbage, 2 MiB, a connection closed without an answer). One front per Envoy: its cluster points here.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::http::{HttpClient, Request};
use crate::upstream::read_request;

/// How the front answers a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontMode {
    /// Forward to Prometheus and relay its answer (a stopped Prometheus: the connection is closed).
    Forward,
    /// Forward, but only after this long (past the filter's `timeout_ms`).
    Slow(Duration),
    /// `500` with Prometheus's own error shape.
    ServerError,
    /// `200` with a body that is not the query API's JSON.
    Garbage,
    /// `200` with a well-formed vector answer of 2 MiB (over the 1 MiB the filter reads).
    Huge,
    /// Close the connection without answering.
    Hangup,
}

/// One query as the front received it: the time it arrived, the path with its parameters.
#[derive(Debug, Clone)]
pub struct ReceivedQuery {
    pub path: String,
    pub mode: FrontMode,
}

impl ReceivedQuery {
    /// The `time` parameter (the aligned instant `T`).
    pub fn time(&self) -> Option<u64> {
        self.path
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("time="))
            .and_then(|t| t.parse().ok())
    }

    /// The decoded `query` parameter.
    pub fn query(&self) -> Option<String> {
        let encoded = self
            .path
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("query="))?;
        let pairs = form_urlencoded::parse(format!("q={encoded}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .next();
        pairs
    }
}

pub struct QueryFront {
    pub port: u16,
    mode: Arc<Mutex<FrontMode>>,
    received: Arc<Mutex<Vec<ReceivedQuery>>>,
    stop: Arc<AtomicBool>,
}

impl QueryFront {
    /// Listens on a free loopback port and forwards to Prometheus on `prometheus_port`.
    pub fn start(prometheus_port: u16) -> QueryFront {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let front = QueryFront {
            port,
            mode: Arc::new(Mutex::new(FrontMode::Forward)),
            received: Arc::default(),
            stop: Arc::default(),
        };
        let (mode, received, stop) = (front.mode.clone(), front.received.clone(), front.stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (mode, received) = (mode.clone(), received.clone());
                thread::spawn(move || serve(stream, prometheus_port, &mode, &received));
            }
        });
        front
    }

    pub fn set_mode(&self, mode: FrontMode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Every query received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedQuery> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for QueryFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
    }
}

fn serve(
    stream: TcpStream,
    prometheus_port: u16,
    mode: &Mutex<FrontMode>,
    received: &Mutex<Vec<ReceivedQuery>>,
) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Envoy keeps the connection of its cluster open: serve requests until it closes it.
    while let Some(request) = read_request(&mut reader) {
        let mode = mode.lock().unwrap().clone();
        received.lock().unwrap().push(ReceivedQuery {
            path: request.path.clone(),
            mode: mode.clone(),
        });
        let answer = match &mode {
            FrontMode::Forward => forward(prometheus_port, &request.path),
            FrontMode::Slow(delay) => {
                thread::sleep(*delay);
                forward(prometheus_port, &request.path)
            }
            FrontMode::ServerError => Some((
                500,
                br#"{"status":"error","errorType":"internal","error":"stand-in failure"}"#.to_vec(),
            )),
            FrontMode::Garbage => Some((200, b"<html>not the query API</html>{\"status\":".to_vec())),
            FrontMode::Huge => Some((200, huge_answer())),
            FrontMode::Hangup => None,
        };
        let Some((status, body)) = answer else {
            return; // dropping the stream closes the connection unanswered
        };
        let mut bytes = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        if writer.write_all(&bytes).is_err() {
            return;
        }
    }
}

/// Prometheus's answer to `path`, or `None` when it does not answer (stopped).
fn forward(prometheus_port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let response = HttpClient::new(prometheus_port).send(&Request::get(path)).ok()?;
    Some((response.status, response.body))
}

/// A valid vector answer of 2 MiB: the same two predictors' samples, repeated.
fn huge_answer() -> Vec<u8> {
    let sample = r#"{"metric":{"predictor":"xgb","outcome":"trials"},"value":[1767225600,"1"]},"#;
    let mut body = String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    while body.len() < 2 * 1024 * 1024 {
        body.push_str(sample);
    }
    body.push_str(r#"{"metric":{"predictor":"rf","outcome":"trials"},"value":[1767225600,"1"]}]}}"#);
    body.into_bytes()
}
