//! Values the stores would refuse or garble. PostgreSQL takes any UTF-8 in `text` and `jsonb`
//! except the NUL character, and answers an error, not a refusal, when it is sent one. It keeps
//! any number in `jsonb` exactly, but writes one near the `f64` limit back with digits that read
//! as infinity, so such a row could no longer be read. Every request field is checked at the
//! edge, and a request that holds either is refused naming the field.

use serde_json::Value;

use crate::problem::FieldError;

pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// The largest magnitude a JSON number may have.
pub const MAX_NUMBER: f64 = 1e300;
pub const NUMBER_MESSAGE: &str = "must be a number between -1e300 and 1e300";

/// Whether `json`, a JSON document, might hold a NUL (JSON can only carry one escaped, as
/// `\u0000` inside a string) or a number past [`MAX_NUMBER`] (one needs an exponent, or more
/// than 300 digits, outside any string). A false alarm only costs a second look; reading
/// strings apart keeps the digits and letters of ids from raising one.
pub fn may_hold_unstorable(json: &[u8]) -> bool {
    let mut digits = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in json.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
                if *b == b'u' && json[i..].starts_with(b"u0000") {
                    return true;
                }
            } else if *b == b'\\' {
                escaped = true;
            } else if *b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 300 {
                    return true;
                }
                continue;
            }
            b'e' | b'E' if digits > 0 => return true,
            b'"' => in_string = true,
            _ => {}
        }
        digits = 0;
    }
    false
}

/// Each field of `value` (by its path, `variants[0].sku`) whose key or text holds a NUL, or
/// that is a number past [`MAX_NUMBER`].
pub fn unstorable_fields(value: &Value) -> Vec<FieldError> {
    let mut found = Vec::new();
    walk(value, &mut String::new(), &mut found);
    found
}

fn walk(value: &Value, path: &mut String, found: &mut Vec<FieldError>) {
    match value {
        Value::String(s) if s.contains('\0') => found.push(field(path, NUL_MESSAGE)),
        Value::Number(n) if n.as_f64().is_none_or(|x| x.abs() > MAX_NUMBER) => {
            found.push(field(path, NUMBER_MESSAGE))
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(v, path, found);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                if k.contains('\0') {
                    found.push(field(path, NUL_MESSAGE));
                } else {
                    walk(v, path, found);
                }
                path.truncate(len);
            }
        }
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn field(path: &str, message: &str) -> FieldError {
    let name = if path.is_empty() { "body" } else { path };
    FieldError::new(name, message)
}

/// Each `(name, value)` pair (of a query string or a path) whose name or value holds a NUL.
pub fn nul_params<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<FieldError> {
    pairs
        .into_iter()
        .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| FieldError::new(k.replace('\0', "\\u0000"), NUL_MESSAGE))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_holding_a_nul_is_named_by_its_path() {
        let body = r#"{"name": "a\u0000b", "variants": [{"sku": "ok"}, {"sku": "x\u0000"}],
                       "attributes": {"k\u0000": 1}, "fine": "\\u0000 is text here"}"#;
        assert!(may_hold_unstorable(body.as_bytes()));
        let v: Value = serde_json::from_str(body).unwrap();
        let mut fields: Vec<String> = unstorable_fields(&v).into_iter().map(|f| f.field).collect();
        fields.sort();
        assert_eq!(fields, ["attributes.k\\u0000", "name", "variants[1].sku"]);
        assert!(!may_hold_unstorable(
            br#"{"name": "plain", "price": 12.5, "n": 12}"#
        ));
        // Digits and letters inside a string are text, an escaped backslash is not an escape.
        assert!(!may_hold_unstorable(
            br#"{"variant_id": "01a23bb7-3e12-7236-b7ab-726ffb6a352a", "note": "\\u0000 \" 9e9"}"#
        ));
        assert!(may_hold_unstorable(br#"{"a": "\"\u0000"}"#));
        assert!(may_hold_unstorable(br#"{"a\u0000": 1}"#));
        let top: Value = serde_json::from_str(r#""\u0000""#).unwrap();
        assert_eq!(unstorable_fields(&top)[0].field, "body");
    }

    #[test]
    fn numbers_past_the_limit_are_named_however_they_are_written() {
        let huge = format!("{{\"a\": {{\"b\": [1, {}]}}}}", "9".repeat(301));
        for body in [
            r#"{"a": {"b": [1, 1.7976931348623155e+308]}}"#,
            r#"{"a": {"b": [1, -2E301]}}"#,
            r#"{"a": {"b": [1, 17976931348623155e292]}}"#,
            r#"{"a": {"b": [1, 1.5e0301]}}"#,
            &huge,
        ] {
            assert!(may_hold_unstorable(body.as_bytes()), "{body}");
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                unstorable_fields(&v),
                [FieldError::new("a.b[1]", NUMBER_MESSAGE)]
            );
        }
        let fine: Value =
            serde_json::from_str(r#"{"a": [1e300, -1e300, 0.5, 18446744073709551615]}"#).unwrap();
        assert!(unstorable_fields(&fine).is_empty());
    }

    #[test]
    fn params_holding_a_nul_are_named() {
        let found = nul_params([("q", "lamp"), ("recipient", "a\0b")]);
        assert_eq!(found, [FieldError::new("recipient", NUL_MESSAGE)]);
    }
}
