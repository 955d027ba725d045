"""Reading one value off a test app's `/metrics`, as a scraper would."""

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def metric_value(client: TestClient, name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels``; 0 if the app has none yet."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return next(
        (sample.value for family in families for sample in family.samples
         if sample.name == name and labels.items() <= sample.labels.items()),
        0.0,
    )  # fmt: skip
