//! The search index: one tantivy index per instance, fed from catalog events and pulls.
//!
//! A product that is not on sale stays in the index as a tombstone (its id and `updated_at`,
//! not live), so an older copy arriving late cannot bring it back. Each document keeps the
//! copy of the product it was built from (see [`changes`]), so a stock change or a sale can
//! be applied to it alone.

use std::{
    collections::{HashMap, VecDeque},
    path::Path,
    sync::{Arc, Mutex},
};

use kazna_contracts::Money;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
    collector::{Count, TopDocs},
    query::{Query, TermQuery},
    schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT},
};
use uuid::Uuid;

use crate::error::Error;

mod bits;
mod boost;
mod cards;
mod changes;
mod expansions;
mod facets;
mod highlight;
mod narrow;
mod pages;
mod query;
mod reach;
mod segments;
mod suggest;
mod words;

pub use boost::{HALF_LIFE_DAYS, sale_weight};
pub use changes::{Op, Sold};
pub use facets::{AttributeCount, CategoryCount, Facets, PriceBucket, price_edges};
pub use pages::{Cursor, Page};
use query::{Text, products_with};
pub use suggest::Suggestion;
use words::Part;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    name: Field,
    description: Field,
    categories: Field,
    /// The values of the product's attributes and of its variants' options, as words.
    attribute_words: Field,
    /// `name=value` of each attribute and option, in lower case: filters and facets.
    attributes: Field,
    seller: Field,
    /// Ids of the product's categories and their ancestors.
    category_tree: Field,
    /// The cheapest variant's price, in minor units.
    price: Field,
    /// The dearest variant's price.
    price_max: Field,
    /// 1 when some variant is available.
    in_stock: Field,
    created_at: Field,
    /// `2^((created − 2026-01-01) / 30 days)`, so a search lifts new products without an
    /// exponential per match (see [`boost`]).
    newness: Field,
    /// Units sold, each weighted by when (see [`boost`]).
    popularity: Field,
    currency: Field,
    updated_at: Field,
    /// 1 for a product on sale, 0 for a tombstone.
    live: Field,
    /// What the document was built from (see [`changes`]).
    source: Field,
    /// The main picture's address.
    image: Field,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    /// Searchers that later pages of a search read, so they stay still (see [`pages`]).
    pinned: Mutex<VecDeque<pages::Pinned>>,
    /// Which build of this instance's index this is: each reindex makes a new one.
    epoch: u64,
    /// Each product's lift, per segment (see [`boost`]).
    lifts: boost::Lifts,
    /// What searches read of each segment (see [`segments`]).
    segments: Arc<segments::Segments>,
    /// The ways each word reaches products, while the index stays as it is (see [`expansions`]).
    expansions: expansions::Expansions,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        name: b.add_text_field("name", TEXT | STORED),
        description: b.add_text_field("description", TEXT),
        categories: b.add_text_field("categories", TEXT | STORED),
        attribute_words: b.add_text_field("attribute_words", TEXT),
        attributes: b.add_text_field("attributes", STRING | FAST),
        seller: b.add_text_field("seller", STRING | FAST),
        category_tree: b.add_text_field("category_tree", STRING | FAST),
        price: b.add_i64_field("price", INDEXED | FAST | STORED),
        price_max: b.add_i64_field("price_max", INDEXED | FAST | STORED),
        in_stock: b.add_i64_field("in_stock", INDEXED | FAST),
        created_at: b.add_i64_field("created_at", INDEXED | FAST),
        newness: b.add_f64_field("newness", FAST),
        popularity: b.add_f64_field("popularity", FAST | STORED),
        currency: b.add_text_field("currency", STRING | STORED),
        updated_at: b.add_i64_field("updated_at", INDEXED | FAST | STORED),
        live: b.add_i64_field("live", INDEXED | STORED),
        source: b.add_text_field("source", STORED),
        image: b.add_text_field("image", STORED),
    };
    (b.build(), f)
}

/// How a new index is laid out: stored documents in blocks of 4 KiB, not tantivy's 16, since
/// each hit of a search reads one whole block, and a document here is about 1.5 KiB.
fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_blocksize: 4096,
        ..Default::default()
    }
}

