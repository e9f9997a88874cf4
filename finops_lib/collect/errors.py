"""Errors raised by the collectors.

A :class:`SourceUnavailable` becomes a *gap* in the snapshot (empty table plus
a reason in the manifest); the other errors stop a collection with a message
that says what to do.
"""

from __future__ import annotations


class CollectError(RuntimeError):
    """Base class of all collector errors."""


class CredentialsError(CollectError):
    """AWS credentials are missing or expired."""


class AccessDeniedError(CollectError):
    """The caller lacks an IAM permission; the message names the action."""


class ThrottledError(CollectError):
    """Throttled past the retry budget."""


class PayloadError(CollectError):
    """A response could not be parsed (truncated, not JSON, unexpected shape)."""


class SourceUnavailable(CollectError):
    """An optional source cannot deliver (no key, 401/403, plan limits, server down)."""
