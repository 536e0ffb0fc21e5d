//! Error types for errors known only by their text: which of
//! [`ErrorType`]'s kinds a log is when it arrives without diagd's client to
//! type it (an OpenTelemetry log record: `exception.type`,
//! `exception.message`, `exception.stacktrace`, or just a body).
//!
//! This is a port of the Python client's classification,
//! `clients/python/src/diagd_client/classify.py`: `TABLE` has the same
//! rows as its `CLASSIFICATION_TABLE`, in the same order, with the same
//! names, patterns and frames. **The two tables must be kept in step**: a
//! row changed there is changed here, or the same error gets one type from
//! the client and another from the server.
//!
//! The order of matching is the client's: what the error says about itself
//! comes before where it was raised. The rows are tried in order on
//! exception type names and messages, across the whole chain; only when no
//! row matches are they tried in order on traceback frames (function names,
//! file path fragments); [`ErrorType::Other`] when nothing matches. (A
//! missing `config.json` raised inside `configuration_utils.py` is
//! MODEL_LOADING by its message, not CONFIGURATION by its frame.) The
//! client's last step, the phase (`phase("training")`), has no counterpart:
//! the server does not know what the program was doing.
//!
//! What is read:
//!
//! - Exception names: the given type, and the type of every exception line
//!   of the stack trace's Python traceback blocks — the first unindented
//!   line after a block's frames, `a.b.Type: message` or `a.b.Type`, chained
//!   blocks being separated by "The above exception was the direct
//!   cause…" / "During handling of the above exception…". Lines outside a
//!   traceback block are never exception lines, so a Java, Go or Rust trace
//!   contributes nothing but what is given beside it.
//! - Messages: the given message, and each exception line's message with
//!   the lines after it up to the next block (Hub errors span lines). The
//!   patterns are case-insensitive, like the client's `re.IGNORECASE`.
//! - Frames: lines `File "path", line N, in function` anywhere in the
//!   trace (also under an `ExceptionGroup`'s `|` margin), parsed by hand —
//!   this runs on every record at ingest. Backslashes in paths count as `/`.
//!   A function matches by its last dotted segment (a qualified
//!   `Trainer.training_step` is `training_step`).
//! - Only the first `STACK_TRACE_LIMIT` bytes of a stack trace.
//!
//! # Names without the class hierarchy
//!
//! The client matches a table name against every class of the exception's
//! MRO, by qualified name (`module.qualname`) or bare `__name__`. The
//! server sees one printed name, so it matches thus:
//!
//! 1. equal names match (`socket.gaierror` is `socket.gaierror`);
//! 2. a bare table name matches any name whose last segment it is
//!    (`ConnectionError` matches `requests.exceptions.ConnectionError`, as
//!    the bare `__name__` does in the client);
//! 3. a qualified table name matches a bare name equal to its last segment
//!    (`socket.timeout` matches `timeout`, `argparse.ArgumentError` matches
//!    `ArgumentError`): OpenTelemetry's Python SDK records
//!    `exception.type` as the bare class name, and the client would have
//!    seen the real class. Not for the bare `Error` (`configparser.Error`),
//!    which many modules define. A qualified name never matches a
//!    different module's (`foo.timeout` is not `socket.timeout`);
//! 4. a few well-known subclasses stand in for the MRO (`KNOWN_PARENTS`:
//!    the standard library's `ConnectionRefusedError` is a
//!    `ConnectionError`, `requests.exceptions.ReadTimeout` a
//!    `RequestException`…). Any other subclass matches only by its own
//!    name: a user's `class MyConfigError(pydantic.ValidationError)` that the
//!    client would type CONFIGURATION is OTHER here unless its message or
//!    frames say more.

use std::{borrow::Cow, sync::LazyLock};

use regex::{Regex, RegexBuilder};

use super::ErrorType;

/// How much of a stack trace is read, in bytes: enough for any real
/// traceback's exception lines (deep recursion is collapsed by Python),
/// and a bound on the work per record.
const STACK_TRACE_LIMIT: usize = 64 * 1024;

/// One row of the table; any one matching condition is enough.
struct Row {
    /// The type the row gives.
    error_type: ErrorType,
    /// Exception type names, qualified or bare (see the module comment).
    exception_names: &'static [&'static str],
    /// A case-insensitive pattern searched for in each message.
    message_pattern: Option<&'static str>,
    /// Frame function names, compared whole.
    frame_functions: &'static [&'static str],
    /// Fragments of frame file paths (with `/`), found anywhere in the path.
    frame_paths: &'static [&'static str],
}

