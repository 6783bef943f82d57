//! What lifts a match above equally good ones: popularity (units sold, recent sales counting
//! most) and recency (products added lately).
//!
//! A sale of `n` units at time `t` adds `n × 2^((t − EPOCH) / half-life)` to a product's
//! popularity, so every value in the index decays at the same rate and none needs rewriting:
//! today's popularity is the stored value times `2^(−(now − EPOCH) / half-life)`. Recency is
//! stored the same way (see [`newness`]), so a search multiplies, and takes no exponential
//! per match.

use std::{
    collections::{BinaryHeap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use tantivy::{
    DocAddress, DocId, Score, SegmentOrdinal, SegmentReader,
    collector::{Collector, SegmentCollector},
    index::SegmentId,
};

/// After this many days a sale counts half as much.
pub const HALF_LIFE_DAYS: f64 = 14.0;
/// How much more a product added today counts than an old one, at most.
const RECENCY: f64 = 0.2;
/// A product's recency lift halves every this many days.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;
/// How much each doubling of recent units sold lifts a match.
const POPULARITY: f64 = 0.1;

/// 2026-01-01T00:00:00Z, in milliseconds.
const EPOCH_MS: i64 = 1_767_225_600_000;
const DAY_MS: f64 = 86_400_000.0;

/// What `units` sold at `at` add to a product's stored popularity.
pub fn sale_weight(units: i64, at: DateTime<Utc>) -> f64 {
    let days = (at.timestamp_millis() - EPOCH_MS) as f64 / DAY_MS;
    units.max(0) as f64 * (days / HALF_LIFE_DAYS).exp2()
}

/// What a product created at `created` stores for its recency: `2^((created − EPOCH) / 30
/// days)`; times `2^(−(now − EPOCH) / 30 days)` it is `2^(−age / 30 days)`.
pub(super) fn newness(created: DateTime<Utc>) -> f64 {
    let days = (created.timestamp_millis() - EPOCH_MS) as f64 / DAY_MS;
    (days / RECENCY_HALF_LIFE_DAYS).exp2()
}

/// The lift of a match: `(1 + POPULARITY × log2(1 + units sold lately)) × (1 + RECENCY ×
/// 2^(−age / 30 days))`.
#[cfg(test)]
pub(super) fn lift(stored_popularity: f64, created_ms: i64, now_ms: i64) -> f64 {
    let created = DateTime::from_timestamp_millis(created_ms).unwrap_or_default();
    Boost::at(now_ms).lift(stored_popularity, newness(created))
}

/// A match's lift at one time.
#[derive(Clone, Copy)]
struct Boost {
    /// What a stored popularity is multiplied by to be today's.
    decay: f64,
    /// What a stored newness is multiplied by to be `2^(−age / 30 days)`.
    aging: f64,
}

impl Boost {
    fn now() -> Self {
        Self::at(Utc::now().timestamp_millis())
    }

    fn at(now_ms: i64) -> Self {
        let now_days = (now_ms - EPOCH_MS) as f64 / DAY_MS;
        Self {
            decay: (-now_days / HALF_LIFE_DAYS).exp2(),
            aging: (-now_days / RECENCY_HALF_LIFE_DAYS).exp2(),
        }
    }

    /// `(1 + POPULARITY × log2(1 + units sold lately)) × (1 + RECENCY × 2^(−age / 30 days))`.
    fn lift(&self, stored_popularity: f64, newness: f64) -> f64 {
        let lately = stored_popularity.max(0.0) * self.decay;
        // Most products sold nothing lately: no logarithm to take.
        let popular = match lately > 0.0 {
            true => 1.0 + POPULARITY * (1.0 + lately).log2(),
            false => 1.0,
        };
        // A product from the future (a clock ahead) counts as new, not newer.
        popular * (1.0 + RECENCY * (newness * self.aging).min(1.0))
    }
}

/// Each product's lift, per segment of the index, computed at most [`LIFTS_FOR`] ago: in that
/// time a lift changes by less than one part in ten thousand, and a search multiplies by it
/// instead of reading two columns and taking a logarithm per match.
#[derive(Default)]
pub(super) struct Lifts {
    kept: Mutex<HashMap<SegmentId, Computed>>,
}

/// A segment's lifts, and when they were computed.
type Computed = (Instant, Arc<[f32]>);

/// How long a segment's lifts are used.
const LIFTS_FOR: Duration = Duration::from_secs(60);

impl Lifts {
    /// The lifts of `segment`'s documents, by document id.
    fn of(&self, segment: &SegmentReader) -> Arc<[f32]> {
        let id = segment.segment_id();
        if let Ok(kept) = self.kept.lock()
            && let Some((at, lifts)) = kept.get(&id)
            && at.elapsed() < LIFTS_FOR
        {
            return lifts.clone();
        }
        let lifts = Self::compute(segment);
        if let Ok(mut kept) = self.kept.lock() {
            // Segments merged away, or not searched for a while, go.
            kept.retain(|_, (at, _)| at.elapsed() < LIFTS_FOR);
            kept.insert(id, (Instant::now(), lifts.clone()));
        }
        lifts
    }

    fn compute(segment: &SegmentReader) -> Arc<[f32]> {
        let boost = Boost::now();
        let fast = segment.fast_fields();
        let column = |name: &str| fast.f64(name).ok().map(|c| c.first_or_default_col(0.0));
        let (popularity, newness) = (column("popularity"), column("newness"));
        (0..segment.max_doc())
            .map(|doc| {
                let p = popularity.as_ref().map_or(0.0, |c| c.get_val(doc));
                let n = newness.as_ref().map_or(0.0, |c| c.get_val(doc));
                boost.lift(p, n) as f32
            })
            .collect()
    }
}

/// The best matches by relevance times lift, from `offset`: ties go to the earlier document,
/// as tantivy's own top-docs collector does.
pub(super) struct Relevant<'a> {
    pub lifts: &'a Lifts,
    pub offset: usize,
    pub limit: usize,
}

type Ranked = (Score, DocAddress);

/// Orders the best first: higher score, then lower address.
fn best_first(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

impl Collector for Relevant<'_> {
    type Fruit = Vec<Ranked>;
    type Child = RelevantSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<RelevantSegment> {
        Ok(RelevantSegment {
            ord,
            lifts: self.lifts.of(segment),
            keep: self.offset + self.limit,
            heap: BinaryHeap::new(),
            floor: f32::NEG_INFINITY,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Ranked>>) -> tantivy::Result<Vec<Ranked>> {
        let mut all: Vec<Ranked> = fruits.into_iter().flatten().collect();
        all.sort_unstable_by(best_first);
        Ok(all.into_iter().skip(self.offset).take(self.limit).collect())
    }
}

/// A match in the heap: the worst of those kept on top.
struct Kept(Score, DocId);

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    /// The worse is the greater: a lower score, or a later document.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

pub(super) struct RelevantSegment {
    ord: SegmentOrdinal,
    lifts: Arc<[f32]>,
    keep: usize,
    heap: BinaryHeap<Kept>,
    /// The score a match must beat to be kept, once the heap is full: the worst kept.
    floor: Score,
}

impl SegmentCollector for RelevantSegment {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let lifted = score * self.lifts.get(doc as usize).copied().unwrap_or(1.0);
        // Docs come in order, so a tie never displaces what is kept.
        if lifted <= self.floor {
            return;
        }
        if self.heap.len() < self.keep {
            self.heap.push(Kept(lifted, doc));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            *worst = Kept(lifted, doc);
        }
        if self.heap.len() == self.keep
            && let Some(worst) = self.heap.peek()
        {
            self.floor = worst.0;
        }
    }

    fn harvest(self) -> Vec<Ranked> {
        let ord = self.ord;
        self.heap
            .into_iter()
            .map(|Kept(score, doc)| (score, DocAddress::new(ord, doc)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sale_counts_half_as_much_after_the_half_life_and_new_products_lift_most() {
        let now = EPOCH_MS + 100 * DAY_MS as i64;
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let today = sale_weight(8, at(now));
        let earlier = sale_weight(8, at(now - (HALF_LIFE_DAYS * DAY_MS) as i64));
        assert!((today / earlier - 2.0).abs() < 1e-9);
        // 7 units sold today: log2(8) = 3 doublings.
        let old = now - 3650 * DAY_MS as i64;
        let sold = lift(sale_weight(7, at(now)), old, now);
        assert!((sold - 1.3).abs() < 1e-3, "{sold}");
        assert!((lift(0.0, now, now) - 1.2).abs() < 1e-9);
        assert!(lift(0.0, old, now) < 1.0 + 1e-6);
        assert!(lift(0.0, now, now) > lift(0.0, now - 10 * DAY_MS as i64, now));
    }
}
