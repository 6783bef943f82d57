//! Counts over what a search finds: per category, per attribute value and per price range.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use tantivy::{
    DocId, Score, SegmentOrdinal, SegmentReader, Term,
    collector::{Collector, SegmentCollector},
    schema::Field,
};
use uuid::Uuid;

use super::{
    Filters, SearchIndex, Sort,
    bits::Bits,
    segments::{Multi, Segments, Table},
};
use crate::error::Error;

/// Counts over what a search finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub categories: Vec<CategoryCount>,
    /// Per attribute name (in lower case), its values, most found first.
    pub attributes: BTreeMap<String, Vec<AttributeCount>>,
    pub price: Vec<PriceBucket>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeCount {
    pub value: String,
    pub count: u64,
}

/// The most attribute values counted, over all attributes.
const ATTRIBUTE_VALUES: usize = 200;
/// The most categories counted.
const CATEGORIES: usize = 50;

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

impl SearchIndex {
    /// Counts over everything a search finds: per category (with those above), per attribute
    /// value, and per price range, with edges that suit the prices found.
    pub fn facets(&self, q: &str, filters: &Filters) -> Result<Facets, Error> {
        let searcher = self.reader.searcher();
        let found = self.matches(&searcher, q, filters, Sort::Relevance, (0, 1), true)?;
        Ok(found.map(|f| f.facets).unwrap_or_default())
    }
}

/// Counts what a search finds as it finds it, so the facets take no second pass: each
/// segment notes the documents it matches, then counts their values (exact counts) in the
/// cheaper of two ways (see [`super::segments`]): each document's values from the table, or,
/// when the documents are many and the values few, each value's documents against them, 64
/// at a time. The segments' counts are then added up by value.
pub(super) struct Counts {
    /// Where the tables are; `None` counts nothing, for a search without facets.
    pub segments: Option<Arc<Segments>>,
    /// The fields counted: categories (with those above) and attribute values.
    pub fields: (Field, Field),
}

pub(super) struct SegmentCounts {
    /// What to count with, when counting.
    from: Option<(Arc<Segments>, SegmentReader, Arc<Table>)>,
    fields: (Field, Field),
    found: Bits,
    count: usize,
}

/// What one segment counted, by value.
pub(super) struct Counted {
    categories: HashMap<String, u64>,
    attributes: HashMap<String, u64>,
    prices: Vec<i64>,
    /// The cheapest and the dearest of `prices`.
    range: Option<(i64, i64)>,
}

impl Collector for Counts {
    type Fruit = Facets;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        let (from, size) = match &self.segments {
            Some(segments) => {
                let table = segments.table(segment)?;
                let from = (segments.clone(), segment.clone(), table);
                (Some(from), segment.max_doc())
            }
            None => (None, 0),
        };
        Ok(SegmentCounts {
            from,
            fields: self.fields,
            found: Bits::new(size),
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Counted>) -> tantivy::Result<Facets> {
        let mut categories: HashMap<String, u64> = HashMap::new();
        let mut attributes: HashMap<String, u64> = HashMap::new();
        let mut prices = Vec::new();
        let mut range: Option<(i64, i64)> = None;
        for s in segments {
            range = match (range, s.range) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (r, None) | (None, r) => r,
            };
            for (k, n) in s.categories {
                *categories.entry(k).or_default() += n;
            }
            for (k, n) in s.attributes {
                *attributes.entry(k).or_default() += n;
            }
            prices.push(s.prices);
        }
        Ok(Facets {
            categories: top_categories(categories),
            attributes: top_attributes(attributes),
            price: range.map_or_else(Vec::new, |(min, max)| buckets(&prices, min, max)),
        })
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counted;

    fn collect(&mut self, doc: DocId, _: Score) {
        if self.from.is_some() {
            self.found.insert(doc);
            self.count += 1;
        }
    }

    fn harvest(self) -> Counted {
        let mut counted = Counted {
            categories: HashMap::new(),
            attributes: HashMap::new(),
            prices: Vec::new(),
            range: None,
        };
        let Some((segments, segment, table)) = &self.from else {
            return counted;
        };
        counted.prices.reserve(self.count);
        self.found.for_each(|doc| {
            if let Some(price) = table.price(doc) {
                counted.prices.push(price);
            }
        });
        counted.range = counted.prices.iter().fold(None, |range, &p| match range {
            None => Some((p, p)),
            Some((low, high)) => Some((p.min(low), p.max(high))),
        });
        let (category_field, attribute_field) = self.fields;
        for (multi, field, into) in [
            (&table.categories, category_field, &mut counted.categories),
            (&table.attributes, attribute_field, &mut counted.attributes),
        ] {
            // Each document's values, or each value's documents: whichever reads less. A
            // value of a document costs about as much as three words of a value's set.
            let per_document = 3 * self.count * multi.per_document().max(1);
            let per_value = multi.terms.len() * self.found.words();
            *into = match per_document <= per_value {
                true => by_document(multi, &self.found),
                false => by_value(segments, segment, field, multi, &self.found),
            };
        }
        counted
    }
}

/// How many of `found` hold each value, counted from each document's values.
fn by_document(multi: &Multi, found: &Bits) -> HashMap<String, u64> {
    let mut counts = vec![0u64; multi.terms.len()];
    found.for_each(|doc| {
        for &ord in multi.of(doc) {
            if let Some(n) = counts.get_mut(ord as usize) {
                *n += 1;
            }
        }
    });
    counts
        .iter()
        .zip(&multi.terms)
        .filter(|(n, _)| **n > 0)
        .map(|(n, term)| (term.clone(), *n))
        .collect()
}

/// How many of `found` hold each value, counted from each value's documents. A value whose
/// documents cannot be read is left uncounted.
fn by_value(
    segments: &Segments,
    segment: &SegmentReader,
    field: Field,
    multi: &Multi,
    found: &Bits,
) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for term in &multi.terms {
        let with = Term::from_field_text(field, term);
        let Ok(has) = segments.with_term(segment, &with) else {
            continue;
        };
        let n = found.common(&has);
        if n > 0 {
            counts.insert(term.clone(), n);
        }
    }
    counts
}

