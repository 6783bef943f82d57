//! Which terms of the index a shopper's word reaches: itself, the terms within its edits, and
//! (for the last word, which the shopper may still be typing) the terms it starts.
//!
//! The terms are read from the dictionaries of the searcher's segments, so that each can be
//! searched as a term of its own: read once, scored by how rare it is, and left out when the
//! index has no such term, which is so for most words (a word seldom has a neighbour within
//! its edits). A word that reaches very many terms, such as a prefix of one or two letters,
//! is left to a query that matches them all as one set instead.

use std::{collections::BTreeMap, sync::OnceLock};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::{Searcher, schema::Field};
use tantivy_fst::Automaton;

/// The most terms a word's edits, or its prefix, may reach and still be searched one by one.
const MAX_TERMS: usize = 64;

/// How a term was reached: the order is how much it counts, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

struct Within<'a>(&'a DFA);

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
    let mut out = Reached {
        terms: BTreeMap::new(),
        edits_overflow: false,
        prefix_overflow: false,
    };
    let keep = |key: &[u8], way: Way, out: &mut BTreeMap<String, Way>| {
        if key == word.as_bytes() {
            return;
        }
        if let Ok(term) = std::str::from_utf8(key) {
            let at = out.entry(term.to_owned()).or_insert(way);
            *at = (*at).max(way);
        }
    };
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let terms = inverted.terms();
        if let (Some(dfa), false) = (edits, out.edits_overflow) {
            let mut stream = terms.search(Within(dfa)).into_stream()?;
            let mut n = 0;
            while stream.advance() {
                n += 1;
                if n > MAX_TERMS {
                    out.edits_overflow = true;
                    break;
                }
                keep(stream.key(), Way::Edits, &mut out.terms);
            }
        }
        if prefix && !out.prefix_overflow {
            let mut stream = terms.range().ge(word.as_bytes()).into_stream()?;
            let mut n = 0;
            while stream.advance() && stream.key().starts_with(word.as_bytes()) {
                n += 1;
                if n > MAX_TERMS {
                    out.prefix_overflow = true;
                    break;
                }
                keep(stream.key(), Way::Prefix, &mut out.terms);
            }
        }
    }
    // A kind that overflowed is matched as one set: only the other kind's terms are listed.
    let (edits_overflow, prefix_overflow) = (out.edits_overflow, out.prefix_overflow);
    out.terms.retain(|_, way| match way {
        Way::Edits => !edits_overflow,
        Way::Prefix => !prefix_overflow,
    });
    Ok(out)
}
