//! A small HTTP/1.1 client with keep-alive that can send any header bytes (hostile inputs included).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(path: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        }
    }

    /// A Seldon-style prediction request.
    pub fn predict(path: &str) -> Request {
        let body = br#"{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}"#.to_vec();
        Request {
            method: "POST".into(),
            path: path.into(),
            body,
            ..Default::default()
        }
        .header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers.push((name.to_string(), value.as_ref().to_vec()));
        self
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The predictor that answered, as the upstream reports it.
    pub fn served_by(&self) -> Option<&str> {
        self.header("x-served-by")
    }
}

pub struct HttpClient {
    port: u16,
    host: String,
    connection: Option<BufReader<TcpStream>>,
}

impl HttpClient {
    pub fn new(port: u16) -> HttpClient {
        HttpClient {
            port,
            host: "models.example.com".into(),
            connection: None,
        }
    }

    pub fn with_host(mut self, host: &str) -> HttpClient {
        self.host = host.to_string();
        self
    }

    pub fn send(&mut self, request: &Request) -> std::io::Result<Response> {
        note_request_sent();
        // A kept-alive connection may have been closed by the server: retry once on a fresh one.
        match self.try_send(request) {
            Ok(r) => Ok(r),
            Err(_) => {
                self.connection = None;
                self.try_send(request)
            }
        }
    }

    fn try_send(&mut self, request: &Request) -> std::io::Result<Response> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let reader = self.connection.as_mut().unwrap();
        let mut out = format!("{} {} HTTP/1.1\r\n", request.method, request.path).into_bytes();
        if !request
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            out.extend_from_slice(format!("host: {}\r\n", self.host).as_bytes());
        }
        for (k, v) in &request.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if !request.body.is_empty() || request.method == "POST" {
            out.extend_from_slice(format!("content-length: {}\r\n", request.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&request.body);
        reader.get_mut().write_all(&out)?;
        let response = read_response(reader, request.method == "HEAD");
        if response
            .as_ref()
            .is_ok_and(|r| r.header("connection") == Some("close"))
        {
            self.connection = None;
        }
        response
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

fn read_response(reader: &mut impl BufRead, head_only: bool) -> std::io::Result<Response> {
    let status_line = read_line(reader)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("status line"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| invalid("header line"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
    } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let size = usize::from_str_radix(read_line(reader)?.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("chunk size"))?;
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            read_line(reader)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = get("content-length") {
        body = vec![0; length.parse().map_err(|_| invalid("content-length"))?];
        reader.read_exact(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The filter hands its counts to Envoy at least once a second (contract "Metrics"): how long after a
/// request its counts may take to show, with a margin for a loaded machine's timer.
pub const COUNTER_FLUSH: std::time::Duration = std::time::Duration::from_millis(1200);

/// When this process last sent a request through an [`HttpClient`] (milliseconds since `EPOCH`).
static LAST_SENT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn elapsed_ms() -> u64 {
    EPOCH.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

fn note_request_sent() {
    LAST_SENT_MS.store(elapsed_ms().max(1), std::sync::atomic::Ordering::SeqCst);
}

/// Waits until the counts of every request this process sent have been handed to Envoy: at most
/// [`COUNTER_FLUSH`] after the last one. (Traffic from other processes, wrk or a browser, is not seen
/// here: wait [`COUNTER_FLUSH`] after it.)
pub fn wait_for_counter_flush() {
    let last = LAST_SENT_MS.load(std::sync::atomic::Ordering::SeqCst);
    if last == 0 {
        return;
    }
    let ready = last + COUNTER_FLUSH.as_millis() as u64;
    let now = elapsed_ms();
    if ready > now {
        std::thread::sleep(std::time::Duration::from_millis(ready - now));
    }
}

/// Polls `done` every 50 ms until it holds, at most `seconds`; whether it held (checked once more at
/// the end). For what Envoy's workers do on their tick (twice a second).
pub fn eventually(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}
