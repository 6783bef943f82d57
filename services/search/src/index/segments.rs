//! What a search reads of every product it matches, per segment, in plain arrays read once.
//!
//! A segment never changes once written (a deletion only marks documents gone), so what is
//! read from it can be kept for as long as it is searched. Facets count each matching
//! product's categories, attribute values and price; through tantivy's columns that is an
//! index lookup and a bit unpacking per value, here an array read. Filters by a term (in
//! stock, a category, an attribute value, a seller) keep one bit per document of the
//! segment, so a search narrows its matches a word of 64 documents at a time. A large
//! segment also keeps what its hits show (see [`super::cards`]).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tantivy::{
    DocAddress, DocId, Searcher, SegmentReader, TantivyDocument, Term, columnar::StrColumn,
    index::SegmentId,
};

use super::{
    Fields,
    bits::Bits,
    cards::{Card, Cards},
};

/// How long something read from a segment is kept after its last use: a segment merged away
/// is not searched again.
const UNUSED_FOR: Duration = Duration::from_secs(120);
/// The most filter sets kept, over all segments (each one bit per document).
const MAX_SETS: usize = 512;
/// Segments of fewer documents than this keep no sets.
pub(super) const SMALL: u32 = 4096;
/// The most segments' tables kept.
const MAX_TABLES: usize = 64;

/// A value kept, with when it was last used.
type Used<V> = (Instant, Arc<V>);

/// Values kept per segment (and per key within it), each dropped once unused for a while.
pub(super) struct Kept<K, V> {
    kept: Mutex<HashMap<(SegmentId, K), Used<V>>>,
    max: usize,
}