/// The categories most found first (equal counts by id), at most [`CATEGORIES`].
fn top_categories(counts: HashMap<String, u64>) -> Vec<CategoryCount> {
    let mut out: Vec<CategoryCount> = counts
        .into_iter()
        .filter_map(|(id, count)| {
            Some(CategoryCount {
                id: Uuid::parse_str(&id).ok()?,
                count,
            })
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    out.truncate(CATEGORIES);
    out
}

/// The [`ATTRIBUTE_VALUES`] values most found over all attributes, grouped by attribute,
/// most found first (equal counts by value).
fn top_attributes(counts: HashMap<String, u64>) -> BTreeMap<String, Vec<AttributeCount>> {
    let mut all: Vec<(String, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: BTreeMap<String, Vec<AttributeCount>> = BTreeMap::new();
    for (key, count) in all.into_iter().take(ATTRIBUTE_VALUES) {
        if let Some((name, value)) = key.split_once('=') {
            out.entry(name.to_owned())
                .or_default()
                .push(AttributeCount {
                    value: value.to_owned(),
                    count,
                });
        }
    }
    out
}

/// How many of `prices` (each segment's, from `min` to `max`) fall in each range between
/// [`price_edges`] that suit them.
fn buckets(prices: &[Vec<i64>], min: i64, max: i64) -> Vec<PriceBucket> {
    let edges = price_edges(min, max);
    let mut out: Vec<PriceBucket> = edges
        .windows(2)
        .map(|w| PriceBucket {
            from: w[0],
            to: w[1],
            count: 0,
        })
        .collect();
    // The edges are a step apart, from at or below the cheapest to above the dearest.
    let (first, step) = match edges.as_slice() {
        [first, second, ..] => (*first, (second - first).max(1)),
        _ => return out,
    };
    for &p in prices.iter().flatten() {
        let at = usize::try_from((p - first) / step).unwrap_or(0);
        if let Some(b) = out.get_mut(at) {
            b.count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{Bits, by_document, by_value};
    use crate::index::tests::{dressed, empty};

    #[test]
    fn values_counted_per_document_or_per_value_agree_for_any_matches() {
        let (_dir, index) = empty();
        let colours = ["red", "blue", "green", "black", "white"];
        let materials = ["brass", "linen", "glass"];
        // Two commits, so two segments or more, some values missing from some.
        for batch in [0..150, 150..300] {
            let lamps: Vec<_> = batch
                .map(|i: usize| {
                    let colour = colours[i % colours.len()];
                    let material = materials[(i / 7 + i / 150) % materials.len()];
                    dressed(&format!("Lamp {i}"), 100 + i as i64, colour, material)
                })
                .collect();
            index.apply(&lamps).unwrap();
        }
        let searcher = index.reader.searcher();
        assert!(searcher.segment_readers().len() >= 2);
        for segment in searcher.segment_readers() {
            let table = index.segments.table(segment).unwrap();
            for every in [1, 2, 3, 10, 149] {
                let mut found = Bits::new(segment.max_doc());
                for doc in (0..segment.max_doc()).step_by(every) {
                    found.insert(doc);
                }
                let documents = by_document(&table.attributes, &found);
                let values = by_value(
                    &index.segments,
                    segment,
                    index.f.attributes,
                    &table.attributes,
                    &found,
                );
                assert_eq!(documents, values, "every {every}th document");
                let mut matched = 0;
                found.for_each(|_| matched += 1);
                let colour: u64 = documents
                    .iter()
                    .filter(|(k, _)| k.starts_with("colour="))
                    .map(|(_, n)| n)
                    .sum();
                assert_eq!(colour, matched, "each lamp has one colour");
            }
        }
    }
}
