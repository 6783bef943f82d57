//! Catalog values, validated at the edge with every bad field named.

use kazna_contracts::{Currency, Money};
use kazna_kernel::FieldError;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;

pub const MAX_IMAGES: usize = 10;
pub const MAX_VARIANTS: usize = 100;
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
pub const MAX_STOCK: i64 = 1_000_000_000;
pub const MAX_CATEGORIES: usize = 20;
/// 10^12 minor units: a cart of 100 lines of 1000 units each still sums within an `i64`.
pub const MAX_PRICE: i64 = 1_000_000_000_000;

/// A price as sent, before it is checked: a bad currency is then named with its field, like
/// every other bad field, instead of failing the whole body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoneyIn {
    /// Minor units (cents).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount: i64,
    /// ISO 4217, e.g. `EUR`.
    #[schema(value_type = kazna_contracts::Currency)]
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VariantIn {
    /// Unique in the shop.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// At most 4 KiB, e.g. `{"size": "M"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub price: MoneyIn,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProductIn {
    /// 1 to 200 characters, not only spaces.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10_000)]
    pub description: String,
    /// Categories that exist.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub category_ids: Vec<Uuid>,
    /// http or https URLs.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub images: Vec<String>,
    /// At most 16 KiB.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    #[schema(min_items = 1, max_items = 100)]
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

/// The field errors found so far; each check adds to it.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.trim().chars().count();
        if n < min {
            self.add(field, "is required");
        } else if n > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    fn images(&mut self, images: &[String]) {
        if images.len() > MAX_IMAGES {
            self.add("images", format!("at most {MAX_IMAGES} images"));
        }
        for (i, url) in images.iter().enumerate() {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && !url.chars().any(char::is_whitespace);
            if !ok {
                self.add(format!("images[{i}]"), "must be an http or https URL");
            }
        }
    }

    /// An object no bigger than `max_bytes`; `null` stands for an empty one.
    fn object(
        &mut self,
        field: &str,
        value: serde_json::Value,
        max_bytes: usize,
    ) -> serde_json::Value {
        match value {
            serde_json::Value::Null => serde_json::json!({}),
            v @ serde_json::Value::Object(_) => {
                if v.to_string().len() > max_bytes {
                    self.add(field, format!("must be at most {} KiB", max_bytes / 1024));
                }
                v
            }
            _ => {
                self.add(field, "must be an object");
                serde_json::json!({})
            }
        }
    }

    fn sku(&mut self, field: &str, sku: &str) {
        let ok = (1..=64).contains(&sku.len())
            && sku
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            self.add(field, "1 to 64 letters, digits, '-', '_' or '.'");
        }
    }

    fn price(&mut self, field: &str, price: MoneyIn) -> Money {
        if !(0..=MAX_PRICE).contains(&price.amount) {
            self.add(
                format!("{field}.amount"),
                format!("must be between 0 and {MAX_PRICE} minor units"),
            );
        }
        let currency = Currency::parse(&price.currency).unwrap_or_else(|_| {
            self.add(
                format!("{field}.currency"),
                "must be an ISO 4217 currency code like EUR",
            );
            Currency::EUR
        });
        Money::new(price.amount, currency)
    }

    fn stock(&mut self, field: &str, stock: i64) {
        if !(0..=MAX_STOCK).contains(&stock) {
            self.add(field, format!("must be between 0 and {MAX_STOCK}"));
        }
    }

    fn categories(&mut self, ids: &[Uuid]) {
        if ids.len() > MAX_CATEGORIES {
            self.add(
                "category_ids",
                format!("at most {MAX_CATEGORIES} categories"),
            );
        }
    }

    fn variant_count(&mut self, n: usize) {
        if n > MAX_VARIANTS {
            self.add("variants", format!("at most {MAX_VARIANTS} variants"));
        }
    }

    fn done<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

const OPTIONS_MAX_BYTES: usize = 4 * 1024;

impl VariantIn {
    fn parse(self, e: &mut Errors, field: &str) -> NewVariant {
        e.sku(&format!("{field}.sku"), &self.sku);
        e.stock(&format!("{field}.stock"), self.stock);
        NewVariant {
            options: e.object(&format!("{field}.options"), self.options, OPTIONS_MAX_BYTES),
            price: e.price(&format!("{field}.price"), self.price),
            sku: self.sku,
            stock: self.stock,
        }
    }
}

