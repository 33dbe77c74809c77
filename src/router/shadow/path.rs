//! The copy's `:path`: the request's, with the experiment's `match.path_prefix` replaced by the
//! shadow's `path_prefix` as a plain string replacement, exactly as Envoy's `prefix_rewrite` (what a
//! VirtualService `rewrite.uri` becomes) rewrites the served predictors' requests: no slash is added
//! or removed where the two meet (`/seldon/default/fraud-detection/api/v1.0/predictions` with prefix `/`
//! becomes `/api/v1.0/predictions`; with `/v2` it becomes `/v2api/v1.0/predictions`, as in Envoy). The
//! query string comes along.

/// The shadow's path; `None` when the request's path does not start with the experiment's prefix
/// (it did, or the experiment would not have matched: only a defensive case).
pub fn shadow_path(request_path: &str, match_prefix: &str, shadow_prefix: &str) -> Option<String> {
    let rest = request_path.strip_prefix(match_prefix)?;
    let mut path = String::with_capacity(shadow_prefix.len() + rest.len());
    path.push_str(shadow_prefix);
    path.push_str(rest);
    Some(path)
}
