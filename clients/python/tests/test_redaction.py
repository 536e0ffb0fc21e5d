"""Secrets are redacted on the client before they leave the process, word by
word as diagd does it (`tokenizer`, `max_tokens` kept). A key only the client
knows as secret proves the redaction happened client-side."""

import diagd_client
from diagd_client import REDACTED, Source, is_secret_key
from diagd_client import scrub


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
