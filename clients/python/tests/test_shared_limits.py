"""The client's copies of diagd's log limits, Heartbeat limits and secret-key lists
equal the server's: tests/data/limits.json is written from the server's constants
(diagd's own test tests/shared_limits.rs keeps it equal to them), and this test
compares the client's copies with it. The Heartbeat limits are compared once the
file has its "run" section (written from src/api/convert/runs.rs's constants, under
the names below); until then that test is skipped, saying why."""

import json

import pytest

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


def test_the_clients_heartbeat_limits_are_the_servers():
    if "run" not in SHARED:
        pytest.skip('tests/data/limits.json has no "run" section yet (tests/shared_limits.rs writes it)')
    assert {
        "max_run_field_bytes": convert.MAX_RUN_ID_BYTES,
        "max_metrics": convert.MAX_METRICS,
        "max_metric_name_bytes": convert.MAX_METRIC_NAME_BYTES,
        "max_run_message_bytes": convert.MAX_RUN_MESSAGE_BYTES,
        "max_rank": convert.MAX_RANK,
        "min_interval_secs": convert.MIN_HEARTBEAT_INTERVAL,
        "max_interval_secs": convert.MAX_HEARTBEAT_INTERVAL,
        "min_stuck_after_secs": convert.MIN_STUCK_AFTER,
        "max_stuck_after_secs": convert.MAX_STUCK_AFTER,
    } == SHARED["run"]
    assert convert.MAX_HOST_BYTES == convert.MAX_RUN_ID_BYTES  # one server limit for both
