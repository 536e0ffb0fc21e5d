"""Secrets are redacted on the client before they leave the process, by key
and by value as diagd does it (`tokenizer`, `max_tokens` kept). A key only the
client knows as secret proves the redaction happened client-side; the vectors
in tests/data/scrub_vectors.json are shared with diagd's own scrubber tests."""

import json

import pytest

import diagd_client
from diagd_client import REDACTED, RecentAction, Source, is_secret_key
from diagd_client import scrub
from diagd_client.events import build_log

from conftest import REPO_ROOT

VECTORS = json.loads((REPO_ROOT / "tests" / "data" / "scrub_vectors.json").read_text())


def test_nested_secrets_are_redacted_and_ml_keys_kept(client, run_id):
    scrub.add_secret_keys(["wandb-key"])  # diagd itself does not know this key
    try:
        context = {
            "model": "llama-7b",
            "tokenizer": "llama",
            "max_tokens": 512,
            "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz",
            "env": {"DB_Password": "p", "list": [{"apiKey": "k", "ok": 1}], "WANDB_KEY": "w"},
            "credentials": {"user": "ana"},
        }
        result = client.report_error("redaction check", context=context, source=Source(run_id=run_id))
        stored = client.get_log(result.id).context
    finally:
        scrub._extra_secret_keys.clear()
    assert stored == {
        "model": "llama-7b",
        "tokenizer": "llama",
        "max_tokens": 512,
        "HF_TOKEN": REDACTED,
        "env": {"DB_Password": REDACTED, "list": [{"apiKey": REDACTED, "ok": 1}], "WANDB_KEY": REDACTED},
        "credentials": REDACTED,
    }


def test_token_shaped_text_in_messages_is_masked(client, run_id):
    result = client.report_error("login failed with hf_AbCdEfGhIjKlMnOpQrStUvWx", source=Source(run_id=run_id))
    assert client.get_log(result.id).message == f"login failed with {REDACTED}"


def test_key_words_match_like_the_server_scrubber():
    for key in ("password", "DB_PASSWORD", "hf_token", "HF-Token", "hfToken", "apiKey", "X-Api-Key",
                "Authorization", "aws_secret_access_key", "access_token", "client_secret"):
        assert is_secret_key(key), key
    for key in ("tokenizer", "max_tokens", "model", "batch_size", "author", "keyboard", "tokens_per_second"):
        assert not is_secret_key(key), key


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['kind']}:{json.dumps(v['input'])[:60]}")
def test_shared_vectors_match_the_server_scrubber(vector):
    if vector["kind"] == "key":
        assert is_secret_key(vector["input"]) is vector["secret"]
    elif vector["kind"] == "text":
        assert scrub.redact_text(vector["input"]) == vector["expected"]
    elif vector["kind"] == "value":
        assert scrub.redact(vector["input"]) == vector["expected"]
    else:
        pytest.fail(f"unknown vector kind {vector['kind']}")


def test_the_vector_file_is_read():
    assert len(VECTORS) > 40


def test_labels_actions_and_stack_traces_are_redacted_before_sending():
    hf = "hf_AbCdEfGhIjKlMnOpQrStUvWx"
    log = build_log(
        "token=" + hf,
        stack_trace=f"OSError: https://user:{hf}@hub.example/x?access_token={hf}",
        context={"env": [f"HF_TOKEN={hf}"], "argv": ["--token", hf], "tokenizer": "llama"},
        source=Source(labels={"HFToken": hf, "team": "nlp", "note": f"key {hf}"}),
        recent_actions=[RecentAction("login", {"HFToken": hf, "user": "ana"})],
    )
    assert hf not in repr(log)
    assert log.message == f"token={REDACTED}"
    assert log.stack_trace == f"OSError: https://user:{REDACTED}@hub.example/x?access_token={REDACTED}"
    assert log.context == {"env": [f"HF_TOKEN={REDACTED}"], "argv": ["--token", REDACTED], "tokenizer": "llama"}
    assert log.source.labels == {"HFToken": REDACTED, "team": "nlp", "note": f"key {REDACTED}"}
    assert log.recent_actions[0].details == {"HFToken": REDACTED, "user": "ana"}
