//! Fingerprints: which logs are "the same error" (issue #13, first part —
//! the rule itself; storing groups and their RPCs come next).
//!
//! A log's fingerprint is a hash of its *components*, which are kept so that
//! diagd can say why two logs were grouped:
//!
//! - **A Python traceback** (every exception of a chain: "The above
//!   exception was the direct cause…", "During handling of the above
//!   exception…") gives, per exception, its type and — for generic types
//!   such as `RuntimeError` or `ValueError` only — its normalised first
//!   message line; and the frames of the last (outermost-raised) exception:
//!   module, function and whitespace-collapsed code line, never line numbers
//!   or absolute path prefixes. When there are in-app frames (not
//!   `site-packages`/`dist-packages`, not the standard library; module
//!   prefixes can be included or excluded) only the innermost of them count
//!   — one by default, [`GroupingOptions::in_app_frames`] — else all
//!   frames; well-known wrapper frames never count; repeated frames
//!   (recursion) count once. Caret lines (`^^^`, `~~~`) are ignored.
//!
//!   Why the innermost in-app frame and not all of them (Sentry's rule):
//!   the same failure reached from two entry scripts or two call paths of
//!   one project (`inference.py` and `gradio_generate.py` loading the same
//!   corrupt checkpoint in `tests/data/tracebacks.json`) is one problem with
//!   one fix, and all-frames grouping split it. The frame where the user's
//!   code handed over to the library is what a person fixes; it is also the
//!   group's culprit. Different failures from that line stay apart by their
//!   exception types and, for generic types, their messages.
//! - **Anything else** — no stack trace, a Rust panic, a C++ abort, free
//!   text, an `ExceptionGroup` — falls back to the normalised message, plus
//!   the normalised first line of the stack trace when there is one. Never
//!   an error.
//!
//! Normalising a message replaces what varies between occurrences of the
//! same error — numbers, sizes, hex, UUIDs, hashes, paths, URLs, IP
//! addresses, host names, dates, durations, and the number after `rank`,
//! `GPU`, `pid`, `step` — with placeholders.
//!
//! The fingerprint records [`VERSION`]: a later version of these rules gives
//! new fingerprints, and stored logs keep the ones they were grouped by.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the fingerprint rules.
pub const VERSION: u32 = 1;

/// Most frames that count (the innermost), so components stay small.
const MAX_FRAMES: usize = 30;
/// Most exceptions of a chain that count (the last raised).
const MAX_CHAIN: usize = 10;

/// Code lines longer than this (in bytes, collapsed) do not count.
const MAX_CODE_LINE: usize = 120;

/// Exception types whose message is part of the fingerprint: raised for
/// unrelated failures, they say little by themselves.
const GENERIC_TYPES: &[&str] = &[
    "Exception",
    "RuntimeError",
    "ValueError",
    "TypeError",
    "OSError",
    "IOError",
    "AssertionError",
    "AttributeError",
    "KeyError",
    "IndexError",
    "NotImplementedError",
    "SystemError",
    "torch.distributed.DistBackendError",
    "torch.distributed.DistError",
    "torch._C._distributed_c10d.DistBackendError",
];

/// Exception types printed under different names by different versions of
/// a library, mapped to one name.
const TYPE_ALIASES: &[(&str, &str)] = &[
    ("torch.cuda.OutOfMemoryError", "torch.OutOfMemoryError"),
    (
        "torch._C._distributed_c10d.DistBackendError",
        "torch.distributed.DistBackendError",
    ),
];

/// Frames that only forward a call (framework plumbing): never counted.
const WRAPPER_FRAMES: &[(&str, &str)] = &[
    ("torch.nn.modules.module", "_call_impl"),
    ("torch.nn.modules.module", "_wrapped_call_impl"),
    ("torch._dynamo.eval_frame", "_fn"),
    ("torch.utils._contextlib", "decorate_context"),
    ("accelerate.hooks", "new_forward"),
    ("transformers.utils.generic", "wrapper"),
];

/// Which frames are the user's own ("in-app"), beyond the default rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupingOptions {
    /// Module prefixes always in-app (e.g. a package of the user's that is
    /// installed into `site-packages`).
    pub in_app_include: Vec<String>,
    /// Module prefixes never in-app.
    pub in_app_exclude: Vec<String>,
    /// How many in-app frames count, innermost first; 0 means all of them.
    pub in_app_frames: usize,
}

impl Default for GroupingOptions {
    fn default() -> Self {
        Self {
            in_app_include: Vec::new(),
            in_app_exclude: Vec::new(),
            in_app_frames: 1,
        }
    }
}

/// One frame as it counts in a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameKey {
    /// Dotted module, e.g. `transformers.trainer` or `models.llama`.
    pub module: String,
    /// Function name.
    pub function: String,
    /// The code line, whitespace collapsed; `None` when absent or too long.
    pub code: Option<String>,
    /// Whether it is the user's own code.
    pub in_app: bool,
}

/// One exception of a chain as it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionKey {
    /// The exception type, e.g. `torch.OutOfMemoryError`.
    pub exception_type: String,
    /// The normalised first message line, when the type is generic.
    pub message: Option<String>,
}

