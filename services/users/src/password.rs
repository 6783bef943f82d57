//! Argon2id password hashing (19 MiB, 2 iterations, 1 lane), off the async threads.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

use crate::error::Error;

type Job = Box<dyn FnOnce() + Send>;

/// Hashing runs on one thread per core, started once. Each hash takes 19 MiB; a burst of
/// sign-ins queues here instead of spreading over many threads (and their allocator arenas),
/// so memory stays bounded.
fn workers() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static WORKERS: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    WORKERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for i in 0..cores {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        std::sync::Mutex::new(tx)
    })
}

/// Runs `f` on a hashing thread.
async fn on_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(f());
    });
    workers()
        .lock()
        .map_err(|_| Error::Internal("hashing workers poisoned".into()))?
        .send(job)
        .map_err(|_| Error::Internal("hashing workers stopped".into()))?;
    result
        .await
        .map_err(|_| Error::Internal("a hashing job was lost".into()))
}

fn hasher() -> Result<Argon2<'static>, Error> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash(password: String) -> Result<String, Error> {
    on_worker(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(e.to_string()))
    })
    .await?
}

/// A hash of a password nobody has, so that an unknown email costs as much as a wrong password.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Vh2GphNHl0ZfYq8kx5uXKBpA0FYhH9HzSv+9wlx4WQ";

pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Error> {
    on_worker(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY.to_owned());
        let parsed = PasswordHash::new(&phc).map_err(|e| Error::Internal(e.to_string()))?;
        let ok = hasher()?
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await?
}

/// Whether a stored hash was made with weaker settings than today's (then it is redone at the
/// next successful sign-in, when the password is at hand).
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = match hasher() {
        Ok(h) => h.params().clone(),
        Err(_) => return false,
    };
    let weaker = match Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() < current.m_cost()
                || p.t_cost() < current.t_cost()
                || p.p_cost() < current.p_cost()
        }
        Err(_) => true,
    };
    weaker || parsed.algorithm != Algorithm::Argon2id.ident()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_weaker_ones_are_flagged() {
        let stored = hash("correct horse battery".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse battery".into(), Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse battery".into(), Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("correct horse battery".into(), None)
                .await
                .expect("verify")
        );
        assert!(!needs_rehash(&stored));
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).expect("params"),
        )
        .hash_password(
            b"x",
            &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
        )
        .expect("hash")
        .to_string();
        assert!(needs_rehash(&weak));
    }
}
