//! Reading the sticky cookie from `Cookie` headers, and writing `Set-Cookie`.
//!
//! Rules: cookies are read from every `cookie` header line in order; the first occurrence of the name
//! counts; names and values are case-sensitive; white space around `=` and `;` is ignored; a value
//! wrapped in double quotes is unquoted. Pairs without `=` are ignored.

/// The value of the first cookie called `name` in one `Cookie` header line.
pub fn find_in_line<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    line.split(|b| *b == b';').find_map(|pair| {
        let eq = pair.iter().position(|b| *b == b'=')?;
        let (key, rest) = pair.split_at(eq);
        if trim(key) != name {
            return None;
        }
        Some(unquote(trim(rest.get(1..).unwrap_or_default())))
    })
}

/// The value of the first cookie called `name` across several `Cookie` header lines, in order.
pub fn find_in_lines<L: AsRef<[u8]>>(lines: &[L], name: &[u8]) -> Option<Vec<u8>> {
    lines
        .iter()
        .find_map(|line| find_in_line(line.as_ref(), name))
        .map(<[u8]>::to_vec)
}

/// The attributes of the filter's `Set-Cookie` beyond name and value.
#[derive(Debug, Clone, Copy)]
pub struct CookieAttributes<'a> {
    pub max_age_seconds: u32,
    pub secure: bool,
    pub domain: Option<&'a str>,
}

/// `Set-Cookie` value that pins a user to `predictor`:
/// `<cookie>=<predictor>; Path=/; Max-Age=<n>; HttpOnly; SameSite=Lax[; Secure][; Domain=<domain>]`.
pub fn set_cookie(cookie: &str, predictor: &str, attributes: CookieAttributes<'_>) -> String {
    let mut value = format!(
        "{cookie}={predictor}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        attributes.max_age_seconds
    );
    if attributes.secure {
        value.push_str("; Secure");
    }
    if let Some(domain) = attributes.domain {
        value.push_str("; Domain=");
        value.push_str(domain);
    }
    value
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_space(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_space(b)).map_or(start, |p| p + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_unquotes() {
        assert_eq!(
            find_in_line(b" a = 1 ;  pr-x =\t\"rf\" ", b"pr-x"),
            Some(&b"rf"[..])
        );
        assert_eq!(find_in_line(b"pr-x=\"", b"pr-x"), Some(&b"\""[..]));
        assert_eq!(find_in_line(b"pr-x", b"pr-x"), None);
        assert_eq!(find_in_line(b"", b"pr-x"), None);
        assert_eq!(find_in_line(b"PR-X=rf", b"pr-x"), None);
        assert_eq!(find_in_line(b"pr-x==rf", b"pr-x"), Some(&b"=rf"[..]));
    }
}
