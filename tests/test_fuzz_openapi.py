"""Fuzzing the service with schemathesis, from its own OpenAPI document.

Every operation in `/openapi.json` gets a bounded number of generated requests (the schema's
examples, boundary values and wrong types, then random valid and invalid data) against the app
with the shipped models. No response may be a 5xx; its status and content type must be ones the
document lists, and its body must match the documented schema; an invalid value must be refused.

Generation is seeded and derandomized, so CI sends the same requests on every run.
"""

import io

import hypothesis
import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app

# Per operation, for the random phase (the coverage phase adds its own boundary cases). The 10
# operations took 8 s at this count on a 2-core machine busy training (the budget is 90 s); runs of
# 400 and 1500 per operation with other seeds found nothing more.
MAX_EXAMPLES = 50

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # Stateful runs follow OpenAPI links; this API has none, so they would test nothing.
        "phases": {"stateful": {"enabled": False}},
    }
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # An invalid value (seed -1, n 257, a body of the wrong type) must be refused, not clamped.
    negative_data_rejection,
]

_CHANNELS = {"1": 1, "L": 1, "I;16": 1, "LA": 2, "RGB": 3, "RGBA": 4}


@st.composite
def images(draw: st.DrawFn, fmt: str) -> bytes:
    """A real PNG or JPEG of random size, mode and pixels, every other one a 5:1 strip.

    Random bytes never decode, so without these the image routes would only ever be tested up to
    the decoder; with them, requests also reach the resizing, inversion and the model.
    """
    height = draw(st.integers(1, 64))
    width = 5 * height if draw(st.booleans()) else draw(st.integers(1, 320))
    mode = draw(st.sampled_from(["L", "RGB"] if fmt == "JPEG" else list(_CHANNELS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = np.uint16 if mode == "I;16" else np.uint8
    pixels = rng.integers(0, np.iinfo(dtype).max, (height, width, _CHANNELS[mode]), endpoint=True)
    pixels = pixels.astype(dtype)
    image = Image.fromarray(pixels[..., 0] if _CHANNELS[mode] == 1 else pixels)
    if mode == "1":  # no array type gives 1-bit: make it from the 8-bit image
        image = image.convert("1")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


# Raw-body uploads of /solve/image; multipart fields stay random bytes (a 422 each).
schemathesis.openapi.media_type("image/png", images("PNG"))
schemathesis.openapi.media_type("image/jpeg", images("JPEG"))

# The app with the default settings (the shipped models in exported/). schemathesis starts its
# lifespan when it reads the schema and keeps it running, so the models load once for the file.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(), config=CONFIG)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # the machine is shared: slowness is not what this test is about
    derandomize=True,
    database=None,  # no replay of earlier failures: every run sends the same requests
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    # A bound per request, so that a hang fails the test instead of stalling CI.
    case.call_and_validate(checks=CHECKS, timeout=10)
