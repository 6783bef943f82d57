//! Changes to the index, each safe to apply twice or late.
//!
//! Every product's document keeps what it was built from ([`Source`]): the newest copy of the
//! product seen (by `updated_at`), each variant's newest stock (by stock version) and its
//! popularity. A change is merged into that and the document rebuilt, so:
//! - a copy of the product older than the one kept is ignored;
//! - a stock change older than the stock kept is ignored, even when it arrives after a newer
//!   copy of the whole product, or before the product itself (it is kept until then);
//! - popularity only grows (it is a running total, see [`super::boost`]).

use std::collections::{BTreeMap, HashMap};

use kazna_contracts::catalog::{ProductSnapshot, ProductStatus, StockChanged};
use serde::{Deserialize, Serialize};
use tantivy::{TantivyDocument, schema::Value};
use uuid::Uuid;

use super::SearchIndex;
use crate::error::Error;

/// One change to the index.
#[derive(Debug, Clone)]
pub enum Op {
    Upsert(ProductSnapshot),
    /// A deleted product, with the time it was deleted.
    Remove(Uuid, i64),
    Stock(StockChanged),
    Sold(Sold),
}

/// A product's popularity as it stands after a sale (a running total, see [`super::boost`]).
#[derive(Debug, Clone, Copy)]
pub struct Sold {
    pub product_id: Uuid,
    pub popularity: f64,
}

impl Op {
    fn id(&self) -> Uuid {
        match self {
            Op::Upsert(p) => p.id,
            Op::Remove(id, _) => *id,
            Op::Stock(s) => s.product_id,
            Op::Sold(s) => s.product_id,
        }
    }
}

/// What a product's document is built from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Source {
    /// `updated_at` (ms) of the newest copy of the product seen, or of its deletion.
    version: Option<i64>,
    /// The newest copy, while it is not deleted.
    product: Option<ProductSnapshot>,
    /// Each variant's newest stock: `(available, stock version)`.
    stock: BTreeMap<Uuid, (i64, i64)>,
    popularity: f64,
}

impl Source {
    /// Whether the product is on sale.
    fn live(&self) -> bool {
        self.product
            .as_ref()
            .is_some_and(|p| p.status == ProductStatus::Active)
    }

    fn merge(&mut self, op: &Op) {
        match op {
            Op::Upsert(p) => {
                let version = p.updated_at.timestamp_millis();
                if self.version.is_some_and(|v| v > version) {
                    return;
                }
                self.version = Some(version);
                for v in &p.variants {
                    self.stock_at(v.id, v.available, v.stock_version);
                }
                self.product = (p.status != ProductStatus::Deleted).then(|| p.clone());
            }
            Op::Remove(_, at) => {
                if self.version.is_some_and(|v| v > *at) {
                    return;
                }
                self.version = Some(*at);
                self.product = None;
            }
            Op::Stock(s) => self.stock_at(s.variant_id, s.available, s.version),
            Op::Sold(s) => self.popularity = self.popularity.max(s.popularity),
        }
    }

    fn stock_at(&mut self, variant: Uuid, available: i64, version: i64) {
        let kept = self.stock.entry(variant).or_insert((available, version));
        if version >= kept.1 {
            *kept = (available, version);
        }
    }

    /// Units available of `variant`, by the newest word of it.
    fn available(&self, variant: Uuid, snapshot: i64) -> i64 {
        self.stock.get(&variant).map_or(snapshot, |(a, _)| *a)
    }
}

impl SearchIndex {
    /// What product `id`'s document was built from, if it has one.
    fn source(&self, id: Uuid) -> Result<Option<Source>, Error> {
        let searcher = self.reader.searcher();
        let Some(doc) = self.find(&searcher, id)? else {
            return Ok(None);
        };
        let text = doc.get_first(self.f.source).and_then(|v| v.as_str());
        Ok(text.and_then(|t| serde_json::from_str(t).ok()))
    }

