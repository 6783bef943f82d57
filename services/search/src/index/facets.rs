//! Counts over what a search finds: per category, per attribute value and per price range.

use std::collections::BTreeMap;
use tantivy::aggregation::{
    AggregationCollector, AggregationLimitsGuard, agg_req::Aggregations,
    agg_result::AggregationResults,
};

use uuid::Uuid;

use super::{Filters, SearchIndex};
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
        let Some(query) = self.query(q, filters) else {
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
        // Every segment counts all its values (up to 10,000), so the counts are exact.
        let first = run(serde_json::json!({
            "categories": {"terms": {"field": "category_tree", "size": 50, "segment_size": 10_000}},
            "attributes": {"terms": {"field": "attributes", "size": ATTRIBUTE_VALUES, "segment_size": 10_000}},
            "price": {"stats": {"field": "price"}},
        }))?;
        let mut attributes: BTreeMap<String, Vec<AttributeCount>> = BTreeMap::new();
        for b in first["attributes"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some((name, value)), Some(count)) = (
                b["key"].as_str().and_then(|k| k.split_once('=')),
                b["doc_count"].as_u64(),
            ) else {
                continue;
            };
            attributes
                .entry(name.to_owned())
                .or_default()
                .push(AttributeCount {
                    value: value.to_owned(),
                    count,
                });
        }
        // Most found first; equal counts by value, whatever order the segments gave them in.
        for values in attributes.values_mut() {
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        }
        let mut categories: Vec<CategoryCount> = first["categories"]["buckets"]
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
        categories.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
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
        Ok(Facets {
            categories,
            attributes,
            price,
        })
    }
}