impl<K: Eq + Hash + Clone, V> Kept<K, V> {
    fn new(max: usize) -> Self {
        Self {
            kept: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// The value kept for `key` in `segment`, made by `make` when there is none.
    fn get_or(
        &self,
        segment: &SegmentReader,
        key: &K,
        make: impl FnOnce() -> tantivy::Result<V>,
    ) -> tantivy::Result<Arc<V>> {
        let at = (segment.segment_id(), key.clone());
        if let Ok(mut kept) = self.kept.lock()
            && let Some((used, value)) = kept.get_mut(&at)
        {
            *used = Instant::now();
            return Ok(value.clone());
        }
        // Made outside the lock: two searches may make the same value, and either is kept.
        let value = Arc::new(make()?);
        if let Ok(mut kept) = self.kept.lock() {
            kept.retain(|_, (used, _)| used.elapsed() < UNUSED_FOR);
            if kept.len() >= self.max
                && let Some(oldest) = kept.iter().min_by_key(|(_, (used, _))| *used)
            {
                let oldest = oldest.0.clone();
                kept.remove(&oldest);
            }
            kept.insert(at, (Instant::now(), value.clone()));
        }
        Ok(value)
    }
}

/// Everything read from segments for searches.
pub(super) struct Segments {
    tables: Kept<(), Table>,
    sets: Kept<Term, Bits>,
    cards: Kept<(), Cards>,
}

impl Default for Segments {
    fn default() -> Self {
        Self {
            tables: Kept::new(MAX_TABLES),
            sets: Kept::new(MAX_SETS),
            cards: Kept::new(MAX_TABLES),
        }
    }
}

impl Segments {
    /// The segment's table of categories, attribute values and prices.
    pub(super) fn table(&self, segment: &SegmentReader) -> tantivy::Result<Arc<Table>> {
        self.tables.get_or(segment, &(), || Table::read(segment))
    }

    /// The card of the document at `addr` in `searcher`; `None` for a tombstone.
    pub(super) fn card(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
        f: &Fields,
    ) -> tantivy::Result<Option<Card>> {
        let segment = searcher.segment_reader(addr.segment_ord);
        match self.cards(segment, f)? {
            Some(cards) => Ok(cards.get(addr.doc_id).cloned()),
            None => {
                let doc: TantivyDocument = searcher.doc(addr)?;
                Ok(Card::of(&doc, f))
            }
        }
    }

    /// The cards of a large segment's documents, read now if they are not kept yet; `None`
    /// for a small segment, whose documents are read one by one.
    fn cards(&self, segment: &SegmentReader, f: &Fields) -> tantivy::Result<Option<Arc<Cards>>> {
        match segment.max_doc() < SMALL {
            true => Ok(None),
            false => self
                .cards
                .get_or(segment, &(), || Cards::read(segment, f))
                .map(Some),
        }
    }

    /// Reads now what searches of `segment` will read of it, so the first of them does not.
    pub(super) fn warm(&self, segment: &SegmentReader, f: &Fields) -> tantivy::Result<()> {
        self.table(segment)?;
        self.cards(segment, f)?;
        Ok(())
    }

    /// The segment's documents that hold `term` (deleted ones included).
    pub(super) fn with_term(
        &self,
        segment: &SegmentReader,
        term: &Term,
    ) -> tantivy::Result<Arc<Bits>> {
        let read = || {
            let mut set = Bits::new(segment.max_doc());
            let inverted = segment.inverted_index(term.field())?;
            if let Some(info) = inverted.get_term_info(term)? {
                set.add(&inverted, &info)?;
            }
            Ok(set)
        };
        // A small segment (one commit of a few changes) is read again each time: cheap, and
        // the sets kept are left to the segments where reading costs.
        match segment.max_doc() < SMALL {
            true => read().map(Arc::new),
            false => self.sets.get_or(segment, term, read),
        }
    }
}

/// What a document without a price holds in [`Table`]: no price is this low.
const NO_PRICE: i64 = i64::MIN;

/// A segment's categories (with those above them), attribute values and cheapest prices.
pub(super) struct Table {
    pub categories: Multi,
    pub attributes: Multi,
    /// The cheapest variant's price, by document; [`NO_PRICE`] for a tombstone.
    prices: Vec<i64>,
}

impl Table {
    fn read(segment: &SegmentReader) -> tantivy::Result<Self> {
        let fast = segment.fast_fields();
        let max_doc = segment.max_doc();
        let prices = match fast.i64("price") {
            Ok(column) => (0..max_doc)
                .map(|doc| column.first(doc).unwrap_or(NO_PRICE))
                .collect(),
            Err(_) => vec![NO_PRICE; max_doc as usize],
        };
        Ok(Self {
            categories: Multi::read(fast.str("category_tree")?, max_doc)?,
            attributes: Multi::read(fast.str("attributes")?, max_doc)?,
            prices,
        })
    }

    pub(super) fn price(&self, doc: DocId) -> Option<i64> {
        self.prices
            .get(doc as usize)
            .copied()
            .filter(|p| *p != NO_PRICE)
    }
}

/// A column of several values per document: each document's values by their number in the
/// segment's dictionary, and the dictionary.
pub(super) struct Multi {
    /// Where each document's values start in `ords`; one more than there are documents.
    starts: Vec<u32>,
    ords: Vec<u32>,
    pub terms: Vec<String>,
}

impl Multi {
    fn read(column: Option<StrColumn>, max_doc: u32) -> tantivy::Result<Self> {
        let Some(column) = column else {
            return Ok(Self {
                starts: vec![0; max_doc as usize + 1],
                ords: Vec::new(),
                terms: Vec::new(),
            });
        };
        let mut starts = Vec::with_capacity(max_doc as usize + 1);
        let mut ords = Vec::new();
        for doc in 0..max_doc {
            starts.push(ords.len() as u32);
            ords.extend(column.term_ords(doc).map(|o| o as u32));
        }
        starts.push(ords.len() as u32);
        let mut terms = Vec::with_capacity(column.num_terms());
        for ord in 0..column.num_terms() as u64 {
            let mut term = String::new();
            column.ord_to_str(ord, &mut term)?;
            terms.push(term);
        }
        Ok(Self {
            starts,
            ords,
            terms,
        })
    }

    /// How many values a document has, on average (rounded up).
    pub(super) fn per_document(&self) -> usize {
        self.ords.len().div_ceil(self.starts.len().max(2) - 1)
    }

    /// The numbers of `doc`'s values.
    pub(super) fn of(&self, doc: DocId) -> &[u32] {
        let doc = doc as usize;
        match (self.starts.get(doc), self.starts.get(doc + 1)) {
            (Some(&from), Some(&to)) => self.ords.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use tantivy::Term;

    use super::SMALL;
    use crate::index::{
        Filters, Op, SearchIndex, Sort,
        tests::{dressed, empty},
    };

    #[test]
    fn a_large_segment_keeps_its_sets_and_they_stay_right_as_its_products_change() {
        let (_dir, index) = empty();
        let colour = |i: usize| if i.is_multiple_of(2) { "red" } else { "blue" };
        let lamps: Vec<Op> = (0..SMALL as usize + 4)
            .map(|i| dressed(&format!("Lamp {i}"), 100 + i as i64, colour(i), "brass"))
            .collect();
        index.apply(&lamps).unwrap();
        index.compact().unwrap();
        let red = |index: &SearchIndex| {
            let only = Filters {
                attributes: vec![("colour".into(), vec!["red".into()])],
                ..Filters::default()
            };
            index
                .search("lamp", &only, Sort::Relevance, 0, 1)
                .unwrap()
                .1
        };
        assert_eq!(red(&index), 2050);
        let searcher = index.reader.searcher();
        let [segment] = searcher.segment_readers() else {
            panic!("one segment after the merge");
        };
        let term = Term::from_field_text(index.f.attributes, "colour=red");
        let kept = index.segments.with_term(segment, &term).unwrap();
        assert!(Arc::ptr_eq(
            &kept,
            &index.segments.with_term(segment, &term).unwrap()
        ));
        // A red lamp turns blue: its new copy goes to a new, small segment, and the old
        // segment's kept set still holds the old copy, which is deleted.
        let Op::Upsert(mut turned) = lamps[0].clone() else {
            unreachable!()
        };
        turned.variants[0].options = [("Colour".to_owned(), "blue".to_owned())].into();
        turned.updated_at = Utc.timestamp_millis_opt(9_000).unwrap();
        index.apply(&[Op::Upsert(turned)]).unwrap();
        assert_eq!(red(&index), 2049);
        let facets = index.facets("lamp", &Filters::default()).unwrap();
        let blue = facets.attributes["colour"]
            .iter()
            .find(|v| v.value == "blue")
            .map(|v| v.count);
        assert_eq!(blue, Some(2051));
    }
}
