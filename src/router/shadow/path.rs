//! The copy's `:path`: the request's, with the experiment's `match.path_prefix` replaced by the
//! shadow's `path_prefix`, as Istio's VirtualService rewrites it for the served predictors
//! (`/seldon/default/fraud-detection/api/v1.0/predictions` with prefix `/` becomes
//! `/api/v1.0/predictions`). The query string comes along.

/// The shadow's path; `None` when the request's path does not start with the experiment's prefix
/// (it did, or the experiment would not have matched: only a defensive case).
pub fn shadow_path(request_path: &str, match_prefix: &str, shadow_prefix: &str) -> Option<String> {
    let rest = request_path.strip_prefix(match_prefix)?;
    let mut path = String::with_capacity(shadow_prefix.len() + rest.len() + 1);
    path.push_str(shadow_prefix);
    // `/seldon/x/` + `api` under prefix `/v2` must be `/v2/api`, not `/v2api`; never `//`.
    match (shadow_prefix.ends_with('/'), rest.starts_with('/')) {
        (true, true) => path.push_str(rest.get(1..).unwrap_or("")),
        (false, false) if !rest.is_empty() && !rest.starts_with('?') => {
            path.push('/');
            path.push_str(rest);
        }
        _ => path.push_str(rest),
    }
    Some(path)
}
