//! One HTTP exchange through the filter: a builder for the request (and the upstream's response), and
//! what came out: the request as the upstream saw it, the response as the client got it.

use crate::abi::Action;
use crate::headers::HeaderMap;
use crate::host::{FailurePolicy, FuelReport, Host, OnTrap, Trap};
use crate::state::{LocalResponse, Phase, Stream};

pub struct RequestBuilder<'h> {
    host: &'h mut Host,
    worker: Option<usize>,
    method: String,
    scheme: String,
    authority: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    response_status: u16,
    response_headers: Vec<(String, Vec<u8>)>,
    response_body: Vec<u8>,
}

impl Host {
    /// A request: `GET /` to `models.example.com`, answered by the upstream with `200` unless told otherwise.
    pub fn request(&mut self) -> RequestBuilder<'_> {
        RequestBuilder {
            host: self,
            worker: None,
            method: "GET".into(),
            scheme: "http".into(),
            authority: "models.example.com".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: Vec::new(),
            response_status: 200,
            response_headers: Vec::new(),
            response_body: Vec::new(),
        }
    }
}

impl<'h> RequestBuilder<'h> {
    pub fn method(mut self, method: &str) -> Self {
        self.method = method.into();
        self
    }

    pub fn authority(mut self, authority: &str) -> Self {
        self.authority = authority.into();
        self
    }

    pub fn path(mut self, path: &str) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a request header (any bytes: Envoy passes non-UTF-8 values through).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    /// Adds one `cookie` header line.
    pub fn cookie(self, line: impl AsRef<[u8]>) -> Self {
        self.header("cookie", line)
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        if self.method == "GET" {
            self.method = "POST".into();
        }
        self
    }

    /// Sends the request on this worker instead of the next in turn.
    pub fn on_worker(mut self, worker: usize) -> Self {
        self.worker = Some(worker);
        self
    }

    /// How the upstream answers.
    pub fn upstream_status(mut self, status: u16) -> Self {
        self.response_status = status;
        self
    }

    pub fn upstream_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.response_headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn upstream_body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.response_body = body.as_ref().to_vec();
        self
    }

    fn request_headers(&mut self) -> HeaderMap {
        // Envoy's order for an HTTP/1.1 request: pseudo-headers, the client's headers, then what the
        // connection manager adds before any filter runs (x-forwarded-proto, x-request-id).
        let mut map = HeaderMap::from_pairs([
            (":authority", self.authority.as_bytes()),
            (":path", self.path.as_bytes()),
            (":method", self.method.as_bytes()),
            (":scheme", self.scheme.as_bytes()),
        ]);
        for (k, v) in &self.headers {
            map.add(k, v);
        }
        map.add("x-forwarded-proto", self.scheme.as_bytes());
        if map.get("x-request-id").is_none() {
            let id = self.host.next_request_number();
            map.add(
                "x-request-id",
                format!("00000000-0000-4000-8000-{id:012x}").as_bytes(),
            );
        }
        map
    }

    fn upstream_response_headers(&self) -> HeaderMap {
        let mut map = HeaderMap::from_pairs([(":status", self.response_status.to_string())]);
        for (k, v) in &self.response_headers {
            map.add(k, v);
        }
        map
    }

    /// Runs the stream: create → request headers (→ body) → response headers (→ body) → log → done →
    /// delete. A trap is an error, unless the host simulates a failure policy.
    pub fn send(mut self) -> Result<Exchange, Trap> {
        let request = self.request_headers();
        let response = self.upstream_response_headers();
        let RequestBuilder {
            host,
            worker,
            body,
            response_body,
            ..
        } = self;
        let index = host.pick_worker(worker);
        let on_trap = host.on_trap();
        if host.worker_parts(index).failed() {
            match on_trap {
                OnTrap::Simulate(FailurePolicy::FailReload) => {
                    host.reload_worker(index).map_err(|e| Trap {
                        worker: index,
                        callback: "reload".into(),
                        message: e.to_string(),
                        panic_message: None,
                    })?
                }
                OnTrap::Simulate(policy) => {
                    return Ok(Exchange::without_filter(
                        index,
                        policy,
                        request,
                        response,
                        response_body,
                    ))
                }
                OnTrap::Fail => {}
            }
        }
        match run_stream(
            host,
            index,
            request.clone(),
            body,
            response.clone(),
            response_body.clone(),
        ) {
            Ok(exchange) => Ok(exchange),
            Err(trap) => match on_trap {
                OnTrap::Fail => Err(trap),
                OnTrap::Simulate(_) => {
                    // The request that trapped gets a 503 whatever the policy (measured in Envoy 1.40:
                    // tests/e2e/tests/e2e_failure_modes.rs); the policy decides what later requests get.
                    host.worker_parts(index).mark_failed();
                    let mut exchange = Exchange::without_filter(
                        index,
                        FailurePolicy::FailClosed,
                        request,
                        response,
                        response_body,
                    );
                    exchange.trap = Some(trap);
                    Ok(exchange)
                }
            },
        }
    }
}

