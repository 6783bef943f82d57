//! Pages that stay still while the index changes.
//!
//! A cursor names the searcher (the index as it was at one commit) that the first page was
//! read from; the pages after it read the same one, so nothing is seen twice or skipped
//! however the index changes meanwhile. Each hit is then checked against the index as it is
//! now: a product hidden or deleted since is left out, and names and prices are today's.
//! A few searchers are kept, for a few minutes; a cursor whose searcher is gone (or that
//! another instance, or an earlier build of this index, gave) reads the index as it is now
//! from the same position.

use std::time::{Duration, Instant};

use tantivy::Searcher;

use super::{Facets, Filters, Hit, SearchIndex, Sort};
use crate::error::Error;

/// How many searchers are kept for later pages.
const KEPT: usize = 16;
/// How long a searcher is kept after its last use.
const KEEP_FOR: Duration = Duration::from_secs(300);
/// The deepest position a cursor may point at.
pub const MAX_OFFSET: usize = 10_000;

pub(super) struct Pinned {
    generation: u64,
    searcher: Searcher,
    used: Instant,
}

/// Where the next page starts: `{epoch}.{generation}.{offset}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    epoch: u64,
    generation: u64,
    offset: usize,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.epoch, self.generation, self.offset)
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split('.').map(str::parse::<u64>);
        let (Some(Ok(epoch)), Some(Ok(generation)), Some(Ok(offset)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let offset = usize::try_from(offset).map_err(|_| ())?;
        if offset > MAX_OFFSET {
            return Err(());
        }
        Ok(Self {
            epoch,
            generation,
            offset,
        })
    }
}

impl Cursor {
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// One page of a search.
#[derive(Debug, Clone)]
pub struct Page {
    pub hits: Vec<Hit>,
    /// How many products match, in the searcher the pages read.
    pub total: usize,
    pub next: Option<Cursor>,
}

impl SearchIndex {
    /// The page of matches that `cursor` points at (the first without one).
    pub fn page(
        &self,
        q: &str,
        filters: &Filters,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, Error> {
        Ok(self
            .counted_page(q, filters, sort, (cursor, limit), false)?
            .0)
    }

    /// [`Self::page`] with the counts over everything the search finds, from the same pass
    /// over the same searcher.
    pub fn page_with_facets(
        &self,
        q: &str,
        filters: &Filters,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<(Page, Facets), Error> {
        self.counted_page(q, filters, sort, (cursor, limit), true)
    }

    fn counted_page(
        &self,
        q: &str,
        filters: &Filters,
        sort: Sort,
        (cursor, limit): (Option<Cursor>, usize),
        facets: bool,
    ) -> Result<(Page, Facets), Error> {
        let now = self.reader.searcher();
        let offset = cursor.map_or(0, |c| c.offset);
        let kept = cursor
            .filter(|c| c.epoch == self.epoch)
            .and_then(|c| self.pinned_at(c.generation));
        let searcher = kept.unwrap_or_else(|| now.clone());
        let generation = searcher.generation().generation_id();
        let Some(super::Found {
            top,
            total,
            facets: counts,
        }) = self.matches(&searcher, q, filters, sort, (offset, limit), facets)?
        else {
            let nothing = Page {
                hits: Vec::new(),
                total: 0,
                next: None,
            };
            return Ok((nothing, Facets::default()));
        };
        let read = top.len();
        let words = self.words(q);
        let stale = generation != now.generation().generation_id();
        let mut hits = Vec::with_capacity(read);
        for (score, addr) in top {
            let Some(card) = self.card(&searcher, addr)? else {
                continue;
            };
            let card = match stale {
                // As the product is now; gone if it is no longer on sale.
                true => match self.address(&now, card.id)? {
                    Some(addr) => match self.card(&now, addr)? {
                        Some(current) => current,
                        None => continue,
                    },
                    None => continue,
                },
                false => card,
            };
            hits.push(self.hit(card, score, &words));
        }
        let next_offset = offset + read;
        let next = (read == limit && next_offset < total && next_offset <= MAX_OFFSET).then(|| {
            self.pin(generation, &searcher);
            Cursor {
                epoch: self.epoch,
                generation,
                offset: next_offset,
            }
        });
        Ok((Page { hits, total, next }, counts))
    }

    fn pinned_at(&self, generation: u64) -> Option<Searcher> {
        let mut pinned = self.pinned.lock().ok()?;
        let p = pinned.iter_mut().find(|p| p.generation == generation)?;
        p.used = Instant::now();
        Some(p.searcher.clone())
    }

    fn pin(&self, generation: u64, searcher: &Searcher) {
        let Ok(mut pinned) = self.pinned.lock() else {
            return;
        };
        pinned.retain(|p| p.used.elapsed() < KEEP_FOR);
        if let Some(p) = pinned.iter_mut().find(|p| p.generation == generation) {
            p.used = Instant::now();
            return;
        }
        if pinned.len() == KEPT {
            pinned.pop_front();
        }
        pinned.push_back(Pinned {
            generation,
            searcher: searcher.clone(),
            used: Instant::now(),
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use kazna_contracts::catalog::ProductStatus;

    use super::super::{
        Filters, Op, Sort,
        tests::{empty, priced},
    };

    #[test]
    fn pages_neither_repeat_nor_skip_while_products_come_and_go() {
        let (_dir, index) = empty();
        let lamps: Vec<Op> = (0..9)
            .map(|i| priced(&format!("Lamp {i}"), &[(100 * (i + 1), 1)], 1))
            .collect();
        index.apply(&lamps).unwrap();
        let all = Filters::default();
        let first = index.page("lamp", &all, Sort::PriceAsc, None, 3).unwrap();
        let names =
            |p: &super::Page| -> Vec<String> { p.hits.iter().map(|h| h.name.clone()).collect() };
        assert_eq!(names(&first), ["Lamp 0", "Lamp 1", "Lamp 2"]);
        // Meanwhile a cheaper lamp comes, and one of the next page is hidden.
        let Op::Upsert(mut gone) = lamps[4].clone() else {
            unreachable!()
        };
        gone.status = ProductStatus::Hidden;
        gone.updated_at = Utc.timestamp_millis_opt(9_000).unwrap();
        index
            .apply(&[priced("Lamp cheap", &[(1, 1)], 2), Op::Upsert(gone)])
            .unwrap();
        let cursor = first.next.unwrap();
        let second = index
            .page("lamp", &all, Sort::PriceAsc, Some(cursor), 3)
            .unwrap();
        assert_eq!(
            names(&second),
            ["Lamp 3", "Lamp 5"],
            "no repeat, the hidden one left out"
        );
        let third = index
            .page("lamp", &all, Sort::PriceAsc, second.next, 3)
            .unwrap();
        assert_eq!(names(&third), ["Lamp 6", "Lamp 7", "Lamp 8"]);
        assert!(third.next.is_none());
        // The cursor reads as it was written, and a cursor of another build reads the index
        // as it is now, from the same place.
        assert_eq!(cursor.to_string().parse(), Ok(cursor));
        let elsewhere: super::Cursor = format!("7.{}.3", cursor.generation).parse().unwrap();
        let now = index
            .page("lamp", &all, Sort::PriceAsc, Some(elsewhere), 3)
            .unwrap();
        assert_eq!(names(&now), ["Lamp 2", "Lamp 3", "Lamp 5"]);
        for bad in ["", "1.2", "1.2.x", "1.2.3.4", "1.2.10001", "-1.2.3"] {
            assert!(bad.parse::<super::Cursor>().is_err(), "{bad}");
        }
    }
}
