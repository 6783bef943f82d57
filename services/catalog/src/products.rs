//! Products and their variants: creation, reads, listing, and the snapshot sent to others.

use chrono::{DateTime, Utc};
use kazna_contracts::{
    Money,
    catalog::{ProductCreated, ProductSnapshot, ProductStatus, VariantSnapshot},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    SOURCE, Store,
    domain::{MAX_VARIANTS, NewProduct, NewVariant, ProductChange, VariantChange},
    error::{Error, Result},
};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    pub id: Uuid,
    pub sku: String,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub price: Money,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
    /// How many times the stock changed (see [`VariantSnapshot::stock_version`]).
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub stock_version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Product {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub description: String,
    pub category_ids: Vec<Uuid>,
    #[schema(value_type = Vec<String>)]
    pub images: Json<Vec<String>>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    #[sqlx(try_from = "String")]
    pub status: ProductStatus,
    #[schema(value_type = Vec<Variant>)]
    pub variants: Json<Vec<Variant>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product row with its live variants, built by the database in the shape clients see, so
/// a product or a whole page of them is one query.
const PRODUCT_SELECT: &str =
    "SELECT p.id, p.seller_id, p.name, p.description, p.category_ids, p.images,
        p.attributes, p.status, p.created_at, p.updated_at,
        coalesce((SELECT json_agg(json_build_object(
                'id', v.id, 'sku', v.sku, 'options', v.options,
                'price', json_build_object('amount', v.price_amount, 'currency', v.currency),
                'stock', v.stock, 'reserved', v.reserved, 'available', v.stock - v.reserved,
                'stock_version', v.stock_version)
                ORDER BY v.id)
            FROM variants v WHERE v.product_id = p.id AND v.removed_at IS NULL), '[]') AS variants
    FROM products p";

pub async fn create(store: &Store, seller: Uuid, p: NewProduct) -> Result<Product> {
    let mut tx = store.pool.begin().await?;
    let mut wanted = p.category_ids.clone();
    wanted.sort();
    wanted.dedup();
    check_categories(&mut tx, &wanted).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO products (id, seller_id, name, description, category_ids, images, attributes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(seller)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&wanted)
    .bind(Json(&p.images))
    .bind(&p.attributes)
    .execute(&mut *tx)
    .await?;
    for v in &p.variants {
        insert_variant(&mut tx, id, v).await?;
    }
    let product = load(&mut tx, id).await?.ok_or(Error::NotFound("Product"))?;
    let snapshot = snapshot(&mut tx, &product).await?;
    kazna_events::enqueue(&mut tx, SOURCE, &ProductCreated(snapshot)).await?;
    tx.commit().await?;
    store.cache.changed(&[product.id]).await;
    Ok(product)
}

async fn insert_variant(conn: &mut PgConnection, product: Uuid, v: &NewVariant) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO variants (id, product_id, sku, options, price_amount, currency, stock)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(product)
    .bind(&v.sku)
    .bind(&v.options)
    .bind(v.price.amount_minor)
    .bind(v.price.currency.code())
    .bind(v.stock)
    .execute(conn)
    .await;
    sku_taken(inserted, &v.sku).map(|_| ())
}

/// Turns a unique-SKU violation into the error that names the SKU.
fn sku_taken<T>(r: std::result::Result<T, sqlx::Error>, sku: &str) -> Result<T> {
    match r {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("variants_sku_key") => {
            Err(Error::SkuTaken(sku.to_owned()))
        }
        other => Ok(other?),
    }
}

/// One product with its variants, whatever its status.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<Product>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PRODUCT_SELECT} WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub struct ListFilter {
    pub status: ProductStatus,
    pub category: Option<Uuid>,
    pub seller: Option<Uuid>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Products with one status, newest first, with their variants; a category includes its
/// descendants. One query per page (two with a category). Only the filters given are in the
/// SQL, so each shape gets a plan that walks the `(status, id)` index from the cursor.
pub async fn list(pool: &PgPool, f: ListFilter) -> Result<Vec<Product>> {
    let mut conn = pool.acquire().await?;
    let mut q = sqlx::QueryBuilder::new(format!("{PRODUCT_SELECT} WHERE p.status = "));
    q.push_bind(f.status.as_str());
    if let Some(category) = f.category {
        let tree: Vec<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE tree AS (
                 SELECT id FROM categories WHERE id = $1
                 UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id)
             SELECT id FROM tree",
        )
        .bind(category)
        .fetch_all(&mut *conn)
        .await?;
        q.push(" AND p.category_ids && ").push_bind(tree);
    }
    if let Some(seller) = f.seller {
        q.push(" AND p.seller_id = ").push_bind(seller);
    }
    if let Some(cursor) = f.cursor {
        q.push(" AND p.id < ").push_bind(cursor);
    }
    q.push(" ORDER BY p.id DESC LIMIT ").push_bind(f.limit + 1);
    Ok(q.build_query_as().fetch_all(&mut *conn).await?)
}

