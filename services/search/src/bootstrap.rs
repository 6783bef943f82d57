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

use crate::{
    index::{Op, SearchIndex},
    live::Live,
    popularity::Popularity,
};

const PAGE: usize = 500;

/// Whether the first full pull has finished; the instance is not ready before.
#[derive(Clone, Default)]
pub struct Pulled(Arc<AtomicBool>);

impl Pulled {
    pub fn done(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Pulls every product into the index in use, retrying while the catalog does not answer,
/// until done or `shutdown`.
pub async fn pull(
    ctx: Context,
    live: Arc<Live>,
    popularity: Popularity,
    pulled: Pulled,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let index = live.current();
    let mut from = None;
    let mut products = 0;
    loop {
        let step = tokio::select! {
            _ = shutdown.cancelled() => return,
            step = pull_page(&ctx, &index, &popularity, from) => step,
        };
        match step {
            Ok((n, next)) => {
                products += n;
                backoff = Duration::from_millis(100);
                match next {
                    Some(cursor) => from = Some(cursor),
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
    compact(index).await;
    pulled.0.store(true, Ordering::Release);
}

/// Rebuilds the index from the catalog beside the one in use and swaps it in; searches read
/// the old one until then. Gives up at the first failure, leaving the old one in use.
pub async fn reindex(
    ctx: Context,
    live: Arc<Live>,
    popularity: Popularity,
    index: Arc<SearchIndex>,
) {
    let started = std::time::Instant::now();
    let mut from = None;
    let mut products = 0;
    loop {
        match pull_page(&ctx, &index, &popularity, from).await {
            Ok((n, next)) => {
                products += n;
                live.progress(products);
                match next {
                    Some(cursor) => from = Some(cursor),
                    None => break,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "search: reindex failed; the index in use stays");
                live.abandon(e);
                return;
            }
        }
    }
    compact(index).await;
    match live.swap(started) {
        Ok(()) => tracing::info!(
            products,
            millis = started.elapsed().as_millis() as u64,
            "search: reindexed"
        ),
        Err(e) => live.abandon(e.to_string()),
    }
}

/// Merges a freshly pulled index into one segment (see [`SearchIndex::compact`]); an index
/// left in pieces still answers, only more slowly.
async fn compact(index: Arc<SearchIndex>) {
    match tokio::task::spawn_blocking(move || index.compact()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "search: merging the index's segments failed"),
        Err(e) => tracing::warn!(error = %e, "search: merging the index's segments failed"),
    }
}

/// Pulls one page of products after `after` into `index`, with their popularity; returns
/// how many, and where the next page starts.
async fn pull_page(
    ctx: &Context,
    index: &Arc<SearchIndex>,
    popularity: &Popularity,
    after: Option<Uuid>,
) -> Result<(usize, Option<Uuid>), String> {
    let base = format!(
        "{}/internal/products/snapshots",
        ctx.settings.services.catalog.url
    );
    let url = match after {
        Some(a) => format!("{base}?limit={PAGE}&after={a}"),
        None => format!("{base}?limit={PAGE}"),
    };
    let page = ctx
        .client
        .get::<SnapshotPage>(&url)
        .await
        .map_err(|e| e.to_string())?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let sold = popularity.of(&ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "search: popularity not read (Redis away); it comes back with the next sale");
        Vec::new()
    });
    let n = page.items.len();
    let mut ops: Vec<Op> = page.items.into_iter().map(Op::Upsert).collect();
    ops.extend(sold.into_iter().map(Op::Sold));
    let idx = index.clone();
    tokio::task::spawn_blocking(move || idx.apply(&ops))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok((n, page.next_cursor))
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