/// `CLASSIFICATION_TABLE` of classify.py, row for row (keep them in step).
const TABLE: [Row; 8] = [
    Row {
        error_type: ErrorType::Oom,
        exception_names: &[
            "torch.cuda.OutOfMemoryError",
            "torch.OutOfMemoryError",
            "OutOfMemoryError",
            "MemoryError",
        ],
        message_pattern: Some(
            r"CUDA out of memory|out of memory|CUBLAS_STATUS_ALLOC_FAILED|OutOfMemory",
        ),
        frame_functions: &[],
        frame_paths: &[],
    },
    // The Hub could not be reached and the file is not in the local cache (a
    // subclass of EntryNotFoundError, hence before the next row).
    Row {
        error_type: ErrorType::Network,
        exception_names: &["LocalEntryNotFoundError", "OfflineModeIsEnabled"],
        message_pattern: None,
        frame_functions: &[],
        frame_paths: &[],
    },
    // The Hub answered: no such repository / file / revision, or no access
    // (HfHubHTTPError subclasses, hence before the NETWORK row).
    Row {
        error_type: ErrorType::ModelLoading,
        exception_names: &[
            "RepositoryNotFoundError",
            "GatedRepoError",
            "RevisionNotFoundError",
            "EntryNotFoundError",
            "RemoteEntryNotFoundError",
            "DisabledRepoError",
        ],
        message_pattern: Some(concat!(
            r"\b(401|403|404) Client Error[\s\S]*huggingface\.co|Repository Not Found for url|Entry Not Found for url|",
            r"Revision Not Found for url|gated repo|is not a valid model identifier",
        )),
        frame_functions: &[],
        frame_paths: &[],
    },
    Row {
        error_type: ErrorType::Network,
        exception_names: &[
            "ConnectionError",
            "TimeoutError",
            "socket.gaierror",
            "socket.herror",
            "socket.timeout",
            "urllib.error.URLError",
            "http.client.HTTPException",
            "ssl.SSLError",
            "requests.exceptions.RequestException",
            "urllib3.exceptions.HTTPError",
            "httpx.HTTPError",
            "huggingface_hub.utils._errors.HfHubHTTPError",
            "huggingface_hub.errors.HfHubHTTPError",
            "HfHubHTTPError",
            "torch.distributed.DistNetworkError",
            "DistNetworkError",
            "torch.distributed.DistBackendError",
            "DistBackendError",
        ],
        message_pattern: Some(concat!(
            r"connection (refused|reset|aborted|timed out)|name or service not known|",
            r"temporary failure in name resolution|couldn't connect|could not connect|",
            r"max retries exceeded|rate limit|too many requests|HTTP Error (429|5\d\d)|",
            r"\b(502|503|504) (Bad Gateway|Service Unavailable|Gateway Time-?out)|",
            r"\bNCCL (error|timeout|watchdog)|ProcessGroupNCCL|collective operation timeout|",
            r"\bc10d\b.*(timed out|timeout)",
        )),
        frame_functions: &[
            "hf_hub_download",
            "snapshot_download",
            "http_get",
            "urlopen",
        ],
        frame_paths: &[],
    },
    Row {
        error_type: ErrorType::Configuration,
        exception_names: &[
            "pydantic.ValidationError",
            "pydantic_core._pydantic_core.ValidationError",
            "jsonschema.exceptions.ValidationError",
            "omegaconf.errors.OmegaConfBaseException",
            "hydra.errors.HydraException",
            "argparse.ArgumentError",
            "yaml.YAMLError",
            "configparser.Error",
            "ConfigurationError",
        ],
        message_pattern: Some(
            r"invalid config|unrecognized arguments|configuration error|misconfigur|invalid value for --",
        ),
        frame_functions: &[],
        frame_paths: &[
            "training_args.py",
            "configuration_utils.py",
            "argparse.py",
            "hf_argparser.py",
        ],
    },
    Row {
        error_type: ErrorType::ModelLoading,
        exception_names: &["safetensors_rust.SafetensorError", "SafetensorError"],
        message_pattern: Some(concat!(
            r"Error\(s\) in loading state_dict|does not appear to have a file named|size mismatch for|",
            r"is not a valid model identifier|Unable to load weights|",
            r"No such file or directory: .*(checkpoint|\.safetensors|\.bin|\.pt|\.pth|\.ckpt)",
        )),
        frame_functions: &[
            "from_pretrained",
            "load_state_dict",
            "load_checkpoint",
            "_load_pretrained_model",
        ],
        frame_paths: &["safetensors"],
    },
    Row {
        error_type: ErrorType::Inference,
        exception_names: &[],
        message_pattern: None,
        frame_functions: &["generate"],
        frame_paths: &["transformers/pipelines/"],
    },
    Row {
        error_type: ErrorType::Training,
        exception_names: &[],
        message_pattern: Some(r"loss is nan|nan loss|non-finite loss"),
        frame_functions: &[
            "training_step",
            "_inner_training_loop",
            "backward",
            "optimizer_step",
        ],
        frame_paths: &["transformers/trainer.py", "lightning/pytorch/loops"],
    },
];

/// Each row's message pattern, compiled once, case-insensitive.
static MESSAGE_PATTERNS: LazyLock<[Option<Regex>; TABLE.len()]> = LazyLock::new(|| {
    TABLE.each_ref().map(|row| {
        row.message_pattern.map(|pattern| {
            RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
                .expect("valid regex")
        })
    })
});

