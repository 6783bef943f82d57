//! What the catalog tells others: product events, and the bodies of its internal endpoints
//! (variant info for the cart, reservations for orders, snapshots for search).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Event, Money, labels};

/// Where a product stands: on sale, hidden by a moderator, or deleted by its seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    #[default]
    Active,
    Hidden,
    Deleted,
}
labels!(ProductStatus {
    Active = "active",
    Hidden = "hidden",
    Deleted = "deleted",
});

/// Whether a variant can be bought: its product's status, or `removed` when the variant
/// itself is no longer sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VariantStatus {
    Active,
    Hidden,
    Deleted,
    Removed,
}
labels!(VariantStatus {
    Active = "active",
    Hidden = "hidden",
    Deleted = "deleted",
    Removed = "removed",
});

impl VariantStatus {
    pub fn on_sale(self) -> bool {
        match self {
            VariantStatus::Active => true,
            VariantStatus::Hidden | VariantStatus::Deleted | VariantStatus::Removed => false,
        }
    }
}

/// What became of the units held for an order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Held for an unpaid order until it is paid, canceled or expires.
    Held,
    /// Sold: the units left stock.
    Committed,
    /// Back to available.
    Released,
}
labels!(ReservationStatus {
    Held = "held",
    Committed = "committed",
    Released = "released",
});

/// What other services (search above all) need to know of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductSnapshot {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub description: String,
    pub status: ProductStatus,
    pub category_ids: Vec<Uuid>,
    /// Names of every category the product is in, with their ancestors.
    pub category_path: Vec<String>,
    /// Ids of every category the product is in, with their ancestors: a product is in each
    /// one's listing.
    #[serde(default)]
    pub category_tree: Vec<Uuid>,
    pub variants: Vec<VariantSnapshot>,
    /// The product's attributes with a plain value (text, a number), as text: what a shopper
    /// can filter by, beside the variants' options.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The product's pictures, the main one first.
    #[serde(default)]
    pub images: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariantSnapshot {
    pub id: Uuid,
    pub sku: String,
    pub price: Money,
    pub available: i64,
    /// The variant's options (`colour`, `size`), as text.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Counts the variant's stock changes: of two copies of `available`, the one with the
    /// higher version is the newer.
    #[serde(default)]
    pub stock_version: i64,
}

/// `GET /internal/products/snapshots`: every product in id order, a page at a time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SnapshotPage {
    pub items: Vec<ProductSnapshot>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next_cursor: Option<Uuid>,
}

/// `GET /internal/variants?ids=`: what the cart needs to price and check a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariantInfo {
    pub id: Uuid,
    pub product_id: Uuid,
    /// The product's name.
    pub name: String,
    pub sku: String,
    /// Who sells it.
    pub seller_id: Uuid,
    pub price: Money,
    pub available: i64,
    pub status: VariantStatus,
}

/// A variant's stock: `available` is `stock - reserved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stock {
    pub id: Uuid,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
}

/// `POST /internal/reservations`: hold every line for an order, or none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReservationRequest {
    pub order_id: Uuid,
    pub lines: Vec<ReservationLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationLine {
    pub variant_id: Uuid,
    pub quantity: i64,
}

/// The units held (or sold, or released) for an order, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub order_id: Uuid,
    pub lines: Vec<ReservedLine>,
    /// When held units go back on sale if the order is not paid.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservedLine {
    pub variant_id: Uuid,
    pub quantity: i64,
    pub status: ReservationStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductCreated(pub ProductSnapshot);
impl Event for ProductCreated {
    const TYPE: &'static str = "catalog.product.created";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductUpdated(pub ProductSnapshot);
impl Event for ProductUpdated {
    const TYPE: &'static str = "catalog.product.updated";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductDeleted {
    pub id: Uuid,
    pub updated_at: DateTime<Utc>,
}
impl Event for ProductDeleted {
    const TYPE: &'static str = "catalog.product.deleted";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockChanged {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
    /// The variant's `stock_version` after this change: a copy with a lower one is older.
    #[serde(default)]
    pub version: i64,
}
impl Event for StockChanged {
    const TYPE: &'static str = "catalog.stock.changed";
}

/// The sweeper put an unpaid order's held units back on sale: its time ran out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationExpired {
    pub order_id: Uuid,
}
impl Event for ReservationExpired {
    const TYPE: &'static str = "catalog.reservation.expired";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::assert_labels_match_serde;

    #[test]
    fn labels_are_the_wire_names() {
        assert_labels_match_serde(ProductStatus::ALL, |s| s.as_str());
        assert_labels_match_serde(VariantStatus::ALL, |s| s.as_str());
        assert_labels_match_serde(ReservationStatus::ALL, |s| s.as_str());
        assert!("sold".parse::<ReservationStatus>().is_err());
    }
}
