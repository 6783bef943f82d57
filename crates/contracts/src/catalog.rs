use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Money};

/// What other services (search above all) need to know of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSnapshot {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub description: String,
    pub status: String,
    pub category_ids: Vec<Uuid>,
    /// Names of every category the product is in, with their ancestors.
    pub category_path: Vec<String>,
    pub variants: Vec<VariantSnapshot>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSnapshot {
    pub id: Uuid,
    pub sku: String,
    pub price: Money,
    pub available: i64,
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
}
impl Event for StockChanged {
    const TYPE: &'static str = "catalog.stock.changed";
}