    /// Applies a batch of changes with one commit; see the module's doc for why any order
    /// and any repetition of them gives the same index.
    ///
    /// The writer is held from the first read to the reload after the commit, so two
    /// batches never merge into the same old copy.
    pub fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        let mut writer = self.writer.lock().map_err(|_| Error::Poisoned)?;
        let mut changed: HashMap<Uuid, Source> = HashMap::new();
        for op in ops {
            let id = op.id();
            let mut source = match changed.remove(&id) {
                Some(s) => s,
                None => self.source(id)?.unwrap_or_default(),
            };
            source.merge(op);
            changed.insert(id, source);
        }
        for (id, source) in &changed {
            writer.delete_term(self.id_term(*id));
            writer.add_document(self.document(*id, source))?;
        }
        writer.commit()?;
        self.reader.reload()?;
        drop(writer);
        Ok(())
    }

    fn document(&self, id: Uuid, source: &Source) -> TantivyDocument {
        let f = &self.f;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, id.to_string());
        doc.add_i64(f.updated_at, source.version.unwrap_or(i64::MIN));
        doc.add_f64(f.popularity, source.popularity);
        doc.add_text(f.source, serde_json::to_string(source).unwrap_or_default());
        let product = match &source.product {
            Some(p) if source.live() => p,
            _ => {
                doc.add_i64(f.live, 0);
                doc.add_f64(f.newness, 0.0);
                return doc;
            }
        };
        doc.add_i64(f.live, 1);
        doc.add_text(f.name, &product.name);
        doc.add_text(f.description, &product.description);
        if let Some(image) = product.images.first() {
            doc.add_text(f.image, image);
        }
        doc.add_text(f.seller, product.seller_id.to_string());
        for category in &product.category_path {
            doc.add_text(f.categories, category);
        }
        for id in &product.category_tree {
            doc.add_text(f.category_tree, id.to_string());
        }
        let options = product.variants.iter().flat_map(|v| &v.options);
        let mut attributes: Vec<String> = product
            .attributes
            .iter()
            .chain(options)
            .map(|(k, v)| attribute_term(k, v))
            .collect();
        attributes.sort();
        attributes.dedup();
        for a in &attributes {
            doc.add_text(f.attributes, a);
            if let Some((_, value)) = a.split_once('=') {
                doc.add_text(f.attribute_words, value);
            }
        }
        let cheapest = product.variants.iter().min_by_key(|v| v.price.amount_minor);
        doc.add_i64(f.price, cheapest.map_or(0, |v| v.price.amount_minor));
        let dearest = product.variants.iter().map(|v| v.price.amount_minor).max();
        doc.add_i64(f.price_max, dearest.unwrap_or(0));
        let in_stock = product
            .variants
            .iter()
            .any(|v| source.available(v.id, v.available) > 0);
        doc.add_i64(f.in_stock, i64::from(in_stock));
        doc.add_i64(f.created_at, product.created_at.timestamp_millis());
        doc.add_f64(f.newness, super::boost::newness(product.created_at));
        doc.add_text(
            f.currency,
            cheapest.map(|v| v.price.currency.code()).unwrap_or(""),
        );
        doc
    }
}

