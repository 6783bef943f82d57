//! The Ed25519 keys that sign access tokens: created on first start, published as a JWKS.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::error::Error;

pub struct SigningKey {
    pub kid: String,
    key: EncodingKey,
}

impl SigningKey {
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// The newest active key, generating one when there is none.
pub async fn load_or_create(pool: &PgPool) -> Result<SigningKey, Error> {
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, private_der FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let (kid, der) = match row {
        Some(r) => r,
        None => create(pool).await?,
    };
    Ok(SigningKey {
        kid,
        key: EncodingKey::from_ed_der(&der),
    })
}

async fn create(pool: &PgPool) -> Result<(String, Vec<u8>), Error> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| Error::Internal(e.to_string()))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| Error::Internal(e.to_string()))?;
    let kid = uuid::Uuid::now_v7().simple().to_string();
    sqlx::query("INSERT INTO signing_keys (kid, private_der, public_key) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(pkcs8.as_ref())
        .bind(pair.public_key().as_ref())
        .execute(pool)
        .await?;
    tracing::info!(kid = %kid, "created a token signing key");
    Ok((kid, pkcs8.as_ref().to_vec()))
}

/// Every key that still verifies, as a JSON Web Key Set.
pub async fn jwks(pool: &PgPool) -> Result<Value, Error> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC",
    )
    .fetch_all(pool)
    .await?;
    let keys: Vec<Value> = rows
        .into_iter()
        .map(|(kid, public)| {
            json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                   "kid": kid, "x": URL_SAFE_NO_PAD.encode(public)})
        })
        .collect();
    Ok(json!({ "keys": keys }))
}
