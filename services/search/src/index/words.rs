//! A search's words as one query: the products that every word reaches.
//!
//! Each word may be found in several fields and through several terms (itself, its near
//! misses, the words it starts; see [`super::reach`]). Read as a boolean query, that is an
//! intersection of unions, which walks every union in step and, for a shopper's common words
//! (each in thousands of products), costs more than the matches it finds. Here each word's
//! terms are first read into one bit per product of the segment, the words' bits are
//! intersected, and only the products left are scored, each term's postings moved forward to
//! them. A word no product has empties the set before anything is scored, which keeps the
//! retries of a search without matches (see [`super::SearchIndex::matches`]) cheap.
//!
//! A product's score is what the boolean query gave: for each term that reaches it, BM25
//! times the term's boost for the word itself, the boost alone for the rest.

use std::{fmt, sync::Arc};

use levenshtein_automata::DFA;
use tantivy::{
    DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TERMINATED, TantivyError, Term,
    fieldnorm::FieldNormReader,
    postings::{Postings, SegmentPostings},
    query::{Bm25Weight, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight},
    schema::{Field, IndexRecordOption},
    termdict::TermStreamer,
};
use tantivy_fst::Automaton;

use super::{
    bits::{Bits, BitsDocSet},
    narrow::Narrowed,
    reach::Within,
};

/// One way a word reaches products in one field.
#[derive(Clone)]
pub(super) enum Part {
    /// The word itself: BM25 times `boost`.
    Exact { term: Term, boost: f32 },
    /// A term the word reaches (a near miss, or a word it starts): `boost` alone.
    Near { term: Term, boost: f32 },
    /// Every term within the word's edits, too many to list: `boost` alone.
    EveryNear {
        /// The word, in its field.
        term: Term,
        distance: u8,
        dfa: Arc<DFA>,
        boost: f32,
    },
    /// Every term the word starts, too many to list: `boost` alone.
    EveryStarted {
        field: Field,
        prefix: String,
        boost: f32,
    },
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Exact { term, boost } => write!(f, "Exact({term:?}^{boost})"),
            Part::Near { term, boost } => write!(f, "Near({term:?}^{boost})"),
            Part::EveryNear {
                term,
                distance,
                boost,
                ..
            } => write!(f, "EveryNear({term:?}~{distance}^{boost})"),
            Part::EveryStarted {
                field,
                prefix,
                boost,
            } => write!(f, "EveryStarted({field:?}:{prefix}^{boost})"),
        }
    }
}

/// A term in more than one product in this many of a segment is common: its set of products
/// is kept between searches (see [`super::segments`]) rather than read from its postings.
const COMMON: u64 = 16;

/// The products that each of the words reaches, each word through any of its parts, and
/// that the filters let through. With no words, every product the filters let through,
/// each scoring 1 (before its lift).
#[derive(Clone, Debug)]
pub(super) struct AllWords {
    words: Arc<Vec<Vec<Part>>>,
    /// The filters, and where the sets of filters and of common terms are kept.
    narrowed: Narrowed,
}

impl AllWords {
    pub(super) fn new(words: Vec<Vec<Part>>, narrowed: Narrowed) -> Self {
        Self {
            words: Arc::new(words),
            narrowed,
        }
    }
}

