#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use kazna_contracts::{
    Currency, Money,
    catalog::{ProductSnapshot, ProductStatus, VariantSnapshot},
};

use super::*;

pub(super) fn lamp(id: Uuid, status: ProductStatus, at_ms: i64) -> Op {
    let at = Utc.timestamp_millis_opt(at_ms).unwrap();
    Op::Upsert(ProductSnapshot {
        id,
        seller_id: Uuid::nil(),
        name: "Brass lamp".into(),
        description: String::new(),
        status,
        category_ids: vec![],
        category_path: vec![],
        category_tree: vec![],
        variants: vec![VariantSnapshot {
            id: Uuid::nil(),
            sku: "L".into(),
            price: Money::new(100, Currency::EUR),
            available: 1,
            options: Default::default(),
            stock_version: 0,
        }],
        attributes: Default::default(),
        images: vec![],
        created_at: at,
        updated_at: at,
    })
}

pub(super) fn product(name: &str, description: &str, status: ProductStatus) -> Op {
    let Op::Upsert(mut p) = lamp(Uuid::now_v7(), status, 1_000) else {
        unreachable!()
    };
    p.name = name.into();
    p.description = description.into();
    Op::Upsert(p)
}

/// The names found for `q`, best first.
pub(super) fn names(index: &SearchIndex, q: &str) -> Vec<String> {
    let (hits, total) = index
        .search(q, &Filters::default(), Sort::Relevance, 0, 50)
        .unwrap();
    assert_eq!(hits.len(), total, "{q}");
    hits.into_iter().map(|h| h.name).collect()
}

/// An empty index in a directory of its own, which goes with the first of the two.
pub(super) fn empty() -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path(), 1).unwrap();
    (dir, index)
}

pub(super) fn shop() -> (tempfile::TempDir, SearchIndex) {
    let (dir, index) = empty();
    index
        .apply(&[
            product(
                "Brass lantern",
                "A lantern for the porch",
                ProductStatus::Active,
            ),
            product(
                "Crystal chandelier",
                "Hangs from the ceiling",
                ProductStatus::Active,
            ),
            product("Lamp", "A reading lamp", ProductStatus::Active),
            product("Lame duck", "A toy", ProductStatus::Active),
            product("Mug", "For tea", ProductStatus::Active),
            product("Secret lamp", "Not on sale", ProductStatus::Hidden),
        ])
        .unwrap();
    (dir, index)
}

#[test]
fn what_a_shopper_types_is_never_query_syntax() {
    let (_dir, index) = shop();
    for q in [
        "*",
        "live:0",
        "name:lamp",
        "\"lamp",
        "lamp AND",
        "(lamp",
        "lamp]",
        "-lamp",
        "lamp^9",
        "a:b:c",
        "~",
        "\\",
        "{}",
        "lamp OR *",
        "+",
        "lamp*",
        "[0 TO 1]",
        "\u{0}",
    ] {
        let found = names(&index, q);
        assert!(
            !found.iter().any(|n| n == "Secret lamp"),
            "{q}: a hidden product: {found:?}"
        );
        for n in &found {
            assert!(!n.is_empty(), "{q}: a tombstone: {found:?}");
        }
    }
    assert!(names(&index, "*").is_empty(), "no words, nothing found");
    assert_eq!(
        names(&index, "live:0").len(),
        0,
        "neither word is in any product"
    );
    let plain = names(&index, "name lamp");
    assert!(!plain.is_empty());
    assert_eq!(
        names(&index, "name:lamp"),
        plain,
        "plain words: name and lamp"
    );
    assert_eq!(names(&index, "lamp AND")[0], "Lamp");
}

