//! Scrubbing secrets before storage, everywhere user text is kept: a log's
//! message, stack trace, context, labels and recent actions, and recorded
//! actions (name, details, labels). Two rules:
//!
//! - By key: a value whose key looks secret (a password, a token, an API
//!   key, a cookie…) becomes "[redacted]" whole, objects and lists under it
//!   included (`secrets: {…}`, `credentials: […]`). Keys are compared word
//!   by word: `hf_token`, `HF-Token`, `hfToken`, `HFToken` all end in the
//!   word `token`; `PASSWORD1` holds `password`; a plural (`passwords`,
//!   `apiKeys`) counts like the singular. `token` counts only as the last
//!   word and only singular, so ML keys such as `tokenizer`, `max_tokens`,
//!   `num_tokens` or `token_type_ids` are kept, and not after a tokenizer
//!   word (`pad_token`, `eos_token`, `next_token`, `decoder_start_token`…);
//!   `auth` counts only as the last word (`auth`, `http_auth`, `auths`), so
//!   `auth_type`, `auth_method` and `author` are kept.
//! - By value: in every string, well-known token shapes (Hugging Face
//!   `hf_…`, OpenAI/Anthropic `sk-…`, AWS `AKIA…`, GitHub `ghp_…` and
//!   `github_pat_…`, Slack `xox?-…`, JWTs), `Bearer …`, the password of a
//!   URL's `user:password@`, and the value of `key=value` / `key: value`
//!   pairs, query parameters and `--flag value` arguments whose key looks
//!   secret (by the rule above) are replaced by "[redacted]" — unless the
//!   value is code: a name or dotted name called or indexed
//!   (`token = tokenizer(text)`, `password = getpass.getpass()`,
//!   `api_key = os.environ["KEY"]` in a traceback are kept; quoted literals
//!   and bare values are not). In a list, the element after a
//!   secret-looking `--flag` is replaced too (argv).
//!
//! The Python client (clients/python/src/diagd_client/scrub.py) applies the
//! same rules before sending; tests/data/scrub_vectors.json is read by the
//! tests of both, so the two stay in step.

use std::{collections::BTreeMap, sync::LazyLock};

use regex::{Captures, Regex};
use serde_json::{Map, Value};

use super::{NewAction, NewLog};

/// What a scrubbed value becomes.
pub const REDACTED: &str = "[redacted]";

/// Key words (or word sequences) that mark a value as secret.
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
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
];

/// Secret words that count only as a key's last word (numbers aside):
/// `access_token`, `HFToken`, `token2`, `http_auth` are secret,
/// `token_type_ids`, `auth_type` are not.
pub const LAST_WORD_ONLY: &[&str] = &["token", "auth"];

/// Of [`LAST_WORD_ONLY`], the words that never count in the plural:
/// `tokens`, `max_tokens` are not secret.
pub const SINGULAR_ONLY: &[&str] = &["token"];

/// Words that, just before a last word `token`, name a tokenizer's or a
/// language model's token rather than a credential: `pad_token`,
/// `eos_token`, `next_token`, `decoder_start_token` are not secret
/// (`access_token`, `auth_token`, `id_token`, `session_token` are).
pub const TOKENIZER_WORDS: &[&str] = &[
    "bos", "eos", "pad", "unk", "mask", "sep", "cls", "eot", "eod", "next", "prev", "previous",
    "special", "start", "end", "stop", "new", "last", "first", "input", "output",
];

/// Well-known shapes of API tokens and keys.
static TOKEN_SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:hf_[A-Za-z0-9]{20,}",
        r"|sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        r"|(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        r"|gh[pousr]_[A-Za-z0-9]{20,}",
        r"|github_pat_[A-Za-z0-9_]{20,}",
        r"|xox[abprs]-[A-Za-z0-9-]{10,}",
        r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
    ))
    .expect("valid regex")
});

/// `Bearer <token>`.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<word>(?i:bearer)[ \t]+)(?P<token>[A-Za-z0-9._~+/-]+=*)")
        .expect("valid regex")
});

/// `scheme://user:password@`.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/?#@]*):(?P<password>[^\s/?#]+)@")
        .expect("valid regex")
});

/// `key=value`, `key: value`, `"key": "value"`, `?key=value&…`.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"\b(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P<sep>["']?[ \t]*[:=][ \t]*)"#,
        r#"(?P<value>\[redacted\]|"[^"\n]*"|'[^'\n]*'"#,
        r#"|(?i:bearer|basic|token)[ \t]+(?:\[redacted\]|[^\s&,;"'<>()\[\]{}]+)"#,
        r#"|[^\s&,;"'<>()\[\]{}:=][^\s&,;"'<>()\[\]{}]*)"#,
    ))
    .expect("valid regex")
});

/// `--flag value` inside a string.
static FLAG_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<flag>--[A-Za-z][A-Za-z0-9_-]{0,63})(?P<sep>[ \t]+)"#,
        r#"(?P<value>\[redacted\]|"[^"\n]*"|'[^'\n]*'|[^\s"'-][^\s"']*)"#,
    ))
    .expect("valid regex")
});

