//! The Ed25519 keys that sign access tokens: created on first start, published as a JWKS.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
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

/// The key that signs now, looked up again every so often so that a rotation reaches every
/// running instance without a restart.
pub struct Keys {
    pool: PgPool,
    every: std::time::Duration,
    current: tokio::sync::RwLock<(std::time::Instant, std::sync::Arc<SigningKey>)>,
}

impl Keys {
    pub async fn load(pool: PgPool, every: std::time::Duration) -> Result<Self, Error> {
        let key = load_or_create(&pool).await?;
        Ok(Self {
            pool,
            every,
            current: tokio::sync::RwLock::new((
                std::time::Instant::now(),
                std::sync::Arc::new(key),
            )),
        })
    }

    pub async fn current(&self) -> Result<std::sync::Arc<SigningKey>, Error> {
        {
            let (at, key) = &*self.current.read().await;
            if at.elapsed() < self.every {
                return Ok(key.clone());
            }
        }
        let key = std::sync::Arc::new(load_or_create(&self.pool).await?);
        *self.current.write().await = (std::time::Instant::now(), key.clone());
        Ok(key)
    }
}

/// Starts signing with a new key. The old ones stay in the JWKS, so tokens they signed
/// verify until they expire or the key is retired.
pub async fn rotate(pool: &PgPool) -> Result<String, Error> {
    Ok(create(pool).await?.0)
}

/// Retires a key: it leaves the JWKS, and tokens it signed stop verifying. The newest key
/// cannot be retired (something must sign).
pub async fn retire(pool: &PgPool, kid: &str) -> Result<(), Error> {
    let newest: Option<String> = sqlx::query_scalar(
        "SELECT kid FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    if newest.as_deref() == Some(kid) {
        return Err(Error::Internal(
            "the newest key signs; rotate before retiring it".into(),
        ));
    }
    let changed = sqlx::query(
        "UPDATE signing_keys SET status = 'retired', updated_at = now() WHERE kid = $1 AND status = 'active'",
    )
    .bind(kid)
    .execute(pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// The newest active key, generating one when there is none.
pub async fn load_or_create(pool: &PgPool) -> Result<SigningKey, Error> {
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, private_der FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC, kid DESC LIMIT 1",
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
/// The public half of a signing key, as RFC 8037 writes an Ed25519 key.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`
    pub kty: &'static str,
    /// `Ed25519`
    pub crv: &'static str,
    /// `EdDSA`
    pub alg: &'static str,
    /// `sig`
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    /// The public key, base64url without padding.
    pub x: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

pub async fn jwks(pool: &PgPool) -> Result<JwkSet, Error> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC",
    )
    .fetch_all(pool)
    .await?;
    let keys = rows
        .into_iter()
        .map(|(kid, public)| Jwk {
            kty: "OKP",
            crv: "Ed25519",
            alg: "EdDSA",
            use_: "sig",
            kid,
            x: URL_SAFE_NO_PAD.encode(public),
        })
        .collect();
    Ok(JwkSet { keys })
}