fn run_stream(
    host: &mut Host,
    index: usize,
    request: HeaderMap,
    body: Vec<u8>,
    response: HeaderMap,
    response_body: Vec<u8>,
) -> Result<Exchange, Trap> {
    let mut parts = host.worker_parts(index);
    let mut fuel = FuelReport::default();
    let context = parts.next_context_id();
    let root = parts.root_context_id();
    parts.state().stream = Some(Stream {
        request_headers: request,
        request_body: body,
        response_headers: response,
        response_body,
        context_id: context,
        ..Stream::default()
    });
    let ctx = context as i32;
    // What the callbacks' arguments need, read without copying the stream's headers and bodies.
    let sizes = |parts: &mut crate::host::WorkerParts<'_>| {
        parts
            .state()
            .stream
            .as_ref()
            .map_or(StreamSizes::default(), |st| StreamSizes {
                request_headers: st.request_headers.len() as i32,
                request_body: st.request_body.len() as i32,
                response_headers: st.response_headers.len() as i32,
                response_body: st.response_body.len() as i32,
                local_response: st.local_response.is_some(),
            })
    };

    let driven = (|| -> Result<(Action, Action, Option<HeaderMap>), Trap> {
        parts.call::<(i32, i32), ()>(
            "proxy_on_context_create",
            (ctx, root as i32),
            Phase::Other,
            &mut fuel,
        )?;
        let s = sizes(&mut parts);
        let request_action = parts.action(
            "proxy_on_request_headers",
            (ctx, s.request_headers, i32::from(s.request_body == 0)),
            Phase::RequestHeaders,
            &mut fuel,
        )?;
        if s.request_body > 0 && !sizes(&mut parts).local_response {
            parts.action(
                "proxy_on_request_body",
                (ctx, s.request_body, 1),
                Phase::RequestBody,
                &mut fuel,
            )?;
        }
        let upstream_request = parts
            .state()
            .stream
            .as_mut()
            .and_then(|st| match &st.local_response {
                None => Some(st.request_headers.clone()),
                Some(local) => {
                    // A local reply replaces the upstream's response and goes through the response path.
                    let mut headers = HeaderMap::from_pairs([(":status", local.status.to_string())]);
                    for (k, v) in local.headers.iter() {
                        headers.add(k, v);
                    }
                    st.response_body = local.body.clone();
                    st.response_headers = headers;
                    None
                }
            });
        let s = sizes(&mut parts);
        let response_action = parts.action(
            "proxy_on_response_headers",
            (ctx, s.response_headers, i32::from(s.response_body == 0)),
            Phase::ResponseHeaders,
            &mut fuel,
        )?;
        if s.response_body > 0 {
            parts.action(
                "proxy_on_response_body",
                (ctx, s.response_body, 1),
                Phase::ResponseBody,
                &mut fuel,
            )?;
        }
        parts.call::<i32, ()>("proxy_on_log", ctx, Phase::Log, &mut fuel)?;
        parts.call::<i32, i32>("proxy_on_done", ctx, Phase::Done, &mut fuel)?;
        parts.call::<i32, ()>("proxy_on_delete", ctx, Phase::Other, &mut fuel)?;
        Ok((request_action, response_action, upstream_request))
    })();
    let final_stream = parts.state().stream.take().unwrap_or_default();
    let (request_action, response_action, upstream_request) = driven?;
    Ok(Exchange {
        worker: index,
        context_id: context,
        upstream_request,
        request_action,
        response_action,
        response_headers: final_stream.response_headers,
        response_body: final_stream.response_body,
        local_response: final_stream.local_response,
        foreign_calls: final_stream.foreign_calls,
        hostcalls: final_stream.hostcalls,
        allocator_entries: final_stream.allocator_entries,
        fuel,
        filter_ran: true,
        trap: None,
    })
}

