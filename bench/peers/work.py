"""What a peer runs for a request, with the service's own functions: models loaded and sessions
made by service.registry, queries parsed by service.arithmetic and encoded by the card's codec,
latents from service.latents, grids tiled and encoded by service.png. A peer differs from the
service in its serving stack only. Imported in the peers' venvs: nothing here needs more than
onnxruntime, numpy, Pillow and pydantic-settings.
"""

import math

from service.arithmetic import parse_query
from service.latents import from_seed
from service.png import tile, to_png
from service.registry import LoadedModel, load_model, session_options
from service.settings import Settings


def load(name: str, settings: Settings) -> LoadedModel:
    """``<models_dir>/<name>`` as the service loads it: same checks, warm-up and session options
    (``settings.ort_intra_op_threads`` threads a session, its providers)."""
    options = session_options(settings.ort_intra_op_threads)
    return load_model(settings.models_dir / name, options, settings.ort_providers)


class Text:
    """`POST /solve/text` for single queries: parse one, answer many in one model run."""

    def __init__(self, settings: Settings) -> None:
        self.model = load("text2text", settings)
        self.max_chars = settings.max_query_chars

    def parse(self, raw: str) -> str:
        """The query as the service reads it ("81 + 24" -> "81+24"); QueryError if it refuses."""
        return parse_query(raw, self.max_chars)

    def solve(self, queries: list[str]) -> list[dict[str, str]]:
        """Canonical ``queries`` answered in one run, each as the service's JSON answer."""
        model, codec = self.model, self.model.codec
        probs = model.run({model.card["inputs"][0]["name"]: codec.encode(queries)})[0]
        return [
            {"query": query, "answer": answer, "model": model.name}
            for query, answer in zip(queries, codec.decode(probs), strict=True)
        ]


class Sample:
    """`GET /sample`: a PNG grid of ``n`` images from the latents of ``seed``."""

    def __init__(self, settings: Settings) -> None:
        self.model = load("gan", settings)

    def png(self, n: int, seed: int) -> bytes:
        images = self.model.run({"z": from_seed(seed, n, self.model.card["latent"])})[0]
        return to_png(tile(images, math.ceil(math.sqrt(n))))
