"""The hostile corpus: requests that each break one rule, with the status the contract asks for.

The bodies that need building (images whose headers lie, floods, bombs) are made in
tests/hostile_bodies.py, so no binary is committed. Expected statuses follow API.md: 422 invalid
value, 413 body over the limit, 415 media type, 404 unknown path or model, 405 method; 400 is
what Starlette/FastAPI send for a body they cannot parse at all (a multipart without boundary,
JSON nested too deep).
"""

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hostile_bodies import (
    BOMB,
    ICCP_BOMB,
    LIMIT,
    MIB,
    PNG_CUT_IN_CHUNK,
    PNG_HEADER_ONLY,
    STRIP,
    TEXT_FLOOD,
    ZTXT_BOMB,
    encoded,
    nested,
    png,
    queries_body,
)


@dataclass(frozen=True)
class Hostile:
    id: str
    method: str
    url: str
    expect: int  # the status the contract asks for
    send: dict[str, Any] = field(default_factory=dict)  # httpx keywords: content, files, ...


def raw(kind: str, body: bytes) -> dict[str, Any]:
    return {"content": body, "headers": {"content-type": kind}}


def as_png(body: bytes) -> dict[str, Any]:
    return raw("image/png", body)


def as_json(text: str | bytes) -> dict[str, Any]:
    return raw("application/json", text.encode() if isinstance(text, str) else text)


def files(**fields: bytes | str) -> dict[str, Any]:
    """Multipart: bytes are sent as files, str as plain form fields."""
    return {
        "files": {
            name: (f"{name}.png", value, "image/png") if isinstance(value, bytes) else (None, value)
            for name, value in fields.items()
        }
    }


def query(text: str) -> dict[str, Any]:
    return as_json(json.dumps({"query": text}, ensure_ascii=False))


