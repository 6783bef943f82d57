//! Counts over what a search finds: per category, per attribute value and per price range.

use std::collections::{BTreeMap, HashMap};

use tantivy::{
    DocId, Score, SegmentOrdinal, SegmentReader,
    collector::{Collector, SegmentCollector},
    columnar::{Column, StrColumn},
};
use uuid::Uuid;

use super::{Filters, SearchIndex, Sort};
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
/// segment counts the values of every document it matches (exact counts), then the segments'
/// counts are added up by value.
pub(super) struct Counts {
    /// Whether to count at all: a search without facets counts nothing.
    pub enabled: bool,
}

pub(super) struct SegmentCounts {
    categories: Option<StrColumn>,
    attributes: Option<StrColumn>,
    price: Option<Column<i64>>,
    /// By the term's number in the segment's dictionary.
    category_counts: Vec<u64>,
    attribute_counts: Vec<u64>,
    prices: Vec<i64>,
}

/// What one segment counted, by value.
pub(super) struct Counted {
    categories: HashMap<String, u64>,
    attributes: HashMap<String, u64>,
    prices: Vec<i64>,
}

impl Collector for Counts {
    type Fruit = Facets;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        let fast = segment.fast_fields();
        let (categories, attributes, price) = match self.enabled {
            true => (
                fast.str("category_tree")?,
                fast.str("attributes")?,
                fast.i64("price").ok(),
            ),
            false => (None, None, None),
        };
        let slots = |c: &Option<StrColumn>| vec![0; c.as_ref().map_or(0, |c| c.num_terms())];
        Ok(SegmentCounts {
            category_counts: slots(&categories),
            attribute_counts: slots(&attributes),
            categories,
            attributes,
            price,
            prices: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Counted>) -> tantivy::Result<Facets> {
        let mut categories: HashMap<String, u64> = HashMap::new();
        let mut attributes: HashMap<String, u64> = HashMap::new();
        let mut prices = Vec::new();
        for s in segments {
            for (k, n) in s.categories {
                *categories.entry(k).or_default() += n;
            }
            for (k, n) in s.attributes {
                *attributes.entry(k).or_default() += n;
            }
            prices.extend(s.prices);
        }
        Ok(Facets {
            categories: top_categories(categories),
            attributes: top_attributes(attributes),
            price: buckets(&prices),
        })
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counted;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(c) = &self.categories {
            for ord in c.term_ords(doc) {
                if let Some(n) = self.category_counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
        if let Some(c) = &self.attributes {
            for ord in c.term_ords(doc) {
                if let Some(n) = self.attribute_counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
        if let Some(price) = self.price.as_ref().and_then(|p| p.first(doc)) {
            self.prices.push(price);
        }
    }

    fn harvest(self) -> Counted {
        let named = |column: &Option<StrColumn>, counts: &[u64]| {
            let mut out = HashMap::new();
            let Some(column) = column else {
                return out;
            };
            for (ord, &n) in counts.iter().enumerate() {
                let mut value = String::new();
                if n > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                    out.insert(value, n);
                }
            }
            out
        };
        Counted {
            categories: named(&self.categories, &self.category_counts),
            attributes: named(&self.attributes, &self.attribute_counts),
            prices: self.prices,
        }
    }
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

/// How many of `prices` fall in each range between [`price_edges`] that suit them.
fn buckets(prices: &[i64]) -> Vec<PriceBucket> {
    let (Some(&min), Some(&max)) = (prices.iter().min(), prices.iter().max()) else {
        return Vec::new();
    };
    let edges = price_edges(min, max);
    let mut out: Vec<PriceBucket> = edges
        .windows(2)
        .map(|w| PriceBucket {
            from: w[0],
            to: w[1],
            count: 0,
        })
        .collect();
    for &p in prices {
        // The buckets are in order, from at or below the cheapest to above the dearest.
        let at = out.partition_point(|b| b.to <= p);
        if let Some(b) = out.get_mut(at) {
            b.count += 1;
        }
    }
    out
}
