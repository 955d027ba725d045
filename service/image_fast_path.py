"""`GET /sample` and `GET /render` with plain parameters, answered without FastAPI's routing,
dependency solving and query validation: the image requests a page or a client sends most.

Only requests that are certainly fine are taken: a GET with no ``If-None-Match`` (revalidations
are service/revalidation.py's or the route's), no ``model`` (so the default one, loaded), and
parameters the route knows, each given at most once and inside the route's bounds (decimal digits
for integers, a query that parses, ``format=png``). Anything else goes to the app untouched, so
every error is the route's own, word for word; the tag and the PNG are made by the functions the
route calls, so a taken request gets the route's very bytes and headers.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api import generate, render
from service.arithmetic import QueryError, parse_query
from service.caching import raw_headers
from service.context import AppContext
from service.latents import MAX_SEED
from service.png import MAX_SCALE
from service.registry import LoadedModel, NotReadyError

Reader = Callable[[str, AppContext], Any]  # a parameter's text to its value, or None


def integer(low: int, high: int) -> Reader:
    """An integer the route bounds to ``low..high``, written in plain decimal digits."""

    def read(text: str, context: AppContext) -> int | None:
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
            return None
        value = int(text)
        return value if low <= value <= high else None

    return read


def query(text: str, context: AppContext) -> str | None:
    """An arithmetic query, canonical."""
    try:
        return parse_query(text, context.settings.max_query_chars)
    except QueryError:
        return None


def png_only(text: str, context: AppContext) -> str | None:
    return text if text == "png" else None


@dataclass(frozen=True)
class ImageGet:
    """A GET route the fast path answers: its parameters (reader and default, None if required)
    and the route's own functions for the tag and the PNG."""

    route: Any  # labels the request in the metrics and the access line, as the route would
    task: str | tuple[str, ...]
    params: dict[str, tuple[Reader, Any]]
    tag: Callable[..., str]  # (model, **params)
    png: Callable[..., Awaitable[bytes]]  # (context, model, **params)


async def render_png(
    context: AppContext, chosen: LoadedModel, query: str, seed: int, scale: int, format: str
) -> bytes:
    return (await render.drawing(context, chosen, query, seed, scale))[2]


SEED, SCALE = integer(0, MAX_SEED), integer(1, MAX_SCALE)
ROUTES = {
    "/sample": ImageGet(
        route=generate.sample_route,
        task=generate.TASKS,
        params={"n": (integer(1, generate.MAX_N), 16), "seed": (SEED, 0), "scale": (SCALE, 1)},
        tag=generate.sample_tag,
        png=generate.sample_png,
    ),
    "/render": ImageGet(
        route=render.render_route,
        task="text2image",
        params={
            "query": (query, None),
            "seed": (SEED, 0),
            "scale": (SCALE, 1),
            "format": (png_only, "png"),
        },  # fmt: skip
        tag=render.render_tag,
        png=render_png,
    ),
}


class ImageFastPath:
    def __init__(self, app: ASGIApp, context: AppContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        get = self.may_take(scope)
        params = self.params(get, scope["query_string"]) if get else None
        chosen = self.default_model(get) if params is not None else None
        if chosen is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = get.route
        tag = self.context.tags.issue(scope, get.tag(chosen, **params))
        png = await get.png(self.context, chosen, **params)
        await send({"type": "http.response.start", "status": 200, "headers": [
            *raw_headers(tag),
            (b"content-length", str(len(png)).encode()), (b"content-type", b"image/png"),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": png})

    @staticmethod
    def may_take(scope: Scope) -> ImageGet | None:
        """From the request line and headers alone: a GET of a route here, not a revalidation."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        get = ROUTES.get(scope["path"])
        if get is None or any(name == b"if-none-match" for name, _ in scope["headers"]):
            return None
        return get

    def default_model(self, get: ImageGet) -> LoadedModel | None:
        try:
            return self.context.registry.get(get.task)
        except NotReadyError:
            return None

    def params(self, get: ImageGet, query_string: bytes) -> dict[str, Any] | None:
        """Every parameter's value (the route's default where absent), or None if any given is
        unknown, repeated or not certainly valid. Parsed as Starlette parses a query string."""
        given = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        names = [name for name, _ in given]
        if len(set(names)) != len(names) or not set(names) <= get.params.keys():
            return None
        values = dict(given)
        params = {}
        for name, (read, default) in get.params.items():
            value = read(values[name], self.context) if name in values else default
            if value is None:
                return None
            params[name] = value
        return params
