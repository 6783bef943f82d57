//! The ways each word of a search reaches products (see [`super::query`]), kept while the
//! index stays as it is. The same words come back search after search, and finding the terms
//! a word reaches walks every segment's dictionary with its automaton; a commit makes a new
//! generation of the index, and what was kept for the one before is dropped.

use std::{collections::HashMap, sync::Mutex};

use super::{query::Reach, words::Part};

/// The most words kept; once full, the ways are dropped and kept afresh.
const MAX_WORDS: usize = 4096;

#[derive(Default)]
pub(super) struct Expansions {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// The generation of the searcher the ways were read from.
    generation: u64,
    ways: HashMap<Asked, Vec<Part>>,
}

/// A word asked for: whether it is the last of its search, and the fields read, each by its
/// number, its weight (as bits) and how far the word reaches in it.
#[derive(PartialEq, Eq, Hash)]
pub(super) struct Asked {
    pub word: String,
    pub last: bool,
    pub fields: Vec<(u32, u32, Reach)>,
}

impl Expansions {
    /// The ways a word reaches products in the searcher of `generation`, read by `read` when
    /// none are kept. An older searcher's (a later page of an older search) are not kept.
    pub(super) fn get_or(
        &self,
        generation: u64,
        asked: Asked,
        read: impl FnOnce() -> Vec<Part>,
    ) -> Vec<Part> {
        if let Ok(kept) = self.kept.lock()
            && kept.generation == generation
            && let Some(ways) = kept.ways.get(&asked)
        {
            return ways.clone();
        }
        // Read outside the lock: two searches may read the same word, and either is kept.
        let ways = read();
        if let Ok(mut kept) = self.kept.lock() {
            if generation > kept.generation || kept.ways.len() >= MAX_WORDS {
                kept.ways.clear();
                kept.generation = kept.generation.max(generation);
            }
            if generation == kept.generation {
                kept.ways.insert(asked, ways.clone());
            }
        }
        ways
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.kept.lock().map_or(0, |k| k.ways.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kazna_contracts::catalog::ProductStatus;

    use super::super::tests::{empty, names, product};

    #[test]
    fn a_word_reaches_what_a_commit_added_and_a_full_store_starts_afresh() {
        let (_dir, index) = empty();
        index
            .apply(&[product("Brass lamp", "", ProductStatus::Active)])
            .unwrap();
        // "lanp" is one edit from "lamp"; the ways of "lanp" are kept.
        assert_eq!(names(&index, "lanp"), ["Brass lamp"]);
        assert_eq!(names(&index, "lanp"), ["Brass lamp"]);
        assert_eq!(index.expansions.len(), 1);
        // A commit adds "lane", which "lanp" also reaches: kept ways must not hide it.
        index
            .apply(&[product("Country lane print", "", ProductStatus::Active)])
            .unwrap();
        let mut found = names(&index, "lanp");
        found.sort();
        assert_eq!(found, ["Brass lamp", "Country lane print"]);
        // Only the new generation's ways are kept.
        assert_eq!(index.expansions.len(), 1);
        for i in 0..super::MAX_WORDS + 3 {
            let asked = super::Asked {
                word: format!("w{i}"),
                last: true,
                fields: Vec::new(),
            };
            index.expansions.get_or(u64::MAX, asked, Vec::new);
        }
        assert!(index.expansions.len() <= super::MAX_WORDS);
    }
}
