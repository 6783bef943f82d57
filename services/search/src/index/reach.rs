//! Which terms of the index a shopper's word reaches: itself, the terms within its edits, and
//! (for the last word, which the shopper may still be typing) the terms it starts.
//!
//! The terms are read from the dictionaries of the searcher's segments, so that each can be
//! searched as a term of its own, its postings read once, and none at all when the index has
//! no such term, which is so for most words (a word seldom has a neighbour within its edits).
//! A word that reaches very many terms, such as a prefix of one or two letters, is left to a
//! query that matches them all as one set instead.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::OnceLock,
};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::{Searcher, schema::Field};
use tantivy_fst::Automaton;

/// The most terms a word's edits, or its prefix, may reach (over all segments) and still be
/// searched one by one.
const MAX_TERMS: usize = 64;

/// How a term was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    Edits,
    Prefix,
}

/// The terms other than the word itself that a word reaches in one field, with how.
pub(super) struct Reached {
    pub terms: BTreeMap<String, Way>,
    /// Whether the edits reached too many terms to list.
    pub edits_overflow: bool,
    /// Whether the prefix reached too many terms to list.
    pub prefix_overflow: bool,
}

impl Reached {
    /// When the terms could not be read: every kind matched as one set.
    pub(super) fn overflowed() -> Self {
        Self {
            terms: BTreeMap::new(),
            edits_overflow: true,
            prefix_overflow: true,
        }
    }
}

/// A word's Levenshtein automaton: each edit (a letter added, removed or changed, or two side
/// by side swapped) counts one. `None` for a word allowed no edits.
pub(super) fn automaton(word: &str, distance: u8) -> Option<DFA> {
    static BUILDERS: [OnceLock<LevenshteinAutomatonBuilder>; 2] =
        [OnceLock::new(), OnceLock::new()];
    let builder = BUILDERS
        .get(usize::from(distance).checked_sub(1)?)?
        .get_or_init(|| LevenshteinAutomatonBuilder::new(distance, true));
    Some(builder.build_dfa(word))
}

pub(super) struct Within<'a>(pub(super) &'a DFA);

impl Automaton for Within<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// The terms of `field` that `word` reaches through `edits` (its automaton, when it may have
/// edits) and, when `prefix`, by starting them.
pub(super) fn reached(
    searcher: &Searcher,
    field: Field,
    word: &str,
    edits: Option<&DFA>,
    prefix: bool,
) -> tantivy::Result<Reached> {
    // Each kind's terms, over all segments (most segments hold the same terms).
    let (mut near, mut started) = (BTreeSet::new(), BTreeSet::new());
    let (mut edits_overflow, mut prefix_overflow) = (false, false);
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let terms = inverted.terms();
        if let (Some(dfa), false) = (edits, edits_overflow) {
            let mut stream = terms.search(Within(dfa)).into_stream()?;
            while stream.advance() && !edits_overflow {
                keep(stream.key(), word, &mut near);
                edits_overflow = near.len() > MAX_TERMS;
            }
        }
        if prefix && !prefix_overflow {
            let mut stream = terms.range().ge(word.as_bytes()).into_stream()?;
            while stream.advance() && stream.key().starts_with(word.as_bytes()) && !prefix_overflow
            {
                keep(stream.key(), word, &mut started);
                prefix_overflow = started.len() > MAX_TERMS;
            }
        }
    }
    // A kind that overflowed is matched as one set: only the other kind's terms are listed,
    // a term both reach counting as the start of a word.
    let mut terms = BTreeMap::new();
    if !edits_overflow {
        terms.extend(near.into_iter().map(|t| (t, Way::Edits)));
    }
    if !prefix_overflow {
        terms.extend(started.into_iter().map(|t| (t, Way::Prefix)));
    }
    Ok(Reached {
        terms,
        edits_overflow,
        prefix_overflow,
    })
}

/// Keeps a term of the dictionary other than the word itself.
fn keep(key: &[u8], word: &str, into: &mut BTreeSet<String>) {
    if key != word.as_bytes()
        && let Ok(term) = std::str::from_utf8(key)
    {
        into.insert(term.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kazna_contracts::catalog::ProductStatus;

    use super::super::{
        Filters, Op, Sort,
        tests::{product, shop},
    };

    #[test]
    fn a_prefix_that_starts_very_many_terms_finds_every_product_across_segments() {
        let (_dir, index) = shop();
        // Two commits, two segments: each holds 40 of the 80 terms the prefix starts.
        for batch in [0..40, 40..80] {
            let quills: Vec<Op> = batch
                .map(|i| product(&format!("Quill q{i}x"), "", ProductStatus::Active))
                .collect();
            index.apply(&quills).unwrap();
        }
        let found = |q: &str| {
            index
                .search(q, &Filters::default(), Sort::Relevance, 0, 100)
                .unwrap()
                .1
        };
        assert_eq!(found("q"), 80, "more terms than are listed one by one");
        assert_eq!(found("q7"), 11, "q7x and q70x to q79x");
        assert_eq!(found("qill"), 80, "a typo of quill, in both segments");
    }
}
