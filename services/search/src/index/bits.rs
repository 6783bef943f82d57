//! One bit per document of a segment, and the documents of such a set in order: what a
//! search's words are read into before they are scored (see [`super::words`]).

use tantivy::{
    DocId, DocSet, InvertedIndexReader, TERMINATED, postings::TermInfo, schema::IndexRecordOption,
};

/// One bit per document of a segment.
pub(super) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub(super) fn new(max_doc: u32) -> Self {
        Self {
            words: vec![0; (max_doc as usize).div_ceil(64)],
        }
    }

    pub(super) fn insert(&mut self, doc: DocId) {
        if let Some(w) = self.words.get_mut((doc / 64) as usize) {
            *w |= 1 << (doc % 64);
        }
    }

    pub(super) fn contains(&self, doc: DocId) -> bool {
        self.words
            .get((doc / 64) as usize)
            .is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    pub(super) fn or(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub(super) fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// How many documents both sets hold.
    pub(super) fn common(&self, other: &Bits) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a & b).count_ones()))
            .sum()
    }

    /// Keeps only the documents that `keep` keeps.
    pub(super) fn retain(&mut self, keep: impl Fn(DocId) -> bool) {
        for (i, word) in self.words.iter_mut().enumerate() {
            let mut rest = *word;
            while rest != 0 {
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                if !keep(i as DocId * 64 + bit) {
                    *word &= !(1 << bit);
                }
            }
        }
    }

    /// Calls `f` with each document of the set, in order.
    pub(super) fn for_each(&self, mut f: impl FnMut(DocId)) {
        for (i, &word) in self.words.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                f(i as DocId * 64 + rest.trailing_zeros());
                rest &= rest - 1;
            }
        }
    }

    /// How many words of 64 documents the set takes.
    pub(super) fn words(&self) -> usize {
        self.words.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Adds the documents of a term's postings.
    pub(super) fn add(
        &mut self,
        inverted: &InvertedIndexReader,
        info: &TermInfo,
    ) -> std::io::Result<()> {
        let mut block =
            inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        loop {
            let docs = block.docs();
            if docs.is_empty() {
                return Ok(());
            }
            for &doc in docs {
                self.insert(doc);
            }
            block.advance();
        }
    }
}

/// The documents of a [`Bits`], in order.
pub(super) struct BitsDocSet {
    bits: Bits,
    doc: DocId,
    count: u32,
}

impl BitsDocSet {
    pub(super) fn new(bits: Bits) -> Self {
        let count = bits.words.iter().map(|w| w.count_ones()).sum();
        let mut set = Self {
            bits,
            doc: 0,
            count,
        };
        set.doc = set.first_from(0);
        set
    }

    /// The first document at or after `from`.
    fn first_from(&self, from: DocId) -> DocId {
        let mut i = (from / 64) as usize;
        let Some(&first) = self.bits.words.get(i) else {
            return TERMINATED;
        };
        let mut word = first & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return i as DocId * 64 + word.trailing_zeros();
            }
            i += 1;
            match self.bits.words.get(i) {
                Some(&w) => word = w,
                None => return TERMINATED,
            }
        }
    }
}

impl DocSet for BitsDocSet {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.first_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc != TERMINATED && target > self.doc {
            self.doc = self.first_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn a_set_lists_counts_and_keeps_its_documents_across_words() {
        let mut set = Bits::new(200);
        for doc in [0, 63, 64, 65, 127, 128, 199] {
            set.insert(doc);
        }
        let docs = |set: &Bits| {
            let mut docs = Vec::new();
            set.for_each(|doc| docs.push(doc));
            docs
        };
        assert_eq!(docs(&set), [0, 63, 64, 65, 127, 128, 199]);
        let mut odd = Bits::new(200);
        (1..200).step_by(2).for_each(|doc| odd.insert(doc));
        assert_eq!(set.common(&odd), 4);
        set.retain(|doc| doc % 2 == 1);
        assert_eq!(docs(&set), [63, 65, 127, 199]);
        set.retain(|_| false);
        assert!(set.is_empty());
    }
}