/// How a fingerprint was made: what a person is shown to explain a group
/// (stored as JSON with the fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Components {
    /// From a Python traceback.
    Traceback {
        /// Every exception of the chain, first raised first.
        exceptions: Vec<ExceptionKey>,
        /// The frames that counted, outermost first.
        frames: Vec<FrameKey>,
        /// Whether those are only the in-app frames.
        in_app_only: bool,
    },
    /// The fallback: no Python traceback.
    Message {
        /// The normalised message.
        message: String,
        /// The normalised first line of the stack trace, if any.
        trace_head: Option<String>,
    },
    /// Given by the client (`NewLog.fingerprint`), as in Sentry.
    Custom {
        /// The client's entries; `{{ default }}` stands for `default`.
        entries: Vec<String>,
        /// The computed components, when an entry was `{{ default }}`.
        default: Option<Box<Components>>,
    },
}

impl Components {
    /// In words: what made the grouping (shown by GetGroup and the CLI).
    pub fn explain(&self) -> String {
        match self {
            Components::Traceback {
                exceptions,
                frames,
                in_app_only,
            } => {
                let types: Vec<String> = exceptions
                    .iter()
                    .map(|e| match &e.message {
                        Some(message) => format!("{} with message \"{message}\"", e.exception_type),
                        None => e.exception_type.clone(),
                    })
                    .collect();
                let frames: Vec<String> = frames
                    .iter()
                    .map(|f| match &f.code {
                        Some(code) => format!("{} in {}: {code}", f.module, f.function),
                        None => format!("{} in {}", f.module, f.function),
                    })
                    .collect();
                format!(
                    "Python traceback; exception {}: {}; {} frames: {}",
                    if types.len() > 1 { "chain" } else { "type" },
                    types.join(" -> "),
                    if *in_app_only {
                        "in-app"
                    } else {
                        "all (no in-app)"
                    },
                    if frames.is_empty() {
                        "none".to_string()
                    } else {
                        frames.join(" | ")
                    }
                )
            }
            Components::Message {
                message,
                trace_head,
            } => match trace_head {
                Some(head) => format!(
                    "no Python traceback; normalised message \"{message}\" and first trace line \"{head}\""
                ),
                None => format!("no stack trace; normalised message \"{message}\""),
            },
            Components::Custom { entries, default } => {
                let mut text = format!("client fingerprint {entries:?}");
                if let Some(default) = default {
                    text.push_str(&format!("; {{{{ default }}}} = {}", default.explain()));
                }
                text
            }
        }
    }
}

/// The entry of a client-given fingerprint that stands for the computed one.
pub const DEFAULT_ENTRY: &str = "{{ default }}";

/// Whether a client's fingerprint entry is [`DEFAULT_ENTRY`] (spacing
/// inside the braces does not matter).
pub fn is_default_entry(entry: &str) -> bool {
    entry
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .is_some_and(|inner| inner.trim() == "default")
}

/// A log's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The rules' version ([`VERSION`]).
    pub version: u32,
    /// Hex SHA-256 (first 16 bytes) of the version and the components.
    pub hash: String,
    /// What it was made of.
    pub components: Components,
    /// A group's title: `Type: normalised message` (the last exception of a
    /// traceback), else the normalised message; at most [`MAX_TITLE`] bytes.
    pub title: String,
    /// Where it happened: `module in function` of the innermost in-app
    /// frame (else the innermost frame); empty without a traceback.
    pub culprit: String,
    /// The last exception's type; empty without a traceback.
    pub exception_type: String,
}

/// Longest title, in bytes.
pub const MAX_TITLE: usize = 200;

/// The fingerprint of a log with this message and stack trace.
pub fn fingerprint(message: &str, stack_trace: &str, options: &GroupingOptions) -> Fingerprint {
    let (components, title, culprit, exception_type) = match parse_traceback(stack_trace) {
        Some(traceback) => {
            let last = traceback
                .exceptions
                .last()
                .expect("a parsed traceback has an exception");
            let exception_type = canonical_type(last.exception_type);
            let normalised = normalise_message(first_line(last.message));
            let title = if normalised.is_empty() {
                exception_type.clone()
            } else {
                format!("{exception_type}: {normalised}")
            };
            let components = traceback_components(&traceback, &normalised, options);
            let culprit = match &components {
                Components::Traceback { frames, .. } => frames
                    .last()
                    .map(|f| format!("{} in {}", f.module, f.function))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            (components, title, culprit, exception_type)
        }
        None => {
            let message = normalise_message(first_line(message));
            let components = Components::Message {
                message: message.clone(),
                trace_head: non_empty(stack_trace).map(|t| normalise_message(first_line(t))),
            };
            (components, message, String::new(), String::new())
        }
    };
    Fingerprint {
        version: VERSION,
        hash: hash(&components),
        components,
        title: truncate(&title, MAX_TITLE),
        culprit: truncate(&culprit, MAX_TITLE),
        exception_type: truncate(&exception_type, MAX_TITLE),
    }
}

/// The fingerprint of a log whose client gave `custom` entries (none: the
/// computed one). `{{ default }}` entries stand for the computed
/// fingerprint; title and culprit are always the computed ones.
pub fn fingerprint_with(
    custom: &[String],
    message: &str,
    stack_trace: &str,
    options: &GroupingOptions,
) -> Fingerprint {
    let computed = fingerprint(message, stack_trace, options);
    if custom.is_empty() {
        return computed;
    }
    let uses_default = custom.iter().any(|e| is_default_entry(e));
    let components = Components::Custom {
        entries: custom.to_vec(),
        default: uses_default.then(|| Box::new(computed.components)),
    };
    Fingerprint {
        version: VERSION,
        hash: hash(&components),
        components,
        title: computed.title,
        culprit: computed.culprit,
        exception_type: computed.exception_type,
    }
}

fn truncate(text: &str, max: usize) -> String {
    head(text, max).to_string()
}

/// The first `max` bytes of `text` at most, cut on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn non_empty(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or("").trim()
}

