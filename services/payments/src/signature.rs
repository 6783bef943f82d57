//! Webhook signatures in the scheme Stripe uses: `t=<unix time>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, refused when older than the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "stripe-signature";
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &str, t: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let sig = mac(secret, t, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={t},v1={sig}")
}

/// Whether `header` signs `body` with one of `secrets` (several while one is rotated out),
/// made within the tolerance of `now`.
pub fn verify_any<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    header: &str,
    body: &[u8],
    now: i64,
) -> bool {
    secrets
        .into_iter()
        .any(|secret| verify(secret, header, body, now))
}

/// Whether `header` signs `body` with `secret`, made within the tolerance of `now` (either
/// way: a timestamp from the future is as suspect as a stale one). Only `v1` signatures
/// count; other schemes in the header are ignored.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > TOLERANCE_SECS {
        return false;
    }
    sigs.iter()
        .any(|sig| mac(secret, t, body).is_some_and(|m| m.verify_slice(sig).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_its_body_secret_and_time() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_a", 1_000, body);
        assert!(verify("whsec_a", &header, body, 1_010));
        assert!(!verify("whsec_b", &header, body, 1_010), "other secret");
        assert!(
            !verify("whsec_a", &header, br#"{"id":"evt_2"}"#, 1_010),
            "other body"
        );
        assert!(
            !verify("whsec_a", &header, body, 1_000 + TOLERANCE_SECS + 1),
            "stale"
        );
        assert!(
            !verify("whsec_a", &header, body, 1_000 - TOLERANCE_SECS - 1),
            "from the future"
        );
        assert!(!verify("whsec_a", "t=1000", body, 1_000), "no signature");
        assert!(!verify("whsec_a", "", body, 1_000), "empty header");
        assert!(!verify("whsec_a", "garbage", body, 1_000));
        let v0 = header.replace("v1=", "v0=");
        assert!(!verify("whsec_a", &v0, body, 1_010), "unknown scheme");
    }

    #[test]
    fn any_configured_secret_verifies_while_one_is_rotated() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_new", 1_000, body);
        assert!(verify_any(["whsec_old", "whsec_new"], &header, body, 1_000));
        assert!(!verify_any(["whsec_old"], &header, body, 1_000));
        assert!(!verify_any([], &header, body, 1_000));
        // Several v1 signatures in one header (Stripe sends one per secret while rolling).
        let both = format!(
            "{header},v1={}",
            sign("whsec_old", 1_000, body)
                .split("v1=")
                .nth(1)
                .unwrap_or("")
        );
        assert!(verify_any(["whsec_old"], &both, body, 1_000));
    }
}
