"""Client-side redaction: secrets become "[redacted]" before a log or an action
leaves the process. The rules mirror diagd's own scrubber (src/domain/scrub.rs);
tests/data/scrub_vectors.json at the repository root is read by the tests of
both, so the two stay in step.

- By key: a value whose key looks secret is replaced whole (dicts and lists
  under it included). Keys are split into lower-case words (on punctuation, on
  lower→upper case changes, at the end of an acronym and between letters and
  digits: `HFToken` → hf, token; `PASSWORD1` → password, 1); a secret pattern
  must occur as whole words, its last word also in the plural (`passwords`,
  `apiKeys`). `token` counts only as the last word and only singular, so
  `tokenizer`, `max_tokens`, `num_tokens` and `token_type_ids` are kept, and
  not after a tokenizer word (`pad_token`, `eos_token`, `next_token`,
  `decoder_start_token`…); `auth` counts only as the last word (`auth`,
  `http_auth`, `auths`), so `auth_type`, `auth_method` and `author` are kept.
- By value: in every string (messages, stack traces, context values, labels,
  action names and details), well-known token shapes (Hugging Face `hf_…`,
  OpenAI/Anthropic `sk-…`, AWS `AKIA…`, GitHub `ghp_…`/`github_pat_…`, Slack
  `xox?-…`, JWTs), `Bearer …`, a URL's `user:password@` and the value of
  `key=value` / `key: value` pairs, query parameters and `--flag value`
  arguments with a secret-looking key are replaced, unless the value is code:
  a name or dotted name called or indexed (`token = tokenizer(text)`,
  `password = getpass.getpass()`, `api_key = os.environ["KEY"]` in a
  traceback are kept; quoted literals and bare values are not). In a list,
  the element after a secret-looking `--flag` is replaced too (argv)."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping

REDACTED = "[redacted]"

# Same list as diagd's DEFAULT_SECRET_KEYS (tests/test_shared_limits.py checks it).
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
    "auth_header",
    "auth_key",
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

# Same as diagd's LAST_WORD_ONLY: secret only as a key's last word (numbers aside).
LAST_WORD_ONLY = ("token", "auth")
# Same as diagd's SINGULAR_ONLY: of LAST_WORD_ONLY, never in the plural.
SINGULAR_ONLY = ("token",)
# Same as diagd's TOKENIZER_WORDS: before a last word `token`, a tokenizer's or
# a language model's token, not a credential (`pad_token`, `next_token`).
TOKENIZER_WORDS = (
    "bos", "eos", "pad", "unk", "mask", "sep", "cls", "eot", "eod", "next", "prev", "previous",
    "special", "start", "end", "stop", "new", "last", "first", "input", "output",
)

_extra_secret_keys: List[str] = []

# The same patterns as src/domain/scrub.rs.
_TOKEN_SHAPES = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{20,}"
    r"|sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
)
_BEARER = re.compile(r"\b(?P<word>(?i:bearer)[ \t]+)(?P<token>[A-Za-z0-9._~+/-]+=*)")
_URL_USERINFO = re.compile(r"\b(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/?#@]*):(?P<password>[^\s/?#]+)@")
_PAIR = re.compile(
    r"""\b(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P<sep>["']?[ \t]*[:=][ \t]*)"""
    r"""(?P<value>\[redacted\]|"[^"\n]*"|'[^'\n]*'"""
    r"""|(?i:bearer|basic|token)[ \t]+(?:\[redacted\]|[^\s&,;"'<>()\[\]{}]+)"""
    r"""|[^\s&,;"'<>()\[\]{}:=][^\s&,;"'<>()\[\]{}]*)"""
)
_FLAG_VALUE = re.compile(
    r"""(?P<flag>--[A-Za-z][A-Za-z0-9_-]{0,63})(?P<sep>[ \t]+)"""
    r"""(?P<value>\[redacted\]|"[^"\n]*"|'[^'\n]*'|[^\s"'-][^\s"']*)"""
)
_CODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_FLAG = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]{0,63}")


def key_words(key: str) -> List[str]:
    """A key's lower-case words (`HFToken` → hf, token; `X-Api-Key` → x, api, key)."""
    chars = str(key)
    words: List[str] = []
    current = ""
    for i, char in enumerate(chars):
        if not char.isalnum():
            if current:
                words.append(current)
                current = ""
            continue
        if current:
            previous = chars[i - 1]
            next_lower = i + 1 < len(chars) and chars[i + 1].islower()
            boundary = (
                (char.isupper() and (previous.islower() or previous.isnumeric()))
                or (char.isupper() and previous.isupper() and next_lower)
                or char.isnumeric() != previous.isnumeric()
            )
            if boundary:
                words.append(current)
                current = ""
        current += char.lower()
    if current:
        words.append(current)
    return words


