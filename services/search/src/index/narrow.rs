//! What a search's filters leave of a segment.
//!
//! A filter by a term (in stock, a category, an attribute value, a seller) is the set of the
//! segment's documents that hold it, kept between searches (see [`super::segments`]), so a
//! search narrows its matches 64 documents at a time instead of walking each filter's
//! postings beside its words. The price, which takes any bounds, is read per match from the
//! segment's table.

use std::sync::Arc;

use tantivy::{SegmentReader, Term};

use super::{bits::Bits, segments::Segments};

/// The filters of a search: every group must hold, each through any of its terms, and the
/// cheapest price must be within `price` (both bounds included).
#[derive(Clone, Debug, Default)]
pub(super) struct Narrowing {
    pub groups: Vec<Vec<Term>>,
    pub price: Option<(i64, i64)>,
}

impl Narrowing {
    /// Whether the filters leave everything.
    pub(super) fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.price.is_none()
    }

    /// The documents of `segment` in every group, or `None` when there are no groups.
    fn groups(
        &self,
        segments: &Segments,
        segment: &SegmentReader,
    ) -> tantivy::Result<Option<Bits>> {
        let mut all: Option<Bits> = None;
        for group in &self.groups {
            let mut any = Bits::new(segment.max_doc());
            for term in group {
                any.or(&*segments.with_term(segment, term)?);
            }
            match all.as_mut() {
                None => all = Some(any),
                Some(all) => all.and(&any),
            }
        }
        Ok(all)
    }

    /// Leaves in `found` only what the filters let through.
    pub(super) fn narrow(
        &self,
        segments: &Segments,
        segment: &SegmentReader,
        found: &mut Bits,
    ) -> tantivy::Result<()> {
        if let Some(groups) = self.groups(segments, segment)? {
            found.and(&groups);
        }
        self.narrow_price(segments, segment, found)
    }

    /// Everything in `segment` that the filters let through; nothing when there are no
    /// groups to start from.
    pub(super) fn all(
        &self,
        segments: &Segments,
        segment: &SegmentReader,
    ) -> tantivy::Result<Bits> {
        let mut found = self
            .groups(segments, segment)?
            .unwrap_or_else(|| Bits::new(segment.max_doc()));
        self.narrow_price(segments, segment, &mut found)?;
        Ok(found)
    }

    fn narrow_price(
        &self,
        segments: &Segments,
        segment: &SegmentReader,
        found: &mut Bits,
    ) -> tantivy::Result<()> {
        let Some((low, high)) = self.price else {
            return Ok(());
        };
        let table = segments.table(segment)?;
        found.retain(|doc| table.price(doc).is_some_and(|p| low <= p && p <= high));
        Ok(())
    }
}

/// A narrowing, and where the sets it reads are kept, as a query carries them.
#[derive(Clone)]
pub(super) struct Narrowed {
    pub narrowing: Narrowing,
    pub segments: Arc<Segments>,
}

impl std::fmt::Debug for Narrowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.narrowing.fmt(f)
    }
}
