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
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
    collector::{Count, TopDocs},
    query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery},
    schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value},
    snippet::SnippetGenerator,
};
use uuid::Uuid;

use crate::error::Error;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    name: Field,
    description: Field,
    categories: Field,
    price: Field,
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
        categories: b.add_text_field("categories", TEXT),
        price: b.add_i64_field("price", INDEXED | FAST | STORED),
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
        doc.add_text(self.f.categories, p.category_path.join(" "));
        doc.add_i64(
            self.f.price,
            cheapest.map(|v| v.price.amount_minor).unwrap_or(0),
        );
        doc.add_text(
            self.f.currency,
            cheapest.map(|v| v.price.currency.code()).unwrap_or(""),
        );
        doc.add_i64(self.f.updated_at, p.updated_at.timestamp_millis());
        doc.add_i64(self.f.live, 1);
        doc
    }

    /// Relevance-ranked matches; terms within one or two edits still match.
    pub fn search(&self, q: &str, offset: usize, limit: usize) -> Result<(Vec<Hit>, usize), Error> {
        let searcher = self.reader.searcher();
        let fields = [self.f.name, self.f.description, self.f.categories];
        let parser = |fuzzy: bool| {
            let mut p = QueryParser::for_index(&self.index, fields.to_vec());
            p.set_field_boost(self.f.name, 3.0);
            if fuzzy {
                for field in fields {
                    p.set_field_fuzzy(field, false, 1, true);
                }
            }
            p
        };
        // Exact words count double; words within one edit still match.
        let exact = parser(false).parse_query_lenient(q).0;
        // Tombstones hold no text, so only the empty query needs to leave them out.
        let query: Box<dyn Query> = if q.trim().is_empty() {
            Box::new(TermQuery::new(
                Term::from_field_i64(self.f.live, 1),
                IndexRecordOption::Basic,
            ))
        } else {
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(exact.box_clone(), 2.0)),
                ),
                (Occur::Should, parser(true).parse_query_lenient(q).0),
            ]))
        };
        let (top, total) = searcher.search(
            &query,
            &(TopDocs::with_limit(limit).and_offset(offset), Count),
        )?;
        let snippets = SnippetGenerator::create(&searcher, &*exact, self.f.name).ok();
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

    /// Matches for a word, and for the empty query (everything on sale); they must agree.
    fn found(index: &SearchIndex) -> usize {
        let by_word = index.search("lamp", 0, 10).unwrap().1;
        let all = index.search("", 0, 10).unwrap().1;
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
