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
    aggregation::{
        AggregationCollector, AggregationLimitsGuard, agg_req::Aggregations,
        agg_result::AggregationResults,
    },
    collector::{Count, TopDocs},
    query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery},
    schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value},
    snippet::SnippetGenerator,
};
use uuid::Uuid;

use crate::error::Error;

/// The most words of a query that count; the rest are ignored.
const MAX_WORDS: usize = 10;
/// How much more an exact word counts than one within its edits.
const EXACT: f32 = 3.0;
/// How much a word the last one starts counts, against one within its edits.
const PREFIX: f32 = 1.5;

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

/// Counts over what a search finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub categories: Vec<CategoryCount>,
    pub price: Vec<PriceBucket>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    pub id: Uuid,
    pub count: u64,
}

/// Products whose cheapest variant costs from `from` (included) to `to` (excluded), minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBucket {
    pub from: i64,
    pub to: i64,
    pub count: u64,
}

/// Bucket edges for prices from `min` to `max`: a round step (1, 2 or 5 times a power of ten)
/// that makes at most five buckets, the first edge at or below `min`, the last above `max`.
pub fn price_edges(min: i64, max: i64) -> Vec<i64> {
    let span = (max - min).max(1);
    let step = (0..18)
        .flat_map(|power| [1, 2, 5].map(|m| m * 10_i64.pow(power)))
        .find(|step| span / step < 5)
        .unwrap_or(i64::MAX / 8);
    let mut edges = vec![min.div_euclid(step) * step];
    while let Some(&last) = edges.last()
        && last <= max
    {
        edges.push(last + step);
    }
    edges
}

/// A completion: a product's name (with its id) or a category's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    /// The product, when it is a product's name.
    pub product_id: Option<Uuid>,
}

/// Whether `word` is within the edits the search allows of `part` (one at 4 to 7 letters, two
/// from 8).
fn within(part: &str, word: &str) -> bool {
    let allowed = match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    allowed > 0 && edits(part, word) <= allowed
}