def normalise_key(key: str) -> str:
    """Lower-case words joined by "_" (`hfToken` → `hf_token`, `X-Api-Key` → `x_api_key`)."""
    return "_".join(key_words(key))


def add_secret_keys(keys: Iterable[str]) -> None:
    """Adds keys (any spelling) to redact in this process, beyond the defaults."""
    for key in keys:
        pattern = normalise_key(key)
        if pattern and pattern not in _extra_secret_keys:
            _extra_secret_keys.append(pattern)


def _pattern_matches(pattern: List[str], key: List[str]) -> bool:
    if len(pattern) == 1 and pattern[0] in LAST_WORD_ONLY:
        word = pattern[0]
        words = [w for w in key if not w.isnumeric()]
        if not words:
            return False
        last = words[-1]
        if not (last == word or (word not in SINGULAR_ONLY and last == word + "s")):
            return False
        return not (word == "token" and len(words) > 1 and words[-2] in TOKENIZER_WORDS)
    *init, last = pattern
    size = len(pattern)
    for start in range(len(key) - size + 1):
        window = key[start : start + size]
        if window[:-1] == init and (window[-1] == last or window[-1] == last + "s"):
            return True
    return False


def is_secret_key(key: str) -> bool:
    """True when one of the secret patterns occurs in `key` as whole words."""
    words = key_words(key)
    patterns = (key_words(p) for p in (*DEFAULT_SECRET_KEYS, *_extra_secret_keys))
    return any(p and _pattern_matches(p, words) for p in patterns)


def _looks_random(token: str) -> bool:
    """A digit, or both upper- and lower-case letters (`sk-learn-…` has neither)."""
    return any(c in "0123456789" for c in token) or (
        any("A" <= c <= "Z" for c in token) and any("a" <= c <= "z" for c in token)
    )


def _shape(match: "re.Match[str]") -> str:
    token = match.group(0)
    for prefix in ("hf_", "sk-"):
        if token.startswith(prefix) and not _looks_random(token[len(prefix) :]):
            return token
    return REDACTED


def _bearer(match: "re.Match[str]") -> str:
    return match.group("word") + REDACTED if _looks_random(match.group("token")) else match.group(0)


def _pairs(text: str) -> str:
    def replace(match: "re.Match[str]") -> str:
        # Code (a name called or indexed: `tokenizer(text)`, `os.environ["X"]`) is kept.
        is_code = bool(_CODE_NAME.fullmatch(match.group("value"))) and text[match.end() : match.end() + 1] in ("(", "[")
        if is_secret_key(match.group("key")) and not is_code:
            value = REDACTED
        else:
            value = _pairs(match.group("value"))
        return match.group("key") + match.group("sep") + value

    return _PAIR.sub(replace, text)


def _flag_value(match: "re.Match[str]") -> str:
    if is_secret_key(match.group("flag")):
        return match.group("flag") + match.group("sep") + REDACTED
    return match.group(0)


def redact_text(text: str) -> str:
    """`text` with secrets found by their shape or by a secret-looking key next
    to them replaced; used on messages, stack traces and every string value."""
    text = _TOKEN_SHAPES.sub(_shape, text)
    text = _BEARER.sub(_bearer, text)
    text = _URL_USERINFO.sub(lambda m: m.group("head") + ":" + REDACTED + "@", text)
    text = _pairs(text)
    return _FLAG_VALUE.sub(_flag_value, text)


def _redact_list(items: Iterable[Any]) -> List[Any]:
    out: List[Any] = []
    after_secret_flag = False
    for item in items:
        if after_secret_flag and isinstance(item, str) and not item.startswith("-"):
            out.append(REDACTED)
            after_secret_flag = False
            continue
        after_secret_flag = isinstance(item, str) and bool(_FLAG.fullmatch(item)) and is_secret_key(item)
        out.append(redact(item))
    return out


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-keyed value replaced by "[redacted]"
    and every string scrubbed by `redact_text`; dicts (and mapping-like
    objects), lists and tuples are walked."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return _redact_list(value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_labels(labels: Mapping[str, str]) -> Dict[str, str]:
    """Labels with secret-keyed values replaced and the others scrubbed as text."""
    return {k: (REDACTED if is_secret_key(k) else redact_text(v)) for k, v in labels.items()}