impl Query for AllWords {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let mut bm25 = Vec::new();
        if let EnableScoring::Enabled {
            statistics_provider,
            ..
        } = scoring
        {
            for part in self.words.iter().flatten() {
                bm25.push(match part {
                    Part::Exact { term, boost } => Some(
                        Bm25Weight::for_terms(statistics_provider, std::slice::from_ref(term))?
                            .boost_by(*boost),
                    ),
                    _ => None,
                });
            }
        }
        Ok(Box::new(AllWordsWeight {
            words: self.words.clone(),
            narrowed: self.narrowed.clone(),
            bm25,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for part in self.words.iter().flatten() {
            if let Part::Exact { term, .. } | Part::Near { term, .. } = part {
                visitor(term, false);
            }
        }
    }
}

struct AllWordsWeight {
    words: Arc<Vec<Vec<Part>>>,
    narrowed: Narrowed,
    /// Each part's BM25, in the order of the parts; empty when nothing is scored.
    bm25: Vec<Option<Bm25Weight>>,
}

impl AllWordsWeight {
    /// One word: its parts' postings walked side by side, each product scored as it is
    /// reached, with no set to build first.
    fn one_word(
        &self,
        reader: &SegmentReader,
        parts: &[Part],
        boost: Score,
    ) -> tantivy::Result<OneWordScorer> {
        let scoring = !self.bm25.is_empty();
        let mut scorer = OneWordScorer {
            postings: Vec::new(),
            sets: Vec::new(),
            doc: TERMINATED,
            boost,
        };
        for (i, part) in parts.iter().enumerate() {
            match part {
                Part::Exact { term, .. } | Part::Near { term, .. } => {
                    let inverted = reader.inverted_index(term.field())?;
                    let Some(info) = inverted.get_term_info(term)? else {
                        continue;
                    };
                    let bm25 = match (part, self.bm25.get(i)) {
                        (Part::Exact { .. }, Some(Some(bm25))) => {
                            Some((bm25.clone(), reader.get_fieldnorms_reader(term.field())?))
                        }
                        _ => None,
                    };
                    let option = match bm25 {
                        Some(_) => IndexRecordOption::WithFreqs,
                        None => IndexRecordOption::Basic,
                    };
                    let boost = match part {
                        Part::Near { boost, .. } if scoring => *boost,
                        _ => 0.0,
                    };
                    let postings = inverted.read_postings_from_terminfo(&info, option)?;
                    scorer.postings.push((postings, bm25, boost));
                }
                Part::EveryNear { boost, .. } | Part::EveryStarted { boost, .. } => {
                    if let Some(set) = many(reader, part)? {
                        scorer.sets.push((BitsDocSet::new(set), *boost));
                    }
                }
            }
        }
        scorer.doc = scorer.lowest();
        Ok(scorer)
    }
}

impl Weight for AllWordsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let Narrowed {
            narrowing,
            segments,
        } = &self.narrowed;
        // One word, unfiltered: nothing to intersect.
        if let ([word], true) = (self.words.as_slice(), narrowing.is_empty()) {
            return Ok(Box::new(self.one_word(reader, word, boost)?));
        }
        let max_doc = reader.max_doc();
        let mut found: Option<Bits> = None;
        // The sets of the parts that stand for many terms, kept to score with.
        let mut sets: Vec<Option<Bits>> = Vec::new();
        for word in self.words.iter() {
            let mut reached = Bits::new(max_doc);
            for part in word {
                let set = many(reader, part)?;
                match (&set, part) {
                    (Some(set), _) => reached.or(set),
                    (None, Part::Exact { term, .. } | Part::Near { term, .. }) => {
                        let inverted = reader.inverted_index(term.field())?;
                        match inverted.get_term_info(term)? {
                            // A common term's set is kept: ORed in a word of 64 at a time.
                            Some(info)
                                if u64::from(info.doc_freq) * COMMON > u64::from(max_doc) =>
                            {
                                reached.or(&*segments.with_term(reader, term)?);
                            }
                            Some(info) => reached.add(&inverted, &info)?,
                            None => {}
                        }
                    }
                    (None, _) => {}
                }
                sets.push(set);
            }
            match found.as_mut() {
                None => found = Some(reached),
                Some(all) => all.and(&reached),
            }
            if found.as_ref().is_some_and(Bits::is_empty) {
                return Ok(Box::new(EmptyScorer));
            }
        }
        let found = match found {
            Some(mut found) => {
                narrowing.narrow(segments, reader, &mut found)?;
                found
            }
            None => narrowing.all(segments, reader)?,
        };
        if found.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        let mut scorer = AllWordsScorer {
            docs: BitsDocSet::new(found),
            bm25: Vec::new(),
            near: Vec::new(),
            sets: Vec::new(),
            // Browsing: each product the same.
            base: if self.words.is_empty() { 1.0 } else { 0.0 },
            boost,
        };
        if self.bm25.is_empty() {
            return Ok(Box::new(scorer));
        }
        for ((part, bm25), set) in self.words.iter().flatten().zip(&self.bm25).zip(sets) {
            match (part, bm25, set) {
                (Part::Exact { term, .. }, Some(bm25), _) => {
                    let inverted = reader.inverted_index(term.field())?;
                    if let Some(info) = inverted.get_term_info(term)? {
                        let postings = inverted
                            .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
                        let norms = reader.get_fieldnorms_reader(term.field())?;
                        scorer.bm25.push((postings, bm25.clone(), norms));
                    }
                }
                (Part::Near { term, boost }, _, _) => {
                    let inverted = reader.inverted_index(term.field())?;
                    if let Some(info) = inverted.get_term_info(term)? {
                        let postings = inverted
                            .read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
                        scorer.near.push((postings, *boost));
                    }
                }
                (
                    Part::EveryNear { boost, .. } | Part::EveryStarted { boost, .. },
                    _,
                    Some(set),
                ) => {
                    scorer.sets.push((set, *boost));
                }
                _ => {}
            }
        }
        Ok(Box::new(scorer))
    }
    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("every word", scorer.score()))
    }
}

/// The products of every term a part stands for when they are too many to list; `None` for
/// a part of one term.
fn many(reader: &SegmentReader, part: &Part) -> tantivy::Result<Option<Bits>> {
    let max_doc = reader.max_doc();
    match part {
        Part::Exact { .. } | Part::Near { .. } => Ok(None),
        Part::EveryNear { term, dfa, .. } => {
            let inverted = reader.inverted_index(term.field())?;
            let terms = inverted
                .terms()
                .search(Within(dfa.as_ref()))
                .into_stream()?;
            every(&inverted, max_doc, terms).map(Some)
        }
        Part::EveryStarted { field, prefix, .. } => {
            let inverted = reader.inverted_index(*field)?;
            let range = inverted.terms().range().ge(prefix.as_bytes());
            let terms = match prefix_end(prefix.as_bytes()) {
                Some(end) => range.lt(end).into_stream()?,
                None => range.into_stream()?,
            };
            every(&inverted, max_doc, terms).map(Some)
        }
    }
}

