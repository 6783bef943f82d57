//! What a hit shows of a product: its card, read from the stored document.
//!
//! A stored document is read by unpacking the compressed block that holds it and then the
//! whole document, the copy of the product it was built from included (about 1.5 KiB), for
//! a name, a price and a picture. A segment never changes once written, so a large one
//! keeps the cards of all its documents, read in one pass over its store (see
//! [`super::segments`]); a small one is read document by document, as it is cheap there.

use std::sync::Arc;

use kazna_contracts::Currency;
use tantivy::{DocId, SegmentReader, TantivyDocument, schema::Value};
use uuid::Uuid;

use super::Fields;

/// A product on sale, as a hit shows it.
#[derive(Debug, Clone)]
pub(super) struct Card {
    pub id: Uuid,
    pub name: Arc<str>,
    /// The cheapest variant's price, in minor units of `currency`.
    pub price: i64,
    pub currency: Currency,
    pub image: Option<Arc<str>>,
    /// The names of its categories.
    pub categories: Arc<[Arc<str>]>,
}

impl Card {
    /// The card of a stored document; `None` for a tombstone or a damaged document.
    pub(super) fn of(doc: &TantivyDocument, f: &Fields) -> Option<Card> {
        let text = |field| doc.get_first(field).and_then(|v| v.as_str());
        if doc.get_first(f.live).and_then(|v| v.as_i64()) != Some(1) {
            return None;
        }
        let id = text(f.id).unwrap_or_default();
        let (Ok(uuid), Ok(currency)) = (
            Uuid::parse_str(id),
            Currency::parse(text(f.currency).unwrap_or_default()),
        ) else {
            tracing::warn!(id, "search: an indexed product without an id or a currency");
            return None;
        };
        Some(Card {
            id: uuid,
            name: text(f.name).unwrap_or_default().into(),
            price: doc.get_first(f.price).and_then(|v| v.as_i64()).unwrap_or(0),
            currency,
            image: text(f.image).map(Into::into),
            categories: doc
                .get_all(f.categories)
                .filter_map(|v| v.as_str())
                .map(Into::into)
                .collect(),
        })
    }
}

/// The cards of every document of a segment, by document (deleted ones included).
pub(super) struct Cards {
    by_doc: Vec<Option<Card>>,
}

impl Cards {
    pub(super) fn read(segment: &SegmentReader, f: &Fields) -> tantivy::Result<Self> {
        let store = segment.get_store_reader(1)?;
        let mut by_doc = Vec::with_capacity(segment.max_doc() as usize);
        // Without the deletions, every document comes, in the order of their ids.
        for doc in store.iter::<TantivyDocument>(None) {
            by_doc.push(Card::of(&doc?, f));
        }
        Ok(Self { by_doc })
    }

    pub(super) fn get(&self, doc: DocId) -> Option<&Card> {
        self.by_doc.get(doc as usize).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use kazna_contracts::{
        Currency, Money,
        catalog::{ProductSnapshot, ProductStatus},
    };

    use crate::index::{
        Filters, Op, Sort,
        segments::SMALL,
        tests::{empty, priced},
    };

    #[test]
    fn hits_from_a_large_segment_show_each_product_as_it_is_now() {
        let (_dir, index) = empty();
        let mut lamps: Vec<Op> = (0..SMALL as usize + 4)
            .map(|i| priced(&format!("Lamp {i}"), &[(1_000 + i as i64, 1)], 1))
            .collect();
        let Op::Upsert(mut lantern) = priced("Brass lantern", &[(250, 1)], 1) else {
            unreachable!()
        };
        lantern.images = vec!["/img/lantern.jpg".into(), "/img/side.jpg".into()];
        lantern.category_path = vec!["Lighting".into(), "Outdoor lights".into()];
        lamps.push(Op::Upsert(lantern));
        index.apply(&lamps).unwrap();
        index.compact().unwrap();
        assert_eq!(index.reader.searcher().segment_readers().len(), 1);
        let shown = |q: &str, sort: Sort| {
            let page = index.page(q, &Filters::default(), sort, None, 2).unwrap();
            let hits: Vec<(String, String, Option<String>)> = page
                .hits
                .iter()
                .map(|h| (h.name.clone(), h.price.to_string(), h.image.clone()))
                .collect();
            (hits, page.next)
        };
        let row = |name: &str, price: &str, image: Option<&str>| {
            (name.to_owned(), price.to_owned(), image.map(str::to_owned))
        };
        assert_eq!(
            shown("lantern", Sort::Relevance).0,
            [row("Brass lantern", "2.50 EUR", Some("/img/lantern.jpg"))]
        );
        let (first, next) = shown("lamp", Sort::PriceAsc);
        assert_eq!(
            first,
            [
                row("Lamp 0", "10.00 EUR", None),
                row("Lamp 1", "10.01 EUR", None)
            ]
        );
        let suggested: Vec<String> = index
            .suggest("ligh", 5)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(suggested, ["Lighting", "Outdoor lights"]);
        // Lamp 2 gets a new name and price, Lamp 3 is hidden: their new copies go to a small
        // segment, and the next page, read from the index as it was, shows them as they are.
        let changed = |i: usize, f: &dyn Fn(&mut ProductSnapshot)| {
            let Op::Upsert(mut p) = lamps[i].clone() else {
                unreachable!()
            };
            f(&mut p);
            p.updated_at = Utc.timestamp_millis_opt(9_000).unwrap();
            Op::Upsert(p)
        };
        index
            .apply(&[
                changed(2, &|p| {
                    p.name = "Lamp two, renamed".into();
                    p.variants[0].price = Money::new(1_502, Currency::EUR);
                }),
                changed(3, &|p| p.status = ProductStatus::Hidden),
            ])
            .unwrap();
        let second = index
            .page("lamp", &Filters::default(), Sort::PriceAsc, next, 2)
            .unwrap();
        let names: Vec<(String, String)> = second
            .hits
            .iter()
            .map(|h| (h.name.clone(), h.price.to_string()))
            .collect();
        assert_eq!(
            names,
            [("Lamp two, renamed".to_owned(), "15.02 EUR".to_owned())]
        );
        assert_eq!(
            shown("renamed", Sort::Relevance).0,
            [row("Lamp two, renamed", "15.02 EUR", None)]
        );
    }
}