#[test]
fn typos_are_tolerated_by_word_length_and_the_last_word_may_be_unfinished() {
    let (_dir, index) = shop();
    let has = |q: &str, name: &str| names(&index, q).iter().any(|n| n == name);
    // 4 to 7 letters: one edit.
    assert!(has("lanturn", "Brass lantern"));
    assert!(
        !has("lonturn", "Brass lantern"),
        "two edits in seven letters"
    );
    // 8 letters and more: two edits.
    assert!(has("chendeliar", "Crystal chandelier"));
    assert!(
        has("chandeleir", "Crystal chandelier"),
        "a transposition is one edit"
    );
    // Up to 3 letters: exact (or the start of a word, when it is the last).
    assert!(has("mug", "Mug"));
    assert!(!has("mgu", "Mug"));
    assert!(
        !has("mog lantern", "Mug"),
        "not the last word: no prefix, no edit"
    );
    // The last word is a prefix.
    assert!(has("chand", "Crystal chandelier"));
    assert!(has("crystal chan", "Crystal chandelier"));
}

#[test]
fn an_exact_match_outranks_a_fuzzy_one_and_the_name_outranks_the_description() {
    let (_dir, index) = shop();
    assert_eq!(
        names(&index, "lamp")[0],
        "Lamp",
        "{:?}",
        names(&index, "lamp")
    );
    assert_eq!(
        names(&index, "lame")[0],
        "Lame duck",
        "{:?}",
        names(&index, "lame")
    );
    let porch = names(&index, "lantern");
    assert_eq!(porch[0], "Brass lantern");
    let tea = names(&index, "tea");
    assert_eq!(tea, ["Mug"], "found by its description");
}

pub(super) fn priced(name: &str, prices: &[(i64, i64)], created_ms: i64) -> Op {
    let Op::Upsert(mut p) = lamp(Uuid::now_v7(), ProductStatus::Active, created_ms) else {
        unreachable!()
    };
    p.name = name.into();
    p.variants = prices
        .iter()
        .map(|(price, available)| VariantSnapshot {
            id: Uuid::now_v7(),
            sku: format!("{name}-{price}"),
            price: Money::new(*price, Currency::EUR),
            available: *available,
            options: Default::default(),
            stock_version: 0,
        })
        .collect();
    Op::Upsert(p)
}

#[test]
fn price_and_stock_filters_are_exact_and_sorts_order_by_price_or_age() {
    let (_dir, index) = empty();
    index
        .apply(&[
            priced("Lamp one", &[(1000, 0), (5000, 3)], 1_000),
            priced("Lamp two", &[(2000, 0)], 3_000),
            priced("Lamp three", &[(3000, 1)], 2_000),
        ])
        .unwrap();
    let find = |filters: &Filters, sort: Sort| -> Vec<String> {
        let (hits, total) = index.search("lamp", filters, sort, 0, 10).unwrap();
        assert_eq!(hits.len(), total);
        hits.into_iter().map(|h| h.name).collect()
    };
    let all = Filters::default();
    assert_eq!(
        find(&all, Sort::PriceAsc),
        ["Lamp one", "Lamp two", "Lamp three"]
    );
    assert_eq!(
        find(&all, Sort::PriceDesc),
        ["Lamp three", "Lamp two", "Lamp one"]
    );
    assert_eq!(
        find(&all, Sort::Newest),
        ["Lamp two", "Lamp three", "Lamp one"]
    );
    let between = Filters {
        min_price: Some(2000),
        max_price: Some(3000),
        ..all.clone()
    };
    assert_eq!(
        find(&between, Sort::PriceAsc),
        ["Lamp two", "Lamp three"],
        "bounds included"
    );
    let cheap = Filters {
        max_price: Some(1999),
        ..all.clone()
    };
    assert_eq!(find(&cheap, Sort::PriceAsc), ["Lamp one"]);
    let stocked = Filters {
        in_stock: true,
        ..all.clone()
    };
    assert_eq!(find(&stocked, Sort::PriceAsc), ["Lamp one", "Lamp three"]);
    // The same filters on the empty query (browsing).
    let (browse, _) = index.search("", &stocked, Sort::PriceDesc, 0, 10).unwrap();
    let names: Vec<_> = browse.into_iter().map(|h| h.name).collect();
    assert_eq!(names, ["Lamp three", "Lamp one"]);
    // Pages of a sorted result follow each other.
    let (first, total) = index.search("lamp", &all, Sort::PriceAsc, 0, 2).unwrap();
    let (second, _) = index.search("lamp", &all, Sort::PriceAsc, 2, 2).unwrap();
    assert_eq!(total, 3);
    assert_eq!((first.len(), second[0].name.as_str()), (2, "Lamp three"));
}

