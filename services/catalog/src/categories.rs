//! The category tree.

use kazna_kernel::FieldError;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, Result};

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
