"""A corpus of hostile requests (`hostile_corpus.py`): each must get the status the contract asks
for (bad input: a 4xx with a JSON `{"detail": "..."}`) within a few seconds, never a 500 or a hang;
and sending the corpus over and over must neither change what the service answers nor grow its
memory.
"""

import gc
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx2 as httpx  # what the test client speaks (the dev extra pins httpx2)
import pytest
from fastapi.testclient import TestClient
from hostile_corpus import CORPUS, STRIP, VAE, Hostile

from service.main import create_app
from service.settings import Settings

TESTS = Path(__file__).parent
SECONDS = 10  # wall-clock bound per request: far above any honest answer, far below a hang


# --- Sending and checking ---------------------------------------------------------------------


def send(client: TestClient, case: Hostile) -> httpx.Response:
    """The response to `case`, or a failure if it takes over SECONDS (a daemon thread, so a
    request that hangs for good cannot keep the test run from ending)."""
    outcome: dict[str, Any] = {}

    def request() -> None:
        try:
            outcome["response"] = client.request(case.method, case.url, **case.send)
        except BaseException as exc:  # the test client re-raises what the app raised (a 500)
            outcome["error"] = exc

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    worker.join(SECONDS)
    if worker.is_alive():
        pytest.fail(f"{case.id}: no answer within {SECONDS} s")
    if "error" in outcome:
        raise AssertionError(f"{case.id}: raised instead of answering") from outcome["error"]
    return outcome["response"]


def check(case: Hostile, response: httpx.Response) -> None:
    shown = f"{case.id}: {response.status_code} {response.text[:300]!r}"
    assert response.status_code < 500, shown
    assert response.status_code == case.expect, shown
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json", shown
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), shown


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_request_gets_the_status_of_the_contract(client: TestClient, case: Hostile) -> None:
    check(case, send(client, case))


# --- After the corpus, in a process of its own -------------------------------------------------
# The memory is measured in a fresh process that runs only the app, so that what the rest of the
# suite loads and runs in a test worker does not move it.


def resident_bytes() -> int:
    """Resident set size of this process (the app runs in it), from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def normal_answers(client: TestClient) -> dict[str, Any]:
    """What a few well-behaved requests get: it must be the same before and after the corpus."""
    text = client.post("/solve/text", json={"query": "81+24"})
    batch = client.post("/solve/text", json={"queries": ["41-89", " 5 - 7 "]})
    image = client.post("/solve/image", files={"file": ("s.png", STRIP, "image/png")})
    render = client.get("/render", params={"query": "89+56", "seed": 3})
    sample = client.get("/sample", params={"n": 4, "seed": 7})
    between = client.post("/interpolate", params={"steps": 3}, files=VAE["files"])
    responses = [text, batch, image, render, sample, between]
    assert all(r.status_code == 200 for r in responses), [r.text[:200] for r in responses]
    return {
        "text": text.json(),
        "batch": batch.json(),
        "image": image.json(),
        "pngs": [hashlib.sha256(r.content).hexdigest() for r in (render, sample, between)],
    }


def corpus_passes(passes: int) -> dict[str, Any]:
    """Run by the test below in a child process: the answers to normal requests before and after
    ``passes`` runs of the corpus, and the resident bytes after each pass."""
    app = create_app(Settings())
    if app.state.context.accounting.access is not None:
        app.state.context.accounting.access.write = lambda text: (
            None
        )  # as tests/conftest.py's client
    with TestClient(app) as client:
        before = normal_answers(client)
        resident = []
        for _ in range(passes):
            for case in CORPUS:
                check(case, send(client, case))
            gc.collect()
            resident.append(resident_bytes())
        ready = client.get("/ready").status_code
        return {"before": before, "after": normal_answers(client), "ready": ready, "rss": resident}


def test_the_corpus_leaks_no_memory_and_changes_nothing() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import json, test_hostile_inputs as t; "
         "print(json.dumps(t.corpus_passes(10)))"],
        cwd=TESTS, env={**os.environ, "PYTHONPATH": str(TESTS.parent)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.splitlines()[-1])
    assert outcome["before"]["text"]["answer"] == "105"
    assert outcome["before"]["batch"]["answers"] == ["-48", "-2"]
    # Bad input changed nothing: still ready, the same answers and byte-identical PNGs.
    assert outcome["ready"] == 200
    assert outcome["after"] == outcome["before"]

    # A leak grows memory in every pass; the allocator and onnxruntime's arenas grow it in a step
    # now and then (+15 MB once between two passes, flat after: seen in CI and here; two steps in
    # four passes once, in a fresh clone's busy suite). So the middle of the eight per-pass growths
    # after two passes to warm up must stay small, whatever two or three steps do. Measured here:
    # 0.0-0.3 % a pass (of ~256 MB); a leak that keeps each raw upload (a patched route) 1.2 %.
    rss = outcome["rss"]
    growths = [(after - before) / rss[1] for before, after in itertools.pairwise(rss[1:])]
    middle = statistics.median(growths)
    assert middle < 0.005, f"resident memory grew {middle:.1%} a pass (after each pass: {rss} B)"
