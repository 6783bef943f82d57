//! How a shopper's text and filters become a query: plain words, never syntax.

use std::sync::Arc;

use tantivy::{
    Searcher, Term,
    query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery},
    schema::{Field, IndexRecordOption},
};

use super::{
    Filters, SearchIndex,
    changes::attribute_term,
    expansions::Asked,
    narrow::{Narrowed, Narrowing},
    reach,
    words::{AllWords, Part},
};

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

    /// The fields a search reads, each with its weight and how far a word reaches in it.
    pub(super) fn text_fields(&self) -> [(Field, f32, Reach); 4] {
        [
            (self.f.name, 3.0, Reach::Edits),
            (self.f.description, 1.0, Reach::Exact),
            (self.f.categories, 1.5, Reach::Edits),
            (self.f.attribute_words, 1.5, Reach::Edits),
        ]
    }

    /// The products that any of `words` matches, those matching more of them first, in
    /// `fields` with their weights: suggestions.
    pub(super) fn any_words(
        &self,
        searcher: &Searcher,
        words: &[String],
        fields: &[(Field, f32, Reach)],
    ) -> Box<dyn Query> {
        let per_word = words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                let ways = self
                    .parts(searcher, word, i + 1 == words.len(), fields)
                    .into_iter()
                    .map(|part| (Occur::Should, part_query(part)))
                    .collect();
                let word: Box<dyn Query> = Box::new(BooleanQuery::new(ways));
                (Occur::Should, word)
            })
            .collect();
        Box::new(BooleanQuery::new(per_word))
    }

    /// The ways `word` reaches products in `fields`: itself in each, with the field's weight
    /// times [`EXACT`], and where the field allows, each term within its edits and, for the
    /// `last` word, each term it starts (see [`reach`]). Kept while the index stays as it is
    /// (see [`super::expansions`]).
    pub(super) fn parts(
        &self,
        searcher: &Searcher,
        word: &str,
        last: bool,
        fields: &[(Field, f32, Reach)],
    ) -> Vec<Part> {
        let asked = Asked {
            word: word.to_owned(),
            last,
            fields: fields
                .iter()
                .map(|&(f, weight, how_far)| (f.field_id(), weight.to_bits(), how_far))
                .collect(),
        };
        let generation = searcher.generation().generation_id();
        self.expansions.get_or(generation, asked, || {
            self.read_parts(searcher, word, last, fields)
        })
    }

    fn read_parts(
        &self,
        searcher: &Searcher,
        word: &str,
        last: bool,
        fields: &[(Field, f32, Reach)],
    ) -> Vec<Part> {
        let distance = edits_allowed(word.chars().count());
        let dfa = reach::automaton(word, distance).map(Arc::new);
        let mut parts = Vec::new();
        for &(field, weight, how_far) in fields {
            parts.push(Part::Exact {
                term: Term::from_field_text(field, word),
                boost: weight * EXACT,
            });
            if how_far == Reach::Exact {
                continue;
            }
            let reached = reach::reached(searcher, field, word, dfa.as_deref(), last)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "search: reading the terms a word reaches");
                    reach::Reached::overflowed()
                });
            // A term the word reaches counts the same however rare it is, so a rare near
            // miss never outranks the word itself.
            for (text, way) in &reached.terms {
                let boost = match way {
                    reach::Way::Edits => weight,
                    reach::Way::Prefix => weight * PREFIX,
                };
                parts.push(Part::Near {
                    term: Term::from_field_text(field, text),
                    boost,
                });
            }
            // Too many terms to list: all of them as one set, each match counting alike.
            if let (true, Some(dfa)) = (reached.edits_overflow, &dfa) {
                parts.push(Part::EveryNear {
                    term: Term::from_field_text(field, word),
                    distance,
                    dfa: dfa.clone(),
                    boost: weight,
                });
            }
            if reached.prefix_overflow && last {
                parts.push(Part::EveryStarted {
                    field,
                    prefix: word.to_owned(),
                    boost: weight * PREFIX,
                });
            }
        }
        parts
    }

    /// The query for `text`, narrowed by `filters`.
    pub(super) fn query(&self, text: Text, filters: &Filters) -> AllWords {
        let mut groups: Vec<Vec<Term>> = Vec::new();
        let words = match text {
            // Browsing: every product on sale.
            Text::Browse => {
                groups.push(vec![Term::from_field_i64(self.f.live, 1)]);
                Vec::new()
            }
            // A product not on sale is indexed without its words (see `changes`), so no
            // word finds it, and the words need no filter of their own to keep it out.
            Text::Words(parts) => parts,
        };
        if let Some(category) = filters.category {
            let id = category.to_string();
            groups.push(vec![Term::from_field_text(self.f.category_tree, &id)]);
        }
        if let Some(seller) = filters.seller {
            let id = seller.to_string();
            groups.push(vec![Term::from_field_text(self.f.seller, &id)]);
        }
        if filters.in_stock {
            groups.push(vec![Term::from_field_i64(self.f.in_stock, 1)]);
        }
        for (name, values) in &filters.attributes {
            let any = values
                .iter()
                .map(|v| Term::from_field_text(self.f.attributes, &attribute_term(name, v)))
                .collect();
            groups.push(any);
        }
        let price = (filters.min_price.is_some() || filters.max_price.is_some()).then(|| {
            (
                filters.min_price.unwrap_or(i64::MIN),
                filters.max_price.unwrap_or(i64::MAX),
            )
        });
        let narrowed = Narrowed {
            narrowing: Narrowing { groups, price },
            segments: self.segments.clone(),
        };
        AllWords::new(words, narrowed)
    }
}

/// What a search looks for.
#[derive(Debug, Clone)]
pub(super) enum Text {
    /// Nothing typed: every product on sale.
    Browse,
    /// Products that every word matches (each through any of its parts, see
    /// [`SearchIndex::parts`]).
    Words(Vec<Vec<Part>>),
}

/// How far a word reaches in a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Reach {
    /// The word itself only.
    Exact,
    /// The word, the terms within its edits and, for the last word, the terms it starts.
    Edits,
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

/// One part of a word as a query of its own, scored as [`AllWords`] scores it.
pub(super) fn part_query(part: Part) -> Box<dyn Query> {
    match part {
        Part::Exact { term, boost } => Box::new(BoostQuery::new(
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            boost,
        )),
        Part::Near { term, boost } => Box::new(ConstScoreQuery::new(
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            boost,
        )),
        Part::EveryNear {
            term,
            distance,
            boost,
            ..
        } => Box::new(ConstScoreQuery::new(
            Box::new(FuzzyTermQuery::new(term, distance, true)),
            boost,
        )),
        Part::EveryStarted {
            field,
            prefix,
            boost,
        } => Box::new(ConstScoreQuery::new(
            Box::new(FuzzyTermQuery::new_prefix(
                Term::from_field_text(field, &prefix),
                0,
                true,
            )),
            boost,
        )),
    }
}

/// How many products hold a word (in any field, or through any term it reaches, counted once
/// per term): how little it narrows a search.
pub(super) fn products_with(searcher: &Searcher, parts: &[Part]) -> u64 {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::Exact { term, .. } | Part::Near { term, .. } => searcher.doc_freq(term).ok(),
            _ => None,
        })
        .sum()
}
