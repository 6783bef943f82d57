//! Text the stores would refuse. PostgreSQL takes any UTF-8 in `text` and `jsonb` except the
//! NUL character, and answers an error, not a refusal, when it is sent one; so every request
//! field is checked for it at the edge, and a request that holds one is refused naming the
//! field.

use serde_json::Value;

use crate::problem::FieldError;

pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// Whether `bytes`, a JSON document, might hold a NUL: JSON can only carry one escaped.
pub fn may_hold_nul(json: &[u8]) -> bool {
    json.windows(6).any(|w| w == b"\\u0000")
}

/// Each field of `value` (by its path, `variants[0].sku`) whose key or text holds a NUL.
pub fn nul_fields(value: &Value) -> Vec<FieldError> {
    let mut found = Vec::new();
    walk(value, &mut String::new(), &mut found);
    found
}

fn walk(value: &Value, path: &mut String, found: &mut Vec<FieldError>) {
    match value {
        Value::String(s) if s.contains('\0') => found.push(field(path)),
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
                    found.push(field(path));
                } else {
                    walk(v, path, found);
                }
                path.truncate(len);
            }
        }
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn field(path: &str) -> FieldError {
    let name = if path.is_empty() { "body" } else { path };
    FieldError::new(name, NUL_MESSAGE)
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
        assert!(may_hold_nul(body.as_bytes()));
        let v: Value = serde_json::from_str(body).unwrap();
        let mut fields: Vec<String> = nul_fields(&v).into_iter().map(|f| f.field).collect();
        fields.sort();
        assert_eq!(fields, ["attributes.k\\u0000", "name", "variants[1].sku"]);
        assert!(!may_hold_nul(br#"{"name": "plain"}"#));
        let top: Value = serde_json::from_str(r#""\u0000""#).unwrap();
        assert_eq!(nul_fields(&top)[0].field, "body");
    }

    #[test]
    fn params_holding_a_nul_are_named() {
        let found = nul_params([("q", "lamp"), ("recipient", "a\0b")]);
        assert_eq!(found, [FieldError::new("recipient", NUL_MESSAGE)]);
    }
}