/// A whole string that is a command-line flag (`--token`, `-p`).
static FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^--?[A-Za-z][A-Za-z0-9_-]{0,63}$").expect("valid regex"));

/// One secret key pattern, as lower-case words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pattern {
    words: Vec<String>,
    last_word_only: bool,
}

/// How a code value (called or indexed) starts: a name or dotted name.
static CODE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$").expect("valid regex")
});

impl Pattern {
    fn new(key: &str) -> Option<Pattern> {
        let words = key_words(key);
        if words.is_empty() {
            return None;
        }
        let last_word_only = words.len() == 1 && LAST_WORD_ONLY.contains(&words[0].as_str());
        Some(Pattern {
            words,
            last_word_only,
        })
    }

    /// Whether the pattern occurs in `key` (as words).
    fn matches(&self, key: &[String]) -> bool {
        if self.last_word_only {
            let word = &self.words[0];
            let mut words = key
                .iter()
                .filter(|w| !w.chars().all(char::is_numeric))
                .rev();
            let Some(last) = words.next() else {
                return false;
            };
            let singular = SINGULAR_ONLY.contains(&word.as_str());
            let matches =
                last == word || (!singular && last.strip_suffix('s').is_some_and(|s| s == word));
            return matches
                && !(word == "token"
                    && words
                        .next()
                        .is_some_and(|before| TOKENIZER_WORDS.contains(&before.as_str())));
        }
        let (init, last) = self.words.split_at(self.words.len() - 1);
        let last = &last[0];
        key.windows(self.words.len()).any(|window| {
            let (window_init, window_last) = window.split_at(init.len());
            window_init == init
                && (window_last[0] == *last
                    || window_last[0]
                        .strip_suffix('s')
                        .is_some_and(|singular| singular == last))
        })
    }
}

/// Replaces secret-looking values.
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// The secret key patterns.
    patterns: Vec<Pattern>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new(&[])
    }
}

impl Scrubber {
    /// The default secret keys plus `extra` ones.
    pub fn new(extra: &[String]) -> Scrubber {
        let mut patterns: Vec<Pattern> = DEFAULT_SECRET_KEYS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .filter_map(Pattern::new)
            .collect();
        patterns.sort();
        patterns.dedup();
        Scrubber { patterns }
    }

    /// Whether `key` looks secret: one of the patterns occurs in it as whole
    /// words (see the module comment).
    pub fn is_secret(&self, key: &str) -> bool {
        let words = key_words(key);
        self.patterns.iter().any(|p| p.matches(&words))
    }

    /// Scrubs a log's message, stack trace, context, labels and recent
    /// actions.
    pub fn scrub_log(&self, log: &mut NewLog) {
        log.message = self.scrub_text(&log.message);
        log.stack_trace = self.scrub_text(&log.stack_trace);
        self.scrub_object(&mut log.context);
        self.scrub_labels(&mut log.source.labels);
        for action in &mut log.recent_actions {
            action.action = self.scrub_text(&action.action);
            self.scrub_object(&mut action.details);
        }
    }

    /// Scrubs an action's name, details and labels.
    pub fn scrub_action(&self, action: &mut NewAction) {
        action.action = self.scrub_text(&action.action);
        self.scrub_object(&mut action.details);
        self.scrub_labels(&mut action.source.labels);
    }

    /// Scrubs a JSON object, nested objects and lists included.
    pub fn scrub_object(&self, object: &mut Map<String, Value>) {
        for (key, value) in object.iter_mut() {
            if self.is_secret(key) {
                *value = Value::String(REDACTED.into());
            } else {
                self.scrub_value(value);
            }
        }
    }

