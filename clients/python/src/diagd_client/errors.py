"""DiagdError: the one exception type the client raises, carrying the gRPC status
code and diagd's machine-readable error details (reason, limit, field, retry delay),
plus which codes are worth retrying."""

from __future__ import annotations

import re
from typing import Dict, Optional, Sequence, Tuple

import grpc
from google.rpc import error_details_pb2, status_pb2

# The ErrorInfo domain of diagd's errors, and the trailer that carries them.
DOMAIN = "diagd"
_DETAILS_KEY = "grpc-status-details-bin"

# Codes after which the same request may succeed later: diagd or its database is
# unreachable, overloaded, or the call ran out of time. (RESOURCE_EXHAUSTED for a
# request over diagd's --max-message-bytes is the exception: the same request never
# passes; see is_message_too_large.)
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)

# Codes that a configuration change (a token) may fix: errors are kept for the
# next start rather than dropped.
KEEP_FOR_LATER_CODES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


class DiagdError(Exception):
    """A failed call to diagd. `code` is the grpc.StatusCode, `details` diagd's message
    (for INVALID_ARGUMENT it names the field, e.g. "log.message: required").

    diagd attaches google.rpc error details to every failure; they are read here so
    that nothing needs to parse the message:

    - `reason`: the stable ErrorInfo reason (e.g. "MESSAGE_TOO_LARGE", "FIELD_INVALID",
      "STREAM_LIMIT"; "" when the failure did not come from diagd),
    - `metadata`: the ErrorInfo metadata (e.g. {"limit": "16777216",
      "flag": "--max-message-bytes"}),
    - `field_violations`: (field, description) pairs of a BadRequest,
    - `retry_delay`: seconds to wait before retrying (RetryInfo), or None,
    - `resource`: (type, name) of a NOT_FOUND's ResourceInfo, or None.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        *,
        reason: str = "",
        metadata: Optional[Dict[str, str]] = None,
        field_violations: Sequence[Tuple[str, str]] = (),
        retry_delay: Optional[float] = None,
        resource: Optional[Tuple[str, str]] = None,
    ):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.retry_delay = retry_delay
        self.resource = resource

    @property
    def retryable(self) -> bool:
        """True when retrying later may succeed (diagd down, overloaded, timed out)."""
        return self.code in RETRYABLE_CODES

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "DiagdError":
        """Wraps a grpc.RpcError (which is also a grpc.Call carrying code, details and
        the trailing metadata that holds diagd's error details)."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        return cls(code or grpc.StatusCode.UNKNOWN, details or "", **_error_details(trailing))


def _error_details(trailing_metadata) -> dict:
    """The google.rpc details of diagd's domain in a call's trailing metadata
    (`grpc-status-details-bin`, a google.rpc.Status), as DiagdError's keyword
    arguments; none when absent or unreadable."""
    found: dict = {}
    raw = None
    for key, value in trailing_metadata or ():
        if key == _DETAILS_KEY:
            raw = value
    if not raw:
        return found
    try:
        status = status_pb2.Status.FromString(raw)
    except Exception:  # not a google.rpc.Status: no details
        return found
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == DOMAIN:
                found["reason"] = info.reason
                found["metadata"] = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found["field_violations"] = [(v.field, v.description) for v in bad_request.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            found["retry_delay"] = retry.retry_delay.ToTimedelta().total_seconds()
        elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            detail.Unpack(resource)
            found["resource"] = (resource.resource_type, resource.resource_name)
    return found


def is_message_too_large(error: DiagdError) -> bool:
    """True for a request over diagd's --max-message-bytes (reason MESSAGE_TOO_LARGE):
    resending the same request can never succeed, it must be split.

    Without details — this process's own gRPC library refused to send it ("larger than
    max"), or a diagd older than its error details answered — the words decide."""
    if error.code != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    if error.reason:
        return error.reason == "MESSAGE_TOO_LARGE"
    details = error.details or ""
    return "--max-message-bytes" in details or "larger than max" in details.lower()


# How diagd before its error details named the limit in the message.
_OLD_LIMIT = re.compile(r"limit of (\d+) bytes")


def server_message_limit(error: DiagdError) -> Optional[int]:
    """The byte limit of diagd's MESSAGE_TOO_LARGE answer (its --max-message-bytes), if
    it names one (read from the details; from the message of a diagd without them)."""
    if error.reason:
        if error.reason != "MESSAGE_TOO_LARGE":
            return None
        try:
            return int(error.metadata["limit"])
        except (KeyError, ValueError):
            return None
    match = _OLD_LIMIT.search(error.details or "")
    return int(match.group(1)) if match else None