/// How an attribute is indexed, filtered and counted: `name=value`, both trimmed and in
/// lower case.
pub(super) fn attribute_term(name: &str, value: &str) -> String {
    format!(
        "{}={}",
        name.trim().to_lowercase(),
        value.trim().to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{
        Filters, SearchIndex, Sort,
        tests::{empty, priced},
    };
    use super::{Op, Sold};
    use chrono::{TimeZone, Utc};
    use kazna_contracts::catalog::{ProductStatus, StockChanged};

    fn stocked_names(index: &SearchIndex) -> Vec<String> {
        let only = Filters {
            in_stock: true,
            ..Filters::default()
        };
        let (hits, _) = index.search("", &only, Sort::PriceAsc, 0, 10).unwrap();
        hits.into_iter().map(|h| h.name).collect()
    }

    fn stock(op: &Op, available: i64, version: i64) -> Op {
        let Op::Upsert(p) = op else { unreachable!() };
        Op::Stock(StockChanged {
            product_id: p.id,
            variant_id: p.variants[0].id,
            stock: available,
            reserved: 0,
            available,
            version,
        })
    }

    #[test]
    fn stock_changes_apply_in_version_order_whatever_order_they_arrive_in() {
        let (_dir, index) = empty();
        let lamp = priced("Lamp", &[(100, 3)], 1);
        // A stock change arrives before the product it is about: it is kept for it.
        index.apply(&[stock(&lamp, 0, 2)]).unwrap();
        index.apply(std::slice::from_ref(&lamp)).unwrap();
        assert!(stocked_names(&index).is_empty(), "sold out since the copy");
        // An older change arrives late, and twice: nothing moves.
        index
            .apply(&[stock(&lamp, 5, 1), stock(&lamp, 5, 1)])
            .unwrap();
        assert!(stocked_names(&index).is_empty());
        // A newer one does, and so does the same again.
        index.apply(&[stock(&lamp, 4, 3)]).unwrap();
        index.apply(&[stock(&lamp, 4, 3)]).unwrap();
        assert_eq!(stocked_names(&index), ["Lamp"]);
        // A later copy of the product with an older stock keeps the newer stock.
        let Op::Upsert(mut renamed) = lamp.clone() else {
            unreachable!()
        };
        renamed.name = "Reading lamp".into();
        renamed.updated_at = Utc.timestamp_millis_opt(5_000).unwrap();
        renamed.variants[0].available = 0;
        renamed.variants[0].stock_version = 2;
        index.apply(&[Op::Upsert(renamed)]).unwrap();
        assert_eq!(stocked_names(&index), ["Reading lamp"]);
        // The same batch in any order gives the same index.
        let (_other, shuffled) = empty();
        shuffled
            .apply(&[stock(&lamp, 4, 3), lamp.clone(), stock(&lamp, 0, 2)])
            .unwrap();
        assert_eq!(stocked_names(&shuffled), ["Lamp"]);
    }

    #[test]
    fn a_hidden_product_keeps_its_stock_and_popularity_for_when_it_is_back() {
        let (_dir, index) = empty();
        let lamp = priced("Lamp", &[(100, 3)], 1);
        let Op::Upsert(p) = &lamp else { unreachable!() };
        let mut hidden = p.clone();
        hidden.status = ProductStatus::Hidden;
        hidden.updated_at = Utc.timestamp_millis_opt(2_000).unwrap();
        let sold = Sold {
            product_id: p.id,
            popularity: 7.0,
        };
        index
            .apply(&[lamp.clone(), Op::Upsert(hidden.clone()), Op::Sold(sold)])
            .unwrap();
        assert!(
            index
                .search("lamp", &Filters::default(), Sort::Relevance, 0, 5)
                .unwrap()
                .0
                .is_empty()
        );
        let mut shown = hidden;
        shown.status = ProductStatus::Active;
        shown.updated_at = Utc.timestamp_millis_opt(3_000).unwrap();
        // A smaller total (an older copy of it) does not lower it.
        let older = Sold {
            product_id: p.id,
            popularity: 2.0,
        };
        index.apply(&[Op::Upsert(shown), Op::Sold(older)]).unwrap();
        let source = index.source(p.id).unwrap().unwrap();
        assert_eq!(source.popularity, 7.0);
        assert_eq!(stocked_names(&index), ["Lamp"]);
        // Deleted for good: an older copy cannot bring it back.
        index.apply(&[Op::Remove(p.id, 4_000), lamp]).unwrap();
        assert!(stocked_names(&index).is_empty());
    }
}
