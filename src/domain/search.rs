//! What a user types into the search box, and where it matches a log: every
//! word (or "quoted phrase") must occur, ignoring case (both sides folded by
//! the one rule of [`super::fold`]), in the message, the stack trace or a
//! context value. Used by SearchLogs for highlighting and
//! by the live tail to filter new logs the same way.

use serde_json::{Map, Value};

use super::{
    LogEntry,
    fold::{find_folded, fold},
};

/// Shortest accepted query, in characters (after trimming).
pub const MIN_QUERY_CHARS: usize = 2;

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words and phrases, each of which must match; never empty.
    pub terms: Vec<String>,
    /// The same folded ([`fold`]), for matching logs in memory and in SQL.
    folded_terms: Vec<String>,
}

/// Where a term matched inside a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchLocation {
    /// "message", "stack_trace", or "context.<path>" (e.g. "context.model.name").
    pub field: String,
    /// A fragment of the field around the match.
    pub fragment: String,
    /// Byte offset of the match within `fragment`.
    pub start: usize,
    /// Byte offset just after the match within `fragment`.
    pub end: usize,
}

/// A log's searchable text (message, stack trace, context values), folded
/// ([`fold`]).
#[derive(Debug, Clone, Default)]
pub struct FoldedText {
    message: String,
    stack_trace: String,
    values: Vec<String>,
}

