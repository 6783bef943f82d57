//! The search index: one tantivy index per instance, fed from catalog events and pulls.
//!
//! A product that is not on sale stays in the index as a tombstone (its id and `updated_at`,
//! not live), so an older copy arriving late cannot bring it back.

use std::{collections::HashMap, path::Path, sync::Mutex};

use kazna_contracts::{
    Currency, Money,
    catalog::{ProductSnapshot, ProductStatus},
};
use tantivy::{
    Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
    collector::{Count, TopDocs},
    query::TermQuery,
    schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value},
    snippet::SnippetGenerator,
};
use uuid::Uuid;

use crate::error::Error;

mod facets;
mod query;
mod suggest;

pub use facets::{CategoryCount, Facets, PriceBucket, price_edges};
pub use suggest::Suggestion;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    name: Field,
    description: Field,
    categories: Field,
    /// Ids of the product's categories and their ancestors.
    category_tree: Field,
    /// The cheapest variant's price, in minor units.
    price: Field,
    /// The dearest variant's price.
    price_max: Field,
    /// 1 when some variant is available.
    in_stock: Field,
    created_at: Field,
    currency: Field,
    updated_at: Field,
    /// 1 for a product on sale, 0 for a tombstone.
    live: Field,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        name: b.add_text_field("name", TEXT | STORED),
        description: b.add_text_field("description", TEXT | STORED),
        categories: b.add_text_field("categories", TEXT | STORED),
        category_tree: b.add_text_field("category_tree", STRING | FAST),
        price: b.add_i64_field("price", INDEXED | FAST | STORED),
        price_max: b.add_i64_field("price_max", INDEXED | FAST | STORED),
        in_stock: b.add_i64_field("in_stock", INDEXED | FAST),
        created_at: b.add_i64_field("created_at", INDEXED | FAST),
        currency: b.add_text_field("currency", STRING | STORED),
        updated_at: b.add_i64_field("updated_at", INDEXED | FAST | STORED),
        live: b.add_i64_field("live", INDEXED),
    };
    (b.build(), f)
}

/// One change to the index.
#[derive(Debug, Clone)]
pub enum Op {
    Upsert(ProductSnapshot),
    /// A deleted product, with the time it was deleted.
    Remove(Uuid, i64),
}

impl Op {
    fn id(&self) -> Uuid {
        match self {
            Op::Upsert(p) => p.id,
            Op::Remove(id, _) => *id,
        }
    }

    fn version(&self) -> i64 {
        match self {
            Op::Upsert(p) => p.updated_at.timestamp_millis(),
            Op::Remove(_, at) => *at,
        }
    }
}

/// What narrows a search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only products in this category or one below it.
    pub category: Option<Uuid>,
    /// The cheapest variant costs at least this (minor units).
    pub min_price: Option<i64>,
    /// The cheapest variant costs at most this (minor units).
    pub max_price: Option<i64>,
    /// Only products with a variant available.
    pub in_stock: bool,
}

/// The order of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl std::str::FromStr for Sort {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "relevance" => Ok(Sort::Relevance),
            "price_asc" => Ok(Sort::PriceAsc),
            "price_desc" => Ok(Sort::PriceDesc),
            "newest" => Ok(Sort::Newest),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub product_id: Uuid,
    pub name: String,
    /// The cheapest variant's price.
    pub price: Money,
    pub score: f32,
    pub highlight: String,
}

