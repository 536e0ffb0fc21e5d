"""DiagdError: the one exception type the client raises, carrying the gRPC status
code, plus which codes are worth retrying."""

from __future__ import annotations

import grpc

# Codes after which the same request may succeed later: diagd or its database is
# unreachable, overloaded, or the call ran out of time.
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