impl ProductIn {
    pub fn parse(self) -> Result<NewProduct, Error> {
        let mut e = Errors::default();
        e.text("name", &self.name, 1, 200);
        e.text("description", &self.description, 0, 10_000);
        e.images(&self.images);
        e.categories(&self.category_ids);
        let attributes = e.object("attributes", self.attributes, MAX_ATTRIBUTES_BYTES);
        if self.variants.is_empty() {
            e.add("variants", "a product needs at least one variant");
        }
        e.variant_count(self.variants.len());
        let variants = self
            .variants
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.parse(&mut e, &format!("variants[{i}]")))
            .collect();
        e.done(NewProduct {
            name: self.name.trim().to_owned(),
            description: self.description.trim().to_owned(),
            category_ids: self.category_ids,
            images: self.images,
            attributes,
            variants,
        })
    }
}

/// One variant in a product PATCH. With an `id` it changes that variant (or removes it);
/// without one it adds a variant, and then `sku` and `price` are required. Variants not
/// listed stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    pub id: Option<Uuid>,
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sku: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
    pub price: Option<MoneyIn>,
    /// Only for a new variant (default 0). An existing variant's stock changes through
    /// `PATCH /api/v1/variants/{id}/stock`, which knows what is reserved.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: Option<i64>,
    /// `true` stops selling the variant. Orders keep their references, reservations
    /// already held finish normally, and its SKU stays taken.
    #[serde(default)]
    pub remove: bool,
}

/// A validated variant change; `index` is its place in the request, for error messages.
pub enum VariantChange {
    Add {
        index: usize,
        variant: NewVariant,
    },
    Edit {
        index: usize,
        id: Uuid,
        sku: Option<String>,
        options: Option<serde_json::Value>,
        price: Option<Money>,
    },
    Remove {
        index: usize,
        id: Uuid,
    },
}

/// A partial change to a product: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    #[schema(max_length = 10_000)]
    pub description: Option<String>,
    #[schema(max_items = 20)]
    pub category_ids: Option<Vec<Uuid>>,
    #[schema(max_items = 10)]
    pub images: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Variants to add, change or remove.
    #[schema(max_items = 100)]
    pub variants: Option<Vec<VariantPatch>>,
}

/// A product change that passed validation.
pub struct ProductChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_ids: Option<Vec<Uuid>>,
    pub images: Option<Vec<String>>,
    pub attributes: Option<serde_json::Value>,
    pub variants: Vec<VariantChange>,
}

impl VariantPatch {
    fn parse(self, e: &mut Errors, index: usize) -> Option<VariantChange> {
        let field = format!("variants[{index}]");
        let f = |name: &str| format!("{field}.{name}");
        if let Some(sku) = &self.sku {
            e.sku(&f("sku"), sku);
        }
        let options = self
            .options
            .map(|o| e.object(&f("options"), o, OPTIONS_MAX_BYTES));
        let price = self.price.map(|p| e.price(&f("price"), p));
        match self.id {
            Some(id) if self.remove => {
                if self.sku.is_some()
                    || options.is_some()
                    || price.is_some()
                    || self.stock.is_some()
                {
                    e.add(field, "a removed variant takes no other fields than id");
                }
                Some(VariantChange::Remove { index, id })
            }
            Some(id) => {
                if self.stock.is_some() {
                    e.add(
                        f("stock"),
                        "change an existing variant's stock with PATCH /api/v1/variants/{id}/stock",
                    );
                }
                Some(VariantChange::Edit {
                    index,
                    id,
                    sku: self.sku,
                    options,
                    price,
                })
            }
            None => {
                if self.remove {
                    e.add(f("id"), "is required to remove a variant");
                }
                if self.sku.is_none() {
                    e.add(f("sku"), "is required for a new variant");
                }
                if price.is_none() {
                    e.add(f("price"), "is required for a new variant");
                }
                let stock = self.stock.unwrap_or(0);
                e.stock(&f("stock"), stock);
                Some(VariantChange::Add {
                    index,
                    variant: NewVariant {
                        sku: self.sku?,
                        options: options.unwrap_or_else(|| serde_json::json!({})),
                        price: price?,
                        stock,
                    },
                })
            }
        }
    }
}

