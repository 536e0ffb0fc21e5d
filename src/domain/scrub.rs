//! Scrubbing secrets before storage: values whose key looks secret (a
//! password, a token, an API key, a cookie…) in a log's context, labels and
//! action details become "[redacted]". Keys are compared word by word
//! (`hf_token`, `HF-Token`, `hfToken` all hold the word `token`), so ML
//! keys such as `tokenizer` or `max_tokens` are kept.

use std::collections::BTreeMap;

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

/// Replaces secret-looking values.
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// Normalised key patterns (words joined by `_`).
    patterns: Vec<String>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new(&[])
    }
}

impl Scrubber {
    /// The default secret keys plus `extra` ones.
    pub fn new(extra: &[String]) -> Scrubber {
        let mut patterns: Vec<String> = DEFAULT_SECRET_KEYS
            .iter()
            .map(|k| normalise(k))
            .chain(extra.iter().map(|k| normalise(k)))
            .filter(|k| !k.is_empty())
            .collect();
        patterns.sort();
        patterns.dedup();
        Scrubber { patterns }
    }

    /// Whether `key` looks secret: one of the patterns occurs in it as whole
    /// words.
    pub fn is_secret(&self, key: &str) -> bool {
        let key = format!("_{}_", normalise(key));
        self.patterns
            .iter()
            .any(|p| key.contains(&format!("_{p}_")))
    }

    /// Scrubs a log's context, labels and recent actions' details.
    pub fn scrub_log(&self, log: &mut NewLog) {
        self.scrub_object(&mut log.context);
        self.scrub_labels(&mut log.source.labels);
        for action in &mut log.recent_actions {
            self.scrub_object(&mut action.details);
        }
    }

    /// Scrubs an action's details and labels.
    pub fn scrub_action(&self, action: &mut NewAction) {
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

    fn scrub_value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => self.scrub_object(map),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            _ => {}
        }
    }

    fn scrub_labels(&self, labels: &mut BTreeMap<String, String>) {
        for (key, value) in labels.iter_mut() {
            if self.is_secret(key) {
                *value = REDACTED.into();
            }
        }
    }
}

/// Lower-case words joined by `_`: splits on non-alphanumerics and on
/// lower→upper case changes (`hfToken` → `hf_token`).
fn normalise(key: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words.join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_found_word_by_word() {
        let s = Scrubber::default();
        for key in [
            "password",
            "Password",
            "DB_PASSWORD",
            "hf_token",
            "HF-Token",
            "hfToken",
            "apiKey",
            "api-key",
            "X-Api-Key",
            "Authorization",
            "aws_secret_access_key",
            "private_key",
            "cookie",
            "access_token",
            "client_secret",
        ] {
            assert!(s.is_secret(key), "{key}");
        }
        for key in [
            "tokenizer",
            "max_tokens",
            "model",
            "batch_size",
            "author",
            "keyboard",
            "tokens_per_second",
        ] {
            assert!(!s.is_secret(key), "{key}");
        }
        assert!(Scrubber::new(&["wandb-key".into()]).is_secret("WANDB_KEY"));
    }

    #[test]
    fn nested_values_are_replaced_whole() {
        let mut object = serde_json::json!({
            "model": "llama",
            "env": {"HF_TOKEN": "hf_abc", "list": [{"apiKey": "k", "ok": 1}]},
            "credentials": {"user": "ana", "pass": "x"},
        });
        Scrubber::default().scrub_object(object.as_object_mut().unwrap());
        assert_eq!(
            object,
            serde_json::json!({
                "model": "llama",
                "env": {"HF_TOKEN": REDACTED, "list": [{"apiKey": REDACTED, "ok": 1}]},
                "credentials": REDACTED,
            })
        );
    }
}