/// Well-known exception classes and the parent under which the table knows
/// them (the client finds the parent in the MRO; the server cannot).
/// Printed names, as a traceback shows them (builtins bare).
const KNOWN_PARENTS: &[(&str, &str)] = &[
    ("ConnectionRefusedError", "ConnectionError"),
    ("ConnectionResetError", "ConnectionError"),
    ("ConnectionAbortedError", "ConnectionError"),
    ("BrokenPipeError", "ConnectionError"),
    ("http.client.RemoteDisconnected", "ConnectionError"),
    ("http.client.IncompleteRead", "http.client.HTTPException"),
    ("http.client.BadStatusLine", "http.client.HTTPException"),
    ("urllib.error.HTTPError", "urllib.error.URLError"),
    ("ssl.SSLCertVerificationError", "ssl.SSLError"),
    ("ssl.SSLEOFError", "ssl.SSLError"),
    (
        "requests.exceptions.HTTPError",
        "requests.exceptions.RequestException",
    ),
    (
        "requests.exceptions.Timeout",
        "requests.exceptions.RequestException",
    ),
    (
        "requests.exceptions.ReadTimeout",
        "requests.exceptions.RequestException",
    ),
    (
        "requests.exceptions.ChunkedEncodingError",
        "requests.exceptions.RequestException",
    ),
    (
        "requests.exceptions.TooManyRedirects",
        "requests.exceptions.RequestException",
    ),
    (
        "urllib3.exceptions.MaxRetryError",
        "urllib3.exceptions.HTTPError",
    ),
    (
        "urllib3.exceptions.NewConnectionError",
        "urllib3.exceptions.HTTPError",
    ),
    (
        "urllib3.exceptions.ReadTimeoutError",
        "urllib3.exceptions.HTTPError",
    ),
    (
        "urllib3.exceptions.ProtocolError",
        "urllib3.exceptions.HTTPError",
    ),
];

/// The first line of a Python traceback block.
const TRACEBACK_HEADER: &str = "Traceback (most recent call last):";

/// The lines that separate the blocks of a chained traceback.
const CHAIN_MARKERS: &[&str] = &[
    "The above exception was the direct cause",
    "During handling of the above exception",
];

/// The error type of an error known only by its text: its exception type
/// (qualified or bare, may be empty), its message, and its stack trace
/// (a Python traceback or any text; may be empty).
pub fn classify(exception_type: &str, message: &str, stack_trace: &str) -> ErrorType {
    let mut verdict = Verdict::default();
    verdict.exception(exception_type.trim(), message);
    if !verdict.settled() {
        read_stack_trace(head(stack_trace), &mut verdict);
    }
    verdict.error_type()
}

/// The best rows found so far (indexes into `TABLE`; `TABLE.len()` for
/// none): the first row any name or message matches, and the first row any
/// frame matches.
struct Verdict {
    by_text: usize,
    by_frame: usize,
}

impl Default for Verdict {
    fn default() -> Self {
        Self {
            by_text: TABLE.len(),
            by_frame: TABLE.len(),
        }
    }
}

impl Verdict {
    /// Counts an exception's name and message (either may be empty).
    fn exception(&mut self, name: &str, message: &str) {
        self.by_text = (0..self.by_text)
            .find(|&row| names_match(&TABLE[row], name) || message_matches(row, message))
            .unwrap_or(self.by_text);
    }

    /// Counts a frame (needed only while no name or message has matched).
    fn frame(&mut self, path: &str, function: &str) {
        if self.by_text < TABLE.len() || self.by_frame == 0 {
            return;
        }
        let path = if path.contains('\\') {
            Cow::Owned(path.replace('\\', "/"))
        } else {
            Cow::Borrowed(path)
        };
        let function = function.rsplit('.').next().unwrap_or(function);
        self.by_frame = (0..self.by_frame)
            .find(|&row| {
                let row = &TABLE[row];
                row.frame_functions.contains(&function)
                    || row.frame_paths.iter().any(|p| path.contains(p))
            })
            .unwrap_or(self.by_frame);
    }

    /// Whether nothing read later can change the answer (the first row
    /// matched by name or message).
    fn settled(&self) -> bool {
        self.by_text == 0
    }

    fn error_type(&self) -> ErrorType {
        let row = if self.by_text < TABLE.len() {
            self.by_text
        } else {
            self.by_frame
        };
        TABLE
            .get(row)
            .map_or(ErrorType::Other, |row| row.error_type)
    }
}

/// Whether `row` lists the exception `name` (see the module comment).
fn names_match(row: &Row, name: &str) -> bool {
    if name.is_empty() || row.exception_names.is_empty() {
        return false;
    }
    let printed = name.strip_prefix("builtins.").unwrap_or(name);
    let parent = KNOWN_PARENTS
        .iter()
        .find(|(child, _)| *child == printed)
        .map(|(_, parent)| *parent);
    row.exception_names
        .iter()
        .any(|entry| same_name(entry, name) || parent.is_some_and(|p| same_name(entry, p)))
}