/// What search and the others are told about a product.
pub async fn snapshot(conn: &mut PgConnection, p: &Product) -> Result<ProductSnapshot> {
    let up: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH RECURSIVE up AS (
             SELECT id, name, parent_id FROM categories WHERE id = ANY($1)
             UNION SELECT c.id, c.name, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id)
         SELECT DISTINCT id, name FROM up ORDER BY name",
    )
    .bind(&p.category_ids)
    .fetch_all(conn)
    .await?;
    let (mut tree, mut path): (Vec<Uuid>, Vec<String>) = up.into_iter().unzip();
    tree.sort();
    path.dedup();
    Ok(snapshot_of(p, path, tree))
}

fn snapshot_of(
    p: &Product,
    category_path: Vec<String>,
    category_tree: Vec<Uuid>,
) -> ProductSnapshot {
    ProductSnapshot {
        id: p.id,
        seller_id: p.seller_id,
        name: p.name.clone(),
        description: p.description.clone(),
        status: p.status,
        category_ids: p.category_ids.clone(),
        category_path,
        category_tree,
        variants: p
            .variants
            .iter()
            .map(|v| VariantSnapshot {
                id: v.id,
                sku: v.sku.clone(),
                price: v.price,
                available: v.available,
                options: plain_values(&v.options),
                stock_version: v.stock_version,
            })
            .collect(),
        attributes: plain_values(&p.attributes),
        images: p.images.0.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// The members of a JSON object with a text or number value, as text: what search can
/// filter by. Other values (flags, lists, objects) are not attributes a shopper picks.
fn plain_values(v: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let Some(members) = v.as_object() else {
        return Default::default();
    };
    members
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
            _ => None,
        })
        .collect()
}

/// Snapshots of every product, whatever its status, in id order after `after`: what a
/// search instance pulls to build its index. Two queries per page.
pub async fn snapshots(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ProductSnapshot>> {
    let mut conn = pool.acquire().await?;
    let mut q = sqlx::QueryBuilder::new(format!("{PRODUCT_SELECT} WHERE true"));
    if let Some(after) = after {
        q.push(" AND p.id > ").push_bind(after);
    }
    q.push(" ORDER BY p.id LIMIT ").push_bind(limit);
    let products: Vec<Product> = q.build_query_as().fetch_all(&mut *conn).await?;
    let mut categories: Vec<Uuid> = products
        .iter()
        .flat_map(|p| p.category_ids.iter().copied())
        .collect();
    categories.sort();
    categories.dedup();
    // Each category with itself and its ancestors.
    let names: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "WITH RECURSIVE up AS (
             SELECT id AS leaf, id, name, parent_id FROM categories WHERE id = ANY($1)
             UNION SELECT up.leaf, c.id, c.name, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id)
         SELECT leaf, id, name FROM up",
    )
    .bind(&categories)
    .fetch_all(&mut *conn)
    .await?;
    let mut path_of: std::collections::HashMap<Uuid, Vec<(Uuid, String)>> = Default::default();
    for (leaf, id, name) in names {
        path_of.entry(leaf).or_default().push((id, name));
    }
    Ok(products
        .iter()
        .map(|p| {
            let up = p
                .category_ids
                .iter()
                .flat_map(|c| path_of.get(c).into_iter().flatten().cloned());
            let (mut tree, mut path): (Vec<Uuid>, Vec<String>) = up.unzip();
            path.sort();
            path.dedup();
            tree.sort();
            tree.dedup();
            snapshot_of(p, path, tree)
        })
        .collect())
}

/// Fails with 403 unless `actor` sells this product or is an admin; 404 if it is gone.
async fn check_owner(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &kazna_kernel::AuthUser,
) -> Result<()> {
    let Some(row) = lock_product(conn, id).await? else {
        return Err(Error::NotFound("Product"));
    };
    match row.status {
        ProductStatus::Deleted => Err(Error::NotFound("Product")),
        ProductStatus::Active | ProductStatus::Hidden
            if row.seller_id == actor.id() || actor.0.has(kazna_kernel::Role::Admin) =>
        {
            Ok(())
        }
        ProductStatus::Active | ProductStatus::Hidden => Err(kazna_kernel::Problem::forbidden()
            .with_detail("only the product's seller or an admin may change it")
            .into()),
    }
}

#[derive(sqlx::FromRow)]
struct Owner {
    seller_id: Uuid,
    #[sqlx(try_from = "String")]
    status: ProductStatus,
}

