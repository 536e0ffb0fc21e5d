//! The one case-folding rule of text matching (search terms, the live tail's
//! filter, ListLogs' `message_contains`, match highlighting).
//!
//! Text is folded character by character:
//!
//! 1. full Unicode lower-casing (`char::to_lowercase`, the root locale of
//!    Unicode's SpecialCasing: `İ` → `i` + U+0307, no Turkish or Lithuanian
//!    rules);
//! 2. final sigma `ς` → `σ` (so `ΣΟΦΟΣ`, `σοφος` and `σοφοσ` are equal);
//! 3. sharp s `ß` → `ss` (so `STRASSE` and `straße` are equal; `ẞ` lowers
//!    to `ß` first);
//! 4. the combining dot above U+0307 is dropped (so `İSTANBUL` folds to
//!    `istanbul`).
//!
//! Dotless `ı` stays `ı` (it is a letter of its own in Turkish).
//!
//! The database applies the same rule through the SQL function
//! `diagd_fold(text)` (migrations/0005_case_folding.sql):
//! `replace(replace(replace(lower(t COLLATE "und-x-icu"), 'ς', 'σ'), 'ß',
//! 'ss'), U&'\0307', '')` — ICU's root-locale `lower()` is the same full
//! lower-casing, its only context rule (final sigma) being undone by step 2.
//! Because the rule works per character, `fold(a + b) == fold(a) + fold(b)`,
//! which the highlighter relies on to map a match back onto the original
//! text.

/// The folded form of one character (zero, one or more characters).
pub fn fold_char(c: char) -> impl Iterator<Item = char> {
    c.to_lowercase().flat_map(|l| {
        let (first, second) = match l {
            'ς' => (Some('σ'), None),
            'ß' => (Some('s'), Some('s')),
            '\u{0307}' => (None, None),
            other => (Some(other), None),
        };
        first.into_iter().chain(second)
    })
}

/// The folded form of `text`: what every text match compares.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    folded.extend(text.chars().flat_map(fold_char));
    folded
}

/// Byte range in `haystack` of the first occurrence of `needle`, both
/// compared folded. The range covers whole characters of `haystack`: a match
/// that starts or ends inside the fold of one character (`ss` of `ß`) takes
/// in that whole character.
pub fn find_folded(haystack: &str, needle: &str) -> Option<(usize, usize)> {
    let needle = fold(needle);
    if needle.is_empty() {
        return None;
    }
    if haystack.is_ascii() {
        // ASCII folds to ASCII lower case, byte for byte: the offsets are
        // the haystack's own, and a needle that folds to anything else
        // cannot occur (a search hit's stack trace is usually ASCII, and
        // kilobytes long).
        if !needle.is_ascii() {
            return None;
        }
        let start = haystack.to_ascii_lowercase().find(needle.as_str())?;
        return Some((start, start + needle.len()));
    }
    find_folded_by_char(haystack, &needle)
}

/// [`find_folded`] for any text: folds `haystack` character by character,
/// remembering where each folded byte came from. `needle` is folded.
fn find_folded_by_char(haystack: &str, needle: &str) -> Option<(usize, usize)> {
    let mut folded = String::with_capacity(haystack.len());
    // For each byte of `folded`: the byte range of the character it came from.
    let mut origin: Vec<(usize, usize)> = Vec::with_capacity(haystack.len());
    for (at, c) in haystack.char_indices() {
        for f in fold_char(c) {
            folded.push(f);
            origin.extend(std::iter::repeat_n((at, at + c.len_utf8()), f.len_utf8()));
        }
    }
    let start = folded.find(needle)?;
    let end = start + needle.len() - 1;
    Some((origin[start].0, origin[end].1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_text_is_searched_as_the_general_path_would() {
        let trace = "Traceback (most recent call last):\n  File \"/w/train.py\", line 3, in Step\nRuntimeError: CUDA out of memory";
        for needle in [
            "cuda",
            "CUDA",
            "Out Of",
            "step\nRuntime",
            "t",
            "zzz",
            "traceback",
            "MEMORY",
            "ſtep",
            "İn",
        ] {
            assert_eq!(
                find_folded(trace, needle),
                find_folded_by_char(trace, &fold(needle)),
                "{needle:?}"
            );
        }
    }

    #[test]
    fn turkish_dotted_capital_i_folds_to_plain_i() {
        assert_eq!(fold("İSTANBUL"), "istanbul");
        assert_eq!(fold("istanbul"), "istanbul");
        assert_eq!(
            fold("ıstanbul"),
            "ıstanbul",
            "dotless ı is a letter of its own"
        );
    }

    #[test]
    fn every_sigma_folds_alike() {
        assert_eq!(fold("ΣΟΦΟΣ"), "σοφοσ");
        assert_eq!(fold("σοφος"), "σοφοσ");
        assert_eq!(fold("σοφοσ"), "σοφοσ");
    }

    #[test]
    fn sharp_s_folds_to_ss() {
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("straße"), "strasse");
        assert_eq!(fold("STRAẞE"), "strasse");
    }

    #[test]
    fn folding_works_per_character() {
        for text in ["ΣΟΦΟΣ σοφος", "İstanbul", "Straße", "Échec"] {
            let per_char: String = text.chars().map(|c| fold(&c.to_string())).collect();
            assert_eq!(fold(text), per_char, "{text}");
        }
    }

    #[test]
    fn matches_map_back_onto_whole_characters() {
        let text = "Straße in İSTANBUL, ΣΟΦΟΣ";
        for (needle, expected) in [
            ("strasse", "Straße"),
            ("sse", "ße"),
            ("stras", "Straß"),
            ("istanbul", "İSTANBUL"),
            ("σοφος", "ΣΟΦΟΣ"),
        ] {
            let (start, end) = find_folded(text, needle).unwrap();
            assert_eq!(&text[start..end], expected, "{needle}");
        }
        assert_eq!(find_folded(text, "berlin"), None);
        assert_eq!(find_folded(text, "\u{0307}"), None, "folds to nothing");
    }
}
