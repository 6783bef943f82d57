//! How the index ranks: the words query against the boolean query of its parts, relevance
//! pages across segments, and merging segments.

#![allow(clippy::unwrap_used)]

use chrono::Utc;
use kazna_contracts::catalog::ProductStatus;
use tantivy::{
    DocAddress,
    collector::{Count, TopDocs},
    query::Query,
};
use uuid::Uuid;

use super::{
    Filters, Hit, Op, SearchIndex, Sold, Sort, query, sale_weight,
    tests::{empty, lamp, priced, product},
};

/// The products of `q` by the words query, and by the boolean query of the same parts (every
/// word a must, each of its parts a should), as (address, score) in address order.
fn both_ways(index: &SearchIndex, q: &str) -> [Vec<(DocAddress, f32)>; 2] {
    use tantivy::query::{BooleanQuery, Occur};
    let searcher = index.reader.searcher();
    let words = index.words(q);
    let fields = index.text_fields();
    let boolean = BooleanQuery::new(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let parts = index
                    .parts(&searcher, w, i + 1 == words.len(), &fields)
                    .into_iter()
                    .map(|p| (Occur::Should, query::part_query(p)))
                    .collect();
                let word: Box<dyn Query> = Box::new(BooleanQuery::new(parts));
                (Occur::Must, word)
            })
            .collect(),
    );
    let words_query = query::Text::Words(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| index.parts(&searcher, w, i + 1 == words.len(), &fields))
            .collect(),
    );
    let words_query = index.query(words_query, &Filters::default());
    let found = |q: &dyn Query| {
        let mut all: Vec<(DocAddress, f32)> = searcher
            .search(q, &TopDocs::with_limit(1000))
            .unwrap()
            .into_iter()
            .map(|(score, addr)| (addr, score))
            .collect();
        all.sort_by_key(|(addr, _)| *addr);
        // Counted without scores, the same products.
        assert_eq!(searcher.search(q, &Count).unwrap(), all.len(), "{q:?}");
        all
    };
    [found(&words_query), found(&boolean)]
}

#[test]
fn the_words_query_finds_and_scores_what_the_boolean_query_of_its_parts_does() {
    let (_dir, index) = empty();
    let quills: Vec<Op> = (0..80)
        .map(|i| {
            product(
                &format!("Quill q{i}x"),
                "A pen for writing",
                ProductStatus::Active,
            )
        })
        .collect();
    let gone = Uuid::now_v7();
    // Three commits, three segments; the last hides a product of the first.
    index.apply(&quills[..40]).unwrap();
    index
        .apply(
            &[
                quills[40..].to_vec(),
                vec![lamp(gone, ProductStatus::Active, 1_000)],
            ]
            .concat(),
        )
        .unwrap();
    index
        .apply(&[
            product(
                "Brass lantern",
                "A lantern for the porch",
                ProductStatus::Active,
            ),
            product(
                "Lantern quill",
                "Writes by lamp light",
                ProductStatus::Active,
            ),
            product("Lamp", "A reading lamp", ProductStatus::Active),
            lamp(gone, ProductStatus::Hidden, 2_000),
        ])
        .unwrap();
    assert!(index.index.searchable_segment_ids().unwrap().len() >= 2);
    for q in [
        "quill",
        "q",
        "q7",
        "qill",
        "lantern quill",
        "quill lantern",
        "lamp",
        "brass lamp",
        "lanturn porch",
        "pen writing",
        "writing pen q1",
        "zzz",
        "lamp zzz",
    ] {
        let [words, boolean] = both_ways(&index, q);
        assert_eq!(
            words.len(),
            boolean.len(),
            "{q}: {words:?} against {boolean:?}"
        );
        for ((a, x), (b, y)) in words.iter().zip(&boolean) {
            assert_eq!(a, b, "{q}");
            assert!(
                (x - y).abs() <= 1e-4 * y.abs().max(1.0),
                "{q}: {x} against {y}"
            );
        }
    }
    assert_eq!(
        both_ways(&index, "q")[0].len(),
        81,
        "a prefix of very many terms: 80 quills and the lantern quill"
    );
    assert_eq!(
        both_ways(&index, "lamp")[0].len(),
        2,
        "the hidden lamp is gone"
    );
}

#[test]
fn relevance_pages_follow_on_across_segments_and_merging_them_changes_no_answer() {
    let (_dir, index) = empty();
    // 30 equal lamps over three segments, some selling, some newer.
    for batch in 0..3 {
        let lamps: Vec<Op> = (0..10)
            .map(|i| {
                priced(
                    "Brass lamp",
                    &[(100, 1)],
                    1_000 + (batch * 10 + i) * 86_400_000,
                )
            })
            .collect();
        let sold: Vec<Op> = lamps
            .iter()
            .step_by(3)
            .map(|op| {
                let Op::Upsert(p) = op else { unreachable!() };
                Op::Sold(Sold {
                    product_id: p.id,
                    popularity: sale_weight(1 + batch, Utc::now()),
                })
            })
            .collect();
        index.apply(&[lamps, sold].concat()).unwrap();
    }
    let all = Filters::default();
    let ids = |hits: &[Hit]| hits.iter().map(|h| h.product_id).collect::<Vec<_>>();
    let one = index.page("lamp", &all, Sort::Relevance, None, 30).unwrap();
    assert_eq!((one.hits.len(), one.total), (30, 30));
    for pair in one.hits.windows(2) {
        assert!(pair[0].score >= pair[1].score, "best first: {:?}", one.hits);
    }
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .page("lamp", &all, Sort::Relevance, cursor, 7)
            .unwrap();
        paged.extend(ids(&page.hits));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, ids(&one.hits), "pages of 7 are the page of 30, cut");
    assert!(index.index.searchable_segment_ids().unwrap().len() >= 2);
    index.compact().unwrap();
    assert_eq!(index.index.searchable_segment_ids().unwrap().len(), 1);
    let merged = index.page("lamp", &all, Sort::Relevance, None, 30).unwrap();
    let order = |hits: &[Hit]| {
        hits.iter()
            .map(|h| (h.product_id, (h.score * 1e4).round() as i64))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        order(&merged.hits),
        order(&one.hits),
        "the same scores, one segment"
    );
    assert_eq!(
        ids(&index
            .page("lamp", &all, Sort::Relevance, None, 30)
            .unwrap()
            .hits),
        ids(&merged.hits),
        "a second search finds the same order"
    );
}

#[test]
fn an_index_of_many_commits_is_merged_into_one_segment() {
    let (_dir, index) = empty();
    // Enough commits for tantivy's merge policy to merge some of them too.
    for batch in 0..30 {
        let lamps: Vec<Op> = (0..3)
            .map(|i| product(&format!("Lamp l{batch}x{i}"), "", ProductStatus::Active))
            .collect();
        index.apply(&lamps).unwrap();
    }
    index.compact().unwrap();
    assert_eq!(index.index.searchable_segment_ids().unwrap().len(), 1);
    let (hits, total) = index
        .search("lamp", &Filters::default(), Sort::Relevance, 0, 100)
        .unwrap();
    assert_eq!((hits.len(), total), (90, 90));
    assert_eq!(index.live_count().unwrap(), 90);
}