/// Locks a product's row for a change; `None` if there is no such product.
async fn lock_product(conn: &mut PgConnection, id: Uuid) -> Result<Option<Owner>> {
    Ok(
        sqlx::query_as("SELECT seller_id, status FROM products WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Changes the fields and variants given, all or nothing; announces the new state.
pub async fn update(
    store: &Store,
    id: Uuid,
    actor: &kazna_kernel::AuthUser,
    p: ProductChange,
) -> Result<Product> {
    let mut tx = store.pool.begin().await?;
    check_owner(&mut tx, id, actor).await?;
    if let Some(ids) = &p.category_ids {
        check_categories(&mut tx, ids).await?;
    }
    sqlx::query(
        "UPDATE products SET name = coalesce($2, name), description = coalesce($3, description),
             category_ids = coalesce($4, category_ids), images = coalesce($5, images),
             attributes = coalesce($6, attributes), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.category_ids)
    .bind(p.images.as_ref().map(sqlx::types::Json))
    .bind(&p.attributes)
    .execute(&mut *tx)
    .await?;
    for change in &p.variants {
        change_variant(&mut tx, id, change).await?;
    }
    if !p.variants.is_empty() {
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM variants WHERE product_id = $1 AND removed_at IS NULL",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let problem = match live {
            0 => Some("a product keeps at least one variant".to_owned()),
            n if n > MAX_VARIANTS as i64 => Some(format!("at most {MAX_VARIANTS} variants")),
            _ => None,
        };
        if let Some(message) = problem {
            return Err(Error::Validation(vec![kazna_kernel::FieldError::new(
                "variants", message,
            )]));
        }
    }
    let product = announce(&mut tx, id).await?;
    tx.commit().await?;
    store.cache.changed(&[id]).await;
    Ok(product)
}

/// Applies one variant change to product `product`; a variant of another product, or one
/// already removed, is refused with the field that named it.
async fn change_variant(
    conn: &mut PgConnection,
    product: Uuid,
    change: &VariantChange,
) -> Result<()> {
    let (index, changed) = match change {
        VariantChange::Add { variant, .. } => return insert_variant(conn, product, variant).await,
        VariantChange::Edit {
            index,
            id,
            sku,
            options,
            price,
        } => {
            let changed = sqlx::query(
                "UPDATE variants SET sku = coalesce($3, sku), options = coalesce($4, options),
                     price_amount = coalesce($5, price_amount), currency = coalesce($6, currency),
                     updated_at = now()
                 WHERE id = $1 AND product_id = $2 AND removed_at IS NULL",
            )
            .bind(id)
            .bind(product)
            .bind(sku)
            .bind(options)
            .bind(price.as_ref().map(|p| p.amount_minor))
            .bind(price.as_ref().map(|p| p.currency.code()))
            .execute(&mut *conn)
            .await;
            (
                index,
                sku_taken(changed, sku.as_deref().unwrap_or_default())?,
            )
        }
        VariantChange::Remove { index, id } => {
            let changed = sqlx::query(
                "UPDATE variants SET removed_at = now(), updated_at = now()
                 WHERE id = $1 AND product_id = $2 AND removed_at IS NULL",
            )
            .bind(id)
            .bind(product)
            .execute(&mut *conn)
            .await?;
            (index, changed)
        }
    };
    if changed.rows_affected() == 0 {
        return Err(Error::Validation(vec![kazna_kernel::FieldError::new(
            format!("variants[{index}].id"),
            "is not a variant of this product",
        )]));
    }
    Ok(())
}

async fn check_categories(conn: &mut PgConnection, ids: &[Uuid]) -> Result<()> {
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM categories WHERE id = ANY($1)")
        .bind(ids)
        .fetch_one(conn)
        .await?;
    if known != ids.len() as i64 {
        return Err(Error::Validation(vec![kazna_kernel::FieldError::new(
            "category_ids",
            "names a category that does not exist",
        )]));
    }
    Ok(())
}

/// Sets the status (`active`, `hidden`, `deleted`); deletion is soft, so orders keep their
/// references. Moderators may hide and restore any product; owners may delete their own.
pub async fn set_status(
    store: &Store,
    id: Uuid,
    status: ProductStatus,
    owner_check: Option<&kazna_kernel::AuthUser>,
) -> Result<Product> {
    let mut tx = store.pool.begin().await?;
    match owner_check {
        Some(actor) => check_owner(&mut tx, id, actor).await?,
        None => {
            let found = lock_product(&mut tx, id).await?.map(|o| o.status);
            if found.is_none_or(|s| s == ProductStatus::Deleted) {
                return Err(Error::NotFound("Product"));
            }
        }
    }
    sqlx::query("UPDATE products SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    let product = announce(&mut tx, id).await?;
    tx.commit().await?;
    store.cache.changed(&[id]).await;
    Ok(product)
}

/// Publishes the product's new state: updated, or deleted.
pub(crate) async fn announce(conn: &mut PgConnection, id: Uuid) -> Result<Product> {
    let product = load(conn, id).await?.ok_or(Error::NotFound("Product"))?;
    match product.status {
        ProductStatus::Deleted => {
            let event = kazna_contracts::catalog::ProductDeleted {
                id,
                updated_at: product.updated_at,
            };
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
        ProductStatus::Active | ProductStatus::Hidden => {
            let snapshot = snapshot(conn, &product).await?;
            let event = kazna_contracts::catalog::ProductUpdated(snapshot);
            kazna_events::enqueue(conn, SOURCE, &event).await?;
        }
    }
    Ok(product)
}