#[derive(Default)]
struct StreamSizes {
    request_headers: i32,
    request_body: i32,
    response_headers: i32,
    response_body: i32,
    local_response: bool,
}

/// What came out of one exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub worker: usize,
    pub context_id: u32,
    /// The request headers as the upstream received them; `None` when a local response answered instead.
    pub upstream_request: Option<HeaderMap>,
    pub request_action: Action,
    pub response_action: Action,
    /// The response headers as the client received them.
    pub response_headers: HeaderMap,
    pub response_body: Vec<u8>,
    pub local_response: Option<LocalResponse>,
    /// Foreign functions called during the stream, in order.
    pub foreign_calls: Vec<String>,
    /// Every hostcall the module made during the stream (from `proxy_on_context_create` to
    /// `proxy_on_delete`), by import name, in order.
    pub hostcalls: Vec<&'static str>,
    /// Entries into the module's allocator (`malloc`) to hand it a value during the stream: each is
    /// a VM entry nested in a hostcall.
    pub allocator_entries: usize,
    pub fuel: FuelReport,
    /// False when a failure policy answered without the filter.
    pub filter_ran: bool,
    /// The trap this exchange caused, under a simulated failure policy.
    pub trap: Option<Trap>,
}

impl Exchange {
    fn without_filter(
        worker: usize,
        policy: FailurePolicy,
        request: HeaderMap,
        response: HeaderMap,
        body: Vec<u8>,
    ) -> Exchange {
        let (upstream_request, response_headers, response_body) = match policy {
            FailurePolicy::FailOpen => (Some(request), response, body),
            FailurePolicy::FailClosed | FailurePolicy::FailReload => {
                (None, HeaderMap::from_pairs([(":status", "503")]), Vec::new())
            }
        };
        Exchange {
            worker,
            context_id: 0,
            upstream_request,
            request_action: Action::Continue,
            response_action: Action::Continue,
            response_headers,
            response_body,
            local_response: None,
            foreign_calls: Vec::new(),
            hostcalls: Vec::new(),
            allocator_entries: 0,
            fuel: FuelReport::default(),
            filter_ran: false,
            trap: None,
        }
    }

    /// The first value of a request header as the upstream saw it (lossy text).
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        self.upstream_request.as_ref()?.get_str(name)
    }

    /// Every value of a request header as the upstream saw it.
    pub fn upstream_header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.upstream_request.as_ref().map_or_else(Vec::new, |h| {
            h.get_all(name).into_iter().map(<[u8]>::to_vec).collect()
        })
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        self.response_headers.get_str(name)
    }

    pub fn response_header_values(&self, name: &str) -> Vec<String> {
        self.response_headers
            .get_all(name)
            .into_iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub fn status(&self) -> u16 {
        self.response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// How many times the filter asked Envoy to re-select the route (`clear_route_cache`).
    pub fn route_cache_clears(&self) -> usize {
        self.foreign_calls
            .iter()
            .filter(|f| *f == "clear_route_cache")
            .count()
    }
}
