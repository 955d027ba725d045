"""HTTP caching of deterministic answers: a strong ETag, long-lived Cache-Control, and a 304 for
a client or proxy that already holds the answer.

Every GET image endpoint is a pure function of the model file and its parameters, so the tag is a
hash of the model's sha256, the route, the canonical parameters (defaults filled in, queries
normalised) and :data:`ENCODING`. A matching ``If-None-Match`` is answered before any model runs;
once the route has tagged a URL, :class:`IssuedTags` lets service/revalidation.py answer it before
FastAPI does.
The POST endpoints get no tags: caches do not reuse POST answers, and a conditional POST means
something else (RFC 9110 13.1.2: a 412, for requests that change state).
"""

import hashlib
import json
from typing import NamedTuple

from fastapi import Request, Response, status
from starlette.types import Scope

from service.registry import LoadedModel

# How answers are turned into bytes (tiling, PNG level, JSON fields): change it whenever the same
# model and parameters would give other bytes, or caches would keep serving the old ones.
ENCODING = "4"  # 4: service/png.py with ISA-L's deflate (3: with zlib's; 2: Pillow's PNGs)
CACHE_CONTROL = "public, max-age=31536000, immutable"
_CACHE_CONTROL = CACHE_CONTROL.encode()
RESPONSES = {  # for the OpenAPI document of a cached route
    304: {"description": "Not Modified: the client's copy (its If-None-Match) is the answer"}
}


def etag(model: LoadedModel, route: str, **params: object) -> str:
    """The strong entity tag of ``route``'s answer with ``params`` from ``model``."""
    canonical = json.dumps(
        [ENCODING, model.card["sha256"], route, params], sort_keys=True, separators=(",", ":")
    )
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def headers(tag: str) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": CACHE_CONTROL}


def raw_headers(tag: str) -> tuple[tuple[bytes, bytes], ...]:
    """:func:`headers` as an ASGI message carries them, for the answers sent beside FastAPI."""
    return (b"etag", tag.encode()), (b"cache-control", _CACHE_CONTROL)


def png(data: bytes, tag: str) -> Response:
    """A tagged PNG answer."""
    return Response(data, media_type="image/png", headers=headers(tag))


def holds(request: Request, tag: str) -> bool:
    """Whether the client's ``If-None-Match`` names ``tag``: see :func:`names`."""
    sent = request.headers.get("if-none-match")
    return sent is not None and names(sent, tag)


def names(if_none_match: str, tag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``tag`` (or is ``*``), compared weakly as
    RFC 9110 13.1.2 asks: ``W/"x"`` matches ``"x"``."""
    if if_none_match == tag:  # what a client sends back most often: the tag alone
        return True
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or tag in tags


def not_modified(tag: str) -> Response:
    """304: the client's copy is the answer; no body, the same validators."""
    return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers(tag))


class Issued(NamedTuple):
    """A tagged URL's record: its tag, the template of the route that answered it (what the
    metrics and the access line name) and its 304's validators, encoded once."""

    tag: str
    route: str | None
    headers: tuple[tuple[bytes, bytes], ...]


class IssuedTags:
    """The tag each URL (path and raw query string) was last answered with, and the route that
    answered it, so that a revalidation of that very URL needs no route to recompute it.

    Sound because a tag is a function of the URL alone while the models stay loaded: the app
    clears it at each start. Bounded: the oldest of ``limit`` URLs is forgotten first, and long
    URLs (whose parameters the route would canonicalise anyway) are never kept.
    """

    limit = 4096
    longest = 512  # bytes of path and query string

    def __init__(self) -> None:
        self._tags: dict[tuple[str, bytes], Issued] = {}

    def issue(self, scope: Scope, tag: str) -> str:
        """Remember that the URL of the request of ``scope`` is answered with ``tag``; returns
        ``tag``."""
        key = (scope["path"], scope["query_string"])
        if len(key[0]) + len(key[1]) <= self.longest and key not in self._tags:
            if len(self._tags) >= self.limit:
                del self._tags[next(iter(self._tags))]
            route = getattr(scope.get("route"), "path", None)
            self._tags[key] = Issued(tag, route, raw_headers(tag))
        return tag

    def get(self, path: str, query_string: bytes) -> Issued | None:
        """The record of the URL, if it has been answered."""
        return self._tags.get((path, query_string))

    def clear(self) -> None:
        self._tags.clear()
