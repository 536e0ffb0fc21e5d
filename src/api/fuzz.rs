//! The entry point of the fuzz target (`fuzz/fuzz_targets/requests.rs`):
//! arbitrary bytes are decoded as a request message, as the service's codec
//! does, and put through the validation the handlers use (proto → domain).
//! Besides "never panic", it checks what validation promises the store:
//! accepted text holds no NUL, sizes and nesting stay within the limits,
//! page tokens and tail cursors round-trip, and a word of an accepted
//! message is found again by search with in-bounds match offsets.

use chrono::Utc;
use prost::Message;
use serde_json::{Map, Value};

use super::{
    convert,
    limits::{MAX_CONTEXT_BYTES, MAX_JSON_DEPTH, MAX_MESSAGE_BYTES, MAX_STACK_TRACE_BYTES},
    page_token, pb,
};
use crate::domain::{LogEntry, LogFilter, NewLog, PageCursor, SearchQuery, TailCursor};

/// Decodes `data` (first byte: which request; rest: its protobuf bytes) and
/// validates it, panicking if validation accepts something it must not.
pub fn requests(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let now = Utc::now();
    match selector % 8 {
        0 => {
            if let Ok(request) = pb::ReportErrorRequest::decode(bytes)
                && let Some(log) = request.log
            {
                check_log(convert::from_wire::new_log(log, now).ok());
            }
        }
        1 => {
            if let Ok(request) = pb::IngestLogsRequest::decode(bytes) {
                for log in request.logs {
                    check_log(convert::from_wire::new_log(log, now).ok());
                }
            }
        }
        2 => {
            if let Ok(request) = pb::ListLogsRequest::decode(bytes)
                && let Ok(filter) = convert::from_wire::log_filter(request.filter)
            {
                check_filter(&filter);
                let _ = page_token::decode(&request.page_token, &filter);
            }
        }
        3 => {
            if let Ok(request) = pb::SearchLogsRequest::decode(bytes) {
                let _ = convert::from_wire::log_filter(request.filter).map(|f| check_filter(&f));
                if let Ok(query) = SearchQuery::parse(&request.query) {
                    assert!(!query.terms.is_empty(), "a parsed query has terms");
                }
            }
        }
        4 => {
            if let Ok(request) = pb::SubscribeLogsRequest::decode(bytes) {
                let _ = convert::from_wire::log_filter(request.filter).map(|f| check_filter(&f));
                let _ = SearchQuery::parse(&request.query);
                if let Ok(cursor) =
                    page_token::tail::decode("resume_cursor", &request.resume_cursor)
                {
                    check_tail_cursor(cursor);
                }
            }
        }
        5 => {
            if let Ok(request) = pb::RecordActionRequest::decode(bytes)
                && let Ok(action) = convert::from_wire::new_action(request, now)
            {
                assert!(!action.action.contains('\0'));
                check_json(&action.details);
            }
        }
        6 => {
            if let Ok(request) = pb::GetLogRequest::decode(bytes) {
                let _ = convert::from_wire::log_id("id", &request.id);
            }
        }
        _ => {
            if let Ok(request) = pb::ExportLogsRequest::decode(bytes)
                && let Ok(filter) = convert::from_wire::log_filter(request.filter)
            {
                check_filter(&filter);
            }
        }
    }
}

/// What an accepted log promises the store and search.
fn check_log(log: Option<NewLog>) {
    let Some(log) = log else { return };
    assert!(!log.message.trim().is_empty(), "message is required");
    assert!(log.message.len() <= MAX_MESSAGE_BYTES);
    assert!(log.stack_trace.len() <= MAX_STACK_TRACE_BYTES);
    for text in [
        &log.message,
        &log.stack_trace,
        &log.source.host,
        &log.source.run_id,
        &log.source.component,
    ] {
        assert!(!text.contains('\0'), "NUL accepted in {text:?}");
    }
    for (key, value) in &log.source.labels {
        assert!(!key.contains('\0') && !value.contains('\0'));
    }
    check_json(&log.context);
    assert!(serde_json::to_vec(&log.context).unwrap().len() <= MAX_CONTEXT_BYTES);
    for action in &log.recent_actions {
        assert!(!action.action.contains('\0'));
        check_json(&action.details);
    }
    check_search_finds_a_word_of(log);
}

/// JSON that PostgreSQL's jsonb accepts: no NUL in keys or strings (jsonb
/// refuses `\u0000`), finite numbers, bounded nesting.
fn check_json(object: &Map<String, Value>) {
    fn walk(value: &Value, depth: usize) {
        assert!(depth <= MAX_JSON_DEPTH + 1, "nesting past the limit");
        match value {
            Value::String(s) => assert!(!s.contains('\0'), "NUL in a JSON string"),
            Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, depth + 1)),
            Value::Object(map) => {
                for (key, v) in map {
                    assert!(!key.contains('\0'), "NUL in a JSON key");
                    walk(v, depth + 1);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
    for (key, value) in object {
        assert!(!key.contains('\0'), "NUL in a JSON key");
        walk(value, 1);
    }
    let text = serde_json::to_string(object).unwrap();
    assert!(!text.contains("\\u0000"), "jsonb would refuse {text:?}");
}

/// A filter's page tokens decode to the position they were made from.
fn check_filter(filter: &LogFilter) {
    if let (Some(since), Some(until)) = (filter.since, filter.until) {
        assert!(since <= until);
    }
    let cursor = PageCursor {
        occurred_at: filter.since.unwrap_or_else(Utc::now),
        id: uuid::Uuid::now_v7(),
    };
    let token = page_token::encode(cursor, filter);
    let decoded = page_token::decode(&token, filter).expect("a token decodes for its filter");
    assert_eq!(decoded.id, cursor.id);
    assert_eq!(
        decoded.occurred_at.timestamp_micros(),
        cursor.occurred_at.timestamp_micros()
    );
}

/// A tail cursor re-encodes to one that decodes to the same position.
fn check_tail_cursor(cursor: TailCursor) {
    let again = page_token::tail::decode("resume_cursor", &page_token::tail::encode(cursor))
        .expect("an encoded cursor decodes");
    assert_eq!(again, cursor);
}

/// Search finds the first word of an accepted message again, and reports a
/// match whose offsets are in bounds and on character boundaries.
fn check_search_finds_a_word_of(log: NewLog) {
    let word: String = log
        .message
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    let Ok(query) = SearchQuery::parse(&word) else {
        return;
    };
    let entry = LogEntry {
        id: uuid::Uuid::now_v7(),
        event_id: log.event_id,
        occurred_at: log.occurred_at,
        received_at: Utc::now(),
        severity: log.severity,
        error_type: log.error_type,
        message: log.message,
        stack_trace: log.stack_trace,
        context: Some(log.context),
        system_state: log.system_state,
        recent_actions: log.recent_actions,
        source: log.source,
        group_id: None,
        fingerprint: None,
    };
    let found = query.locate(&entry);
    let in_message = found
        .iter()
        .find(|m| m.field == "message")
        .unwrap_or_else(|| panic!("{word:?} not located in {:?}", entry.message));
    assert!(in_message.start < in_message.end && in_message.end <= in_message.fragment.len());
    assert!(in_message.fragment.is_char_boundary(in_message.start));
    assert!(in_message.fragment.is_char_boundary(in_message.end));
}
