//! A predictor upstream on 127.0.0.1: answers like a Seldon model server and says which predictor
//! answered (`x-served-by` header and the JSON body), remembering the headers it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What the upstream received: method, path and headers (names lowercased, values as bytes).
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// How the upstream answers; changeable while it runs.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: u16,
    /// This percent of responses (spread evenly over the requests, whichever connection they come on)
    /// answer 503 instead of `status`: a canary that fails some of the time.
    pub fail_percent: u32,
    /// A `Set-Cookie` of the upstream's own (to check the filter never replaces it).
    pub set_cookie: Option<String>,
    /// How long the model takes before it answers.
    pub delay: std::time::Duration,
    /// An HTML page served for paths under `/page` (browser tests), instead of a prediction.
    pub page: Option<String>,
    /// CORS for credentialed `fetch()` from this origin (browser tests): allow it, its cookies, and
    /// reading `x-predictor`.
    pub cors_origin: Option<String>,
    /// A body answered instead of the prediction (a model answering garbage).
    pub body: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            status: 200,
            fail_percent: 0,
            set_cookie: None,
            delay: std::time::Duration::ZERO,
            page: None,
            cors_origin: None,
            body: None,
        }
    }
}

pub struct PredictorServer {
    pub name: String,
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
    /// Keep received requests (tests) or only count them (long demo and soak runs).
    pub record: Arc<AtomicBool>,
}

impl PredictorServer {
    pub fn start(name: &str) -> PredictorServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let server = PredictorServer {
            name: name.to_string(),
            port,
            received: Arc::default(),
            behaviour: Arc::default(),
            stop: Arc::default(),
            record: Arc::new(AtomicBool::new(true)),
        };
        let (name, received, behaviour, stop, record) = (
            server.name.clone(),
            server.received.clone(),
            server.behaviour.clone(),
            server.stop.clone(),
            server.record.clone(),
        );
        let served: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (name, received, behaviour, record, served) = (
                    name.clone(),
                    received.clone(),
                    behaviour.clone(),
                    record.clone(),
                    served.clone(),
                );
                thread::spawn(move || {
                    serve_connection(stream, &name, &received, &behaviour, &record, &served)
                });
            }
        });
        server
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.received.lock().unwrap().clone()
    }

    pub fn clear_received(&self) {
        self.received.lock().unwrap().clear();
    }
}

impl Drop for PredictorServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
    }
}

fn serve_connection(
    stream: TcpStream,
    name: &str,
    received: &Mutex<Vec<ReceivedRequest>>,
    behaviour: &Mutex<Behaviour>,
    record: &AtomicBool,
    served: &std::sync::atomic::AtomicU64,
) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let mut b = behaviour.lock().unwrap().clone();
        if b.fail_percent > 0 {
            // Of every hundred requests to this server, exactly `fail_percent` fail, interleaved (37 is
            // prime to 100).
            let n = served.fetch_add(1, Ordering::Relaxed);
            if (n * 37) % 100 < u64::from(b.fail_percent) {
                b.status = 503;
            }
        }
        if !b.delay.is_zero() {
            thread::sleep(b.delay);
        }
        if record.load(Ordering::Relaxed) {
            received.lock().unwrap().push(request.clone());
        }
        let page = b.page.as_ref().filter(|_| request.path.starts_with("/page"));
        let body = if let Some(page) = page {
            page.clone()
        } else if let Some(body) = &b.body {
            body.clone()
        } else if request.path.starts_with("/v2/") {
            format!(
                r#"{{"model_name":"{name}","outputs":[{{"name":"proba","datatype":"FP32","shape":[1],"data":[0.12]}}]}}"#
            )
        } else {
            format!(
                r#"{{"data":{{"names":["proba"],"ndarray":[[0.12]]}},"meta":{{"requestPath":{{"{name}":"model"}}}},"predictor":"{name}"}}"#
            )
        };
        let content_type = if page.is_some() {
            "text/html"
        } else {
            "application/json"
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-served-by: {name}\r\n",
            b.status,
            body.len()
        );
        if let Some(origin) = &b.cors_origin {
            head.push_str(&format!(
                "access-control-allow-origin: {origin}\r\naccess-control-allow-credentials: true\r\n\
                 access-control-expose-headers: x-predictor\r\n"
            ));
        }
        if let Some(cookie) = &b.set_cookie {
            head.push_str(&format!("set-cookie: {cookie}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(&body);
        // One write per response: two small writes would meet Nagle's algorithm and a delayed ACK (40 ms).
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
    }
}

pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> Option<ReceivedRequest> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).ok()? == 0 {
        return None;
    }
    let request_line = String::from_utf8_lossy(&line).trim_end().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|b| *b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii().to_vec();
        if name == "content-length" {
            content_length = String::from_utf8_lossy(&value).parse().ok()?;
        }
        headers.push((name, value));
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body).ok()?;
    Some(ReceivedRequest {
        method,
        path,
        headers,
    })
}