#[test]
fn a_category_filter_takes_in_the_categories_below_it() {
    let (_dir, index) = empty();
    let (lighting, outdoor, kitchen) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let in_tree = |name: &str, tree: Vec<Uuid>| {
        let Op::Upsert(mut p) = priced(name, &[(100, 1)], 1) else {
            unreachable!()
        };
        p.category_tree = tree;
        Op::Upsert(p)
    };
    index
        .apply(&[
            in_tree("Porch lamp", vec![lighting, outdoor]),
            in_tree("Desk lamp", vec![lighting]),
            in_tree("Lamp oil", vec![kitchen]),
        ])
        .unwrap();
    let within = |category: Uuid| -> Vec<String> {
        let f = Filters {
            category: Some(category),
            ..Filters::default()
        };
        let mut names: Vec<String> = index
            .search("lamp", &f, Sort::Relevance, 0, 10)
            .unwrap()
            .0
            .into_iter()
            .map(|h| h.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        within(lighting),
        ["Desk lamp", "Porch lamp"],
        "with what is below"
    );
    assert_eq!(within(outdoor), ["Porch lamp"]);
    assert_eq!(within(kitchen), ["Lamp oil"]);
    assert!(within(Uuid::now_v7()).is_empty());
}

#[test]
fn price_buckets_have_round_edges_around_the_prices_found() {
    assert_eq!(
        price_edges(1000, 5000),
        [1000, 2000, 3000, 4000, 5000, 6000]
    );
    let edges = price_edges(1999, 2499);
    assert!(
        edges[0] <= 1999 && *edges.last().unwrap() > 2499 && edges.len() <= 7,
        "{edges:?}"
    );
    assert_eq!(price_edges(500, 500), [500, 501]);
    assert_eq!(price_edges(0, 99), [0, 20, 40, 60, 80, 100]);
}

#[test]
fn facets_count_what_a_search_finds_by_category_and_price() {
    let (_dir, index) = empty();
    let (lighting, outdoor) = (Uuid::now_v7(), Uuid::now_v7());
    let lamp_at = |name: &str, price: i64, tree: Vec<Uuid>| {
        let Op::Upsert(mut p) = priced(name, &[(price, 1)], 1) else {
            unreachable!()
        };
        p.category_tree = tree;
        Op::Upsert(p)
    };
    index
        .apply(&[
            lamp_at("Lamp a", 1000, vec![lighting, outdoor]),
            lamp_at("Lamp b", 1500, vec![lighting]),
            lamp_at("Lamp c", 4200, vec![lighting]),
            lamp_at("Vase", 9900, vec![]),
        ])
        .unwrap();
    let f = index.facets("lamp", &Filters::default()).unwrap();
    let count = |id: Uuid| f.categories.iter().find(|c| c.id == id).map(|c| c.count);
    assert_eq!((count(lighting), count(outdoor)), (Some(3), Some(1)));
    let total: u64 = f.price.iter().map(|b| b.count).sum();
    assert_eq!(
        total, 3,
        "every product found is in one bucket: {:?}",
        f.price
    );
    assert_eq!(
        f.price.first().map(|b| (b.from, b.count)),
        Some((1000, 2)),
        "{:?}",
        f.price
    );
    assert!(f.price.last().is_some_and(|b| b.to > 4200));
    let cheap = Filters {
        max_price: Some(1200),
        ..Filters::default()
    };
    let f = index.facets("lamp", &cheap).unwrap();
    assert_eq!(
        f.price.iter().map(|b| b.count).sum::<u64>(),
        1,
        "over the filtered result"
    );
}

#[test]
fn suggestions_complete_names_and_categories_despite_typos() {
    let (_dir, index) = empty();
    let Op::Upsert(mut p) = priced("Brass lantern", &[(1000, 1)], 1) else {
        unreachable!()
    };
    p.category_path = vec!["Lighting".into(), "Outdoor lights".into()];
    let hidden = product("Lantern of secrets", "", ProductStatus::Hidden);
    index
        .apply(&[Op::Upsert(p), hidden, priced("Lamp", &[(500, 1)], 2)])
        .unwrap();
    let texts = |q: &str| -> Vec<String> {
        index
            .suggest(q, 8)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    };
    assert_eq!(
        texts("lant"),
        ["Brass lantern"],
        "a prefix, and never a hidden product"
    );
    assert_eq!(texts("lanturn"), ["Brass lantern"], "a typo");
    assert_eq!(texts("ligh"), ["Lighting", "Outdoor lights"]);
    assert!(texts("*").is_empty());
    assert_eq!(super::suggest::edits("lantern", "lanturn"), 1);
    assert_eq!(super::suggest::edits("", "ab"), 2);
}

/// Matches for a word, and for the empty query (everything on sale); they must agree.
fn found(index: &SearchIndex) -> usize {
    let by_word = index
        .search("lamp", &Filters::default(), Sort::Relevance, 0, 10)
        .unwrap()
        .1;
    let all = index
        .search("", &Filters::default(), Sort::Relevance, 0, 10)
        .unwrap()
        .1;
    assert_eq!(by_word, all, "tombstones never match");
    by_word
}

#[test]
fn a_late_older_copy_never_brings_back_what_was_deleted_or_hidden() {
    let (_dir, index) = empty();
    let id = Uuid::now_v7();
    index
        .apply(&[lamp(id, ProductStatus::Active, 1_000)])
        .unwrap();
    assert_eq!(found(&index), 1);
    index.apply(&[Op::Remove(id, 3_000)]).unwrap();
    index
        .apply(&[lamp(id, ProductStatus::Active, 2_000)])
        .unwrap();
    assert_eq!(found(&index), 0, "the older copy came after the deletion");
    index
        .apply(&[lamp(id, ProductStatus::Active, 4_000)])
        .unwrap();
    assert_eq!(found(&index), 1, "a newer copy counts");
    index
        .apply(&[
            lamp(id, ProductStatus::Hidden, 5_000),
            lamp(id, ProductStatus::Active, 4_500),
        ])
        .unwrap();
    assert_eq!(found(&index), 0, "hidden, whatever came after in the batch");
}

#[test]
fn an_index_of_another_schema_is_rebuilt_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Schema::builder();
    b.add_text_field("title", TEXT | STORED);
    Index::create_in_dir(dir.path(), b.build()).unwrap();
    let index = SearchIndex::open(dir.path(), 1).unwrap();
    index
        .apply(&[lamp(Uuid::now_v7(), ProductStatus::Active, 1)])
        .unwrap();
    assert_eq!(found(&index), 1);
}

