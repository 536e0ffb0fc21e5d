"""Which of diagd's error types an exception or message is: an ordered table of
rules that users extend with `add_rule` (their rules are checked before the
built-in ones).

A rule matches on any of:
- exception types, by qualified or bare class name anywhere in the exception's
  MRO or its __cause__/__context__ chain (so torch need not be importable);
- a regular expression on the message (the exception's `str`, or a log message);
- traceback frames: function names, or file paths containing a fragment;
- the phase the program is in (`phase("training")`, set by DiagdCallback).

What the error says about itself comes before where it was raised: the rows are
tried in order on exception types and messages first; only when no row matches
so are they tried in order on traceback frames, and then on the phase. (A
missing config.json raised inside configuration_utils.py is MODEL_LOADING by its
message, not CONFIGURATION by its frame.)

The built-in table (CLASSIFICATION_TABLE), in order:

| type | exceptions | message | frames / phase |
| --- | --- | --- | --- |
| OOM | torch.cuda.OutOfMemoryError, torch.OutOfMemoryError, MemoryError | "CUDA out of memory", "out of memory", CUBLAS_STATUS_ALLOC_FAILED | |
| NETWORK | huggingface_hub LocalEntryNotFoundError, OfflineModeIsEnabled (the Hub could not be reached, the file is not cached) | | |
| MODEL_LOADING | huggingface_hub RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, (Remote)EntryNotFoundError, DisabledRepoError | the Hub's HTTP 401/403/404 client errors, "Repository Not Found", "Entry Not Found", "Revision Not Found", gated repo | |
| NETWORK | ConnectionError, TimeoutError, socket.gaierror, urllib.error.URLError, http.client.HTTPException, ssl.SSLError, requests/urllib3/httpx errors, huggingface_hub HTTP errors, torch.distributed DistNetworkError / DistBackendError | connection refused/reset, name resolution, "couldn't connect", HTTP 429/5xx, rate limit, NCCL errors / watchdog / collective timeouts, c10d timeouts | huggingface_hub download functions |
| CONFIGURATION | pydantic/jsonschema ValidationError, omegaconf/hydra errors, argparse.ArgumentError, yaml.YAMLError, configparser.Error | "invalid config", "unrecognized arguments", "configuration" | __post_init__ of training_args / configuration_utils, parse_args |
| MODEL_LOADING | safetensors.SafetensorError | "Error(s) in loading state_dict", "does not appear to have a file named", "size mismatch for", "not a valid model identifier", a missing checkpoint file | from_pretrained, load_state_dict, load_checkpoint, safetensors |
| INFERENCE | | | generate, transformers/pipelines, phase "inference" |
| TRAINING | | "loss is nan" | Trainer.train / training_step / backward / optimizer step, phase "training" |
| OTHER | everything else | | |
"""

from __future__ import annotations

import contextlib
import re
import threading
import traceback
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence

from .types import ErrorType


@dataclass
class Rule:
    """One row of the classification table. Any one matching condition is enough."""

    error_type: ErrorType
    exception_names: Sequence[str] = ()
    message_pattern: Optional[str] = None
    frame_functions: Sequence[str] = ()
    frame_paths: Sequence[str] = ()
    phases: Sequence[str] = ()
    _compiled: Optional["re.Pattern[str]"] = field(default=None, init=False, repr=False)

    def message_matches(self, message: str) -> bool:
        if not self.message_pattern or not message:
            return False
        if self._compiled is None:
            self._compiled = re.compile(self.message_pattern, re.IGNORECASE)
        return bool(self._compiled.search(message))


