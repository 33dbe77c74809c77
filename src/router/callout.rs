//! HTTP calls the module makes to other servers (a Prometheus query, a copy for a shadow predictor), as
//! plain data: the core says what to send ([`CalloutPlan`]) and reads what came back ([`Answer`]); the
//! host adapter only dispatches the plan (`proxy_http_call`) and hands the answer back from
//! `proxy_on_http_call_response`. Every rule about a callout is here, where native tests reach it.

use std::borrow::Cow;

use crate::router::header_map;

/// What to send, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutPlan {
    /// The Envoy cluster the call goes to (on Istio, a service's outbound cluster).
    pub cluster: String,
    /// `GET` for a query; a shadow's copy keeps the request's method.
    pub method: Cow<'static, str>,
    pub authority: String,
    /// `:path`, query string included.
    pub path: String,
    /// Headers besides the pseudo-headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
}

impl CalloutPlan {
    /// A `GET` with no headers or body beyond the pseudo-headers.
    pub fn get(cluster: &str, authority: &str, path: String, timeout_ms: u32) -> Self {
        CalloutPlan {
            cluster: cluster.to_string(),
            method: Cow::Borrowed("GET"),
            authority: authority.to_string(),
            path,
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms,
        }
    }

    /// The headers as the host takes them: `:method`, `:path`, `:authority`, then the others.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        [
            (":method", self.method.as_bytes()),
            (":path", self.path.as_bytes()),
            (":authority", self.authority.as_bytes()),
        ]
        .into_iter()
        .chain(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }

    /// [`CalloutPlan::header_pairs`] in the ABI's serialized header-map format.
    pub fn serialized_headers(&self) -> Vec<u8> {
        header_map::serialize(self.header_pairs())
    }
}

/// What came back from a callout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response: its status and its whole body.
    Response { status: u16, body: Vec<u8> },
    /// No usable response.
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response headers: the connection failed, was reset, or the call timed out (Envoy reports all
    /// three as a response with no headers).
    NoResponse,
    /// A `:status` that is not a three-digit number.
    BadStatus,
    /// A body longer than the consumer reads.
    TooLarge,
}

/// What the host reads of an answer before the body: how many headers arrived and the `:status`.
/// `body_size` is the size `proxy_on_http_call_response` announced; `max_body` what the consumer reads.
/// Returns whether the body is to be read, or the failure already known.
pub fn before_body(
    headers: usize,
    status: Option<&[u8]>,
    body_size: usize,
    max_body: usize,
) -> Result<u16, Failure> {
    if headers == 0 {
        return Err(Failure::NoResponse);
    }
    let status = status.and_then(parse_status).ok_or(Failure::BadStatus)?;
    if body_size > max_body {
        return Err(Failure::TooLarge);
    }
    Ok(status)
}

/// The answer from what the host handed back: `status` as [`before_body`] returned it, and the body
/// read (an absent body is empty).
pub fn answer(status: Result<u16, Failure>, body: Option<Vec<u8>>) -> Answer {
    match status {
        Ok(status) => Answer::Response {
            status,
            body: body.unwrap_or_default(),
        },
        Err(failure) => Answer::Failed(failure),
    }
}

/// `:status` as Envoy sends it: three ASCII digits, 100 to 599.
pub fn parse_status(raw: &[u8]) -> Option<u16> {
    let [a, b, c] = raw else { return None };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) {
        return None;
    }
    let status = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    (100..=599).contains(&status).then_some(status)
}
