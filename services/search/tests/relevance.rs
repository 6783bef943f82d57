//! The relevance set: queries a shopper types over the demo catalog (misspellings, plurals,
//! several words, category words, attribute words), each with what must be in the top five.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use kazna_testkit::{TestApp, eventually};
use reqwest::Method;

/// What must be true of the top five for a query: each of them, or the first.
enum Want {
    /// Every one of the top five has this in its name.
    AllNamed(&'static str),
    /// The first has this name (before `no.`).
    First(&'static str),
    /// Every one of the top five has one of these in its name (a category's products).
    AllAmong(&'static [&'static str]),
}

const SET: &[(&str, Want)] = &[
    // One word, as it is.
    ("sneaker", Want::AllNamed("Sneaker")),
    ("jacket", Want::AllNamed("Jacket")),
    ("lamp", Want::AllNamed("Lamp")),
    ("boot", Want::AllNamed("Boot")),
    ("sandal", Want::AllNamed("Sandal")),
    // Plurals.
    ("sneakers", Want::AllNamed("Sneaker")),
    ("jackets", Want::AllNamed("Jacket")),
    ("lamps", Want::AllNamed("Lamp")),
    ("cables", Want::AllNamed("Cable")),
    ("sandals", Want::AllNamed("Sandal")),
    // Misspellings.
    ("snekaer", Want::AllNamed("Sneaker")),
    ("jackte", Want::AllNamed("Jacket")),
    ("trousr", Want::AllNamed("Trouser")),
    ("texitle", Want::AllNamed("Textile")),
    ("cyclnig", Want::AllNamed("Cycling")),
    ("vintaeg", Want::AllNamed("Vintage")),
    // Several words.
    ("vintage boot", Want::First("Vintage Boot")),
    ("alpine jacket", Want::First("Alpine Jacket")),
    ("quiet audio", Want::First("Quiet Audio")),
    ("compact cable", Want::First("Compact Cable")),
    ("organic t-shirt", Want::First("Organic T-shirt")),
    // Several words, misspelt.
    ("vintge boot", Want::First("Vintage Boot")),
    ("alpnie jackets", Want::First("Alpine Jacket")),
    ("sturdy sandls", Want::First("Sturdy Sandal")),
    // Unfinished, as typed into a search box.
    ("sneak", Want::AllNamed("Sneaker")),
    ("vintage lig", Want::First("Vintage Lighting")),
    // Category words: the top level holds the products of the categories below it.
    ("shoes", Want::AllAmong(&["Sneaker", "Boot", "Sandal"])),
    ("electronics", Want::AllAmong(&["Audio", "Cable", "Lamp"])),
    // Attribute words in the description.
    ("blue sneaker", Want::AllNamed("Sneaker")),
    ("green lamp", Want::AllNamed("Lamp")),
];

#[tokio::test]
async fn the_demo_catalog_answers_thirty_queries_as_a_shopper_expects() {
    let app = TestApp::spawn().await;
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    // Every leaf category with every adjective: 216 products.
    let seeded = kazna::seed::demo(&ctx, 216)
        .await
        .expect("the demo catalog");
    assert_eq!(seeded.products_created, 216);
    let indexed = eventually(30, || async {
        let r = app
            .call(Method::GET, "/api/v1/search?limit=1", None, None)
            .await;
        (r.body["total"] == 216).then_some(())
    })
    .await;
    assert!(indexed.is_some(), "the demo catalog is searchable");
    let mut wrong = Vec::new();
    for (q, want) in SET {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/search?q={}&limit=5", q.replace(' ', "%20")),
                None,
                None,
            )
            .await;
        let names: Vec<String> = r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .collect();
        let ok = match want {
            Want::AllNamed(part) => names.len() == 5 && names.iter().all(|n| n.contains(part)),
            Want::First(start) => names
                .first()
                .is_some_and(|n| n.starts_with(&format!("{start} no."))),
            Want::AllAmong(parts) => {
                names.len() == 5 && names.iter().all(|n| parts.iter().any(|p| n.contains(p)))
            }
        };
        if !ok {
            wrong.push(format!("{q}: {names:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} queries ranked wrong:\n{}",
        wrong.len(),
        SET.len(),
        wrong.join("\n")
    );
    app.stop().await;
}
