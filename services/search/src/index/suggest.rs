//! Completions of what a shopper is typing, from product and category names.

use tantivy::{
    TantivyDocument, Term,
    collector::TopDocs,
    query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery},
    schema::{Field, IndexRecordOption, Value},
};
use uuid::Uuid;

use super::SearchIndex;
use crate::error::Error;

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
pub(super) fn edits(a: &str, b: &str) -> usize {
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

impl SearchIndex {
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
}
