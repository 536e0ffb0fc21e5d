"""Client-side redaction: values whose key looks secret become "[redacted]"
before a log leaves the process. The rule mirrors diagd's own scrubber
(src/domain/scrub.rs): keys are split into lower-case words (on punctuation and
on lower→upper case changes) and a secret pattern must occur as whole words, so
`HF_TOKEN`, `hf-token` and `hfToken` are secret while `tokenizer` and
`max_tokens` are kept. Nested dicts and lists are walked."""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Mapping

REDACTED = "[redacted]"

# Same list as diagd's DEFAULT_SECRET_KEYS.
DEFAULT_SECRET_KEYS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "set_cookie",
    "credential",
    "credentials",
    "private_key",
    "hf_token",
    "aws_secret_access_key",
    "access_key",
    "session_key",
    "client_secret",
    "bearer",
)

_extra_secret_keys: List[str] = []


def normalise_key(key: str) -> str:
    """Lower-case words joined by "_" (`hfToken` → `hf_token`, `X-Api-Key` → `x_api_key`)."""
    words: List[str] = []
    current = ""
    previous_lower = False
    for char in str(key):
        if not char.isalnum():
            if current:
                words.append(current)
                current = ""
            previous_lower = False
            continue
        if char.isupper() and previous_lower and current:
            words.append(current)
            current = ""
        previous_lower = char.islower() or char.isnumeric()
        current += char.lower()
    if current:
        words.append(current)
    return "_".join(words)


def add_secret_keys(keys: Iterable[str]) -> None:
    """Adds keys (any spelling) to redact in this process, beyond the defaults."""
    for key in keys:
        pattern = normalise_key(key)
        if pattern and pattern not in _extra_secret_keys:
            _extra_secret_keys.append(pattern)


def is_secret_key(key: str) -> bool:
    """True when one of the secret patterns occurs in `key` as whole words."""
    padded = f"_{normalise_key(key)}_"
    return any(f"_{normalise_key(p)}_" in padded for p in (*DEFAULT_SECRET_KEYS, *_extra_secret_keys))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-keyed value replaced by "[redacted]";
    dicts (and mapping-like objects), lists and tuples are walked."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


_SECRET_ASSIGNMENT = re.compile(r"(?i)\b(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,})")


def redact_text(text: str) -> str:
    """Text with well-known token shapes (Hugging Face `hf_…`, OpenAI-style `sk-…`)
    masked; used on messages and stack traces, where there are no keys to go by."""
    return _SECRET_ASSIGNMENT.sub(REDACTED, text)
