//! The category tree.

use kazna_kernel::FieldError;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    Store,
    error::{Error, Result},
};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
}

pub async fn list(pool: &PgPool) -> Result<Vec<Category>> {
    Ok(
        sqlx::query_as("SELECT id, name, parent_id FROM categories ORDER BY name, id")
            .fetch_all(pool)
            .await?,
    )
}

pub async fn create(pool: &PgPool, name: &str, parent_id: Option<Uuid>) -> Result<Category> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Validation(vec![FieldError::new(
            "name",
            "1 to 100 characters",
        )]));
    }
    let created = sqlx::query_as(
        "INSERT INTO categories (id, name, parent_id) VALUES ($1, $2, $3) RETURNING id, name, parent_id",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(parent_id)
    .fetch_one(pool)
    .await;
    match created {
        Ok(c) => Ok(c),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(Error::Validation(
            vec![FieldError::new("parent_id", "no such category")],
        )),
        Err(e) => Err(e.into()),
    }
}

/// A category with its subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Node {
    pub id: Uuid,
    pub name: String,
    #[schema(no_recursion)]
    pub children: Vec<Node>,
}

/// The whole tree, roots and children ordered by name.
pub async fn tree(pool: &PgPool) -> Result<Vec<Node>> {
    let all = list(pool).await?;
    fn build(parent: Option<Uuid>, all: &[Category]) -> Vec<Node> {
        all.iter()
            .filter(|c| c.parent_id == parent)
            .map(|c| Node {
                id: c.id,
                name: c.name.clone(),
                children: build(Some(c.id), all),
            })
            .collect()
    }
    Ok(build(None, &all))
}

/// Serialises changes to the shape of the tree, so two moves cannot make a cycle together.
async fn lock_tree(conn: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('kazna.categories.tree'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `candidate` is `id` or lies below it.
async fn in_subtree(conn: &mut sqlx::PgConnection, id: Uuid, candidate: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE below AS (
             SELECT id FROM categories WHERE id = $1
             UNION ALL SELECT c.id FROM categories c JOIN below b ON c.parent_id = b.id)
         SELECT EXISTS (SELECT 1 FROM below WHERE id = $2)",
    )
    .bind(id)
    .bind(candidate)
    .fetch_one(conn)
    .await?)
}

/// Renames and/or moves a category (`Some(None)` makes it a root). Moving a category under
/// itself or one of its descendants is refused.
pub async fn update(
    store: &Store,
    id: Uuid,
    name: Option<&str>,
    parent: Option<Option<Uuid>>,
) -> Result<Category> {
    let name = match name.map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 100 => {
            return Err(Error::Validation(vec![FieldError::new(
                "name",
                "1 to 100 characters",
            )]));
        }
        other => other,
    };
    let mut tx = store.pool.begin().await?;
    lock_tree(&mut tx).await?;
    if let Some(Some(p)) = parent {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM categories WHERE id = $1")
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::Validation(vec![FieldError::new(
                "parent_id",
                "no such category",
            )]));
        }
        if in_subtree(&mut tx, id, p).await? {
            return Err(Error::CategoryCycle);
        }
    }
    let updated: Option<Category> = sqlx::query_as(
        "UPDATE categories SET name = coalesce($2, name),
             parent_id = CASE WHEN $3 THEN $4 ELSE parent_id END, updated_at = now()
         WHERE id = $1 RETURNING id, name, parent_id",
    )
    .bind(id)
    .bind(name)
    .bind(parent.is_some())
    .bind(parent.flatten())
    .fetch_optional(&mut *tx)
    .await?;
    let updated = updated.ok_or(Error::NotFound("Category"))?;
    // A product's snapshot names its categories and their ancestors: those below a renamed
    // or moved category change, and are announced again.
    let products: Vec<Uuid> = sqlx::query_scalar(
        "WITH RECURSIVE below AS (
             SELECT id FROM categories WHERE id = $1
             UNION ALL SELECT c.id FROM categories c JOIN below b ON c.parent_id = b.id)
         UPDATE products SET updated_at = now()
         WHERE category_ids && (SELECT array_agg(id) FROM below) AND status <> 'deleted'
         RETURNING id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    for p in &products {
        crate::products::announce(&mut tx, *p).await?;
    }
    tx.commit().await?;
    // Listings by category include descendants: a move changes them.
    store.cache.changed(&products).await;
    Ok(updated)
}

/// Deletes a category. Refused while it has children or products, unless `reassign_to`
/// names where they go instead (not the category itself or one below it). Returns the
/// products that moved.
pub async fn delete(store: &Store, id: Uuid, reassign_to: Option<Uuid>) -> Result<Vec<Uuid>> {
    let mut tx = store.pool.begin().await?;
    lock_tree(&mut tx).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM categories WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(Error::NotFound("Category"));
    }
    let children: i64 = sqlx::query_scalar("SELECT count(*) FROM categories WHERE parent_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let products: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM products WHERE $1 = ANY(category_ids)")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    match reassign_to {
        None if children > 0 || !products.is_empty() => return Err(Error::CategoryInUse),
        None => {}
        Some(target) => {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM categories WHERE id = $1")
                .bind(target)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(Error::Validation(vec![FieldError::new(
                    "reassign_to",
                    "no such category",
                )]));
            }
            if in_subtree(&mut tx, id, target).await? {
                return Err(Error::CategoryCycle);
            }
            sqlx::query(
                "UPDATE categories SET parent_id = $2, updated_at = now() WHERE parent_id = $1",
            )
            .bind(id)
            .bind(target)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE products SET category_ids = array(SELECT DISTINCT unnest(array_replace(category_ids, $1, $2))),
                     updated_at = now()
                 WHERE $1 = ANY(category_ids)",
            )
            .bind(id)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query("DELETE FROM categories WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for p in &products {
        crate::products::announce(&mut tx, *p).await?;
    }
    tx.commit().await?;
    store.cache.changed(&products).await;
    Ok(products)
}