impl FoldedText {
    /// Folds the searchable text of `log`.
    pub fn of(log: &LogEntry) -> FoldedText {
        FoldedText {
            message: fold(&log.message),
            stack_trace: fold(&log.stack_trace),
            values: log
                .context
                .as_ref()
                .map(|c| {
                    scalar_values(c)
                        .into_iter()
                        .map(|(_, v)| fold(&v))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Bytes of context kept on each side of a match in a fragment.
const FRAGMENT_RADIUS: usize = 60;

impl SearchQuery {
    /// Parses a query: whitespace-separated words, and "quoted phrases"
    /// kept whole (an unclosed quote runs to the end).
    pub fn parse(text: &str) -> Result<SearchQuery, String> {
        let trimmed = text.trim();
        if trimmed.chars().count() < MIN_QUERY_CHARS {
            return Err(format!(
                "type at least {MIN_QUERY_CHARS} characters to search (got {:?})",
                trimmed
            ));
        }
        let mut terms = Vec::new();
        let mut rest = trimmed;
        while !rest.is_empty() {
            rest = rest.trim_start();
            if let Some(after_quote) = rest.strip_prefix('"') {
                let end = after_quote.find('"').unwrap_or(after_quote.len());
                let phrase = after_quote[..end].trim();
                if !phrase.is_empty() {
                    terms.push(phrase.to_string());
                }
                rest = after_quote.get(end + 1..).unwrap_or("");
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                if end > 0 {
                    terms.push(rest[..end].to_string());
                }
                rest = &rest[end..];
            }
        }
        // A term that folds to nothing (only combining dots) would match
        // everything.
        terms.retain(|t| !fold(t).is_empty());
        terms.dedup();
        if terms.is_empty() {
            return Err("the query has no words to search for".into());
        }
        if terms.iter().any(|t| t.contains('\0')) {
            return Err("contains a NUL character (\\0)".into());
        }
        let folded_terms = terms.iter().map(|t| fold(t)).collect();
        Ok(SearchQuery {
            terms,
            folded_terms,
        })
    }

    /// True when every term occurs somewhere in the log (what the database
    /// search selects, applied in memory).
    pub fn matches(&self, log: &LogEntry) -> bool {
        self.matches_text(&FoldedText::of(log))
    }

    /// The terms folded ([`fold`]): what the database compares with its
    /// folded text.
    pub fn folded_terms(&self) -> &[String] {
        &self.folded_terms
    }

    /// [`SearchQuery::matches`] against a log's text folded once, for
    /// checking one log against many queries (the live tail's subscribers).
    pub fn matches_text(&self, text: &FoldedText) -> bool {
        self.folded_terms.iter().all(|term| {
            text.message.contains(term.as_str())
                || text.stack_trace.contains(term.as_str())
                || text.values.iter().any(|v| v.contains(term.as_str()))
        })
    }

    /// Where the terms occur: the first occurrence of each term in each
    /// field, message first, then stack trace, then context values.
    pub fn locate(&self, log: &LogEntry) -> Vec<MatchLocation> {
        let mut found = Vec::new();
        let context = log.context.as_ref().map(scalar_values).unwrap_or_default();
        for term in &self.terms {
            if let Some(m) = locate_in("message", &log.message, term) {
                found.push(m);
            }
            if let Some(m) = locate_in("stack_trace", &log.stack_trace, term) {
                found.push(m);
            }
            for (path, value) in &context {
                if let Some(m) = locate_in(&format!("context.{path}"), value, term) {
                    found.push(m);
                }
            }
        }
        found
    }
}

/// Every scalar value of a JSON object with its path, as the database's
/// `context_values` column holds them (strings raw, numbers and booleans as
/// JSON text).
fn scalar_values(object: &Map<String, Value>) -> Vec<(String, String)> {
    fn walk(path: String, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Null => {}
            Value::String(s) => out.push((path, s.clone())),
            Value::Bool(_) | Value::Number(_) => out.push((path, value.to_string())),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{path}[{i}]"), item, out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(child, item, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (key, value) in object {
        walk(key.clone(), value, &mut out);
    }
    out
}

/// The first case-insensitive occurrence of `term` in `text`, with a
/// fragment around it.
fn locate_in(field: &str, text: &str, term: &str) -> Option<MatchLocation> {
    let (start, end) = find_folded(text, term)?;
    let from = floor_char_boundary(text, start.saturating_sub(FRAGMENT_RADIUS));
    let to = ceil_char_boundary(text, (end + FRAGMENT_RADIUS).min(text.len()));
    Some(MatchLocation {
        field: field.to_string(),
        fragment: text[from..to].to_string(),
        start: start - from,
        end: end - from,
    })
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ErrorType, Severity, Source};

    fn log(message: &str, trace: &str, context: Value) -> LogEntry {
        LogEntry {
            id: uuid::Uuid::now_v7(),
            event_id: None,
            occurred_at: chrono::Utc::now(),
            received_at: chrono::Utc::now(),
            severity: Severity::High,
            error_type: ErrorType::Oom,
            message: message.into(),
            stack_trace: trace.into(),
            context: context.as_object().cloned(),
            system_state: None,
            recent_actions: vec![],
            source: Source::default(),
            group_id: None,
            fingerprint: None,
        }
    }

    #[test]
    fn words_and_quoted_phrases() {
        let q = SearchQuery::parse(r#"  CUDA "out of memory"  rank "#).unwrap();
        assert_eq!(q.terms, ["CUDA", "out of memory", "rank"]);
        let q = SearchQuery::parse(r#"say "unclosed phrase"#).unwrap();
        assert_eq!(q.terms, ["say", "unclosed phrase"]);
        assert!(SearchQuery::parse(" a ").is_err());
        assert!(SearchQuery::parse("").is_err());
        assert!(SearchQuery::parse(r#""" "#).is_err());
    }

    #[test]
    fn matching_ignores_case_and_finds_parts_of_identifiers() {
        let entry = log(
            "torch.cuda.OutOfMemoryError: CUDA out of memory",
            "  File \"alloc.py\", in cuda_malloc",
            serde_json::json!({"model": {"name": "Llama-7B"}, "batch": 64}),
        );
        for query in [
            "cuda",
            "OutOfMemory",
            "cuda_malloc",
            "\"out of memory\"",
            "llama-7b",
            "64 CUDA",
        ] {
            assert!(
                SearchQuery::parse(query).unwrap().matches(&entry),
                "{query}"
            );
        }
        for query in ["\"memory out\"", "cuda tensorflow", "model"] {
            assert!(
                !SearchQuery::parse(query).unwrap().matches(&entry),
                "{query} (keys are not values)"
            );
        }
    }

    #[test]
    fn locations_name_the_field_and_offsets_point_at_the_match() {
        let entry = log(
            "RuntimeError: CUDA error: device-side assert",
            "",
            serde_json::json!({"env": {"gpu": "cuda:0"}}),
        );
        let found = SearchQuery::parse("cuda").unwrap().locate(&entry);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].field, "message");
        assert_eq!(&found[0].fragment[found[0].start..found[0].end], "CUDA");
        assert_eq!(found[1].field, "context.env.gpu");
        assert_eq!(&found[1].fragment[found[1].start..found[1].end], "cuda");
    }

    #[test]
    fn unicode_case_folding_keeps_offsets_on_boundaries() {
        let entry = log("Échec: ÉCHEC du chargement", "", Value::Null);
        let found = SearchQuery::parse("\"échec du\"").unwrap().locate(&entry);
        assert_eq!(found.len(), 1);
        assert_eq!(&found[0].fragment[found[0].start..found[0].end], "ÉCHEC du");
    }
}
