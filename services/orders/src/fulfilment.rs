//! Shipping and delivery. Each seller ships its own lines as one parcel, with a carrier and
//! a tracking number; an admin may ship or deliver every parcel at once. The order is
//! `shipped` once every seller's parcel is, and `delivered` once every parcel is.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    lifecycle::{self, Change},
    status::{Actor, OrderStatus},
    view::{self, Order, Reader},
};

pub struct Fulfil {
    pub status: OrderStatus,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// Marks `reader`'s parcel of order `id` (every parcel, for an admin) shipped or delivered,
/// and moves the order on when the last parcel gets there.
pub async fn fulfil(pool: &PgPool, reader: Reader, id: Uuid, f: Fulfil) -> Result<Order> {
    let mut tx = pool.begin().await?;
    if view::one(&mut tx, reader, id).await?.is_none() {
        return Err(Error::NotFound);
    }
    let order = lifecycle::lock(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let sellers: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT seller_id FROM order_lines WHERE order_id = $1 ORDER BY seller_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let mine: Vec<Uuid> = match reader.admin {
        true => sellers.clone(),
        false if sellers.contains(&reader.id) => vec![reader.id],
        false => {
            return Err(Error::Forbidden(
                "Only the seller of these lines or an admin",
            ));
        }
    };
    let by = Actor::User(reader.id);
    let everything = match f.status {
        OrderStatus::Shipped => {
            if order.status != OrderStatus::Paid {
                return Err(Error::Transition {
                    from: order.status,
                    to: OrderStatus::Shipped,
                });
            }
            let shipped = sqlx::query(
                "INSERT INTO shipments (order_id, seller_id, status, carrier, tracking_number, shipped_by)
                 SELECT $1, s, 'shipped', $3, $4, $5 FROM unnest($2::uuid[]) s
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(&mine)
            .bind(&f.carrier)
            .bind(&f.tracking_number)
            .bind(by.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if shipped == 0 {
                // This seller's parcel left already.
                return Err(Error::Transition {
                    from: OrderStatus::Shipped,
                    to: OrderStatus::Shipped,
                });
            }
            let out: i64 = sqlx::query_scalar("SELECT count(*) FROM shipments WHERE order_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            out as usize == sellers.len()
        }
        OrderStatus::Delivered => {
            if order.status != OrderStatus::Shipped {
                return Err(Error::Transition {
                    from: order.status,
                    to: OrderStatus::Delivered,
                });
            }
            let delivered = sqlx::query(
                "UPDATE shipments SET status = 'delivered', delivered_by = $3, delivered_at = now()
                 WHERE order_id = $1 AND seller_id = ANY($2) AND status = 'shipped'",
            )
            .bind(id)
            .bind(&mine)
            .bind(by.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if delivered == 0 {
                return Err(Error::Transition {
                    from: OrderStatus::Delivered,
                    to: OrderStatus::Delivered,
                });
            }
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM shipments WHERE order_id = $1 AND status <> 'delivered'",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            left == 0
        }
        other => {
            return Err(Error::Validation(vec![kazna_kernel::FieldError::new(
                "status",
                format!("shipped or delivered, not {other}"),
            )]));
        }
    };
    if everything {
        let change = Change {
            to: f.status,
            by,
            note: None,
            refund: None,
        };
        lifecycle::transition(&mut tx, &order, change).await?;
    }
    let seen = view::one(&mut tx, reader, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(seen)
}
