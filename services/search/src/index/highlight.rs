//! Highlighting: the words of a name that a search matched, exactly, within its edits or as
//! the start of the last word, in `<b>`, the rest escaped for HTML.

use super::{SearchIndex, query::edits_allowed, suggest::edits};
use kazna_kernel::html::escape;

impl SearchIndex {
    /// `name` as HTML with the words that `words` matched in `<b>`.
    pub(super) fn highlight(&self, name: &str, words: &[String]) -> String {
        if words.is_empty() {
            return String::new();
        }
        let Ok(mut analyzer) = self.index.tokenizer_for_field(self.f.name) else {
            return escape(name);
        };
        let mut stream = analyzer.token_stream(name);
        let mut out = String::with_capacity(name.len() + 16);
        let mut at = 0;
        while let Some(token) = stream.next() {
            let (from, to) = (token.offset_from, token.offset_to);
            if from < at || to > name.len() || !matches(&token.text, words) {
                continue;
            }
            let (Some(before), Some(word)) = (name.get(at..from), name.get(from..to)) else {
                continue;
            };
            out.push_str(&escape(before));
            out.push_str("<b>");
            out.push_str(&escape(word));
            out.push_str("</b>");
            at = to;
        }
        out.push_str(&escape(name.get(at..).unwrap_or_default()));
        out
    }
}

/// Whether a word of a name (as the index reads it) is one the shopper's words match.
fn matches(token: &str, words: &[String]) -> bool {
    let letters = token.chars().count();
    words.iter().enumerate().any(|(i, word)| {
        let last = i + 1 == words.len();
        token == word || (last && token.starts_with(word.as_str())) || {
            let length = word.chars().count();
            let allowed = edits_allowed(length);
            // Each letter more or fewer is an edit: most words of a name are not even near.
            allowed > 0
                && letters.abs_diff(length) <= usize::from(allowed)
                && edits(token, word) <= allowed
        }
    })
}
