//! Builds an instance's index from the catalog: every product, a page at a time, pulled once
//! the instance's queue exists, so a change made during the pull arrives as an event too.
//! Changes carry `updated_at`, and the index keeps the newest, so the order does not matter.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use kazna_contracts::catalog::SnapshotPage;
use kazna_kernel::Context;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::index::{Op, SearchIndex};

const PAGE: usize = 500;

/// Whether the first full pull has finished; the instance is not ready before.
#[derive(Clone, Default)]
pub struct Pulled(Arc<AtomicBool>);

impl Pulled {
    pub fn done(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Pulls every product into `index`, retrying while the catalog does not answer, until done
/// or `shutdown`.
pub async fn pull(
    ctx: Context,
    index: Arc<SearchIndex>,
    pulled: Pulled,
    shutdown: CancellationToken,
) {
    let base = format!(
        "{}/internal/products/snapshots",
        ctx.settings.services.catalog.url
    );
    let mut after: Option<Uuid> = None;
    let mut products = 0;
    let mut backoff = Duration::from_millis(100);
    loop {
        let url = match after {
            Some(a) => format!("{base}?limit={PAGE}&after={a}"),
            None => format!("{base}?limit={PAGE}"),
        };
        let page = tokio::select! {
            _ = shutdown.cancelled() => return,
            page = ctx.client.get::<SnapshotPage>(&url) => page,
        };
        let applied = match page {
            Ok(page) => {
                let next = page.next_cursor;
                let ops: Vec<Op> = page.items.into_iter().map(Op::Upsert).collect();
                let n = ops.len();
                let idx = index.clone();
                match tokio::task::spawn_blocking(move || idx.apply(&ops)).await {
                    Ok(Ok(())) => Ok((n, next)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match applied {
            Ok((n, next)) => {
                products += n;
                backoff = Duration::from_millis(100);
                match next {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "search: pulling from the catalog failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!(products, "search: index pulled from the catalog");
    pulled.0.store(true, Ordering::Release);
}

/// This instance's id, kept in its data directory beside the index: its queue is named after
/// it, so every instance gets every event.
pub fn instance_id(dir: &std::path::Path) -> std::io::Result<String> {
    let path = dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            std::fs::create_dir_all(dir)?;
            let id = Uuid::new_v4().simple().to_string()[..12].to_owned();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}
