//! The copy sent to the shadow (contract "Shadow comparison"): the request's method, its path rewritten
//! for the shadow ([`super::path`]), its `content-type` and its body; nothing else of the request (no
//! cookie, no routing header, no override: the shadow is not a predictor a client can reach).

use std::borrow::Cow;

use super::path::shadow_path;
use crate::router::callout::CalloutPlan;
use crate::router::config::Shadow;

/// What the copy keeps of the request's headers, read when the request is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyHead {
    method: Cow<'static, str>,
    path: String,
    content_type: Option<Vec<u8>>,
}

impl CopyHead {
    /// `None` when the request cannot be copied faithfully: a method or path that is not text, or a
    /// path outside the experiment's prefix (it matched, so only a defensive case).
    pub fn new(
        method: &[u8],
        request_path: &[u8],
        match_prefix: &str,
        shadow: &Shadow,
        content_type: Option<Vec<u8>>,
    ) -> Option<CopyHead> {
        let method = match method {
            // The usual ones without an allocation.
            b"POST" => Cow::Borrowed("POST"),
            b"GET" => Cow::Borrowed("GET"),
            b"PUT" => Cow::Borrowed("PUT"),
            other => Cow::Owned(std::str::from_utf8(other).ok()?.to_string()),
        };
        if method.is_empty() {
            return None;
        }
        let request_path = std::str::from_utf8(request_path).ok()?;
        let path = shadow_path(request_path, match_prefix, &shadow.path_prefix)?;
        Some(CopyHead {
            method,
            path,
            content_type,
        })
    }

    /// The callout: to the shadow's cluster and authority, with the shadow's timeout.
    pub fn into_plan(self, shadow: &Shadow, body: Vec<u8>) -> CalloutPlan {
        CalloutPlan {
            cluster: shadow.cluster.clone(),
            method: self.method,
            authority: shadow.authority.clone(),
            path: self.path,
            headers: self
                .content_type
                .map(|v| ("content-type".to_string(), v))
                .into_iter()
                .collect(),
            body,
            timeout_ms: shadow.timeout_ms,
        }
    }
}