impl ProductPatch {
    /// Checks the fields given with the same rules as a new product.
    pub fn parse(self) -> Result<ProductChange, Error> {
        let mut e = Errors::default();
        if let Some(name) = &self.name {
            e.text("name", name, 1, 200);
        }
        if let Some(d) = &self.description {
            e.text("description", d, 0, 10_000);
        }
        if let Some(images) = &self.images {
            e.images(images);
        }
        let attributes = self
            .attributes
            .map(|a| e.object("attributes", a, MAX_ATTRIBUTES_BYTES));
        let category_ids = self.category_ids.map(|mut ids| {
            ids.sort();
            ids.dedup();
            e.categories(&ids);
            ids
        });
        let patches = self.variants.unwrap_or_default();
        e.variant_count(patches.len());
        let mut seen = std::collections::HashSet::new();
        for (i, p) in patches.iter().enumerate() {
            if let Some(id) = p.id
                && !seen.insert(id)
            {
                e.add(format!("variants[{i}].id"), "names a variant listed before");
            }
        }
        let variants = patches
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| p.parse(&mut e, i))
            .collect();
        e.done(ProductChange {
            name: self.name.map(|n| n.trim().to_owned()),
            description: self.description.map(|d| d.trim().to_owned()),
            category_ids,
            images: self.images,
            attributes,
            variants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: Error) -> Vec<String> {
        match err {
            Error::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn patch(json: serde_json::Value) -> Result<ProductChange, Error> {
        serde_json::from_value::<ProductPatch>(json)
            .unwrap()
            .parse()
    }

    #[test]
    fn a_product_is_in_at_most_twenty_categories() {
        let ids: Vec<Uuid> = (0..21).map(|_| Uuid::now_v7()).collect();
        let err = patch(serde_json::json!({ "category_ids": ids }));
        assert_eq!(fields(err.err().unwrap()), ["category_ids"]);
        assert!(patch(serde_json::json!({ "category_ids": &ids[..20] })).is_ok());
    }

    #[test]
    fn prices_stay_under_a_ceiling_so_totals_cannot_overflow() {
        let id = Uuid::now_v7();
        let priced = |amount: i64| {
            patch(
                serde_json::json!({"variants": [{"id": id, "price": {"amount": amount, "currency": "EUR"}}]}),
            )
        };
        assert!(priced(MAX_PRICE).is_ok());
        assert_eq!(
            fields(priced(MAX_PRICE + 1).err().unwrap()),
            ["variants[0].price.amount"]
        );
    }

    #[test]
    fn a_new_variant_needs_a_sku_and_a_price() {
        let err = patch(serde_json::json!({"variants": [{"options": {"size": "M"}}]}));
        assert_eq!(
            fields(err.err().unwrap()),
            ["variants[0].sku", "variants[0].price"]
        );
    }

    #[test]
    fn an_existing_variant_changes_stock_elsewhere() {
        let id = Uuid::now_v7();
        let err = patch(serde_json::json!({"variants": [{"id": id, "stock": 5}]}));
        assert_eq!(fields(err.err().unwrap()), ["variants[0].stock"]);
    }

    #[test]
    fn every_bad_field_is_named_with_its_place() {
        let id = Uuid::now_v7();
        let err = patch(serde_json::json!({
            "name": " ",
            "variants": [
                {"id": id, "price": {"amount": -1, "currency": "XYZ"}},
                {"id": id, "remove": true, "sku": "X"},
                {"sku": "bad sku!", "price": {"amount": 100, "currency": "EUR"}, "stock": -2},
            ]
        }));
        assert_eq!(
            fields(err.err().unwrap()),
            [
                "name",
                "variants[1].id",
                "variants[0].price.amount",
                "variants[0].price.currency",
                "variants[1]",
                "variants[2].sku",
                "variants[2].stock",
            ]
        );
    }

    #[test]
    fn a_valid_patch_lists_its_changes_in_order() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let change = patch(serde_json::json!({
            "variants": [
                {"id": a, "price": {"amount": 1299, "currency": "EUR"}},
                {"id": b, "remove": true},
                {"sku": "TEE-XL", "price": {"amount": 1499, "currency": "EUR"}},
            ]
        }))
        .unwrap();
        assert!(matches!(
            &change.variants[..],
            [
                VariantChange::Edit { index: 0, price: Some(p), .. },
                VariantChange::Remove { index: 1, .. },
                VariantChange::Add { index: 2, variant },
            ] if p.amount_minor == 1299 && variant.stock == 0 && variant.sku == "TEE-XL"
        ));
    }
}
