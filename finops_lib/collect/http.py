"""HTTP plumbing shared by the carbon and power collectors: cached sessions, errors.

Responses are cached with ``requests-cache`` and a TTL per endpoint (the
issue's figures, :data:`HTTP_TTL_S`). Secret headers (``auth-token``,
``Authorization``) are ignored for cache keys and stripped from what is
stored, so a token never lands in the cache, a snapshot or a log.
"""

from __future__ import annotations

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
                 hints: dict[int, str] | None = None, **kwargs):
    """Send a request, count it unless served from cache, and return the decoded JSON.

    Raises
    ------
    SourceUnavailable
        Connection failure or an HTTP error status (message adds ``hints[status]``).
    PayloadError
        The body is not JSON (truncated or an HTML error page).
    """
    kwargs.setdefault("timeout", TIMEOUT_S)
    if isinstance(session, requests_cache.CachedSession):
        # TTL 0 means "never store": expire_after=0 would still store a response that carries
        # ETag/Last-Modified (for revalidation), e.g. a WattTime login token.
        ttl = HTTP_TTL_S.get(label, 0)
        kwargs.setdefault("expire_after", ttl if ttl > 0 else requests_cache.DO_NOT_CACHE)
    try:
        resp = session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise SourceUnavailable(f"{label}: cannot reach {url.split('?')[0]}: {exc.__class__.__name__}") from exc
    if counter is not None:
        if getattr(resp, "from_cache", False):
            counter.hit(label)
        else:
            counter.add(label)
    if resp.status_code >= 400:
        hint = (hints or {}).get(resp.status_code, "")
        raise SourceUnavailable(f"{label}: HTTP {resp.status_code}{': ' + hint if hint else ''} "
                                f"(server said: {_snippet(resp.text)})")
    try:
        return resp.json()
    except ValueError as exc:
        raise PayloadError(f"{label}: response is not JSON (truncated?): {_snippet(resp.text)!r}") from exc


def _snippet(text: str, n: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n] + "..."