/// What narrows a search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only products in this category or one below it.
    pub category: Option<Uuid>,
    /// The cheapest variant costs at least this (minor units).
    pub min_price: Option<i64>,
    /// The cheapest variant costs at most this (minor units).
    pub max_price: Option<i64>,
    /// Only products with a variant available.
    pub in_stock: bool,
    /// Only this seller's products.
    pub seller: Option<Uuid>,
    /// For each attribute named, products with one of these values (in lower case); every
    /// attribute named must match.
    pub attributes: Vec<(String, Vec<String>)>,
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

/// What one pass over the matches of a search found.
struct Found {
    /// The page asked for: each match's score (0 when sorted by a field) and address.
    top: Vec<(f32, DocAddress)>,
    /// How many products match.
    total: usize,
    /// The counts over them, when asked for.
    facets: Facets,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub product_id: Uuid,
    pub name: String,
    /// The cheapest variant's price.
    pub price: Money,
    pub score: f32,
    pub highlight: String,
    /// The main picture, when the product has one.
    pub image: Option<String>,
}

impl SearchIndex {
    /// Opens the index in `dir` (a directory of its own), creating it when missing. An index
    /// written with another schema (by an older version) is dropped: it is rebuilt from the
    /// catalog. `epoch` tells this build of the index from the ones before it.
    pub fn open(dir: &Path, epoch: u64) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)?;
        let (schema, f) = schema();
        let opened = Index::builder()
            .schema(schema.clone())
            .settings(settings())
            .open_or_create(tantivy::directory::MmapDirectory::open(dir)?);
        let index = match opened {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(e)) => {
                tracing::warn!(dir = %dir.display(), error = %e, "search: index schema changed; rebuilding");
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                Index::builder()
                    .schema(schema)
                    .settings(settings())
                    .create_in_dir(dir)?
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
            pinned: Mutex::new(VecDeque::new()),
            epoch,
            lifts: boost::Lifts::default(),
            segments: Arc::default(),
            expansions: Default::default(),
        })
    }

    /// Merges every segment into one, so a search reads one dictionary and one set of
    /// postings per term, not one per commit; searches go on meanwhile. A merge that tantivy's
    /// own merge policy started meanwhile takes some of the segments away, and the merge is
    /// tried again over what there is then.
    pub fn compact(&self) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            let segments = self.index.searchable_segment_ids()?;
            if segments.len() < 2 {
                break;
            }
            let merging = self
                .writer
                .lock()
                .map_err(|_| Error::Poisoned)?
                .merge(&segments);
            match merging.wait() {
                Ok(_) => {}
                Err(e) if tries < 20 => {
                    tracing::debug!(error = %e, "search: a merge overlapped another; trying again");
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.reader.reload()?;
        // The merged segment's table and cards are read now, not by the first searches.
        for segment in self.reader.searcher().segment_readers() {
            self.segments.warm(segment, &self.f)?;
        }
        Ok(())
    }

    fn id_term(&self, id: Uuid) -> Term {
        Term::from_field_text(self.f.id, &id.to_string())
    }

    /// Where product `id` is in `searcher`, live or not.
    fn address(&self, searcher: &Searcher, id: Uuid) -> Result<Option<DocAddress>, Error> {
        let q = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let top = searcher.search(&q, &TopDocs::with_limit(1))?;
        Ok(top.first().map(|(_, addr)| *addr))
    }

    /// The document of product `id` in `searcher`, live or not.
    fn find(&self, searcher: &Searcher, id: Uuid) -> Result<Option<TantivyDocument>, Error> {
        match self.address(searcher, id)? {
            Some(addr) => Ok(Some(searcher.doc(addr)?)),
            None => Ok(None),
        }
    }

    /// The card of the document at `addr`; `None` for a tombstone.
    fn card(&self, searcher: &Searcher, addr: DocAddress) -> Result<Option<cards::Card>, Error> {
        Ok(self.segments.card(searcher, addr, &self.f)?)
    }

    /// The generation of what searches see, with the build it belongs to: it changes with
    /// every commit and every reindex.
    pub fn generation(&self) -> (u64, u64) {
        (
            self.epoch,
            self.reader.searcher().generation().generation_id(),
        )
    }

    /// How many products are on sale.
    pub fn live_count(&self) -> Result<usize, Error> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_i64(self.f.live, 1),
            IndexRecordOption::Basic,
        );
        Ok(searcher.search(&q, &Count)?)
    }

    /// A query as analytics counts it: its words, as the index reads them, one space apart.
    pub fn normalized(&self, q: &str) -> String {
        self.words(q).join(" ")
    }

    /// The first `limit` matches after `offset`, on what the index holds now; see
    /// [`Self::page`] for pages that stay still while the index changes.
    pub fn search(
        &self,
        q: &str,
        filters: &Filters,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Hit>, usize), Error> {
        let searcher = self.reader.searcher();
        let Some(Found { top, total, .. }) =
            self.matches(&searcher, q, filters, sort, (offset, limit), false)?
        else {
            return Ok((Vec::new(), 0));
        };
        let words = self.words(q);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            if let Some(card) = self.card(&searcher, addr)? {
                hits.push(self.hit(card, score, &words));
            }
        }
        Ok((hits, total))
    }

    /// The matches of a search (see [`Self::top`]): the products that every word matches;
    /// when there are none, a word that no product has is left out, or else the one that
    /// most products have (the one that narrows least, as in Meilisearch's "frequency"
    /// strategy), and so on until some product matches the rest. `None` when the text holds
    /// no word to look for.
    fn matches(
        &self,
        searcher: &Searcher,
        q: &str,
        filters: &Filters,
        sort: Sort,
        window: (usize, usize),
        facets: bool,
    ) -> Result<Option<Found>, Error> {
        if q.trim().is_empty() {
            let all = self.query(Text::Browse, filters);
            return Ok(Some(self.top(searcher, &all, sort, window, facets)?));
        }
        let mut words = self.words(q);
        // Each word's parts, read once per search: by the word and whether it is the last.
        let mut read: HashMap<(String, bool), Vec<Part>> = HashMap::new();
        let fields = self.text_fields();
        while !words.is_empty() {
            let last = words.len() - 1;
            let parts: Vec<Vec<Part>> = words
                .iter()
                .enumerate()
                .map(|(i, word)| {
                    read.entry((word.clone(), i == last))
                        .or_insert_with(|| self.parts(searcher, word, i == last, &fields))
                        .clone()
                })
                .collect();
            let query = self.query(Text::Words(parts), filters);
            let found = self.top(searcher, &query, sort, window, facets)?;
            if found.total > 0 || words.len() == 1 {
                return Ok(Some(found));
            }
            // How many products each word reaches: how little it narrows the search (read
            // only now, as most searches find something at once).
            let reach: Vec<u64> = words
                .iter()
                .enumerate()
                .map(|(i, word)| {
                    read.get(&(word.clone(), i == last))
                        .map_or(0, |p| products_with(searcher, p))
                })
                .collect();
            // A word that nothing has goes first; then the commonest (the later of equals).
            let commonest = (0..words.len())
                .max_by_key(|&i| (reach[i] == 0, reach[i]))
                .unwrap_or(0);
            words.remove(commonest);
        }
        // Nothing but punctuation: no word to look for.
        Ok(None)
    }

    /// The addresses of the matches from `offset`, best first, with how many match and,
    /// when `facets`, the counts over them, all in one pass.
    fn top(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        sort: Sort,
        (offset, limit): (usize, usize),
        facets: bool,
    ) -> Result<Found, Error> {
        let page = TopDocs::with_limit(limit).and_offset(offset);
        let counts = facets::Counts {
            segments: facets.then(|| self.segments.clone()),
            fields: (self.f.category_tree, self.f.attributes),
        };
        let by_field = match sort {
            Sort::Relevance => None,
            Sort::PriceAsc => Some(("price", Order::Asc)),
            Sort::PriceDesc => Some(("price", Order::Desc)),
            Sort::Newest => Some(("created_at", Order::Desc)),
        };
        let (top, total, facets) = match by_field {
            None => {
                let relevant = boost::Relevant {
                    lifts: &self.lifts,
                    offset,
                    limit,
                };
                searcher.search(query, &(relevant, Count, counts))?
            }
            Some((field, order)) => {
                let sorted = page.order_by_fast_field::<i64>(field.to_owned(), order);
                let (top, total, facets) = searcher.search(query, &(sorted, Count, counts))?;
                let top = top.into_iter().map(|(_, addr)| (0.0, addr)).collect();
                (top, total, facets)
            }
        };
        Ok(Found { top, total, facets })
    }

    /// A hit from a product's card.
    fn hit(&self, card: cards::Card, score: f32, words: &[String]) -> Hit {
        Hit {
            product_id: card.id,
            highlight: self.highlight(&card.name, words),
            name: card.name.to_string(),
            price: Money::new(card.price, card.currency),
            score,
            image: card.image.map(|i| i.to_string()),
        }
    }
}

#[cfg(test)]
mod ranking_tests;
#[cfg(test)]
mod tests;
