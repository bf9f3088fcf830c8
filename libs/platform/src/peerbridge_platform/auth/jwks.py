"""Where a verifier finds public keys by `kid`: a fixed set, or the issuer's JWKS over HTTP.

The HTTP source is built for rotation and for hostile input:
- keys are cached; an unknown `kid` triggers a refresh, so a newly rotated
  key is picked up without a restart;
- refreshes (for any reason, successful or not) happen at most once per
  `min_refresh_interval_s`, and concurrent lookups share one fetch, so a flood
  of tokens with made-up `kid`s costs the issuer at most one request per interval;
- a fetch has a timeout and a size cap, follows no redirects, and accepts only
  public signing keys;
- when a refresh fails the last good keys are used for at most `max_stale_s`,
  after which verification fails closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from ..logging import get_logger
from .keys import KeyFormatError, KeySet, VerificationKey

_log = get_logger(__name__)

_MAX_KEYS = 100


class JwksUnavailable(RuntimeError):
    """The issuer's JWKS could not be fetched and no usable cached copy is left."""


class JwksSource(Protocol):
    async def get_key(self, kid: str) -> VerificationKey | None:
        """The key with this `kid`, or None when the issuer does not (or no longer) publish it."""
        ...


def parse_jwks(document: object) -> dict[str, VerificationKey]:
    """The usable keys of a JWKS by `kid`; unusable keys are skipped (and logged), not fatal.

    Two keys with one `kid` are both dropped: picking either would be a guess.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeyFormatError("a JWKS is an object with a 'keys' array")
    entries: list[Any] = document["keys"][:_MAX_KEYS]
    found: dict[str, VerificationKey] = {}
    duplicated: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            key = VerificationKey.from_jwk(entry)
        except KeyFormatError as error:
            _log.warning("jwks key skipped", index=index, reason=str(error))
            continue
        if key.kid in found:
            duplicated.add(key.kid)
        found[key.kid] = key
    for kid in duplicated:
        _log.warning("jwks kid published twice, both keys skipped", kid=kid)
        del found[kid]
    return found


class StaticJwksSource:
    """A fixed set of keys (configuration, tests, or the issuer verifying its own tokens).

    `replace()` swaps the whole set atomically, for a process that rotates keys itself.
    """

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self._keys = _by_kid(keys)

    @classmethod
    def from_key_set(cls, key_set: KeySet) -> StaticJwksSource:
        return cls(key_set.verification_keys())

    @classmethod
    def from_jwks(cls, document: object) -> StaticJwksSource:
        return cls(parse_jwks(document).values())

    def replace(self, keys: Iterable[VerificationKey]) -> None:
        self._keys = _by_kid(keys)

    async def get_key(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)


class RefreshingJwksSource:
    """The issuer's JWKS from `download` (any transport), cached and refreshed with a rate limit.

    `download` returns the JWKS document's bytes; a transport error it raises
    must be an OSError, httpx.HTTPError, TimeoutError or ValueError (all count
    as "unavailable"). `name` says where the keys come from, in logs.
    """

    def __init__(
        self,
        download: Callable[[], Awaitable[bytes]],
        *,
        name: str,
        timeout_s: float = 5.0,
        max_age_s: float = 300.0,
        min_refresh_interval_s: float = 30.0,
        max_stale_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._download = download
        self._name = name
        self._timeout_s = timeout_s
        self._max_age_s = max_age_s
        self._min_interval_s = min_refresh_interval_s
        self._max_stale_s = max_stale_s
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many requests went to the issuer (for metrics and tests)

    async def get_key(self, kid: str) -> VerificationKey | None:
        if self._fetched_at is None or self._age() >= self._max_age_s:
            await self._refresh_if_allowed("cache expired")
        elif kid not in self._keys:
            await self._refresh_if_allowed("unknown kid")
        if self._fetched_at is None:
            raise JwksUnavailable("the issuer's keys have never been fetched")
        if self._age() >= self._max_age_s + self._max_stale_s:
            raise JwksUnavailable("the issuer's keys could not be refreshed for too long")
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch now, ignoring the rate limit (start-up, or an operator's request)."""
        async with self._lock:
            await self._fetch()

    def _age(self) -> float:
        assert self._fetched_at is not None
        return self._clock() - self._fetched_at

    async def _refresh_if_allowed(self, reason: str) -> None:
        async with self._lock:
            # Whoever held the lock before us may have just fetched: then we are done.
            if self._attempted_at is not None and (
                self._clock() - self._attempted_at < self._min_interval_s
            ):
                return
            _log.info("jwks refresh", source=self._name, reason=reason)
            try:
                await self._fetch()
            except JwksUnavailable as error:
                # Keep the last good keys (bounded by max_stale_s in get_key).
                _log.warning("jwks refresh failed", source=self._name, error=str(error))

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            body = await asyncio.wait_for(self._download(), self._timeout_s)
            document = json.loads(body)
            keys = parse_jwks(document)
        except (httpx.HTTPError, OSError, TimeoutError, ValueError, RecursionError) as error:
            raise JwksUnavailable(f"could not read the JWKS: {type(error).__name__}") from error
        self._keys = keys
        self._fetched_at = self._clock()
        _log.info("jwks fetched", source=self._name, kids=sorted(keys))


class HttpJwksSource(RefreshingJwksSource):
    """The issuer's JWKS over HTTP(S): a timeout, a size cap, no redirects."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 5.0,
        max_age_s: float = 300.0,
        min_refresh_interval_s: float = 30.0,
        max_stale_s: float = 3600.0,
        max_bytes: int = 256 * 1024,
        allow_plain_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_url(url, allow_plain_http=allow_plain_http)
        super().__init__(
            self._download_over_http,
            name=url,
            timeout_s=timeout_s,
            max_age_s=max_age_s,
            min_refresh_interval_s=min_refresh_interval_s,
            max_stale_s=max_stale_s,
            clock=clock,
        )
        self._url = url
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._max_bytes = max_bytes

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpJwksSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _download_over_http(self) -> bytes:
        headers = {"Accept": "application/jwk-set+json, application/json"}
        async with self._client.stream("GET", self._url, headers=headers) as response:
            if response.status_code != httpx.codes.OK:
                raise httpx.HTTPStatusError(
                    f"status {response.status_code}", request=response.request, response=response
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise ValueError("JWKS document is larger than allowed")
                chunks.append(chunk)
            return b"".join(chunks)


def _by_kid(keys: Iterable[VerificationKey]) -> dict[str, VerificationKey]:
    found: dict[str, VerificationKey] = {}
    for key in keys:
        if found.setdefault(key.kid, key) is not key:
            raise ValueError(f"two keys with kid {key.kid!r}")
    return found


def _check_url(url: str, *, allow_plain_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and (allow_plain_http or _is_loopback(parts.hostname)):
        return
    raise ValueError(
        "the JWKS URL must be https (plain http only on loopback, or with allow_plain_http)"
    )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