CLASSIFICATION_TABLE: List[Rule] = [
    Rule(
        ErrorType.OOM,
        exception_names=("torch.cuda.OutOfMemoryError", "torch.OutOfMemoryError", "OutOfMemoryError", "MemoryError"),
        message_pattern=r"CUDA out of memory|out of memory|CUBLAS_STATUS_ALLOC_FAILED|OutOfMemory",
    ),
    # The Hub could not be reached and the file is not in the local cache (a subclass
    # of EntryNotFoundError, hence before the next row).
    Rule(
        ErrorType.NETWORK,
        exception_names=("LocalEntryNotFoundError", "OfflineModeIsEnabled"),
    ),
    # The Hub answered: no such repository / file / revision, or no access. The model
    # cannot be loaded as asked; retrying the network will not help. (These are
    # HfHubHTTPError subclasses, hence before the NETWORK row.)
    Rule(
        ErrorType.MODEL_LOADING,
        exception_names=(
            "RepositoryNotFoundError",
            "GatedRepoError",
            "RevisionNotFoundError",
            "EntryNotFoundError",
            "RemoteEntryNotFoundError",
            "DisabledRepoError",
        ),
        message_pattern=(
            r"\b(401|403|404) Client Error[\s\S]*huggingface\.co|Repository Not Found for url|Entry Not Found for url|"
            r"Revision Not Found for url|gated repo|is not a valid model identifier"
        ),
    ),
    Rule(
        ErrorType.NETWORK,
        exception_names=(
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
        ),
        message_pattern=(
            r"connection (refused|reset|aborted|timed out)|name or service not known|"
            r"temporary failure in name resolution|couldn't connect|could not connect|"
            r"max retries exceeded|rate limit|too many requests|HTTP Error (429|5\d\d)|"
            r"\b(502|503|504) (Bad Gateway|Service Unavailable|Gateway Time-?out)|"
            r"\bNCCL (error|timeout|watchdog)|ProcessGroupNCCL|collective operation timeout|"
            r"\bc10d\b.*(timed out|timeout)"
        ),
        frame_functions=("hf_hub_download", "snapshot_download", "http_get", "urlopen"),
    ),
    Rule(
        ErrorType.CONFIGURATION,
        exception_names=(
            "pydantic.ValidationError",
            "pydantic_core._pydantic_core.ValidationError",
            "jsonschema.exceptions.ValidationError",
            "omegaconf.errors.OmegaConfBaseException",
            "hydra.errors.HydraException",
            "argparse.ArgumentError",
            "yaml.YAMLError",
            "configparser.Error",
            "ConfigurationError",
        ),
        message_pattern=r"invalid config|unrecognized arguments|configuration error|misconfigur|invalid value for --",
        frame_paths=("training_args.py", "configuration_utils.py", "argparse.py", "hf_argparser.py"),
    ),
    Rule(
        ErrorType.MODEL_LOADING,
        exception_names=("safetensors_rust.SafetensorError", "SafetensorError"),
        message_pattern=(
            r"Error\(s\) in loading state_dict|does not appear to have a file named|size mismatch for|"
            r"is not a valid model identifier|Unable to load weights|"
            r"No such file or directory: .*(checkpoint|\.safetensors|\.bin|\.pt|\.pth|\.ckpt)"
        ),
        frame_functions=("from_pretrained", "load_state_dict", "load_checkpoint", "_load_pretrained_model"),
        frame_paths=("safetensors",),
    ),
    Rule(
        ErrorType.INFERENCE,
        frame_functions=("generate",),
        frame_paths=("transformers/pipelines/",),
        phases=("inference",),
    ),
    Rule(
        ErrorType.TRAINING,
        message_pattern=r"loss is nan|nan loss|non-finite loss",
        frame_functions=("training_step", "_inner_training_loop", "backward", "optimizer_step"),
        frame_paths=("transformers/trainer.py", "lightning/pytorch/loops"),
        phases=("training",),
    ),
]

_user_rules: List[Rule] = []
_phase = threading.local()
_process_phase: List[str] = []


def add_rule(rule: Rule) -> None:
    """Adds a rule checked before the built-in table (later additions first)."""
    _user_rules.insert(0, rule)


def current_phase() -> Optional[str]:
    """The innermost phase of this thread, else of the process, else None."""
    stack = getattr(_phase, "stack", None)
    if stack:
        return stack[-1]
    return _process_phase[-1] if _process_phase else None


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Marks a block as "training", "inference" (or any name a rule lists): errors
    raised inside it are classified by that phase when nothing more specific matches."""
    stack = getattr(_phase, "stack", None)
    if stack is None:
        stack = _phase.stack = []
    stack.append(name)
    try:
        yield
    except BaseException as error:
        # The block is left before the error is reported: the error keeps its phase.
        if getattr(error, "__diagd_phase__", None) is None:
            try:
                error.__diagd_phase__ = name
            except Exception:
                pass
        raise
    finally:
        stack.pop()


def enter_process_phase(name: str) -> None:
    """Sets a phase for every thread until leave_process_phase (used by callbacks
    that see a begin and an end event but no block)."""
    _process_phase.append(name)


def leave_process_phase(name: str) -> None:
    if name in _process_phase:
        _process_phase.remove(name)


def _exception_chain(error: BaseException) -> Iterator[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _class_names(error: BaseException) -> set:
    names = set()
    for cls in type(error).__mro__:
        names.add(cls.__name__)
        names.add(f"{cls.__module__}.{cls.__qualname__}")
    return names


def _frames(error: BaseException):
    for link in _exception_chain(error):
        for frame in traceback.extract_tb(link.__traceback__):
            yield frame.name, frame.filename.replace("\\", "/")


def classify(
    error: Optional[BaseException] = None,
    message: str = "",
    phase_name: Optional[str] = None,
) -> ErrorType:
    """The error type of an exception and/or message under the user's rules, then
    the built-in table; OTHER when nothing matches."""
    chain = list(_exception_chain(error)) if error is not None else []
    if phase_name is None:
        tagged = [getattr(e, "__diagd_phase__", None) for e in chain]
        phase_name = next((p for p in tagged if p), None) or current_phase()
    names = set().union(*(_class_names(e) for e in chain)) if chain else set()
    messages = [message] + [str(e) for e in chain]
    frames = list(_frames(error)) if error is not None else []
    rules = (*_user_rules, *CLASSIFICATION_TABLE)
    # What the error says about itself (its types, its messages) first, across every row...
    for rule in rules:
        if names and any(n in names for n in rule.exception_names):
            return rule.error_type
        if any(rule.message_matches(m) for m in messages):
            return rule.error_type
    # ...then where it was raised...
    if frames:
        for rule in rules:
            if any(
                function in rule.frame_functions or any(p in path for p in rule.frame_paths)
                for function, path in frames
            ):
                return rule.error_type
    # ...then what the program was doing.
    if phase_name:
        for rule in rules:
            if phase_name in rule.phases:
                return rule.error_type
    return ErrorType.OTHER
