//! Test support: settings that isolate one test from every other (its own databases, cloned
//! from migrated templates, Redis key prefix, exchange and queues, data directories, free
//! ports) and give everything back when dropped; the whole platform with a typed client; a
//! TCP proxy that can cut a connection to a real dependency; a spy on the events exchange.

// Test support only: a set-up that cannot work stops the test loudly.
#![allow(clippy::expect_used)]

pub mod app;
pub mod browser;
pub mod client;
pub mod env;
pub mod mock;
pub mod ports;
pub mod proxy;
pub mod spy;
pub mod templates;

pub use app::{Answer, TestApp};
pub use browser::Browser;
pub use client::{PASSWORD, an_address};
pub use env::TestEnv;
pub use mock::{MockServer, Reply};
pub use ports::free_port;
pub use proxy::TcpProxy;
pub use spy::Spy;

/// Polls `check` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// One service of this test, running on a free port.
pub struct Spawned {
    pub url: String,
    pub ctx: kazna_kernel::Context,
    pub stop: tokio_util::sync::CancellationToken,
}

impl TestEnv {
    /// Binds a free port, lets `configure` point the settings at it (the service's own URL,
    /// say), builds the service with `build` and runs it until `stop` fires.
    pub async fn spawn<B, F>(
        &mut self,
        configure: impl FnOnce(&mut kazna_kernel::Settings, &str),
        build: B,
    ) -> Spawned
    where
        B: FnOnce(
            kazna_kernel::Context,
            tokio::net::TcpListener,
            tokio_util::sync::CancellationToken,
        ) -> F,
        F: std::future::Future<Output = Result<kazna_kernel::server::App, kazna_kernel::Error>>,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        configure(&mut self.settings, &url);
        let ctx = kazna_kernel::Context::new(std::sync::Arc::new(self.settings.clone()));
        let stop = tokio_util::sync::CancellationToken::new();
        let app = build(ctx.clone(), listener, stop.clone())
            .await
            .expect("the service builds");
        tokio::spawn(app.run_until_stopped(stop.clone()));
        Spawned { url, ctx, stop }
    }
}
