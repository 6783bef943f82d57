//! How a shopper's text and filters become a query: plain words, never syntax.

use tantivy::{
    Searcher, Term,
    query::{
        BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
        TermQuery,
    },
    schema::{Field, IndexRecordOption},
};

use super::{Filters, SearchIndex, changes::attribute_term, reach};

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

    /// What a shopper's words match in `searcher`: each word exactly (ranked highest), the
    /// terms within one edit for words of 4 to 7 letters and two from 8, and the terms the
    /// last word starts too (the shopper may still be typing it); in the name (weighted
    /// most), the description (exact words only: it repeats the name's), the category names
    /// and the attribute values.
    pub(super) fn text_query(&self, searcher: &Searcher, words: &[String]) -> Box<dyn Query> {
        self.words_in(searcher, words, &self.text_fields(), Matching::All)
    }

    /// The fields a search reads, each with its weight and how far a word reaches in it.
    fn text_fields(&self) -> [(Field, f32, Reach); 4] {
        [
            (self.f.name, 3.0, Reach::Edits),
            (self.f.description, 1.0, Reach::Exact),
            (self.f.categories, 1.5, Reach::Edits),
            (self.f.attribute_words, 1.5, Reach::Edits),
        ]
    }

    /// `words` as [`Self::text_query`] reads them, in `fields` with their weights: each term
    /// a word reaches (see [`reach`]) is searched as a term of its own.
    pub(super) fn words_in(
        &self,
        searcher: &Searcher,
        words: &[String],
        fields: &[(Field, f32, Reach)],
        matching: Matching,
    ) -> Box<dyn Query> {
        let each = match matching {
            Matching::All => Occur::Must,
            Matching::Any => Occur::Should,
        };
        let scored = |field: Field, text: &str, boost: f32| -> (Occur, Box<dyn Query>) {
            let term = Term::from_field_text(field, text);
            let query = TermQuery::new(term, IndexRecordOption::WithFreqs);
            (
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(query), boost)),
            )
        };
        let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let distance = edits_allowed(word.chars().count());
            let dfa = reach::automaton(word, distance);
            let mut ways: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for &(field, weight, how_far) in fields {
                ways.push(scored(field, word, weight * EXACT));
                if how_far == Reach::Exact {
                    continue;
                }
                let reached = reach::reached(searcher, field, word, dfa.as_ref(), last)
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "search: reading the terms a word reaches");
                        reach::Reached::overflowed()
                    });
                // A term the word reaches counts the same however rare it is, so a rare
                // near miss never outranks the word itself.
                for (text, way) in &reached.terms {
                    let boost = match way {
                        reach::Way::Edits => weight,
                        reach::Way::Prefix => weight * PREFIX,
                    };
                    let term = Term::from_field_text(field, text);
                    let query = TermQuery::new(term, IndexRecordOption::Basic);
                    ways.push((
                        Occur::Should,
                        Box::new(ConstScoreQuery::new(Box::new(query), boost)),
                    ));
                }
                // Too many terms to list: all of them as one set, each match counting alike.
                let term = Term::from_field_text(field, word);
                if reached.edits_overflow && dfa.is_some() {
                    let fuzzy = FuzzyTermQuery::new(term.clone(), distance, true);
                    ways.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(fuzzy), weight)),
                    ));
                }
                if reached.prefix_overflow && last {
                    let prefix = FuzzyTermQuery::new_prefix(term, 0, true);
                    ways.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(prefix), weight * PREFIX)),
                    ));
                }
            }
            per_word.push((each, Box::new(BooleanQuery::new(ways))));
        }
        Box::new(BooleanQuery::new(per_word))
    }

    /// How many products hold `word`, or a term it reaches, in their text, summed over the
    /// fields: how little the word narrows a search. `last` for the last word of a search.
    pub(super) fn products_with(&self, searcher: &Searcher, word: &str, last: bool) -> u64 {
        let dfa = reach::automaton(word, edits_allowed(word.chars().count()));
        let freq = |field: Field, text: &str| {
            searcher
                .doc_freq(&Term::from_field_text(field, text))
                .unwrap_or(0)
        };
        let mut n = 0;
        for (field, _, how_far) in self.text_fields() {
            n += freq(field, word);
            if how_far == Reach::Edits
                && let Ok(reached) = reach::reached(searcher, field, word, dfa.as_ref(), last)
            {
                n += reached.terms.keys().map(|t| freq(field, t)).sum::<u64>();
            }
        }
        n
    }

    /// The query for `text`, narrowed by `filters`.
    pub(super) fn query(
        &self,
        searcher: &Searcher,
        text: Text<'_>,
        filters: &Filters,
    ) -> BooleanQuery {
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        // A filter only narrows: it adds nothing to the score.
        let filter = |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(BoostQuery::new(q, 0.0)))
        };
        let on_sale = || term(Term::from_field_i64(self.f.live, 1));
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match text {
            // Browsing: every product scores the same, before its lift (see `boost`).
            Text::Browse => must.push((Occur::Must, on_sale())),
            // A product not on sale is indexed without its words (see `changes`), so no
            // word finds it, and the words need no filter of their own to keep it out.
            Text::Words(words) => {
                must.push((Occur::Must, self.text_query(searcher, words)));
            }
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
        BooleanQuery::new(must)
    }
}

/// What a search looks for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Text<'a> {
    /// Nothing typed: every product on sale.
    Browse,
    /// Products that every one of the words matches, each in a field of its own choosing.
    Words(&'a [String]),
}

/// Which products the words of a query find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Matching {
    /// Those that every word matches (each in a field of its own choosing): what a shopper
    /// means by "vintage boot".
    All,
    /// Those that any word matches, those matching more of them first: suggestions.
    Any,
}

/// How far a word reaches in a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
