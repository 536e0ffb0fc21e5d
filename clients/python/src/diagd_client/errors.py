"""DiagdError: the one exception type the client raises, carrying the gRPC status
code, plus which codes are worth retrying."""

from __future__ import annotations

import re
from typing import Optional

import grpc

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
    (for INVALID_ARGUMENT it names the field, e.g. "log.message: required")."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def retryable(self) -> bool:
        """True when retrying later may succeed (diagd down, overloaded, timed out)."""
        return self.code in RETRYABLE_CODES

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "DiagdError":
        """Wraps a grpc.RpcError (which is also a grpc.Call carrying code and details)."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code or grpc.StatusCode.UNKNOWN, details or "")


_LIMIT = re.compile(r"limit of (\d+) bytes")


def is_message_too_large(error: DiagdError) -> bool:
    """True for diagd's answer to a request over its --max-message-bytes
    (RESOURCE_EXHAUSTED naming the flag, or gRPC's own "larger than max"): resending
    the same request can never succeed, it must be split."""
    if error.code != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    details = error.details or ""
    return "--max-message-bytes" in details or "message larger than max" in details.lower()


def server_message_limit(details: str) -> Optional[int]:
    """The byte limit named in diagd's message-too-large answer, if it names one."""
    match = _LIMIT.search(details or "")
    return int(match.group(1)) if match else None