/// Levenshtein distance, for the few short words of a suggestion.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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

    /// The words of a shopper's text, as the index knows them (lower case, split at
    /// punctuation): never query syntax.
    fn words(&self, q: &str) -> Vec<String> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(self.f.name) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(q);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            if words.len() == MAX_WORDS {
                break;
            }
            words.push(token.text.clone());
        }
        words
    }

    /// What a shopper's words match: each word exactly (ranked highest), within one edit
    /// for words of 4 to 7 letters and two from 8, and the last word as the start of one
    /// too (the shopper may still be typing); in the name (weighted most), the description
    /// and the category names. Returns it with the exact part alone, for highlighting.
    fn text_query(&self, words: &[String]) -> (Box<dyn Query>, Box<dyn Query>) {
        let fields = [
            (self.f.name, 3.0),
            (self.f.description, 1.0),
            (self.f.categories, 1.5),
        ];
        self.words_in(words, &fields)
    }

    /// `words` as [`Self::text_query`] reads them, in `fields` with their weights.
    fn words_in(
        &self,
        words: &[String],
        fields: &[(Field, f32)],
    ) -> (Box<dyn Query>, Box<dyn Query>) {
        let mut any_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut exact_only: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let letters = word.chars().count();
            let mut ways: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for &(field, weight) in fields {
                let term = Term::from_field_text(field, word);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                exact_only.push((Occur::Should, Box::new(exact.clone())));
                ways.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), weight * EXACT)),
                ));
                let distance = match letters {
                    0..=3 => 0,
                    4..=7 => 1,
                    _ => 2,
                };
                if distance > 0 {
                    let fuzzy = FuzzyTermQuery::new(term.clone(), distance, true);
                    ways.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(fuzzy), weight)),
                    ));
                }
                if last {
                    let prefix = FuzzyTermQuery::new_prefix(term, 0, true);
                    ways.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(prefix), weight * PREFIX)),
                    ));
                }
            }
            any_word.push((Occur::Should, Box::new(BooleanQuery::new(ways))));
        }
        (
            Box::new(BooleanQuery::new(any_word)),
            Box::new(BooleanQuery::new(exact_only)),
        )
    }

    /// Completions of what a shopper is typing: product names, then category names, that
    /// the words match (typos tolerated, the last word as a prefix), best first.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, Error> {
        let words = self.words(q);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let on_sale: Box<dyn Query> = Box::new(BoostQuery::new(
            Box::new(TermQuery::new(
                Term::from_field_i64(self.f.live, 1),
                IndexRecordOption::Basic,
            )),
            0.0,
        ));
        let in_field = |field: Field| -> Box<dyn Query> {
            let (text, _) = self.words_in(&words, &[(field, 1.0)]);
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, text),
                (Occur::Must, on_sale.box_clone()),
            ]))
        };
        let mut out: Vec<Suggestion> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let names = searcher.search(&*in_field(self.f.name), &TopDocs::with_limit(limit))?;
        for (_, addr) in names {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |f: Field| {
                doc.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
            };
            let name = text(self.f.name);
            if !name.is_empty() && seen.insert(name.to_lowercase()) {
                out.push(Suggestion {
                    text: name.to_owned(),
                    product_id: Uuid::parse_str(text(self.f.id)).ok(),
                });
            }
        }
        // Categories: the names, among those of matching products, that a word matches.
        let matches = |category: &str| {
            let lower = category.to_lowercase();
            let parts: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
            words.iter().any(|w| {
                parts
                    .iter()
                    .any(|p| p.starts_with(w.as_str()) || within(p, w))
            })
        };
        let in_categories =
            searcher.search(&*in_field(self.f.categories), &TopDocs::with_limit(50))?;
        for (_, addr) in in_categories {
            let doc: TantivyDocument = searcher.doc(addr)?;
            for category in doc.get_all(self.f.categories).filter_map(|v| v.as_str()) {
                if matches(category) && seen.insert(category.to_lowercase()) {
                    out.push(Suggestion {
                        text: category.to_owned(),
                        product_id: None,
                    });
                }
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The query for what a shopper typed, narrowed by `filters`, with its exact words apart
    /// (for highlighting); `None` when the text holds no word to look for.
    fn query(&self, q: &str, filters: Filters) -> Option<(BooleanQuery, Option<Box<dyn Query>>)> {
        let on_sale = || -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_i64(self.f.live, 1),
                IndexRecordOption::Basic,
            ))
        };
        let words = self.words(q);
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, on_sale())];
        let exact = if q.trim().is_empty() {
            None
        } else if words.is_empty() {
            // Nothing but punctuation: no word to look for.
            return None;
        } else {
            let (text, exact) = self.text_query(&words);
            must[0].1 = Box::new(BoostQuery::new(on_sale(), 0.0));
            must.push((Occur::Must, text));
            Some(exact)
        };
        if filters.min_price.is_some() || filters.max_price.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => std::ops::Bound::Included(Term::from_field_i64(self.f.price, v)),
                None => std::ops::Bound::Unbounded,
            };
            let range = RangeQuery::new(bound(filters.min_price), bound(filters.max_price));
            must.push((Occur::Must, Box::new(BoostQuery::new(Box::new(range), 0.0))));
        }
        if let Some(category) = filters.category {
            let term = Term::from_field_text(self.f.category_tree, &category.to_string());
            let within = TermQuery::new(term, IndexRecordOption::Basic);
            must.push((
                Occur::Must,
                Box::new(BoostQuery::new(Box::new(within), 0.0)),
            ));
        }
        if filters.in_stock {
            let stocked = TermQuery::new(
                Term::from_field_i64(self.f.in_stock, 1),
                IndexRecordOption::Basic,
            );
            must.push((
                Occur::Must,
                Box::new(BoostQuery::new(Box::new(stocked), 0.0)),
            ));
        }
        Some((BooleanQuery::new(must), exact))
    }

    /// Counts over everything a search finds: per category (with those above), and per price
    /// range, with edges that suit the prices found.
    pub fn facets(&self, q: &str, filters: Filters) -> Result<Facets, Error> {
        let Some((query, _)) = self.query(q, filters) else {
            return Ok(Facets::default());
        };
        let searcher = self.reader.searcher();
        let run = |request: serde_json::Value| -> Result<serde_json::Value, Error> {
            let aggs: Aggregations = serde_json::from_value(request)
                .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
            let collector =
                AggregationCollector::from_aggs(aggs, AggregationLimitsGuard::default());
            let found: AggregationResults = searcher.search(&query, &collector)?;
            Ok(serde_json::to_value(found).unwrap_or_default())
        };
        let first = run(serde_json::json!({
            "categories": {"terms": {"field": "category_tree", "size": 50}},
            "price": {"stats": {"field": "price"}},
        }))?;
        let categories = first["categories"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| {
                Some(CategoryCount {
                    id: Uuid::parse_str(b["key"].as_str()?).ok()?,
                    count: b["doc_count"].as_u64()?,
                })
            })
            .collect();
        let (min, max) = (
            first["price"]["min"].as_f64(),
            first["price"]["max"].as_f64(),
        );
        let price = match (min, max) {
            (Some(min), Some(max)) => {
                let edges = price_edges(min as i64, max as i64);
                let ranges: Vec<serde_json::Value> = edges
                    .windows(2)
                    .map(|w| serde_json::json!({"from": w[0], "to": w[1]}))
                    .collect();
                let second = run(serde_json::json!({
                    "price": {"range": {"field": "price", "ranges": ranges}},
                }))?;
                let buckets = second["price"]["buckets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                edges
                    .windows(2)
                    .map(|w| PriceBucket {
                        from: w[0],
                        to: w[1],
                        count: buckets
                            .iter()
                            .find(|b| b["from"].as_f64() == Some(w[0] as f64))
                            .and_then(|b| b["doc_count"].as_u64())
                            .unwrap_or(0),
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(Facets { categories, price })
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use kazna_contracts::catalog::VariantSnapshot;

    use super::*;

    fn lamp(id: Uuid, status: ProductStatus, at_ms: i64) -> Op {
        let at = Utc.timestamp_millis_opt(at_ms).unwrap();
        Op::Upsert(ProductSnapshot {
            id,
            seller_id: Uuid::nil(),
            name: "Brass lamp".into(),
            description: String::new(),
            status,
            category_ids: vec![],
            category_path: vec![],
            category_tree: vec![],
            variants: vec![VariantSnapshot {
                id: Uuid::nil(),
                sku: "L".into(),
                price: Money::new(100, Currency::EUR),
                available: 1,
            }],
            created_at: at,
            updated_at: at,
        })
    }

    fn product(name: &str, description: &str, status: ProductStatus) -> Op {
        let Op::Upsert(mut p) = lamp(Uuid::now_v7(), status, 1_000) else {
            unreachable!()
        };
        p.name = name.into();
        p.description = description.into();
        Op::Upsert(p)
    }

    /// The names found for `q`, best first.
    fn names(index: &SearchIndex, q: &str) -> Vec<String> {
        let (hits, total) = index
            .search(q, Filters::default(), Sort::Relevance, 0, 50)
            .unwrap();
        assert_eq!(hits.len(), total, "{q}");
        hits.into_iter().map(|h| h.name).collect()
    }

    fn shop() -> (tempfile::TempDir, SearchIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index
            .apply(&[
                product(
                    "Brass lantern",
                    "A lantern for the porch",
                    ProductStatus::Active,
                ),
                product(
                    "Crystal chandelier",
                    "Hangs from the ceiling",
                    ProductStatus::Active,
                ),
                product("Lamp", "A reading lamp", ProductStatus::Active),
                product("Lame duck", "A toy", ProductStatus::Active),
                product("Mug", "For tea", ProductStatus::Active),
                product("Secret lamp", "Not on sale", ProductStatus::Hidden),
            ])
            .unwrap();
        (dir, index)
    }

    #[test]
    fn what_a_shopper_types_is_never_query_syntax() {
        let (_dir, index) = shop();
        for q in [
            "*",
            "live:0",
            "name:lamp",
            "\"lamp",
            "lamp AND",
            "(lamp",
            "lamp]",
            "-lamp",
            "lamp^9",
            "a:b:c",
            "~",
            "\\",
            "{}",
            "lamp OR *",
            "+",
            "lamp*",
            "[0 TO 1]",
            "\u{0}",
        ] {
            let found = names(&index, q);
            assert!(
                !found.iter().any(|n| n == "Secret lamp"),
                "{q}: a hidden product: {found:?}"
            );
            for n in &found {
                assert!(!n.is_empty(), "{q}: a tombstone: {found:?}");
            }
        }
        assert!(names(&index, "*").is_empty(), "no words, nothing found");
        assert_eq!(
            names(&index, "live:0").len(),
            0,
            "neither word is in any product"
        );
        assert_eq!(
            names(&index, "name:lamp")[0],
            "Lamp",
            "plain words: name and lamp"
        );
        assert_eq!(names(&index, "lamp AND")[0], "Lamp");
    }

    #[test]
    fn typos_are_tolerated_by_word_length_and_the_last_word_may_be_unfinished() {
        let (_dir, index) = shop();
        let has = |q: &str, name: &str| names(&index, q).iter().any(|n| n == name);
        // 4 to 7 letters: one edit.
        assert!(has("lanturn", "Brass lantern"));
        assert!(
            !has("lonturn", "Brass lantern"),
            "two edits in seven letters"
        );
        // 8 letters and more: two edits.
        assert!(has("chendeliar", "Crystal chandelier"));
        assert!(
            has("chandeleir", "Crystal chandelier"),
            "a transposition is one edit"
        );
        // Up to 3 letters: exact (or the start of a word, when it is the last).
        assert!(has("mug", "Mug"));
        assert!(!has("mgu", "Mug"));
        assert!(
            !has("mog lantern", "Mug"),
            "not the last word: no prefix, no edit"
        );
        // The last word is a prefix.
        assert!(has("chand", "Crystal chandelier"));
        assert!(has("crystal chan", "Crystal chandelier"));
    }

    #[test]
    fn an_exact_match_outranks_a_fuzzy_one_and_the_name_outranks_the_description() {
        let (_dir, index) = shop();
        assert_eq!(
            names(&index, "lamp")[0],
            "Lamp",
            "{:?}",
            names(&index, "lamp")
        );
        assert_eq!(
            names(&index, "lame")[0],
            "Lame duck",
            "{:?}",
            names(&index, "lame")
        );
        let porch = names(&index, "lantern");
        assert_eq!(porch[0], "Brass lantern");
        let tea = names(&index, "tea");
        assert_eq!(tea, ["Mug"], "found by its description");
    }

    fn priced(name: &str, prices: &[(i64, i64)], created_ms: i64) -> Op {
        let Op::Upsert(mut p) = lamp(Uuid::now_v7(), ProductStatus::Active, created_ms) else {
            unreachable!()
        };
        p.name = name.into();
        p.variants = prices
            .iter()
            .map(|(price, available)| VariantSnapshot {
                id: Uuid::now_v7(),
                sku: format!("{name}-{price}"),
                price: Money::new(*price, Currency::EUR),
                available: *available,
            })
            .collect();
        Op::Upsert(p)
    }

    #[test]
    fn price_and_stock_filters_are_exact_and_sorts_order_by_price_or_age() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index
            .apply(&[
                priced("Lamp one", &[(1000, 0), (5000, 3)], 1_000),
                priced("Lamp two", &[(2000, 0)], 3_000),
                priced("Lamp three", &[(3000, 1)], 2_000),
            ])
            .unwrap();
        let find = |filters: Filters, sort: Sort| -> Vec<String> {
            let (hits, total) = index.search("lamp", filters, sort, 0, 10).unwrap();
            assert_eq!(hits.len(), total);
            hits.into_iter().map(|h| h.name).collect()
        };
        let all = Filters::default();
        assert_eq!(
            find(all, Sort::PriceAsc),
            ["Lamp one", "Lamp two", "Lamp three"]
        );
        assert_eq!(
            find(all, Sort::PriceDesc),
            ["Lamp three", "Lamp two", "Lamp one"]
        );
        assert_eq!(
            find(all, Sort::Newest),
            ["Lamp two", "Lamp three", "Lamp one"]
        );
        let between = Filters {
            min_price: Some(2000),
            max_price: Some(3000),
            ..all
        };
        assert_eq!(
            find(between, Sort::PriceAsc),
            ["Lamp two", "Lamp three"],
            "bounds included"
        );
        let cheap = Filters {
            max_price: Some(1999),
            ..all
        };
        assert_eq!(find(cheap, Sort::PriceAsc), ["Lamp one"]);
        let stocked = Filters {
            in_stock: true,
            ..all
        };
        assert_eq!(find(stocked, Sort::PriceAsc), ["Lamp one", "Lamp three"]);
        // The same filters on the empty query (browsing).
        let (browse, _) = index.search("", stocked, Sort::PriceDesc, 0, 10).unwrap();
        let names: Vec<_> = browse.into_iter().map(|h| h.name).collect();
        assert_eq!(names, ["Lamp three", "Lamp one"]);
        // Pages of a sorted result follow each other.
        let (first, total) = index.search("lamp", all, Sort::PriceAsc, 0, 2).unwrap();
        let (second, _) = index.search("lamp", all, Sort::PriceAsc, 2, 2).unwrap();
        assert_eq!(total, 3);
        assert_eq!((first.len(), second[0].name.as_str()), (2, "Lamp three"));
    }

    #[test]
    fn a_category_filter_takes_in_the_categories_below_it() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let (lighting, outdoor, kitchen) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let in_tree = |name: &str, tree: Vec<Uuid>| {
            let Op::Upsert(mut p) = priced(name, &[(100, 1)], 1) else {
                unreachable!()
            };
            p.category_tree = tree;
            Op::Upsert(p)
        };
        index
            .apply(&[
                in_tree("Porch lamp", vec![lighting, outdoor]),
                in_tree("Desk lamp", vec![lighting]),
                in_tree("Lamp oil", vec![kitchen]),
            ])
            .unwrap();
        let within = |category: Uuid| -> Vec<String> {
            let f = Filters {
                category: Some(category),
                ..Filters::default()
            };
            let mut names: Vec<String> = index
                .search("lamp", f, Sort::Relevance, 0, 10)
                .unwrap()
                .0
                .into_iter()
                .map(|h| h.name)
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            within(lighting),
            ["Desk lamp", "Porch lamp"],
            "with what is below"
        );
        assert_eq!(within(outdoor), ["Porch lamp"]);
        assert_eq!(within(kitchen), ["Lamp oil"]);
        assert!(within(Uuid::now_v7()).is_empty());
    }

    #[test]
    fn price_buckets_have_round_edges_around_the_prices_found() {
        assert_eq!(
            price_edges(1000, 5000),
            [1000, 2000, 3000, 4000, 5000, 6000]
        );
        let edges = price_edges(1999, 2499);
        assert!(
            edges[0] <= 1999 && *edges.last().unwrap() > 2499 && edges.len() <= 7,
            "{edges:?}"
        );
        assert_eq!(price_edges(500, 500), [500, 501]);
        assert_eq!(price_edges(0, 99), [0, 20, 40, 60, 80, 100]);
    }

    #[test]
    fn facets_count_what_a_search_finds_by_category_and_price() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let (lighting, outdoor) = (Uuid::now_v7(), Uuid::now_v7());
        let lamp_at = |name: &str, price: i64, tree: Vec<Uuid>| {
            let Op::Upsert(mut p) = priced(name, &[(price, 1)], 1) else {
                unreachable!()
            };
            p.category_tree = tree;
            Op::Upsert(p)
        };
        index
            .apply(&[
                lamp_at("Lamp a", 1000, vec![lighting, outdoor]),
                lamp_at("Lamp b", 1500, vec![lighting]),
                lamp_at("Lamp c", 4200, vec![lighting]),
                lamp_at("Vase", 9900, vec![]),
            ])
            .unwrap();
        let f = index.facets("lamp", Filters::default()).unwrap();
        let count = |id: Uuid| f.categories.iter().find(|c| c.id == id).map(|c| c.count);
        assert_eq!((count(lighting), count(outdoor)), (Some(3), Some(1)));
        let total: u64 = f.price.iter().map(|b| b.count).sum();
        assert_eq!(
            total, 3,
            "every product found is in one bucket: {:?}",
            f.price
        );
        assert_eq!(
            f.price.first().map(|b| (b.from, b.count)),
            Some((1000, 2)),
            "{:?}",
            f.price
        );
        assert!(f.price.last().is_some_and(|b| b.to > 4200));
        let cheap = Filters {
            max_price: Some(1200),
            ..Filters::default()
        };
        let f = index.facets("lamp", cheap).unwrap();
        assert_eq!(
            f.price.iter().map(|b| b.count).sum::<u64>(),
            1,
            "over the filtered result"
        );
    }

    #[test]
    fn suggestions_complete_names_and_categories_despite_typos() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let Op::Upsert(mut p) = priced("Brass lantern", &[(1000, 1)], 1) else {
            unreachable!()
        };
        p.category_path = vec!["Lighting".into(), "Outdoor lights".into()];
        let hidden = product("Lantern of secrets", "", ProductStatus::Hidden);
        index
            .apply(&[Op::Upsert(p), hidden, priced("Lamp", &[(500, 1)], 2)])
            .unwrap();
        let texts = |q: &str| -> Vec<String> {
            index
                .suggest(q, 8)
                .unwrap()
                .into_iter()
                .map(|s| s.text)
                .collect()
        };
        assert_eq!(
            texts("lant"),
            ["Brass lantern"],
            "a prefix, and never a hidden product"
        );
        assert_eq!(texts("lanturn"), ["Brass lantern"], "a typo");
        assert_eq!(texts("ligh"), ["Lighting", "Outdoor lights"]);
        assert!(texts("*").is_empty());
        assert_eq!(edits("lantern", "lanturn"), 1);
        assert_eq!(edits("", "ab"), 2);
    }

    /// Matches for a word, and for the empty query (everything on sale); they must agree.
    fn found(index: &SearchIndex) -> usize {
        let by_word = index
            .search("lamp", Filters::default(), Sort::Relevance, 0, 10)
            .unwrap()
            .1;
        let all = index
            .search("", Filters::default(), Sort::Relevance, 0, 10)
            .unwrap()
            .1;
        assert_eq!(by_word, all, "tombstones never match");
        by_word
    }

    #[test]
    fn a_late_older_copy_never_brings_back_what_was_deleted_or_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let id = Uuid::now_v7();
        index
            .apply(&[lamp(id, ProductStatus::Active, 1_000)])
            .unwrap();
        assert_eq!(found(&index), 1);
        index.apply(&[Op::Remove(id, 3_000)]).unwrap();
        index
            .apply(&[lamp(id, ProductStatus::Active, 2_000)])
            .unwrap();
        assert_eq!(found(&index), 0, "the older copy came after the deletion");
        index
            .apply(&[lamp(id, ProductStatus::Active, 4_000)])
            .unwrap();
        assert_eq!(found(&index), 1, "a newer copy counts");
        index
            .apply(&[
                lamp(id, ProductStatus::Hidden, 5_000),
                lamp(id, ProductStatus::Active, 4_500),
            ])
            .unwrap();
        assert_eq!(found(&index), 0, "hidden, whatever came after in the batch");
    }

    #[test]
    fn an_index_of_another_schema_is_rebuilt_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Schema::builder();
        b.add_text_field("title", TEXT | STORED);
        Index::create_in_dir(dir.path(), b.build()).unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index
            .apply(&[lamp(Uuid::now_v7(), ProductStatus::Active, 1)])
            .unwrap();
        assert_eq!(found(&index), 1);
    }
}
