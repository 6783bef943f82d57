//! Access tokens: forged, stale and rotated keys; documented errors.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn every_forged_or_stale_token_is_refused() {
    let u = start(|_| {}).await;
    u.register("ada@example.com", "a long enough secret").await;
    let (access, _) = u.tokens("ada@example.com", "a long enough secret").await;
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::OK,
        "the genuine token works"
    );
    let sub = u.me(&access).await.body["id"].as_str().unwrap().to_owned();
    let (kid, der) = u.signing_key().await;
    let s = &u.env.settings;
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let parts: Vec<&str> = access.split('.').collect();

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&claims(s, &sub, 600))
    );
    let public: String =
        sqlx::query_scalar("SELECT encode(public_key, 'base64') FROM signing_keys WHERE kid = $1")
            .bind(&kid)
            .fetch_one(&u.pool)
            .await
            .expect("public key");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims(s, &sub, 600),
        &EncodingKey::from_secret(public.trim().as_bytes()),
    )
    .expect("hs");
    let changed_payload = format!("{}.{}.{}", parts[0], b64(&claims(s, &sub, 600)), parts[2]);
    let expired = sign(&kid, &der, &claims(s, &sub, -120));
    let mut wrong_aud = claims(s, &sub, 600);
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims(s, &sub, 600);
    wrong_iss["iss"] = json!("evil");
    let stranger =
        aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .expect("key");
    let unknown_kid = sign(
        "not-a-kid-of-ours",
        stranger.as_ref(),
        &claims(s, &sub, 600),
    );
    let signed_by_stranger_with_our_kid = sign(&kid, stranger.as_ref(), &claims(s, &sub, 600));

    for (name, token) in [
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("changed payload", changed_payload),
        ("expired", expired),
        ("wrong aud", sign(&kid, &der, &wrong_aud)),
        ("wrong iss", sign(&kid, &der, &wrong_iss)),
        ("unknown kid", unknown_kid),
        ("another key, our kid", signed_by_stranger_with_our_kid),
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("empty", String::new()),
    ] {
        let a = u.me(&token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(a.body["code"], "unauthorized", "{name}");
    }

    // Rotation: a new key signs, the old one still verifies until it is retired.
    let new_kid = kazna_users::keys::rotate(&u.pool).await.expect("rotate");
    let (fresh, _) = u.tokens("ada@example.com", "a long enough secret").await;
    let fresh_kid = jsonwebtoken::decode_header(&fresh).expect("header").kid;
    assert_eq!(
        fresh_kid.as_deref(),
        Some(new_kid.as_str()),
        "the new key signs"
    );
    let jwks = u
        .send(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&kid.as_str()) && kids.contains(&new_kid.as_str()),
        "both keys published: {kids:?}"
    );
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::OK,
        "a token of the old key still works"
    );
    kazna_users::keys::retire(&u.pool, &kid)
        .await
        .expect("retire");
    assert_eq!(
        u.me(&access).await.status,
        StatusCode::UNAUTHORIZED,
        "a token of a retired key does not"
    );
    assert_eq!(u.me(&fresh).await.status, StatusCode::OK);
    assert!(
        kazna_users::keys::retire(&u.pool, &new_kid).await.is_err(),
        "the signing key cannot be retired"
    );
    u.stop().await;
}

#[tokio::test]
async fn every_endpoint_documents_its_client_errors() {
    let u = start(|_| {}).await;
    let spec = u
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            let codes: Vec<&String> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            if path == "/.well-known/jwks.json" {
                continue;
            }
            assert!(
                codes.iter().any(|c| c.starts_with('4')),
                "{method} {path} documents no 4xx: {codes:?}"
            );
            if op.get("requestBody").is_some() {
                for code in ["400", "422"] {
                    assert!(
                        codes.iter().any(|c| *c == code),
                        "{method} {path} does not document {code}"
                    );
                }
            }
            let authenticated = ["/api/v1/users", "/api/v1/auth/logout"]
                .iter()
                .any(|p| path.starts_with(p));
            if authenticated {
                assert!(
                    codes.iter().any(|c| *c == "401"),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
    u.stop().await;
}