/// Feeds `fields` to `hasher` as one record: `a\0b\0c\n`.
fn feed(hasher: &mut Sha256, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            hasher.update(b"\0");
        }
        hasher.update(field.as_bytes());
    }
    hasher.update(b"\n");
}

/// The hash of `components`, stable across runs and platforms.
fn hash(components: &Components) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("diagd-fingerprint-v{VERSION}\n"));
    match components {
        Components::Traceback {
            exceptions, frames, ..
        } => {
            for exception in exceptions {
                feed(
                    &mut hasher,
                    &[
                        "type",
                        &exception.exception_type,
                        exception.message.as_deref().unwrap_or(""),
                    ],
                );
            }
            for frame in frames {
                feed(
                    &mut hasher,
                    &[
                        "frame",
                        &frame.module,
                        &frame.function,
                        frame.code.as_deref().unwrap_or(""),
                    ],
                );
            }
        }
        Components::Message {
            message,
            trace_head,
        } => {
            hasher.update(format!(
                "message\0{message}\0{}\n",
                trace_head.as_deref().unwrap_or("")
            ));
        }
        Components::Custom { entries, default } => {
            hasher.update("custom\n");
            for entry in entries {
                match default {
                    Some(default) if is_default_entry(entry) => {
                        hasher.update(format!("default\0{}\n", hash(default)));
                    }
                    _ => hasher.update(format!("entry\0{entry}\n")),
                }
            }
        }
    }
    to_hex(&hasher.finalize()[..16])
}

// ------------------------------------------------------------- tracebacks

/// A parsed Python traceback: its exceptions, first raised first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Traceback<'a> {
    exceptions: Vec<RaisedException<'a>>,
}

/// One exception of a traceback with the frames printed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RaisedException<'a> {
    frames: Vec<RawFrame<'a>>,
    exception_type: &'a str,
    message: &'a str,
}

/// A frame as printed, borrowed from the trace (nothing is copied until a
/// frame is known to count).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawFrame<'a> {
    path: &'a str,
    function: &'a str,
    /// The trimmed code line, whitespace not yet collapsed.
    code: Option<&'a str>,
}

/// A frame line, `File "path", line N, in function`: its path and function.
/// (Parsed by hand: a regex with captures on every line was most of
/// fingerprinting's cost.) Also read by `classify`.
pub(super) fn frame_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(", line ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if path.is_empty() || digits == 0 {
        return None;
    }
    let function = rest[digits..].strip_prefix(", in ")?;
    let trimmed = function.trim_end();
    let function = if trimmed.is_empty() {
        function
    } else {
        trimmed
    };
    (!function.is_empty()).then_some((path, function))
}

/// An exception line, `a.b.Type` or `a.b.Type: message`: its type and
/// message (trimmed; empty without one).
fn exception_line(line: &str) -> Option<(&str, &str)> {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let name = &line[..end];
    let valid = !name.is_empty()
        && name.split('.').all(|part| {
            part.as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        });
    if !valid {
        return None;
    }
    match &line[end..] {
        "" => Some((name, "")),
        rest => rest.strip_prefix(':').map(|message| (name, message.trim())),
    }
}

const CHAIN_MARKERS: &[&str] = &[
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
];

/// Parses a Python traceback; `None` when `text` is not one (or is an
/// `ExceptionGroup`, whose nested blocks fall back to the message rule).
fn parse_traceback(text: &str) -> Option<Traceback<'_>> {
    if !text.contains("Traceback (most recent call last):") {
        return None;
    }
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("| ") || l.trim_start().starts_with("+-+"))
    {
        return None;
    }
    let mut exceptions = Vec::new();
    let mut lines = text.lines().peekable();
    // Anything before the first "Traceback" line (a logger's own message).
    while let Some(line) = lines.peek() {
        if line.trim() == "Traceback (most recent call last):" {
            break;
        }
        lines.next();
    }
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || CHAIN_MARKERS.contains(&trimmed) {
            continue;
        }
        if trimmed != "Traceback (most recent call last):" {
            continue;
        }
        let mut frames: Vec<RawFrame> = Vec::new();
        let mut exception = None;
        while let Some(line) = lines.next() {
            if let Some((path, function)) = frame_line(line) {
                frames.push(RawFrame {
                    path,
                    function,
                    code: None,
                });
                continue;
            }
            let trimmed = line.trim();
            if trimmed.is_empty() || is_caret_line(trimmed) {
                continue;
            }
            if trimmed.starts_with("[Previous line repeated") {
                continue;
            }
            // An indented line after a frame is its code line.
            if line.starts_with(' ')
                && let Some(frame) = frames.last_mut()
                && frame.code.is_none()
            {
                frame.code = Some(trimmed);
                continue;
            }
            // The first unindented line: the exception (its message may go
            // on for more lines, which do not count).
            if let Some((exception_type, message)) = exception_line(trimmed) {
                exception = Some((exception_type, message));
            }
            // Skip the rest of this block's message.
            while let Some(next) = lines.peek() {
                let next = next.trim();
                if next == "Traceback (most recent call last):" || CHAIN_MARKERS.contains(&next) {
                    break;
                }
                lines.next();
            }
            break;
        }
        let (exception_type, message) = exception?;
        exceptions.push(RaisedException {
            frames,
            exception_type,
            message,
        });
    }
    (!exceptions.is_empty()).then_some(Traceback { exceptions })
}

