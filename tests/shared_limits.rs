//! The Python client validates and scrubs before it sends, with copies of
//! the server's log limits and secret-key lists. `tests/data/limits.json`
//! holds the server's values: this test fails when they and the file
//! differ, and the Python suite (`test_shared_limits.py`) fails when its
//! copies and the file differ — so a change on one side cannot go unnoticed.
//! After changing a limit on purpose, regenerate the file with
//! `DIAGD_UPDATE_SHARED=1 cargo test --test shared_limits`.

use diagd::{api::limits, domain::scrub};
use serde_json::json;

#[test]
fn the_shared_file_holds_the_servers_limits_and_secret_keys() {
    let expected = json!({
        "log": {
            "max_message_bytes": limits::MAX_MESSAGE_BYTES,
            "max_stack_trace_bytes": limits::MAX_STACK_TRACE_BYTES,
            "max_context_bytes": limits::MAX_CONTEXT_BYTES,
            "max_json_depth": limits::MAX_JSON_DEPTH,
            "max_recent_actions": limits::MAX_RECENT_ACTIONS,
            "max_action_bytes": limits::MAX_ACTION_BYTES,
            "max_action_details_bytes": limits::MAX_ACTION_DETAILS_BYTES,
            "max_source_field_bytes": limits::MAX_SOURCE_FIELD_BYTES,
            "max_labels": limits::MAX_LABELS,
            "max_label_key_bytes": limits::MAX_LABEL_KEY_BYTES,
            "max_label_value_bytes": limits::MAX_LABEL_VALUE_BYTES,
            "max_gpus": limits::MAX_GPUS,
            "max_fingerprint_entries": limits::MAX_FINGERPRINT_ENTRIES,
            "max_fingerprint_entry_bytes": limits::MAX_FINGERPRINT_ENTRY_BYTES,
        },
        "run": {
            "max_run_field_bytes": limits::MAX_RUN_FIELD_BYTES,
            "max_metrics": limits::MAX_METRICS,
            "max_metric_name_bytes": limits::MAX_METRIC_NAME_BYTES,
            "max_run_message_bytes": limits::MAX_RUN_MESSAGE_BYTES,
            "max_rank": limits::MAX_RANK,
            "min_interval_secs": limits::MIN_INTERVAL_SECS,
            "max_interval_secs": limits::MAX_INTERVAL_SECS,
            "min_stuck_after_secs": limits::MIN_STUCK_AFTER_SECS,
            "max_stuck_after_secs": limits::MAX_STUCK_AFTER_SECS,
        },
        "scrub": {
            "default_secret_keys": scrub::DEFAULT_SECRET_KEYS,
            "last_word_only": scrub::LAST_WORD_ONLY,
            "singular_only": scrub::SINGULAR_ONLY,
            "tokenizer_words": scrub::TOKENIZER_WORDS,
        },
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/limits.json");
    let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    if std::env::var_os("DIAGD_UPDATE_SHARED").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        stored, text,
        "tests/data/limits.json differs from the server's limits: regenerate it with \
         DIAGD_UPDATE_SHARED=1 cargo test --test shared_limits, then bring the Python client's \
         copies in line (its test_shared_limits.py checks them)"
    );
}
