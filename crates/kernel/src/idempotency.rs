//! The `Idempotency-Key` header, read the same way by every POST that moves money.

use axum::http::HeaderMap;

use crate::{code::Code, problem::Problem};

pub const HEADER: &str = "idempotency-key";

/// The key sent, if any: 1 to 255 visible ASCII characters. A key that is there but not
/// that is refused with `idempotency_key_required`.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..0x7f).contains(&b)) => {
            Ok(Some(k.to_owned()))
        }
        _ => Err(Problem::new(Code::IdempotencyKeyRequired)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, axum::http::HeaderValue::from_bytes(v).unwrap());
        h
    }

    #[test]
    fn a_key_is_one_to_255_visible_characters() {
        assert_eq!(key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(key(&with(b"order-1")).unwrap().as_deref(), Some("order-1"));
        assert!(key(&with(b"has space")).is_err());
        assert!(key(&with(b"")).is_err());
        assert!(key(&with(&[b'k'; 256])).is_err());
        assert!(key(&with("ключ".as_bytes())).is_err());
    }
}