/// The products of every term that `terms` gives.
fn every<A: Automaton>(
    inverted: &InvertedIndexReader,
    max_doc: u32,
    mut terms: TermStreamer<'_, A>,
) -> tantivy::Result<Bits>
where
    A::State: Clone,
{
    let mut set = Bits::new(max_doc);
    while terms.advance() {
        set.add(inverted, terms.value())?;
    }
    Ok(set)
}

/// The first key after every key that starts with `prefix`, when there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

struct AllWordsScorer {
    docs: BitsDocSet,
    /// The words themselves, scored by BM25.
    bm25: Vec<(SegmentPostings, Bm25Weight, FieldNormReader)>,
    /// The terms they reach, each counting its boost.
    near: Vec<(SegmentPostings, f32)>,
    /// The sets of terms too many to list, each counting its boost.
    sets: Vec<(Bits, f32)>,
    /// What every product scores before its terms.
    base: Score,
    boost: Score,
}

impl DocSet for AllWordsScorer {
    fn advance(&mut self) -> DocId {
        self.docs.advance()
    }
    fn seek(&mut self, target: DocId) -> DocId {
        self.docs.seek(target)
    }
    fn doc(&self) -> DocId {
        self.docs.doc()
    }
    fn size_hint(&self) -> u32 {
        self.docs.size_hint()
    }
}

impl Scorer for AllWordsScorer {
    fn score(&mut self) -> Score {
        let doc = self.docs.doc();
        let mut total = self.base;
        for (postings, bm25, norms) in &mut self.bm25 {
            if at(postings, doc) {
                total += bm25.score(norms.fieldnorm_id(doc), postings.term_freq());
            }
        }
        for (postings, boost) in &mut self.near {
            if at(postings, doc) {
                total += *boost;
            }
        }
        for (set, boost) in &self.sets {
            if set.contains(doc) {
                total += *boost;
            }
        }
        total * self.boost
    }
}

/// A term's BM25, with the lengths of its field.
type Bm25 = (Bm25Weight, FieldNormReader);

/// The products of one word's parts, in order: each part's postings (scored by BM25, or
/// counting their boost) and sets, walked side by side.
struct OneWordScorer {
    postings: Vec<(SegmentPostings, Option<Bm25>, f32)>,
    sets: Vec<(BitsDocSet, f32)>,
    doc: DocId,
    boost: Score,
}

impl OneWordScorer {
    /// The lowest document any part is at.
    fn lowest(&self) -> DocId {
        let postings = self.postings.iter().map(|(p, _, _)| p.doc());
        let sets = self.sets.iter().map(|(s, _)| s.doc());
        postings.chain(sets).min().unwrap_or(TERMINATED)
    }
}

impl DocSet for OneWordScorer {
    fn advance(&mut self) -> DocId {
        let doc = self.doc;
        if doc == TERMINATED {
            return doc;
        }
        // Each part at the document moves on; the lowest of all is the next, in one pass.
        let mut next = TERMINATED;
        for (postings, _, _) in &mut self.postings {
            let at = match postings.doc() {
                d if d == doc => postings.advance(),
                d => d,
            };
            next = next.min(at);
        }
        for (set, _) in &mut self.sets {
            let at = match set.doc() {
                d if d == doc => set.advance(),
                d => d,
            };
            next = next.min(at);
        }
        self.doc = next;
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc == TERMINATED || target <= self.doc {
            return self.doc;
        }
        for (postings, _, _) in &mut self.postings {
            if postings.doc() < target {
                postings.seek(target);
            }
        }
        for (set, _) in &mut self.sets {
            set.seek(target);
        }
        self.doc = self.lowest();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        let postings = self.postings.iter().map(|(p, _, _)| p.size_hint());
        let sets = self.sets.iter().map(|(s, _)| s.size_hint());
        postings.chain(sets).max().unwrap_or(0)
    }
}

impl Scorer for OneWordScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        let mut total = 0.0;
        for (postings, bm25, boost) in &self.postings {
            if postings.doc() == doc {
                total += match bm25 {
                    Some((bm25, norms)) => {
                        bm25.score(norms.fieldnorm_id(doc), postings.term_freq())
                    }
                    None => *boost,
                };
            }
        }
        for (set, boost) in &self.sets {
            if set.doc() == doc {
                total += *boost;
            }
        }
        total * self.boost
    }
}

/// Whether `postings` hold `doc`, moving them forward to it; docs are asked in order. Most
/// products that match hold most of the word's terms, so the next one is tried before
/// skipping ahead.
fn at(postings: &mut SegmentPostings, doc: DocId) -> bool {
    if postings.doc() < doc && postings.advance() < doc {
        postings.seek(doc);
    }
    postings.doc() == doc
}
