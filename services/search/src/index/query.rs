//! How a shopper's text and filters become a query: plain words, never syntax.

use tantivy::{
    Term,
    query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery},
    schema::{Field, IndexRecordOption},
};

use super::{Filters, SearchIndex, changes::attribute_term};

/// The most words of a query that count; the rest are ignored.
const MAX_WORDS: usize = 10;
/// How much more an exact word counts than one within its edits.
const EXACT: f32 = 3.0;
/// How much a word the last one starts counts, against one within its edits.
const PREFIX: f32 = 1.5;

impl SearchIndex {
    /// The words of a shopper's text, as the index knows them (lower case, split at
    /// punctuation): never query syntax.
    pub(super) fn words(&self, q: &str) -> Vec<String> {
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
    /// too (the shopper may still be typing); in the name (weighted most), the description,
    /// the category names and the attribute values.
    pub(super) fn text_query(&self, words: &[String]) -> Box<dyn Query> {
        let fields = [
            (self.f.name, 3.0),
            (self.f.description, 1.0),
            (self.f.categories, 1.5),
            (self.f.attribute_words, 1.5),
        ];
        self.words_in(words, &fields)
    }

    /// `words` as [`Self::text_query`] reads them, in `fields` with their weights.
    pub(super) fn words_in(&self, words: &[String], fields: &[(Field, f32)]) -> Box<dyn Query> {
        let mut any_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let letters = word.chars().count();
            let mut ways: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for &(field, weight) in fields {
                let term = Term::from_field_text(field, word);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                ways.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), weight * EXACT)),
                ));
                let distance = edits_allowed(letters);
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
        Box::new(BooleanQuery::new(any_word))
    }

    /// The query for what a shopper typed, narrowed by `filters`; `None` when the text holds
    /// no word to look for.
    pub(super) fn query(&self, q: &str, filters: &Filters) -> Option<BooleanQuery> {
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        // A filter only narrows: it adds nothing to the score.
        let filter = |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(BoostQuery::new(q, 0.0)))
        };
        let on_sale = || term(Term::from_field_i64(self.f.live, 1));
        let words = self.words(q);
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if q.trim().is_empty() {
            // Browsing: every product scores the same, before its lift (see `boost`).
            must.push((Occur::Must, on_sale()));
        } else if words.is_empty() {
            // Nothing but punctuation: no word to look for.
            return None;
        } else {
            must.push(filter(on_sale()));
            must.push((Occur::Must, self.text_query(&words)));
        }
        if filters.min_price.is_some() || filters.max_price.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => std::ops::Bound::Included(Term::from_field_i64(self.f.price, v)),
                None => std::ops::Bound::Unbounded,
            };
            let range = RangeQuery::new(bound(filters.min_price), bound(filters.max_price));
            must.push(filter(Box::new(range)));
        }
        if let Some(category) = filters.category {
            must.push(filter(term(Term::from_field_text(
                self.f.category_tree,
                &category.to_string(),
            ))));
        }
        if let Some(seller) = filters.seller {
            must.push(filter(term(Term::from_field_text(
                self.f.seller,
                &seller.to_string(),
            ))));
        }
        if filters.in_stock {
            must.push(filter(term(Term::from_field_i64(self.f.in_stock, 1))));
        }
        for (name, values) in &filters.attributes {
            let any: Vec<(Occur, Box<dyn Query>)> = values
                .iter()
                .map(|v| {
                    let t = Term::from_field_text(self.f.attributes, &attribute_term(name, v));
                    (Occur::Should, term(t))
                })
                .collect();
            must.push(filter(Box::new(BooleanQuery::new(any))));
        }
        Some(BooleanQuery::new(must))
    }
}

/// How many edits a word of `letters` letters may have and still match: none below 4, one
/// up to 7, two from 8 (a swap of two letters counts as one).
pub(super) fn edits_allowed(letters: usize) -> u8 {
    match letters {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}