    /// Scrubs any JSON value: strings by [`Scrubber::scrub_text`], objects
    /// by key, lists element by element (after a secret `--flag`, the next
    /// string is replaced).
    pub fn scrub_value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => self.scrub_object(map),
            Value::Array(items) => {
                let mut after_secret_flag = false;
                for item in items.iter_mut() {
                    if after_secret_flag
                        && let Value::String(text) = item
                        && !text.starts_with('-')
                    {
                        *text = REDACTED.into();
                        after_secret_flag = false;
                        continue;
                    }
                    after_secret_flag = matches!(item, Value::String(text)
                        if FLAG.is_match(text) && self.is_secret(text));
                    self.scrub_value(item);
                }
            }
            Value::String(text) => *text = self.scrub_text(text),
            _ => {}
        }
    }

    /// `text` with secrets found by their shape or by a secret-looking key
    /// next to them replaced (see the module comment).
    pub fn scrub_text(&self, text: &str) -> String {
        let text = TOKEN_SHAPES.replace_all(text, |c: &Captures| {
            let token = &c[0];
            let body = token
                .strip_prefix("hf_")
                .or_else(|| token.strip_prefix("sk-"));
            match body {
                Some(body) if !looks_random(body) => token.to_string(),
                _ => REDACTED.to_string(),
            }
        });
        let text = BEARER.replace_all(&text, |c: &Captures| {
            if looks_random(&c["token"]) {
                format!("{}{REDACTED}", &c["word"])
            } else {
                c[0].to_string()
            }
        });
        let text =
            URL_USERINFO.replace_all(&text, |c: &Captures| format!("{}:{REDACTED}@", &c["head"]));
        let text = self.scrub_pairs(&text);
        FLAG_VALUE
            .replace_all(&text, |c: &Captures| {
                if self.is_secret(&c["flag"]) {
                    format!("{}{}{REDACTED}", &c["flag"], &c["sep"])
                } else {
                    c[0].to_string()
                }
            })
            .into_owned()
    }

    /// `key=value` pairs: the value of a secret key is replaced unless it
    /// is code (a name called or indexed: `tokenizer(text)`,
    /// `os.environ["X"]`), the value of another key is searched for pairs
    /// in turn (`opts: token=…`).
    fn scrub_pairs(&self, text: &str) -> String {
        PAIR.replace_all(text, |c: &Captures| {
            let is_code = CODE_NAME.is_match(&c["value"])
                && text[c.get(0).expect("whole match").end()..].starts_with(['(', '[']);
            let value = if self.is_secret(&c["key"]) && !is_code {
                REDACTED.to_string()
            } else {
                self.scrub_pairs(&c["value"])
            };
            format!("{}{}{value}", &c["key"], &c["sep"])
        })
        .into_owned()
    }

    fn scrub_labels(&self, labels: &mut BTreeMap<String, String>) {
        for (key, value) in labels.iter_mut() {
            *value = if self.is_secret(key) {
                REDACTED.into()
            } else {
                self.scrub_text(value)
            };
        }
    }
}

/// Whether a token-like string looks generated rather than a word: it holds
/// a digit, or both upper- and lower-case letters (`sk-learn-…` does not).
fn looks_random(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
        || (token.chars().any(|c| c.is_ascii_uppercase())
            && token.chars().any(|c| c.is_ascii_lowercase()))
}

/// A key's lower-case words: split on non-alphanumerics, on lower→upper
/// case changes (`hfToken`), at the end of an acronym (`HFToken` → `hf`,
/// `token`) and between letters and digits (`PASSWORD1` → `password`, `1`).
fn key_words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (c.is_uppercase() && (previous.is_lowercase() || previous.is_numeric()))
                || (c.is_uppercase() && previous.is_uppercase() && next_lower)
                || c.is_numeric() != previous.is_numeric();
            if boundary {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors shared with the Python client's tests.
    const VECTORS: &str = include_str!("../../tests/data/scrub_vectors.json");

    #[test]
    fn shared_vectors_hold() {
        let vectors: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
        assert!(vectors.len() > 40, "the vector file was read");
        let s = Scrubber::default();
        for vector in vectors {
            let input = &vector["input"];
            match vector["kind"].as_str().unwrap() {
                "key" => assert_eq!(
                    s.is_secret(input.as_str().unwrap()),
                    vector["secret"].as_bool().unwrap(),
                    "key {input}"
                ),
                "text" => assert_eq!(
                    s.scrub_text(input.as_str().unwrap()),
                    vector["expected"].as_str().unwrap(),
                    "text {input}"
                ),
                "value" => {
                    let mut value = input.clone();
                    s.scrub_value(&mut value);
                    assert_eq!(value, vector["expected"], "value {input}");
                }
                other => panic!("unknown vector kind {other}"),
            }
        }
    }

    #[test]
    fn keys_split_into_words() {
        assert_eq!(key_words("HFToken"), ["hf", "token"]);
        assert_eq!(key_words("APIToken"), ["api", "token"]);
        assert_eq!(key_words("hfToken"), ["hf", "token"]);
        assert_eq!(key_words("PASSWORD1"), ["password", "1"]);
        assert_eq!(key_words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(key_words("apiKeys"), ["api", "keys"]);
        assert_eq!(key_words("token_type_ids"), ["token", "type", "ids"]);
    }

    #[test]
    fn extra_keys_count_like_the_defaults() {
        let s = Scrubber::new(&["wandb-key".into()]);
        assert!(s.is_secret("WANDB_KEY"));
        assert!(s.is_secret("wandbKeys"));
        assert_eq!(
            s.scrub_text("WANDB_KEY=w-123 ok"),
            "WANDB_KEY=[redacted] ok"
        );
        assert!(!Scrubber::default().is_secret("WANDB_KEY"));
    }

    #[test]
    fn scrubbing_is_idempotent() {
        let s = Scrubber::default();
        let text = "Authorization: Bearer abc123DEF token=x https://u:p@h/?api_key=k --password pw";
        let once = s.scrub_text(text);
        assert_eq!(s.scrub_text(&once), once);
        assert!(!once.contains("abc123DEF") && !once.contains("pw"));
    }
}
