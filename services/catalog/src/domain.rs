//! Catalog values, validated at the edge with every bad field named.

use kazna_contracts::Money;
use kazna_kernel::FieldError;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;

pub const MAX_IMAGES: usize = 10;
pub const MAX_VARIANTS: usize = 100;
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoneyIn {
    /// Minor units (cents).
    pub amount: i64,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VariantIn {
    pub sku: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub price: MoneyIn,
    pub stock: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProductIn {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category_ids: Vec<Uuid>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub variants: Vec<VariantIn>,
}

/// A product that passed validation.
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub category_ids: Vec<Uuid>,
    pub images: Vec<String>,
    pub attributes: serde_json::Value,
    pub variants: Vec<NewVariant>,
}

pub struct NewVariant {
    pub sku: String,
    pub options: serde_json::Value,
    pub price: Money,
    pub stock: i64,
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min {
        errors.push(FieldError::new(field, "is required"));
    } else if n > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

fn check_images(errors: &mut Vec<FieldError>, images: &[String]) {
    if images.len() > MAX_IMAGES {
        errors.push(FieldError::new(
            "images",
            format!("at most {MAX_IMAGES} images"),
        ));
    }
    for (i, url) in images.iter().enumerate() {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2048
            && !url.chars().any(char::is_whitespace);
        if !ok {
            errors.push(FieldError::new(
                format!("images[{i}]"),
                "must be an http or https URL",
            ));
        }
    }
}

pub fn parse_currency(raw: &str) -> Option<String> {
    (raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase())).then(|| raw.to_owned())
}

impl ProductIn {
    pub fn parse(self) -> Result<NewProduct, Error> {
        let mut e = Vec::new();
        check_text(&mut e, "name", &self.name, 1, 200);
        check_text(&mut e, "description", &self.description, 0, 10_000);
        check_images(&mut e, &self.images);
        let attributes = match self.attributes {
            serde_json::Value::Null => serde_json::json!({}),
            v @ serde_json::Value::Object(_) => v,
            _ => {
                e.push(FieldError::new("attributes", "must be an object"));
                serde_json::json!({})
            }
        };
        if attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
            e.push(FieldError::new("attributes", "must be at most 16 KiB"));
        }
        if self.variants.is_empty() || self.variants.len() > MAX_VARIANTS {
            e.push(FieldError::new(
                "variants",
                format!("1 to {MAX_VARIANTS} variants"),
            ));
        }
        let mut variants = Vec::with_capacity(self.variants.len());
        for (i, v) in self.variants.into_iter().enumerate() {
            let f = |name: &str| format!("variants[{i}].{name}");
            let sku_ok = (1..=64).contains(&v.sku.len())
                && v.sku
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !sku_ok {
                e.push(FieldError::new(
                    f("sku"),
                    "1 to 64 letters, digits, '-', '_' or '.'",
                ));
            }
            if v.price.amount < 0 {
                e.push(FieldError::new(f("price.amount"), "must not be negative"));
            }
            let currency = parse_currency(&v.price.currency);
            if currency.is_none() {
                e.push(FieldError::new(
                    f("price.currency"),
                    "must be an ISO 4217 code like EUR",
                ));
            }
            if !(0..=1_000_000_000).contains(&v.stock) {
                e.push(FieldError::new(
                    f("stock"),
                    "must be between 0 and 1000000000",
                ));
            }
            let options = match v.options {
                serde_json::Value::Null => serde_json::json!({}),
                o @ serde_json::Value::Object(_) => o,
                _ => {
                    e.push(FieldError::new(f("options"), "must be an object"));
                    serde_json::json!({})
                }
            };
            variants.push(NewVariant {
                sku: v.sku,
                options,
                price: Money {
                    amount: v.price.amount,
                    currency: currency.unwrap_or_default(),
                },
                stock: v.stock,
            });
        }
        if !e.is_empty() {
            return Err(Error::Validation(e));
        }
        Ok(NewProduct {
            name: self.name.trim().to_owned(),
            description: self.description.trim().to_owned(),
            category_ids: self.category_ids,
            images: self.images,
            attributes,
            variants,
        })
    }
}

/// A partial change to a product: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_ids: Option<Vec<Uuid>>,
    pub images: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

impl ProductPatch {
    /// Checks the fields given with the same rules as a new product.
    pub fn validate(mut self) -> Result<Self, Error> {
        let mut e = Vec::new();
        if let Some(name) = &self.name {
            check_text(&mut e, "name", name, 1, 200);
        }
        if let Some(d) = &self.description {
            check_text(&mut e, "description", d, 0, 10_000);
        }
        if let Some(images) = &self.images {
            check_images(&mut e, images);
        }
        if let Some(a) = &self.attributes {
            if !a.is_object() {
                e.push(FieldError::new("attributes", "must be an object"));
            } else if a.to_string().len() > MAX_ATTRIBUTES_BYTES {
                e.push(FieldError::new("attributes", "must be at most 16 KiB"));
            }
        }
        if let Some(ids) = &mut self.category_ids {
            ids.sort();
            ids.dedup();
        }
        self.name = self.name.map(|n| n.trim().to_owned());
        self.description = self.description.map(|d| d.trim().to_owned());
        if e.is_empty() {
            Ok(self)
        } else {
            Err(Error::Validation(e))
        }
    }
}