pub(super) fn dressed(name: &str, price: i64, colour: &str, material: &str) -> Op {
    let Op::Upsert(mut p) = priced(name, &[(price, 1)], 1) else {
        unreachable!()
    };
    p.attributes = [("material".to_owned(), material.to_owned())].into();
    p.variants[0].options = [("Colour".to_owned(), colour.to_owned())].into();
    Op::Upsert(p)
}

#[test]
fn attribute_filters_and_counts_are_exact() {
    let (_dir, index) = empty();
    // Three commits, so three segments: the counts add up across them.
    index
        .apply(&[
            dressed("Red lamp", 100, "Red", "brass"),
            dressed("Blue lamp", 200, "blue", "brass"),
        ])
        .unwrap();
    index
        .apply(&[dressed("Red shade", 300, "red", "linen")])
        .unwrap();
    index
        .apply(&[dressed("Green lamp", 400, "green", "glass")])
        .unwrap();
    let counts = |f: &Filters| -> Vec<(String, String, u64)> {
        let facets = index.facets("", f).unwrap();
        facets
            .attributes
            .into_iter()
            .flat_map(|(name, values)| {
                values
                    .into_iter()
                    .map(move |v| (name.clone(), v.value, v.count))
            })
            .collect()
    };
    let row = |n: &str, v: &str, c: u64| (n.to_owned(), v.to_owned(), c);
    let mut all = counts(&Filters::default());
    all.sort();
    assert_eq!(
        all,
        [
            row("colour", "blue", 1),
            row("colour", "green", 1),
            row("colour", "red", 2),
            row("material", "brass", 2),
            row("material", "glass", 1),
            row("material", "linen", 1),
        ]
    );
    let red = Filters {
        attributes: vec![("colour".into(), vec!["red".into()])],
        ..Filters::default()
    };
    let (hits, total) = index.search("", &red, Sort::PriceAsc, 0, 10).unwrap();
    let names: Vec<_> = hits.into_iter().map(|h| h.name).collect();
    assert_eq!(
        (names, total),
        (vec!["Red lamp".into(), "Red shade".into()], 2)
    );
    let mut narrowed = counts(&red);
    narrowed.sort();
    assert_eq!(
        narrowed,
        [
            row("colour", "red", 2),
            row("material", "brass", 1),
            row("material", "linen", 1)
        ]
    );
    // Values of one attribute widen; attributes together narrow.
    let either = Filters {
        attributes: vec![
            ("colour".into(), vec!["red".into(), "green".into()]),
            ("material".into(), vec!["brass".into(), "glass".into()]),
        ],
        ..Filters::default()
    };
    let (hits, _) = index
        .search("lamp", &either, Sort::PriceAsc, 0, 10)
        .unwrap();
    let names: Vec<_> = hits.into_iter().map(|h| h.name).collect();
    assert_eq!(names, ["Red lamp", "Green lamp"]);
    // An attribute's value is a word a search finds.
    assert_eq!(names_sorted(&index, "linen"), ["Red shade"]);
}

