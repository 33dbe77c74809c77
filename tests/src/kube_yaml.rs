//! YAML documents read as the Kubernetes API server reads them (`kubectl apply`, sigs.k8s.io/yaml on
//! go-yaml v2: YAML 1.1 resolution of plain scalars), for validating manifests against CRD schemas.
//!
//! Why not serde_yaml: it resolves plain scalars by YAML 1.2's core schema, in which `0000` (leading
//! zeros) or `yes` stay strings, while go-yaml v2 reads `0000` as the integer 0 (octal) and `yes` as
//! `true`. A manifest that serde_yaml accepts could then be refused by the API server (a sha256 of
//! zeros unquoted: `spec.wasm[0].code.http.sha256` would be the integer 0, not a string). This reader
//! keeps the quoting style of every scalar and types plain ones as go-yaml v2 does.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Every document of `text` (empty ones left out), typed as the API server types them.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| e.to_string())?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// A plain scalar as go-yaml v2 resolves it (`resolve.go`): null, booleans of YAML 1.1, integers in
/// decimal, octal (leading 0), hex (0x) and binary (0b) with `_` separators, floats, infinities and NaN
/// (kept as strings: JSON has no such numbers, and the API server would refuse them anyway).
pub fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let starts_numeric = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.');
    if !starts_numeric {
        return Value::String(text.to_string());
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(n) = integer(&plain) {
        return Value::Number(n);
    }
    if is_yaml_float(&plain) {
        if let Some(n) = plain.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: sign, then `0x`/`0o`/`0b` prefixes or a leading
/// `0` for octal.
fn integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0b").or_else(|| digits.strip_prefix("0B")) {
        (2, rest)
    } else if let Some(rest) = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")) {
        (8, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, digits.get(1..)?)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(body, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude).ok().map(|m| -m)?;
        Some(Number::from(value))
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

enum Node {
    Sequence(Vec<Value>, usize),
    Mapping(Map<String, Value>, Option<String>, usize),
}

#[derive(Default)]
struct Builder {
    documents: Vec<Value>,
    stack: Vec<Node>,
    anchors: HashMap<usize, Value>,
    error: Option<String>,
}

impl Builder {
    fn push_value(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(value),
            Some(Node::Sequence(items, _)) => items.push(value),
            Some(Node::Mapping(map, key, _)) => match key.take() {
                None => match value {
                    Value::String(k) => *key = Some(k),
                    Value::Bool(b) => *key = Some(b.to_string()),
                    Value::Number(n) => *key = Some(n.to_string()),
                    Value::Null => *key = Some("null".to_string()),
                    _ => self.error = Some("a mapping key that is not a scalar".to_string()),
                },
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = match (style, tag) {
                    (_, Some(Tag { suffix, .. })) if suffix == "str" => Value::String(text),
                    (TScalarStyle::Plain, _) => plain_scalar(&text),
                    _ => Value::String(text),
                };
                self.push_value(value, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Node::Sequence(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => self.stack.push(Node::Mapping(Map::new(), None, anchor)),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Node::Sequence(items, anchor)) => self.push_value(Value::Array(items), anchor),
                Some(Node::Mapping(map, _, anchor)) => self.push_value(Value::Object(map), anchor),
                None => self.error = Some("unbalanced collection".to_string()),
            },
            Event::Alias(anchor) => {
                let value = self.anchors.get(&anchor).cloned().unwrap_or(Value::Null);
                self.push_value(value, 0);
            }
            Event::DocumentEnd if self.documents.is_empty() && self.stack.is_empty() => {}
            _ => {}
        }
    }
}
