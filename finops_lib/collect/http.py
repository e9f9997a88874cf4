"""HTTP plumbing shared by the carbon and power collectors: cached sessions, retries, errors.

Every request is retried like the AWS calls (:data:`MAX_ATTEMPTS` attempts in
all, as botocore's standard mode): on a connection failure, a timeout and on
HTTP 429/500/502/503/504, after an exponential backoff with jitter
(:func:`retry_delay`) or the server's ``Retry-After``. Every attempt sent is
counted, so retries show in the manifest's ``api_calls`` as AWS retries do.

Responses are cached with ``requests-cache`` and a TTL per endpoint (the
issue's figures, :data:`HTTP_TTL_S`). Secret headers (``auth-token``,
``Authorization``) are ignored for cache keys and stripped from what is
stored, so a token never lands in the cache, a snapshot or a log.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests
import requests_cache

from finops_lib.collect.errors import PayloadError, SourceUnavailable

#: TTL per endpoint [s] (issue 3): current intensity 1 h, 24 h history 2 h,
#: power profiles 7 days. Past ranges and WattTime follow the history figure.
HTTP_TTL_S = {
    "electricitymaps.latest": 3_600,
    "electricitymaps.history": 2 * 3_600,
    "electricitymaps.past-range": 2 * 3_600,
    "watttime.login": 0,
    "watttime.historical": 2 * 3_600,
    "watttime.forecast": 3_600,
    "boavizta.instance": 7 * 86_400,
}
SECRET_PARAMS = ["auth-token", "Authorization", "token", "api_key"]
TIMEOUT_S = 30
#: Attempts per request, the first included (as the AWS clients, ``aws.MAX_ATTEMPTS``).
MAX_ATTEMPTS = 5
#: Statuses worth retrying: rate limit and transient server/gateway errors.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Backoff before retry n: ``BACKOFF_BASE_S * 2**(n-1)``, at most ``BACKOFF_MAX_S``, times a jitter in [0.5, 1]. [s]
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 20.0
#: A ``Retry-After`` longer than this is not waited for: the source becomes a gap instead. [s]
RETRY_AFTER_MAX_S = 60.0

log = logging.getLogger(__name__)
_sleep = time.sleep  # tests replace it


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(attempt: int, retry_after: float | None = None, rng=random) -> float:
    """Wait before retry number ``attempt`` (1 = the first retry): ``Retry-After`` if given, else backoff. [s]"""
    if retry_after is not None:
        return retry_after
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


def cached_session(cache_dir=None, name: str = "http") -> requests.Session:
    """A ``requests`` session caching GET and POST responses in ``cache_dir`` (None: no cache)."""
    if cache_dir is None:
        return requests.Session()
    path = Path(cache_dir) / "http"
    path.mkdir(parents=True, exist_ok=True)
    return requests_cache.CachedSession(
        str(path / name), backend="sqlite", allowable_methods=("GET", "POST"),
        ignored_parameters=SECRET_PARAMS, expire_after=requests_cache.DO_NOT_CACHE,
    )


def request_json(session: requests.Session, method: str, url: str, *, label: str, counter=None,
                 hints: dict[int, str] | None = None, max_attempts: int = MAX_ATTEMPTS, **kwargs):
    """Send a request (retried, see the module doc), count every attempt unless served from cache, decode JSON.

    Raises
    ------
    SourceUnavailable
        Connection failure or an HTTP error status after the retries, or a
        ``Retry-After`` beyond :data:`RETRY_AFTER_MAX_S` (message adds ``hints[status]``).
    PayloadError
        The body is not JSON (truncated or an HTML error page).
    """
    kwargs.setdefault("timeout", TIMEOUT_S)
    if isinstance(session, requests_cache.CachedSession):
        # TTL 0 means "never store": expire_after=0 would still store a response that carries
        # ETag/Last-Modified (for revalidation), e.g. a WattTime login token.
        ttl = HTTP_TTL_S.get(label, 0)
        kwargs.setdefault("expire_after", ttl if ttl > 0 else requests_cache.DO_NOT_CACHE)
    where = url.split("?")[0]
    for attempt in range(1, max_attempts + 1):
        try:
            resp = session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            if counter is not None:
                counter.add(label)
            if attempt < max_attempts and isinstance(exc, requests.ConnectionError | requests.Timeout):
                delay = retry_delay(attempt)
                log.warning("%s: cannot reach %s (%s); retry %d of %d in %.1f s", label, where,
                            exc.__class__.__name__, attempt, max_attempts - 1, delay)
                _sleep(delay)
                continue
            raise SourceUnavailable(f"{label}: cannot reach {where}: {exc.__class__.__name__}"
                                    f"{f' (after {attempt} attempts)' if attempt > 1 else ''}") from exc
        if counter is not None:
            if getattr(resp, "from_cache", False):
                counter.hit(label)
            else:
                counter.add(label)
        if resp.status_code not in RETRY_STATUSES or attempt == max_attempts:
            break
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if retry_after is not None and retry_after > RETRY_AFTER_MAX_S:
            break  # not worth waiting: the source becomes a gap now
        delay = retry_delay(attempt, retry_after)
        log.warning("%s: HTTP %d from %s; retry %d of %d in %.1f s", label, resp.status_code, where, attempt,
                    max_attempts - 1, delay)
        _sleep(delay)
    if resp.status_code >= 400:
        hint = (hints or {}).get(resp.status_code, "")
        tried = f" after {attempt} attempts" if attempt > 1 else ""
        raise SourceUnavailable(f"{label}: HTTP {resp.status_code}{tried}{': ' + hint if hint else ''} "
                                f"(server said: {_snippet(resp.text)})")
    try:
        return resp.json()
    except ValueError as exc:
        raise PayloadError(f"{label}: response is not JSON (truncated?): {_snippet(resp.text)!r}") from exc


def _snippet(text: str, n: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n] + "..."
