//! What lifts a match above equally good ones: popularity (units sold, recent sales counting
//! most) and recency (products added lately).
//!
//! A sale of `n` units at time `t` adds `n × 2^((t − EPOCH) / half-life)` to a product's
//! popularity, so every value in the index decays at the same rate and none needs rewriting:
//! today's popularity is the stored value times `2^(−(now − EPOCH) / half-life)`.

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

/// The lift of a match: `(1 + POPULARITY × log2(1 + units sold lately)) × (1 + RECENCY ×
/// 2^(−age / 30 days))`.
pub(super) fn lift(stored_popularity: f64, created_ms: i64, now_ms: i64) -> f64 {
    let now_days = (now_ms - EPOCH_MS) as f64 / DAY_MS;
    let lately = stored_popularity.max(0.0) * (-now_days / HALF_LIFE_DAYS).exp2();
    let age_days = ((now_ms - created_ms) as f64 / DAY_MS).max(0.0);
    (1.0 + POPULARITY * (1.0 + lately).log2())
        * (1.0 + RECENCY * (-age_days / RECENCY_HALF_LIFE_DAYS).exp2())
}

/// Multiplies each match's relevance by its [`lift`] at the time of the search.
pub(super) struct Boost {
    now_ms: i64,
}

impl Boost {
    pub(super) fn now() -> Self {
        Self {
            now_ms: Utc::now().timestamp_millis(),
        }
    }
}

pub(super) struct SegmentBoost {
    now_ms: i64,
    popularity: Option<std::sync::Arc<dyn tantivy::columnar::ColumnValues<f64>>>,
    created: Option<std::sync::Arc<dyn tantivy::columnar::ColumnValues<i64>>>,
}

impl ScoreTweaker<Score> for Boost {
    type Child = SegmentBoost;

    fn segment_tweaker(&self, segment: &SegmentReader) -> tantivy::Result<SegmentBoost> {
        let fast = segment.fast_fields();
        Ok(SegmentBoost {
            now_ms: self.now_ms,
            popularity: fast
                .f64("popularity")
                .ok()
                .map(|c| c.first_or_default_col(0.0)),
            created: fast
                .i64("created_at")
                .ok()
                .map(|c| c.first_or_default_col(0)),
        })
    }
}

impl ScoreSegmentTweaker<Score> for SegmentBoost {
    fn score(&mut self, doc: DocId, score: Score) -> Score {
        let popularity = self.popularity.as_ref().map_or(0.0, |c| c.get_val(doc));
        let created = self.created.as_ref().map_or(0, |c| c.get_val(doc));
        (f64::from(score) * lift(popularity, created, self.now_ms)) as Score
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
