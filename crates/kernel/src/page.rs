//! Cursor pagination: `?limit=&cursor=` in, `{items, next_cursor}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::{FieldError, Problem};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct PageQuery {
    /// How many items to return (1–100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, Problem> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Problem::validation(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )])),
        }
    }

    /// The cursor as the id it stands for.
    pub fn cursor_id(&self) -> Result<Option<uuid::Uuid>, Problem> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => uuid::Uuid::parse_str(c).map(Some).map_err(|_| {
                Problem::validation(vec![FieldError::new(
                    "cursor",
                    "is not a cursor this API gave",
                )])
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> uuid::Uuid) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next_cursor = if more {
            rows.last().map(|r| id_of(r).to_string())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}