/// Python 3.11+'s markers under a code line (`^^^^`, `~~~^^^`).
fn is_caret_line(trimmed: &str) -> bool {
    trimmed.starts_with(['^', '~'])
        && trimmed
            .chars()
            .all(|c| matches!(c, '^' | '~') || c.is_whitespace())
}

fn collapse(code: &str) -> String {
    let code = code.trim();
    let mut previous_space = false;
    let single_spaced = code.chars().all(|c| {
        let ok = c == ' ' && !previous_space || !c.is_whitespace();
        previous_space = c == ' ';
        ok
    });
    if single_spaced {
        return code.to_string();
    }
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The components of a parsed traceback.
/// `last_message`: the last exception's normalised first message line.
fn traceback_components(
    traceback: &Traceback,
    last_message: &str,
    options: &GroupingOptions,
) -> Components {
    let count = traceback.exceptions.len();
    let exceptions = traceback
        .exceptions
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let exception_type = canonical_type(e.exception_type);
            let message =
                GENERIC_TYPES
                    .contains(&exception_type.as_str())
                    .then(|| match i + 1 == count {
                        true => last_message.to_string(),
                        false => normalise_message(first_line(e.message)),
                    });
            ExceptionKey {
                exception_type,
                message,
            }
        })
        .collect();
    // The frames of the last exception: where the error finally surfaced.
    let raw = &traceback
        .exceptions
        .last()
        .expect("a parsed traceback has an exception")
        .frames;
    let located: Vec<Located<'_>> = raw.iter().map(|f| locate(f.path)).collect();
    let root = project_root(&located);
    let mut all: Vec<FrameKey> = Vec::new();
    for (frame, located) in raw.iter().zip(&located) {
        let (module, kind) = module_of(located, root);
        if WRAPPER_FRAMES
            .iter()
            .any(|(m, f)| *m == module && *f == frame.function)
        {
            continue;
        }
        let mut in_app = kind == PathKind::Project;
        if options
            .in_app_include
            .iter()
            .any(|p| module_has_prefix(&module, p))
        {
            in_app = true;
        }
        if options
            .in_app_exclude
            .iter()
            .any(|p| module_has_prefix(&module, p))
        {
            in_app = false;
        }
        let key = FrameKey {
            module,
            function: frame.function.to_string(),
            code: frame
                .code
                .map(collapse)
                .filter(|c| c.len() <= MAX_CODE_LINE),
            in_app,
        };
        // Recursion: the same frame again in a row counts once.
        if all.last() != Some(&key) {
            all.push(key);
        }
    }
    let mut in_app: Vec<FrameKey> = all.iter().filter(|f| f.in_app).cloned().collect();
    if options.in_app_frames > 0 && in_app.len() > options.in_app_frames {
        in_app.drain(..in_app.len() - options.in_app_frames);
    }
    let in_app_only = !in_app.is_empty();
    let mut frames = if in_app_only { in_app } else { all };
    // Bounded: a deep or recursive trace without in-app frames keeps its
    // innermost frames, and a long chain its last exceptions.
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
    let mut exceptions: Vec<ExceptionKey> = exceptions;
    if exceptions.len() > MAX_CHAIN {
        exceptions.drain(..exceptions.len() - MAX_CHAIN);
    }
    Components::Traceback {
        exceptions,
        frames,
        in_app_only,
    }
}

fn canonical_type(name: &str) -> String {
    TYPE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
        .to_string()
}

fn module_has_prefix(module: &str, prefix: &str) -> bool {
    module == prefix
        || module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    /// Installed: `site-packages` / `dist-packages`.
    Installed,
    /// The standard library (or the interpreter's own frames).
    StandardLibrary,
    /// The user's project.
    Project,
}

/// The standard library's directory in a path: `…/lib/python3.11/` (any
/// prefix: a venv, conda, uv's `cpython-3.11.9-…/lib/python3.11/`) or
/// Windows' `…/Python311/Lib/`; the module follows it.
static STDLIB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|/)lib(?:64)?/python\d+(?:\.\d+)?t?/|(?i:(?:^|/)python\d+/lib/)|^<frozen |^<string>$|^<stdin>$")
        .expect("valid regex")
});

