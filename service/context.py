"""What the routes share: the settings, the models, the metrics, the inference slots and the
batchers of single text queries and of renders, made once by the app factory and reached through
one dependency.

One dependency rather than one per part because FastAPI resolves each on every request. With
four of them, a text query's handling cost 0.232 ms; with one (and a cheaper Content-Type check in
`require_json`), 0.210 ms (in-process ASGI calls of `POST /solve/text`, the model stubbed out), and
the running service answered 2,650 -> 2,950 single queries a second at c=8 (`wrk`, three rounds
each, side by side).
"""

from dataclasses import dataclass, field

from service.access_log import AccessLog
from service.accounting import Accounting
from service.batching import Batcher
from service.caching import IssuedTags
from service.metrics import Metrics
from service.registry import Registry
from service.settings import Settings
from service.slots import InferenceSlots


@dataclass
class AppContext:
    settings: Settings
    registry: Registry
    metrics: Metrics
    slots: InferenceSlots
    accounting: Accounting  # each request's metrics and access line
    # Per model, made at its first single text query or render; emptied at each start of the app,
    # as a batcher belongs to one event loop.
    batchers: dict[str, Batcher] = field(default_factory=dict)
    # The tag each GET image URL was answered with (service/revalidation.py); emptied at each start
    # of the app, as the models may have changed.
    tags: IssuedTags = field(default_factory=IssuedTags)

    @classmethod
    def create(cls, settings: Settings) -> "AppContext":
        """No models loaded yet: the app's lifespan loads them."""
        slots = InferenceSlots(settings.max_concurrent_inference)
        logs = settings.log_level in ("info", "debug")
        access = AccessLog(settings.log_json) if logs else None
        metrics = Metrics()
        return cls(settings, Registry(), metrics, slots, Accounting(metrics, access))