IMAGES = [  # raw image/png (or what claims to be) to POST /solve/image
    ("empty", as_png(b""), 422),
    ("png-header-only", as_png(PNG_HEADER_ONLY), 422),
    ("png-cut-inside-a-chunk", as_png(PNG_CUT_IN_CHUNK), 422),  # was a 500
    ("png-cut-inside-idat", as_png(STRIP[: len(STRIP) // 2]), 422),
    ("jpeg-cut", raw("image/jpeg", encoded("JPEG")[:300]), 422),  # was a 500
    ("png-ztxt-bomb", as_png(ZTXT_BOMB), 422),  # was a 500
    ("png-iccp-bomb", as_png(ICCP_BOMB), 422),  # was a 500
    ("png-text-flood", as_png(TEXT_FLOOD), 422),  # was a 500
    ("png-bomb-1bit-30000x30000", as_png(BOMB), 422),
    ("png-bomb-8bit-30000x30000", as_png(png(30000, 30000, rows=200)), 422),
    ("png-bomb-5to1-100000x20000", as_png(png(100000, 20000, depth=1, rows=50)), 422),
    ("png-side-over-limit-2100x420", as_png(png(2100, 420, rows=420)), 422),
    ("png-0x0", as_png(png(0, 0)), 422),
    ("png-1x0", as_png(png(1, 0)), 422),
    ("png-0x1", as_png(png(0, 1)), 422),
    ("png-2^31x2^31", as_png(png(2**31 - 1, 2**31 - 1)), 422),
    ("png-wrong-aspect", as_png(encoded("PNG", (28, 28))), 422),
    ("jpeg-wrong-aspect", raw("image/jpeg", encoded("JPEG", (140, 140))), 422),
    ("jpeg-1x1", raw("image/jpeg", encoded("JPEG", (1, 1))), 422),
    ("gif-as-png", as_png(encoded("GIF")), 422),
    ("bmp-as-png", as_png(encoded("BMP")), 422),
    ("tiff-as-png", as_png(encoded("TIFF")), 422),
    ("webp-as-jpeg", raw("image/jpeg", encoded("WEBP")), 422),
    ("random-bytes", as_png(np.random.default_rng(1).bytes(5000)), 422),
    ("png-over-body-limit", as_png(STRIP + b"\x00" * LIMIT), 413),
    # The largest strip allowed (2040x408 of noise, 0.8 MB): answered, and within the time bound.
    ("png-largest-allowed", as_png(encoded("PNG", (2040, 408))), 200),
]
CONTENT_TYPES = [  # the transport to POST /solve/image
    ("text-plain", raw("text/plain", b"81+24"), 415),
    ("application-xml", raw("application/xml", b"<query>81+24</query>"), 415),
    ("json", as_json('{"file": "iVBORw0KGgo="}'), 415),
    ("no-content-type", {"content": STRIP}, 415),
    ("odd-content-type", raw("image/", STRIP), 415),
    ("multipart-without-boundary", raw("multipart/form-data", b"--x\r\n\r\n--x--\r\n"), 400),
    ("multipart-garbage", raw("multipart/form-data; boundary=xyz", b"\x00" * 64), 400),
    ("multipart-unclosed", raw("multipart/form-data; boundary=xyz", b"--xyz\r\nCont"), 422),
    ("multipart-text-field", files(file="81+24"), 422),
    ("multipart-wrong-name", files(image=STRIP), 422),
    ("multipart-two-files", files(file=STRIP, other=STRIP), 400),
    ("multipart-gif", files(file=encoded("GIF")), 422),
    ("multipart-truncated", files(file=PNG_CUT_IN_CHUNK), 422),  # was a 500
    ("multipart-over-limit", files(file=STRIP + b"\x00" * LIMIT), 413),
    ("multipart-text-field-over-1MiB", files(file="x" * (MIB + 1)), 400),  # Starlette's limit
]
TEXT = [  # bodies to POST /solve/text
    ("rtl-mark", query("\u200f81+24"), 422),
    ("zero-width-joiner", query("81\u200d+24"), 422),
    ("zero-width-space", query("81\u200b+24"), 422),
    ("full-width-digits", query("８１+２４"), 422),
    ("arabic-indic-digits", query("٨١+٢٤"), 422),
    ("combining-accent", query("8\u03011+24"), 422),
    ("emoji", query("81+24\U0001f600"), 422),
    ("nul", query("81\x00+24"), 422),
    ("lone-surrogate", as_json('{"query": "\\ud800"}'), 422),
    ("surrogate-in-batch", as_json('{"queries": ["81+24", "\\udfff+1"]}'), 422),
    # JSON with a BOM or in UTF-16 is decoded, as RFC 8259 lets a parser do: answered.
    ("utf8-bom", as_json(b'\xef\xbb\xbf{"query": "81+24"}'), 200),
    ("latin-1-body", as_json('{"query": "81+24\xe9"}'.encode("latin-1")), 400),
    ("utf-16-body", as_json('{"query": "81+24"}'.encode("utf-16")), 200),
    ("nested-lists-100000", as_json(nested(100_000, "[", "]")), 400),
    ("nested-objects-100000", as_json(nested(100_000, '{"a":', "}")), 400),
    ("query-nested-100000", as_json(b'{"query": ' + nested(100_000, "[", "]") + b"}"), 400),
    ("query-nested-500", as_json(b'{"query": ' + nested(500, "[", "]") + b"}"), 422),
    ("query-1e309", as_json('{"query": 1e309}'), 422),
    ("query-10^400", as_json('{"query": 1' + "0" * 400 + "}"), 422),
    ("query-5000-digits", as_json('{"query": ' + "9" * 5000 + "}"), 400),
    ("query-minus-zero", as_json('{"query": -0}'), 422),
    ("query-nan", as_json('{"query": NaN}'), 422),
    ("query-infinity", as_json('{"queries": [Infinity, -Infinity]}'), 422),
    ("query-null", as_json('{"query": null}'), 422),
    ("query-and-queries", as_json('{"query": "1+1", "queries": ["1+1"]}'), 422),
    ("body-a-list", as_json('["81+24"]'), 422),
    ("body-a-string", as_json('"81+24"'), 422),
    ("body-empty", as_json(b""), 422),
    ("body-whitespace", as_json(b"   "), 422),
    ("queries-empty", as_json('{"queries": []}'), 422),
    ("query-very-long", query("1" * 100_000 + "+1"), 422),
    ("queries-4097", as_json(json.dumps({"queries": ["1+1"] * 4097})), 422),
    ("queries-at-body-limit", as_json(queries_body(LIMIT)), 422),
    ("queries-over-body-limit", as_json(queries_body(LIMIT + 1)), 413),
    (
        "content-length-lies",
        {"content": b'{"query": "1+1"}', "headers": {"content-length": "9" * 20}},
        413,
    ),
    ("text-plain", raw("text/plain", b'{"query": "81+24"}'), 415),
    ("application-xml", raw("application/xml", b"<query>81+24</query>"), 415),
    ("multipart", files(query="81+24"), 415),
]
TEXT_QUERY = [  # query strings of POST /solve/text
    ("model-unicode", "?model=\u200fText2Text\u0301", 404),
    ("model-surrogate-utf8", "?model=%ED%A0%80", 404),
    ("model-nul", "?model=%00", 404),
]
GET = [  # query strings to the GET image routes
    ("/render?query=%ED%A0%80", 422),  # a UTF-8-encoded surrogate: not valid UTF-8
    ("/render?query=%FF%FE", 422),
    ("/render?query=81%00%2B24", 422),
    ("/render?query=%EF%BC%98%EF%BC%91%2B%EF%BC%92%EF%BC%94", 422),  # full-width 81+24
    ("/render?query=" + "1" * 60_000, 422),  # the test client refuses URLs over 64 KiB
    ("/render", 422),
    ("/render?query=81%2B24&seed=1e309", 422),
    ("/render?query=81%2B24&seed=1" + "0" * 400, 422),
    ("/render?query=81%2B24&seed=" + "9" * 10_000, 422),
    ("/render?query=81%2B24&seed=NaN", 422),
    ("/render?query=81%2B24&seed=-1", 422),
    ("/render?query=81%2B24&scale=Infinity", 422),
    ("/render?query=81%2B24&scale=0", 422),
    ("/render?query=81%2B24&scale=%EF%BC%92", 422),  # full-width 2
    ("/render?query=81%2B24&format=gif", 422),
    ("/sample?n=0", 422),
    ("/sample?n=-0", 422),
    ("/sample?n=257", 422),
    ("/sample?n=1e309", 422),
    ("/sample?n=10" + "0" * 400, 422),
    ("/sample?n=NaN", 422),
    ("/sample?n=-Infinity", 422),
    ("/sample?n=1&n=257", 422),  # repeated: the last one counts, and it is out of range
    ("/sample?seed=4294967296", 422),
    ("/sample?scale=9", 422),
    ("/sample?model=text2text", 404),
    ("/sample?model=" + "x" * 60_000, 404),
    ("/interpolate?steps=1", 422),
    ("/interpolate?steps=65", 422),
    ("/interpolate?steps=1e309", 422),
    ("/interpolate?seed_a=-1", 422),
    ("/interpolate?seed_b=NaN", 422),
    ("/interpolate?method=cubic", 422),
    ("/interpolate?method=SLERP", 422),
    ("/interpolate?method=slerp%00", 422),
    ("/interpolate?model=vae&model=nope", 404),
]
VAE = files(a=STRIP, b=STRIP)  # valid uploads for POST /interpolate
INTERPOLATE = [  # POST /interpolate, each part wrong in turn
    ("missing-b", "", files(a=STRIP), 422),
    ("a-text-field", "", files(a="81+24", b=STRIP), 422),
    ("a-gif", "", files(a=encoded("GIF"), b=STRIP), 422),
    ("a-empty", "", files(a=b"", b=STRIP), 422),
    ("a-truncated", "", files(a=PNG_CUT_IN_CHUNK, b=STRIP), 422),  # was a 500
    ("a-ztxt-bomb", "", files(a=ZTXT_BOMB, b=STRIP), 422),  # was a 500
    ("b-text-flood", "", files(a=STRIP, b=TEXT_FLOOD), 422),  # was a 500
    ("b-bomb", "", files(a=STRIP, b=BOMB), 422),
    ("b-0x0", "", files(a=STRIP, b=png(0, 0)), 422),
    ("three-files", "", files(a=STRIP, b=STRIP, c=STRIP), 400),
    ("nine-text-fields", "", files(a=STRIP, b=STRIP, **{f"f{i}": "x" for i in range(9)}), 400),
    ("steps-1", "?steps=1", VAE, 422),
    ("steps-65", "?steps=65", VAE, 422),
    ("steps-nan", "?steps=NaN", VAE, 422),
    ("scale-0", "?scale=0", VAE, 422),
    ("method-cubic", "?method=cubic", VAE, 422),
    ("model-gan", "?model=gan", VAE, 404),
    ("model-text2text", "?model=text2text", VAE, 404),
    ("raw-png", "", as_png(STRIP), 415),
    ("text-plain", "", raw("text/plain", b"a=1"), 415),
    ("json", "", as_json('{"a": "", "b": ""}'), 415),
    ("multipart-without-boundary", "", raw("multipart/form-data", b"--x--"), 400),
    ("over-limit", "", files(a=STRIP, b=STRIP + b"\x00" * LIMIT), 413),
]
ROUTING = [  # unknown paths and wrong methods: Starlette's own 404/405, with `detail` too
    ("GET", "/nope", 404),
    ("GET", "/solve", 404),
    ("GET", "/static/%2e%2e/%2e%2e/settings.py", 404),  # out of the demo page's folder
    ("GET", "/static/", 404),
    ("GET", "/%00", 404),
    ("GET", "/" + "a" * 10_000, 404),
    ("POST", "/solve/text/extra", 404),
    ("GET", "/solve/text", 405),
    ("GET", "/solve/image", 405),
    ("PUT", "/interpolate", 405),
    ("DELETE", "/models", 405),
    ("PATCH", "/render", 405),
    ("POST", "/health", 405),
    ("OPTIONS", "/ready", 405),
]

CORPUS = [
    *(Hostile(f"solve-image/{name}", "POST", "/solve/image", s, kw) for name, kw, s in IMAGES),
    *(Hostile(f"solve-image/{n}", "POST", "/solve/image", s, kw) for n, kw, s in CONTENT_TYPES),
    *(Hostile(f"solve-text/{name}", "POST", "/solve/text", s, kw) for name, kw, s in TEXT),
    *(
        Hostile(f"solve-text/{name}", "POST", "/solve/text" + q, s, query("81+24"))
        for name, q, s in TEXT_QUERY
    ),
    *(Hostile(f"get{url[:60]}", "GET", url, s) for url, s in GET),
    *(
        Hostile(f"interpolate/{name}", "POST", "/interpolate" + q, s, kw)
        for name, q, kw, s in INTERPOLATE
    ),
    *(Hostile(f"routing/{method}{url[:40]}", method, url, s) for method, url, s in ROUTING),
]
