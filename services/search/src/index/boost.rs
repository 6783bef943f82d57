//! What lifts a match above equally good ones: popularity (units sold, recent sales counting
//! most) and recency (products added lately).
//!
//! A sale of `n` units at time `t` adds `n × 2^((t − EPOCH) / half-life)` to a product's
//! popularity, so every value in the index decays at the same rate and none needs rewriting:
//! today's popularity is the stored value times `2^(−(now − EPOCH) / half-life)`. Recency is
//! stored the same way (see [`newness`]), so a search multiplies, and takes no exponential
//! per match.

use chrono::{DateTime, Utc};
use tantivy::{
    DocId, Score, SegmentReader, collector::ScoreSegmentTweaker, collector::ScoreTweaker,
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

/// Multiplies each match's relevance by its lift at the time of the search.
#[derive(Clone, Copy)]
pub(super) struct Boost {
    /// What a stored popularity is multiplied by to be today's.
    decay: f64,
    /// What a stored newness is multiplied by to be `2^(−age / 30 days)`.
    aging: f64,
}

impl Boost {
    pub(super) fn now() -> Self {
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

pub(super) struct SegmentBoost {
    boost: Boost,
    popularity: Option<std::sync::Arc<dyn tantivy::columnar::ColumnValues<f64>>>,
    newness: Option<std::sync::Arc<dyn tantivy::columnar::ColumnValues<f64>>>,
}

impl ScoreTweaker<Score> for Boost {
    type Child = SegmentBoost;

    fn segment_tweaker(&self, segment: &SegmentReader) -> tantivy::Result<SegmentBoost> {
        let fast = segment.fast_fields();
        Ok(SegmentBoost {
            boost: *self,
            popularity: fast
                .f64("popularity")
                .ok()
                .map(|c| c.first_or_default_col(0.0)),
            newness: fast
                .f64("newness")
                .ok()
                .map(|c| c.first_or_default_col(0.0)),
        })
    }
}

impl ScoreSegmentTweaker<Score> for SegmentBoost {
    fn score(&mut self, doc: DocId, score: Score) -> Score {
        let popularity = self.popularity.as_ref().map_or(0.0, |c| c.get_val(doc));
        let newness = self.newness.as_ref().map_or(0.0, |c| c.get_val(doc));
        (f64::from(score) * self.boost.lift(popularity, newness)) as Score
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
