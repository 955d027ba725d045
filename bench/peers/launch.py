"""The peers as `python -m bench --peers` runs them: each one's app module on its venv's
interpreter (bench/peers/venvs.py), the route it answers once ready, and the request it is sent
for each benchmark endpoint it serves, its nearest to the service's (the apps' docstrings say
why a request differs).
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.endpoints import QUERY, SAMPLE_N, Request
from bench.peers import venvs
from bench.servers import REPO, Launch

# No compression asked for: LitServe gzips answers over 1,000 bytes for a client that accepts it
# (the service never does), and the Python client would accept it where wrk does not.
JSON = {"content-type": "application/json", "accept-encoding": "identity"}


def post(path: str, body: dict[str, Any]) -> Request:
    return Request("POST", path, json.dumps(body).encode(), JSON)


@dataclass(frozen=True)
class Peer:
    module: str  # run as `python -m <module>` in the peer's venv, with the repository importable
    ready_path: str
    requests: dict[str, Request]  # by endpoint, as named in bench.endpoints.ENDPOINTS
    env: dict[str, str] = field(default_factory=dict)


SAMPLE = post("/sample", {"n": SAMPLE_N, "seed": 0})
PEERS = {
    "litserve": Peer(
        "bench.peers.litserve_app",
        "/health",
        {"text": post("/solve/text", {"query": QUERY}), "sample": SAMPLE},
    ),
    "bentoml": Peer(
        "bench.peers.bentoml_app",
        "/readyz",
        {"text": post("/solve/text", {"queries": [QUERY]}), "sample": SAMPLE},
        {
            "BENTOML_DO_NOT_TRACK": "True",  # no usage report over the network
            "BENTOML_HOME": str(venvs.VENVS / "bentoml-home"),  # not ~/bentoml
        },
    ),
}


def launches(log: Callable[[str], None] = print) -> dict[str, Launch]:
    """How to start every peer, its venv made first where missing."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {
        name: Launch(
            [str(venvs.python(name, log)), "-m", peer.module],
            peer.ready_path,
            {"PYTHONPATH": path, **peer.env},
        )
        for name, peer in PEERS.items()
    }