/// Whether the table's `entry` names the exception printed as `seen`.
fn same_name(entry: &str, seen: &str) -> bool {
    if entry == seen {
        return true;
    }
    match (entry.rsplit_once('.'), seen.rsplit_once('.')) {
        (None, Some((_, bare))) => bare == entry,
        (Some((_, bare)), None) => bare == seen && seen != "Error",
        _ => false,
    }
}

/// Whether row `row`'s pattern is found in `message`.
fn message_matches(row: usize, message: &str) -> bool {
    !message.is_empty()
        && MESSAGE_PATTERNS[row]
            .as_ref()
            .is_some_and(|pattern| pattern.is_match(message))
}

/// The first `STACK_TRACE_LIMIT` bytes of `text`, cut at a character.
fn head(text: &str) -> &str {
    super::fingerprint::head(text, STACK_TRACE_LIMIT)
}

/// Where the reader of a stack trace is.
enum State {
    /// Not in a traceback block.
    Outside,
    /// In a block's frames, before its exception line.
    Frames,
    /// After a block's exception line: its name, and where its message
    /// starts and (so far) ends in the text.
    Message {
        name_start: usize,
        name_end: usize,
        start: usize,
        end: usize,
    },
}

/// Counts every exception line (with its message) and frame of `text`.
fn read_stack_trace(text: &str, verdict: &mut Verdict) {
    let mut state = State::Outside;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line_end = line_start + line.len();
        let header = line.trim_end() == TRACEBACK_HEADER;
        let marker = CHAIN_MARKERS.iter().any(|m| line.starts_with(m));
        if let State::Message {
            name_start,
            name_end,
            start,
            end,
        } = state
        {
            if !(header || marker) {
                state = State::Message {
                    name_start,
                    name_end,
                    start,
                    end: line_end,
                };
                continue;
            }
            verdict.exception(&text[name_start..name_end], text[start..end].trim());
            if verdict.settled() {
                return;
            }
            state = State::Outside;
        }
        if header {
            state = State::Frames;
        } else if let Some((path, function)) = frame_line(line) {
            verdict.frame(path, function);
            state = State::Frames;
        } else if matches!(state, State::Frames)
            && !line.is_empty()
            && !line.starts_with(char::is_whitespace)
        {
            state = match exception_line(line) {
                Some((name, message)) => State::Message {
                    name_start: line_start,
                    name_end: line_start + name.len(),
                    start: line_end - message.len(),
                    end: line_end,
                },
                None => State::Outside,
            };
        }
    }
    if let State::Message {
        name_start,
        name_end,
        start,
        end,
    } = state
    {
        verdict.exception(&text[name_start..name_end], text[start..end].trim());
    }
}

/// A frame line, `File "path", line N, in function` (indented, perhaps
/// under an `ExceptionGroup`'s `|` margin): its path and function (the
/// fingerprint's parser, after the margin; a function of only blanks is
/// none).
fn frame_line(line: &str) -> Option<(&str, &str)> {
    super::fingerprint::frame_line(line.trim_start_matches(|c: char| c.is_whitespace() || c == '|'))
        .map(|(path, function)| (path, function.trim_end()))
        .filter(|(_, function)| !function.is_empty())
}

