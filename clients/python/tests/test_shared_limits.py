"""The client's copies of diagd's log limits and secret-key lists equal the server's:
tests/data/limits.json is written from the server's constants (diagd's own test
tests/shared_limits.rs keeps it equal to them), and this test compares the client's
copies with it."""

import json

from diagd_client import convert, scrub
from conftest import REPO_ROOT

SHARED = json.loads((REPO_ROOT / "tests" / "data" / "limits.json").read_text())


def test_the_clients_log_limits_are_the_servers():
    log = SHARED["log"]
    assert {
        "max_message_bytes": convert.MAX_MESSAGE_BYTES,
        "max_stack_trace_bytes": convert.MAX_STACK_TRACE_BYTES,
        "max_context_bytes": convert.MAX_CONTEXT_BYTES,
        "max_json_depth": convert.MAX_CONTEXT_DEPTH,
        "max_recent_actions": convert.MAX_RECENT_ACTIONS,
        "max_action_bytes": convert.MAX_ACTION_NAME_BYTES,
        "max_action_details_bytes": convert.MAX_ACTION_DETAILS_BYTES,
        "max_source_field_bytes": convert.MAX_SOURCE_FIELD_BYTES,
        "max_labels": convert.MAX_LABELS,
        "max_label_key_bytes": convert.MAX_LABEL_KEY_BYTES,
        "max_label_value_bytes": convert.MAX_LABEL_VALUE_BYTES,
        "max_gpus": convert.MAX_GPUS,
        "max_fingerprint_entries": convert.MAX_FINGERPRINT_ENTRIES,
        "max_fingerprint_entry_bytes": convert.MAX_FINGERPRINT_ENTRY_BYTES,
    } == log


def test_the_clients_secret_keys_are_the_servers():
    shared = SHARED["scrub"]
    assert list(scrub.DEFAULT_SECRET_KEYS) == shared["default_secret_keys"]
    assert list(scrub.LAST_WORD_ONLY) == shared["last_word_only"]
    assert list(scrub.SINGULAR_ONLY) == shared["singular_only"]
    assert list(scrub.TOKENIZER_WORDS) == shared["tokenizer_words"]
