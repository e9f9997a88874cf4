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


def conform_payload(table: str, df, source: str):
    """:func:`finops_lib.schema.conform` for data parsed from a response: a value of the wrong
    type is a :class:`PayloadError` naming the source, not a contract (SchemaError) failure."""
    from finops_lib import schema

    try:
        return schema.conform(table, df)
    except schema.SchemaError as exc:
        raise PayloadError(f"{source}: response does not fit table {table!r}: {exc}") from exc