fn names_sorted(index: &SearchIndex, q: &str) -> Vec<String> {
    let mut n = names(index, q);
    n.sort();
    n
}

#[test]
fn of_two_equal_matches_the_one_selling_lately_ranks_first() {
    let (_dir, index) = empty();
    let (quiet, busy) = (
        priced("Brass lamp", &[(100, 1)], 1),
        priced("Brass lamp", &[(100, 1)], 1),
    );
    let Op::Upsert(b) = &busy else { unreachable!() };
    let sold = Sold {
        product_id: b.id,
        popularity: sale_weight(20, Utc::now()),
    };
    index.apply(&[quiet, busy.clone(), Op::Sold(sold)]).unwrap();
    let (hits, _) = index
        .search("brass lamp", &Filters::default(), Sort::Relevance, 0, 2)
        .unwrap();
    assert_eq!(hits[0].product_id, b.id);
    assert!(hits[0].score > hits[1].score * 1.3, "{hits:?}");
}

#[test]
fn typos_are_highlighted_too_and_names_are_escaped() {
    let (_dir, index) = shop();
    index
        .apply(&[product("Lamp <b>& shade", "", ProductStatus::Active)])
        .unwrap();
    let lights = |q: &str| -> Vec<String> {
        let (hits, _) = index
            .search(q, &Filters::default(), Sort::Relevance, 0, 10)
            .unwrap();
        hits.into_iter().map(|h| h.highlight).collect()
    };
    assert_eq!(lights("lanterm"), ["Brass <b>lantern</b>"]);
    assert_eq!(
        lights("sha"),
        ["Lamp &lt;b&gt;&amp; <b>shade</b>"],
        "the last word as the start of one, the name escaped"
    );
}

#[test]
fn every_word_must_match_and_when_none_does_the_commonest_word_goes() {
    let (_dir, index) = shop();
    assert_eq!(
        names(&index, "brass lantern"),
        ["Brass lantern"],
        "only what matches both words"
    );
    assert_eq!(
        names(&index, "lantern mug"),
        ["Mug"],
        "no product has both words: the one fewer products have stays"
    );
    assert_eq!(names(&index, "mug lantern"), ["Mug"], "in either order");
}