/// A frame's file with `/` separators and where it lies.
struct Located<'a> {
    path: std::borrow::Cow<'a, str>,
    place: Place,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Installed; the module's path starts at this byte.
    Installed(usize),
    /// The standard library; the module's path starts at this byte, or
    /// the interpreter's own frame (`<frozen …>`, `<string>`) when `None`.
    StandardLibrary(Option<usize>),
    /// The user's project.
    Project,
}

/// Where the file `path` lies (each frame is located once).
fn locate(path: &str) -> Located<'_> {
    let path = match path.contains('\\') {
        true => std::borrow::Cow::Owned(path.replace('\\', "/")),
        false => std::borrow::Cow::Borrowed(path),
    };
    let place = if let Some(at) = path
        .contains("-packages/")
        .then(|| {
            ["site-packages/", "dist-packages/"]
                .iter()
                .find_map(|marker| path.rfind(marker).map(|at| at + marker.len()))
        })
        .flatten()
    {
        Place::Installed(at)
    } else if let Some(found) = stdlib_dir(&path) {
        Place::StandardLibrary(found.as_str().ends_with('/').then_some(found.end()))
    } else {
        Place::Project
    };
    Located { path, place }
}

/// Where `path` names the standard library (see [`STDLIB`]); the regex
/// runs only on paths that can match it.
fn stdlib_dir(path: &str) -> Option<regex::Match<'_>> {
    let possible = path.starts_with('<')
        || path
            .as_bytes()
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"python"));
    possible.then(|| STDLIB.find(path)).flatten()
}

/// The dotted module of a located frame's file and what kind of code it
/// is. `root`: the project root of the traceback's project frames.
fn module_of(located: &Located<'_>, root: Option<&str>) -> (String, PathKind) {
    let path: &str = &located.path;
    match located.place {
        Place::Installed(at) => return (dotted(&path[at..]), PathKind::Installed),
        Place::StandardLibrary(Some(at)) => {
            return (dotted(&path[at..]), PathKind::StandardLibrary);
        }
        Place::StandardLibrary(None) => {
            return (
                path.trim_matches(['<', '>']).to_string(),
                PathKind::StandardLibrary,
            );
        }
        Place::Project => {}
    }
    if !is_absolute(path) {
        // Relative to the working directory already (`tools/train.py`).
        return (dotted(path.trim_start_matches("./")), PathKind::Project);
    }
    let relative = match root {
        Some(root) => path.strip_prefix(root).unwrap_or(path),
        None => path,
    };
    let relative = relative.trim_start_matches('/');
    // A path not under the root (or no root): the file name alone.
    let relative = if relative.starts_with('/') || relative.is_empty() {
        path.rsplit('/').next().unwrap_or(path)
    } else {
        relative
    };
    (dotted(relative), PathKind::Project)
}

/// `a/b/c.py` → `a.b.c`; `pkg/__init__.py` → `pkg`.
fn dotted(path: &str) -> String {
    let path = path.strip_suffix(".py").unwrap_or(path);
    let path = path.strip_suffix("/__init__").unwrap_or(path);
    path.trim_matches('/').replace('/', ".")
}

/// Whether `path` (with `/` separators) is absolute: `/…` or `C:/…`.
fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || (bytes.len() > 2
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && bytes[2] == b'/')
}

/// The deepest directory holding every absolute project frame's file (not
/// installed, not the standard library), with its trailing slash. Relative
/// paths do not take part: they are relative to the working directory.
fn project_root<'a>(frames: &'a [Located<'_>]) -> Option<&'a str> {
    let mut dirs = frames
        .iter()
        .filter(|f| f.place == Place::Project && is_absolute(&f.path))
        .map(|f| &f.path[..f.path.rfind('/').unwrap_or(0) + 1]);
    let mut common = dirs.next()?;
    for dir in dirs {
        while !dir.starts_with(common) {
            let trimmed = common.trim_end_matches('/');
            match trimmed.rfind('/') {
                Some(at) => common = &common[..at + 1],
                None => return None,
            }
        }
    }
    Some(common)
}

// ------------------------------------------------------------- messages

/// Placeholders for what varies between occurrences of the same error, in
/// the order they are applied.
static NORMALISERS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"\b[a-z][a-z0-9+.-]*://[^\s'\x22<>)]+", "<url>"),
        (
            r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<uuid>",
        ),
        (
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            "<date>",
        ),
        (r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b", "<time>"),
        (r"(?i)\b0x[0-9a-f]+\b", "<hex>"),
        // Hex of 7 or more characters with both digits and letters.
        (r"(?i)\b(?:[0-9]+[a-f]|[a-f]+[0-9])[0-9a-f]{5,}\b", "<hash>"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
        (r"(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?", "<path>"),
        (
            r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:internal|local|lan|com|net|org|io|ai|cloud|cluster)\b",
            "<host>",
        ),
        // Numbered machines: gpu-node-07, worker-3, host12.
        (
            r"(?i)\b(?:gpu|node|host|worker|compute|server|machine|ip)[a-z0-9]*(?:-[a-z0-9]+)*-?\d+\b",
            "<host>",
        ),
        (
            r"(?i)\b\d+(?:\.\d+)?\s?(?:[kmgtp]i?b|bytes?|b)\b",
            "<size>",
        ),
        (
            r"(?i)\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|mins?|minutes?|h|hours?|days?)\b",
            "<duration>",
        ),
        (r"(?i)\b(rank|gpu|device|pid|step|epoch|iteration|worker|node|port)\s*[#:]?\s*\d+", "$1 <n>"),
        (r"[-+]?\b\d+(?:[.,]\d+)*(?:e[-+]?\d+)?\b", "<n>"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (Regex::new(pattern).expect("valid regex"), replacement))
    .collect()
});

