"""HTTP caching of deterministic answers: a strong ETag, long-lived Cache-Control, and a 304 for
a client or proxy that already holds the answer.

Every GET image endpoint is a pure function of the model file and its parameters, so the tag is a
hash of the model's sha256, the route, the canonical parameters (defaults filled in, queries
normalised) and :data:`ENCODING`. A matching ``If-None-Match`` is answered before any model runs.
The POST endpoints get no tags: caches do not reuse POST answers, and a conditional POST means
something else (RFC 9110 13.1.2: a 412, for requests that change state).
"""

import hashlib
import json

from fastapi import Request, Response, status

from service.registry import LoadedModel

# How answers are turned into bytes (tiling, PNG level, JSON fields): change it whenever the same
# model and parameters would give other bytes, or caches would keep serving the old ones.
ENCODING = "2"  # 2: PNGs with zlib's run-length strategy
CACHE_CONTROL = "public, max-age=31536000, immutable"
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


def holds(request: Request, tag: str) -> bool:
    """Whether the client's ``If-None-Match`` names ``tag`` (or is ``*``), compared weakly as
    RFC 9110 13.1.2 asks: ``W/"x"`` matches ``"x"``."""
    sent = request.headers.get("if-none-match")
    if sent is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in sent.split(",")}
    return "*" in tags or tag in tags


def not_modified(tag: str) -> Response:
    """304: the client's copy is the answer; no body, the same validators."""
    return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers(tag))
