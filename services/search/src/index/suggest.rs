//! Completions of what a shopper is typing, from product and category names.

use tantivy::{
    Term,
    collector::TopDocs,
    query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery},
    schema::{Field, IndexRecordOption},
};
use uuid::Uuid;

use super::{
    SearchIndex,
    query::{Reach, edits_allowed},
};
use crate::error::Error;

/// A completion: a product's name (with its id) or a category's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    /// The product, when it is a product's name.
    pub product_id: Option<Uuid>,
}

/// Whether `word` is within the edits the search allows of `part`.
fn within(part: &str, word: &str) -> bool {
    let letters = word.chars().count();
    let allowed = edits_allowed(letters);
    allowed > 0
        && part.chars().count().abs_diff(letters) <= usize::from(allowed)
        && edits(part, word) <= allowed
}

/// Edits between two short words: letters added, removed, changed, or two side by side
/// swapped (each one edit), as the index's fuzzy matching counts them. Words of up to
/// [`SHORT`] letters (nearly all) take no allocation: a search highlights every word of
/// every hit's name with it.
pub(super) fn edits(a: &str, b: &str) -> u8 {
    let (mut x, mut y) = (['\0'; SHORT], ['\0'; SHORT]);
    match (letters(a, &mut x), letters(b, &mut y)) {
        (Some(n), Some(m)) => {
            let mut rows = [[0; SHORT + 1]; 3];
            let [before, above, row] = &mut rows;
            distance(&x[..n], &y[..m], [before, above, row])
        }
        _ => {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            let [mut before, mut above, mut row] = [(); 3].map(|_| vec![0; b.len() + 1]);
            distance(&a, &b, [&mut before, &mut above, &mut row])
        }
    }
}

/// The most letters a word has for [`edits`] to count on the stack.
const SHORT: usize = 32;

/// The letters of `word` in `into`, and how many; `None` when they do not fit.
fn letters(word: &str, into: &mut [char]) -> Option<usize> {
    let mut n = 0;
    for c in word.chars() {
        *into.get_mut(n)? = c;
        n += 1;
    }
    Some(n)
}

/// The edits between `a` and `b`, with three rows of at least `b.len() + 1` to work in:
/// rows i-2, i-1 and i of the table of distances between prefixes.
fn distance(a: &[char], b: &[char], rows: [&mut [usize]; 3]) -> u8 {
    let [mut before, mut above, mut row] = rows;
    for (j, cell) in above.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let change = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (above[j - 1] + change)
                .min(above[j] + 1)
                .min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut above);
        std::mem::swap(&mut above, &mut row);
    }
    u8::try_from(above[b.len()]).unwrap_or(u8::MAX)
}

impl SearchIndex {
    /// Completions of what a shopper is typing: product names, then category names, that
    /// the words match (typos tolerated, the last word as a prefix), best first.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, Error> {
        let words = self.words(q);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let on_sale: Box<dyn Query> = Box::new(BoostQuery::new(
            Box::new(TermQuery::new(
                Term::from_field_i64(self.f.live, 1),
                IndexRecordOption::Basic,
            )),
            0.0,
        ));
        let in_field = |field: Field| -> Box<dyn Query> {
            let text = self.any_words(&searcher, &words, &[(field, 1.0, Reach::Edits)]);
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, text),
                (Occur::Must, on_sale.box_clone()),
            ]))
        };
        let mut out: Vec<Suggestion> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let names = searcher.search(&*in_field(self.f.name), &TopDocs::with_limit(limit))?;
        for (_, addr) in names {
            let Some(card) = self.card(&searcher, addr)? else {
                continue;
            };
            if !card.name.is_empty() && seen.insert(card.name.to_lowercase()) {
                out.push(Suggestion {
                    text: card.name.to_string(),
                    product_id: Some(card.id),
                });
            }
        }
        // Categories: the names, among those of matching products, that a word matches.
        let matches = |category: &str| {
            let lower = category.to_lowercase();
            let parts: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
            words.iter().any(|w| {
                parts
                    .iter()
                    .any(|p| p.starts_with(w.as_str()) || within(p, w))
            })
        };
        let in_categories =
            searcher.search(&*in_field(self.f.categories), &TopDocs::with_limit(50))?;
        for (_, addr) in in_categories {
            let Some(card) = self.card(&searcher, addr)? else {
                continue;
            };
            for category in card.categories.iter() {
                if matches(category) && seen.insert(category.to_lowercase()) {
                    out.push(Suggestion {
                        text: category.to_string(),
                        product_id: None,
                    });
                }
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::edits;

    #[test]
    fn edits_count_the_same_for_short_words_and_for_words_too_long_to_count_on_the_stack() {
        for (a, b, n) in [
            ("lamp", "lmap", 1),
            ("lamp", "lamps", 1),
            ("kitchen", "kitchn", 1),
            ("sneaker", "sneeker", 1),
            ("abc", "cba", 2),
            ("ćma", "cma", 1),
        ] {
            assert_eq!(edits(a, b), n, "{a} {b}");
            // The same words 40 letters longer take the other way, and count the same.
            let long = "x".repeat(40);
            assert_eq!(
                edits(&format!("{long}{a}"), &format!("{long}{b}")),
                n,
                "{a} {b}"
            );
            assert_eq!(
                edits(&format!("{a}{long}"), &format!("{b}{long}")),
                n,
                "{a} {b}"
            );
        }
        assert_eq!(edits(&"a".repeat(33), ""), 33);
    }
}