/// `text` with what varies between occurrences replaced by placeholders,
/// and whitespace collapsed.
pub fn normalise_message(text: &str) -> String {
    let mut text = collapse(text);
    for (i, (pattern, replacement)) in NORMALISERS.iter().enumerate() {
        // A pattern that cannot match is not run (the costly part of
        // fingerprinting): the URL one needs "://", the path one a slash,
        // the host-name one a dot, every other one a digit.
        let possible = match i {
            0 => text.contains("://"),
            7 => text.contains('/'),
            8 => text.contains('.'),
            _ => text.bytes().any(|b| b.is_ascii_digit()),
        };
        if possible
            && let std::borrow::Cow::Owned(replaced) = pattern.replace_all(&text, *replacement)
        {
            text = replaced;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> GroupingOptions {
        GroupingOptions::default()
    }

    /// A CUDA OOM from `loss.backward()` in the user's `train.py`, under
    /// `root` and a site-packages directory `site`, as torch `version` prints
    /// it.
    fn oom(root: &str, site: &str, gib: &str, torch_type: &str) -> String {
        format!(
            "Traceback (most recent call last):
  File \"{root}/train.py\", line 212, in <module>
    main()
  File \"{root}/train.py\", line 198, in main
    trainer.train()
  File \"{root}/lib/loop.py\", line 57, in train
    loss.backward()
    ^^^^^^^^^^^^^^^
  File \"{site}/torch/_tensor.py\", line 581, in backward
    torch.autograd.backward(
  File \"{site}/torch/autograd/__init__.py\", line 347, in backward
    _engine_run_backward(
{torch_type}: CUDA out of memory. Tried to allocate {gib} GiB. GPU 3 has a total capacity of 79.15 GiB of which 1.2 GiB is free. Process 4242 has 77.9 GiB memory in use.
"
        )
    }

    #[test]
    fn the_same_oom_groups_across_machines_paths_sizes_and_torch_versions() {
        let a = fingerprint(
            "CUDA out of memory",
            &oom(
                "/home/alice/proj",
                "/opt/conda/lib/python3.11/site-packages",
                "2.00",
                "torch.OutOfMemoryError",
            ),
            &options(),
        );
        let b = fingerprint(
            "CUDA out of memory (rank 7)",
            &oom(
                "/workspace/runs/proj",
                "/usr/local/lib/python3.10/dist-packages",
                "512.00",
                "torch.cuda.OutOfMemoryError",
            ),
            &options(),
        );
        assert_eq!(a.hash, b.hash, "{:#?}\n{:#?}", a.components, b.components);
        let Components::Traceback {
            exceptions,
            frames,
            in_app_only,
        } = &a.components
        else {
            panic!("a traceback: {:?}", a.components)
        };
        assert_eq!(exceptions[0].exception_type, "torch.OutOfMemoryError");
        assert_eq!(
            exceptions[0].message, None,
            "a specific type: its message does not count"
        );
        assert!(in_app_only);
        let modules: Vec<&str> = frames.iter().map(|f| f.module.as_str()).collect();
        assert_eq!(modules, ["lib.loop"], "the innermost in-app frame");
        assert_eq!(frames[0].code.as_deref(), Some("loss.backward()"));
    }

    #[test]
    fn different_runtime_errors_from_the_same_line_stay_apart() {
        let trace = |message: &str| {
            format!(
                "Traceback (most recent call last):
  File \"/home/bob/proj/train.py\", line 57, in train
    loss.backward()
RuntimeError: {message}
"
            )
        };
        let grad = fingerprint(
            "",
            &trace("element 0 of tensors does not require grad and does not have a grad_fn"),
            &options(),
        );
        let nccl = fingerprint(
            "",
            &trace("NCCL communicator was aborted on rank 3"),
            &options(),
        );
        let nccl_other_rank = fingerprint(
            "",
            &trace("NCCL communicator was aborted on rank 12"),
            &options(),
        );
        assert_ne!(grad.hash, nccl.hash);
        assert_eq!(nccl.hash, nccl_other_rank.hash, "only the rank differs");
    }

    #[test]
    fn chained_exceptions_all_count_and_caret_and_recursion_lines_do_not() {
        let trace = "Traceback (most recent call last):
  File \"/p/data.py\", line 10, in load
    return json.load(f)
           ^^^^^^^^^^^^
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"/p/main.py\", line 3, in <module>
    run()
  File \"/p/main.py\", line 2, in run
    run()
  File \"/p/main.py\", line 2, in run
    run()
  [Previous line repeated 996 more times]
  File \"/p/data.py\", line 12, in load
    raise ValueError(f\"bad config {path}\") from e
ValueError: bad config /p/configs/run-17.json
";
        let every_in_app_frame = GroupingOptions {
            in_app_frames: 0,
            ..GroupingOptions::default()
        };
        let print = fingerprint("", trace, &every_in_app_frame);
        let Components::Traceback {
            exceptions, frames, ..
        } = &print.components
        else {
            panic!("a traceback")
        };
        assert_eq!(
            exceptions
                .iter()
                .map(|e| e.exception_type.as_str())
                .collect::<Vec<_>>(),
            ["json.decoder.JSONDecodeError", "ValueError"]
        );
        assert_eq!(exceptions[1].message.as_deref(), Some("bad config <path>"));
        let functions: Vec<&str> = frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            functions,
            ["<module>", "run", "load"],
            "recursion counts once"
        );
    }

    #[test]
    fn wrapper_frames_never_count_and_in_app_can_be_configured() {
        let trace = "Traceback (most recent call last):
  File \"/venv/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1736, in _wrapped_call_impl
    return self._call_impl(*args, **kwargs)
  File \"/venv/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1747, in _call_impl
    return forward_call(*args, **kwargs)
  File \"/venv/lib/python3.11/site-packages/mylab/models/block.py\", line 40, in forward
    h = self.attn(x)
TypeError: forward() missing 1 required positional argument: 'mask'
";
        let default = fingerprint("", trace, &options());
        let Components::Traceback {
            frames,
            in_app_only,
            ..
        } = &default.components
        else {
            panic!("a traceback")
        };
        assert!(!in_app_only, "no in-app frame: all frames count");
        assert_eq!(
            frames.len(),
            1,
            "the torch wrappers are dropped: {frames:?}"
        );
        let mine = fingerprint(
            "",
            trace,
            &GroupingOptions {
                in_app_include: vec!["mylab".into()],
                ..GroupingOptions::default()
            },
        );
        let Components::Traceback { in_app_only, .. } = &mine.components else {
            panic!("a traceback")
        };
        assert!(in_app_only);
    }

    #[test]
    fn the_innermost_in_app_frame_counts_not_the_path_that_reached_it() {
        let trace = |entry: &str| {
            format!(
                "Traceback (most recent call last):
  File \"/srv/app/{entry}.py\", line 9, in <module>
    run()
  File \"/srv/app/{entry}.py\", line 5, in run
    model = load(path)
  File \"/srv/app/loader.py\", line 31, in load
    state = safetensors.torch.load_file(path)
  File \"/usr/lib/python3/dist-packages/safetensors/torch.py\", line 98, in load_file
    with safe_open(filename, framework=\"pt\") as f:
safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge"
            )
        };
        let cli = fingerprint("", &trace("cli"), &options());
        let web = fingerprint("", &trace("web"), &options());
        assert_eq!(cli.hash, web.hash, "two entry scripts, one failure");
        let Components::Traceback { frames, .. } = &cli.components else {
            panic!("a traceback")
        };
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].module, "loader");
        let all = GroupingOptions {
            in_app_frames: 0,
            ..GroupingOptions::default()
        };
        assert_ne!(
            fingerprint("", &trace("cli"), &all).hash,
            fingerprint("", &trace("web"), &all).hash,
            "with every in-app frame counted, the entry scripts split them"
        );
    }

    #[test]
    fn a_client_fingerprint_overrides_and_default_expands() {
        let trace = "Traceback (most recent call last):\n  File \"/a/x.py\", line 1, in f\n    g()\nKeyError: 'a'";
        let plain = fingerprint("m", trace, &options());
        let fixed = |entries: &[&str], message: &str| {
            let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            fingerprint_with(&entries, message, trace, &options())
        };
        assert_eq!(fixed(&[], "m"), plain, "no entries: the computed one");
        assert_eq!(
            fixed(&["db-timeout"], "m").hash,
            fixed(&["db-timeout"], "other").hash
        );
        let a = fixed(&["{{ default }}", "tenant-a"], "m");
        assert_ne!(a.hash, fixed(&["{{default}}", "tenant-b"], "m").hash);
        assert_eq!(a.hash, fixed(&["{{default}}", "tenant-a"], "m").hash);
        assert_ne!(a.hash, plain.hash);
        assert_eq!(a.title, plain.title, "the title stays the computed one");
        assert_eq!(a.title, "KeyError: '<s>'".replace("<s>", "a"));
        let Components::Custom { default, .. } = &a.components else {
            panic!("custom")
        };
        assert_eq!(default.as_deref(), Some(&plain.components));
    }

    #[test]
    fn anything_else_falls_back_to_the_normalised_message() {
        let panic = fingerprint(
            "worker crashed",
            "thread 'main' panicked at src/loader.rs:88:14:\nindex out of bounds: the len is 3 but the index is 7",
            &options(),
        );
        let again = fingerprint(
            "worker crashed",
            "thread 'main' panicked at src/loader.rs:91:14:\nindex out of bounds: the len is 4 but the index is 9",
            &options(),
        );
        assert_eq!(panic.hash, again.hash);
        assert!(matches!(panic.components, Components::Message { .. }));
        let plain = fingerprint(
            "Connection to 10.0.3.7:29500 timed out after 30 s",
            "",
            &options(),
        );
        let plain_again = fingerprint(
            "Connection to 10.0.3.9:29500 timed out after 600 s",
            "",
            &options(),
        );
        assert_eq!(plain.hash, plain_again.hash);
        let group = "Traceback (most recent call last):\n  | ExceptionGroup: errors (2 sub-exceptions)\n  +-+---------------- 1 ----------------\n";
        assert!(matches!(
            fingerprint("errors", group, &options()).components,
            Components::Message { .. }
        ));
    }

    #[test]
    fn truncated_empty_and_odd_input_fall_back_and_never_fail() {
        let truncated =
            "Traceback (most recent call last):\n  File \"/p/a.py\", line 3, in f\n    g()\n";
        assert!(matches!(
            fingerprint("lost the end", truncated, &options()).components,
            Components::Message { .. }
        ));
        let empty = fingerprint("", "", &options());
        assert_eq!(
            empty.components,
            Components::Message {
                message: String::new(),
                trace_head: None
            }
        );
        for odd in [
            "Traceback (most recent call last):",
            "Traceback (most recent call last):\n\n\n",
            "\u{0}\u{1}\u{fffd}Traceback (most recent call last):\n  File \"\", line 1, in \nE",
            "  File \"x\", line 1, in y\nValueError: no traceback header",
            "Traceback (most recent call last):\n  File \"C:\\work\\train.py\", line 9, in <module>\n    run()\nKeyError: 'lr'",
        ] {
            let print = fingerprint(odd, odd, &options());
            assert_eq!(print.hash.len(), 32, "{odd:?}");
            assert_eq!(print.version, VERSION);
        }
    }

    #[test]
    fn a_windows_path_and_a_posix_path_of_the_same_project_group_together() {
        let windows = "Traceback (most recent call last):\n  File \"C:\\Users\\al\\proj\\train.py\", line 9, in <module>\n    run()\n  File \"C:\\Users\\al\\proj\\lib\\cfg.py\", line 4, in run\n    cfg['lr']\nKeyError: 'lr'\n";
        let posix = "Traceback (most recent call last):\n  File \"/srv/proj/train.py\", line 19, in <module>\n    run()\n  File \"/srv/proj/lib/cfg.py\", line 40, in run\n    cfg['lr']\nKeyError: 'lr'\n";
        assert_eq!(
            fingerprint("", windows, &options()).hash,
            fingerprint("", posix, &options()).hash
        );
    }

    #[test]
    fn standard_library_modules_do_not_depend_on_where_python_lives() {
        let trace = |path: &str| {
            format!(
                "Traceback (most recent call last):\n  File \"{path}\", line 355, in raw_decode\n    raise JSONDecodeError(\"Expecting value\", s, err.value) from None\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"
            )
        };
        let prints: Vec<Fingerprint> = [
            "/usr/lib/python3.11/json/decoder.py",
            "/root/.local/share/uv/python/cpython-3.11.9-linux-x86_64-gnu/lib/python3.11/json/decoder.py",
            "C:\\Python311\\Lib\\json\\decoder.py",
        ]
        .iter()
        .map(|p| fingerprint("", &trace(p), &options()))
        .collect();
        let Components::Traceback {
            frames,
            in_app_only,
            ..
        } = &prints[0].components
        else {
            panic!("a traceback")
        };
        assert!(!in_app_only);
        assert_eq!(frames[0].module, "json.decoder");
        assert!(
            prints.iter().all(|p| p.hash == prints[0].hash),
            "{prints:#?}"
        );
    }

    #[test]
    fn deep_traces_and_long_chains_keep_bounded_components() {
        let mut trace = String::from("Traceback (most recent call last):\n");
        for i in 0..500 {
            trace.push_str(&format!(
                "  File \"/usr/lib/python3/dist-packages/lib/m{i}.py\", line 1, in f{i}\n    g()\n"
            ));
        }
        trace.push_str("RecursionError: maximum recursion depth exceeded\n");
        let chained = (0..40)
            .map(|_| trace.clone())
            .collect::<Vec<_>>()
            .join("\nDuring handling of the above exception, another exception occurred:\n\n");
        let print = fingerprint("", &chained, &options());
        let Components::Traceback {
            frames, exceptions, ..
        } = &print.components
        else {
            panic!("a traceback")
        };
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(
            frames.last().unwrap().function,
            "f499",
            "the innermost kept"
        );
        assert_eq!(exceptions.len(), MAX_CHAIN);
    }

    #[test]
    fn normalising_replaces_what_varies() {
        assert_eq!(
            normalise_message(
                "Tried to allocate 2.00 GiB on GPU 3 (pid 4242, step 1200) at 2026-11-30T10:00:00Z from https://hub.internal/x?y=1 on gpu-node-07 in /home/a/b.py, id 0x7f3a, sha 3f2a9c1d, run 1b4e28ba-2fa1-11d2-883f-0016d3cca427 took 12.5 ms"
            ),
            "Tried to allocate <size> on GPU <n> (pid <n>, step <n>) at <date> from <url> on <host> in <path>, id <hex>, sha <hash>, run <uuid> took <duration>"
        );
    }
}
