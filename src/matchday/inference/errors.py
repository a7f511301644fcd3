"""Errors every serving front end (BentoML HTTP, OIP HTTP, OIP gRPC) turns into the same status: one place decides
what a client is told. `InvalidInput` (schema.py) is the 400/422 family; these are the rest."""

from __future__ import annotations

__all__ = ["Forbidden", "NotReady", "RateLimited", "ServingError", "Unauthorized"]


class ServingError(Exception):
    """`status` is the HTTP status; gRPC maps it (401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
    429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE)."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(ServingError):  # noqa: N818  named after the HTTP status
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServingError):  # noqa: N818  named after the HTTP status
    status = 403


class RateLimited(ServingError):  # noqa: N818  named after the HTTP status
    status = 429

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        # Retry-After takes whole seconds; rounding down would invite a retry that is refused again.
        return {"Retry-After": str(max(1, int(-(-self.retry_after_seconds // 1))))}


class NotReady(ServingError):  # noqa: N818  named after the HTTP status
    status = 503