impl SearchIndex {
    /// Opens the index in `dir` (a directory of its own), creating it when missing. An index
    /// written with another schema (by an older version) is dropped: it is rebuilt from the
    /// catalog.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)?;
        let (schema, f) = schema();
        let opened = Index::open_or_create(
            tantivy::directory::MmapDirectory::open(dir)?,
            schema.clone(),
        );
        let index = match opened {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(e)) => {
                tracing::warn!(dir = %dir.display(), error = %e, "search: index schema changed; rebuilding");
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                Index::create_in_dir(dir, schema)?
            }
            Err(e) => return Err(e.into()),
        };
        let writer = index.writer(32 * 1024 * 1024)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            f,
        })
    }

    fn id_term(&self, id: Uuid) -> Term {
        Term::from_field_text(self.f.id, &id.to_string())
    }

    /// The `updated_at` (ms) of the indexed copy of a product, if there is one.
    fn indexed_version(&self, id: Uuid) -> Result<Option<i64>, Error> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let top = searcher.search(&q, &TopDocs::with_limit(1))?;
        let Some((_, addr)) = top.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*addr)?;
        Ok(doc.get_first(self.f.updated_at).and_then(|v| v.as_i64()))
    }

    /// Applies a batch of changes with one commit. A change older than what is indexed (or
    /// than an earlier change in the batch) is skipped, so redelivered and reordered events
    /// are harmless.
    pub fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        let mut newest: HashMap<Uuid, i64> = HashMap::new();
        let mut writer = self.writer.lock().map_err(|_| Error::Poisoned)?;
        for op in ops {
            let (id, version) = (op.id(), op.version());
            let known = match newest.get(&id) {
                Some(v) => Some(*v),
                None => self.indexed_version(id)?,
            };
            if known.is_some_and(|v| v > version) {
                continue;
            }
            newest.insert(id, version);
            writer.delete_term(self.id_term(id));
            let doc = match op {
                Op::Upsert(p) => match p.status {
                    ProductStatus::Active => self.document(p),
                    ProductStatus::Hidden | ProductStatus::Deleted => self.tombstone(id, version),
                },
                Op::Remove(..) => self.tombstone(id, version),
            };
            writer.add_document(doc)?;
        }
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    fn tombstone(&self, id: Uuid, version: i64) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.f.id, id.to_string());
        doc.add_i64(self.f.updated_at, version);
        doc.add_i64(self.f.live, 0);
        doc
    }

    fn document(&self, p: &ProductSnapshot) -> TantivyDocument {
        let cheapest = p.variants.iter().min_by_key(|v| v.price.amount_minor);
        let mut doc = TantivyDocument::default();
        doc.add_text(self.f.id, p.id.to_string());
        doc.add_text(self.f.name, &p.name);
        doc.add_text(self.f.description, &p.description);
        for category in &p.category_path {
            doc.add_text(self.f.categories, category);
        }
        for id in &p.category_tree {
            doc.add_text(self.f.category_tree, id.to_string());
        }
        doc.add_i64(
            self.f.price,
            cheapest.map(|v| v.price.amount_minor).unwrap_or(0),
        );
        let dearest = p.variants.iter().map(|v| v.price.amount_minor).max();
        doc.add_i64(self.f.price_max, dearest.unwrap_or(0));
        let in_stock = p.variants.iter().any(|v| v.available > 0);
        doc.add_i64(self.f.in_stock, i64::from(in_stock));
        doc.add_i64(self.f.created_at, p.created_at.timestamp_millis());
        doc.add_text(
            self.f.currency,
            cheapest.map(|v| v.price.currency.code()).unwrap_or(""),
        );
        doc.add_i64(self.f.updated_at, p.updated_at.timestamp_millis());
        doc.add_i64(self.f.live, 1);
        doc
    }

    /// The generation of what searches see: it changes with every commit.
    pub fn generation(&self) -> u64 {
        self.reader.searcher().generation().generation_id()
    }

    /// A query as analytics counts it: its words, as the index reads them, one space apart.
    pub fn normalized(&self, q: &str) -> String {
        self.words(q).join(" ")
    }

    /// Relevance-ranked matches for what a shopper typed, which is always plain words (see
    /// [`Self::words`]); only products on sale ever match.
    pub fn search(
        &self,
        q: &str,
        filters: Filters,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Hit>, usize), Error> {
        let searcher = self.reader.searcher();
        let Some((query, exact)) = self.query(q, filters) else {
            return Ok((Vec::new(), 0));
        };
        let page = TopDocs::with_limit(limit).and_offset(offset);
        let by_field = match sort {
            Sort::Relevance => None,
            Sort::PriceAsc => Some(("price", Order::Asc)),
            Sort::PriceDesc => Some(("price", Order::Desc)),
            Sort::Newest => Some(("created_at", Order::Desc)),
        };
        let (top, total): (Vec<(f32, tantivy::DocAddress)>, usize) = match by_field {
            None => searcher.search(&query, &(page, Count))?,
            Some((field, order)) => {
                let sorted = page.order_by_fast_field::<i64>(field.to_owned(), order);
                let (top, total) = searcher.search(&query, &(sorted, Count))?;
                (
                    top.into_iter().map(|(_, addr)| (0.0, addr)).collect(),
                    total,
                )
            }
        };
        let snippets = exact
            .as_ref()
            .and_then(|e| SnippetGenerator::create(&searcher, &**e, self.f.name).ok());
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |f: Field| {
                doc.get_first(f)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let (Ok(product_id), Ok(currency)) = (
                Uuid::parse_str(&text(self.f.id)),
                Currency::parse(&text(self.f.currency)),
            ) else {
                tracing::warn!(id = %text(self.f.id), "search: an indexed product without an id or a currency");
                continue;
            };
            let highlight = match &snippets {
                Some(g) => g.snippet_from_doc(&doc).to_html(),
                None => String::new(),
            };
            hits.push(Hit {
                product_id,
                name: text(self.f.name),
                price: Money::new(
                    doc.get_first(self.f.price)
                        .and_then(|v| v.as_i64())
                        .unwrap_or(0),
                    currency,
                ),
                score,
                highlight,
            });
        }
        Ok((hits, total))
    }
}

#[cfg(test)]
mod tests;