/// An exception line, `a.b.Type` or `a.b.Type: message`: its type, and the
/// rest of the line after the colon (empty without one). Names may hold
/// `<locals>` parts; the last part starts with a letter or `_`.
fn exception_line(line: &str) -> Option<(&str, &str)> {
    let end = line
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '<' | '>')))
        .unwrap_or(line.len());
    let name = &line[..end];
    let valid = !name.is_empty()
        && name.split('.').all(|part| !part.is_empty())
        && name
            .rsplit('.')
            .next()
            .and_then(|last| last.chars().next())
            .is_some_and(|c| c.is_alphabetic() || c == '_');
    if !valid {
        return None;
    }
    match &line[end..] {
        "" => Some((name, "")),
        rest => rest.strip_prefix(':').map(|message| (name, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::ErrorType::{
        Configuration, Inference, ModelLoading, Network, Oom, Other, Training,
    };

    /// A traceback whose only frame is `function` in `path`, raising `line`.
    fn raised_in(path: &str, function: &str, line: &str) -> String {
        format!("{TRACEBACK_HEADER}\n  File \"{path}\", line 7, in {function}\n    x()\n{line}\n")
    }

    const SITE: &str = "/usr/lib/python3.11/site-packages";

    #[test]
    fn the_table_has_a_pattern_that_compiles_for_every_row_that_names_one() {
        for (row, pattern) in TABLE.iter().zip(MESSAGE_PATTERNS.iter()) {
            assert_eq!(row.message_pattern.is_some(), pattern.is_some());
        }
    }

    #[test]
    fn the_oom_row_matches_by_type_and_by_message() {
        for name in [
            "torch.cuda.OutOfMemoryError",
            "torch.OutOfMemoryError",
            "OutOfMemoryError",
            "MemoryError",
        ] {
            assert_eq!(classify(name, "", ""), Oom, "{name}");
        }
        assert_eq!(
            classify("RuntimeError", "CUDA out of memory. Tried", ""),
            Oom
        );
        assert_eq!(
            classify(
                "RuntimeError",
                "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
                ""
            ),
            Oom
        );
    }

    #[test]
    fn the_hub_cache_miss_row_is_network_by_type() {
        assert_eq!(
            classify("huggingface_hub.errors.LocalEntryNotFoundError", "", ""),
            Network
        );
        assert_eq!(classify("OfflineModeIsEnabled", "", ""), Network);
    }

    #[test]
    fn the_hub_answer_row_is_model_loading_by_type_and_by_message() {
        for name in [
            "huggingface_hub.errors.RepositoryNotFoundError",
            "huggingface_hub.utils._errors.GatedRepoError",
            "RevisionNotFoundError",
            "EntryNotFoundError",
            "huggingface_hub.errors.RemoteEntryNotFoundError",
            "DisabledRepoError",
        ] {
            assert_eq!(classify(name, "", ""), ModelLoading, "{name}");
        }
        // A 404 from the Hub, its lines apart, under a network error's type.
        assert_eq!(
            classify(
                "requests.exceptions.HTTPError",
                "404 Client Error. (Request ID: Root=1-65f0c1a2-4d1b)\n\nEntry Not Found for url: \
                 https://huggingface.co/gpt2/resolve/main/adapter_config.json.",
                ""
            ),
            ModelLoading
        );
        assert_eq!(
            classify(
                "",
                "Cannot access gated repo for url https://huggingface.co/meta-llama/x",
                ""
            ),
            ModelLoading
        );
    }

    #[test]
    fn the_network_row_matches_by_type_message_and_frame() {
        for name in [
            "ConnectionError",
            "requests.exceptions.ConnectionError",
            "TimeoutError",
            "socket.gaierror",
            "socket.timeout",
            "urllib.error.URLError",
            "http.client.HTTPException",
            "ssl.SSLError",
            "urllib3.exceptions.HTTPError",
            "httpx.HTTPError",
            "huggingface_hub.errors.HfHubHTTPError",
        ] {
            assert_eq!(classify(name, "", ""), Network, "{name}");
        }
        for message in [
            "[Errno 111] Connection refused",
            "Temporary failure in name resolution",
            "We couldn't connect to 'https://huggingface.co' to load this file",
            "HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded",
            "HTTP Error 503: Service Unavailable",
            "502 Bad Gateway",
            "You are being rate limited",
        ] {
            assert_eq!(classify("OSError", message, ""), Network, "{message}");
        }
        let trace = raised_in(
            &format!("{SITE}/huggingface_hub/file_download.py"),
            "hf_hub_download",
            "OSError: [Errno 5] Input/output error",
        );
        assert_eq!(classify("", "", &trace), Network);
    }

    #[test]
    fn the_configuration_row_matches_by_type_message_and_frame() {
        for name in [
            "pydantic_core._pydantic_core.ValidationError",
            "jsonschema.exceptions.ValidationError",
            "omegaconf.errors.OmegaConfBaseException",
            "hydra.errors.HydraException",
            "argparse.ArgumentError",
            "configparser.Error",
            "ConfigurationError",
        ] {
            assert_eq!(classify(name, "", ""), Configuration, "{name}");
        }
        assert_eq!(
            classify("", "train.py: error: unrecognized arguments: --lr 3", ""),
            Configuration
        );
        // The client's "config validation" case: raised in training_args.py.
        let trace = raised_in(
            "/site-packages/transformers/training_args.py",
            "__post_init__",
            "ValueError: --fp16 and --bf16 cannot both be set",
        );
        assert_eq!(classify("ValueError", "", &trace), Configuration);
        // The client's "invalid value in configuration_utils.py" case.
        let trace = raised_in(
            &format!("{SITE}/transformers/configuration_utils.py"),
            "__init__",
            "ValueError: `rope_scaling` must be a dictionary with two fields",
        );
        assert_eq!(classify("", "", &trace), Configuration);
    }

    #[test]
    fn the_model_loading_row_matches_by_type_message_and_frame() {
        assert_eq!(
            classify("safetensors_rust.SafetensorError", "", ""),
            ModelLoading
        );
        // The client's "state_dict mismatch" case.
        assert_eq!(
            classify(
                "RuntimeError",
                "Error(s) in loading state_dict for LlamaForCausalLM: size mismatch for lm_head",
                ""
            ),
            ModelLoading
        );
        assert_eq!(
            classify(
                "FileNotFoundError",
                "[Errno 2] No such file or directory: 'out/checkpoint-500/optimizer.pt'",
                ""
            ),
            ModelLoading
        );
        // The client's "missing checkpoint in from_pretrained" case: only the
        // frame says it.
        let trace = raised_in(
            "/workspace/load.py",
            "from_pretrained",
            "FileNotFoundError: checkpoint-500/model.safetensors",
        );
        assert_eq!(classify("", "", &trace), ModelLoading);
        let trace = raised_in(
            &format!("{SITE}/safetensors/torch.py"),
            "load_file",
            "OSError: bad file",
        );
        assert_eq!(classify("", "", &trace), ModelLoading);
    }

    #[test]
    fn the_inference_row_matches_by_frame_only() {
        let trace = raised_in(
            "/workspace/serve.py",
            "generate",
            "IndexError: index out of range in self",
        );
        assert_eq!(
            classify("IndexError", "index out of range in self", &trace),
            Inference
        );
        let trace = raised_in(
            &format!("{SITE}/transformers/pipelines/text_generation.py"),
            "__call__",
            "KeyError: 'x'",
        );
        assert_eq!(classify("", "", &trace), Inference);
    }

    #[test]
    fn the_training_row_matches_by_message_and_frame_but_has_no_phase() {
        assert_eq!(classify("", "Loss is NaN at step 1200", ""), Training);
        let trace = raised_in(
            &format!("{SITE}/lightning/pytorch/loops/fit_loop.py"),
            "run",
            "ValueError: labels have shape (8,) but logits (8, 2, 5)",
        );
        assert_eq!(classify("", "", &trace), Training);
        let trace = raised_in(
            "/workspace/train.py",
            "training_step",
            "ValueError: labels have shape (8,) but logits (8, 2, 5)",
        );
        assert_eq!(classify("", "", &trace), Training);
        // The client types this by its phase("training"); the server has none.
        assert_eq!(
            classify(
                "ValueError",
                "labels have shape (8,) but logits (8, 2, 5)",
                ""
            ),
            Other
        );
    }

    #[test]
    fn a_missing_config_json_in_configuration_utils_is_model_loading_by_its_message() {
        // The client's "from_pretrained of a local dir without config.json".
        let trace = format!(
            "{TRACEBACK_HEADER}
  File \"/workspace/app.py\", line 3, in <module>
    model = AutoModel.from_pretrained(\"./my-model\")
  File \"{SITE}/transformers/models/auto/auto_factory.py\", line 1, in from_pretrained
  File \"{SITE}/transformers/models/auto/configuration_auto.py\", line 1, in from_pretrained
  File \"{SITE}/transformers/configuration_utils.py\", line 1, in _get_config_dict
  File \"{SITE}/transformers/utils/hub.py\", line 1, in cached_file
OSError: ./my-model does not appear to have a file named config.json. Checkout 'https://huggingface.co/./my-model/tree/None' for available files.
"
        );
        assert_eq!(classify("", "", &trace), ModelLoading);
        // Without the message the frames decide, in row order: CONFIGURATION
        // (configuration_utils.py) comes before MODEL_LOADING (from_pretrained).
        let frames_only = trace.replace("does not appear to have a file named", "lacks");
        assert_eq!(classify("", "", &frames_only), Configuration);
    }

    #[test]
    fn local_entry_not_found_is_network_though_entry_not_found_is_model_loading() {
        assert_eq!(classify("EntryNotFoundError", "", ""), ModelLoading);
        assert_eq!(classify("LocalEntryNotFoundError", "", ""), Network);
        // The client's "hub offline cache miss wrapped by transformers".
        let trace = format!(
            "{TRACEBACK_HEADER}
  File \"{SITE}/huggingface_hub/file_download.py\", line 1, in hf_hub_download
huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the file on the Hub and we cannot find the requested files in the local cache. Please check your connection and try again.

The above exception was the direct cause of the following exception:

{TRACEBACK_HEADER}
  File \"{SITE}/transformers/configuration_utils.py\", line 1, in _get_config_dict
  File \"{SITE}/transformers/utils/hub.py\", line 4, in cached_file
OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files.
"
        );
        assert_eq!(classify("OSError", "", &trace), Network);
    }

    #[test]
    fn a_hub_401_wrapped_by_transformers_is_model_loading_across_the_chain() {
        let trace = format!(
            "{TRACEBACK_HEADER}
  File \"{SITE}/huggingface_hub/file_download.py\", line 1, in hf_hub_download
huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. (Request ID: Root=1-65f0c1a2-77aa)

Repository Not Found for url: https://huggingface.co/acme/llama-internal/resolve/main/config.json.
Please make sure you specified the correct `repo_id` and `repo_type`.
Invalid username or password.

The above exception was the direct cause of the following exception:

{TRACEBACK_HEADER}
  File \"{SITE}/transformers/configuration_utils.py\", line 1, in _get_config_dict
  File \"{SITE}/transformers/utils/hub.py\", line 4, in cached_file
OSError: acme/llama-internal is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'
"
        );
        assert_eq!(classify("OSError", "", &trace), ModelLoading);
        // The multi-line message alone, its type unknown to the table.
        let renamed = trace
            .replace("RepositoryNotFoundError", "SomeHubError")
            .replace("is not a valid model identifier", "is unknown");
        assert_eq!(classify("", "", &renamed), ModelLoading);
        // The client's "hub 503": HfHubHTTPError is NETWORK.
        let unavailable = raised_in(
            &format!("{SITE}/huggingface_hub/file_download.py"),
            "hf_hub_download",
            "huggingface_hub.errors.HfHubHTTPError: 503 Server Error: Service Unavailable for url: https://huggingface.co/gpt2/resolve/main/config.json",
        );
        assert_eq!(classify("", "", &unavailable), Network);
    }

    #[test]
    fn a_connection_error_causing_an_nccl_runtime_error_is_network() {
        let trace = "Traceback (most recent call last):
  File \"/usr/lib/python3.10/site-packages/torch/distributed/rendezvous.py\", line 189, in _create_c10d_store
    return TCPStore(
ConnectionError: rank 0 could not be reached at 10.0.0.4:29500

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"/workspace/train.py\", line 41, in <module>
    dist.init_process_group(\"nccl\")
RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1269, unhandled system error, NCCL version 2.14.3
";
        assert_eq!(
            classify(
                "RuntimeError",
                "NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1269",
                trace
            ),
            Network
        );
        let during = trace.replace(
            "The above exception was the direct cause of the following exception:",
            "During handling of the above exception, another exception occurred:",
        );
        assert_eq!(classify("RuntimeError", "", &during), Network);
        // A subclass the client finds by its MRO (ConnectionError), here by
        // the known parents.
        let refused = trace.replace("ConnectionError:", "ConnectionRefusedError:");
        assert_eq!(classify("RuntimeError", "", &refused), Network);
    }

    #[test]
    fn a_cuda_oom_traceback_is_oom_though_its_frames_say_training() {
        let trace = r#"Traceback (most recent call last):
  File "/workspace/train.py", line 142, in <module>
    main()
  File "/workspace/train.py", line 131, in main
    trainer.train()
  File "/usr/local/lib/python3.10/dist-packages/transformers/trainer.py", line 1539, in train
    return inner_training_loop(
           ^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/transformers/trainer.py", line 1809, in _inner_training_loop
    tr_loss_step = self.training_step(model, inputs)
  File "/usr/local/lib/python3.10/dist-packages/transformers/trainer.py", line 2654, in training_step
    loss = self.compute_loss(model, inputs)
  File "/usr/local/lib/python3.10/dist-packages/torch/nn/modules/module.py", line 1501, in _call_impl
    return forward_call(*args, **kwargs)
  File "/usr/local/lib/python3.10/dist-packages/torch/nn/functional.py", line 1858, in softmax
    ret = input.softmax(dim, dtype=dtype)
torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 75.02 GiB already allocated; 1.44 GiB free; 76.80 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF
"#;
        assert_eq!(classify("", "", trace), Oom);
        let renamed = trace
            .replace(
                "torch.cuda.OutOfMemoryError: CUDA out of memory.",
                "RuntimeError: CUDA error.",
            )
            .replace("reserved memory", "reserved bytes");
        assert_eq!(classify("", "", &renamed), Training);
        // Windows line ends read the same.
        assert_eq!(classify("", "", &trace.replace('\n', "\r\n")), Oom);
    }

    #[test]
    fn nccl_and_distributed_failures_are_network() {
        assert_eq!(
            classify(
                "RuntimeError",
                "[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE) ran for 600000 milliseconds before timing out.",
                ""
            ),
            Network
        );
        assert_eq!(classify("", "NCCL watchdog timeout on rank 3", ""), Network);
        assert_eq!(
            classify(
                "torch.distributed.DistBackendError",
                "NCCL communicator was aborted",
                ""
            ),
            Network
        );
        assert_eq!(
            classify("DistNetworkError", "The client socket has timed out", ""),
            Network
        );
    }

    #[test]
    fn empty_input_is_other() {
        assert_eq!(classify("", "", ""), Other);
        assert_eq!(classify("  ", "", "\n\n"), Other);
        assert_eq!(classify("KeyError", "'x'", ""), Other);
        assert_eq!(
            classify(
                "KeyError",
                "'x'",
                &raised_in("/app/x.py", "f", "KeyError: 'x'")
            ),
            Other
        );
    }

    #[test]
    fn a_non_python_trace_gives_neither_exception_lines_nor_frames() {
        let java = "java.lang.OutOfMemoryError: Java heap space
\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)
\tat com.acme.Loader.load(Loader.java:42)
";
        assert_eq!(classify("", "", java), Other);
        assert_eq!(
            classify("java.lang.OutOfMemoryError", "Java heap space", java),
            Oom
        );
        let node = "Error: connect ECONNREFUSED 127.0.0.1:5432
    at generate (/app/pipelines/generate.js:10:5)
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)
";
        assert_eq!(
            classify("Error", "connect ECONNREFUSED 127.0.0.1:5432", node),
            Other
        );
        let rust =
            "thread 'main' panicked at src/main.rs:5:9:\nConnectionError: not a Python line\n";
        assert_eq!(classify("", "", rust), Other);
    }

    #[test]
    fn bare_and_qualified_names_match_as_the_module_comment_says() {
        assert_eq!(
            classify("requests.exceptions.ConnectionError", "", ""),
            Network
        );
        assert_eq!(classify("mylib.TimeoutError", "", ""), Network);
        // Bare names as OpenTelemetry's Python SDK records them.
        assert_eq!(classify("gaierror", "", ""), Network);
        assert_eq!(classify("timeout", "", ""), Network);
        assert_eq!(classify("ArgumentError", "", ""), Configuration);
        assert_eq!(classify("SafetensorError", "", ""), ModelLoading);
        // Not another module's class of the same bare name, nor bare `Error`.
        assert_eq!(classify("foo.timeout", "", ""), Other);
        assert_eq!(classify("argparse.ArgumentTypeError", "", ""), Other);
        assert_eq!(classify("Error", "", ""), Other);
        // Known parents.
        assert_eq!(classify("ConnectionResetError", "", ""), Network);
        assert_eq!(classify("builtins.BrokenPipeError", "", ""), Network);
        assert_eq!(
            classify("urllib.error.HTTPError", "HTTP Error 404: Not Found", ""),
            Network
        );
        assert_eq!(
            classify(
                "requests.exceptions.ReadTimeout",
                "HTTPSConnectionPool(host='huggingface.co', port=443): Read timed out.",
                ""
            ),
            Network
        );
    }

    #[test]
    fn frames_match_in_row_order_not_frame_order() {
        // Innermost frame in a pipeline (INFERENCE), outer frame in
        // hf_hub_download (NETWORK): NETWORK's row comes first.
        let trace = format!(
            "{TRACEBACK_HEADER}
  File \"{SITE}/huggingface_hub/file_download.py\", line 1, in hf_hub_download
  File \"{SITE}/transformers/pipelines/base.py\", line 1, in __call__
ValueError: x
"
        );
        assert_eq!(classify("", "", &trace), Network);
    }

    #[test]
    fn frame_lines_are_read_by_hand_with_their_variants() {
        let windows = raised_in(
            r"C:\Python311\Lib\site-packages\transformers\pipelines\base.py",
            "__call__",
            "ValueError: x",
        );
        assert_eq!(classify("", "", &windows), Inference);
        let qualified = raised_in("/workspace/t.py", "Trainer.training_step", "ValueError: x");
        assert_eq!(classify("", "", &qualified), Training);
        // A SyntaxError's location is no frame (the client's extract_tb has
        // none for it).
        let syntax = format!(
            "{TRACEBACK_HEADER}
  File \"/workspace/run.py\", line 3, in <module>
    exec(src)
  File \"/site-packages/transformers/training_args.py\", line 1
    def f(:
          ^
SyntaxError: invalid syntax
"
        );
        assert_eq!(classify("", "", &syntax), Other);
        // An ExceptionGroup's frames count under its margin.
        let group = "  + Exception Group Traceback (most recent call last):
  |   File \"/workspace/serve.py\", line 9, in generate
  |     raise ExceptionGroup(\"eg\", [ValueError(1)])
  | ExceptionGroup: eg (1 sub-exception)
  +-+---------------- 1 ----------------
    | ValueError: 1
    +------------------------------------
";
        assert_eq!(classify("", "", group), Inference);
        assert_eq!(
            frame_line("  File \"a.py\", line 12, in f  "),
            Some(("a.py", "f"))
        );
        assert_eq!(frame_line("  File \"a.py\", line x, in f"), None);
        assert_eq!(frame_line("  File \"\", line 1, in f"), None);
    }

    #[test]
    fn exception_lines_are_dotted_names_with_an_optional_message() {
        assert_eq!(
            exception_line("a.b.Type: m: n"),
            Some(("a.b.Type", " m: n"))
        );
        assert_eq!(
            exception_line("KeyboardInterrupt"),
            Some(("KeyboardInterrupt", ""))
        );
        assert_eq!(
            exception_line("f.<locals>.MyError: x"),
            Some(("f.<locals>.MyError", " x"))
        );
        assert_eq!(exception_line("not an exception line"), None);
        assert_eq!(exception_line("a..b: x"), None);
        assert_eq!(exception_line("1Error: x"), None);
    }

    #[test]
    fn only_the_first_64_kib_of_a_stack_trace_are_read() {
        let frame = "  File \"/workspace/deep.py\", line 1, in recurse\n    recurse()\n";
        let padding = frame.repeat(STACK_TRACE_LIMIT / frame.len() + 1);
        let late = format!("{TRACEBACK_HEADER}\n{padding}MemoryError\n");
        assert_eq!(classify("", "", &late), Other);
        let early = format!("{TRACEBACK_HEADER}\n{frame}MemoryError\n");
        assert_eq!(classify("", "", &early), Oom);
        // The cut falls inside a character without harm.
        let wide = format!("x{}", "é".repeat(STACK_TRACE_LIMIT));
        assert!(!wide.is_char_boundary(STACK_TRACE_LIMIT));
        assert_eq!(head(&wide).len(), STACK_TRACE_LIMIT - 1);
        assert_eq!(classify("", "", &wide), Other);
    }
}
