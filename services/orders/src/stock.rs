//! Carries the stock side of each status change to the catalog after the change commits:
//! a paid order's units are sold (`commit`), a canceled order's go back on sale (`return`).
//! No HTTP call runs under a row lock or in a consumer's transaction: a short transaction
//! leases the order, the call runs with none open, and another records that the catalog
//! caught up. A call that fails is retried with growing pauses until it is done; a lease
//! left by a crashed instance runs out and is taken over.
//!
//! When a late payment finds its units sold to someone else meanwhile, the paid order is
//! canceled and its money refunded: the shop never keeps money for an order it cannot fill.

use std::time::Duration;

pub use kazna_kernel::worker::Kick;

use kazna_contracts::catalog::Reservation;
use kazna_kernel::{Code, Context};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    error::Result,
    lifecycle::{self, Change, StockTarget},
    status::{Actor, OrderStatus},
};

const BATCH: i64 = 32;

pub struct StockWorker {
    pub ctx: Context,
    pub pool: PgPool,
    pub kick: Kick,
}

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    #[sqlx(try_from = "String")]
    stock_target: StockTarget,
    stock_version: i32,
}

impl StockWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        let (kick, poll) = (self.kick.clone(), Duration::from_millis(500));
        kazna_kernel::worker::repeat("stock", kick, poll, shutdown, || self.once()).await
    }

    /// Carries out what is due now; returns how many orders it worked on.
    pub async fn once(&self) -> Result<usize> {
        let due: Vec<Due> = sqlx::query_as(
            "UPDATE orders SET stock_lease_until = now() + interval '30 seconds', stock_tries = stock_tries + 1
             WHERE id IN (SELECT id FROM orders
                          WHERE stock_synced < stock_version
                            AND (stock_lease_until IS NULL OR stock_lease_until < now())
                          ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id, stock_target, stock_version",
        )
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await?;
        let n = due.len();
        let work = due.into_iter().map(|d| self.sync(d));
        for r in futures_util::future::join_all(work).await {
            r?;
        }
        Ok(n)
    }

    async fn sync(&self, d: Due) -> Result<()> {
        let action = match d.stock_target {
            StockTarget::Committed => "commit",
            StockTarget::Released => "return",
            StockTarget::Held => return self.caught_up(&d).await,
        };
        let url = format!(
            "{}/internal/reservations/{}/{action}",
            self.ctx.settings.services.catalog.url, d.id
        );
        match self.ctx.client.post::<_, Reservation>(&url, &()).await {
            Ok(_) => self.caught_up(&d).await,
            Err(e) if action == "commit" && e.code() == Some(Code::InsufficientStock) => {
                self.sold_out(&d).await
            }
            Err(e) if e.code() == Some(Code::NotFound) => {
                tracing::error!(order.id = %d.id, "the catalog holds no reservation for this order");
                self.caught_up(&d).await
            }
            Err(e) => {
                tracing::warn!(order.id = %d.id, error = %e, action, "catalog call failed; will retry");
                sqlx::query(
                    "UPDATE orders SET stock_lease_until =
                        now() + make_interval(secs => least(60, 0.1 * 2 ^ least(stock_tries, 10)))
                     WHERE id = $1",
                )
                .bind(d.id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    }

    async fn caught_up(&self, d: &Due) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET stock_synced = greatest(stock_synced, $2), stock_lease_until = NULL,
                    stock_tries = 0
             WHERE id = $1",
        )
        .bind(d.id)
        .bind(d.stock_version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The payment came after the reservation expired and its units were sold: the order is
    /// canceled (which refunds it), unless something else changed it meanwhile.
    async fn sold_out(&self, d: &Due) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(order) = lifecycle::lock(&mut tx, d.id).await?
            && order.stock_version == d.stock_version
            && order.stock_target == StockTarget::Committed
            && order.status == OrderStatus::Paid
        {
            tracing::warn!(order.id = %d.id, "paid after its stock was sold; canceling and refunding");
            let why = "sold out before the payment arrived";
            lifecycle::transition(
                &mut tx,
                &order,
                Change::to(OrderStatus::Canceled, Actor::System, why),
            )
            .await?;
        }
        sqlx::query(
            "UPDATE orders SET stock_synced = greatest(stock_synced, $2), stock_lease_until = NULL
             WHERE id = $1",
        )
        .bind(d.id)
        .bind(d.stock_version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.kick.now();
        Ok(())
    }
}

/// Cancels unpaid orders whose time to be paid ran out, every second.
pub async fn expire_unpaid(pool: PgPool, kick: Kick, shutdown: CancellationToken) {
    let poll = Duration::from_secs(1);
    let step = || expire_due(&pool, &kick);
    kazna_kernel::worker::repeat("expiry", Kick::default(), poll, shutdown, step).await
}

/// Cancels a batch of unpaid orders past their time; returns how many.
async fn expire_due(pool: &PgPool, kick: &Kick) -> Result<usize> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending_payment' AND pay_by < now()
         ORDER BY pay_by LIMIT 100",
    )
    .fetch_all(pool)
    .await?;
    let mut expired = 0;
    for id in due {
        match crate::orders::expire(pool, id, "not paid in time").await {
            Ok(true) => expired += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(order.id = %id, error = %e, "could not expire"),
        }
    }
    if expired > 0 {
        kick.now();
    }
    Ok(expired)
}
